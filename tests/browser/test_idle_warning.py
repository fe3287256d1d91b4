"""The idle warning in a real browser (screening/static/screening/idle.js), with the patient
idle limit cut to a few seconds for the live server: the warning comes, takes the focus and
"Stay signed in" keeps the session; left alone, the page keeps what was typed, the patient
is signed out, and after signing in again finds it on the page.

Screenshots (phone 390 px and desktop 1280 px) of the warning and the restored page land in
screenshots/ (git-ignored)."""

import re

import pytest
from playwright.sync_api import expect

from screening.models import PageDraft
from screening.services.intake import start_screening
from tests.conftest import PASSWORD

from .conftest import DESKTOP, PHONE, assert_accessible, shoot
from .patient_steps import log_in

pytestmark = pytest.mark.django_db(transaction=True)

# A limit this short brings the warning 10 s after a page opens (half the limit, as the
# two minutes do not fit) and ends the session 20 s after the last activity.
LIMIT_SECONDS = 20
TYPED = "Zora Quill, my sister"


@pytest.fixture
def short_limit(settings):
    settings.PATIENT_IDLE_TIMEOUT_SECONDS = LIMIT_SECONDS


def care_team_url(screening) -> str:
    return f"/screenings/{screening.pk}/page/care_team/"


def contact_box(page):
    return page.get_by_role("textbox", name=re.compile(r"Who should we contact in an emergency"))


def shoot_both(page, name: str) -> None:
    shoot(page, f"{name}-390")
    page.set_viewport_size(DESKTOP["viewport"])
    shoot(page, f"{name}-1280")
    page.set_viewport_size(PHONE["viewport"])


def test_the_warning_comes_takes_the_focus_and_stay_signed_in_keeps_the_session(
    contexts, default_version, patient, short_limit
):
    screening = start_screening(patient=patient)
    page = contexts.new_page(PHONE)
    log_in(page, patient.email)
    page.goto(care_team_url(screening))
    warning = page.get_by_role("alertdialog", name="Are you still there?")
    expect(warning).to_be_hidden()

    expect(warning).to_be_visible(timeout=(LIMIT_SECONDS + 5) * 1000)
    stay = warning.get_by_role("button", name="Stay signed in")
    expect(stay).to_be_focused()
    expect(warning).to_contain_text("For your privacy, you will be signed out in")
    expect(warning).to_contain_text("What you have typed on this page will be kept")
    assert_accessible(page, "the idle warning (phone)")
    shoot_both(page, "idle-warning")

    page.keyboard.press("Enter")
    expect(warning).to_be_hidden()
    # Past the moment the session would have ended: still signed in, on the same page.
    page.wait_for_timeout((LIMIT_SECONDS // 2 + 3) * 1000)
    assert page.url.endswith(care_team_url(screening))
    page.reload()
    assert page.url.endswith(care_team_url(screening)), page.url
    expect(page.get_by_role("heading", level=1)).to_be_visible()


def test_left_alone_the_page_keeps_what_was_typed_for_after_signing_in_again(
    contexts, default_version, patient, short_limit
):
    screening = start_screening(patient=patient)
    page = contexts.new_page(PHONE)
    log_in(page, patient.email)
    page.goto(care_team_url(screening))
    contact_box(page).fill(TYPED)

    # Nobody answers the warning: the page keeps the draft and goes to the login page.
    expect(page.get_by_role("alertdialog")).to_be_visible(timeout=(LIMIT_SECONDS + 5) * 1000)
    page.wait_for_url(re.compile(r"/login/\?next="), timeout=(LIMIT_SECONDS + 10) * 1000)
    expect(page.get_by_role("status")).to_contain_text("logged out after a period of inactivity")
    draft = PageDraft.objects.get(screening=screening, section_code="care_team")
    assert any(TYPED in values for values in draft.values.values())
    assert not screening.answers.exists()  # kept, not saved

    page.get_by_label("Email address").fill(patient.email)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in", exact=True).click()
    assert page.url.endswith(care_team_url(screening)), page.url
    expect(contact_box(page)).to_have_value(TYPED)
    expect(page.get_by_role("status").filter(has_text="We kept what you typed")).to_have_text(
        "We kept what you typed before you were signed out. Check it and press Save."
    )
    assert_accessible(page, "the page restored from its draft (phone)")
    shoot_both(page, "idle-draft-restored")


def test_left_alone_after_a_refused_save_the_page_keeps_what_was_typed(
    contexts, default_version, patient, short_limit
):
    """A page that came back with errors shows typing that is saved nowhere: left alone,
    it is kept as the page's draft like typing done since the page was drawn."""
    screening = start_screening(patient=patient)
    page = contexts.new_page(PHONE)
    log_in(page, patient.email)
    page.goto(care_team_url(screening))
    contact_box(page).fill(TYPED)
    with page.expect_navigation():
        page.get_by_role("button", name="Save and continue").click()
    expect(page.locator("#error-summary")).to_be_visible()  # the yes/no questions unanswered

    expect(page.get_by_role("alertdialog")).to_be_visible(timeout=(LIMIT_SECONDS + 5) * 1000)
    page.wait_for_url(re.compile(r"/login/\?next="), timeout=(LIMIT_SECONDS + 10) * 1000)
    draft = PageDraft.objects.get(screening=screening, section_code="care_team")
    assert any(TYPED in values for values in draft.values.values())
    assert not screening.answers.exists()
