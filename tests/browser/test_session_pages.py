"""The session page as a nurse and as a physician, on a phone and a desktop: one status with
its reasons, the check-in's flags, vitals, dose and discharge; the physician also sees what
changed since the baseline sign-off. Screenshots land in screenshots/session-*.png; axe checks
each page."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from screening.demo import CALM_ANSWERS, seed_demo_screenings
from screening.models import (
    Answer,
    CompletedSection,
    DoseRecord,
    Screening,
    TreatmentCourse,
    TreatmentSession,
    User,
)
from screening.services.intake import submit_screening
from screening.services.sessions import record_reading
from tests.conftest import PASSWORD, make_user
from tests.session_helpers import backdate_readings, clear

from .conftest import DESKTOP, PHONE, shoot
from .patient_steps import heading
from .staff_steps import enter_authenticator_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def a_session_on_the_day(physician, nurse) -> TreatmentSession:
    """Nora (the demo's calm patient), cleared, on IV ketamine; her check-in reports
    clarithromycin started, her pre-dose blood pressure is 152/94, the dose was given 45
    minutes ago and the 40-minute reading is in."""
    seed_demo_screenings()
    nora = User.objects.get(email="nora.nothing@example.com")
    baseline = nora.screenings.get()
    decision = clear(baseline, physician)
    course = TreatmentCourse.objects.create(
        patient=nora, product="iv_ketamine", clearance=decision, created_by=nurse
    )
    check_in = Screening.objects.create(
        patient=nora, version=baseline.version, purpose=Screening.Purpose.CHECK_IN
    )
    answers = {
        **CALM_ANSWERS,
        "medications": {
            "rows": [
                {"name": "Sertraline", "dose": "100 mg", "frequency": "daily"},
                {"name": "Biaxin", "dose": "500 mg", "frequency": "twice a day"},
            ],
            "none": False,
        },
        "phq9_1": "not_at_all",
        "phq9_2": "not_at_all",
    }
    questions = {q.code: q for q in baseline.version.questions.all()}
    Answer.objects.bulk_create(
        Answer(screening=check_in, question=questions[code], value=value)
        for code, value in answers.items()
        if code in questions
    )
    CompletedSection.objects.bulk_create(
        CompletedSection(screening=check_in, section=s) for s in baseline.version.sections.all()
    )
    submit_screening(screening=check_in, alert_physicians=False)
    session = TreatmentSession.objects.create(
        course=course,
        # An hour ago, or at midnight (vitals are recorded only on the session's own day).
        scheduled_for=max(
            timezone.now() - timedelta(minutes=60),
            timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0),
        ),
        check_in=check_in,
        created_by=nurse,
    )
    record_reading(
        session=session,
        timing="pre_dose",
        systolic=152,
        diastolic=94,
        heart_rate=78,
        spo2=98,
        weight_kg=64,
        actor=nurse,
        ip_address=None,
    )
    backdate_readings(session, 60)  # taken on arrival, before the dose
    # Written straight to the table: the service refuses a dose while the session waits for
    # a physician, and this page is drawn with both (a physician's review still to come).
    DoseRecord.objects.create(
        session=session, given_at=timezone.now() - timedelta(minutes=45), recorded_by=nurse
    )
    record_reading(
        session=session,
        timing="post_dose",
        systolic=146,
        diastolic=90,
        heart_rate=82,
        spo2=97,
        planned_minutes=40,
        actor=nurse,
        ip_address=None,
    )
    return session


def log_in(page, email: str) -> None:
    page.goto("/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in", exact=True).click()
    enter_authenticator_code(page, email)


def test_the_session_page_for_a_nurse_and_a_physician(
    contexts, default_version, physician, roles, axe_audit
):
    nurse = make_user("nurse@example.com", "Nell Nurse", "Nurse")
    session = a_session_on_the_day(physician, nurse)
    for who, user in (("nurse", nurse), ("physician", physician)):
        for device, size in (("phone", PHONE), ("desktop", DESKTOP)):
            page = contexts.new_page(size)
            log_in(page, user.email)
            page.goto(f"/staff/sessions/{session.pk}/")
            expect(heading(page)).to_contain_text("Nora Nothing")
            panel = page.locator("#readiness")
            # The dose is given: the status says so, not "Ready to dose" nor the reasons before it.
            expect(panel).to_contain_text("Dose given")
            expect(panel).to_contain_text("in observation until")
            expect(page.get_by_role("region", name="Readings before the dose")).to_contain_text(
                "152/94"
            )
            baseline_panel = page.get_by_role(
                "heading", name="What changed since the baseline sign-off"
            )
            if who == "nurse":
                expect(baseline_panel).to_have_count(0)
                expect(page.get_by_text("Record a reading before the dose")).to_be_visible()
            else:
                expect(baseline_panel).to_be_visible()
                expect(page.locator(".since-baseline")).to_contain_text("new since baseline")
            shoot(page, f"session-{who}-{device}")
            page.screenshot(path=f"screenshots/session-{who}-{device}-top.png")
            axe_audit.check(page, f"session page ({who}, {device})")
            if device == "desktop":
                page.goto("/staff/sessions/")
                expect(heading(page)).to_have_text("Treatment sessions")
                shoot(page, f"session-board-{who}")
                axe_audit.check(page, f"sessions board ({who})")
            page.context.close()
    axe_audit.assert_clean()
