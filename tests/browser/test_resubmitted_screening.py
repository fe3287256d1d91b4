"""A resubmitted screening in a real browser (issue 12, items 5 and 6): the queue marks it,
and its page opens with what the patient changed, the kept acknowledgements, the flag to
acknowledge again beside the earlier note, and the flag no longer raised.

The screening is made the way the services make it (the patient's pages are the intake
journey's business): the demo's urgent patient, with a blood pressure and an unknown
medicine, is reviewed, sent back, changes two answers and submits again.
Screenshots land in screenshots/staff-resubmitted-*.png.
"""

import pytest
from playwright.sync_api import expect

from screening.demo import CALM_ANSWERS
from screening.models import Answer, CompletedSection, Flag, Screening, User
from screening.selectors import current_version
from screening.services.intake import submit_screening
from screening.services.review import acknowledge_flag, record_decision

from .conftest import DESKTOP, PHONE, shoot
from .patient_steps import heading
from .staff_steps import flag_card, log_in_as_staff, open_from_queue, queue_table

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

URGENT_NOTE = "Called patient 14:05; passive death wish, no plan/intent, safety plan reviewed"
BP_NOTE = "Recheck blood pressure on arrival"
ASKED = "Please check your blood pressure reading and the name of the medicine you take."


def medicines(*names):
    return {"rows": [{"name": name, "dose": "", "frequency": ""} for name in names], "none": False}


def set_answers(screening, answers: dict) -> None:
    for code, value in answers.items():
        Answer.objects.filter(screening=screening, question__code=code).update(value=value)


@pytest.fixture
def resubmitted(default_version, physician):
    """Submitted with a blood pressure of 150/92 and an unknown medicine, every flag
    acknowledged, sent back; then resubmitted with 156/96 and a known medicine."""
    version = current_version()
    questions = {q.code: q for q in version.questions.all()}
    patient = User.objects.create_user(
        email="uma@example.com", password=None, full_name="Uma Urgent"
    )
    screening = Screening.objects.create(patient=patient, version=version)
    answers = {
        **CALM_ANSWERS,
        "phq9_9": "several_days",
        "bp": {"systolic": 150, "diastolic": 92},
        "medications": medicines("Blorbex 10 mg"),
    }
    Answer.objects.bulk_create(
        Answer(screening=screening, question=questions[code], value=value)
        for code, value in answers.items()
        if code in questions
    )
    CompletedSection.objects.bulk_create(
        CompletedSection(screening=screening, section=section) for section in version.sections.all()
    )
    assert submit_screening(screening=screening)
    notes = {"urgent": URGENT_NOTE, "caution": BP_NOTE}
    for flag in screening.flags.all():
        acknowledge_flag(
            flag=flag,
            physician=physician,
            note=notes.get(flag.severity, ""),
            seen_version=Screening.objects.get(pk=screening.pk).lock_version,
        )
    record_decision(
        screening=screening,
        physician=physician,
        outcome="more_information_needed",
        message_to_patient=ASKED,
        seen_version=Screening.objects.get(pk=screening.pk).lock_version,
    )
    set_answers(
        screening,
        {"bp": {"systolic": 156, "diastolic": 96}, "medications": medicines("Biaxin 500 mg")},
    )
    assert submit_screening(screening=screening)
    return Screening.objects.get(pk=screening.pk)


def test_a_resubmitted_screening_shows_what_changed_and_keeps_the_notes(
    contexts, resubmitted, physician, axe_audit
):
    lost = Flag.with_retired.get(code="unrecognised_medication").title
    for device, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page = contexts.new_page(size)
        log_in_as_staff(page, physician.email)
        row = queue_table(page).get_by_role("row").filter(has_text="Uma Urgent")
        expect(row).to_contain_text("Resubmitted")
        shoot(page, f"staff-resubmitted-queue-{device}")
        open_from_queue(page, "Uma Urgent")
        expect(heading(page)).to_have_text("Screening of Uma Urgent")
        panel = page.get_by_role("region", name="What changed since the last submission")
        expect(panel).to_be_visible()
        expect(panel).to_contain_text(ASKED)
        expect(panel).to_contain_text("150/92 mmHg")
        expect(panel).to_contain_text("156/96 mmHg")
        expect(panel).to_contain_text(f"No longer raised: Info {lost}")
        gone = page.get_by_role("region", name="No longer raised (1)")
        expect(gone).to_contain_text(lost)
        urgent = resubmitted.flags.get(severity="urgent")
        expect(flag_card(page, urgent.title)).to_contain_text(URGENT_NOTE)
        expect(flag_card(page, urgent.title)).to_contain_text("Acknowledged by Dr Dana Physician")
        shoot(page, f"staff-resubmitted-{device}")
        axe_audit.check(page, f"resubmitted screening ({device})")
        page.context.close()
    axe_audit.assert_clean()
