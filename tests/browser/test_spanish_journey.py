"""The whole intake in Spanish on a phone, then the physician's review in English (issue 17).

A physician invites a new patient in Spanish; the patient accepts the emailed link on a
phone, answers every page in Spanish (with a medicine typed by its Spanish generic name and a
follow-up shown in place), switches to English and back half-way, reviews and submits; the
physician reads the screening in English, with the language noted and the typed words as
typed. Every page is photographed (screenshots/es-phone-NN-<page>.png) and checked with axe.

The pages are answered by their stable attributes (question codes, input names; see
coded_steps.py), never by English words, so the same steps work in Spanish.
"""

import re

import pytest
from django.core import mail
from django.test import Client
from playwright.sync_api import Page, expect

from screening.models import Screening
from screening.selectors import stored_answers
from screening.services.intake import start_screening
from tests.conftest import PASSWORD
from tests.test_intake_wizard import fill_intake_until

from .coded_steps import (
    CodedAnswers,
    answer_by_code,
    complete_page_by_code,
    error_summary,
    question,
    save,
    save_button,
)
from .conftest import DESKTOP, PHONE, shoot
from .patient_steps import heading, log_in, main_form, section_slug, settled
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

PATIENT = ("Lucía Moreno", "lucia.moreno@example.com")
TYPED_MEDICINE = "claritromicina 500 mg"
ANSWERS = CodedAnswers(
    choices={"sex_at_birth": "female"},
    typed={"emergency_contact_name": "Ana Moreno, mi hermana"},
    # The Spanish generic name with its dose in the name box, as people often type it.
    medications={"medications": [(TYPED_MEDICINE, "", "dos veces al día")]},
)
# Our own wording, from locale/es and content/translations/ketamine-pretreatment.es.po.
SAVE_AND_CONTINUE = "Guardar y continuar"
ENGLISH_NOTE = (
    "Las preguntas de abajo son de un cuestionario de salud estándar. No tenemos "
    "la versión oficial en su idioma, así que se muestran en inglés."
)
# The PHQ-9's first item in its official Spanish, and the GAD-7's in its official English.
PHQ9_FIRST_ITEM_ES = "Poco interés o placer en hacer cosas"
GAD7_FIRST_ITEM_EN = "Feeling nervous, anxious or on edge"
PHQ9_FIRST_ITEM_EN = "Little interest or pleasure in doing things"


def html_lang(page: Page) -> str:
    return page.locator("html").get_attribute("lang")


def switch_language(page: Page, code: str) -> None:
    """The header's switcher, as a person uses it on a phone: pick, then press the button."""
    switcher = page.locator("header form").filter(has=page.locator("#language-select"))
    switcher.locator("#language-select").select_option(code)
    with page.expect_navigation():
        switcher.locator("button[type=submit]").click()
    expect(page.locator("html")).to_have_attribute("lang", code)


def assert_just_above(note, question) -> None:
    """The note stands above the question, with at most the list's instruction between."""
    note_box, question_box = note.bounding_box(), question.bounding_box()
    gap = question_box["y"] - (note_box["y"] + note_box["height"])
    assert 0 <= gap < 300, f"the note is {gap:.0f}px above the first question in English"


def overflowing(page: Page) -> list[str]:
    """Elements wider than the page or whose text spills out of their box (a long Spanish
    word in a button, a header that does not fit a 390 px phone)."""
    return page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          const found = [];
          for (const e of document.querySelectorAll('body *')) {
            const box = e.getBoundingClientRect();
            if (!box.width || getComputedStyle(e).visibility === 'hidden') continue;
            if (e.closest('.visually-hidden, .visually-hidden-focusable, .table-responsive')) continue;
            const spills = ['BUTTON', 'A', 'LABEL', 'SELECT'].includes(e.tagName)
              && e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflow !== 'visible';
            if (box.right > width + 1 || box.left < -1 || spills) {
              found.push(`${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}`
                + `.${[...e.classList].join('.')} "${(e.innerText || '').trim().slice(0, 40)}"`
                + ` (${Math.round(box.left)}..${Math.round(box.right)} of ${width})`);
            }
          }
          return found;
        }"""
    )


def test_spanish_intake_on_a_phone_reviewed_in_english(
    contexts, default_version, physician, axe_audit
):
    problems: list[str] = []  # what a patient would stumble on; reported together at the end

    def check_page(page: Page, where: str, shot: str) -> None:
        shoot(page, shot)
        axe_audit.check(page, where)
        spilled = overflowing(page)
        if spilled:
            problems.append(f"{where}: wider than a 390 px phone: {spilled[:5]}")

    # 1. The physician invites her in Spanish; the email is in Spanish.
    staff_page = contexts.new_page(DESKTOP)
    log_in_as_staff(staff_page, physician.email)
    invitation_link = invite_patient(staff_page, *PATIENT, language="Spanish")
    invitations = staff_page.get_by_role("region", name="Recent invitations")
    expect(invitations.get_by_role("row").filter(has_text=PATIENT[1])).to_contain_text("Spanish")
    shoot(staff_page, "es-staff-00-invitation-sent")
    (email,) = [m for m in mail.outbox if m.to == [PATIENT[1]]]
    assert "cuestionario" in email.subject, email.subject
    assert email.body.startswith(f"Hola, {PATIENT[0]}:"), email.body
    assert "Abra este enlace para elegir una contraseña" in email.body, email.body
    assert "questionnaire" not in email.body and "Open this link" not in email.body

    # 2. She accepts it on a phone: every page in Spanish.
    page = contexts.new_page(PHONE)
    page.goto(invitation_link)
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(heading(page)).to_have_text(f"Le damos la bienvenida, {PATIENT[0]}")
    check_page(page, "invitation page", "es-phone-00-invitation")
    page.locator("#id_password1").fill(PASSWORD)
    page.locator("#id_password2").fill(PASSWORD)
    with page.expect_navigation():
        main_form(page).locator("button[type=submit]").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    check_page(page, "home page", "es-phone-01-home")
    start = page.locator("main form[action$='/start/'] button[type=submit]")
    expect(start).to_have_text("Empezar el cuestionario")
    with page.expect_navigation():
        start.click()

    number = 0
    seen: dict[str, str] = {}  # section code -> its title as shown
    follow_ups: list[str] = []
    switched = False
    while "/review/" not in page.url:
        number += 1
        assert number <= 30, f"The wizard never reached the review page (last: {page.url})"
        expect(page.locator("html")).to_have_attribute("lang", "es")
        code = section_slug(page)
        title = heading(page).inner_text().strip()
        seen[code] = title
        expect(save_button(page)).to_have_text(SAVE_AND_CONTINUE)
        shot = f"es-phone-{number + 1:02d}-{code}"
        check_page(page, title, shot)

        if code == "about_you":
            expect(heading(page)).to_have_text("Sobre usted")
        if code == "mood":  # the PHQ-9 in its official Spanish
            expect(heading(page)).to_have_text("Cómo se ha sentido")
            item = page.get_by_role("group", name=re.compile("^" + PHQ9_FIRST_ITEM_ES))
            expect(item).to_be_visible()
            expect(item.locator("[lang]")).to_have_count(0)  # Spanish, as the page
        if code == "anxiety":  # the GAD-7 in English, marked so, with a note in Spanish
            expect(heading(page)).to_have_text("Preocupación y ansiedad")
            expect(page.locator("#english-wording-note")).to_have_text(ENGLISH_NOTE)
            item = page.get_by_role("group", name=re.compile("^" + GAD7_FIRST_ITEM_EN))
            expect(item).to_be_visible()
            expect(item.locator("legend [lang]").first).to_have_attribute("lang", "en-US")
            expect(item.locator("legend [lang]").first).to_have_text(GAD7_FIRST_ITEM_EN)

        if code == "substances":  # the AUDIT-C (English) at the foot of a Spanish page
            note = page.locator("#english-wording-note")
            expect(note).to_have_text(ENGLISH_NOTE)
            assert_just_above(note, page.locator('[data-question="auditc_1"]'))

        if code == "vitals":  # both numbers on one line on a phone, the "/" between them
            top = main_form(page).locator("input[name$='_systolic']").bounding_box()
            bottom = main_form(page).locator("input[name$='_diastolic']").bounding_box()
            assert abs(top["y"] - bottom["y"]) < 2 and top["x"] < bottom["x"], (top, bottom)

        if code == "medicines":
            complete_medicines_and_switch_back_and_forth(page, shot, check_page)
            switched = True
            continue

        def after_follow_up(page, shot=shot, title=title, code=code):
            check_page(page, f"{title} (with follow-up questions)", f"{shot}-follow-up")
            if code == "stressful_experiences":  # the PCL-5 (English) below a Spanish question
                note = page.locator("#english-wording-note")
                expect(note).to_be_visible()
                expect(note).to_have_text(ENGLISH_NOTE)
                assert_just_above(note, page.locator('[data-question="pcl5_1"]'))

        follow_ups += complete_page_by_code(page, ANSWERS, on_follow_up=after_follow_up)

    assert switched, "The journey never reached the medicines page"
    assert follow_ups, "No follow-up question appeared on any page"

    # Review and submit, in Spanish.
    expect(heading(page)).to_have_text("Revise sus respuestas")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    medicines = page.locator("section[aria-labelledby='answers-medicines']")
    medicines.locator("summary").click()
    expect(medicines.locator("[data-patient-text]").first).to_contain_text(TYPED_MEDICINE)
    check_page(page, "review page", "es-phone-90-review")
    page.locator("#id_consent").check()
    with page.expect_navigation():
        page.locator("#consent-form button[type=submit]").click()
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(heading(page)).to_have_text("Gracias, sus respuestas fueron enviadas")
    check_page(page, "done page", "es-phone-92-done")
    screening = Screening.objects.get(patient__email=PATIENT[1])
    assert screening.language == "es"

    # 4. The physician reads it in English.
    staff_page.goto("/staff/queue/")
    filter_queue(staff_page, search="Lucía")
    open_from_queue(staff_page, PATIENT[0])
    expect(staff_page.locator("html")).to_have_attribute("lang", re.compile(r"^en"))
    expect(staff_page.locator("#answered-in")).to_have_text("Answered in Spanish")
    main = staff_page.get_by_role("main")
    expect(main).to_contain_text(PHQ9_FIRST_ITEM_EN)
    expect(main).not_to_contain_text(PHQ9_FIRST_ITEM_ES)
    expect(main).to_contain_text("Ana Moreno, mi hermana")  # free text as typed
    row = main.locator("tr").filter(has_text=TYPED_MEDICINE)
    expect(row.first).to_contain_text("clarithromycin")
    titles = flag_titles(staff_page)
    assert any("Strong CYP3A4 inhibitor" in title for title in titles), titles
    shoot(staff_page, "es-staff-01-screening-in-english")
    axe_audit.check(staff_page, "physician: the Spanish screening")
    acknowledge_every_flag(staff_page)
    decide(
        staff_page,
        "Not a candidate",
        {"Reason": "A contraindication on screening; discussed with the patient in Spanish."},
    )
    expect(status_messages(staff_page)).to_have_text(DECISION_SIGNED)
    shoot(staff_page, "es-staff-02-screening-decided")

    if axe_audit.problems:
        problems.append(axe_audit.report())
    assert not problems, "\n\n".join(problems)


def complete_medicines_and_switch_back_and_forth(page, shot, check_page) -> None:
    """Type the medicine, switch to English before saving and back to Spanish: what was typed
    is still there, unsaved; once saved, it is read back in either language."""
    answer_by_code(page, ANSWERS)
    name_box = main_form(page).locator("input[name='medications-0-name']")
    grapefruit = main_form(page).locator('[data-question="grapefruit"] input:checked')
    expect(name_box).to_have_value(TYPED_MEDICINE)
    expect(grapefruit).to_have_count(1)
    check_page(page, "medicines page, typed", f"{shot}-typed")
    medicines_url = page.url

    # 3. To English and back, half-way through the page, before saving it.
    switch_language(page, "en-us")
    assert page.url == medicines_url, page.url
    expect(heading(page)).to_have_text("Medicines and supplements")
    expect(save_button(page)).to_have_text("Save and continue")
    expect(name_box).to_have_value(TYPED_MEDICINE)
    expect(grapefruit).to_have_count(1)
    check_page(page, "medicines page after switching to English", f"{shot}-in-english")
    switch_language(page, "es")
    expect(save_button(page)).to_have_text(SAVE_AND_CONTINUE)
    expect(name_box).to_have_value(TYPED_MEDICINE)
    expect(grapefruit).to_have_count(1)
    complete_page_by_code(page, ANSWERS)

    # Once saved, the answers are read back in either language.
    next_url = page.url
    switch_language(page, "en-us")
    with page.expect_navigation():
        main_form(page).locator("a.btn-link").click()  # back to the medicines page
    expect(heading(page)).to_have_text("Medicines and supplements")
    expect(name_box).to_have_value(TYPED_MEDICINE)
    switch_language(page, "es")
    expect(name_box).to_have_value(TYPED_MEDICINE)
    page.goto(next_url)


@pytest.mark.parametrize("script", [True, False], ids=["with-javascript", "without-javascript"])
def test_switching_language_keeps_what_was_typed_on_the_page(
    contexts, default_version, patient, script
):
    """Answers given on a page and not yet saved, a follow-up among them, are still there
    after the switcher reloads the page in Spanish (with JavaScript; without it, the page
    comes back as it was last saved, which this test records rather than hides), and a page
    opened from the review page still returns to it."""
    screening = start_screening(patient=patient)
    client = Client()
    client.force_login(patient)
    fill_intake_until(client, screening, "pregnancy")
    page = contexts.new_page(PHONE, java_script_enabled=script)
    log_in(page, patient.email)
    # Opened from the review page, to change an answer: the switch keeps it so.
    page.goto(f"/screenings/{screening.pk}/page/pregnancy/?from=review")
    expect(page.locator("html")).to_have_attribute("lang", "en-us")
    expect(save_button(page)).to_have_text("Save and return to review")
    form = main_form(page)
    form.locator("input[name=can_be_pregnant][value=yes]").check()
    follow_up = question(page, "pregnant")
    if script:
        expect(follow_up).to_be_visible()
        follow_up.locator("input[value=no]").check()

    switch_language(page, "es")
    assert page.url.endswith("/page/pregnancy/?from=review"), page.url
    expect(save_button(page)).to_have_text("Guardar y volver a la revisión")
    if script:
        expect(form.locator("input[name=can_be_pregnant][value=yes]")).to_be_checked()
        expect(follow_up).to_be_visible()
        expect(follow_up.locator("input[value=no]")).to_be_checked()
        settled(page)
        # Kept for the one reload only: a later visit draws the page as saved.
        assert page.evaluate("() => sessionStorage.length") == 0
    else:
        expect(form.locator("input[name=can_be_pregnant]:checked")).to_have_count(0)


def test_switching_language_after_a_refused_save_keeps_what_was_typed(
    contexts, default_version, patient
):
    """A page that came back with errors shows the patient's typing, not yet saved: the
    switcher keeps it too, and the answer fixed in Spanish is saved with the rest."""
    screening = start_screening(patient=patient)
    page = contexts.new_page(PHONE)
    log_in(page, patient.email)
    page.goto(f"/screenings/{screening.pk}/page/about_you/")
    form = main_form(page)
    form.locator("input[name=date_of_birth]").fill("1980-05-17")
    form.locator("input[name=sex_at_birth][value=female]").check()
    form.locator("input[name=height_cm]").fill("168")
    form.locator("input[name=weight_kg]").fill("seventy")
    save(page)
    expect(error_summary(page)).to_be_visible()

    expect(page.locator("#typing-kept")).to_be_hidden()
    switch_language(page, "es")
    expect(save_button(page)).to_have_text(SAVE_AND_CONTINUE)
    # The page says what it holds is back and not saved yet (its error marks are not drawn).
    expect(page.locator("#typing-kept")).to_be_visible()
    expect(page.locator("#typing-kept")).to_contain_text("Aún no está guardado")
    expect(form.locator("input[name=date_of_birth]")).to_have_value("1980-05-17")
    expect(form.locator("input[name=sex_at_birth][value=female]")).to_be_checked()
    expect(form.locator("input[name=height_cm]")).to_have_value("168")
    expect(form.locator("input[name=weight_kg]")).to_have_value("seventy")

    form.locator("input[name=weight_kg]").fill("70")
    save(page)
    assert not page.url.endswith("/page/about_you/"), page.url
    saved = stored_answers(screening)
    assert saved["sex_at_birth"] == "female"
    assert saved["height_cm"] == {"cm": 168}
    assert saved["weight_kg"] == {"kg": 70}
