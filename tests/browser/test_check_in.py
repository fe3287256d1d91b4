"""A session check-in on a phone: the patient's home lists the upcoming sessions, she answers
the check-in page by page, and the home then says it was sent. Screenshots land in
screenshots/check-in-NN-<page>.png; every page is checked with axe."""

import re

import pytest
from playwright.sync_api import expect

from screening.models import Flag
from tests.check_in_helpers import COULD_BE_PREGNANT, make_cleared_course, make_session

from .conftest import PHONE, shoot
from .patient_steps import Answers, complete_page, heading, log_in, section_slug

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHECK_IN_ANSWERS = Answers(
    choices={
        r"new illness": "No",
        r"stayed in a hospital": "No",
        r"started any new medicine": "Yes",
        r"stopped taking": "No",
        r"Could you be pregnant": "No",
        r"In the last 24 hours": "No",
        r"When did you last eat": "More than 6 hours ago",
        r"When did you last drink": "More than 2 hours ago",
        r"wished you were dead": "No",
        r"thoughts of ending your own life": "No",
        r"tried to end your life": "No",
        r"take you home": "Yes",
    },
    medications={r"started": [("clarithromycin", "500 mg", "twice a day")]},
)


def test_a_patient_answers_her_check_in_on_a_phone(
    contexts, default_version, check_in_version, patient, physician, axe_audit
):
    course = make_cleared_course(patient=patient, physician=physician, baseline=COULD_BE_PREGNANT)
    session = make_session(course, hours_ahead=26)
    make_session(course, hours_ahead=24 * 4)

    page = contexts.new_page(PHONE)
    log_in(page, patient.email)
    page.goto("/screenings/")
    sessions = page.locator("#upcoming-sessions")
    expect(sessions).to_contain_text("Ketamine by drip (IV)")
    expect(sessions.get_by_role("button", name="Answer your check-in")).to_have_count(1)
    expect(sessions).to_contain_text("Check-in opens")
    shoot(page, "check-in-00-home-upcoming-sessions")
    axe_audit.check(page, "home with upcoming sessions")

    with page.expect_navigation():
        sessions.get_by_role("button", name="Answer your check-in").click()
    seen = []
    for number in range(1, 15):
        if page.url.endswith("/review/"):
            break
        expect(page.get_by_text(re.compile(r"^Check-in before your session on"))).to_be_visible()
        slug = section_slug(page)
        seen.append(slug)
        shoot(page, f"check-in-{number:02d}-{slug}")
        axe_audit.check(page, f"check-in page {slug}")
        complete_page(page, CHECK_IN_ANSWERS)
    assert "pregnancy" in seen and "mood" in seen and "safety" in seen
    assert len(seen) <= 9  # about two minutes on a phone

    shoot(page, "check-in-20-review")
    axe_audit.check(page, "check-in review")
    page.get_by_role("checkbox", name=re.compile(r"complete and true")).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Submit my answers").click()
    expect(heading(page)).to_have_text("Thank you, your check-in has been sent")
    shoot(page, "check-in-21-sent")
    axe_audit.check(page, "check-in sent")

    page.goto("/screenings/")
    expect(page.locator("#upcoming-sessions")).to_contain_text("Check-in sent")
    shoot(page, "check-in-22-home-after")
    axe_audit.check(page, "home after the check-in")
    session.refresh_from_db()
    codes = set(Flag.objects.filter(screening=session.check_in).values_list("code", flat=True))
    assert "cyp3a4_strong_inhibitor" in codes
    axe_audit.assert_clean()
