"""Read answers keyed by question code from JSON, validated exactly as the intake form would.

Used by the `evaluate` command (and the acceptance suite) so a file of answers meets the
same checks, and gets the same messages, as a patient typing them; and by the test panel,
whose synthetic cases must look exactly like answers a patient could have given.
"""

import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.datastructures import MultiValueDict

from .answer_fields import field_for, stored_value
from .engine.questionnaire import (
    BLOOD_PRESSURE,
    HEIGHT,
    MEDICATION_LIST,
    MULTIPLE_CHOICE,
    SCALE_ITEM,
    WEIGHT,
    YES_NO,
    QuestionDef,
    QuestionnaireDef,
)
from .engine.units import bmi, split_blood_pressure
from .json_input import JSONInputError, parse_json
from .measurement_fields import weight_to_check

# "5 ft 7 in", "5'7\"", "5 feet", "168 cm", "180 lb", "70 kg": a number with its unit.
FEET_AND_INCHES = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(?:ft|feet|foot|')\s*(?:(\d+(?:\.\d+)?)\s*(?:in|inches|inch|\"|'')?)?\s*$",
    re.IGNORECASE,
)
NUMBER_AND_UNIT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


class AnswersError(Exception):
    """Bad input; the message names the offending key."""


# An answers file is a few kilobytes; a bigger one is a mistake (or an attempt to exhaust memory).
MAX_FILE_BYTES = 1024 * 1024


def answers_from_bytes(raw: bytes, questionnaire: QuestionnaireDef) -> dict[str, object]:
    """Answers from a file's bytes: UTF-8 (with or without a byte-order mark), at most 1 MB."""
    if len(raw) > MAX_FILE_BYTES:
        raise AnswersError(f"The file is larger than {MAX_FILE_BYTES // 1024:,} KB.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        # The decoder counts from after a byte-order mark; say where it is in the file.
        position = error.start + len(raw) - len(error.object)
        raise AnswersError(
            f"The file is not UTF-8 text: byte 0x{raw[position]:02x} at position "
            f"{position:,} cannot be read. Save it as UTF-8."
        ) from error
    return answers_from_json(text, questionnaire)


def answers_from_json(text: str, questionnaire: QuestionnaireDef) -> dict[str, object]:
    try:
        data = parse_json(text)
    except JSONInputError as error:
        raise AnswersError(str(error)) from error
    if not isinstance(data, dict):
        raise AnswersError("The answers must be a JSON object keyed by question code.")
    data = _join_blood_pressure_halves(data, questionnaire)
    answers: dict[str, object] = {}
    for code, raw in data.items():
        question = questionnaire.questions_by_code.get(code)
        if question is None:
            raise AnswersError(f'"{code}": not a question code of the published question set.')
        if raw is None:
            continue
        answers[code] = _clean(question, raw)
    _check_weight_against_height(answers, questionnaire)
    return answers


def clean_answers(
    data: object, questionnaire: QuestionnaireDef
) -> tuple[dict[str, object], list[str]]:
    """Every answer in data checked and stored as the intake would store it, and every problem.

    Unlike answers_from_json this does not stop at the first bad key: a clinic admin fixing
    a test case sees everything wrong with it at once. null means "not answered".
    """
    if not isinstance(data, dict):
        return {}, [
            'The answers must be an object keyed by question code, e.g. {"pregnant": "no"}.'
        ]
    data = _join_blood_pressure_halves(data, questionnaire)
    answers: dict[str, object] = {}
    problems: list[str] = []
    for code, raw in data.items():
        # A check-in's test case may also give the baseline intake's answers.
        question = questionnaire.questions_by_code.get(code) or questionnaire.baseline_question(
            code
        )
        if question is None:
            problems.append(f'"{code}": not a question code of this version.')
        elif raw is not None:
            try:
                answers[code] = _clean(question, raw)
            except AnswersError as error:
                problems.append(str(error))
    return answers, problems


def _check_weight_against_height(answers: dict, questionnaire: QuestionnaireDef) -> None:
    """The intake's check for a weight typed in the wrong unit, worded for a file."""
    questions = questionnaire.questions_by_code.values()
    heights = [q.code for q in questions if q.kind == HEIGHT and q.code in answers]
    if not heights:
        return
    height = answers[heights[0]]
    for question in questions:
        weight = answers.get(question.code)
        if question.kind == WEIGHT and weight_to_check(height, weight):
            value = bmi(Decimal(str(height["cm"])), Decimal(str(weight["kg"])))
            typed, unit = (
                (weight["pounds"], "pounds") if "pounds" in weight else (weight["kg"], "kg")
            )
            other = "kg" if unit == "pounds" else "pounds"
            raise AnswersError(
                f'"{question.code}": {typed} {unit} with a height of {height["cm"]} cm gives a '
                f"BMI of {value}, which a weight typed in the wrong unit would give. Write "
                f'{{"{other}": {typed}}} if it was in {other}, or '
                f'{{"{unit}": {typed}, "confirmed": true}} if it is right.'
            )


def _join_blood_pressure_halves(data: dict, questionnaire: QuestionnaireDef) -> dict:
    """Accept {"bp_systolic": 120, "bp_diastolic": 80} as well as {"bp": "120/80"}."""
    data = dict(data)
    for question in questionnaire.questions_by_code.values():
        if question.kind != BLOOD_PRESSURE:
            continue
        systolic_name, diastolic_name = question.expression_names
        if systolic_name in data or diastolic_name in data:
            data[question.code] = {
                "systolic": data.pop(systolic_name, None),
                "diastolic": data.pop(diastolic_name, None),
            }
    return data


def _clean(question: QuestionDef, raw: object) -> object:
    code = question.code
    post = MultiValueDict()
    kind = question.kind
    if kind == YES_NO and isinstance(raw, bool):
        raw = "yes" if raw else "no"
    if kind == SCALE_ITEM and isinstance(raw, int) and not isinstance(raw, bool):
        by_score = [c.value for c in question.choices if c.score == raw]
        raw = by_score[0] if by_score else str(raw)
    if kind == MULTIPLE_CHOICE:
        if not isinstance(raw, list):
            raise AnswersError(f'"{code}": expected a list of choice values.')
        post.setlist(code, [str(item) for item in raw])
    elif kind == BLOOD_PRESSURE:
        if isinstance(raw, str) and split_blood_pressure(raw):
            systolic, diastolic = split_blood_pressure(raw)
        elif isinstance(raw, dict):
            systolic, diastolic = raw.get("systolic"), raw.get("diastolic")
        else:
            raise AnswersError(
                f'"{code}": expected "120/80" or {{"systolic": 120, "diastolic": 80}}.'
            )
        post[f"{code}_systolic"] = "" if systolic is None else str(systolic)
        post[f"{code}_diastolic"] = "" if diastolic is None else str(diastolic)
    elif kind == HEIGHT:
        _post_height(post, code, raw)
    elif kind == WEIGHT:
        _post_weight(post, code, raw)
    elif kind == MEDICATION_LIST:
        if isinstance(raw, dict) and isinstance(raw.get("rows"), list):
            # The stored shape, so a stored answer checks again to itself.
            post[f"{code}-none"] = "on" if raw.get("none") else ""
            raw = raw["rows"]
        if not isinstance(raw, list):
            raise AnswersError(
                f'"{code}": expected a list of typed entries, e.g. ["Xanax 0.5 mg"].'
            )
        post[f"{code}-rows"] = str(len(raw))
        if not raw:
            post[f"{code}-none"] = "on"
        for index, item in enumerate(raw):
            row = item if isinstance(item, dict) else {"name": item}
            for part in ("name", "dose", "frequency"):
                value = row.get(part)
                if isinstance(value, dict | list):
                    raise AnswersError(
                        f'"{code}": entry {index + 1}: "{part}" should be text, not a '
                        f"{'list' if isinstance(value, list) else 'JSON object'}."
                    )
                post[f"{code}-{index}-{part}"] = str(value or "")
    elif isinstance(raw, (dict, list)):
        raise AnswersError(
            f'"{code}": expected a single value for a {kind.replace("_", " ")} question.'
        )
    else:
        post[code] = str(raw)
    field = field_for(question)
    try:
        cleaned = field.clean(field.widget.value_from_datadict(post, {}, code))
    except ValidationError as error:
        raise AnswersError(f'"{code}": ' + " ".join(error.messages)) from error
    return stored_value(question, cleaned)


HEIGHT_EXAMPLES = '168, "168 cm", "5 ft 7 in", {"cm": 168} or {"feet": 5, "inches": 7}'
WEIGHT_EXAMPLES = '70, "70 kg", "154 lb", {"kg": 70} or {"pounds": 154}'


def _post_height(post: MultiValueDict, code: str, raw: object) -> None:
    """A height as a number of cm, a string with its unit, or {"cm"} / {"feet", "inches"}."""
    if isinstance(raw, bool):
        raise AnswersError(f'"{code}": expected a height such as {HEIGHT_EXAMPLES}.')
    if isinstance(raw, (int, float)):
        post[code] = str(raw)
    elif isinstance(raw, dict) and set(raw) <= {"cm", "feet", "inches"} and raw:
        post[code] = str(raw.get("cm", "") or "")
        post[f"{code}_feet"] = str(raw.get("feet", "") or "")
        post[f"{code}_inches"] = str(raw.get("inches", "") or "")
    elif isinstance(raw, str) and (found := FEET_AND_INCHES.match(raw)):
        post[f"{code}_feet"], post[f"{code}_inches"] = found.group(1), found.group(2) or "0"
    elif isinstance(raw, str) and (found := NUMBER_AND_UNIT.match(raw)):
        if found.group(2).lower() not in ("", "cm"):
            raise AnswersError(f'"{code}": expected a height such as {HEIGHT_EXAMPLES}.')
        post[code] = found.group(1)
    else:
        raise AnswersError(f'"{code}": expected a height such as {HEIGHT_EXAMPLES}.')


def _post_weight(post: MultiValueDict, code: str, raw: object) -> None:
    """A weight as a number of kg, a string with its unit, or {"kg"} / {"pounds"}, each
    with an optional "confirmed": true."""
    confirmed = False
    if isinstance(raw, dict) and raw and set(raw) <= {"kg", "pounds", "confirmed"}:
        confirmed = raw.get("confirmed") is True
        kg, pounds = raw.get("kg"), raw.get("pounds")
        post[code] = "" if kg is None else str(kg)
        post[f"{code}_lb"] = "" if pounds is None else str(pounds)
    elif isinstance(raw, (int, float)) and not isinstance(raw, bool):
        post[code] = str(raw)
    elif isinstance(raw, str) and (found := NUMBER_AND_UNIT.match(raw)):
        unit = found.group(2).lower()
        if unit in ("", "kg", "kgs", "kilograms"):
            post[code] = found.group(1)
        elif unit in ("lb", "lbs", "pounds"):
            post[f"{code}_lb"] = found.group(1)
        else:
            raise AnswersError(f'"{code}": expected a weight such as {WEIGHT_EXAMPLES}.')
    else:
        raise AnswersError(f'"{code}": expected a weight such as {WEIGHT_EXAMPLES}.')
    if confirmed:
        post[f"{code}_confirm"] = post.get(code) or post.get(f"{code}_lb", "")
