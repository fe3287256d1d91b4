"""A physician's review in a real browser: the queue, a screening's flags, signing, printing.

The five demo patients of screening/demo.py fill the queue, one per level. The tests read
the page as a physician would (badges, names, headings, labels); flag texts are taken from
what the engine raised for the screening, so rewording a rule does not break them.
Screenshots land in screenshots/staff-*.png.
"""

import re

import pytest
from playwright.sync_api import Page, expect

from screening.demo import seed_demo_screenings
from screening.models import PHYSICIAN_GROUP, Screening
from tests.conftest import make_user

from .conftest import DESKTOP, PHONE, SCREENSHOT_DIR, shoot
from .patient_steps import heading
from .staff_steps import (
    DECISION_SIGNED,
    STALE_MESSAGE,
    acknowledge_every_flag,
    alert_messages,
    decide,
    decision_section,
    decisions_shown,
    fill_decision,
    filter_queue,
    flag_card,
    flag_titles,
    log_in_as_staff,
    open_first_in_queue,
    open_from_queue,
    queue_names,
    queue_rows,
    queue_table,
    sign,
    status_messages,
    table_rows,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUEUE_IN_ORDER = [
    ("Urgent", "Uma Urgent"),
    ("Contraindicated", "Cora Contraindicated"),
    ("Caution", "Cal Caution"),
    ("Info", "Ian Info"),
    ("Nothing flagged", "Nora Nothing"),
]
OVERRIDE_ERROR = "This screening has a contraindication: explain why you clear it anyway."


@pytest.fixture
def demo_queue(default_version):
    """The five demo patients' submitted screenings (content loaded first: live_server flushes)."""
    assert seed_demo_screenings() == len(QUEUE_IN_ORDER)


def flags_raised(patient_name: str) -> list:
    screening = Screening.objects.get(patient__full_name=patient_name)
    return list(screening.flags.all())


def check_most_urgent_flag(page: Page, flag) -> None:
    """The flag says what, why, on whose authority, and from which answer."""
    card = flag_card(page, flag.title)
    expect(card).to_be_visible()
    expect(card.get_by_role("heading")).to_contain_text("Urgent")
    expect(card.get_by_text(flag.message)).to_be_visible()
    expect(card.get_by_text("Why it matters:")).to_be_visible()
    expect(card).to_contain_text(f"Why it matters: {flag.rationale}")
    expect(card.get_by_text("Source:")).to_be_visible()
    expect(card).to_contain_text(f"Source: {flag.source}")
    expect(card.get_by_text("Evidence:")).to_be_visible()
    evidence = card.get_by_role("listitem")
    expect(evidence).to_have_count(len(flag.evidence))
    # The evidence links to the answer it came from, further down the page.
    link = evidence.first.get_by_role("link", name=re.compile("better off dead"))
    expect(link).to_be_visible()
    answer_id = link.get_attribute("href").removeprefix("#")
    expect(page.locator(f"[id='{answer_id}']")).to_contain_text("better off dead")


def test_queue_and_most_urgent_screening_on_a_phone_and_a_desktop(
    contexts, demo_queue, physician, axe_audit
):
    (flag,) = flags_raised("Uma Urgent")
    for device, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page = contexts.new_page(size)
        log_in_as_staff(page, physician.email)
        assert queue_rows(page) == QUEUE_IN_ORDER
        expect(page.get_by_text("5 screenings, most urgent first")).to_be_visible()
        shoot(page, f"staff-01-queue-{device}")
        axe_audit.check(page, f"review queue ({device})")

        open_first_in_queue(page)
        expect(heading(page)).to_have_text("Screening of Uma Urgent")
        check_most_urgent_flag(page, flag)
        shoot(page, f"staff-02-urgent-screening-{device}")
        axe_audit.check(page, f"urgent screening ({device})")
        page.context.close()
    axe_audit.assert_clean()


def test_physician_acknowledges_the_urgent_flag_and_signs_a_decision(
    contexts, demo_queue, physician
):
    page = contexts.new_page(DESKTOP)
    log_in_as_staff(page, physician.email)
    open_first_in_queue(page)
    expect(heading(page)).to_have_text("Screening of Uma Urgent")
    expect(decision_section(page)).to_contain_text("1 still to acknowledge")

    titles = flag_titles(page)
    note = "Called the patient at 14:05; safety plan agreed, no current intent."
    acknowledge_every_flag(page, notes={titles[0]: note})
    for title in titles:
        expect(flag_card(page, title)).to_contain_text(f"Acknowledged by {physician.full_name}")
    expect(flag_card(page, titles[0])).to_contain_text(note)
    expect(decision_section(page)).not_to_contain_text("still to acknowledge")

    conditions = "Weekly PHQ-9 before each session; crisis line details given."
    decide(page, "Cleared with conditions", {"Conditions": conditions})
    expect(heading(page)).to_have_text("Review queue")
    expect(status_messages(page)).to_have_text(DECISION_SIGNED)
    assert queue_names(page) == [name for _, name in QUEUE_IN_ORDER if name != "Uma Urgent"]

    filter_queue(page, status="Decided")
    assert queue_names(page) == ["Uma Urgent"]
    expect(queue_table(page)).to_contain_text("Decided")
    open_from_queue(page, "Uma Urgent")
    signed = decisions_shown(page)
    expect(signed).to_contain_text("Cleared with conditions")
    expect(signed).to_contain_text(f"signed by {physician.full_name}")
    expect(signed).to_contain_text(conditions)


def test_clearing_a_contraindicated_screening_needs_an_override_reason(
    contexts, demo_queue, physician
):
    page = contexts.new_page(DESKTOP)
    log_in_as_staff(page, physician.email)
    open_from_queue(page, "Cora Contraindicated")
    acknowledge_every_flag(page)

    decide(page, "Cleared for treatment")
    section = decision_section(page)
    override = section.get_by_role("textbox", name="Override reason", exact=True)
    error = section.get_by_text(OVERRIDE_ERROR)
    expect(error).to_be_visible()
    expect(override).to_have_attribute("aria-invalid", "true")
    expect(override).to_have_accessible_description(re.compile(re.escape(OVERRIDE_ERROR)))
    error_box, field_box = error.bounding_box(), override.bounding_box()
    gap = error_box["y"] - (field_box["y"] + field_box["height"])
    assert 0 <= gap < 40, f"The override error is {gap:.0f}px below its box, not beside it"
    expect(section.get_by_role("radio", name="Cleared for treatment")).to_be_checked()
    expect(decisions_shown(page)).to_contain_text("No decision yet.")
    shoot(page, "staff-03-override-reason-error")

    reason = "Pregnant: ketamine is not recommended; revisit after delivery and breast-feeding."
    decide(page, "Not a candidate", {"Reason": reason})
    expect(status_messages(page)).to_have_text(DECISION_SIGNED)
    assert "Cora Contraindicated" not in queue_names(page)


def test_searching_for_cal_then_reading_the_medication_table_and_the_print_view(
    contexts, demo_queue, physician
):
    page = contexts.new_page(DESKTOP)
    log_in_as_staff(page, physician.email)
    filter_queue(page, search="cal")
    assert queue_rows(page) == [("Caution", "Cal Caution")]
    expect(page.get_by_label("Patient name or email")).to_have_value("cal")
    expect(page.get_by_text("1 screening, most urgent first")).to_be_visible()

    # What the patient typed stands beside the medicine it was recognised as.
    open_from_queue(page, "Cal Caution")
    medicines = page.get_by_role("region", name="Medications and substances")
    recognised = {
        row["As typed"]: row["Recognized as"] for row in table_rows(medicines.get_by_role("table"))
    }
    assert recognised.get("Biaxin") == "clarithromycin", recognised
    assert recognised.get("Xanax") == "alprazolam", recognised
    shoot(page, "staff-06-caution-screening-desktop")

    # The printout: the same content without the forms the screen page has for its flags.
    assert page.locator("main form").count() > 0
    with page.expect_navigation():
        page.get_by_role("link", name="Print view").click()
    expect(heading(page)).to_have_text("Cal Caution")
    expect(page.get_by_text("Confidential health information")).to_be_visible()
    expect(page.locator("form")).to_have_count(0)
    expect(page.get_by_role("button")).to_have_count(0)
    expect(page.get_by_role("textbox")).to_have_count(0)
    for flag in flags_raised("Cal Caution"):
        expect(page.get_by_role("heading", name=flag.title)).to_be_visible()
    expect(page.get_by_role("region", name="Medications and substances")).to_contain_text(
        "clarithromycin"
    )
    shoot(page, "staff-05-print")
    page.emulate_media(media="print")
    shoot(page, "staff-05-print-as-printed")


def test_a_second_physician_signing_an_outdated_page_is_told_and_shown_the_first_decision(
    contexts, demo_queue, physician
):
    second = make_user("sam.second@example.com", "Dr Sam Second", PHYSICIAN_GROUP)
    first_page = contexts.new_page(DESKTOP)
    second_page = contexts.new_page(DESKTOP)
    for page, user in ((first_page, physician), (second_page, second)):
        log_in_as_staff(page, user.email)
        open_from_queue(page, "Ian Info")

    acknowledge_every_flag(first_page)
    decide(first_page, "Cleared for treatment")
    expect(status_messages(first_page)).to_have_text(DECISION_SIGNED)

    # The second physician's page still shows the screening as it was before.
    expect(decisions_shown(second_page)).to_contain_text("No decision yet.")
    fill_decision(second_page, "Not a candidate", {"Reason": "Age over 65."})
    sign(second_page)
    expect(alert_messages(second_page)).to_contain_text(STALE_MESSAGE)
    expect(heading(second_page)).to_have_text("Screening of Ian Info")
    shown = decisions_shown(second_page)
    expect(shown).to_contain_text("Cleared for treatment")
    expect(shown).to_contain_text(f"signed by {physician.full_name}")
    expect(shown).not_to_contain_text("Not a candidate")
    expect(shown).not_to_contain_text(second.full_name)
    shoot(second_page, "staff-04-another-physician-signed-first")


def test_flag_evidence_reads_like_the_answers_section(contexts, demo_queue, physician):
    page = contexts.new_page(DESKTOP)
    log_in_as_staff(page, physician.email)
    open_from_queue(page, "Cal Caution")
    evidence = flag_card(page, "Blood pressure above 140/90").get_by_role("listitem")
    expect(evidence).to_contain_text("150/88 mmHg", timeout=1_000)
    page.goto("/staff/queue/")
    open_from_queue(page, "Uma Urgent")
    (title,) = flag_titles(page)
    evidence = flag_card(page, title).get_by_role("listitem")
    expect(evidence).to_contain_text("Several days", timeout=1_000)


SMALL_LAPTOP = {"viewport": {"width": 1280, "height": 800}}


def in_first_screen(page: Page, locator) -> bool:
    """Wholly inside the window as the page opens, without scrolling."""
    box = locator.bounding_box()
    window = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= window["height"]


def test_the_summary_and_the_sign_button_fit_the_first_screen_of_a_small_laptop(
    contexts, demo_queue, physician, axe_audit
):
    (flag,) = flags_raised("Uma Urgent")
    page = contexts.new_page(SMALL_LAPTOP)
    log_in_as_staff(page, physician.email)
    open_first_in_queue(page)
    summary = page.get_by_role("region", name="Summary", exact=True)
    expect(summary).to_contain_text("Uma Urgent")
    expect(summary).to_contain_text("Can I keep taking my sertraline on treatment days?")
    expect(summary.get_by_role("link", name=flag.title)).to_be_visible()
    sign_button = decision_section(page).get_by_role("button", name="Sign decision")
    shoot_first_screen(page, "staff-summary-top-desktop")
    assert in_first_screen(page, summary)
    assert in_first_screen(page, sign_button)
    axe_audit.check(page, "urgent screening's summary (1280 x 800)")

    # The summary's flag line leads to the flag's card; the card's evidence to the answer.
    summary.get_by_role("link", name=flag.title).click()
    expect(page).to_have_url(re.compile(f"#flag-{flag.pk}$"))
    expect(flag_card(page, flag.title)).to_be_in_viewport()

    # Scrolled to the end, the decision form is still in view beside the screening.
    page.keyboard.press("End")
    expect(sign_button).to_be_in_viewport()

    # A part of the details folds away under its heading, and opens again.
    answers = page.get_by_role("region", name="Answers", exact=True)
    answers.locator("summary").click()
    expect(answers.locator("dl").first).to_be_hidden()
    answers.locator("summary").click()
    expect(answers.locator("dl").first).to_be_visible()
    page.context.close()

    # On a phone the summary opens the page and a link near the top leads to the decision.
    page = contexts.new_page(PHONE)
    log_in_as_staff(page, physician.email)
    open_first_in_queue(page)
    summary = page.get_by_role("region", name="Summary", exact=True)
    expect(summary).to_be_in_viewport()
    go_to_decision = page.get_by_role("link", name="Go to the decision")
    assert in_first_screen(page, go_to_decision)
    shoot_first_screen(page, "staff-summary-top-phone")
    axe_audit.check(page, "urgent screening's summary (phone)")
    go_to_decision.click()
    expect(decision_section(page).get_by_role("heading")).to_be_in_viewport()
    axe_audit.assert_clean()


def shoot_first_screen(page: Page, name: str) -> None:
    """The window as it opens (not the whole page): what a reader sees before scrolling."""
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT_DIR / f"{name}.png"))
