"""Safety of the in-clinic record (docs/sessions.md): vitals and the dose only on the session's
own day and on a course still running; ending a course stops every session not yet dosed;
once the dose is given the status says so (no more "Ready to dose"), the patient is on today's
board until discharged and leaves their own upcoming list; times off the session's day show
their date."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django.utils.formats import date_format

from screening.intake.standing import upcoming_sessions
from screening.models import DischargeRecord, DoseRecord, TreatmentSession, VitalReading
from screening.services.sessions import (
    SessionNotAllowed,
    end_course,
    record_dose,
    record_reading,
)
from tests.session_helpers import make_course, make_session


def page(session) -> str:
    return f"/staff/sessions/{session.pk}/"


def pre_dose(session, nurse, systolic=124, diastolic=80):
    return record_reading(
        session=session,
        timing="pre_dose",
        systolic=systolic,
        diastolic=diastolic,
        heart_rate=72,
        actor=nurse,
        ip_address=None,
    )


def post_dose(session, nurse):
    return record_reading(
        session=session,
        timing="post_dose",
        systolic=130,
        diastolic=82,
        heart_rate=76,
        planned_minutes=40,
        actor=nurse,
        ip_address=None,
    )


def given_dose(session, nurse, minutes_ago: float = 5) -> DoseRecord:
    """A dose on file (as if recorded at the visit), whatever the rules of recording it now."""
    return DoseRecord.objects.create(
        session=session,
        given_at=timezone.now() - timedelta(minutes=minutes_ago),
        recorded_by=nurse,
    )


def on_another_day(physician, **kwargs) -> TreatmentSession:
    return make_session(physician, hours_from_now=72, **kwargs)


def day_words(session) -> str:
    return date_format(timezone.localdate(session.scheduled_for), "l j F Y")


# 1. Vitals and the dose only on the session's own day ---------------------------------------


def test_vitals_before_the_dose_are_refused_beside_the_field_on_another_day(
    nurse_client, physician, default_version
):
    session = on_another_day(physician)
    response = nurse_client.post(
        f"{page(session)}vitals/before-dose/",
        {
            "pre_dose-blood_pressure_systolic": "124",
            "pre_dose-blood_pressure_diastolic": "80",
            "pre_dose-heart_rate": "72",
        },
    )
    assert response.status_code == 200
    form = response.context["pre_dose_form"]
    message = (
        f"This session is booked for {day_words(session)}; record its vitals on that day, "
        "or move it to today first."
    )
    assert form.errors["blood_pressure"] == [message]
    assert message in response.content.decode()
    assert not VitalReading.objects.filter(session=session).exists()


def test_the_dose_is_refused_on_another_day_even_when_everything_else_is_ready(
    nurse, physician, default_version
):
    session = on_another_day(physician)
    # A pre-dose reading already on file (taken before this rule, say): still no dose today.
    VitalReading.objects.create(
        session=session,
        timing=VitalReading.Timing.PRE_DOSE,
        systolic=120,
        diastolic=80,
        heart_rate=70,
        recorded_by=nurse,
    )
    with pytest.raises(SessionNotAllowed) as refused:
        record_dose(session=session, given_at=timezone.now(), actor=nurse, ip_address=None)
    assert refused.value.field == "given_at"
    assert str(refused.value) == (
        f"This session is booked for {day_words(session)}; record its dose on that day, or "
        "move it to today first."
    )
    assert not DoseRecord.objects.filter(session=session).exists()


def test_on_the_session_day_vitals_and_dose_are_recorded(nurse, physician, default_version):
    session = make_session(physician)
    pre_dose(session, nurse)
    record_dose(session=session, given_at=timezone.now(), actor=nurse, ip_address=None)
    assert DoseRecord.objects.filter(session=session).count() == 1


def test_after_midnight_the_observation_of_a_dose_already_given_goes_on(
    nurse, physician, default_version
):
    # Booked yesterday, dosed last night: the post-dose readings and discharge go on today.
    session = make_session(physician, hours_from_now=-25)
    given_dose(session, nurse, minutes_ago=30)
    post_dose(session, nurse)  # accepted
    with pytest.raises(SessionNotAllowed, match="record its vitals on that day"):
        pre_dose(session, nurse)


# 3. Ending a course ------------------------------------------------------------------------


def test_ending_a_course_cancels_a_session_booked_earlier_today_and_no_dose_follows(
    nurse, physician, default_version
):
    course = make_course(physician)
    earlier = make_session(physician, course=course, hours_from_now=0)
    TreatmentSession.objects.filter(pk=earlier.pk).update(
        scheduled_for=timezone.now() - timedelta(minutes=1)
    )
    pre_dose(earlier, nurse)
    later = make_session(physician, course=course, hours_from_now=72)
    end_course(course=course, reason="Stopped by the patient", actor=physician, ip_address=None)
    earlier.refresh_from_db()
    later.refresh_from_db()
    assert earlier.cancelled_at is not None and later.cancelled_at is not None
    with pytest.raises(SessionNotAllowed, match="canceled"):
        record_dose(session=earlier, given_at=timezone.now(), actor=nurse, ip_address=None)
    with pytest.raises(SessionNotAllowed, match="canceled"):
        pre_dose(earlier, nurse)


def test_on_an_ended_course_a_dosed_session_is_observed_and_discharged_but_nothing_before(
    nurse, physician, default_version
):
    session = make_session(physician)
    given_dose(session, nurse)
    end_course(course=session.course, reason="Course stopped", actor=physician, ip_address=None)
    session.refresh_from_db()
    assert session.cancelled_at is None  # the dose was given: the visit took place
    post_dose(session, nurse)  # accepted
    with pytest.raises(SessionNotAllowed, match="This course has ended"):
        pre_dose(session, nurse)


def test_the_first_dose_is_refused_on_an_ended_course(nurse, physician, default_version):
    session = make_session(physician)
    pre_dose(session, nurse)
    course = session.course
    course.ended_at = timezone.now()  # ended without cancelling it (a record from before)
    course.save(update_fields=["ended_at"])
    with pytest.raises(SessionNotAllowed, match="This course has ended"):
        record_dose(session=session, given_at=timezone.now(), actor=nurse, ip_address=None)


# 5. The status after the dose --------------------------------------------------------------


def test_after_the_dose_the_status_says_dose_given_and_when_observation_ends(
    nurse_client, nurse, physician, default_version
):
    session = make_session(physician)
    pre_dose(session, nurse)
    dose = record_dose(session=session, given_at=timezone.now(), actor=nurse, ip_address=None)
    response = nurse_client.get(page(session))
    readiness = response.context["record"].readiness
    assert readiness.status == "dosed"
    given = timezone.localtime(dose.given_at)
    ends = given + timedelta(minutes=120)
    (reason,) = readiness.reasons
    assert reason.text == (
        f"Dose given at {given:%H:%M} ({given.day} {given:%b}): in observation until {ends:%H:%M}."
    )
    body = response.content.decode()
    assert "readiness-ready" not in body
    assert "Dose given" in body


def test_after_discharge_the_status_says_discharged(
    nurse_client, nurse, physician, default_version
):
    session = make_session(physician)
    given_dose(session, nurse, minutes_ago=130)
    discharge = DischargeRecord.objects.create(
        session=session,
        observation_minutes=120,
        alert_and_oriented=True,
        walks_unaided=True,
        escort_present=True,
        recorded_by=nurse,
    )
    readiness = nurse_client.get(page(session)).context["record"].readiness
    assert readiness.status == "discharged"
    at = timezone.localtime(discharge.recorded_at)
    assert readiness.reasons[0].text == f"Discharged at {at:%H:%M} ({at.day} {at:%b})."


# 1. A dosed session: on today's board, off the patient's upcoming list ------------------------


def test_a_dosed_session_is_on_todays_board_until_discharge_and_not_upcoming_for_the_patient(
    nurse_client, nurse, physician, default_version
):
    # Dosed today although booked for another day (a record from before the day rule).
    session = make_session(physician, hours_from_now=24 * 20)
    assert [row.session for row in upcoming_sessions(session.course.patient)] == [session]
    given_dose(session, nurse)
    assert upcoming_sessions(session.course.patient) == []
    board = nurse_client.get("/staff/sessions/").context
    assert [record.session for record in board["today"]] == [session]
    assert board["upcoming"] == []
    DischargeRecord.objects.create(
        session=session,
        observation_minutes=120,
        alert_and_oriented=True,
        walks_unaided=True,
        escort_present=True,
        recorded_by=nurse,
    )
    assert nurse_client.get("/staff/sessions/").context["today"] == []


# 9. Times off the session's day show their date ---------------------------------------------


def test_a_dose_time_not_on_the_session_day_shows_its_date(
    nurse_client, nurse, physician, default_version
):
    session = make_session(physician, hours_from_now=-25)  # booked yesterday
    dose = given_dose(session, nurse, minutes_ago=10)
    post_dose(session, nurse)
    body = nurse_client.get(page(session)).content.decode()
    given = timezone.localtime(dose.given_at)
    assert f"Given at <strong>{given:%H:%M} ({given.day} {given:%b})</strong>" in body
    # The same day shows the time alone.
    today = make_session(physician)
    same = given_dose(today, nurse, minutes_ago=0)
    body = nurse_client.get(page(today)).content.decode()
    assert f"Given at <strong>{timezone.localtime(same.given_at):%H:%M}</strong>" in body


def test_the_dose_time_box_is_a_24_hour_text_box(nurse_client, nurse, physician, default_version):
    session = make_session(physician)
    pre_dose(session, nurse)
    body = nurse_client.get(page(session)).content.decode()
    box = body[body.index('name="dose-given_at"') - 200 : body.index('name="dose-given_at"') + 200]
    assert 'type="text"' in box and 'type="time"' not in box
    assert re.search(r'value="[0-2]\d:[0-5]\d"', box)  # "02:26", never "02:26 AM"
