"""What a patient does in the browser: log in, answer the visible questions, save a page.

Answering is driven by the page itself, not by the content file: every fieldset of radio
buttons gets an answer, every group of checkboxes gets its "None of these"-like choice,
empty number boxes get a plausible number, required text and phone boxes get a plain
answer, a height or weight gets its metric box filled (or the US boxes a test asks for),
and a medication list gets either the rows a test asks for or its "I don't take any" box. Tests pass `choices` and `typed` (keyed by
words of the question or box label) only where they care about a particular answer, so
rewording or adding questions in the content file does not break them.
"""

import re
from dataclasses import dataclass, field

from playwright.sync_api import Locator, Page, expect

from tests.conftest import PASSWORD

SAVE_BUTTON = re.compile(r"^Save and (continue|return to review)$")
FOLLOW_UP_MESSAGE = re.compile(r"follow-up questions", re.IGNORECASE)
ERROR_SUMMARY = re.compile(r"Please check the answers", re.IGNORECASE)
# The exclusive choice of a checkbox group: "None of these", "None", "I don't know".
EXCLUSIVE_CHOICE = re.compile(r"^\s*(None\b.*|I don[’']t know\s*)$", re.IGNORECASE)
# "I don't take any" (medicines) or "I don't use any" (the recreational drugs).
NO_MEDICATION_BOX = re.compile(r"^I don[’']t (take|use) any", re.IGNORECASE)
ROW_GROUP = re.compile(r"^Item \d+$")
RANGE_IN_MESSAGE = re.compile(r"between (\d+(?:\.\d+)?) and (\d+(?:\.\d+)?)")
DEFAULT_DATE = "1980-05-17"
DEFAULT_NUMBER = "72"
DEFAULT_FREE_TEXT = "Nothing more to add, thank you."
DEFAULT_PHONE = "555 201 4477"
# A height or weight: its boxes (metric first, then US units) and what a person fills in.
MEASUREMENT = "div.measure-inputs"
METRIC_DEFAULTS = {"Centimeters": "168", "Kilograms": "70"}

# Reads, for one form control, what a person sees about it (its labels) and its state.
_CONTROL_INFO_JS = """
e => {
  const labels = e.labels ? [...e.labels].map(l => l.textContent.replace(/\\s+/g, ' ').trim()) : [];
  const group = e.closest('fieldset');
  const legend = group && group.querySelector('legend');
  const legendText = legend ? legend.textContent.replace(/\\s+/g, ' ').trim() : '';
  return {
    tag: e.tagName.toLowerCase(),
    type: (e.getAttribute('type') || '').toLowerCase(),
    inputmode: e.getAttribute('inputmode') || '',
    label: labels.join(' | '),
    value: e.value,
    required: e.required,
    inMedicationRow: /^Item \\d+$/.test(legendText),
    inMeasurement: !!e.closest('div.measure-inputs'),
  };
}
"""


def main_form(page: Page) -> Locator:
    """The page's own form (the header's log-out form is outside <main>)."""
    return page.locator("main form")


def heading(page: Page) -> Locator:
    return page.get_by_role("heading", level=1)


def log_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def _match(mapping: dict[str, str], text: str) -> str | None:
    for pattern, value in mapping.items():
        if re.search(pattern, text, re.IGNORECASE):
            return value
    return None


@dataclass
class Answers:
    """The answers a test cares about; everything else gets a plain, generic answer.

    choices: question text pattern -> label of the radio button to pick.
    ticks: question text pattern -> labels of the checkboxes to tick (instead of "None").
    typed: box label pattern -> what to type (text, number and date boxes).
    medications: question text pattern -> rows of (name, dose, how often) to type.
    """

    choices: dict[str, str] = field(default_factory=dict)
    ticks: dict[str, list[str]] = field(default_factory=dict)
    typed: dict[str, str] = field(default_factory=dict)
    medications: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)


def answer_visible_questions(page: Page, answers: Answers | None = None) -> None:
    """Answer every question on the page that has no answer yet, as a person would, and
    wait until the page's script has shown any follow-up question the answers bring."""
    answers = answers or Answers()
    form = main_form(page)
    _answer_radio_groups(page, form, answers)
    _answer_checkbox_groups(page, form, answers)
    # A choice may bring follow-up questions in above the boxes: let the page show them before
    # the boxes are listed, so each answer goes into the box whose label was read.
    settled(page)
    _answer_medication_lists(page, form, answers)
    _answer_measurements(form, answers)
    _answer_boxes(form, answers)
    settled(page)


def settled(page: Page) -> None:
    """Wait until the follow-up script has caught up with the answers (at once without it)."""
    expect(page.locator("form[data-shown-busy]")).to_have_count(0)


def shown_questions(page: Page) -> list[str]:
    """The codes of the questions the page shows now."""
    return (
        main_form(page)
        .locator("[data-question]:visible")
        .evaluate_all("els => els.map(e => e.dataset.question)")
    )


def _answer_radio_groups(page: Page, form: Locator, answers: Answers) -> None:
    """The first unanswered group, again and again: an answer may show follow-up groups in
    place, which would shift a list of groups taken before it."""
    unanswered = (
        form.locator("fieldset:visible")
        .filter(has=page.locator("input[type=radio]"))
        .filter(has_not=page.locator("input[type=radio]:checked"))
    )
    for _ in range(200):
        if not unanswered.count():
            return
        group = unanswered.first
        question = group.locator("legend").first.inner_text()
        wanted = _match(answers.choices, question)
        if wanted:
            group.get_by_role("radio", name=wanted, exact=True).check()
        else:
            group.get_by_role("radio").first.check()
        settled(page)
    raise AssertionError("Radio groups kept appearing unanswered")


def _answer_checkbox_groups(page: Page, form: Locator, answers: Answers) -> None:
    groups = form.locator("fieldset:visible").filter(has=page.locator("input[type=checkbox]"))
    for group in groups.all():
        boxes = group.get_by_role("checkbox")
        if boxes.count() < 2 or group.locator("input[type=checkbox]:checked").count():
            continue
        wanted = _match(answers.ticks, group.locator("legend").first.inner_text())
        if wanted:
            for label in wanted:
                group.get_by_role("checkbox", name=label, exact=True).check()
            continue
        exclusive = group.get_by_role("checkbox", name=EXCLUSIVE_CHOICE)
        (exclusive.first if exclusive.count() else boxes.first).check()


def _answer_medication_lists(page: Page, form: Locator, answers: Answers) -> None:
    for none_box in form.get_by_role("checkbox", name=NO_MEDICATION_BOX).all():
        medication_list = none_box.locator("xpath=ancestor::div[.//fieldset][1]")
        rows = medication_list.get_by_role("group", name=ROW_GROUP)
        first_name_box = rows.first.get_by_role("textbox").first
        question = first_name_box.evaluate(_CONTROL_INFO_JS)["label"]
        wanted = _match(answers.medications, question)
        if wanted:
            if none_box.is_checked():
                none_box.uncheck()
            type_medications(page, medication_list, wanted)
            continue
        typed_any = any(box.input_value() for box in medication_list.get_by_role("textbox").all())
        if not typed_any and not none_box.is_checked():
            none_box.check()


def type_medications(page: Page, medication_list: Locator, medications) -> None:
    """Type one medicine per row, asking for more rows when there are not enough."""
    rows = medication_list.get_by_role("group", name=ROW_GROUP)
    while rows.count() < len(medications):
        with page.expect_navigation():
            medication_list.get_by_role("button", name="Add more rows").click()
    for number, (name, dose, how_often) in enumerate(medications, start=1):
        row = medication_list.get_by_role("group", name=f"Item {number}", exact=True)
        row.get_by_role("textbox", name=re.compile(r"\bName\b")).fill(name)
        row.get_by_role("textbox", name=re.compile(r"\b(Dose|How much)\b")).fill(dose)
        row.get_by_role("textbox", name=re.compile(r"\bHow often\b")).fill(how_often)


def _answer_measurements(form: Locator, answers: Answers) -> None:
    """A height or weight untouched so far: the boxes a test asks for, else the metric box."""
    for group in form.locator(f"{MEASUREMENT}:visible").all():
        boxes = group.locator("input[type=text]").all()
        infos = [box.evaluate(_CONTROL_INFO_JS) for box in boxes]
        if any(info["value"] for info in infos):
            continue
        wanted = [
            (box, _match(answers.typed, info["label"]))
            for box, info in zip(boxes, infos, strict=True)
        ]
        if any(value is not None for _, value in wanted):
            for box, value in wanted:
                if value is not None:
                    box.fill(value)
            continue
        metric = boxes[0]
        unit = infos[0]["label"].rsplit("|", 1)[-1].strip()
        metric.fill(METRIC_DEFAULTS.get(unit, DEFAULT_NUMBER))


def _answer_boxes(form: Locator, answers: Answers) -> None:
    # Element handles, not locators: each stays the box whose label was read.
    for box in form.locator(
        "input[type=text]:visible, input[type=tel]:visible, input[type=date]:visible,"
        " input[type=number]:visible, textarea:visible"
    ).element_handles():
        info = box.evaluate(_CONTROL_INFO_JS)
        if info["value"] or info["inMedicationRow"] or info["inMeasurement"]:
            continue
        wanted = _match(answers.typed, info["label"])
        if wanted is not None:
            box.fill(wanted)
        elif info["type"] == "date":
            box.fill(DEFAULT_DATE)
        elif re.search(r"\bTop number\b", info["label"]):
            box.fill("120")
        elif re.search(r"\bBottom number\b", info["label"]):
            box.fill("80")
        elif info["inputmode"] in ("numeric", "decimal") or info["type"] == "number":
            box.fill(DEFAULT_NUMBER)
        elif info["type"] == "tel" and info["required"]:
            box.fill(DEFAULT_PHONE)
        elif info["required"]:
            box.fill(DEFAULT_FREE_TEXT)


def save(page: Page) -> None:
    """Press "Save and continue" (or "Save and return to review") and wait for the next page."""
    with page.expect_navigation():
        page.get_by_role("button", name=SAVE_BUTTON).click()


def error_summary(page: Page) -> Locator:
    return page.get_by_role("alert").filter(has_text=ERROR_SUMMARY)


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


def complete_page(page: Page, answers: Answers | None = None, on_follow_up=None) -> list[str]:
    """Answer and save the current page until the wizard moves on; return the messages seen.

    A page whose answers reveal follow-up questions shows them in place (with JavaScript) or
    comes back with them shown and a message (without); they are answered in turn. `on_follow_up(page)` runs each time that happens
    (for screenshots and accessibility checks).
    """
    start_url = page.url
    messages = []
    for _ in range(10):
        before = shown_questions(page)
        answer_visible_questions(page, answers)
        if set(shown_questions(page)) - set(before):
            # Shown in place by the page's script: answer them before saving.
            if on_follow_up:
                on_follow_up(page)
            continue
        save(page)
        if page.url != start_url:
            return messages
        if error_summary(page).count():
            if fix_out_of_range_numbers(page):
                continue
            raise refused(page, start_url)
        status = page.get_by_role("status").filter(has_text=FOLLOW_UP_MESSAGE)
        expect(status).to_be_visible()
        messages.append(status.inner_text())
        if on_follow_up:
            on_follow_up(page)
    raise AssertionError(f"The page {start_url} kept coming back after saving.")


def refused(page: Page, start_url: str) -> AssertionError:
    """What the page said when it refused the answers, as a test failure."""
    return AssertionError(
        f"The page {start_url} refused the answers: "
        + " / ".join(
            t.strip() for t in main_form(page).locator(".invalid-feedback").all_inner_texts()
        )
        + "\n"
        + error_summary(page).inner_text()
    )


def section_slug(page: Page) -> str:
    """The last part of the page address (e.g. "about_you"), used to name screenshots."""
    path = page.url.split("?")[0].rstrip("/")
    return path.rsplit("/", 1)[-1]
