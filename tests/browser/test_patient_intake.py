"""A patient's intake in a real browser: what they see, type, tick and read.

The journey answers pages by looking at them (see patient_steps.py), so it follows the
content file as it changes. Screenshots land in screenshots/ (git-ignored) for people to
look at: phone-NN-<page>.png from the phone journey, desktop-NN-<page>.png from the
desktop walk-through.
"""

import re

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from screening.selectors import visibility_for
from screening.services.intake import start_screening
from tests.conftest import PASSWORD
from tests.intake_helpers import fill_intake
from tests.test_intake_wizard import fill_intake_until

from .conftest import DESKTOP, PHONE, assert_accessible, shoot
from .patient_steps import (
    Answers,
    answer_visible_questions,
    complete_page,
    error_summary,
    heading,
    log_in,
    main_form,
    save,
    section_slug,
    settled,
)
from .staff_steps import (
    DECISION_SIGNED,
    acknowledge_every_flag,
    decide,
    filter_queue,
    flag_titles,
    invite_patient,
    log_in_as_staff,
    open_from_queue,
    status_messages,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ABOUT_YOU = Answers(
    choices={r"sex were you assigned at birth": "Female"},
    typed={r"date of birth": "1980-05-17", r"How tall": "168", r"How much do you weigh": "70"},
)
MEDICATIONS = [("Biaxin", "500 mg", "twice a day"), ("Xanax", "0.5 mg", "")]
# The phone journey's patient uses US units, and names her care team, contact and escort.
PATIENT_ANSWERS = Answers(
    choices={
        **ABOUT_YOU.choices,
        r"blood pressure under control": "No, my readings are often high",
        r"Did it help": "It helped a little",
    },
    ticks={
        r"^Have you ever had any of these\?": [
            "High blood pressure (hypertension), treated or not"
        ],
        r"^Do you get any of these\?": ["Fainting, or feeling that you are about to faint"],
        r"^What do you want treatment for\?": ["Depression", "Anxiety"],
    },
    typed={
        r"date of birth": "1980-05-17",
        r"\bFeet\b": "5",
        r"\bInches\b": "7",
        r"\bPounds\b": "180",
        r"What is their name, and where do they work": "Dr Rivera, Elm Street Clinic",
        r"Who should we contact in an emergency": "Sam Lee, my sister",
        r"phone number": "555 201 4479",
        r"Who will take you home": "Sam Lee",
    },
    medications={r"\bmedicines\b": MEDICATIONS},
)
PROGRESS = re.compile(r"^Section (\d+) of (\d+)$")
SYSTOLIC = "Top number (systolic)"
DIASTOLIC = "Bottom number (diastolic)"
CONFIRMATION = re.compile(r"your answers have been sent", re.IGNORECASE)
CONSENT_ERROR = "Please check this box to confirm before you submit."


def start_questionnaire(page: Page) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Start the questionnaire").click()


def progress_number(page: Page) -> int:
    progress = page.get_by_text(PROGRESS)
    expect(progress).to_be_visible()
    return int(PROGRESS.match(progress.inner_text().strip()).group(1))


def lists_medicines(page: Page) -> bool:
    """Whether this page has the medication list the journey types medicines into."""
    return (
        main_form(page).get_by_role("textbox", name=re.compile(r"\bmedicines\b", re.I)).count() > 0
    )


def is_vitals_page(page: Page) -> bool:
    return main_form(page).get_by_label(SYSTOLIC).count() > 0


def asks_for_weight(page: Page) -> bool:
    return main_form(page).get_by_label("Pounds", exact=True).count() > 0


def try_pounds_in_the_kilograms_box_then_move_them(
    page: Page, shot_name: str, axe_audit, problems: list[str]
) -> None:
    """180 typed into the kilograms box at 5 ft 7 in: the page asks before it can raise a
    false "BMI 40 or more", keeps what was typed, and takes the number in the pounds box."""
    kilograms = page.get_by_label("Kilograms", exact=True)
    pounds = page.get_by_label("Pounds", exact=True)
    answer_visible_questions(
        page,
        Answers(
            choices=PATIENT_ANSWERS.choices,
            ticks=PATIENT_ANSWERS.ticks,
            typed={**PATIENT_ANSWERS.typed, r"\bPounds\b": "", r"Kilograms": "180"},
        ),
    )
    expect(kilograms).to_have_value("180")
    save(page)

    expect(error_summary(page)).to_be_visible()
    expect(kilograms).to_have_value("180")
    expect(page.get_by_label("Feet", exact=True)).to_have_value("5")
    expect(kilograms).to_have_attribute("aria-invalid", "true")
    check = re.compile(r"Please check your weight\. 180 kg is about 397 lb\.")
    expect(kilograms).to_have_accessible_description(check)
    confirm = page.get_by_role("checkbox", name="Yes, I weigh 180 kg")
    expect(confirm).not_to_be_checked()
    shoot(page, f"{shot_name}-weight-check")
    axe_audit.check(page, "about you, asking to check a weight typed in kilograms")
    message = main_form(page).get_by_text(check)
    try:
        expect(message).to_be_visible(timeout=2_000)
        boxes = kilograms.bounding_box()
        gap = message.bounding_box()["y"] - (boxes["y"] + boxes["height"])
        assert gap < 160, f"it is {gap:.0f}px below the weight boxes"
    except AssertionError as problem:
        problems.append(
            "Weight 180 kg at 5 ft 7 in: the check is not shown beside the weight boxes: "
            f"{str(problem).splitlines()[0]}"
        )

    kilograms.fill("")
    pounds.fill("180")


def try_implausible_blood_pressure_then_correct_it(
    page: Page, shot_name: str, axe_audit, problems: list[str]
) -> None:
    """A typo'd reading is refused beside the boxes, kept as typed, and can be corrected."""
    systolic = page.get_by_label(SYSTOLIC)
    diastolic = page.get_by_label(DIASTOLIC)
    systolic.fill("400")
    diastolic.fill("20")
    answer_visible_questions(page)
    save(page)

    expect(error_summary(page)).to_be_visible()
    expect(systolic).to_have_value("400")
    expect(diastolic).to_have_value("20")
    expect(systolic).to_have_attribute("aria-invalid", "true")
    range_message = re.compile(r"top number \(systolic\) must be .*between 60 and 260", re.I)
    # Screen readers hear the message with the box ...
    expect(systolic).to_have_accessible_description(range_message)
    shoot(page, f"{shot_name}-error")
    axe_audit.check(page, "blood pressure page showing the range error")
    # ... and sighted patients see it beside the boxes, not only in the summary at the top.
    # Checked softly: the journey goes on and the test fails at the end if it is not.
    message = main_form(page).get_by_text(range_message)
    try:
        expect(message).to_be_visible(timeout=2_000)
        boxes = systolic.bounding_box()
        shown = message.bounding_box()
        gap = shown["y"] - (boxes["y"] + boxes["height"])
        assert gap < 120, f"it is {gap:.0f}px below the blood pressure boxes"
    except AssertionError as problem:
        problems.append(
            "Blood pressure 400/20: the range message is not shown beside the boxes "
            f"(only the summary at the top is visible): {str(problem).splitlines()[0]}"
        )

    systolic.fill("128")
    diastolic.fill("82")


def test_invited_patient_answers_every_page_on_a_phone_resumes_submits_and_is_reviewed(
    contexts, default_version, physician, axe_audit
):
    """The whole journey: a physician invites a new patient; the patient accepts the emailed
    link on a phone, answers every page, stops half-way and resumes, reviews and submits;
    the physician finds that screening in the queue, acknowledges its flags and decides."""
    new_patient = ("Pia Journey", "pia.journey@example.com")
    staff_page = contexts.new_page(DESKTOP)
    log_in_as_staff(staff_page, physician.email)
    invitation_link = invite_patient(staff_page, *new_patient)

    page = contexts.new_page(PHONE)
    page.goto(invitation_link)
    expect(heading(page)).to_contain_text("Welcome")
    axe_audit.check(page, "invitation page")
    shoot(page, "phone-00-invitation")
    page.get_by_label("Choose a password").fill(PASSWORD)
    page.get_by_label("Type the password again").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Create my account").click()
    start_questionnaire(page)

    problems: list[str] = []  # what a patient would stumble on; reported together at the end
    resumed = False
    number = 0
    while "/review/" not in page.url:
        number += 1
        assert number <= 30, f"The wizard never reached the review page (last: {page.url})"
        assert progress_number(page) == number
        title = heading(page).inner_text().strip()
        shot_name = f"phone-{number:02d}-{section_slug(page)}"
        shoot(page, shot_name)
        axe_audit.check(page, title)

        def after_follow_up(page, shot_name=shot_name, title=title):
            shoot(page, f"{shot_name}-follow-up")
            axe_audit.check(page, f"{title} (with follow-up questions)")

        if is_vitals_page(page):
            vitals_title = title
            try_implausible_blood_pressure_then_correct_it(page, shot_name, axe_audit, problems)
        if asks_for_weight(page):
            about_you_title = title
            try_pounds_in_the_kilograms_box_then_move_them(page, shot_name, axe_audit, problems)
        medicines_page = lists_medicines(page)
        if medicines_page:
            answer_visible_questions(page, PATIENT_ANSWERS)
            shoot(page, f"{shot_name}-typed")
        complete_page(page, PATIENT_ANSWERS, on_follow_up=after_follow_up)

        if medicines_page and not resumed:
            # Stop half-way: close the browser, come back later, log in again.
            resumed = True
            medicines_title = title
            next_title = heading(page).inner_text().strip()
            assert next_title != medicines_title
            page.context.close()
            page = contexts.new_page(PHONE)
            page.goto("/login/")
            expect(heading(page)).to_have_text("Log in")
            axe_audit.check(page, "login page")
            shoot(page, "phone-00-login")
            log_in(page, new_patient[1])
            with page.expect_navigation():
                page.get_by_role("link", name="Continue your questionnaire").click()
            expect(heading(page)).to_have_text(next_title)
            assert progress_number(page) == number + 1

    assert resumed, "The journey never met a medication list to type medicines into"
    expect(heading(page)).to_have_text("Check your answers")
    shoot(page, "phone-90-review")
    axe_audit.check(page, "review page")

    medicines = page.get_by_role("region", name=medicines_title)
    for text in ("Biaxin", "500 mg", "twice a day", "Xanax", "0.5 mg"):
        expect(medicines).to_contain_text(text)
    expect(page.get_by_role("region", name=vitals_title)).to_contain_text("128/82")
    about_you = page.get_by_role("region", name=about_you_title)
    expect(about_you).to_contain_text("5 ft 7 in (170.2 cm)")
    expect(about_you).to_contain_text("180 lb (81.6 kg)")
    for text in ("Dr Rivera, Elm Street Clinic", "Sam Lee, my sister", "555 201 4479"):
        expect(page.get_by_role("main")).to_contain_text(text)

    submit = page.get_by_role("button", name="Submit my answers")
    with page.expect_navigation():
        submit.click()
    expect(page.get_by_text(CONSENT_ERROR)).to_be_visible()
    consent = page.get_by_role("checkbox", name=re.compile(r"my answers are complete and true"))
    expect(consent).to_have_attribute("aria-invalid", "true")
    shoot(page, "phone-91-review-consent-error")
    axe_audit.check(page, "review page with the consent error")

    consent.check()
    with page.expect_navigation():
        submit.click()
    expect(heading(page)).to_have_text(CONFIRMATION)
    shoot(page, "phone-92-submitted")
    axe_audit.check(page, "confirmation page")

    # The physician who sent the invitation finds this screening and decides it.
    staff_page.goto("/staff/queue/")
    filter_queue(staff_page, search="Pia")
    open_from_queue(staff_page, new_patient[0])
    expect(heading(staff_page)).to_have_text(f"Screening of {new_patient[0]}")
    titles = flag_titles(staff_page)
    for expected_flag in (
        "Strong CYP3A4 inhibitor",
        "Benzodiazepine",
        "High blood pressure, not under control",
        "Chest pain, palpitations or fainting",
    ):
        assert any(expected_flag in title for title in titles), titles
    axe_audit.check(staff_page, "physician: the journey's screening")
    acknowledge_every_flag(staff_page)
    decide(
        staff_page,
        "Not a candidate",
        {"Reason": "A contraindication on screening; discussed with the patient by phone."},
    )
    expect(status_messages(staff_page)).to_have_text(DECISION_SIGNED)
    shoot(staff_page, "staff-07-journey-screening-decided")

    if axe_audit.problems:
        problems.append(axe_audit.report())
    assert not problems, "\n\n".join(problems)


def test_each_page_at_desktop_width(contexts, default_version, patient, axe_audit):
    """A lighter walk through every page at desktop width, for screenshots.

    The answers are filled in beforehand over HTTP; in the browser the patient only
    changes the stressful-experiences answer to Yes, which brings up the PCL-5 questions.
    """
    screening = start_screening(patient=patient)
    client = Client()
    client.force_login(patient)
    fill_intake(client, screening, {"trauma_exposure": "no"})
    sections = visibility_for(screening).sections

    page = contexts.new_page(DESKTOP)
    page.goto("/login/")
    shoot(page, "desktop-00-login")
    log_in(page, patient.email)

    for number, section in enumerate(sections, start=1):
        page.goto(f"/screenings/{screening.pk}/page/{section.code}/")
        expect(heading(page)).to_have_text(section.title)
        shot_name = f"desktop-{number:02d}-{section.code}"
        shoot(page, shot_name)
        if section.code == "stressful_experiences":
            first_question = main_form(page).get_by_role("group").first
            first_question.get_by_role("radio", name="Yes", exact=True).check()
            # The PCL-5 appears in place, without a reload.
            settled(page)
            expect(page.get_by_text("New questions", exact=True)).to_be_visible()
            shoot(page, f"{shot_name}-after-yes")
            axe_audit.check(page, f"{section.title} with follow-up questions (desktop)")
            complete_page(page)

    page.goto(f"/screenings/{screening.pk}/review/")
    expect(heading(page)).to_have_text("Check your answers")
    shoot(page, "desktop-90-review")
    page.get_by_role("checkbox", name=re.compile(r"my answers are complete and true")).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Submit my answers").click()
    expect(heading(page)).to_have_text(CONFIRMATION)
    shoot(page, "desktop-92-submitted")
    axe_audit.assert_clean()


def focused(page: Page) -> dict:
    return page.evaluate(
        "() => { const e = document.activeElement; return {tag: e.tagName.toLowerCase(),"
        " type: e.type || '', label: e.labels ? [...e.labels].map(l => l.textContent).join(' ') : '',"
        " text: e.textContent.trim().slice(0, 80)}; }"
    )


def tab_to(page: Page, label: str, max_presses: int = 25) -> None:
    """Press Tab until the control labelled `label` has the focus."""
    for _ in range(max_presses):
        page.keyboard.press("Tab")
        if label.lower() in focused(page)["label"].lower():
            return
    raise AssertionError(f"Tab never reached {label!r}; focus is on {focused(page)}")


def test_about_you_page_with_the_keyboard_only(contexts, default_version, patient):
    page = contexts.new_page(DESKTOP)
    log_in(page, patient.email)
    start_questionnaire(page)
    about_you = heading(page).inner_text().strip()
    assert progress_number(page) == 1

    keyboard = page.keyboard
    tab_to(page, "date of birth")
    keyboard.type("05171980")  # the en-US date box: month, day, year
    tab_to(page, "Female", max_presses=3)
    keyboard.press("Space")
    tab_to(page, "How tall", max_presses=3)
    keyboard.type("168")
    tab_to(page, "How much do you weigh", max_presses=3)
    keyboard.type("70")
    with page.expect_navigation():
        keyboard.press("Enter")

    expect(error_summary(page)).to_have_count(0)
    expect(heading(page)).not_to_have_text(about_you)
    assert progress_number(page) == 2
    # What was typed was kept: going back shows it.
    with page.expect_navigation():
        page.get_by_role("link", name=f"Back to {about_you}").click()
    expect(page.get_by_label("What is your date of birth?")).to_have_value("1980-05-17")
    expect(page.get_by_role("radio", name="Female")).to_be_checked()
    expect(page.get_by_label("How tall are you?")).to_have_value(re.compile(r"^168(\.0+)?$"))


def open_pregnancy_page(contexts, device, patient, **extra) -> Page:
    """A patient who answered the pages before it, on the pregnancy page."""
    screening = start_screening(patient=patient)
    client = Client()
    client.force_login(patient)
    fill_intake_until(client, screening, "pregnancy")
    page = contexts.new_page(device, **extra)
    log_in(page, patient.email)
    page.goto(f"/screenings/{screening.pk}/page/pregnancy/")
    expect(heading(page)).to_have_text("Pregnancy and breastfeeding")
    return page


@pytest.mark.parametrize(("device", "name"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_a_follow_up_appears_in_place_with_javascript(
    contexts, default_version, patient, device, name
):
    """Yes to "could you become pregnant" shows "pregnant now" on the same page, at once:
    no reload, marked new, announced, and the focus stays on the answer just given."""
    page = open_pregnancy_page(contexts, device, patient)
    url = page.url
    page.evaluate("() => { window.stillThisPage = true; }")  # a reload would forget it
    follow_up = page.get_by_role("group", name=re.compile(r"pregnant now", re.I))
    expect(follow_up).to_have_count(0)
    yes = page.get_by_role("group", name=re.compile(r"become pregnant", re.I)).get_by_role(
        "radio", name="Yes"
    )
    yes.check()
    expect(follow_up).to_be_visible()
    settled(page)
    assert page.url == url and page.evaluate("() => window.stillThisPage === true")
    expect(page.get_by_text("New question", exact=True).first).to_be_visible()
    expect(page.locator("[data-follow-up-status]")).to_contain_text("pregnant now")
    assert page.evaluate("() => document.activeElement.labels[0].textContent.trim()") == "Yes"
    follow_up.scroll_into_view_if_needed()
    shoot(page, f"{name}-follow-up-in-place")
    assert_accessible(page, f"pregnancy page with a follow-up shown in place ({name})")
    # Back to No: it goes away again, and saving asks nothing more.
    page.get_by_role("group", name=re.compile(r"become pregnant", re.I)).get_by_role(
        "radio", name="No"
    ).check()
    expect(follow_up).to_have_count(0)
    settled(page)
    yes.check()
    expect(follow_up).to_be_visible()
    settled(page)
    complete_page(page, Answers(choices={r"pregnant now": "No"}))
    assert page.url != url, "the page should have moved on after one save"
    expect(page.get_by_role("status").filter(has_text="follow-up")).to_have_count(0)


def open_page_after_filling(contexts, device, patient, code: str) -> Page:
    screening = start_screening(patient=patient)
    client = Client()
    client.force_login(patient)
    fill_intake_until(client, screening, code)
    page = contexts.new_page(device)
    log_in(page, patient.email)
    page.goto(f"/screenings/{screening.pk}/page/{code}/")
    return page


def boxes_of(group) -> list[dict]:
    return [radio.bounding_box() for radio in group.get_by_role("radio").all()]


@pytest.mark.parametrize(("device", "name"), [(PHONE, "phone"), (DESKTOP, "desktop")])
def test_the_phq9_is_cards_on_a_phone_and_a_table_on_a_desktop(
    contexts, default_version, patient, device, name
):
    """One item per card with answers to tap on a phone; items as rows and answers as
    columns from 992 px; each item still a group named by its official words."""
    page = open_page_after_filling(contexts, device, patient, "mood")
    item = page.get_by_role("group", name="Little interest or pleasure in doing things")
    expect(item).to_be_visible()
    answers = item.get_by_role("radio")
    expect(answers).to_have_count(4)
    expect(item.get_by_role("radio", name="More than half the days")).to_be_visible()
    radios = boxes_of(item)
    labels = [label.bounding_box() for label in item.locator("label").all()]
    if name == "desktop":
        # One row: the four answers side by side, under the column of their names.
        assert len({round(box["y"]) for box in radios}) == 1, radios
        assert radios[0]["x"] < radios[1]["x"] < radios[2]["x"] < radios[3]["x"]
        legend = item.locator("legend").bounding_box()  # the item's words beside its answers
        assert legend["x"] + legend["width"] <= radios[0]["x"]
        assert legend["y"] <= radios[0]["y"] <= legend["y"] + legend["height"]
        head = page.locator(".scale-grid-head").first
        expect(head).to_be_visible()
        expect(head).to_contain_text("Nearly every day")
    else:
        # One answer per row, each a full-width target at least 44 px tall.
        assert radios[0]["y"] < radios[1]["y"] < radios[2]["y"] < radios[3]["y"]
        assert all(label["height"] >= 44 and label["width"] > 250 for label in labels), labels
        expect(page.locator(".scale-grid-head").first).to_be_hidden()
    # The whole cell or row answers: a click near the corner of the label's area ticks it.
    item.locator("label").nth(2).click(position={"x": 4, "y": 4})
    expect(item.get_by_role("radio", name="More than half the days")).to_be_checked()
    shoot(page, f"{name}-phq9-grid")
    assert_accessible(page, f"PHQ-9 page ({name})")


def test_the_pcl5_instructions_come_with_the_list_not_before_it(contexts, default_version, patient):
    page = open_page_after_filling(contexts, DESKTOP, patient, "stressful_experiences")
    instructions = page.get_by_text("In the past month, how much were you bothered by:")
    expect(instructions).to_be_hidden()
    expect(page.get_by_text("If you answer yes, a list of problems follows.")).to_be_visible()
    page.get_by_role("group").first.get_by_role("radio", name="Yes", exact=True).check()
    expect(instructions).to_be_visible()
    expect(page.get_by_text("New questions", exact=True)).to_be_visible()
    first_item = page.get_by_role("group", name=re.compile(r"^Repeated, disturbing, and unwanted"))
    expect(first_item).to_be_visible()
    question = page.get_by_role("group", name=re.compile(r"stressful or traumatic event"))
    assert (
        question.bounding_box()["y"]
        < instructions.bounding_box()["y"]
        < first_item.bounding_box()["y"]
    )
    settled(page)
    assert_accessible(page, "stressful experiences with the PCL-5 shown")


def test_first_pages_and_a_follow_up_without_javascript(contexts, default_version, patient):
    page = contexts.new_page(PHONE, java_script_enabled=False)
    log_in(page, patient.email)
    start_questionnaire(page)

    assert progress_number(page) == 1
    complete_page(page, ABOUT_YOU)

    # Why you want treatment, and the care team ("Yes, a doctor prescribes" brings up their
    # name and phone once saved).
    while heading(page).inner_text().strip() != "Pregnancy and breastfeeding":
        assert progress_number(page) < 6
        complete_page(page)

    # Pregnancy: "Yes" to "could you become pregnant" brings up the pregnancy question
    # on the same page once saved (no script needed to reveal it).
    pregnancy_number = progress_number(page)
    pregnancy_url = page.url
    questions_before = main_form(page).get_by_role("group").count()
    expect(page.get_by_role("group", name=re.compile(r"pregnant now", re.I))).to_have_count(0)
    answer_visible_questions(page, Answers(choices={r"become pregnant": "Yes"}))
    save(page)
    assert page.url == pregnancy_url
    expect(page.get_by_role("status")).to_contain_text("follow-up questions")
    follow_up = page.get_by_role("group", name=re.compile(r"pregnant now", re.I))
    expect(follow_up).to_be_visible()
    assert main_form(page).get_by_role("group").count() > questions_before
    expect(
        page.get_by_role("group", name=re.compile(r"become pregnant", re.I)).get_by_role(
            "radio", name="Yes"
        )
    ).to_be_checked()
    complete_page(page, Answers(choices={r"pregnant now": "No"}))

    assert progress_number(page) == pregnancy_number + 1
    complete_page(page)
    assert progress_number(page) == pregnancy_number + 2
    expect(heading(page)).to_be_visible()


def test_login_page_is_accessible(contexts, live_server):
    page = contexts.new_page(PHONE)
    page.goto("/login/")
    expect(page.get_by_label("Email address")).to_be_visible()
    assert_accessible(page, "login page")


def test_a_blood_pressure_in_the_crisis_range_shows_its_own_message_on_a_phone(
    contexts, default_version, patient, axe_audit
):
    """The confirmation page names what to do about the blood pressure, not the crisis lines
    for thoughts of suicide, which stay in the usual note below."""
    screening = start_screening(patient=patient)
    client = Client()
    client.force_login(patient)
    fill_intake(client, screening, {"bp_systolic": "190", "bp_diastolic": "95"})

    page = contexts.new_page(PHONE)
    log_in(page, patient.email)
    page.goto(f"/screenings/{screening.pk}/review/")
    page.get_by_role("checkbox", name=re.compile(r"my answers are complete and true")).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Submit my answers").click()

    expect(heading(page)).to_have_text(CONFIRMATION)
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The blood pressure you entered is very high.")
    expect(alert).to_contain_text("If you feel unwell now, call 911")
    expect(alert).not_to_contain_text("very hard time")
    expect(page.get_by_role("note")).to_contain_text("If you feel unsafe")
    shoot(page, "phone-93-submitted-blood-pressure")
    axe_audit.check(page, "confirmation page with a blood pressure in the crisis range")
    axe_audit.assert_clean()
