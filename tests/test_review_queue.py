"""The physician's queue: order, filters, search, a fixed number of queries, and who may see it."""

import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from screening.models import AuditAction, AuditEvent, Screening
from tests.logins import log_in_staff

from .factories import make_patient, make_submitted_screening

pytestmark = pytest.mark.django_db


@pytest.fixture
def physician_client(client, physician):
    log_in_staff(client, physician)
    return client


def names_in(response):
    return [s.patient_full_name for s in response.context["page"]]


def test_the_queue_is_most_urgent_first_then_oldest_first(physician_client, default_version):
    make_submitted_screening(level="caution", patient=make_patient("Old Caution"), minutes_ago=300)
    make_submitted_screening(level="", patient=make_patient("Nothing Flagged"), minutes_ago=500)
    make_submitted_screening(level="urgent", patient=make_patient("New Urgent"), minutes_ago=1)
    make_submitted_screening(level="urgent", patient=make_patient("Old Urgent"), minutes_ago=60)
    make_submitted_screening(level="info", patient=make_patient("Some Info"), minutes_ago=600)
    make_submitted_screening(
        level="contraindicated", patient=make_patient("Contra Indicated"), minutes_ago=5
    )
    response = physician_client.get("/staff/queue/")
    assert names_in(response) == [
        "Old Urgent",
        "New Urgent",
        "Contra Indicated",
        "Old Caution",
        "Some Info",
        "Nothing Flagged",
    ]


def test_decided_screenings_leave_the_queue_but_a_status_filter_finds_them(
    physician_client, default_version
):
    make_submitted_screening(level="caution", patient=make_patient("Still Waiting"))
    make_submitted_screening(
        level="caution", patient=make_patient("Already Decided"), status="decided"
    )
    assert names_in(physician_client.get("/staff/queue/")) == ["Still Waiting"]
    assert names_in(physician_client.get("/staff/queue/?status=decided")) == ["Already Decided"]


def test_the_queue_as_first_opened_reads_what_its_default_filter_reads(
    physician_client, default_version
):
    """Opened with no filter, the queue's first page is a read prepared once; it shows what
    the filters' defaults show, read afresh each time."""
    make_submitted_screening(level="caution", patient=make_patient("Cal Caution"), minutes_ago=9)
    make_submitted_screening(
        level="urgent", patient=make_patient("Asked Urgent"), status="waiting_for_patient"
    )
    make_submitted_screening(
        level="caution", patient=make_patient("Asked Caution"), status="waiting_for_patient"
    )
    make_submitted_screening(level="caution", patient=make_patient("Done"), status="decided")
    first = names_in(physician_client.get("/staff/queue/"))
    assert first == ["Asked Urgent", "Cal Caution"]
    assert names_in(physician_client.get("/staff/queue/?status=submitted&level=")) == first
    make_submitted_screening(level="urgent", patient=make_patient("Just Sent"))
    assert names_in(physician_client.get("/staff/queue/")) == [
        "Asked Urgent",
        "Just Sent",
        "Cal Caution",
    ]


@pytest.mark.parametrize(
    "query, expected",
    [
        ("level=urgent", ["Ursula Urgent"]),
        ("level=none", ["Nina Nothing"]),
        ("q=ursula", ["Ursula Urgent"]),
        ("q=patient", ["Ursula Urgent", "Nina Nothing"]),
        ("status=sideways&level=bogus&page=-4", ["Ursula Urgent", "Nina Nothing"]),
        ("submitted_from=2999-01-01", []),
        ("submitted_to=not-a-date", ["Ursula Urgent", "Nina Nothing"]),
        ("after=4.not-a-time.x&before=", ["Ursula Urgent", "Nina Nothing"]),
        # One refused filter leaves the others applied (its message is beside its box).
        ("level=urgent&submitted_to=not-a-date", ["Ursula Urgent"]),
        ("q=nina&level=bogus", ["Nina Nothing"]),
        ("level=none&submitted_from=2026-02-31", ["Nina Nothing"]),
    ],
)
def test_filters_and_search_use_allow_lists(physician_client, default_version, query, expected):
    make_submitted_screening(level="urgent", patient=make_patient("Ursula Urgent"))
    make_submitted_screening(level="", patient=make_patient("Nina Nothing"))
    response = physician_client.get(f"/staff/queue/?{query}")
    assert response.status_code == 200
    assert names_in(response) == expected


def queue_query_count(client, *, with_the_audit_record: bool = False):
    """The queue's reads, or (`with_the_audit_record`) every statement it sends but the
    savepoints the test's transaction adds. The audit record of the read is a fixed cost,
    checked by itself below."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/staff/queue/")
    assert response.status_code == 200
    if with_the_audit_record:
        return len([q for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]])
    return len(reads_only(queries.captured_queries))


def reads_only(captured: list[dict]) -> list[dict]:
    # The audit record's statements: its savepoint and, on PostgreSQL, the one statement
    # that appends it (elsewhere the last hash's read and the insert, named by their table).
    audit_write = (
        "SAVEPOINT",
        "RELEASE SAVEPOINT",
        "EXECUTE AUDIT_APPEND",
    )
    return [
        query
        for query in captured
        if not query["sql"].upper().startswith(audit_write)
        and '"screening_auditevent"' not in query["sql"]
    ]


def test_the_queue_costs_the_same_number_of_queries_for_3_and_300_screenings(
    physician_client, default_version
):
    for _ in range(3):
        make_submitted_screening(level="caution")
    physician_client.get("/staff/queue/")  # the session's first request records its start
    small = queue_query_count(physician_client)
    for _ in range(297):
        make_submitted_screening(level="info")
    assert queue_query_count(physician_client) == small <= 8
    if connection.vendor == "postgresql":  # the audit record is one statement there
        assert queue_query_count(physician_client, with_the_audit_record=True) <= 8


def test_the_queue_never_counts_the_whole_table(physician_client, default_version):
    for _ in range(60):
        make_submitted_screening(level="info")
    for url in ("/staff/queue/", next_link(physician_client.get("/staff/queue/"))):
        with CaptureQueriesContext(connection) as queries:
            assert physician_client.get(url).status_code == 200
        assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


def link(response, cursor: str) -> str:
    found = re.search(rf'href="(\?[^"]*{cursor}=[^"]+)"', response.text).group(1)
    return "/staff/queue/" + html.unescape(found)


def test_the_queue_says_how_many_only_when_they_all_fit_on_the_page(
    physician_client, default_version
):
    for _ in range(3):
        make_submitted_screening(level="info")
    assert "3 screenings, most urgent first" in physician_client.get("/staff/queue/").text
    for _ in range(50):
        make_submitted_screening(level="info")
    first = physician_client.get("/staff/queue/")
    assert "50 a page, most urgent first" in first.text
    assert "50 a page, most urgent first" in physician_client.get(next_link(first)).text


def next_link(response) -> str:
    return link(response, "after")


def previous_link(response) -> str:
    return link(response, "before")


def test_the_queue_pages_on_with_next_and_back_with_previous(physician_client, default_version):
    # Pages that cross levels, and equal times within a level: the id decides the order
    # there, so no row is skipped or shown twice either way.
    for index in range(125):
        level = ["urgent", "caution", "info"][index % 3]
        make_submitted_screening(level=level, minutes_ago=[5, 1][index % 2])
    make_submitted_screening(level="urgent", status="decided")  # filtered out all along
    in_order = [s.pk for s in Screening.objects.awaiting_review().in_queue_order()]
    pages = [physician_client.get("/staff/queue/?status=submitted")]
    assert "before=" not in pages[0].text  # no page before the first
    while "after=" in pages[-1].text:
        pages.append(physician_client.get(next_link(pages[-1])))
    assert [len(page.context["page"]) for page in pages] == [50, 50, 25]
    assert [s.pk for page in pages for s in page.context["page"]] == in_order
    assert all("status=submitted" in next_link(page) for page in pages[:-1])  # filters kept
    back = [pages[-1]]
    while "before=" in back[-1].text:
        back.append(physician_client.get(previous_link(back[-1])))
    assert [[s.pk for s in page.context["page"]] for page in back[1:]] == [
        in_order[50:100],
        in_order[:50],
    ]


@pytest.mark.parametrize("who", ["patient", "clinic_admin"])
def test_only_physicians_reach_the_queue(client, request, who, default_version):
    log_in_staff(client, request.getfixturevalue(who))
    assert client.get("/staff/queue/").status_code == 403


def test_an_anonymous_visitor_is_sent_to_log_in_from_the_queue(client):
    assert client.get("/staff/queue/")["Location"].startswith("/login/")


def test_reading_the_queue_is_audited_without_naming_anyone(
    physician_client, physician, default_version
):
    screening = make_submitted_screening(level="caution")
    before = AuditEvent.objects.count()
    physician_client.get("/staff/queue/?status=all&level=caution&q=" + screening.patient.full_name)
    event = AuditEvent.objects.order_by("-id").first()
    assert AuditEvent.objects.count() == before + 1
    with CaptureQueriesContext(connection) as queries:
        physician_client.get("/staff/queue/")
    # The audit write is one statement on PostgreSQL (the chain's lock, the last hash and
    # the insert); elsewhere the last hash and the insert: no more.
    audit_write = [
        q for q in queries.captured_queries if q not in reads_only(queries.captured_queries)
    ]
    statements = [q for q in audit_write if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == (1 if connection.vendor == "postgresql" else 2)
    assert (event.action, event.actor) == (AuditAction.QUEUE_VIEWED, physician)
    assert event.summary == "Review queue read: status all, level caution"
    assert screening.patient.full_name not in event.summary


def test_a_filter_that_is_refused_says_why_beside_its_box_and_keeps_what_was_typed(
    physician_client, default_version
):
    response = physician_client.get(
        "/staff/queue/", {"submitted_to": "<b>soon</b>", "q": 'Ann "A" & co', "level": "urgent"}
    )
    page = response.content.decode()
    box = re.search(r'<input type="date" name="submitted_to"[^>]*>', page).group(0)
    assert 'value="&lt;b&gt;soon&lt;/b&gt;"' in box and 'aria-invalid="true"' in box
    assert 'aria-describedby="id_submitted_to_error"' in box and "is-invalid" in box
    message = re.search(
        r'<div id="id_submitted_to_error" class="invalid-feedback">(.*?)</div>', page
    )
    assert message and "Enter a valid date." in message.group(1)
    assert 'value="Ann &quot;A&quot; &amp; co"' in page
    assert '<option value="urgent" selected>Urgent</option>' in page
    assert 'aria-invalid="true"' not in re.search(r'<input type="text" name="q"[^>]*>', page).group(
        0
    )


def test_a_queue_row_escapes_what_patients_and_physicians_typed():
    import datetime
    import uuid

    from django.utils import timezone, translation

    from screening.presenters import queue_rows
    from screening.review.views import QUEUE_STATUS_LABELS
    from screening.selectors import QueueEntry

    now = timezone.now()
    entry = QueueEntry(
        id=uuid.uuid4(),
        status="waiting_for_patient",
        level="caution",
        level_rank=2,
        submitted_at=now - datetime.timedelta(days=3),
        flag_count=2,
        submission_count=2,
        patient_full_name="Ann <script>alert(1)</script>",
        patient_email='ann"&@example.com',
        information_requested_at=now - datetime.timedelta(days=2),
        message_to_patient="Which <b>dose</b>? " + "x" * 200,
        urgent_unopened_since=None,
        previous_id=None,
    )
    with translation.override("es"):
        [html] = queue_rows(
            [entry], link_prefix="/staff/screenings/", statuses=QUEUE_STATUS_LABELS, now=now
        )
    assert "ann&quot;&amp;@example.com" in html
    assert "<script>" not in html and "Ann &lt;script&gt;" in html
    assert "Which &lt;b&gt;dose&lt;/b&gt;?" in html
    # The request is quoted up to 140 characters, ending in an ellipsis.
    assert "x" * 200 not in html and "…</bdi>" in html
    assert 'data-label="Estado"' in html and "Enviada de nuevo" in html
