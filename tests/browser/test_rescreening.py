"""Re-screening in a real browser (issue 14, item 5): a physician asks a cleared patient to
answer again; the patient's home says so, Start opens the first page pre-filled and marked
"From your last questionnaire"; the re-screening, once sent, opens for the physician with
what changed since the previous screening, and the queue marks it.

The screenings are made the way the services make them (the intake journey has its own
browser tests). Screenshots land in screenshots/rescreening-*.png.
"""

import pytest
from playwright.sync_api import expect

from screening.demo import CALM_ANSWERS
from screening.models import Answer, CompletedSection, Screening, User
from screening.selectors import current_version
from screening.services.intake import start_first_screening, submit_screening
from screening.services.rescreening import request_rescreening
from screening.services.review import acknowledge_flag, record_decision
from tests.conftest import PASSWORD

from .conftest import DESKTOP, PHONE, SCREENSHOT_DIR, shoot
from .patient_steps import heading, log_in
from .staff_steps import log_in_as_staff, queue_table

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REASON = "GP letter: new blood pressure medicine started; check again before the next dose"


def medicines(*names):
    rows = [{"name": name, "dose": "", "frequency": ""} for name in names]
    return {"rows": rows, "none": not rows}


def answer_everything(screening, answers: dict) -> None:
    questions = {q.code: q for q in screening.version.questions.all()}
    for code, value in answers.items():
        if code in questions:
            Answer.objects.update_or_create(
                screening=screening, question=questions[code], defaults={"value": value}
            )
    CompletedSection.objects.bulk_create(
        (
            CompletedSection(screening=screening, section=s)
            for s in screening.version.sections.all()
        ),
        ignore_conflicts=True,
    )


def sign_off(screening, physician, outcome="cleared"):
    for flag in screening.flags.all():
        acknowledge_flag(
            flag=flag,
            physician=physician,
            note="",
            seen_version=Screening.objects.get(pk=screening.pk).lock_version,
        )
    record_decision(
        screening=screening,
        physician=physician,
        outcome=outcome,
        seen_version=Screening.objects.get(pk=screening.pk).lock_version,
    )


@pytest.fixture
def cleared(default_version, physician):
    """Rita, cleared on calm answers: blood pressure 118/76, no medicines."""
    patient = User.objects.create_user(
        email="rita@example.com", password=PASSWORD, full_name="Rita Rescreen"
    )
    screening = Screening.objects.create(patient=patient, version=current_version())
    answer_everything(
        screening,
        {**CALM_ANSWERS, "bp": {"systolic": 118, "diastolic": 76}, "medications": medicines()},
    )
    assert submit_screening(screening=screening)
    sign_off(screening, physician)
    return Screening.objects.get(pk=screening.pk)


def test_a_physician_asks_and_the_patient_starts_again_from_their_answers(
    contexts, cleared, physician, axe_audit
):
    # The physician asks, from the decided screening's page (desktop).
    page = contexts.new_page(DESKTOP)
    log_in_as_staff(page, physician.email)
    page.goto(f"/staff/screenings/{cleared.pk}/")
    panel = page.get_by_role("region", name="Clearance and re-screening")
    expect(panel).to_contain_text("Valid until")
    panel.get_by_role("button", name="Ask for re-screening").click()
    expect(
        panel.get_by_text("Please say why the patient should be screened again.")
    ).to_be_visible()
    panel = page.get_by_role("region", name="Clearance and re-screening")
    panel.get_by_label("Why should the patient be screened again?").fill(REASON)
    panel.get_by_role("button", name="Ask for re-screening").click()
    panel = page.get_by_role("region", name="Clearance and re-screening")
    expect(panel).to_contain_text(REASON)
    expect(panel).to_contain_text("No longer valid")
    shoot(page, "rescreening-asked-desktop")
    panel.screenshot(path=str(SCREENSHOT_DIR / "rescreening-asked-panel-desktop.png"))
    axe_audit.check(page, "re-screening asked (desktop)")
    page.context.close()

    # The patient reads it at home (a desktop and a phone), starts again on the phone and
    # carries on at the desktop: both are shown the answers they gave last time.
    desktop = contexts.new_page(DESKTOP)
    phone = contexts.new_page(PHONE)
    for device, page in (("desktop", desktop), ("phone", phone)):
        log_in(page, "rita@example.com")
        page.goto("/screenings/")
        expect(page.locator("#where-things-stand")).to_contain_text(
            "Your doctor has asked you to answer the questionnaire again"
        )
        shoot(page, f"rescreening-home-{device}")
    phone.get_by_role("button", name="Start the questionnaire again").click()
    desktop.reload()
    desktop.get_by_role("link", name="Continue your questionnaire").click()
    for device, page in (("phone", phone), ("desktop", desktop)):
        expect(heading(page)).to_have_text("About you")
        expect(page.locator("#from-last-questionnaire")).to_contain_text(
            "From your last questionnaire"
        )
        expect(page.locator("input[name=date_of_birth]")).to_have_value("1986-03-14")
        shoot(page, f"rescreening-prefilled-{device}")
        axe_audit.check(page, f"pre-filled page ({device})")
        # Today's blood pressure is asked afresh: the page starts empty and says nothing
        # about the last questionnaire.
        new = Screening.objects.get(patient=cleared.patient, previous=cleared)
        page.goto(f"/screenings/{new.pk}/page/vitals/")
        expect(heading(page)).to_have_text("Blood pressure and pulse")
        expect(page.locator("#from-last-questionnaire")).to_have_count(0)
        expect(page.locator("input[name=bp_systolic]")).to_have_value("")
        shoot(page, f"rescreening-vitals-empty-{device}")
        page.context.close()
    assert Screening.objects.filter(patient=cleared.patient).count() == 2
    axe_audit.assert_clean()


def test_the_physician_sees_what_changed_since_the_previous_screening(
    contexts, cleared, physician, axe_audit
):
    request_rescreening(screening=cleared, physician=physician, reason=REASON)
    again = start_first_screening(patient=cleared.patient)
    # Only stable facts were copied: the patient answers the rest afresh.
    answer_everything(
        again,
        {
            **CALM_ANSWERS,
            "bp": {"systolic": 162, "diastolic": 98},
            "medications": medicines("Biaxin 500 mg"),
        },
    )
    assert submit_screening(screening=again)
    for device, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page = contexts.new_page(size)
        log_in_as_staff(page, physician.email)
        row = queue_table(page).get_by_role("row").filter(has_text="Rita Rescreen")
        expect(row).to_contain_text("Re-screening")
        page.goto(f"/staff/screenings/{again.pk}/")
        panel = page.get_by_role("region", name="Changed since the previous screening")
        expect(panel).to_contain_text("by Dr Dana Physician")
        expect(panel).to_contain_text("118/76 mmHg")
        expect(panel).to_contain_text("162/98 mmHg")
        expect(panel).to_contain_text("New: Biaxin 500 mg")
        shoot(page, f"rescreening-what-changed-{device}")
        panel.screenshot(path=str(SCREENSHOT_DIR / f"rescreening-what-changed-panel-{device}.png"))
        axe_audit.check(page, f"re-screening what changed ({device})")
        page.context.close()
    axe_audit.assert_clean()
