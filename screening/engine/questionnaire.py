"""A question set as plain data, and what a patient's answers make of it.

Owns the rules of the wizard that need no database: which sections and questions are
shown given the answers so far, the values expressions see (including derived ones such
as age, BMI and the two halves of a blood pressure), and the variables an expression may
name. No Django import: the intake, the rules engine and the admin's validator build on it.
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from .expressions import Expression, ExpressionError, VariableKind, VariableType, parse
from .units import bmi


class QuestionKind(StrEnum):
    """Every kind of question, written once: the models' choices, the loader's allow-list
    and the wizard's widgets all come from here. The value is what is stored."""

    YES_NO = "yes_no"
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    INTEGER = "integer"
    DECIMAL = "decimal"
    TEXT = "text"
    DATE = "date"
    BLOOD_PRESSURE = "blood_pressure"
    MEDICATION_LIST = "medication_list"
    SCALE_ITEM = "scale_item"
    # Height and weight typed in metric or US units; stored, and seen by expressions, in
    # centimetres and kilograms (see engine/units.py).
    HEIGHT = "height"
    WEIGHT = "weight"
    # One line of text (a name), and a telephone number: free text that rules never read.
    SHORT_TEXT = "short_text"
    PHONE = "phone"

    @property
    def label(self) -> str:
        """What the clinic admin reads in the question's kind box."""
        return _KIND_LABELS[self]

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(kind.value, kind.label) for kind in cls]


_KIND_LABELS = {
    QuestionKind.YES_NO: "Yes / no",
    QuestionKind.SINGLE_CHOICE: "Single choice",
    QuestionKind.MULTIPLE_CHOICE: "Multiple choice",
    QuestionKind.INTEGER: "Whole number",
    QuestionKind.DECIMAL: "Decimal number",
    QuestionKind.TEXT: "Free text",
    QuestionKind.DATE: "Date",
    QuestionKind.BLOOD_PRESSURE: "Blood pressure",
    QuestionKind.MEDICATION_LIST: "Medication list",
    QuestionKind.SCALE_ITEM: "Scale item (scored choices)",
    QuestionKind.HEIGHT: "Height (cm, or feet and inches)",
    QuestionKind.WEIGHT: "Weight (kg or pounds)",
    QuestionKind.SHORT_TEXT: "One line of text (e.g. a name)",
    QuestionKind.PHONE: "Telephone number",
}

# The members by their short names, as the engine, the forms and the tests import them.
YES_NO = QuestionKind.YES_NO
SINGLE_CHOICE = QuestionKind.SINGLE_CHOICE
MULTIPLE_CHOICE = QuestionKind.MULTIPLE_CHOICE
INTEGER = QuestionKind.INTEGER
DECIMAL = QuestionKind.DECIMAL
TEXT = QuestionKind.TEXT
DATE = QuestionKind.DATE
BLOOD_PRESSURE = QuestionKind.BLOOD_PRESSURE
MEDICATION_LIST = QuestionKind.MEDICATION_LIST
SCALE_ITEM = QuestionKind.SCALE_ITEM
HEIGHT = QuestionKind.HEIGHT
WEIGHT = QuestionKind.WEIGHT
SHORT_TEXT = QuestionKind.SHORT_TEXT
PHONE = QuestionKind.PHONE
QUESTION_KINDS = tuple(QuestionKind)
CHOICE_KINDS = (SINGLE_CHOICE, MULTIPLE_CHOICE, SCALE_ITEM)

# Kinds whose answer is whatever the patient typed, in their own words: text, a short text
# (a name) and a phone number. Yes/no, choices, scale items, numbers, heights, weights,
# dates and blood pressures are values from a fixed set or range. A medication list is
# typed too, but expressions reach it only through the formulary's recognition (takes(),
# unrecognised_medication()) and can never compare it. Free text never feeds a rule or a
# show-when: it is for a physician to read, and matching words in it would let whoever
# writes content search what patients wrote (whose escort is called what, whose number).
FREE_TEXT_KINDS = frozenset({TEXT, SHORT_TEXT, PHONE})
FREE_TEXT_REFUSED = (
    "it is a free-text answer, and rules and show-when never read free text (it is for "
    "the physician to read). Ask a yes/no or choice question for what the rule needs."
)

# Derived values: computed from answers, usable in expressions like any question code.
AGE = "age"
BMI = "bmi"
DATE_OF_BIRTH = "date_of_birth"
HEIGHT_CM = "height_cm"
WEIGHT_KG = "weight_kg"
DERIVED_SOURCES = frozenset({DATE_OF_BIRTH, HEIGHT_CM, WEIGHT_KG})


@dataclass(frozen=True)
class ChoiceDef:
    value: str
    label: str
    score: int | None = None
    exclusive: bool = False


@dataclass(frozen=True)
class QuestionDef:
    code: str
    kind: str
    text: str
    help_text: str = ""
    required: bool = True
    min_value: Decimal | None = None
    max_value: Decimal | None = None
    unit: str = ""
    show_when: str = ""
    choices: tuple[ChoiceDef, ...] = ()

    @property
    def expression_names(self) -> tuple[str, ...]:
        """The names this question's answer is seen under in expressions."""
        if self.kind == BLOOD_PRESSURE:
            return (f"{self.code}_systolic", f"{self.code}_diastolic")
        return (self.code,)

    def choice(self, value: str) -> ChoiceDef | None:
        for choice in self.choices:
            if choice.value == value:
                return choice
        return None


@dataclass(frozen=True)
class SectionDef:
    code: str
    title: str
    intro: str = ""
    show_when: str = ""
    questions: tuple[QuestionDef, ...] = ()


@dataclass(frozen=True)
class QuestionnaireDef:
    sections: tuple[SectionDef, ...]
    # A session check-in's baseline: the intake questionnaire whose answers its show-when
    # conditions and rules may also read (never shown to the patient again). None for an intake.
    baseline: QuestionnaireDef | None = field(default=None, compare=False)
    questions_by_code: dict[str, QuestionDef] = field(init=False, repr=False, compare=False)
    _compiled: dict[str, Expression | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_code = {q.code: q for section in self.sections for q in section.questions}
        object.__setattr__(self, "questions_by_code", by_code)
        object.__setattr__(self, "_compiled", {})

    def with_baseline(self, baseline: QuestionnaireDef | None) -> QuestionnaireDef:
        """This questionnaire reading `baseline`'s answers too (a check-in and its intake)."""
        return QuestionnaireDef(self.sections, baseline)

    def baseline_question(self, code: str) -> QuestionDef | None:
        """A question only the baseline asks (this questionnaire's own come first)."""
        if code in self.questions_by_code or self.baseline is None:
            return None
        return self.baseline.questions_by_code.get(code)

    def section(self, code: str) -> SectionDef | None:
        return next((section for section in self.sections if section.code == code), None)

    def condition(self, text: str) -> Expression | None:
        """The parsed show-when, or None when there is none."""
        text = text.strip()
        if not text:
            return None
        if text not in self._compiled:
            try:
                self._compiled[text] = parse(text)
            except ExpressionError:
                # Saved expressions are validated in the admin; if one still fails to parse,
                # asking the question is safer than silently skipping it.
                self._compiled[text] = None
        return self._compiled[text]


def variable_types(
    questionnaire: QuestionnaireDef,
    *,
    before_question: str | None = None,
    before_section: str | None = None,
) -> dict[str, VariableType]:
    """Every name an expression may use; optionally only those defined before a question or section.

    Show-when conditions may only look back: a question cannot depend on one asked later.
    A check-in's baseline (the intake) was answered before it, so all of its names come first.
    """
    types: dict[str, VariableType] = (
        variable_types(questionnaire.baseline) if questionnaire.baseline is not None else {}
    )
    for section in questionnaire.sections:
        if section.code == before_section:
            return types
        for question in section.questions:
            if question.code == before_question:
                return types
            types.update(_types_of(question))
            if question.code == DATE_OF_BIRTH and question.kind == DATE:
                types[AGE] = VariableType(VariableKind.NUMBER)
            if {HEIGHT_CM, WEIGHT_KG} <= types.keys():
                types[BMI] = VariableType(VariableKind.NUMBER)
    return types


def _types_of(question: QuestionDef) -> dict[str, VariableType]:
    values = frozenset(choice.value for choice in question.choices)
    kind = question.kind
    if kind == YES_NO:
        return {question.code: VariableType(VariableKind.YES_NO, frozenset({"yes", "no"}))}
    if kind == SINGLE_CHOICE:
        return {question.code: VariableType(VariableKind.CHOICE, values)}
    if kind == MULTIPLE_CHOICE:
        return {question.code: VariableType(VariableKind.MULTI, values)}
    if kind in (INTEGER, DECIMAL, SCALE_ITEM, HEIGHT, WEIGHT):
        return {question.code: VariableType(VariableKind.NUMBER)}
    if kind == DATE:
        return {question.code: VariableType(VariableKind.DATE)}
    if kind == BLOOD_PRESSURE:
        return {name: VariableType(VariableKind.NUMBER) for name in question.expression_names}
    if kind == MEDICATION_LIST:
        return {question.code: VariableType(VariableKind.LIST)}
    if kind in FREE_TEXT_KINDS:
        return {question.code: VariableType(VariableKind.TEXT, refused=FREE_TEXT_REFUSED)}
    return {question.code: VariableType(VariableKind.TEXT)}


def is_answered(question: QuestionDef, stored: object) -> bool:
    """Whether a stored answer counts as one (a blank text or an untouched list does not)."""
    if stored is None or stored == "" or stored == []:
        return False
    if question.kind == BLOOD_PRESSURE:
        return isinstance(stored, dict) and stored.get("systolic") is not None
    if question.kind == MEDICATION_LIST:
        # An empty list is an answer only when the patient said they take none.
        return isinstance(stored, dict) and (bool(stored.get("rows")) or bool(stored.get("none")))
    if question.kind in (HEIGHT, WEIGHT):
        return measurement_value(question.kind, stored) is not None
    return True


MEASUREMENT_KEYS = {HEIGHT: "cm", WEIGHT: "kg"}


def measurement_value(kind: str, stored: object) -> Decimal | None:
    """A height in cm or a weight in kg from its stored answer; None if there is none.

    Stored as {"cm": 170.2, "feet": 5, "inches": 7} or {"kg": 81.6, "pounds": 180}; the
    cm or kg value is the one rules see, whatever unit the patient typed.
    """
    value = stored.get(MEASUREMENT_KEYS[kind]) if isinstance(stored, dict) else None
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() and number > 0 else None


def expression_values_of(question: QuestionDef, stored: object) -> dict[str, object]:
    """Turn one stored answer into the values expressions see; unreadable data gives nothing."""
    if stored is None:
        return {}
    kind = question.kind
    if kind == BLOOD_PRESSURE:
        if not isinstance(stored, dict):
            return {}
        systolic_name, diastolic_name = question.expression_names
        return {systolic_name: stored.get("systolic"), diastolic_name: stored.get("diastolic")}
    if kind == MULTIPLE_CHOICE:
        return {question.code: frozenset(stored)} if isinstance(stored, list) else {}
    if kind == SCALE_ITEM:
        choice = question.choice(str(stored))
        return {question.code: choice.score} if choice and choice.score is not None else {}
    if kind == DECIMAL:
        try:
            return {question.code: Decimal(str(stored))}
        except InvalidOperation:
            return {}
    if kind == MEDICATION_LIST:
        return {question.code: list(stored.get("rows", [])) if isinstance(stored, dict) else []}
    if kind in (HEIGHT, WEIGHT):
        value = measurement_value(kind, stored)
        return {} if value is None else {question.code: value}
    return {question.code: stored}


def derived_values(values: Mapping[str, object], today: datetime.date) -> dict[str, object]:
    """Age from the date of birth and BMI from height and weight, when those were answered."""
    derived: dict[str, object] = {}
    birth = values.get(DATE_OF_BIRTH)
    if isinstance(birth, str):
        try:
            born = datetime.date.fromisoformat(birth)
        except ValueError:
            born = None
        if born:
            had_birthday = (today.month, today.day) >= (born.month, born.day)
            derived[AGE] = today.year - born.year - (0 if had_birthday else 1)
    height, weight = values.get(HEIGHT_CM), values.get(WEIGHT_KG)
    if height and weight:
        # In cm and kg whatever unit was typed: the height and weight kinds store both.
        with contextlib.suppress(InvalidOperation, ZeroDivisionError):
            derived[BMI] = bmi(Decimal(str(height)), Decimal(str(weight)))
    return derived


# A line of a section's intro that reads only this: what follows it introduces the page's
# list of like questions (the PCL-5 after "yes" to a stressful event), so it is shown just
# above that list, and only while the list is shown; what comes before it, at the top.
LIST_INTRO_MARKER = "---"


def split_intro(text: str) -> tuple[str, str]:
    """A section intro's top part and the part that introduces its list ("" if none)."""
    lines = text.replace("\r\n", "\n").split("\n")
    for index, line in enumerate(lines):
        if line.strip() == LIST_INTRO_MARKER:
            return "\n".join(lines[:index]).strip(), "\n".join(lines[index + 1 :]).strip()
    return text, ""


@dataclass
class Visibility:
    """What the patient is asked given their answers, and the answers that count."""

    sections: list[SectionDef]
    questions: dict[str, QuestionDef]  # visible questions by code, in questionnaire order
    values: dict[str, object]  # expression values of visible answers, plus derived ones
    answers: dict[str, object]  # stored answers of visible questions only
    # A check-in's baseline answers that count: visible in the intake, of questions the
    # check-in does not ask again.
    baseline: dict[str, object] = field(default_factory=dict)
    # The shown sections plus those whose condition waits on an unanswered question (the
    # pregnancy page before sex at birth is answered): what can still apply. A count of
    # these only falls as answers rule pages out, never climbs as the patient goes on.
    possible_sections: list[SectionDef] = field(default_factory=list)

    def visible_in(self, section: SectionDef) -> list[QuestionDef]:
        return [question for question in section.questions if question.code in self.questions]


def work_out_visibility(
    questionnaire: QuestionnaireDef,
    stored_answers: Mapping[str, object],
    today: datetime.date,
    baseline_answers: Mapping[str, object] | None = None,
) -> Visibility:
    """Walk the questionnaire in order, showing what the answers so far make relevant.

    Answers to hidden questions (their condition is false, or unknown because it depends on
    something unanswered) are left out: a stale answer must never raise a flag.

    A check-in (a questionnaire with a baseline) starts from the values of its baseline
    intake's answers, worked out by the intake's own conditions; its own answers then take
    precedence where it asks the same question again.
    """
    values: dict[str, object] = {}
    baseline_shown: dict[str, object] = {}
    if questionnaire.baseline is not None and baseline_answers:
        seen = work_out_visibility(questionnaire.baseline, baseline_answers, today)
        # A question the check-in asks again is the check-in's alone: shown and answered
        # there, its answer counts; hidden there (a follow-up of an answer that changed),
        # the intake's old answer must not count either.
        asked_again = {
            name
            for question in questionnaire.questions_by_code.values()
            for name in question.expression_names
        }
        values.update({k: v for k, v in seen.values.items() if k not in asked_again})
        baseline_shown = {
            k: v for k, v in seen.answers.items() if k not in questionnaire.questions_by_code
        }
    visible_sections: list[SectionDef] = []
    visible_questions: dict[str, QuestionDef] = {}
    answers: dict[str, object] = {}
    possible_sections: list[SectionDef] = []
    for section in questionnaire.sections:
        if not _condition_holds(questionnaire, section.show_when, values):
            if _may_hold(questionnaire, section.show_when, values) and any(
                _may_hold(questionnaire, question.show_when, values)
                for question in section.questions
            ):
                possible_sections.append(section)
            continue
        shown_here = False
        for question in section.questions:
            if not _condition_holds(questionnaire, question.show_when, values):
                continue
            shown_here = True
            visible_questions[question.code] = question
            stored = stored_answers.get(question.code)
            if stored is not None:
                answers[question.code] = stored
                values.update(expression_values_of(question, stored))
                if question.code in DERIVED_SOURCES:
                    values.update(derived_values(values, today))
        if shown_here:
            visible_sections.append(section)
            possible_sections.append(section)
        elif any(_may_hold(questionnaire, q.show_when, values) for q in section.questions):
            possible_sections.append(section)
    baseline = {code: value for code, value in baseline_shown.items() if code not in answers}
    return Visibility(
        visible_sections,
        visible_questions,
        values,
        answers,
        baseline=baseline,
        possible_sections=possible_sections,
    )


def _condition_holds(
    questionnaire: QuestionnaireDef, text: str, values: Mapping[str, object]
) -> bool:
    expression = questionnaire.condition(text)
    return expression is None or expression.is_true(values)


def _may_hold(questionnaire: QuestionnaireDef, text: str, values: Mapping[str, object]) -> bool:
    """True, or unknown until something still unanswered is answered."""
    expression = questionnaire.condition(text)
    return expression is None or expression.evaluate(values) is not False
