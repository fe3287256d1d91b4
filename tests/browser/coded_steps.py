"""A patient's answers found by the page's stable attributes, in any language.

patient_steps.py finds questions and boxes by their English words, which is what an English
reader does. A journey in another language cannot: here every question is found by its
wrapper's `data-question` (the question code), its inputs by their names and ids (derived from
that code) and the page's buttons by their place in the form, so the same steps answer the
Spanish or UK pages as they answer the US ones. Answers a test cares about are given by
question code and choice value; everything else gets a plain answer, as in patient_steps.py.
"""

import re
from dataclasses import dataclass, field

from playwright.sync_api import Locator, Page, expect

from .patient_steps import main_form, refused, settled, shown_questions

DEFAULT_DATE = "1980-05-17"
DEFAULT_NUMBER = "72"
DEFAULT_PHONE = "555 201 4477"
DEFAULT_FREE_TEXT = "Nada más que agregar, gracias."
# A height or weight's metric box (the first of its boxes), by question code.
METRIC_DEFAULTS = {"height_cm": "168", "weight_kg": "70"}
BLOOD_PRESSURE_DEFAULTS = {"_systolic": "120", "_diastolic": "80"}
# The choice values a checkbox group's exclusive "None of these" / "I don't know" carries.
EXCLUSIVE_VALUES = ("none", "not_sure", "dont_know")
# "between 60 and 260" / "entre 60 y 260": the range a refused number is told to be in.
RANGE_IN_MESSAGE = re.compile(r"(?:between|entre) (\d+(?:\.\d+)?) (?:and|y) (\d+(?:\.\d+)?)")


@dataclass
class CodedAnswers:
    """The answers a test cares about, by question code; the rest get a plain answer.

    choices: question code -> value of the radio button to pick.
    ticks: question code -> values of the checkboxes to tick (instead of "None").
    typed: input name -> what to type (text, number, phone, date boxes, measurements).
    medications: question code -> rows of (name, dose, how often) to type.
    """

    choices: dict[str, str] = field(default_factory=dict)
    ticks: dict[str, list[str]] = field(default_factory=dict)
    typed: dict[str, str] = field(default_factory=dict)
    medications: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)


def question(page: Page, code: str) -> Locator:
    return main_form(page).locator(f'[data-question="{code}"]')


def save_button(page: Page) -> Locator:
    """The page's own submit button ("Save and continue" in any language), not "Add more rows"."""
    return main_form(page).locator("button[type=submit].btn-primary")


def save(page: Page) -> None:
    with page.expect_navigation():
        save_button(page).click()


def error_summary(page: Page) -> Locator:
    return page.locator("#error-summary")


def answer_by_code(page: Page, answers: CodedAnswers | None = None) -> None:
    """Answer every shown question that has no answer yet, then wait for any follow-up."""
    answers = answers or CodedAnswers()
    for code in shown_questions(page):
        _answer_one(page, question(page, code), code, answers)
    settled(page)


def _answer_one(page: Page, wrapper: Locator, code: str, answers: CodedAnswers) -> None:
    radios = wrapper.locator(f'input[type=radio][name="{code}"]')
    if radios.count():
        if not wrapper.locator("input[type=radio]:checked").count():
            wanted = answers.choices.get(code)
            (radios.and_(page.locator(f'[value="{wanted}"]')) if wanted else radios.first).check()
        return
    boxes = wrapper.locator(f'input[type=checkbox][name="{code}"]')
    if boxes.count() >= 2:
        if not boxes.and_(page.locator(":checked")).count():
            values = answers.ticks.get(code)
            if values is None:
                values = [
                    v
                    for v in EXCLUSIVE_VALUES
                    if boxes.and_(page.locator(f'[value="{v}"]')).count()
                ][:1]
            if values:
                for value in values:
                    boxes.and_(page.locator(f'[value="{value}"]')).check()
            else:
                boxes.first.check()
        return
    medication_list = wrapper.locator(".medication-list")
    if medication_list.count():
        _answer_medication_list(page, medication_list, code, answers)
        return
    measurement = wrapper.locator("div.measure-inputs")
    if measurement.count():
        inputs = measurement.locator("input[type=text]")
        if any(box.input_value() for box in inputs.all()):
            return
        wanted = [(box, answers.typed.get(box.get_attribute("name"))) for box in inputs.all()]
        if any(value is not None for _, value in wanted):
            for box, value in wanted:
                if value is not None:
                    box.fill(value)
        else:
            inputs.first.fill(METRIC_DEFAULTS.get(code, DEFAULT_NUMBER))
        return
    for box in wrapper.locator(
        "input[type=text], input[type=tel], input[type=date], input[type=number], textarea"
    ).all():
        if box.input_value():
            continue
        name = box.get_attribute("name") or ""
        if name in answers.typed:
            box.fill(answers.typed[name])
            continue
        kind = (box.get_attribute("type") or "").lower()
        suffix = next((s for s in BLOOD_PRESSURE_DEFAULTS if name.endswith(s)), None)
        required = box.get_attribute("required") is not None
        if kind == "date":
            box.fill(DEFAULT_DATE)
        elif suffix:
            box.fill(BLOOD_PRESSURE_DEFAULTS[suffix])
        elif box.get_attribute("inputmode") in ("numeric", "decimal") or kind == "number":
            box.fill(DEFAULT_NUMBER)
        elif kind == "tel" and required:
            box.fill(DEFAULT_PHONE)
        elif required:
            box.fill(DEFAULT_FREE_TEXT)


def _answer_medication_list(
    page: Page, medication_list: Locator, code: str, answers: CodedAnswers
) -> None:
    none_box = medication_list.locator(f'input[name="{code}-none"]')
    wanted = answers.medications.get(code)
    if wanted:
        if none_box.is_checked():
            none_box.uncheck()
        type_medications(page, code, wanted)
        return
    names = medication_list.locator("input[name$='-name']")
    typed_any = any(box.input_value() for box in names.all())
    if not typed_any and not none_box.is_checked():
        none_box.check()


def type_medications(page: Page, code: str, medications) -> None:
    """One medicine per row (boxes <code>-<n>-name/dose/frequency), asking for more rows
    ("Add more rows", found by its name) when there are not enough."""
    form = main_form(page)
    while form.locator(f"input[name^='{code}-'][name$='-name']").count() < len(medications):
        with page.expect_navigation():
            form.locator(f'button[name=more_rows][value="{code}"]').click()
    for number, (name, dose, how_often) in enumerate(medications):
        form.locator(f'input[name="{code}-{number}-name"]').fill(name)
        form.locator(f'input[name="{code}-{number}-dose"]').fill(dose)
        form.locator(f'input[name="{code}-{number}-frequency"]').fill(how_often)


def fix_out_of_range_numbers(page: Page) -> bool:
    """Retype numbers the page refused as out of range with the middle of the stated range."""
    fixed = False
    for box in main_form(page).locator("input[aria-invalid=true]").all():
        description = box.evaluate(
            "e => (e.getAttribute('aria-describedby') || '').split(/\\s+/)"
            ".map(id => document.getElementById(id)).filter(Boolean)"
            ".map(n => n.textContent).join(' ')"
        )
        found = RANGE_IN_MESSAGE.search(description)
        if found:
            low, high = (float(x) for x in found.groups())
            box.fill(str(int((low + high) / 2)))
            fixed = True
    return fixed


def complete_page_by_code(
    page: Page, answers: CodedAnswers | None = None, on_follow_up=None
) -> list[str]:
    """Answer and save the current page until the wizard moves on; return the codes of the
    follow-up questions that appeared on it. `on_follow_up(page)` runs each time some do."""
    start_url = page.url
    appeared: list[str] = []
    for _ in range(10):
        before = shown_questions(page)
        answer_by_code(page, answers)
        new = [code for code in shown_questions(page) if code not in before]
        if new:
            appeared += new
            if on_follow_up:
                on_follow_up(page)
            continue
        save(page)
        if page.url != start_url:
            return appeared
        if error_summary(page).count():
            if fix_out_of_range_numbers(page):
                continue
            raise refused(page, start_url)
        # Without the page's script, follow-ups come back with the page after a save.
        expect(page.locator("main [role=status]").first).to_be_visible()
    raise AssertionError(f"The page {start_url} kept coming back after saving.")
