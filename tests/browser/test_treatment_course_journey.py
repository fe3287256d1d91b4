"""A treatment course end to end in a real browser (issue 14): a cleared patient; a physician
starts the course and books two sessions on the staff pages; the patient, on a phone, sees
them on her home page and sends a clean check-in for the first; the nurse records the
pre-dose vitals (then "Ready to dose"), the dose, the post-dose reading and the discharge.
For the second session the check-in reports clarithromycin: the session waits for a
physician, the nurse cannot clear it, the physician acknowledges the flag from the session
page. Both PHQ-9 totals of the check-ins then show beside the intake's on the physician's
patient page and, in words, on the patient's "How you have been feeling" page.
Screenshots land in screenshots/course-journey-*.png; axe checks the session and check-in
pages.
"""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from screening.models import TreatmentSession
from tests.conftest import make_user
from tests.factories import make_sent_questionnaire
from tests.session_helpers import clear

from .conftest import DESKTOP, PHONE, shoot
from .patient_steps import Answers, complete_page, heading, log_in
from .staff_steps import log_in_as_staff, table_rows

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PATIENT = "Carla Course"
PATIENT_EMAIL = "carla.course@example.com"
INTAKE_PHQ9 = 16
CHECK_IN_BUTTON = re.compile(r"^(Answer|Continue) your check-in$")
CLARITHROMYCIN_FLAG = re.compile(r"clarithromycin|CYP3A4", re.IGNORECASE)

# A clean check-in: nothing new, PHQ-9 answered "Not at all" throughout (the first choice,
# total 0, lower than the intake's 16), and someone takes her home.
CLEAN = Answers(
    choices={
        r"new illness": "No",
        r"stayed in a hospital": "No",
        r"started any new medicine": "No",
        r"stopped taking": "No",
        r"In the last 24 hours": "No",
        r"When did you last eat": "More than 6 hours ago",
        r"When did you last drink": "More than 2 hours ago",
        r"wished you were dead": "No",
        r"thoughts of ending your own life": "No",
        r"tried to end your life": "No",
        r"take you home": "Yes",
    },
    typed={r"Who will take you home|name": "Sam Course"},
)
# The second check-in: the same, but she has started clarithromycin (a strong CYP3A4
# inhibitor) and one PHQ-9 answer is "Several days" (total 1).
NEW_MEDICINE = Answers(
    choices={
        **CLEAN.choices,
        r"started any new medicine": "Yes",
        r"Little interest or pleasure": "Several days",
    },
    typed=CLEAN.typed,
    medications={r"started": [("clarithromycin", "500 mg", "twice a day")]},
)


@pytest.fixture
def cleared_patient(default_version, check_in_version, physician):
    """An intake sent two weeks ago with a PHQ-9 total of 16, cleared by the physician."""
    patient = make_user(PATIENT_EMAIL, PATIENT)
    intake = make_sent_questionnaire(patient=patient, phq9=INTAKE_PHQ9, days_ago=14)
    clear(intake, physician)
    return patient


def start_course_and_book(page: Page, times: list[tuple[int, str]]) -> list[str]:
    """On the staff pages: start an IV ketamine course and book a session at each of the
    (days from today, time); return the session pages' paths in booking order."""
    page.goto("/staff/sessions/courses/new/")
    expect(heading(page)).to_have_text("Start a treatment course")
    page.get_by_role("combobox", name=re.compile(r"^Patient")).select_option(
        label=f"{PATIENT} ({PATIENT_EMAIL})"
    )
    page.get_by_role("radio", name="Ketamine, intravenous infusion").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Start the course").click()
    expect(heading(page)).to_contain_text(PATIENT)
    for days, time in times:
        booking = page.get_by_role("region", name="Book a session")
        booking.get_by_label("Date").fill((timezone.localdate() + timedelta(days=days)).isoformat())
        booking.get_by_label("Time").fill(time)
        with page.expect_navigation():
            booking.get_by_role("button", name="Book the session").click()
    table = page.get_by_role("table")
    expect(table.locator("tbody tr")).to_have_count(len(times))
    # Both are within the check-in window: the invitations went out at once.
    expect(table).to_contain_text("The patient was invited to answer the check-in")
    shoot(page, "course-journey-02-course-booked")
    links = table.get_by_role("link", name=PATIENT).evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    return links


def send_check_in(page: Page, answers: Answers) -> None:
    """From the home page: open the first check-in offered, answer every page, send it."""
    page.goto("/screenings/")
    sessions = page.locator("#upcoming-sessions")
    with page.expect_navigation():
        sessions.get_by_role("button", name=CHECK_IN_BUTTON).first.click()
    for _ in range(15):
        if page.url.endswith("/review/"):
            break
        complete_page(page, answers)
    page.get_by_role("checkbox", name=re.compile(r"complete and true")).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Submit my answers").click()
    expect(heading(page)).to_have_text("Thank you, your check-in has been sent")


def on_the_day(session_url: str) -> None:
    """Set the clock to the session's day: its time becomes now (the nurse records vitals and
    the dose only on the session's own local day)."""
    session_id = session_url.rstrip("/").rsplit("/", 1)[-1]
    TreatmentSession.objects.filter(pk=session_id).update(scheduled_for=timezone.now())


def readiness(page: Page):
    return page.locator("#readiness")


def status_badge(page: Page):
    """The session's one status, in the badge after "Ready to dose?"."""
    return page.locator("#readiness-heading .readiness")


def record_reading(page: Page, section: str, bp: tuple[int, int], heart_rate: int) -> None:
    part = page.locator(section)
    if not part.locator("details").evaluate("d => d.open"):
        part.locator("summary").click()
    part.get_by_label("Top number (systolic)").fill(str(bp[0]))
    part.get_by_label("Bottom number (diastolic)").fill(str(bp[1]))
    part.get_by_label("Heart rate (beats per minute)").fill(str(heart_rate))
    with page.expect_navigation():
        part.get_by_role("button", name="Save the reading").click()


def test_a_course_from_booking_to_discharge_and_a_held_second_session(
    contexts, cleared_patient, physician, nurse, settings, axe_audit
):
    # The observation period after the dose is 2 hours in the clinic, with readings due at
    # 40 and 120 minutes; the test discharges straight after one post-dose reading, so the
    # period is nothing and the one reading is due at once.
    settings.OBSERVATION_MINUTES = 0
    settings.POST_DOSE_READING_MINUTES = (0,)
    # Sessions tomorrow and the day after: at any hour of the day both check-ins are open.
    settings.CHECK_IN_OPENS_HOURS_BEFORE = 72

    # The physician starts the course and books two sessions, tomorrow at 08:00 and the day
    # after at 16:00 (one session a day; both check-ins open).
    doctor = contexts.new_page(DESKTOP)
    log_in_as_staff(doctor, physician.email)
    first, second = start_course_and_book(doctor, [(1, "08:00"), (2, "16:00")])

    # The patient, on her phone, sees both sessions and answers the first check-in.
    phone = contexts.new_page(PHONE)
    log_in(phone, PATIENT_EMAIL)
    phone.goto("/screenings/")
    upcoming = phone.locator("#upcoming-sessions")
    expect(upcoming.get_by_role("button", name="Answer your check-in")).to_have_count(2)
    shoot(phone, "course-journey-03-patient-home")
    with phone.expect_navigation():
        upcoming.get_by_role("button", name="Answer your check-in").first.click()
    axe_audit.check(phone, "check-in, first page")
    shoot(phone, "course-journey-04-check-in-first-page")
    phone.goto("/screenings/")
    send_check_in(phone, CLEAN)
    phone.goto("/screenings/")
    expect(upcoming).to_contain_text("Check-in sent")

    # The visit day comes (vitals and the dose are recorded only on the session's own day):
    # the first session is now.
    on_the_day(first)

    # The nurse: not ready until the pre-dose vitals are in, then ready; dose, after, home.
    ward = contexts.new_page(DESKTOP)
    log_in_as_staff(ward, nurse.email, lands_on="Treatment sessions")
    ward.goto(first)
    expect(status_badge(ward)).to_have_text("On hold")
    expect(readiness(ward)).to_contain_text("Pre-dose blood pressure not recorded yet.")
    expect(ward.locator("#home-heading + dl")).to_contain_text("Sam Course")
    shoot(ward, "course-journey-05-session-before-vitals")
    record_reading(ward, "#before-dose", (128, 82), 74)
    expect(status_badge(ward)).to_have_text("Ready to dose")
    expect(readiness(ward).locator(".readiness-reasons")).to_have_count(0)
    axe_audit.check(ward, "session page, ready to dose")
    shoot(ward, "course-journey-06-session-ready")
    ward.get_by_label("Dose given at").fill(timezone.localtime().strftime("%H:%M"))
    with ward.expect_navigation():
        ward.get_by_role("button", name="Record the dose as given").click()
    expect(ward.locator("#dose")).to_contain_text("Given at")
    record_reading(ward, "#after-dose", (134, 84), 80)
    expect(ward.get_by_role("region", name="Readings after the dose")).to_contain_text("134/84")
    discharge = ward.locator("#discharge")
    for criterion in ("Alert and oriented", "Walks unaided", "Escort present"):
        discharge.get_by_role("checkbox", name=criterion).check()
    with ward.expect_navigation():
        discharge.get_by_role("button", name="Record the discharge").click()
    expect(discharge).to_contain_text("Discharged")
    expect(status_badge(ward)).to_have_text("Discharged")
    shoot(ward, "course-journey-07-session-discharged")

    # The second check-in reports clarithromycin: the session waits for a physician.
    send_check_in(phone, NEW_MEDICINE)
    shoot(phone, "course-journey-08-second-check-in-sent")
    on_the_day(second)  # the second visit's day: the session is now
    ward.goto(second)
    record_reading(ward, "#before-dose", (126, 80), 72)
    panel = readiness(ward)
    expect(status_badge(ward)).to_have_text(re.compile("^(Needs physician review|On hold)$"))
    expect(panel.locator(".readiness-reasons")).to_contain_text(CLARITHROMYCIN_FLAG)
    flags = ward.locator("#check-in-flags")
    expect(flags.get_by_role("button", name=re.compile(r"^Acknowledge"))).to_have_count(0)
    expect(flags).to_contain_text("Waiting for a physician to acknowledge it.")
    axe_audit.check(ward, "session page, held for the physician (nurse)")
    shoot(ward, "course-journey-09-session-held-nurse")

    doctor.goto(second)
    expect(status_badge(doctor)).not_to_have_text("Ready to dose")
    for button in (
        doctor.locator("#check-in-flags")
        .get_by_role("button", name=re.compile(r"^Acknowledge"))
        .all()
    ):
        with doctor.expect_navigation():
            button.click()
    expect(doctor.locator("#check-in-flags")).to_contain_text("Acknowledged by Dr Dana Physician")
    expect(status_badge(doctor)).to_have_text("Ready to dose")
    axe_audit.check(doctor, "session page, acknowledged (physician)")
    shoot(doctor, "course-journey-10-session-acknowledged")

    # The chart: the intake's 16 and the check-ins' 0 and 1, in the table and in words.
    doctor.goto(f"/staff/patients/{cleared_patient.pk}/")
    table = doctor.get_by_role("table", name="PHQ-9 totals, oldest first")
    totals = [row.get("PHQ-9 total", "") for row in table_rows(table)]
    assert len(totals) == 3, table_rows(table)
    assert [t.split()[0] for t in totals] == [str(INTAKE_PHQ9), "0", "1"], totals
    listed = doctor.get_by_role("listitem").filter(has_text="Session check-in")
    expect(listed).to_have_count(2)
    for item in listed.all():
        expect(item.get_by_role("link", name=re.compile(r"^for the session of "))).to_be_visible()
    shoot(doctor, "course-journey-11-patient-chart")
    phone.goto("/screenings/")
    with phone.expect_navigation():
        phone.get_by_role("link", name="How you have been feeling").click()
    expect(
        phone.get_by_role("paragraph").filter(
            has_text=re.compile(rf"score was {INTAKE_PHQ9} at your first questionnaire and 1 at")
        )
    ).to_be_visible()
    shoot(phone, "course-journey-12-patient-feeling")
    phone.goto("/screenings/")
    shoot(phone, "course-journey-13-patient-home-after")
    axe_audit.assert_clean()
