"""The course of symptoms in a real browser, on a phone (390 px) and a desktop (1280 px):
the physician's patient page and the patient's own "How you have been feeling" page, for a
patient with three questionnaires sent (PHQ-9 18, 12 and 8, item 9 positive on the second;
GAD-7 12 and 6). axe finds nothing serious on either. Screenshots: screenshots/course-*.png.
"""

import pytest
from playwright.sync_api import expect

from screening.models import PHYSICIAN_GROUP
from tests.conftest import make_user
from tests.factories import make_sent_questionnaire

from .conftest import DESKTOP, PHONE, SCREENSHOT_DIR, assert_accessible, shoot
from .patient_steps import heading, log_in
from .staff_steps import log_in_as_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def course_patient(default_version):
    patient = make_user("pat.course@example.com", "Pat Course")
    first = make_sent_questionnaire(patient=patient, phq9=18, gad7=12, days_ago=28)
    make_sent_questionnaire(patient=patient, phq9=12, item9=1, days_ago=17)
    make_sent_questionnaire(patient=patient, phq9=8, gad7=6, days_ago=3)
    return patient, first


@pytest.mark.parametrize(("device", "size"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_the_physician_reads_the_course_from_the_screening_page(
    contexts, course_patient, device, size
):
    patient, first = course_patient
    physician = make_user("doctor.course@example.com", "Dr Dana Physician", PHYSICIAN_GROUP)
    page = contexts.new_page(size)
    log_in_as_staff(page, physician.email)
    page.goto(f"/staff/screenings/{first.pk}/")
    page.get_by_role("link", name="Course of symptoms").click()
    expect(heading(page)).to_have_text("Pat Course")
    chart = page.get_by_role("img", name="PHQ-9 totals of Pat Course over time")
    expect(chart).to_be_visible()
    table = page.get_by_role("table", name="PHQ-9 totals, oldest first")
    expect(table.get_by_role("row")).to_have_count(4)
    expect(table).to_contain_text("Positive (1)")
    expect(
        page.get_by_role("listitem").filter(has_text="Response at the latest").first
    ).to_be_visible()
    expect(page.get_by_role("img", name="GAD-7 totals of Pat Course over time")).to_be_visible()
    shoot(page, f"course-physician-{device}")
    chart.screenshot(path=str(SCREENSHOT_DIR / f"course-physician-{device}-chart.png"))
    assert_accessible(page, f"physician's patient page ({device})")
    # On paper: the wide drawing, whatever the screen was.
    page.emulate_media(media="print")
    expect(chart).to_be_visible()
    expect(page.locator(".course-narrow").first).to_be_hidden()
    shoot(page, f"course-physician-{device}-print")


@pytest.mark.parametrize(("device", "size"), [("phone", PHONE), ("desktop", DESKTOP)])
def test_the_patient_reads_how_they_have_been_feeling(contexts, course_patient, device, size):
    patient, _ = course_patient
    page = contexts.new_page(size)
    log_in(page, patient.email)
    page.goto("/screenings/")
    page.get_by_role("link", name="How you have been feeling").click()
    expect(heading(page)).to_have_text("How you have been feeling")
    expect(
        page.get_by_role("paragraph").filter(
            has_text="Your depression questionnaire (PHQ-9) score was 18 at your first "
            "questionnaire and 8 at your latest: down by half or more."
        )
    ).to_be_visible()
    chart = page.get_by_role("img", name="Your depression questionnaire (PHQ-9) scores over time")
    expect(chart).to_be_visible()
    expect(page.get_by_role("link", name="988")).to_be_visible()
    shoot(page, f"course-patient-{device}")
    chart.screenshot(path=str(SCREENSHOT_DIR / f"course-patient-{device}-chart.png"))
    assert_accessible(page, f"patient's feeling page ({device})")


def test_the_patient_with_thoughts_of_self_harm_at_the_latest_is_pointed_to_help(
    contexts, course_patient
):
    patient, _ = course_patient
    make_sent_questionnaire(patient=patient, phq9=6, gad7=5, item9=1, days_ago=1)
    page = contexts.new_page(PHONE)
    log_in(page, patient.email)
    page.goto("/screenings/how-you-have-been-feeling/")
    note = page.locator("#latest-answers-note")
    expect(note).to_contain_text("Please talk to your clinic")
    expect(page.get_by_text("down by half or more")).to_have_count(0)
    note.get_by_role("link", name="Go to the crisis lines").click()
    expect(page.locator("#crisis-lines")).to_be_in_viewport()
    shoot(page, "course-patient-item9-phone")
    assert_accessible(page, "patient's feeling page, item 9 at the latest (phone)")
    page.context.close()
    # The physician reads the warning before the totals' statements.
    physician = make_user("doctor.item9@example.com", "Dr Dana Physician", PHYSICIAN_GROUP)
    page = contexts.new_page(DESKTOP)
    log_in_as_staff(page, physician.email)
    page.goto(f"/staff/patients/{patient.pk}/")
    expect(page.locator("#course-phq9_total-warning")).to_contain_text(
        "Item 9 positive at the latest questionnaire"
    )
    shoot(page, "course-physician-item9-desktop")
    assert_accessible(page, "physician's patient page, item 9 at the latest (desktop)")
