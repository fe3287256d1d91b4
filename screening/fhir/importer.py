"""Import a FHIR R4 Questionnaire (a published PHQ-9, our own export...) as a new draft.

``questionnaire_from_fhir`` is pure: JSON in, our QuestionnaireDef and a report out.
Carried over: top-level groups as sections (top-level questions outside a group gather in a
section of their own), items with their kinds, choices (with ordinal values as scores),
help text, limits, units, required, and show-when from ``enableWhen`` or from an
``enableWhenExpression`` in our own language. Everything else is named in the report,
never dropped silently. ``import_as_draft`` writes the draft in one transaction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from django.db import transaction
from fhir.resources.R4B.questionnaire import Questionnaire
from pydantic import ValidationError

from .. import audit
from ..answer_fields import PHONE_PATTERN, SHORT_TEXT_MAX_LENGTH
from ..engine.expressions import KEYWORDS, validate
from ..engine.questionnaire import (
    AGE,
    BLOOD_PRESSURE,
    BMI,
    DATE,
    DECIMAL,
    HEIGHT,
    INTEGER,
    LIST_INTRO_MARKER,
    MEDICATION_LIST,
    MULTIPLE_CHOICE,
    PHONE,
    SCALE_ITEM,
    SHORT_TEXT,
    SINGLE_CHOICE,
    TEXT,
    WEIGHT,
    YES_NO,
    ChoiceDef,
    QuestionDef,
    QuestionnaireDef,
    SectionDef,
    variable_types,
)
from ..json_input import JSONInputError, parse_json
from ..models import AuditAction, QuestionSet, QuestionSetVersion, User
from ..services.content import copy_rules_scores_and_panel, rule_problems, write_questionnaire
from .conditions import (
    MEASURED_IN,
    US_UNITS,
    ImportedTarget,
    in_metric_unit,
    show_when_from_enable_when,
)
from .export import LIST_INTRO_SUFFIX, MEASUREMENTS, MEDICATION_FIELDS
from .vocabulary import (
    CALCULATED_EXPRESSION,
    DIASTOLIC,
    ENABLE_WHEN_EXPRESSION,
    FHIRPATH,
    ITEM_CONTROL_EXTENSION,
    MAX_QUANTITY,
    MAX_VALUE,
    MIN_QUANTITY,
    MIN_VALUE,
    OPTION_EXCLUSIVE,
    ORDINAL_VALUE,
    OUR_LANGUAGE,
    QUESTIONNAIRE_UNIT,
    REGEX,
    SHOW_WHEN_PATH,
    SYSTOLIC,
    UNIT_OPTION,
    UNITS,
)

# Pasted into the admin's box, whose request body is at most 1 MB
# (DATA_UPLOAD_MAX_MEMORY_SIZE); this bounds any other caller the same way.
MAX_CHARACTERS = 1024 * 1024
MAX_ITEMS = 2000
MAX_DEPTH = 12
CODE_LENGTH = 64
RESERVED = KEYWORDS | {AGE, BMI}
UCUM_TO_OURS = {unit.code: name for name, unit in UNITS.items()}
# The LOINC code of a body height or weight item, for the kind it imports as.
MEASURED_BY_CODE = {m.vital.code.code: kind for kind, m in MEASUREMENTS.items()}


class NotAQuestionnaire(ValueError):
    """The text cannot be imported at all; the message says why."""


@dataclass
class ImportReport:
    title: str = ""
    sections: int = 0
    questions: int = 0
    choices: int = 0
    not_carried_over: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # renamed codes and other changes


# --- Reading the JSON ---------------------------------------------------------------------------


def read_questionnaire(text: str) -> dict:
    """Pasted JSON as a Questionnaire resource, checked against the FHIR models.

    Read by the bounded parser (screening/json_input.py): broken JSON, nesting too deep
    and numbers too long are refused with a message, never a crash.
    """
    if len(text) > MAX_CHARACTERS:
        raise NotAQuestionnaire(
            f"The text is {len(text):,} characters long; at most {MAX_CHARACTERS:,} can be"
            " imported."
        )
    if not text.strip():
        raise NotAQuestionnaire("Paste the Questionnaire's JSON into the box.")
    try:
        # A byte-order mark copied from a file is not part of the JSON.
        resource = parse_json(text.lstrip("\ufeff"))
    except JSONInputError as error:
        raise NotAQuestionnaire(str(error)) from None
    if not isinstance(resource, dict) or resource.get("resourceType") != "Questionnaire":
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        raise NotAQuestionnaire(
            f"The JSON holds a {kind or 'JSON value'}, not a FHIR Questionnaire."
        )
    if _count_items(resource.get("item") or [], 1) > MAX_ITEMS:
        raise NotAQuestionnaire(
            f"The Questionnaire has more than {MAX_ITEMS} items or nests them more than"
            f" {MAX_DEPTH} deep."
        )
    try:
        Questionnaire.model_validate(resource)
    except (ValidationError, ValueError, RecursionError) as error:
        errors = error.errors()[:5] if isinstance(error, ValidationError) else []
        details = (
            "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
            or str(error)[:300]
        )
        raise NotAQuestionnaire(f"This is not a valid FHIR Questionnaire: {details}") from None
    return resource


def _count_items(items: object, depth: int) -> int:
    if not isinstance(items, list):
        return 0
    if depth > MAX_DEPTH:
        return MAX_ITEMS + 1
    return sum(
        1 + _count_items(item.get("item"), depth + 1) for item in items if isinstance(item, dict)
    )


# --- Item helpers ------------------------------------------------------------------------------


def _extensions(element: dict, url: str) -> list[dict]:
    return [
        e for e in element.get("extension") or [] if isinstance(e, dict) and e.get("url") == url
    ]


def _extension_value(element: dict, url: str) -> object:
    for extension in _extensions(element, url):
        for key, value in extension.items():
            if key.startswith("value"):
                return value
    return None


def _is_help(item: dict) -> bool:
    control = _extension_value(item, ITEM_CONTROL_EXTENSION) or {}
    return any(c.get("code") == "help" for c in control.get("coding") or [] if isinstance(c, dict))


def _label(item: dict) -> str:
    return str(item.get("text") or item.get("linkId") or "").strip()


def _codes_of(item: dict) -> set[str]:
    return {c.get("code") for c in item.get("code") or [] if isinstance(c, dict)}


class _Codes:
    """Our codes for linkIds: slugs an expression can name, unique within the version."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def make(self, link_id: str, report: ImportReport) -> str:
        code = re.sub(r"[^a-z0-9_]+", "_", str(link_id).lower()).strip("_")
        if not code or code[0].isdigit():
            code = f"q_{code}".rstrip("_")
        code = code[: CODE_LENGTH - 4]
        candidate, number = code, 2
        while candidate in self.used or candidate in RESERVED:
            candidate, number = f"{code}_{number}", number + 1
        self.used.add(candidate)
        if candidate != link_id:
            report.notes.append(f'linkId "{link_id}" is the question code "{candidate}"')
        return candidate


def _choice_value(code: object) -> str:
    value = re.sub(r"[^A-Za-z0-9_-]+", "_", str(code)).strip("_")[:CODE_LENGTH]
    return value or "choice"


@dataclass
class _Pending:
    """A question read from an item, with the enableWhen still to translate."""

    question: QuestionDef
    link_ids: tuple[str, ...]  # the FHIR linkIds an enableWhen may name for it
    item: dict
    values_by_code: dict[str, str] = field(default_factory=dict)


# --- The pure conversion ---------------------------------------------------------------------------


def questionnaire_from_fhir(resource: dict) -> tuple[QuestionnaireDef, ImportReport]:
    report = ImportReport(title=str(resource.get("title") or resource.get("name") or "").strip())
    codes = _Codes()
    raw_sections: list[tuple[SectionDef, dict | None, list[_Pending]]] = []
    loose: list[dict] = []
    items = [i for i in resource.get("item") or [] if isinstance(i, dict)]
    for item in items:
        if item.get("type") == "group" and _plain_group(item):
            if loose:
                raw_sections.append(_loose_section(loose, len(raw_sections), codes, report))
                loose = []
            code = codes.make(str(item.get("linkId")), report)
            intro, pending = "", []
            children = [c for c in item.get("item") or [] if isinstance(c, dict)]
            if (
                children
                and children[0].get("type") == "display"
                and not _is_help(children[0])
                and not str(children[0].get("linkId", "")).endswith(LIST_INTRO_SUFFIX)
            ):
                intro = str(children[0].get("text") or "").strip()
                children = children[1:]
            if (
                children
                and children[0].get("type") == "display"
                and str(children[0].get("linkId", "")).endswith(LIST_INTRO_SUFFIX)
            ):
                # Our own export's list introduction: back after the marker line.
                list_intro = str(children[0].get("text") or "").strip()
                intro = f"{intro}\n{LIST_INTRO_MARKER}\n{list_intro}".lstrip("\n")
                children = children[1:]
            for child in _questions_in(children, codes, report, depth=1):
                pending.append(child)
            section = SectionDef(code=code, title=_label(item) or code, intro=intro)
            raw_sections.append((section, item, pending))
        else:
            loose.append(item)
    if loose:
        raw_sections.append(_loose_section(loose, len(raw_sections), codes, report))
    return _with_conditions(raw_sections, report)


def _loose_section(
    items: list[dict], index: int, codes: _Codes, report: ImportReport
) -> tuple[SectionDef, None, list]:
    """Top-level questions outside any group, gathered in a section of their own."""
    code = codes.make(f"questions_{index + 1}" if index else "questions", report)
    report.notes.append(f'Questions outside any group are in the section "{code}"')
    pending = _questions_in(items, codes, report, depth=1)
    return SectionDef(code=code, title="Questions"), None, pending


def _plain_group(item: dict) -> bool:
    """A group that is a section, not a blood pressure or a medication list."""
    return _blood_pressure_halves(item) is None and not _is_medication_list(item)


def _blood_pressure_halves(item: dict) -> tuple[dict, dict] | None:
    children = [
        c for c in item.get("item") or [] if isinstance(c, dict) and c.get("type") != "display"
    ]
    if item.get("type") != "group" or len(children) != 2:
        return None
    first, second = children
    by_code = _codes_of(first) == {SYSTOLIC.code} and _codes_of(second) == {DIASTOLIC.code}
    by_name = str(first.get("linkId", "")).endswith("_systolic") and str(
        second.get("linkId", "")
    ).endswith("_diastolic")
    numeric = all(c.get("type") in ("quantity", "decimal", "integer") for c in children)
    return (first, second) if numeric and (by_code or by_name) else None


def _is_medication_list(item: dict) -> bool:
    children = [
        c for c in item.get("item") or [] if isinstance(c, dict) and c.get("type") != "display"
    ]
    link = str(item.get("linkId", ""))
    expected = [f"{link}.{name}" for name, _ in MEDICATION_FIELDS]
    return (
        item.get("type") == "group"
        and bool(item.get("repeats"))
        and [c.get("linkId") for c in children] == expected
    )


def _questions_in(
    items: list[dict],
    codes: _Codes,
    report: ImportReport,
    depth: int,
) -> list[_Pending]:
    pending: list[_Pending] = []
    items = list(items)
    skip: set[str] = set()
    for item in items:
        link_id = str(item.get("linkId") or "")
        if link_id in skip:
            continue
        item_type = item.get("type")
        label = _label(item)
        if item_type == "display":
            if not _is_help(item):
                report.not_carried_over.append(f'Display text "{label[:80]}" (not a question)')
            continue
        if _extensions(item, CALCULATED_EXPRESSION) or item.get("readOnly"):
            report.not_carried_over.append(
                f'Calculated item "{label[:80]}": totals are score definitions here; add one in'
                " the admin if the rules copied from the version do not already have it"
            )
            continue
        if item_type == "group":
            if _blood_pressure_halves(item) or _is_medication_list(item):
                made = _question(item, codes, report)
                if made:
                    pending.append(made)
                    if made.question.kind == MEDICATION_LIST:
                        # Its "I don't take any" box, which our export puts beside it.
                        skip.add(f"{link_id}.none")
                continue
            report.notes.append(
                f'Group "{label[:80]}" inside a section: its questions are in that section'
            )
            if depth >= MAX_DEPTH:
                continue
            pending.extend(_questions_in(item.get("item") or [], codes, report, depth + 1))
            continue
        made = _question(item, codes, report)
        if made:
            pending.append(made)
        children = [
            c
            for c in item.get("item") or []
            if isinstance(c, dict) and not (c.get("type") == "display" and _is_help(c))
        ]
        if children and item_type not in ("group",):
            report.notes.append(f'Items under the question "{label[:80]}" follow it instead')
            pending.extend(_questions_in(children, codes, report, depth + 1))
    return pending


def _help_of(item: dict) -> str:
    return "\n\n".join(
        str(c.get("text") or "").strip()
        for c in item.get("item") or []
        if isinstance(c, dict) and c.get("type") == "display" and _is_help(c)
    )


def _number(value: object) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _unit_codings(item: dict) -> list[dict]:
    """The item's units: the options of a quantity item, then its questionnaire-unit."""
    found = [
        e.get("valueCoding")
        for url in (UNIT_OPTION, QUESTIONNAIRE_UNIT)
        for e in _extensions(item, url)
    ]
    return [coding for coding in found if isinstance(coding, dict)]


def _unit_of(item: dict) -> str:
    codings = _unit_codings(item)
    if not codings:
        return ""
    code = str(codings[0].get("code") or "")
    return UCUM_TO_OURS.get(code) or str(codings[0].get("display") or code)[:20]


def _measured_kind(item: dict) -> str | None:
    """HEIGHT or WEIGHT for a quantity item that asks one, else None.

    A body height or weight LOINC code says so; without a code, a metric unit of cm or kg
    (with at most the US unit beside it) does. Any other code (a waist circumference in
    cm, say) keeps it a number.
    """
    codes = {
        c.get("code") for c in item.get("code") or [] if isinstance(c, dict)
    } & MEASURED_BY_CODE.keys()
    if codes:
        return MEASURED_BY_CODE[codes.pop()]
    if item.get("code"):
        return None
    units = [str(c.get("code") or "") for c in _unit_codings(item)]
    for kind, metric in MEASURED_IN.items():
        if units and units[0] == metric.code and set(units) <= {metric.code, US_UNITS[kind].code}:
            return kind
    return None


def _bound(item: dict, url: str, kind: str) -> Decimal | None:
    quantity = _extension_value(item, url)
    value = in_metric_unit(quantity, kind) if quantity is not None else None
    if value is not None and value == value.to_integral_value():
        return value.to_integral_value()  # 100.0 cm is 100, never 1E+2
    return value


def _question(item: dict, codes: _Codes, report: ImportReport) -> _Pending | None:
    link_id = str(item.get("linkId") or "")
    item_type = item.get("type")
    label = _label(item)
    common = {
        "text": label,
        "help_text": _help_of(item),
        "required": bool(item.get("required", False)),
    }
    if item.get("repeats") and item_type not in ("choice", "open-choice", "group"):
        report.not_carried_over.append(f'"{label[:80]}" allows several answers: one is asked')
    halves = _blood_pressure_halves(item) if item_type == "group" else None
    if halves:
        code = codes.make(link_id, report)
        codes.used.update({f"{code}_systolic", f"{code}_diastolic"})
        question = QuestionDef(code=code, kind=BLOOD_PRESSURE, **common)
        return _Pending(question, tuple(str(h.get("linkId")) for h in halves), item)
    if item_type == "group":
        code = codes.make(link_id, report)
        return _Pending(QuestionDef(code=code, kind=MEDICATION_LIST, **common), (link_id,), item)
    kinds = {
        "boolean": YES_NO,
        "integer": INTEGER,
        "decimal": DECIMAL,
        "quantity": DECIMAL,
        "date": DATE,
        "dateTime": DATE,
        "string": SHORT_TEXT,
        "text": TEXT,
        "time": SHORT_TEXT,
        "url": SHORT_TEXT,
    }
    if item_type in ("attachment", "reference"):
        report.not_carried_over.append(f'"{label[:80]}" asks for a {item_type}: not asked here')
        return None
    if item_type in ("dateTime", "time", "url"):
        report.notes.append(f'"{label[:80]}" ({item_type}) is asked as a {kinds[item_type]}')
    values_by_code: dict[str, str] = {}
    if item_type in ("choice", "open-choice"):
        kind, choices, values_by_code = _choices(item, label, report)
        if not choices:
            report.not_carried_over.append(
                f'"{label[:80]}" takes its answers from a value set: asked as free text'
            )
            kind = TEXT
    elif item_type == "quantity" and _measured_kind(item):
        kind, choices = _measured_kind(item), ()
    elif item_type == "string":
        kind, choices = _string_kind(item, label, report), ()
    elif item_type in kinds:
        kind, choices = kinds[item_type], ()
    else:
        report.not_carried_over.append(f'"{label[:80]}" has an unknown type {item_type!r}')
        return None
    extra = {}
    if kind in (HEIGHT, WEIGHT):
        # In cm or kg whatever unit the bounds were given in; the kind knows its units.
        extra = {
            "min_value": _bound(item, MIN_QUANTITY, kind),
            "max_value": _bound(item, MAX_QUANTITY, kind),
        }
        if not _codes_of(item) & MEASURED_BY_CODE.keys():
            report.notes.append(
                f'"{label[:80]}" (a quantity in {MEASURED_IN[kind].code}) is asked as a {kind},'
                " in metric or US units"
            )
    if kind in (INTEGER, DECIMAL):
        extra = {
            "min_value": _number(_extension_value(item, MIN_VALUE)),
            "max_value": _number(_extension_value(item, MAX_VALUE)),
            "unit": _unit_of(item),
        }
        if item_type == "quantity":
            for key, url in (("min_value", MIN_QUANTITY), ("max_value", MAX_QUANTITY)):
                quantity = _extension_value(item, url)
                if extra[key] is None and isinstance(quantity, dict):
                    extra[key] = _number(quantity.get("value"))
        if item_type == "quantity" and extra["unit"]:
            report.notes.append(f'"{label[:80]}" (a quantity) is a number in {extra["unit"]}')
    code = codes.make(link_id, report)
    question = QuestionDef(code=code, kind=kind, choices=choices, **common, **extra)
    return _Pending(question, (link_id,), item, values_by_code)


def _string_kind(item: dict, label: str, report: ImportReport) -> str:
    """A one-line answer: a phone number when it carries our pattern, else a short text
    (or a text, when it may be longer than a short text's limit)."""
    pattern = _extension_value(item, REGEX)
    if pattern == PHONE_PATTERN:
        return PHONE
    if pattern is not None:
        report.not_carried_over.append(
            f'"{label[:80]}": the pattern its answer must match (it is asked as a short text)'
        )
    longest = item.get("maxLength")
    if isinstance(longest, int) and longest > SHORT_TEXT_MAX_LENGTH:
        report.notes.append(
            f'"{label[:80]}" takes answers of up to {longest} characters: asked as a text'
        )
        return TEXT
    return SHORT_TEXT


def _choices(
    item: dict, label: str, report: ImportReport
) -> tuple[str, tuple[ChoiceDef, ...], dict[str, str]]:
    choices: list[ChoiceDef] = []
    values_by_code: dict[str, str] = {}
    used: set[str] = set()
    scores: list[int | None] = []
    for option in item.get("answerOption") or []:
        if not isinstance(option, dict):
            continue
        if "valueCoding" in option:
            coding = option["valueCoding"] or {}
            code, display = coding.get("code"), coding.get("display") or coding.get("code")
            ordinal = _extension_value(option, ORDINAL_VALUE)
            if ordinal is None:
                ordinal = _extension_value(coding, ORDINAL_VALUE)
        else:
            raw = next((v for k, v in option.items() if k.startswith("value")), None)
            code, display, ordinal = raw, raw, _extension_value(option, ORDINAL_VALUE)
        if code is None:
            continue
        value = _choice_value(code)
        while value in used:
            value = f"{value}_x"
        used.add(value)
        values_by_code[str(code)] = value
        number = _number(ordinal)
        scores.append(int(number) if number is not None and number == int(number) else None)
        exclusive = _extension_value(option, OPTION_EXCLUSIVE) is True
        choices.append(ChoiceDef(value, str(display)[:300], None, exclusive))
    if item.get("type") == "open-choice":
        report.not_carried_over.append(f'"{label[:80]}": the free-text "other" answer')
    repeats = bool(item.get("repeats"))
    if scores and all(score is not None for score in scores) and not repeats:
        scored = tuple(
            ChoiceDef(c.value, c.label, score, False)
            for c, score in zip(choices, scores, strict=True)
        )
        return SCALE_ITEM, scored, values_by_code
    if any(score is not None for score in scores):
        report.not_carried_over.append(
            f'"{label[:80]}": scores of some answers only, or of several answers at once'
        )
    if repeats:
        return MULTIPLE_CHOICE, tuple(choices), values_by_code
    return SINGLE_CHOICE, tuple(ChoiceDef(c.value, c.label) for c in choices), values_by_code


def _show_when(
    item: dict, targets: dict[str, ImportedTarget], what: str, report: ImportReport
) -> str:
    expression = _extension_value(item, ENABLE_WHEN_EXPRESSION)
    if isinstance(expression, dict):
        language = expression.get("language")
        if language == OUR_LANGUAGE:
            return str(expression.get("expression") or "")
        ours = next(
            (
                e.get("valueString")
                for e in expression.get("extension") or []
                if isinstance(e, dict) and str(e.get("url", "")).endswith(SHOW_WHEN_PATH)
            ),
            None,
        )
        if language == FHIRPATH and ours:
            return str(ours)
        report.not_carried_over.append(
            f"The condition of {what} ({language} expression): it is always asked"
        )
        return ""
    conditions = [c for c in item.get("enableWhen") or [] if isinstance(c, dict)]
    if not conditions:
        return ""
    text, problems = show_when_from_enable_when(conditions, item.get("enableBehavior"), targets)
    for problem in problems:
        report.not_carried_over.append(f"The condition of {what}: {problem}; it is always asked")
    return text


def _with_conditions(
    raw_sections: list, report: ImportReport
) -> tuple[QuestionnaireDef, ImportReport]:
    """Translate every enableWhen against the questions before it, and check the result."""
    targets: dict[str, ImportedTarget] = {}
    sections: list[SectionDef] = []
    for section, group, pending in raw_sections:
        if not pending:
            report.not_carried_over.append(
                f'Section "{section.title[:80]}" has no question we can ask'
            )
            continue
        section_when = (
            _show_when(group, targets, f'section "{section.title[:80]}"', report) if group else ""
        )
        questions: list[QuestionDef] = []
        for entry in pending:
            show_when = _show_when(entry.item, targets, f'"{entry.question.text[:80]}"', report)
            questions.append(_replace(entry.question, show_when=show_when))
            question = entry.question
            if question.kind == BLOOD_PRESSURE:
                for link_id, name in zip(entry.link_ids, question.expression_names, strict=True):
                    targets[link_id] = ImportedTarget(name, DECIMAL)
            elif question.kind != MEDICATION_LIST:
                targets[entry.link_ids[0]] = ImportedTarget(
                    question.code, question.kind, question.choices, entry.values_by_code
                )
        sections.append(_replace(section, show_when=section_when, questions=tuple(questions)))
    checked = _drop_invalid_conditions(QuestionnaireDef(tuple(sections)), report)
    report.sections = len(checked.sections)
    report.questions = len(checked.questions_by_code)
    report.choices = sum(len(q.choices) for q in checked.questions_by_code.values())
    return checked, report


_Definition = TypeVar("_Definition")


def _replace(definition: _Definition, **changes: object) -> _Definition:
    return replace(definition, **changes)


def _drop_invalid_conditions(
    questionnaire: QuestionnaireDef, report: ImportReport
) -> QuestionnaireDef:
    """A condition our validator refuses is dropped (the question is then always asked)."""
    sections = []
    for section in questionnaire.sections:
        section_when = section.show_when
        if section_when:
            problems = validate(
                section_when, variable_types(questionnaire, before_section=section.code)
            )
            if problems:
                report.not_carried_over.append(
                    f'The condition of section "{section.title[:80]}": {problems[0].message}'
                )
                section_when = ""
        questions = []
        for question in section.questions:
            show_when = question.show_when
            if show_when:
                names = variable_types(questionnaire, before_question=question.code)
                problems = validate(show_when, names)
                if problems:
                    report.not_carried_over.append(
                        f'The condition of "{question.text[:80]}": {problems[0].message}'
                    )
                    show_when = ""
            questions.append(_replace(question, show_when=show_when))
        sections.append(_replace(section, show_when=section_when, questions=tuple(questions)))
    return QuestionnaireDef(tuple(sections))


# --- Writing the draft ------------------------------------------------------------------------------


@transaction.atomic
def import_as_draft(
    *,
    question_set: QuestionSet,
    resource: dict,
    rules_from: QuestionSetVersion | None,
    actor: User,
    ip_address: str | None = None,
) -> tuple[QuestionSetVersion, ImportReport]:
    """A new draft version of `question_set` holding the Questionnaire's questions.

    With `rules_from`, that version's rules and scores are copied too; those that no longer
    fit the imported questions are listed in the report (publishing refuses them until
    they are fixed).
    """
    questionnaire, report = questionnaire_from_fhir(resource)
    if not questionnaire.questions_by_code:
        raise NotAQuestionnaire("The Questionnaire has no question that can be imported.")
    # The set's row serialises new versions of it (as for make_draft and publishing).
    question_set = QuestionSet.objects.select_for_update().get(pk=question_set.pk)
    source = " ".join(
        part
        for part in (
            report.title,
            str(resource.get("url") or ""),
            str(resource.get("version") or ""),
        )
        if part
    )
    draft = QuestionSetVersion.objects.create(
        question_set=question_set,
        number=question_set.next_version_number(),
        notes=f"Imported from a FHIR Questionnaire: {source}"[:2000],
    )
    write_questionnaire(draft, questionnaire)
    if rules_from is not None:
        copy_rules_scores_and_panel(rules_from, draft)
        codes = set(questionnaire.questions_by_code)
        for score in draft.score_definitions.all():
            missing = [item for item in score.items if item not in codes]
            if missing:
                report.not_carried_over.append(
                    f"Score {score.code}: its items {', '.join(missing)} are not in the import"
                )
        report.not_carried_over.extend(rule_problems(draft))
    audit.record(
        actor=actor,
        ip_address=ip_address,
        action=AuditAction.IMPORTED,
        obj=draft,
        summary=f"{draft} imported from FHIR ({report.questions} questions)",
    )
    return draft, report
