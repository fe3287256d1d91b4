"""The loop after a physician's first look, end to end in a real browser (issue 12).

A physician acknowledges an urgent patient's flags (one with a note), asks for more
information; the patient gets an email in the test mailbox saying only that there is
news, follows its link on a phone, sees the physician's message, changes her blood
pressure and resubmits; the physician sees what changed, and the acknowledgements and
the note are still there. Screenshots land in screenshots/care-loop-*.png.
"""

import re

import pytest
from django.core import mail
from playwright.sync_api import expect

from screening.demo import CALM_ANSWERS
from screening.models import Answer, CompletedSection, Screening
from screening.selectors import current_version
from screening.services.intake import submit_screening
from tests.conftest import make_user

from .conftest import DESKTOP, PHONE, SCREENSHOT_DIR, shoot
from .patient_steps import heading, log_in, main_form, save
from .staff_steps import (
    acknowledge,
    decide,
    flag_card,
    flag_titles,
    log_in_as_staff,
    open_from_queue,
    queue_table,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

URGENT_NOTE = "Called patient 14:05; passive death wish, no plan/intent, safety plan reviewed"
ASKED = "Please check your blood pressure reading: was the top number 150 or 160?"
PATIENT = "Paula Patient"


@pytest.fixture
def urgent_submission(default_version):
    """An urgent screening (PHQ-9 item 9) with a blood pressure of 150/92, submitted."""
    version = current_version()
    questions = {q.code: q for q in version.questions.all()}
    patient = make_user("paula@example.com", PATIENT)
    screening = Screening.objects.create(patient=patient, version=version)
    answers = {**CALM_ANSWERS, "phq9_9": "several_days", "bp": {"systolic": 150, "diastolic": 92}}
    Answer.objects.bulk_create(
        Answer(screening=screening, question=questions[code], value=value)
        for code, value in answers.items()
        if code in questions
    )
    CompletedSection.objects.bulk_create(
        CompletedSection(screening=screening, section=section) for section in version.sections.all()
    )
    assert submit_screening(screening=screening)
    return Screening.objects.get(pk=screening.pk)


def test_more_information_needed_goes_round_the_loop_and_keeps_the_notes(
    contexts, urgent_submission, physician, axe_audit
):
    urgent_title = urgent_submission.flags.get(severity="urgent").title
    doctor = contexts.new_page(DESKTOP)
    log_in_as_staff(doctor, physician.email)
    open_from_queue(doctor, PATIENT)
    acknowledged = flag_titles(doctor)
    assert urgent_title in acknowledged
    for title in acknowledged:
        acknowledge(doctor, title, URGENT_NOTE if title == urgent_title else "")
    mail.outbox.clear()
    decide(doctor, "More information needed", {"Message to the patient": ASKED})

    # The queue still lists her, waiting, at the top.
    doctor.goto("/staff/queue/")
    row = queue_table(doctor).locator("tbody tr").first
    expect(row).to_contain_text(PATIENT)
    expect(row).to_contain_text("Waiting for patient")
    shoot(doctor, "care-loop-1-queue-waiting")

    # The patient's email says there is news, and nothing about her health.
    notices = [m for m in mail.outbox if m.to == ["paula@example.com"]]
    assert len(notices) == 1, [m.subject for m in mail.outbox]
    body = notices[0].body
    assert ASKED not in body and "blood pressure" not in body.lower()
    link = re.search(r"https?://\S+", body).group(0)
    path = re.sub(r"^https?://[^/]+", "", link)

    phone = contexts.new_page(PHONE)
    phone.goto(path)
    log_in(phone, "paula@example.com")
    expect(phone.get_by_text("Your doctor needs more information")).to_be_visible()
    expect(phone.get_by_text(ASKED)).to_be_visible()
    axe_audit.check(phone, "patient home, more information needed")
    shoot(phone, "care-loop-2-patient-home")
    with phone.expect_navigation():
        phone.get_by_role("link", name="Change your answers").click()
    expect(phone.get_by_text(ASKED)).to_be_visible()
    with phone.expect_navigation():
        phone.get_by_role("link", name="Change answers in Blood pressure and pulse").click()
    expect(heading(phone)).to_contain_text("Blood pressure and pulse")
    main_form(phone).get_by_label("Top number (systolic)").fill("160")
    save(phone)
    phone.get_by_role("checkbox", name=re.compile(r"my answers are complete and true")).check()
    with phone.expect_navigation():
        phone.get_by_role("button", name="Submit my answers").click()
    shoot(phone, "care-loop-3-patient-resubmitted")

    # Back with the physician: what changed at the top, the notes kept.
    doctor.goto("/staff/queue/")
    row = queue_table(doctor).get_by_role("row").filter(has_text=PATIENT)
    expect(row).to_contain_text("Resubmitted")
    open_from_queue(doctor, PATIENT)
    panel = doctor.get_by_role("region", name="What changed since the last submission")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text(ASKED)
    expect(panel).to_contain_text("150/92 mmHg")
    expect(panel).to_contain_text("160/92 mmHg")
    card = flag_card(doctor, urgent_title)
    expect(card).to_contain_text(URGENT_NOTE)
    expect(card).to_contain_text("Acknowledged by")
    for title in acknowledged:
        # Flags raised again on the same answers keep their acknowledgement; only a flag
        # whose evidence (the blood pressure) changed asks for one again.
        card = flag_card(doctor, title)
        if card.get_by_role("button", name=re.compile(r"^Acknowledge\b")).count():
            expect(card).to_contain_text("Acknowledged earlier by")
    axe_audit.check(doctor, "resubmitted screening, physician")
    shoot(doctor, "care-loop-4-physician-what-changed")
    doctor.screenshot(path=str(SCREENSHOT_DIR / "care-loop-5-physician-first-screen.png"))
    axe_audit.assert_clean()
