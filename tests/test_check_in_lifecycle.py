"""A check-in over its session's life (issue 14): what staff read before it is sent, what
happens to it when the session moves to another day, is cancelled, or its course ends, and
the words the patient and staff read about a cancelled session or an ended course."""

import pytest
from django.test import Client

from screening.models import Screening
from tests.check_in_helpers import (
    CALM,
    COULD_BE_PREGNANT,
    make_cleared_course,
    make_session,
)
from tests.intake_helpers import fill_intake
from tests.logins import log_in_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def nurse_client(nurse):
    return log_in_staff(Client(), nurse)


@pytest.fixture
def physician_client(physician):
    return log_in_staff(Client(), physician)


def page(session) -> str:
    return f"/staff/sessions/{session.pk}/"


def open_and_fill(client, session) -> Screening:
    """Open the check-in and answer every page, without sending it."""
    assert client.post(f"/screenings/sessions/{session.pk}/check-in/").status_code == 302
    session.refresh_from_db()
    fill_intake(client, session.check_in, {**CALM, "transport_home": "no"})
    session.check_in.refresh_from_db()
    return session.check_in


# What staff read before the check-in is sent (finding 8) -------------------------------------


def test_staff_read_no_answer_of_a_check_in_not_sent_yet(
    nurse_client, physician, patient, patient_client, check_in_version
):
    course = make_cleared_course(patient=patient, physician=physician, baseline=COULD_BE_PREGNANT)
    session = make_session(course, hours_ahead=24)
    check_in = open_and_fill(patient_client, session)
    assert check_in.is_editable and check_in.answers.filter(question__code="transport_home")
    body = nurse_client.get(page(session)).content.decode()
    home = body.split('id="home-heading"')[1].split("</section>")[0]
    assert "The patient has not sent the check-in yet." in home
    assert "Will someone take you home" not in body


# The patient's home once the course has ended (finding 10) ------------------------------------


def test_the_home_page_of_an_ended_course_does_not_promise_sessions(
    physician_client, physician, patient, patient_client, check_in_version
):
    course = make_cleared_course(patient=patient, physician=physician, baseline=COULD_BE_PREGNANT)
    assert "book your treatment sessions" in patient_client.get("/screenings/").content.decode()
    physician_client.post(
        f"/staff/sessions/courses/{course.pk}/end/", {"end-reason": "Remission reached."}
    )
    home = patient_client.get("/screenings/").content.decode()
    assert "Your course of treatment ended on" in home
    assert "book your treatment sessions" not in home
    assert "Your course of treatment has ended" in home
