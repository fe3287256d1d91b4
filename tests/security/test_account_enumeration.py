"""Whether an address has an account shows neither in the answer nor in the time it takes.

Before, a password reset for a known address looked the account up, rendered and sent an
email inside the request (83 ms, 381 ms with a slow mail server), and one for an unknown
address did not (19 ms); invitations likewise. Now both requests do the same work: the same
SQL statements (compared without their parameters), no mail connection, no email rendered;
the worker does the rest. Run on the real database backend, so queueing is part of it.
"""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.logins import log_in_staff
from tests.mailboxes import no_mail_work

pytestmark = pytest.mark.django_db

LITERAL = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")
SAVEPOINT = re.compile(r'"s\d+_x\d+"')


def work_done(client, monkeypatch, path: str, data: dict):
    """The request's response, SQL statements without their values, and templates rendered."""
    with CaptureQueriesContext(connection) as queries, no_mail_work(monkeypatch):
        response = client.post(path, data)
    statements = [
        SAVEPOINT.sub("?", LITERAL.sub("?", query["sql"])) for query in queries.captured_queries
    ]
    templates = [template.name for template in response.templates]
    return response, statements, templates


def test_a_password_reset_does_the_same_work_for_known_and_unknown_addresses(
    client, patient, task_worker, monkeypatch
):
    client.post("/account/password-reset/", {"email": "first@example.com"})
    known, known_sql, known_templates = work_done(
        client, monkeypatch, "/account/password-reset/", {"email": patient.email}
    )
    unknown, unknown_sql, unknown_templates = work_done(
        client, monkeypatch, "/account/password-reset/", {"email": "nobody@example.com"}
    )
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    assert known_sql == unknown_sql
    assert not any("user" in statement.lower() for statement in known_sql), known_sql
    assert not [name for name in known_templates + unknown_templates if "email/" in name]


def test_an_invitation_does_the_same_work_for_new_and_existing_accounts(
    client, physician, patient, task_worker, monkeypatch
):
    log_in_staff(client, physician)
    # The first request of a session also refreshes its timeout stamps: compare later ones.
    client.post("/staff/invitations/", {"full_name": "A", "email": "first@example.com"})
    existing, existing_sql, existing_templates = work_done(
        client, monkeypatch, "/staff/invitations/", {"full_name": "A", "email": patient.email}
    )
    new, new_sql, new_templates = work_done(
        client, monkeypatch, "/staff/invitations/", {"full_name": "A", "email": "dora@example.com"}
    )
    assert (existing.status_code, existing["Location"]) == (new.status_code, new["Location"])
    assert existing_sql == new_sql
    assert not [name for name in existing_templates + new_templates if "email/" in name]
