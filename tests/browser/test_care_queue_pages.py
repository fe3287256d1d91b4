"""The queue with a screening waiting for its patient and an urgent one nobody has opened,
and the patient's home page when more information is needed and once cleared, on a phone
and a desktop. Screenshots land in screenshots/care-*.png; axe checks each page."""

import pytest
from playwright.sync_api import expect

from screening.demo import seed_demo_screenings
from screening.models import Decision
from screening.services.review import record_decision
from tests.conftest import make_user
from tests.factories import make_submitted_screening

from .conftest import DESKTOP, PHONE, shoot
from .patient_steps import heading, log_in
from .staff_steps import log_in_as_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MESSAGE = "Please tell us the dose of sertraline you take each day."


def decide(screening, physician, outcome, **extra):
    screening.refresh_from_db()
    record_decision(
        screening=screening,
        physician=physician,
        outcome=outcome,
        seen_version=screening.lock_version,
        **extra,
    )


def test_the_queue_shows_who_waits_and_what_nobody_has_opened(
    contexts, default_version, physician, axe_audit
):
    seed_demo_screenings()
    waiting = make_submitted_screening(
        level="urgent",
        patient=make_user("wes@example.com", "Wes Waiting"),
        minutes_ago=300,
    )
    decide(waiting, physician, Decision.Outcome.MORE_INFORMATION_NEEDED, message_to_patient=MESSAGE)
    for device, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page = contexts.new_page(size)
        log_in_as_staff(page, physician.email)
        table = page.get_by_role("region", name="Screenings")
        expect(table).to_contain_text("not yet opened")
        expect(table).to_contain_text("Waiting for patient")
        expect(table).to_contain_text(MESSAGE)
        shoot(page, f"care-queue-{device}")
        axe_audit.check(page, f"queue with a waiting and an unopened screening ({device})")
        page.goto("/staff/urgent-response/")
        expect(heading(page)).to_have_text("Urgent response times")
        shoot(page, f"care-urgent-response-{device}")
        axe_audit.check(page, f"urgent response times ({device})")
        page.context.close()
    axe_audit.assert_clean()


def test_the_patient_home_when_more_information_is_needed_and_once_cleared(
    contexts, default_version, physician, axe_audit
):
    patient = make_user("pia@example.com", "Pia Patient")
    screening = make_submitted_screening(level="", patient=patient)
    decide(
        screening, physician, Decision.Outcome.MORE_INFORMATION_NEEDED, message_to_patient=MESSAGE
    )
    for device, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page = contexts.new_page(size)
        log_in(page, patient.email)
        expect(
            page.get_by_role("heading", name="Your doctor needs more information")
        ).to_be_visible()
        expect(page.get_by_text(MESSAGE)).to_be_visible()
        expect(page.get_by_role("link", name="Change your answers")).to_be_visible()
        shoot(page, f"care-patient-more-information-{device}")
        axe_audit.check(page, f"patient home, more information needed ({device})")
        page.context.close()
    # Resubmitted and cleared (straight in the database: the intake is another test's).
    type(screening).objects.filter(pk=screening.pk).update(status="submitted")
    decide(
        screening,
        physician,
        Decision.Outcome.CLEARED,
        message_to_patient="The clinic will call you this week to book your first visit.",
    )
    for device, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page = contexts.new_page(size)
        log_in(page, patient.email)
        expect(page.get_by_role("heading", name="You are cleared for treatment")).to_be_visible()
        expect(page.get_by_role("button", name="Start the questionnaire")).to_have_count(0)
        shoot(page, f"care-patient-cleared-{device}")
        axe_audit.check(page, f"patient home, cleared ({device})")
        page.context.close()
    axe_audit.assert_clean()
