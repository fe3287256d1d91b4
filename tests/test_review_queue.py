"""The physician's queue: order, filters, search, a fixed number of queries, and who may see it."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.logins import log_in_staff

from .factories import make_patient, make_submitted_screening

pytestmark = pytest.mark.django_db


@pytest.fixture
def physician_client(client, physician):
    log_in_staff(client, physician)
    return client


def names_in(response):
    return [s.patient.full_name for s in response.context["page"]]


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
    ],
)
def test_filters_and_search_use_allow_lists(physician_client, default_version, query, expected):
    make_submitted_screening(level="urgent", patient=make_patient("Ursula Urgent"))
    make_submitted_screening(level="", patient=make_patient("Nina Nothing"))
    response = physician_client.get(f"/staff/queue/?{query}")
    assert response.status_code == 200
    assert names_in(response) == expected


def queue_query_count(client):
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/staff/queue/")
    assert response.status_code == 200
    return len(queries)


def test_the_queue_costs_the_same_number_of_queries_for_3_and_300_screenings(
    physician_client, default_version
):
    for _ in range(3):
        make_submitted_screening(level="caution")
    physician_client.get("/staff/queue/")  # the session's first request records its start
    small = queue_query_count(physician_client)
    for _ in range(297):
        make_submitted_screening(level="info")
    assert queue_query_count(physician_client) == small


def test_the_queue_is_paginated(physician_client, default_version):
    for _ in range(55):
        make_submitted_screening(level="info")
    first = physician_client.get("/staff/queue/")
    assert len(first.context["page"]) == 50
    second = physician_client.get("/staff/queue/?page=2")
    assert len(second.context["page"]) == 5


@pytest.mark.parametrize("who", ["patient", "clinic_admin"])
def test_only_physicians_reach_the_queue(client, request, who, default_version):
    log_in_staff(client, request.getfixturevalue(who))
    assert client.get("/staff/queue/").status_code == 403


def test_an_anonymous_visitor_is_sent_to_log_in_from_the_queue(client):
    assert client.get("/staff/queue/")["Location"].startswith("/login/")
