"""A clinic admin changes the questionnaire in the Django admin: draft, edit, test, publish.

Found by what the admin sees (link text, labels, the action menu), as a person would.
Screenshots land in screenshots/admin-*.png.
"""

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from screening.demo import seed_demo_screenings
from tests.conftest import PASSWORD

from .conftest import DESKTOP, PHONE, shoot
from .staff_steps import enter_authenticator_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

INVALID_SHOW_WHEN = 'pregnant = "maybe"'
VALID_SHOW_WHEN = 'can_be_pregnant = yes and pregnant = "no"'
NEW_TEXT = "Are you using contraception (birth control) at the moment?"
SPANISH_TEXT = "¿Usa anticonceptivos en este momento?"
CASE_NAME = "Man with a blood pressure of 150 over 95"
# The intake's versions (the session check-in has its own, numbered from 1 too).
VERSION_NAME = re.compile(r"pre-treatment screening v(\d+) \((Draft|Published|Retired)\)$")


def admin_log_in(page: Page, email: str) -> None:
    page.goto("/admin/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    enter_authenticator_code(page, email)
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()


def shoot_both_widths(page: Page, name: str) -> None:
    """The admin at desktop width, then as it looks on a phone (390 px), then back."""
    shoot(page, f"{name}-desktop")
    page.set_viewport_size(PHONE["viewport"])
    shoot(page, f"{name}-phone")
    page.set_viewport_size(DESKTOP["viewport"])


def go_to(page: Page, model_name: str) -> None:
    """Follow a model's link from the admin home page, as the sidebar-less admin offers."""
    page.goto("/admin/")
    with page.expect_navigation():
        page.get_by_role("link", name=model_name, exact=True).click()


def messages_shown(page: Page) -> Locator:
    return page.locator("ul.messagelist li")


def result_rows(page: Page) -> dict[str, dict[str, str]]:
    """The changelist as {object shown: {column header: cell text}}."""
    table = page.locator("#result_list")
    headers = [h.strip() for h in table.locator("thead th").all_text_contents()]
    rows = {}
    for row in table.locator("tbody tr").all():
        cells = [c.strip() for c in row.locator("td, th").all_text_contents()]
        named = dict(zip(headers, cells, strict=False))
        rows[cells[1]] = named
    return rows


def version_statuses(page: Page) -> dict[int, str]:
    """{version number: status column} from the question set versions changelist."""
    statuses = {}
    for shown, columns in result_rows(page).items():
        found = VERSION_NAME.search(shown)
        if found:
            statuses[int(found.group(1))] = columns["Status"]
    return statuses


def run_action(page: Page, object_name: str, action: str) -> None:
    """Tick one row's box, choose the action, press Go."""
    page.get_by_role("checkbox", name=re.compile(re.escape(object_name))).check()
    page.get_by_label("Action:").select_option(label=action)
    with page.expect_navigation():
        page.get_by_role("button", name="Go").click()


def field_row(page: Page, field: str) -> Locator:
    """The admin form row of one field: its label, box, help and errors."""
    return page.locator(f".form-row.field-{field}")


def test_admin_drafts_edits_tests_and_publishes_a_new_version(
    contexts, default_version, clinic_admin
):
    seed_demo_screenings()  # screenings on file, which the admin must never see evaluated
    published_name = str(default_version)
    page = contexts.new_page(DESKTOP)
    admin_log_in(page, clinic_admin.email)

    # A new draft from the published version.
    go_to(page, "Question set versions")
    assert version_statuses(page) == {default_version.number: "Published"}
    run_action(page, published_name, "Make a new draft from this version")
    draft_number = default_version.number + 1
    expect(messages_shown(page)).to_contain_text(f"Draft version {draft_number} created.")
    assert version_statuses(page) == {
        default_version.number: "Published",
        draft_number: "Draft",
    }

    # The draft's contraception question, found through the version filter.
    go_to(page, "Questions")
    filters = page.locator("#changelist-filter")
    with page.expect_navigation():
        filters.get_by_role("link", name=re.compile(rf"v{draft_number} \(Draft\)")).click()
    with page.expect_navigation():
        page.locator("#result_list").get_by_role("link", name="contraception", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Change question")

    page.get_by_label("Text:", exact=True).fill(NEW_TEXT)
    page.get_by_label("Show when:", exact=True).fill(INVALID_SHOW_WHEN)
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()

    # Refused: the message is beside the show-when box, and nothing typed is lost.
    expect(page.get_by_text("Please correct the error below.")).to_be_visible()
    error = field_row(page, "show_when").locator(".errorlist")
    expect(error).to_be_visible()
    expect(error).to_contain_text('Unknown value "maybe" for "pregnant"')
    show_when = page.get_by_label("Show when:", exact=True)
    expect(show_when).to_have_attribute("aria-invalid", "true")
    expect(show_when).to_have_accessible_description(re.compile(r'Unknown value "maybe"'))
    error_box, field_box = error.bounding_box(), show_when.bounding_box()
    gap = field_box["y"] - (error_box["y"] + error_box["height"])
    assert 0 <= gap < 40, f"The show-when error is {gap:.0f}px away from its box"
    expect(page.get_by_label("Text:", exact=True)).to_have_value(NEW_TEXT)
    expect(page.get_by_label("Show when:", exact=True)).to_have_value(INVALID_SHOW_WHEN)
    expect(field_row(page, "text").locator(".errorlist")).to_have_count(0)
    shoot_both_widths(page, "admin-01-show-when-error")

    page.get_by_label("Show when:", exact=True).fill(VALID_SHOW_WHEN)
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()
    expect(messages_shown(page)).to_contain_text("was changed successfully")
    expect(page.locator("#result_list")).to_contain_text(NEW_TEXT)

    # A test case of their own: a made-up patient with the flags it must raise. The first
    # attempt expects the wrong flag, so the panel fails and publishing is not offered.
    go_to(page, "Test panel cases")
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile(r"^Add test panel case")).click()
    draft_label = f"{default_version.question_set.name} v{draft_number} (Draft)"
    page.get_by_label("Version:").select_option(label=draft_label)
    page.get_by_label("Name:").fill(CASE_NAME)
    page.get_by_label("Answers:").fill('{"sex_at_birth": "male", "bp": "150/95", "heart_rate": 72}')
    page.get_by_label("Must raise:").fill("bp_uncontrolled")
    page.get_by_label("As of:").fill("2026-11-23")
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()
    expect(messages_shown(page)).to_contain_text("was added successfully")

    go_to(page, "Question set versions")
    draft_row = next(name for name in result_rows(page) if f"v{draft_number} (Draft)" in name)
    run_action(page, draft_row, "Publish this draft (runs its test panel first)")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Publish")
    review = page.locator("#content")
    expect(review).to_contain_text("1 of")
    failing = review.get_by_role("row", name=re.compile(re.escape(CASE_NAME)))
    expect(failing).to_contain_text("Fail")
    expect(failing).to_contain_text("Expected flag missing: bp_uncontrolled")
    expect(review).not_to_contain_text("screenings on file")
    expect(page.get_by_role("button", name=re.compile(r"^Yes, publish"))).to_have_count(0)
    shoot_both_widths(page, "admin-02-test-panel-fails")

    # The admin corrects the case: 150/95 is elevated, not uncontrolled.
    go_to(page, "Test panel cases")
    with page.expect_navigation():
        page.locator("#result_list").get_by_role("link", name=CASE_NAME).click()
    page.get_by_label("Must raise:").fill("bp_elevated")
    page.get_by_label("Must not raise:").fill("bp_uncontrolled, bp_crisis_range")
    with page.expect_navigation():
        page.get_by_role("button", name="Save", exact=True).click()

    go_to(page, "Question set versions")
    run_action(page, draft_row, "Publish this draft (runs its test panel first)")
    review = page.locator("#content")
    expect(review).to_contain_text(re.compile(r"All \d+ pass\."))
    expect(review).not_to_contain_text("screenings on file")
    # The question's new wording has no Spanish or UK English yet: publishing waits for it.
    expect(review).to_contain_text("Incomplete translations")
    expect(review).to_contain_text("question.contraception.text")
    expect(page.get_by_role("button", name=re.compile(r"^Yes, publish"))).to_have_count(0)
    shoot_both_widths(page, "admin-03-translations-incomplete")

    # The admin translates the new wording beside the source, one language at a time.
    for language, translation in (("Spanish", SPANISH_TEXT), ("UK English", NEW_TEXT)):
        with page.expect_navigation():
            review.get_by_role("link", name="translations page").click()
        with page.expect_navigation():
            page.get_by_role("link", name=re.compile(rf"^{re.escape(language)} \(")).click()
        with page.expect_navigation():
            page.get_by_role("link", name=re.compile(r"^Pregnancy")).click()
        box = page.get_by_label(f"{language}: question.contraception.text", exact=True)
        expect(box).to_be_visible()
        box.fill(translation)
        with page.expect_navigation():
            page.get_by_role("button", name="Save this part").click()
        expect(page.locator("#translation-problems")).to_have_count(0)
        expect(box).to_have_value(translation)
        if language == "Spanish":
            shoot_both_widths(page, "admin-04-translation-beside-source")
        go_to(page, "Question set versions")
        run_action(page, draft_row, "Publish this draft (runs its test panel first)")
        review = page.locator("#content")

    expect(review).to_contain_text(re.compile(r"All \d+ pass\."))
    expect(review).not_to_contain_text("Incomplete translations")
    shoot_both_widths(page, "admin-05-test-panel-passes")
    with page.expect_navigation():
        page.get_by_role("button", name=re.compile(r"^Yes, publish")).click()
    expect(messages_shown(page)).to_contain_text("is now published")
    assert version_statuses(page) == {
        default_version.number: "Retired",
        draft_number: "Published",
    }

    # The version now in use is read-only: a rule opens without a Save button.
    go_to(page, "Rules")
    with page.expect_navigation():
        page.locator("#changelist-filter").get_by_role(
            "link", name=re.compile(rf"v{draft_number} \(Published\)")
        ).click()
    with page.expect_navigation():
        page.locator("#result_list tbody").get_by_role(
            "link", name="bp_elevated", exact=True
        ).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("View rule")
    expect(page.get_by_role("button", name=re.compile(r"^Save"))).to_have_count(0)
    expect(page.get_by_role("textbox")).to_have_count(0)
    shoot_both_widths(page, "admin-06-published-rule-read-only")
