"""A check-in over its session's life (issue 14): what staff read before it is sent, what
happens to it when the session moves to another day, is cancelled, or its course ends, and
the words the patient and staff read about a cancelled session or an ended course."""

import datetime
from datetime import timedelta

import pytest
from django.utils import timezone, translation

from screening.models import Screening, TreatmentSession
from screening.services.sessions import SessionNotAllowed, cancel_session, end_course
from screening.snapshots import questionnaire_for
from tests.check_in_helpers import (
    CALM,
    COULD_BE_PREGNANT,
    answer_check_in,
    make_cleared_course,
    make_session,
)
from tests.intake_helpers import fill_intake
from tests.session_helpers import make_course
from tests.session_helpers import make_session as make_staff_session

pytestmark = pytest.mark.django_db


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


# Reasons that say nothing, or reorder the page (finding 7) -----------------------------------


@pytest.mark.parametrize("reason", ["\u202e\u200b", "\u200b\u200b", " \u2060\u00a0\ufeff"])
def test_a_cancel_reason_of_invisible_characters_is_empty(
    nurse_client, physician, default_version, reason
):
    session = make_staff_session(physician)
    response = nurse_client.post(f"{page(session)}cancel/", {"cancel-reason": reason})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="id_cancel-reason_error"' in body and "Say why the session is canceled." in body
    session.refresh_from_db()
    assert session.cancelled_at is None


def test_an_end_reason_of_zero_width_spaces_is_empty(physician_client, physician, default_version):
    course = make_course(physician)
    response = physician_client.post(
        f"/staff/sessions/courses/{course.pk}/end/", {"end-reason": "\u200b\u200b"}
    )
    assert response.status_code == 200
    assert "Say why the course ends." in response.content.decode()
    course.refresh_from_db()
    assert course.ended_at is None


@pytest.mark.parametrize("mark", ["\u202e", "\u202a", "\u2066", "\u2069"])
def test_a_reason_with_a_text_direction_override_is_refused_beside_the_box(
    nurse_client, physician_client, physician, default_version, mark
):
    session = make_staff_session(physician)
    response = nurse_client.post(
        f"{page(session)}cancel/", {"cancel-reason": f"Patient {mark}has flu"}
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_cancel-reason_error"' in body and "direction of the text" in body
    session.refresh_from_db()
    assert session.cancelled_at is None
    response = physician_client.post(
        f"/staff/sessions/courses/{session.course.pk}/end/", {"end-reason": f"Done{mark}."}
    )
    assert response.status_code == 200 and "direction of the text" in response.content.decode()


def test_the_services_refuse_an_invisible_reason_too(physician, default_version):
    session = make_staff_session(physician)
    with pytest.raises(SessionNotAllowed) as refused:
        cancel_session(session=session, reason="\u200b", actor=physician, ip_address=None)
    assert refused.value.field == "reason"
    with pytest.raises(SessionNotAllowed):
        end_course(course=session.course, reason="\u202e", actor=physician, ip_address=None)


# The reason as read (finding 11) -------------------------------------------------------------


def test_a_cancel_reason_ends_with_one_full_stop_beside_its_last_word(
    nurse_client, physician, default_version
):
    session = make_staff_session(physician)
    nurse_client.post(f"{page(session)}cancel/", {"cancel-reason": "Patient has flu"})
    body = nurse_client.get(page(session)).content.decode()
    assert "<bdi>Patient has flu.</bdi>" in body
    other = make_staff_session(physician, hours_from_now=30)
    nurse_client.post(f"{page(other)}cancel/", {"cancel-reason": "Patient has flu."})
    body = nurse_client.get(page(other)).content.decode()
    assert "<bdi>Patient has flu.</bdi>" in body and "flu.." not in body


def test_the_course_ended_reason_is_shown_in_the_readers_language(
    physician_client, physician, default_version
):
    session = make_staff_session(physician, hours_from_now=30)
    end_course(course=session.course, reason="Remission.", actor=physician, ip_address=None)
    session.refresh_from_db()
    # Stored as it always was (older rows hold the same words) ...
    assert session.cancel_reason == "The course ended."
    # ... and read in the reader's language.
    with translation.override("es"):
        assert session.shown_cancel_reason != "The course ended."
        assert session.shown_cancel_reason.endswith(".")
    body = physician_client.get(page(session)).content.decode()
    assert "<bdi>The course ended.</bdi>" in body


# A canceled session's check-in is closed (finding 4) -----------------------------------------


def test_a_canceled_sessions_check_in_is_closed_to_the_patient(
    nurse_client, physician, patient, patient_client, check_in_version
):
    course = make_cleared_course(patient=patient, physician=physician, baseline=COULD_BE_PREGNANT)
    session = make_session(course, hours_ahead=24)
    check_in = open_and_fill(patient_client, session)
    nurse_client.post(f"{page(session)}cancel/", {"cancel-reason": "Patient has flu"})
    section = questionnaire_for(check_in.version).sections[0].code
    base = f"/screenings/{check_in.pk}"
    for url in (f"{base}/", f"{base}/page/{section}/", f"{base}/review/", f"{base}/submitted/"):
        response = patient_client.get(url, follow=True)
        assert response.redirect_chain[-1][0] == "/screenings/", url
        assert "This session has been canceled." in response.content.decode(), url
    # Saving a page or sending it is refused: nothing is sent, no answer changes.
    response = patient_client.post(f"{base}/page/{section}/", {}, follow=True)
    assert "This session has been canceled." in response.content.decode()
    response = patient_client.post(f"{base}/review/", {"consent": "on"}, follow=True)
    assert response.redirect_chain[-1][0] == "/screenings/"
    assert "This session has been canceled." in response.content.decode()
    check_in.refresh_from_db()
    assert check_in.is_editable and check_in.submitted_at is None
    assert patient_client.post(f"{base}/page/{section}/shown/", {}).status_code == 409


def test_ending_the_course_closes_its_check_in(
    physician_client, physician, patient, patient_client, check_in_version
):
    course = make_cleared_course(patient=patient, physician=physician, baseline=COULD_BE_PREGNANT)
    session = make_session(course, hours_ahead=24)
    check_in = open_and_fill(patient_client, session)
    physician_client.post(
        f"/staff/sessions/courses/{course.pk}/end/", {"end-reason": "Remission reached."}
    )
    response = patient_client.post(
        f"/screenings/{check_in.pk}/review/", {"consent": "on"}, follow=True
    )
    assert "This session has been canceled." in response.content.decode()
    check_in.refresh_from_db()
    assert check_in.submitted_at is None


def test_the_services_refuse_a_closed_check_in(
    nurse_client, physician, patient, patient_client, check_in_version
):
    from screening.services.check_ins import CheckInClosed
    from screening.services.intake import submit_screening

    course = make_cleared_course(patient=patient, physician=physician, baseline=COULD_BE_PREGNANT)
    session = make_session(course, hours_ahead=24)
    check_in = open_and_fill(patient_client, session)
    cancel_session(session=session, reason="Flu.", actor=physician, ip_address=None)
    with pytest.raises(CheckInClosed):
        submit_screening(screening=Screening.objects.get(pk=check_in.pk))


def test_a_check_in_sent_before_the_cancellation_keeps_its_urgent_flag_in_view(
    physician_client, physician, patient, patient_client, check_in_version
):
    course = make_cleared_course(patient=patient, physician=physician, baseline=COULD_BE_PREGNANT)
    session = make_session(course, hours_ahead=24)
    answer_check_in(patient_client, session, {"phq9_9": "several_days"})
    physician_client.post(f"{page(session)}cancel/", {"cancel-reason": "Patient unwell"})
    course_page = physician_client.get(f"/staff/sessions/courses/{course.pk}/").content.decode()
    assert "Its check-in, sent before:" in course_page and "PHQ-9 item 9" in course_page
    session_page = physician_client.get(page(session)).content.decode()
    assert 'id="flag-title-' in session_page and "PHQ-9 item 9" in session_page


# A session moved to another day asks for a new check-in (finding 2) --------------------------


def test_moving_to_another_day_sets_the_sent_check_in_aside_and_asks_again(
    nurse_client, physician_client, physician, patient, patient_client, check_in_version
):
    course = make_cleared_course(patient=patient, physician=physician, baseline=COULD_BE_PREGNANT)
    session = make_session(course, hours_ahead=24)
    old_time = session.scheduled_for
    old, _ = answer_check_in(patient_client, session, {"phq9_9": "several_days"})
    later = timezone.localdate() + timedelta(days=20)
    response = nurse_client.post(
        f"{page(session)}move/", {"move-date": later.isoformat(), "move-time": "10:30"}
    )
    assert response.status_code == 302
    session.refresh_from_db()
    # No longer the session's: the session waits for a new check-in, invited afresh.
    assert session.check_in is None and session.check_in_invited_at is None
    record = session.set_aside_check_ins.get()
    assert record.check_in == old and record.was_scheduled_for == old_time
    # Kept as written: nothing the patient wrote is deleted.
    old.refresh_from_db()
    assert old.submitted_at is not None and old.answers.exists() and old.flags.exists()
    body = nurse_client.get(page(session)).content.decode()
    assert "The patient has not sent the check-in yet." in body or "has not started it" in body
    assert "set aside when the session moved" in body and "PHQ-9 item 9" in body
    assert "Read its answers" not in body  # a nurse reads no screening
    body = physician_client.get(page(session)).content.decode()
    assert f"/staff/screenings/{old.pk}/" in body
    screening_page = physician_client.get(f"/staff/screenings/{old.pk}/").content.decode()
    assert 'id="set-aside"' in screening_page
    # The patient cannot answer for the new day before its window opens.
    response = patient_client.post(f"/screenings/sessions/{session.pk}/check-in/", follow=True)
    assert "opens" in response.content.decode()
    session.refresh_from_db()
    assert session.check_in is None


def test_an_unsent_check_in_set_aside_is_closed_to_the_patient(
    nurse_client, physician, patient, patient_client, check_in_version
):
    course = make_cleared_course(patient=patient, physician=physician, baseline=COULD_BE_PREGNANT)
    session = make_session(course, hours_ahead=24)
    check_in = open_and_fill(patient_client, session)
    later = timezone.localdate() + timedelta(days=20)
    nurse_client.post(
        f"{page(session)}move/", {"move-date": later.isoformat(), "move-time": "9:00"}
    )
    response = patient_client.post(
        f"/screenings/{check_in.pk}/review/", {"consent": "on"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/screenings/"
    assert "moved to another day" in response.content.decode()
    check_in.refresh_from_db()
    assert check_in.submitted_at is None and check_in.answers.exists()
    assert TreatmentSession.objects.get(pk=session.pk).check_in is None


def test_a_move_within_the_same_day_keeps_the_check_in(
    nurse_client, physician, patient, patient_client, check_in_version
):
    course = make_cleared_course(patient=patient, physician=physician, baseline=COULD_BE_PREGNANT)
    # Tomorrow at 10:00, moved to 15:00 the same day.
    tomorrow = timezone.localdate() + timedelta(days=1)
    session = make_session(course, hours_ahead=24)
    TreatmentSession.objects.filter(pk=session.pk).update(
        scheduled_for=timezone.make_aware(datetime.datetime.combine(tomorrow, datetime.time(10)))
    )
    check_in, _ = answer_check_in(patient_client, session)
    response = nurse_client.post(
        f"{page(session)}move/", {"move-date": tomorrow.isoformat(), "move-time": "15:00"}
    )
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.check_in == check_in and not session.set_aside_check_ins.exists()


@pytest.mark.parametrize("reason", ["\u200b", "Typed \u202ewrong"])
def test_a_readings_correction_reason_must_be_readable_text(
    nurse_client, physician, default_version, reason
):
    from screening.models import VitalReading

    session = make_staff_session(physician)
    fields = {
        "pre_dose-blood_pressure_systolic": "210",
        "pre_dose-blood_pressure_diastolic": "80",
        "pre_dose-heart_rate": "70",
    }
    nurse_client.post(f"{page(session)}vitals/before-dose/", fields)
    wrong = VitalReading.objects.get()
    response = nurse_client.post(
        f"{page(session)}vitals/before-dose/",
        {
            **fields,
            "pre_dose-blood_pressure_systolic": "120",
            "pre_dose-corrects": str(wrong.pk),
            "pre_dose-correction_reason": reason,
        },
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Say why the earlier reading is corrected." in body or "direction of the text" in body
    assert VitalReading.objects.count() == 1


def test_going_ahead_despite_an_urgent_flag_needs_a_readable_note(
    physician_client, physician, default_version
):
    session = make_staff_session(physician, flags=[("phq9_item9_positive", "urgent")])
    flag = session.check_in.flags.get()
    response = physician_client.post(
        f"{page(session)}flags/{flag.pk}/acknowledge/",
        {"note": "\u200b\u200b", "lock_version": session.check_in.lock_version},
    )
    assert response.status_code == 200
    flag.refresh_from_db()
    assert not hasattr(flag, "acknowledgement")
