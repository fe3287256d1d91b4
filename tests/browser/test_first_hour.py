"""Issue 15: the README's picture, the queue on a phone, and one look for every login page.

The README's images are taken here, so they exist and show the app as it is: this test
writes docs/screenshots/ (committed), the others write screenshots/ like every browser test.
"""

import re

import pytest
from playwright.sync_api import expect

from screening.demo import seed_demo_screenings

from .conftest import DESKTOP, PHONE, REPO_ROOT, assert_accessible, shoot
from .patient_steps import heading, log_in
from .staff_steps import log_in_as_staff, queue_rows, queue_table

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

README_SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"


def test_the_readme_picture_of_the_first_page_on_a_phone(contexts, default_version, patient):
    page = contexts.new_page(PHONE)
    log_in(page, patient.email)
    with page.expect_navigation():
        page.get_by_role("button", name="Start the questionnaire").click()
    expect(heading(page)).to_have_text("About you")
    README_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # One phone screen, as a person sees it first (not the whole scrolled page).
    page.screenshot(path=str(README_SCREENSHOTS / "phone-about-you.png"))
    readme = (REPO_ROOT / "README.md").read_text()
    assert "](docs/screenshots/phone-about-you.png)" in readme


def overflows_sideways(page) -> bool:
    return page.evaluate(
        "() => [document.documentElement, ...document.querySelectorAll('.table-responsive')]"
        ".some(e => e.scrollWidth > e.clientWidth + 1)"
    )


def test_the_queue_on_a_phone_shows_every_column_without_a_sideways_scroll(
    contexts, default_version, physician
):
    assert seed_demo_screenings() == 5
    for device, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page = contexts.new_page(size)
        log_in_as_staff(page, physician.email)
        assert [level for level, _ in queue_rows(page)][0] == "Urgent"
        assert not overflows_sideways(page)
        width = size["viewport"]["width"]
        first = queue_table(page).locator("tbody tr").first
        cells = first.get_by_role("cell")
        expect(cells).to_have_count(5)
        for index in range(5):  # level, patient, submitted, flags, status
            box = cells.nth(index).bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, (device, index)
        if device == "phone":
            # One card per row: each column's name shown before its value (drawn by CSS,
            # so screen readers hear the column header once, not twice).
            shown = [
                cells.nth(index).evaluate("e => getComputedStyle(e, '::before').content")
                for index in (2, 3, 4)
            ]
            assert [re.sub(r'[\s"/]+', " ", s).strip() for s in shown] == [
                "Submitted:",
                "Flags:",
                "Status:",
            ], shown
        else:
            expect(queue_table(page).get_by_role("columnheader", name="Flags")).to_be_visible()
        shoot(page, f"first-hour-queue-{device}")
        assert_accessible(page, f"review queue ({device})")
        page.context.close()


def test_the_admin_login_looks_like_the_apps_login(contexts, live_server):
    for device, size in (("phone", PHONE), ("desktop", DESKTOP)):
        page = contexts.new_page(size)
        page.goto("/admin/login/?next=/admin/")
        expect(heading(page)).to_have_text("Log in")
        expect(page.get_by_label("Email address")).to_be_visible()
        expect(page.get_by_role("link", name="Forgot your password?")).to_be_visible()
        shoot(page, f"first-hour-admin-login-{device}")
        assert_accessible(page, f"admin login ({device})")
        page.goto("/login/")
        shoot(page, f"first-hour-app-login-{device}")
        page.context.close()
