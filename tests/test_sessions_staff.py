"""The staff side of treatment sessions: courses and scheduling, the nurse's record (vitals,
dose, discharge), one readiness status per session, the physician's acknowledgements and
review, and what a nurse may and may not read."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from screening.models import (
    AppendOnlyError,
    AuditEvent,
    Decision,
    DischargeRecord,
    DoseRecord,
    Submission,
    TreatmentCourse,
    TreatmentSession,
    VitalReading,
)
from screening.services.sessions import (
    SessionNotAllowed,
    record_dose,
    record_reading,
    schedule_session,
    start_course,
)
from tests.factories import make_patient, make_submitted_screening
from tests.logins import log_in_staff
from tests.session_helpers import backdate_readings, clear, make_course, make_session


def page(session) -> str:
    return f"/staff/sessions/{session.pk}/"


def status_of(client, session) -> str:
    response = client.get(page(session))
    assert response.status_code == 200
    return response.context["record"].readiness.status


def reasons_of(client, session) -> list[str]:
    return [r.text for r in client.get(page(session)).context["record"].readiness.reasons]


def post_pre_dose(client, session, systolic: str, diastolic: str = "", heart_rate: str = "72"):
    return client.post(
        f"{page(session)}vitals/before-dose/",
        {
            "pre_dose-blood_pressure_systolic": systolic,
            "pre_dose-blood_pressure_diastolic": diastolic,
            "pre_dose-heart_rate": heart_rate,
            "pre_dose-spo2": "98",
            "pre_dose-weight_kg": "70",
        },
    )


def read_after_dose(session, nurse, systolic: int = 130, diastolic: int = 85):
    """The nurse's 40-minute reading after the dose (the dose is recorded already)."""
    return record_reading(
        session=session,
        timing="post_dose",
        systolic=systolic,
        diastolic=diastolic,
        heart_rate=80,
        planned_minutes=40,
        actor=nurse,
        ip_address=None,
    )


# Readiness, through the pages ---------------------------------------------------------------


def test_a_clean_check_in_with_normal_vitals_is_ready(nurse_client, physician, default_version):
    session = make_session(physician)
    assert status_of(nurse_client, session) == "on_hold"  # nothing recorded yet
    response = post_pre_dose(nurse_client, session, "128", "82")
    assert response.status_code == 302
    assert status_of(nurse_client, session) == "ready"
    assert "Ready to dose" in nurse_client.get(page(session)).content.decode()


def test_pre_dose_blood_pressure_over_the_hold_limit_holds_the_session(
    nurse_client, physician, default_version
):
    session = make_session(physician)
    post_pre_dose(nurse_client, session, "190 over 105")  # one box, as the intake accepts
    assert status_of(nurse_client, session) == "on_hold"
    (reason,) = reasons_of(nurse_client, session)
    assert "190/105 mmHg is above the hold limit (180/100)" in reason


def test_blood_pressure_between_the_limits_needs_a_physician_who_can_then_clear_it(
    nurse_client, physician_client, physician, default_version
):
    session = make_session(physician)
    post_pre_dose(nurse_client, session, "150/95")
    assert status_of(nurse_client, session) == "needs_review"
    assert "150/95 mmHg is above 140/90" in reasons_of(nurse_client, session)[0]
    # The nurse sees no go-ahead button; the physician does.
    assert "Reviewed: go ahead" not in nurse_client.get(page(session)).content.decode()
    assert "Reviewed: go ahead" in physician_client.get(page(session)).content.decode()
    response = physician_client.post(f"{page(session)}blood-pressure-review/", {"review-note": ""})
    assert response["Location"].startswith(page(session))
    assert status_of(nurse_client, session) == "ready"
    # A new reading needs a new review.
    post_pre_dose(nurse_client, session, "152/92")
    assert status_of(nurse_client, session) == "needs_review"


def test_a_reading_over_the_hold_limit_cannot_be_waved_through(
    nurse_client, physician_client, physician, default_version
):
    session = make_session(physician)
    post_pre_dose(nurse_client, session, "185/95")
    physician_client.post(f"{page(session)}blood-pressure-review/", {"review-note": "fine"})
    assert status_of(nurse_client, session) == "on_hold"


def test_an_unacknowledged_caution_flag_needs_review_and_acknowledging_it_makes_it_ready(
    nurse_client, physician_client, physician, default_version
):
    session = make_session(physician, flags=[("new_cyp3a4_inhibitor", "caution")])
    post_pre_dose(nurse_client, session, "120/80")
    assert status_of(nurse_client, session) == "needs_review"
    assert "Title of new_cyp3a4_inhibitor" in reasons_of(nurse_client, session)[0]
    flag = session.check_in.flags.get()
    response = physician_client.post(
        f"{page(session)}flags/{flag.pk}/acknowledge/",
        {"note": "Stopped it yesterday", "lock_version": session.check_in.lock_version},
    )
    assert response["Location"] == f"{page(session)}#flag-{flag.pk}"
    assert status_of(nurse_client, session) == "ready"
    assert "Stopped it yesterday" in nurse_client.get(page(session)).content.decode()


def test_an_urgent_check_in_flag_holds_the_session_until_acknowledged(
    nurse_client, physician, default_version
):
    session = make_session(physician, flags=[("phq9_item9_positive", "urgent")])
    post_pre_dose(nurse_client, session, "120/80")
    assert status_of(nurse_client, session) == "on_hold"


def test_a_nurse_cannot_acknowledge_a_flag(nurse_client, physician, default_version):
    session = make_session(physician, flags=[("new_medicine", "caution")])
    flag = session.check_in.flags.get()
    response = nurse_client.post(
        f"{page(session)}flags/{flag.pk}/acknowledge/",
        {"note": "", "lock_version": session.check_in.lock_version},
    )
    assert response.status_code == 403
    assert not hasattr(flag, "acknowledgement")


def test_a_check_in_invited_but_not_started_does_not_say_none_was_sent(
    nurse_client, physician, default_version
):
    session = make_session(physician, check_in=False)
    TreatmentSession.objects.filter(pk=session.pk).update(check_in_invited_at=timezone.now())
    post_pre_dose(nurse_client, session, "120/80")
    assert status_of(nurse_client, session) == "on_hold"
    assert reasons_of(nurse_client, session) == [
        "The patient was invited to answer the check-in but has not started it yet."
    ]
    page_html = nurse_client.get(page(session)).content.decode()
    assert "No check-in was sent" not in page_html


def test_a_missing_check_in_is_not_ready(nurse_client, physician, default_version):
    session = make_session(physician, check_in=False)
    post_pre_dose(nurse_client, session, "120/80")
    assert status_of(nurse_client, session) == "on_hold"
    assert reasons_of(nurse_client, session) == [
        "The patient has not been invited to the check-in yet, nor opened it."
    ]


# The nurse's record ---------------------------------------------------------------------------


def test_bad_vitals_are_refused_beside_each_box_and_nothing_typed_is_lost(
    nurse_client, physician, default_version
):
    session = make_session(physician)
    response = post_pre_dose(nurse_client, session, "1200", "80", heart_rate="7x")
    assert response.status_code == 200
    body = response.content.decode()
    assert "The top number (systolic) must be a whole number between 60 and 260." in body
    assert "Heart rate must be a whole number between 30 and 220." in body
    assert 'value="1200"' in body and 'value="7x"' in body and 'value="70"' in body
    assert not VitalReading.objects.exists()


def test_readings_are_append_only_and_a_correction_supersedes(
    nurse_client, nurse, physician, default_version
):
    session = make_session(physician)
    post_pre_dose(nurse_client, session, "210/80")
    wrong = VitalReading.objects.get()
    with pytest.raises(AppendOnlyError):
        wrong.systolic = 120
        wrong.save()
    with pytest.raises(AppendOnlyError):
        VitalReading.objects.filter(pk=wrong.pk).update(systolic=120)
    with pytest.raises(AppendOnlyError):
        wrong.delete()
    with pytest.raises(AppendOnlyError):
        VitalReading.objects.all().delete()
    response = nurse_client.post(
        f"{page(session)}vitals/before-dose/",
        {
            "pre_dose-blood_pressure_systolic": "120",
            "pre_dose-blood_pressure_diastolic": "80",
            "pre_dose-heart_rate": "70",
            "pre_dose-corrects": str(wrong.pk),
            "pre_dose-correction_reason": "Typed 210 for 120",
        },
    )
    assert response.status_code == 302
    wrong.refresh_from_db()
    assert wrong.systolic == 210  # kept as written
    assert wrong.superseded_by.systolic == 120
    assert status_of(nurse_client, session) == "ready"
    body = nurse_client.get(page(session)).content.decode()
    assert "210/80" in body and "Corrected" in body and "Typed 210 for 120" in body


def test_a_correction_needs_a_reason(nurse_client, physician, default_version):
    session = make_session(physician)
    post_pre_dose(nurse_client, session, "210/80")
    wrong = VitalReading.objects.get()
    response = nurse_client.post(
        f"{page(session)}vitals/before-dose/",
        {
            "pre_dose-blood_pressure_systolic": "120",
            "pre_dose-blood_pressure_diastolic": "80",
            "pre_dose-heart_rate": "70",
            "pre_dose-corrects": str(wrong.pk),
        },
    )
    assert response.status_code == 200
    assert "Say why the earlier reading is corrected." in response.content.decode()
    assert VitalReading.objects.count() == 1


def test_discharge_is_refused_until_every_criterion_is_met_then_recorded(
    nurse_client, nurse, physician, default_version
):
    session = make_session(physician)
    post_pre_dose(nurse_client, session, "120/80")
    backdate_readings(session, 180)
    record_dose(
        session=session,
        given_at=timezone.now() - timedelta(minutes=30),
        actor=nurse,
        ip_address=None,
    )
    read_after_dose(session, nurse)
    data = {
        "discharge-alert_and_oriented": "on",
        "discharge-walks_unaided": "on",
        "discharge-escort_present": "on",
    }
    response = nurse_client.post(f"{page(session)}discharge/", data)
    assert response.status_code == 200
    assert "The observation period (120 minutes after the dose) ends at" in (
        response.content.decode()
    )
    assert not DischargeRecord.objects.exists()
    DoseRecord.objects.create(  # a correction: the dose was given earlier
        session=session,
        given_at=timezone.now() - timedelta(minutes=125),
        recorded_by=nurse,
        supersedes=DoseRecord.objects.get(),
    )
    response = nurse_client.post(f"{page(session)}discharge/", data)
    assert response.status_code == 302
    discharge = DischargeRecord.objects.get()
    assert discharge.recorded_by == nurse
    assert "Discharged" in nurse_client.get(page(session)).content.decode()
    # The record is closed: nothing more is added after discharge.
    with pytest.raises(SessionNotAllowed):
        record_reading(
            session=session,
            timing="pre_dose",
            systolic=120,
            diastolic=80,
            heart_rate=70,
            actor=nurse,
            ip_address=None,
        )


def test_a_post_dose_reading_needs_the_dose_first(nurse, physician, default_version):
    session = make_session(physician)
    with pytest.raises(SessionNotAllowed, match="Record when the dose was given"):
        record_reading(
            session=session,
            timing="post_dose",
            systolic=120,
            diastolic=80,
            heart_rate=70,
            actor=nurse,
            ip_address=None,
        )


# Courses and scheduling ---------------------------------------------------------------------


def test_a_course_starts_only_under_a_clearance(nurse, physician, default_version):
    refused = make_submitted_screening(patient=make_patient("Nat Notcandidate"))
    clear(refused, physician, outcome=Decision.Outcome.NOT_A_CANDIDATE)
    with pytest.raises(SessionNotAllowed, match="“Not a candidate”, not a clearance"):
        start_course(patient=refused.patient, product="iv_ketamine", actor=nurse, ip_address=None)
    never = make_patient("Nora Neverdecided")
    with pytest.raises(SessionNotAllowed, match="no signed screening decision"):
        start_course(patient=never, product="iv_ketamine", actor=nurse, ip_address=None)
    cleared = make_submitted_screening(patient=make_patient("Cleo Cleared"))
    clear(cleared, physician)
    course = start_course(
        patient=cleared.patient, product="esketamine_nasal", actor=nurse, ip_address="10.0.0.1"
    )
    assert course.clearance.screening == cleared
    assert AuditEvent.objects.filter(action="course.started", object_id=str(course.pk)).exists()
    with pytest.raises(SessionNotAllowed, match="already has a course"):
        start_course(patient=cleared.patient, product="iv_ketamine", actor=nurse, ip_address=None)


def test_the_start_page_offers_cleared_patients_and_starts_a_course(
    nurse_client, physician, default_version
):
    cleared = make_submitted_screening(patient=make_patient("Cleo Cleared"))
    clear(cleared, physician)
    refused = make_submitted_screening(patient=make_patient("Nat Notcandidate"))
    clear(refused, physician, outcome=Decision.Outcome.NOT_A_CANDIDATE)
    body = nurse_client.get("/staff/sessions/courses/new/").content.decode()
    assert "Cleo Cleared" in body and "Nat Notcandidate" not in body
    response = nurse_client.post(
        "/staff/sessions/courses/new/",
        {"patient": str(cleared.patient.pk), "product": "iv_ketamine"},
    )
    course = TreatmentCourse.objects.get()
    assert response["Location"] == f"/staff/sessions/courses/{course.pk}/"


def test_scheduling_a_past_time_is_refused_with_a_message_and_keeps_what_was_typed(
    nurse_client, physician, default_version
):
    course = make_course(physician)
    yesterday = timezone.localdate() - timedelta(days=1)
    response = nurse_client.post(
        f"/staff/sessions/courses/{course.pk}/schedule/",
        {"date": yesterday.isoformat(), "time": "09:30"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "That time has already passed: choose a time in the future." in body
    assert f'value="{yesterday.isoformat()}"' in body and 'value="09:30"' in body
    assert not TreatmentSession.objects.exists()
    response = nurse_client.post(
        f"/staff/sessions/courses/{course.pk}/schedule/", {"date": "2026-02-30", "time": "9h"}
    )
    body = response.content.decode()
    assert "Enter a real date, for example 2026-12-03." in body
    assert "Enter the time as hours and minutes, for example 09:30." in body
    assert 'value="2026-02-30"' in body


def test_scheduling_books_a_session_and_the_board_shows_it(
    nurse_client, nurse, physician, default_version
):
    course = make_course(physician)
    tomorrow = timezone.localdate() + timedelta(days=1)
    response = nurse_client.post(
        f"/staff/sessions/courses/{course.pk}/schedule/",
        {"date": tomorrow.isoformat(), "time": "10:00"},
    )
    assert response.status_code == 302
    session = TreatmentSession.objects.get()
    assert timezone.localtime(session.scheduled_for).hour == 10
    assert session.created_by == nurse
    board = nurse_client.get("/staff/sessions/")
    assert [r.session for r in board.context["upcoming"]] == [session]
    assert course.patient.full_name in board.content.decode()
    with pytest.raises(SessionNotAllowed):
        schedule_session(
            course=course,
            scheduled_for=timezone.now() - timedelta(minutes=1),
            actor=nurse,
            ip_address=None,
        )


# Who reads what -------------------------------------------------------------------------------


def test_a_nurse_reads_the_session_but_not_the_screening_or_the_queue(
    nurse_client, physician_client, physician, default_version
):
    session = make_session(physician, flags=[("new_medicine", "caution")])
    baseline = session.course.clearance.screening
    assert nurse_client.get(f"/staff/screenings/{baseline.pk}/").status_code == 403
    assert nurse_client.get(f"/staff/screenings/{session.check_in.pk}/").status_code == 403
    assert nurse_client.get(f"/staff/screenings/{baseline.pk}/print/").status_code == 403
    assert nurse_client.get("/staff/queue/").status_code == 403
    assert nurse_client.get("/staff/")["Location"] == "/staff/sessions/"
    nurse_page = nurse_client.get(page(session)).content.decode()
    # The flag as title, severity and what to do; not the answers behind it.
    assert "Title of new_medicine" in nurse_page and "Message of new_medicine" in nurse_page
    assert "What changed since the baseline sign-off" not in nurse_page
    assert "Evidence" not in nurse_page
    physician_page = physician_client.get(page(session)).content.decode()
    assert "What changed since the baseline sign-off" in physician_page


@pytest.mark.parametrize(
    "tail",
    [
        "",
        "vitals/before-dose/",
        "vitals/after-dose/",
        "dose/",
        "discharge/",
        "blood-pressure-review/",
    ],
)
def test_a_patient_reaches_no_session_page_not_even_their_own(
    client, physician, default_version, tail
):
    session = make_session(physician)
    client.force_login(session.course.patient)
    for url in (f"{page(session)}{tail}", "/staff/sessions/", "/staff/sessions/courses/new/"):
        assert client.get(url).status_code in (403, 405)
        assert client.post(url, {}).status_code == 403
    assert client.get(f"/staff/sessions/courses/{session.course.pk}/").status_code == 403


def test_a_clinic_admin_reads_no_session(client, clinic_admin, physician, default_version):
    session = make_session(physician)
    log_in_staff(client, clinic_admin)
    assert client.get(page(session)).status_code == 403
    assert client.get("/staff/sessions/").status_code == 403


def test_every_read_of_a_session_is_audited(nurse_client, nurse, physician, default_version):
    session = make_session(physician)
    nurse_client.get(page(session))
    nurse_client.get("/staff/sessions/")
    nurse_client.get(f"/staff/sessions/courses/{session.course.pk}/")
    actions = list(
        AuditEvent.objects.filter(actor=nurse).order_by("id").values_list("action", flat=True)
    )
    assert actions == ["session.viewed", "sessions.board_viewed", "course.viewed"]
    event = AuditEvent.objects.get(action="session.viewed")
    assert event.object_id == str(session.pk) and event.screening == session.check_in


# Query counts ---------------------------------------------------------------------------------


def _queries(client, url) -> int:
    client.get(url)  # the first request of a login also saves its session: not the page's
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured)


def test_the_board_and_course_page_cost_a_fixed_number_of_queries(
    nurse_client, nurse, physician, default_version
):
    course = make_course(physician)
    for hours in (1, 2):
        make_session(physician, course=course, hours_from_now=hours)
    few_board = _queries(nurse_client, "/staff/sessions/")
    few_course = _queries(nurse_client, f"/staff/sessions/courses/{course.pk}/")
    # Vitals are recorded only on a session's day: these are booked minutes apart, today
    # whatever the time (they once crossed midnight when the suite ran after noon).
    minute = 1 / 60 if timezone.localtime().hour == 0 else -1 / 60
    for hours in range(3, 13):
        session = make_session(
            physician, course=make_course(physician), hours_from_now=hours * minute
        )
        record_reading(
            session=session,
            timing="pre_dose",
            systolic=120,
            diastolic=80,
            heart_rate=70,
            actor=nurse,
            ip_address=None,
        )
        make_session(physician, course=course, hours_from_now=hours)
    assert _queries(nurse_client, "/staff/sessions/") == few_board
    assert _queries(nurse_client, f"/staff/sessions/courses/{course.pk}/") == few_course
    assert few_board <= 20


def test_the_session_page_costs_a_fixed_number_of_queries(
    physician_client, nurse, physician, default_version
):
    session = make_session(physician, flags=[("a", "caution")])
    # As every sent intake and check-in has (services.evaluation.record_submission).
    for screening in (session.course.clearance.screening, session.check_in):
        Submission.objects.create(
            screening=screening,
            number=1,
            submitted_at=screening.submitted_at,
            answers=dict(screening.answers.values_list("question__code", "value")),
        )
    empty = _queries(physician_client, page(session))
    for _ in range(8):
        record_reading(
            session=session,
            timing="pre_dose",
            systolic=120,
            diastolic=80,
            heart_rate=70,
            actor=nurse,
            ip_address=None,
        )
    full = _queries(physician_client, page(session))
    assert full == empty
    # Issue 14: within the screening page's budget (19 on SQLite, 20 on PostgreSQL:
    # tests/test_physician_summary.py). Measured: 17 here, 18 on PostgreSQL (the audit chain's
    # lock), the audit record and the test's savepoints included.
    assert full <= (18 if connection.vendor == "postgresql" else 17)


def test_the_print_view_carries_the_session_record(
    physician_client, nurse, physician, default_version
):
    session = make_session(physician)
    record_reading(
        session=session,
        timing="pre_dose",
        systolic=151,
        diastolic=93,
        heart_rate=77,
        spo2=97,
        actor=nurse,
        ip_address=None,
    )
    baseline = session.course.clearance.screening
    body = physician_client.get(f"/staff/screenings/{baseline.pk}/print/").content.decode()
    assert "Treatment sessions" in body
    assert "151/93 mmHg, heart rate 77/min, SpO2 97%" in body
    assert "Needs physician review" in body


def test_a_clinic_admin_reads_session_events_without_which_session(
    nurse_client, client, clinic_admin, physician, default_version
):
    session = make_session(physician)
    nurse_client.get(page(session))
    log_in_staff(client, clinic_admin)
    body = client.get("/staff/audit/", {"action": "session.viewed"}).content.decode()
    assert "Treatment session read" in body
    assert str(session.pk) not in body
    assert str(session.check_in.pk) not in body


def test_a_reading_sent_after_discharge_is_refused_with_a_message(
    nurse_client, nurse, physician, default_version
):
    session = make_session(physician)
    DischargeRecord.objects.create(
        session=session,
        observation_minutes=120,
        alert_and_oriented=True,
        walks_unaided=True,
        escort_present=True,
        recorded_by=nurse,
    )
    response = post_pre_dose(nurse_client, session, "120/80")
    assert response.status_code == 200
    assert "The patient has been discharged" in response.content.decode()
    assert not VitalReading.objects.exists()


# The clearance behind the course ----------------------------------------------------------


def test_an_expired_clearance_holds_the_session_until_the_patient_is_screened_again(
    nurse_client, physician, default_version, settings
):
    session = make_session(physician)
    post_pre_dose(nurse_client, session, "128", "82")
    assert status_of(nurse_client, session) == "ready"
    clearance = session.course.clearance
    Decision.objects.filter(pk=clearance.pk).update(
        signed_at=timezone.now() - timedelta(days=settings.CLEARANCE_VALID_DAYS, seconds=1)
    )
    assert status_of(nurse_client, session) == "on_hold"
    assert any("clearance expired" in reason for reason in reasons_of(nurse_client, session))


def test_a_physicians_request_for_re_screening_holds_the_session(
    nurse_client, physician, default_version
):
    from screening.services.rescreening import request_rescreening

    session = make_session(physician)
    post_pre_dose(nurse_client, session, "128", "82")
    request_rescreening(
        screening=session.course.clearance.screening,
        physician=physician,
        reason="New heart condition reported by phone.",
    )
    assert status_of(nurse_client, session) == "on_hold"
    assert any("asked for re-screening" in reason for reason in reasons_of(nurse_client, session))


def test_a_check_in_is_acknowledged_not_signed_off_like_an_intake(
    physician_client, physician, default_version
):
    session = make_session(physician, flags=[("new_medicine", "caution")])
    check_in = session.check_in
    html = physician_client.get(f"/staff/screenings/{check_in.pk}/").content.decode()
    assert "Sign decision" not in html
    assert f'href="/staff/sessions/{session.pk}/"' in html
    response = physician_client.post(
        f"/staff/screenings/{check_in.pk}/decide/",
        {"outcome": "cleared", "lock_version": check_in.lock_version},
    )
    assert response.status_code in (200, 302)
    assert not Decision.objects.filter(screening=check_in).exists()


# Found by attacking the running app ---------------------------------------------------------


def post_dose_time(client, session, when):
    return client.post(
        f"{page(session)}dose/", {"dose-given_at": timezone.localtime(when).strftime("%H:%M")}
    )


def test_the_dose_is_refused_unless_the_session_is_ready_with_the_reasons(
    nurse_client, physician, default_version
):
    session = make_session(physician, flags=[("phq9_item9_positive", "urgent")])
    post_pre_dose(nurse_client, session, "120/80")
    backdate_readings(session, 10)
    response = post_dose_time(nurse_client, session, timezone.now())
    assert response.status_code == 200
    body = response.content.decode()
    assert "The session is on hold:" in body
    assert "Check-in flag not yet acknowledged by a physician (urgent)" in body
    assert not DoseRecord.objects.exists()
    # No dose, so no discharge either.
    response = nurse_client.post(
        f"{page(session)}discharge/",
        {
            "discharge-alert_and_oriented": "on",
            "discharge-walks_unaided": "on",
            "discharge-escort_present": "on",
        },
    )
    assert not DischargeRecord.objects.exists()


def test_a_session_needing_review_takes_no_dose(nurse, physician, default_version):
    session = make_session(physician, flags=[("new_medicine", "caution")])
    record_reading(
        session=session,
        timing="pre_dose",
        systolic=120,
        diastolic=80,
        heart_rate=70,
        actor=nurse,
        ip_address=None,
    )
    with pytest.raises(SessionNotAllowed, match="The session is waiting for a physician.s review"):
        record_dose(session=session, given_at=timezone.now(), actor=nurse, ip_address=None)


def test_a_dose_time_before_the_pre_dose_reading_or_long_ago_is_refused_beside_the_box(
    nurse_client, nurse, physician, default_version
):
    session = make_session(physician)
    post_pre_dose(nurse_client, session, "120/80")
    earlier = timezone.now() - timedelta(minutes=30)
    response = post_dose_time(nurse_client, session, earlier)
    assert response.status_code == 200
    body = response.content.decode()
    assert "That time is before the pre-dose blood pressure reading" in body
    assert f'value="{timezone.localtime(earlier):%H:%M}"' in body  # what was typed stays
    assert "before the pre-dose" in response.context["dose_form"].errors["given_at"][0]
    assert not DoseRecord.objects.exists()
    backdate_readings(session, 14 * 60)
    with pytest.raises(SessionNotAllowed, match="more than 12 hours ago"):
        record_dose(
            session=session,
            given_at=timezone.now() - timedelta(hours=13),
            actor=nurse,
            ip_address=None,
        )
    dose = record_dose(
        session=session,
        given_at=timezone.now() - timedelta(hours=1),
        actor=nurse,
        ip_address=None,
    )
    # The observation period counts from the dose time: not over one hour in.
    html = nurse_client.get(page(session)).content.decode()
    assert dose.pk and "The observation period (120 minutes after the dose) ends at" in html


def test_discharge_needs_every_due_post_dose_reading(
    nurse_client, nurse, physician, default_version
):
    session = make_session(physician)
    post_pre_dose(nurse_client, session, "120/80")
    backdate_readings(session, 180)
    record_dose(
        session=session,
        given_at=timezone.now() - timedelta(minutes=150),
        actor=nurse,
        ip_address=None,
    )
    read_after_dose(session, nurse)
    backdate_readings(session, 100)  # the 40-minute reading, taken 50 minutes after the dose
    data = {
        "discharge-alert_and_oriented": "on",
        "discharge-walks_unaided": "on",
        "discharge-escort_present": "on",
        "discharge-note": "Feels fine.",
    }
    response = nurse_client.post(f"{page(session)}discharge/", data)
    assert response.status_code == 200
    body = response.content.decode()
    assert "The reading due 120 minutes after the dose" in body
    assert "The reading due 40 minutes after the dose" not in body
    assert "Feels fine." in body
    assert not DischargeRecord.objects.exists()
    record_reading(
        session=session,
        timing="post_dose",
        systolic=125,
        diastolic=80,
        heart_rate=75,
        planned_minutes=120,
        actor=nurse,
        ip_address=None,
    )
    assert nurse_client.post(f"{page(session)}discharge/", data).status_code == 302
    assert DischargeRecord.objects.exists()


def test_an_urgent_check_in_flag_is_acknowledged_only_with_a_note(
    nurse_client, physician_client, physician, default_version
):
    session = make_session(physician, flags=[("phq9_item9_positive", "urgent")])
    post_pre_dose(nurse_client, session, "120/80")
    flag = session.check_in.flags.get()
    response = physician_client.post(
        f"{page(session)}flags/{flag.pk}/acknowledge/",
        {"note": "  ", "lock_version": session.check_in.lock_version},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert f'id="note-error-{flag.pk}"' in body
    assert "a note is needed to acknowledge it" in body
    assert status_of(nurse_client, session) == "on_hold"
    # The check-in's own page draws no acknowledge form, and a POST to it is refused too.
    response = physician_client.post(
        f"/staff/screenings/{session.check_in.pk}/flags/{flag.pk}/acknowledge/",
        {"note": "", "lock_version": session.check_in.lock_version},
        follow=True,
    )
    assert "a note is needed to acknowledge it" in response.content.decode()
    assert status_of(nurse_client, session) == "on_hold"
    physician_client.post(
        f"{page(session)}flags/{flag.pk}/acknowledge/",
        {"note": "Seen today, safety plan agreed.", "lock_version": session.check_in.lock_version},
    )
    assert status_of(nurse_client, session) == "ready"


def test_booking_refuses_an_invalid_clearance_a_far_year_and_a_second_session_that_day(
    nurse_client, nurse, physician, default_version, settings
):
    course = make_course(physician)
    url = f"/staff/sessions/courses/{course.pk}/schedule/"
    response = nurse_client.post(url, {"date": "9999-01-01", "time": "09:30"})
    assert response.status_code == 200
    assert "That date is more than a year ahead" in response.content.decode()
    assert 'value="9999-01-01"' in response.content.decode()
    tomorrow = timezone.localdate() + timedelta(days=1)
    assert nurse_client.post(url, {"date": tomorrow.isoformat(), "time": "09:30"}).status_code == (
        302
    )
    response = nurse_client.post(url, {"date": tomorrow.isoformat(), "time": "15:00"})
    assert response.status_code == 200
    assert "already has a session of this course on" in response.content.decode()
    assert TreatmentSession.objects.count() == 1
    Decision.objects.filter(pk=course.clearance.pk).update(
        signed_at=timezone.now() - timedelta(days=settings.CLEARANCE_VALID_DAYS, seconds=1)
    )
    later = tomorrow + timedelta(days=2)
    response = nurse_client.post(url, {"date": later.isoformat(), "time": "09:30"})
    assert response.status_code == 200
    assert "No session can be booked: The clearance expired" in response.content.decode()
    assert TreatmentSession.objects.count() == 1


def test_a_discharged_session_is_not_among_the_patients_upcoming_sessions(
    nurse, physician, default_version
):
    from screening.intake.standing import upcoming_sessions

    session = make_session(physician, hours_from_now=3)
    assert [row.session for row in upcoming_sessions(session.course.patient)] == [session]
    DischargeRecord.objects.create(
        session=session,
        observation_minutes=120,
        alert_and_oriented=True,
        walks_unaided=True,
        escort_present=True,
        recorded_by=nurse,
    )
    assert upcoming_sessions(session.course.patient) == []


def test_the_start_course_page_read_is_audited_without_naming_a_patient(
    nurse_client, nurse, physician, default_version
):
    baseline = make_submitted_screening(patient=make_patient("Cleo Cleared"))
    clear(baseline, physician)
    response = nurse_client.get("/staff/sessions/courses/new/")
    assert "Cleo Cleared" in response.content.decode()
    event = AuditEvent.objects.get(action="course.start_viewed")
    assert event.actor == nurse
    assert "Cleo" not in event.summary
