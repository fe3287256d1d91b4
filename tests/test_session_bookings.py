"""Changing a booking (issue 14): cancelling and moving a treatment session (physicians and
nurses) and ending a course (physicians). A cancelled session is kept, with who, when and
why; a move has the checks of booking; nothing changes once a dose is recorded; every
change is audited; bad input gets a message beside the field, never a 500."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from screening.models import (
    AuditEvent,
    Decision,
    DoseRecord,
    Submission,
    TreatmentCourse,
    TreatmentSession,
)
from tests.check_in_helpers import COULD_BE_PREGNANT, make_cleared_course
from tests.check_in_helpers import make_session as make_upcoming_session
from tests.session_helpers import make_course, make_session

pytestmark = pytest.mark.django_db


def page(session) -> str:
    return f"/staff/sessions/{session.pk}/"


def day(days_ahead: int) -> str:
    return (timezone.localdate() + timedelta(days=days_ahead)).isoformat()


def cancel(client, session, reason="The patient has flu and called to cancel."):
    return client.post(f"{page(session)}cancel/", {"cancel-reason": reason})


def move(client, session, date: str, time: str = "10:30"):
    return client.post(f"{page(session)}move/", {"move-date": date, "move-time": time})


def give_dose(session, nurse) -> None:
    DoseRecord.objects.create(session=session, given_at=timezone.now(), recorded_by=nurse)


def invitations() -> list[DBTaskResult]:
    return list(
        DBTaskResult.objects.filter(status="READY", task_path__endswith=".invite_to_check_in")
    )


# Cancelling ---------------------------------------------------------------------------------


def test_a_nurse_cancels_a_session_which_is_kept_with_who_when_and_why(
    nurse_client, nurse, physician, default_version
):
    session = make_session(physician, hours_from_now=3)
    response = cancel(nurse_client, session)
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.cancelled_at is not None and session.cancelled_by == nurse
    assert session.cancel_reason == "The patient has flu and called to cancel."
    event = AuditEvent.objects.get(action="session.cancelled")
    assert event.actor == nurse and event.object_id == str(session.pk)
    assert "flu" not in event.summary  # the reason is on the session's record, not in the log
    body = nurse_client.get(page(session)).content.decode()
    assert "Canceled" in body and "The patient has flu" in body
    assert 'id="booking"' not in body  # nothing more to change
    assert 'action="/staff/sessions/' + str(session.pk) + "/vitals/" not in body


def test_a_cancelled_session_leaves_the_board_and_the_patients_upcoming_list(
    nurse_client, patient, patient_client, physician, check_in_version
):
    course = make_cleared_course(patient=patient, physician=physician, baseline=COULD_BE_PREGNANT)
    session = make_upcoming_session(course, hours_ahead=2)
    assert "Answer your check-in" in patient_client.get("/screenings/").content.decode()
    assert patient.full_name in nurse_client.get("/staff/sessions/").content.decode()
    cancel(nurse_client, session)
    assert "Answer your check-in" not in patient_client.get("/screenings/").content.decode()
    assert patient.full_name not in nurse_client.get("/staff/sessions/").content.decode()
    # Still listed on the course, marked cancelled.
    course_page = nurse_client.get(f"/staff/sessions/courses/{course.pk}/").content.decode()
    assert "Canceled" in course_page and "The patient has flu" in course_page
    # And its check-in cannot be opened.
    response = patient_client.post(f"/screenings/sessions/{session.pk}/check-in/")
    assert response.status_code == 302 and response["Location"] == "/screenings/"
    session.refresh_from_db()
    assert session.check_in is None


def test_a_cancelled_sessions_check_in_invitation_is_not_sent(
    nurse_client, patient, physician, check_in_version, task_worker
):
    course = make_cleared_course(patient=patient, physician=physician, baseline=COULD_BE_PREGNANT)
    session = make_upcoming_session(course, hours_ahead=20)
    cancel(nurse_client, session)
    from screening import tasks

    tasks.invite_to_check_in.enqueue(session_id=str(session.pk))
    task_worker()
    assert mail.outbox == []
    session.refresh_from_db()
    assert session.check_in_invited_at is None


def test_cancelling_without_a_reason_says_so_beside_the_box(
    nurse_client, physician, default_version
):
    session = make_session(physician, hours_from_now=3)
    response = cancel(nurse_client, session, reason="   ")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="id_cancel-reason_error"' in body and "Say why the session is canceled." in body
    session.refresh_from_db()
    assert session.cancelled_at is None
    assert not AuditEvent.objects.filter(action="session.cancelled").exists()


def test_a_session_with_a_dose_recorded_is_neither_cancelled_nor_moved(
    nurse_client, nurse, physician, default_version
):
    session = make_session(physician)
    give_dose(session, nurse)
    response = cancel(nurse_client, session)
    assert response.status_code == 200
    assert "A dose has been recorded for this session" in response.content.decode()
    response = move(nurse_client, session, day(3))
    assert "A dose has been recorded for this session" in response.content.decode()
    session.refresh_from_db()
    assert session.cancelled_at is None
    assert timezone.localdate(session.scheduled_for) == timezone.localdate()
    assert 'id="booking"' not in nurse_client.get(page(session)).content.decode()


def test_a_session_is_cancelled_once(nurse_client, physician, default_version):
    session = make_session(physician, hours_from_now=3)
    cancel(nurse_client, session)
    response = cancel(nurse_client, session, reason="Again.")
    assert response.status_code == 200
    assert "This session was canceled already." in response.content.decode()
    session.refresh_from_db()
    assert session.cancel_reason == "The patient has flu and called to cancel."


def test_nothing_is_recorded_for_a_cancelled_session(nurse_client, physician, default_version):
    session = make_session(physician, hours_from_now=3)
    cancel(nurse_client, session)
    response = nurse_client.post(
        f"{page(session)}vitals/before-dose/",
        {
            "pre_dose-blood_pressure_systolic": "120",
            "pre_dose-blood_pressure_diastolic": "80",
            "pre_dose-heart_rate": "70",
        },
    )
    assert response.status_code == 200
    assert "This session was canceled: nothing is recorded for it." in response.content.decode()
    assert not session.readings.exists()


# Moving -------------------------------------------------------------------------------------


def test_moving_a_session_changes_its_time_is_audited_and_plans_the_invitation_again(
    physician_client, physician, default_version, django_capture_on_commit_callbacks, task_worker
):
    session = make_session(physician, check_in=False, hours_from_now=3)
    TreatmentSession.objects.filter(pk=session.pk).update(check_in_invited_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        response = move(physician_client, session, day(4), "14:45")
    assert response.status_code == 302
    session.refresh_from_db()
    local = timezone.localtime(session.scheduled_for)
    assert local.date().isoformat() == day(4) and local.strftime("%H:%M") == "14:45"
    assert session.check_in_invited_at is None  # invited again before the new time
    assert len(invitations()) == 1
    event = AuditEvent.objects.get(action="session.rescheduled")
    assert event.actor == physician and event.object_id == str(session.pk)


@pytest.mark.parametrize(
    ("date", "time", "field", "message"),
    [
        ("", "10:00", "date", "Enter the date of the session."),
        ("3 Dec", "10:00", "date", "Enter a real date, for example 2026-12-03."),
        ("2026-02-30", "10:00", "date", "Enter a real date"),
        ("DAY4", "25:99", "time", "Enter the time as hours and minutes"),
        ("DAY-1", "10:00", "time", "That time has already passed"),
        ("DAY400", "10:00", "date", "That date is more than a year ahead: check the year."),
        ("DAY2", "10:00", "date", "already has a session of this course on"),
    ],
)
def test_a_move_is_refused_with_a_message_beside_the_field(
    nurse_client, physician, default_version, date, time, field, message
):
    course = make_course(physician)
    session = make_session(physician, course=course, check_in=False, hours_from_now=3)
    other = make_session(physician, course=course, check_in=False, hours_from_now=3)
    TreatmentSession.objects.filter(pk=other.pk).update(
        scheduled_for=timezone.now() + timedelta(days=2)
    )
    if date.startswith("DAY"):
        date = day(int(date[3:]))
    before = session.scheduled_for
    response = move(nurse_client, session, date, time)
    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="id_move-{field}_error"' in body
    assert message in body
    session.refresh_from_db()
    assert session.scheduled_for == before
    assert not AuditEvent.objects.filter(action="session.rescheduled").exists()


def test_a_cancelled_session_leaves_its_day_free(nurse_client, physician, default_version):
    course = make_course(physician)
    session = make_session(physician, course=course, check_in=False, hours_from_now=3)
    cancelled = make_session(physician, course=course, check_in=False, hours_from_now=3)
    TreatmentSession.objects.filter(pk=cancelled.pk).update(
        scheduled_for=timezone.now() + timedelta(days=2)
    )
    cancel(nurse_client, cancelled)
    assert move(nurse_client, session, day(2)).status_code == 302


def test_a_move_needs_a_clearance_that_still_stands(
    nurse_client, physician, default_version, settings
):
    session = make_session(physician, check_in=False, hours_from_now=3)
    Decision.objects.filter(pk=session.course.clearance_id).update(
        signed_at=timezone.now() - timedelta(days=settings.CLEARANCE_VALID_DAYS + 1)
    )
    response = move(nurse_client, session, day(3))
    assert response.status_code == 200
    assert "No session can be booked: The clearance expired" in response.content.decode()


# Ending a course ----------------------------------------------------------------------------


def test_a_physician_ends_a_course_with_a_reason(
    physician_client, nurse_client, physician, patient, patient_client, check_in_version
):
    course = make_cleared_course(patient=patient, physician=physician, baseline=COULD_BE_PREGNANT)
    ahead = make_upcoming_session(course, hours_ahead=48)
    url = f"/staff/sessions/courses/{course.pk}/"
    response = physician_client.post(f"{url}end/", {"end-reason": "Remission: course completed."})
    assert response.status_code == 302
    course.refresh_from_db()
    assert course.ended_at is not None and course.ended_by == physician
    assert course.end_reason == "Remission: course completed."
    assert AuditEvent.objects.filter(action="course.ended", object_id=str(course.pk)).exists()
    # Its session still ahead is cancelled (kept, audited).
    ahead.refresh_from_db()
    assert ahead.cancelled_at is not None
    assert AuditEvent.objects.filter(action="session.cancelled", object_id=str(ahead.pk)).exists()
    body = physician_client.get(url).content.decode()
    assert "Course ended" in body and "Remission: course completed." in body
    assert "Book a session" not in body and "End the course" not in body
    # No more bookings on it.
    response = nurse_client.post(f"{url}schedule/", {"date": day(5), "time": "10:00"})
    assert "This course has ended" in response.content.decode()
    assert course.sessions.count() == 1
    # The patient's page says so.
    home = patient_client.get("/screenings/").content.decode()
    assert 'id="course-ended"' in home and "Your course of treatment ended on" in home


def test_ending_a_course_needs_a_reason(physician_client, physician, default_version):
    course = make_course(physician)
    response = physician_client.post(
        f"/staff/sessions/courses/{course.pk}/end/", {"end-reason": ""}
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="id_end-reason_error"' in body and "Say why the course ends." in body
    course.refresh_from_db()
    assert course.ended_at is None


def test_a_nurse_may_not_end_a_course(nurse_client, physician, default_version):
    course = make_course(physician)
    url = f"/staff/sessions/courses/{course.pk}/"
    assert "End the course" not in nurse_client.get(url).content.decode()
    response = nurse_client.post(f"{url}end/", {"end-reason": "No."})
    assert response.status_code == 403
    assert TreatmentCourse.objects.get(pk=course.pk).ended_at is None


# Small things -------------------------------------------------------------------------------


def test_staff_session_dates_show_the_year(nurse_client, physician, default_version):
    course = make_course(physician)
    session = make_session(physician, course=course, check_in=False, hours_from_now=3)
    body = nurse_client.get(f"/staff/sessions/courses/{course.pk}/").content.decode()
    local = timezone.localtime(session.scheduled_for)
    assert f"{local:%a} {local.day} {local:%b %Y}, {local:%H:%M}" in body


def test_the_staff_patient_page_highlights_the_sessions_tab_for_a_patient_in_treatment(
    physician_client, physician, default_version
):
    session = make_session(physician)
    baseline = session.course.clearance.screening
    Submission.objects.create(
        screening=baseline, number=1, submitted_at=baseline.submitted_at, answers={}
    )
    body = physician_client.get(f"/staff/patients/{session.course.patient_id}/").content.decode()
    (active,) = re.findall(r'<a class="nav-link active" aria-current="page" href="([^"]+)"', body)
    assert active == "/staff/sessions/"


def test_what_was_typed_comes_back_escaped(nurse_client, physician, default_version):
    session = make_session(physician, check_in=False, hours_from_now=3)
    response = move(nurse_client, session, '<script>alert("x")</script>', "10:00")
    body = response.content.decode()
    assert "<script>alert" not in body
    assert 'value="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"' in body
