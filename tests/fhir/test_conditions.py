"""Show-when in FHIR means what it means here: enableWhen and FHIRPath against the engine.

For many answer sets, the questions a FHIR form filler would enable (R4's enableWhen rules,
and FHIRPath evaluated by fhirpathpy) are exactly the questions our wizard asks. No
database: the default question set is read from its file.
"""

from __future__ import annotations

import datetime
import functools
import random
from decimal import Decimal

import pytest
from fhirpathpy import apply_parsed_path
from fhirpathpy import parse as parse_fhirpath
from fhirpathpy.models import models as fhirpath_models

from screening.engine.definitions import (
    DEFAULT_CONTENT_FILE,
    questionnaire_from_data,
    read_content,
    score_defs_from_data,
)
from screening.engine.expressions import parse
from screening.engine.questionnaire import (
    ChoiceDef,
    QuestionDef,
    QuestionnaireDef,
    SectionDef,
    expression_values_of,
    work_out_visibility,
)
from screening.fhir.conditions import score_expression, targets_of, translate
from screening.fhir.export import (
    QuestionSetData,
    ScreeningData,
    questionnaire,
    questionnaire_response,
)
from screening.fhir.vocabulary import ENABLE_WHEN_EXPRESSION, FHIRPATH, OUR_LANGUAGE
from tests.engine.test_default_rules import BASELINE, CASES, TODAY, answers

BASE = "https://clinic.example.org/fhir/R4"
R4 = fhirpath_models["r4"]


# fhirpathpy parses an expression on every evaluation, most of the time an evaluation takes;
# each expression here is evaluated against many responses, so it is parsed once (what
# fhirpathpy's own compile() does).
parsed_fhirpath = functools.cache(parse_fhirpath)


def fhirpath(resource, expression: str, context: dict, model) -> list:
    return apply_parsed_path(resource, parsed_fhirpath(expression), context, model)


DATA, _ = read_content(DEFAULT_CONTENT_FILE)
DEFAULT = questionnaire_from_data(DATA)
SCORES = score_defs_from_data(DATA)


def question_set(definition: QuestionnaireDef, scores=()) -> QuestionSetData:
    return QuestionSetData(
        "00000000-0000-4000-8000-000000000001",
        "test-set",
        "Test set",
        "",
        1,
        "published",
        None,
        definition,
        tuple(scores),
    )


def response_with(definition: QuestionnaireDef, stored: dict, scores=()) -> dict:
    """A QuestionnaireResponse holding every stored answer, shown or not."""
    data = ScreeningData(
        id="00000000-0000-4000-8000-000000000002",
        status="submitted",
        submitted_at=datetime.datetime(2026, 11, 23, 10, tzinfo=datetime.UTC),
        evaluated_at=None,
        patient_id="00000000-0000-4000-8000-000000000003",
        patient_name="Test Patient",
        question_set=question_set(definition),
        answers=stored,
        scores=scores,
    )
    return questionnaire_response(data, BASE)


# --- A small R4 form filler: which items are enabled -----------------------------------------


def _answers_by_link(items, found=None):
    found = {} if found is None else found
    for item in items:
        if "answer" in item:
            found.setdefault(item["linkId"], []).extend(item["answer"])
        _answers_by_link(item.get("item", []), found)
    return found


def _matches(answer: dict, operator: str, expected_key: str, expected) -> bool:
    kind = expected_key.removeprefix("answer")
    value = answer.get(f"value{kind}")
    if value is None:
        return False
    if kind == "Coding":
        value, expected = value.get("code"), expected.get("code")
    if kind == "Quantity":
        value, expected = value.get("value"), expected.get("value")
    if kind == "Date":
        value, expected = datetime.date.fromisoformat(value), datetime.date.fromisoformat(expected)
    return {
        "=": value == expected,
        "!=": value != expected,
        ">": value > expected,
        ">=": value >= expected,
        "<": value < expected,
        "<=": value <= expected,
    }[operator]


def _condition_holds(condition: dict, answers: dict) -> bool:
    """R4's operators: exists; "=" when at least one answer equals; "!=" when no answer
    equals (so an unanswered question is "not equal"); the orderings when at least one
    answer compares so (R4's wording of these is a known erratum, fixed in R5)."""
    given = answers.get(condition["question"], [])
    operator = condition["operator"]
    if operator == "exists":
        return bool(given) == condition["answerBoolean"]
    key = next(k for k in condition if k.startswith("answer"))
    if operator == "!=":
        return not any(_matches(answer, "=", key, condition[key]) for answer in given)
    return any(_matches(answer, operator, key, condition[key]) for answer in given)


def enabled_codes(form: dict, response: dict) -> set[str]:
    """The linkIds an R4 filler enables, answers of disabled items counting as absent."""
    all_answers = _answers_by_link(response["item"])
    live: dict[str, list] = {}
    enabled: set[str] = set()

    def visit(items):
        for item in items:
            if not is_enabled(item):
                continue
            enabled.add(item["linkId"])
            if item["linkId"] in all_answers:
                live[item["linkId"]] = all_answers[item["linkId"]]
            visit(item.get("item", []))

    def is_enabled(item) -> bool:
        expression = next(
            (
                e["valueExpression"]
                for e in item.get("extension", [])
                if e["url"] == ENABLE_WHEN_EXPRESSION
            ),
            None,
        )
        if expression is not None:
            assert expression["language"] == FHIRPATH, expression
            context = {"resource": _response_with_only(response, live)}
            return fhirpath(context["resource"], expression["expression"], context, R4) == [True]
        conditions = item.get("enableWhen")
        if not conditions:
            return True
        results = [_condition_holds(c, live) for c in conditions]
        return any(results) if item.get("enableBehavior") == "any" else all(results)

    visit(form["item"])
    return enabled


def _response_with_only(response: dict, live: dict) -> dict:
    """The response as the filler sees it so far: answers of enabled items only."""

    def keep(items):
        kept = []
        for item in items:
            copy = {k: v for k, v in item.items() if k not in ("answer", "item")}
            if item["linkId"] in live and "answer" in item:
                copy["answer"] = item["answer"]
            children = keep(item.get("item", []))
            if children:
                copy["item"] = children
            if "answer" in copy or "item" in copy:
                kept.append(copy)
        return kept

    return {**response, "item": keep(response["item"])}


# --- The default question set ------------------------------------------------------------------

ANSWER_SETS = (
    [BASELINE]
    + [answers(**changes) for case in CASES.values() for changes in (case.fire, case.quiet)]
    # Every other answer to each question that other questions depend on.
    + [
        answers(**{code: value})
        for code, question in DEFAULT.questions_by_code.items()
        if question.kind in ("yes_no", "single_choice", "scale_item") and code in BASELINE
        for value in ([c.value for c in question.choices] or ["yes", "no", None])
        if value != BASELINE[code]
    ]
    # Each multiple-choice question answered with one of its choices alone (so what is
    # asked for "other" is skipped once).
    + [
        answers(**{code: [choice.value]})
        for code, question in DEFAULT.questions_by_code.items()
        if question.kind == "multiple_choice" and code in BASELINE
        for choice in question.choices
        if [choice.value] != BASELINE[code]
    ]
    # ... and no answer at all to each of them (unknown, never "not equal").
    + [
        answers(**{code: None})
        for code, question in DEFAULT.questions_by_code.items()
        if question.kind in ("single_choice", "scale_item") and code in BASELINE
    ]
)


def test_every_default_show_when_travels_as_enable_when():
    form = questionnaire(question_set(DEFAULT, SCORES), BASE)
    expressions = [
        e["valueExpression"]
        for item in _all_items(form["item"])
        for e in item.get("extension", [])
        if e["url"] == ENABLE_WHEN_EXPRESSION
    ]
    conditioned = [q for q in DEFAULT.questions_by_code.values() if q.show_when]
    assert len(conditioned) > 30
    assert expressions == []


def _all_items(items):
    for item in items:
        yield item
        yield from _all_items(item.get("item", []))


@pytest.mark.parametrize("index", range(len(ANSWER_SETS)))
def test_a_fhir_filler_asks_exactly_the_questions_the_wizard_asks(index):
    stored = ANSWER_SETS[index]
    form = questionnaire(question_set(DEFAULT, SCORES), BASE)
    asked = set(work_out_visibility(DEFAULT, stored, TODAY).questions)
    enabled = enabled_codes(form, response_with(DEFAULT, stored)) & set(DEFAULT.questions_by_code)
    assert enabled == asked


def test_the_answer_sets_exercise_both_sides_of_every_condition():
    """Each conditional question is asked in one answer set and skipped in another."""
    seen = {code: set() for code, q in DEFAULT.questions_by_code.items() if q.show_when}
    for stored in ANSWER_SETS:
        asked = work_out_visibility(DEFAULT, stored, TODAY).questions
        for code in seen:
            seen[code].add(code in asked)
    one_sided = sorted(code for code, sides in seen.items() if sides != {True, False})
    assert one_sided == [], one_sided


# --- Expressions that need FHIRPath -------------------------------------------------------------

FREQUENCY = tuple(ChoiceDef(f"s{score}", f"Score {score}", score) for score in range(4))
SYNTHETIC = QuestionnaireDef(
    (
        SectionDef(
            "only",
            "Only",
            questions=(
                QuestionDef("yn", "yes_no", "Yes or no?"),
                QuestionDef(
                    "ch",
                    "single_choice",
                    "One of",
                    choices=(ChoiceDef("a", "A"), ChoiceDef("b", "B"), ChoiceDef("c", "C")),
                ),
                QuestionDef(
                    "mc",
                    "multiple_choice",
                    "Any of",
                    choices=(
                        ChoiceDef("a", "A"),
                        ChoiceDef("b", "B"),
                        ChoiceDef("none", "None", exclusive=True),
                    ),
                ),
                QuestionDef("sc", "scale_item", "How often", choices=FREQUENCY),
                QuestionDef("n", "integer", "A whole number"),
                QuestionDef("d", "decimal", "A decimal"),
                QuestionDef("dt", "date", "A date"),
                QuestionDef("t", "text", "Some text"),
                QuestionDef("bp", "blood_pressure", "A blood pressure"),
                QuestionDef("h", "height", "How tall?"),
                QuestionDef("w", "weight", "How heavy?"),
                QuestionDef("st", "short_text", "A name"),
                QuestionDef("ph", "phone", "A phone number"),
            ),
        ),
    )
)
TARGETS = targets_of(SYNTHETIC)
EXPRESSIONS = [
    "not (yn = yes)",
    'yn = yes or (ch = "a" and n > 3)',
    '"a" not in mc',
    'not ("b" in mc) and yn = no',
    'ch != "a" or n < 2',
    "sc >= 2 and not (d < 1.5)",
    'dt >= "2020-01-01" and (t = "x" or yn = yes)',
    'ch in ("a", "b") and not (ch = "b")',
    'ch not in ("a", "b") or yn = yes',
    "sc > 5 or yn = no",
    "n = d or (n > 2 and d <= 2.5)",
    "(yn = yes and n >= 1) or (yn = no and sc = 0)",
    "2 < n or not (sc < 3)",
    "not (h >= 170.2)",
    "h < 160 or (w > 90 and yn = yes)",
    "not (w < h) or yn = no",
]
SIMPLE = [
    'yn = yes and ch != "c"',
    "sc > 0",
    '"b" in mc',
    "n >= 2 or d < 1.5",
    'ch in ("a", "b")',
    'ch not in ("a", "b")',
    'dt < "2001-02-03" and bp_systolic >= 140',
    't = "x"',
    'dt >= "2020-01-01" or t = "x"',
    "bp_systolic > 150 or bp_diastolic >= 95",
    "h >= 170.2",
    "w < 80 or h > 175",
    "w != 81.6",
    "h in (150, 180)",
]


def _random_answers(rng: random.Random) -> dict:
    def maybe(value):
        return None if rng.random() < 0.2 else value

    stored = {
        "yn": maybe(rng.choice(["yes", "no"])),
        "ch": maybe(rng.choice(["a", "b", "c"])),
        "mc": maybe(rng.choice([["a"], ["b"], ["a", "b"], ["none"]])),
        "sc": maybe(rng.choice(["s0", "s1", "s2", "s3"])),
        "n": maybe(rng.randint(0, 5)),
        "d": maybe(float(Decimal(rng.randint(0, 40)) / 10)),
        "dt": maybe(rng.choice(["1999-12-31", "2001-02-03", "2020-01-01", "2024-06-30"])),
        "t": maybe(rng.choice(["x", "y"])),
        "bp": maybe({"systolic": rng.choice([120, 150, 151]), "diastolic": rng.choice([80, 95])}),
        # Stored as the intake stores them: cm and kg, with the US units when typed in them.
        "h": maybe(rng.choice([{"cm": 150}, {"cm": 170.2, "feet": 5, "inches": 7}, {"cm": 180.3}])),
        "w": maybe(rng.choice([{"kg": 81.6, "pounds": 180}, {"kg": 70}, {"kg": 95.5}])),
        "st": maybe(rng.choice(["x", "Sam Lee"])),
        "ph": maybe(rng.choice(["555 201 4479", "x"])),
    }
    return {code: value for code, value in stored.items() if value is not None}


def _our_values(stored: dict) -> dict:
    values = {}
    for code, value in stored.items():
        values.update(expression_values_of(SYNTHETIC.questions_by_code[code], value))
    return values


ANSWERS = [_random_answers(random.Random(seed)) for seed in range(120)]


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_fhirpath_keeps_three_valued_logic(text):
    translation = translate(text, TARGETS, BASE)
    assert translation.enable_when == [] and translation.expression["language"] == FHIRPATH
    expected_counts = {True: 0, False: 0, None: 0}
    for stored in ANSWERS:
        ours = parse(text).evaluate(_our_values(stored))
        response = response_with(SYNTHETIC, stored)
        theirs = fhirpath(
            response, translation.expression["expression"], {"resource": response}, R4
        )
        assert theirs == ([] if ours is None else [ours]), (text, stored, theirs)
        expected_counts[ours] += 1
    assert expected_counts[True] and expected_counts[False]


@pytest.mark.parametrize("text", SIMPLE)
def test_simple_conditions_become_enable_when_with_the_same_meaning(text):
    translation = translate(text, TARGETS, BASE)
    assert translation.expression is None and translation.enable_when
    item = {"linkId": "probe", "type": "boolean"}
    translation.apply(item)
    form = {"item": [*questionnaire(question_set(SYNTHETIC), BASE)["item"], item]}
    outcomes = set()
    for stored in ANSWERS:
        ours = parse(text).is_true(_our_values(stored))
        enabled = "probe" in enabled_codes(form, response_with(SYNTHETIC, stored))
        assert enabled == ours, (text, stored)
        outcomes.add(ours)
    assert outcomes == {True, False}


@pytest.mark.parametrize("text", ["age >= 65", "bmi > 40 and yn = yes", 'takes("opioid")'])
def test_what_fhirpath_cannot_say_travels_in_our_language(text):
    translation = translate(text, TARGETS, BASE)
    assert translation.enable_when == []
    assert translation.expression == {
        "language": OUR_LANGUAGE,
        "expression": text,
        "description": "Clinic screening expression language; no FHIRPath equivalent",
    }


@pytest.mark.parametrize(
    "text", ['st = "Sam Lee"', 'ph != "555 201 4479"', 'yn = yes and st = "x"', 'ph in ("1", "2")']
)
def test_names_and_phone_numbers_never_become_a_fhir_condition(text):
    """Free text is no condition here (the validator refuses it), nor in FHIR: an
    expression naming one has neither enableWhen nor FHIRPath to search what was typed."""
    assert "st" not in TARGETS and "ph" not in TARGETS
    translation = translate(text, TARGETS, BASE)
    assert translation.enable_when == []
    assert translation.expression["language"] == OUR_LANGUAGE


def test_a_height_is_compared_in_cm_and_a_weight_in_kg():
    translation = translate("h >= 170.2 and w < 80", TARGETS, BASE)
    assert translation.enable_when == [
        {
            "question": "h",
            "operator": ">=",
            "answerQuantity": {
                "value": 170.2,
                "unit": "cm",
                "system": "http://unitsofmeasure.org",
                "code": "cm",
            },
        },
        {
            "question": "w",
            "operator": "<",
            "answerQuantity": {
                "value": 80,
                "unit": "kg",
                "system": "http://unitsofmeasure.org",
                "code": "kg",
            },
        },
    ]


def test_the_fhirpath_carries_the_original_show_when_for_our_importer():
    translation = translate("not (yn = yes)", TARGETS, BASE)
    [extension] = translation.expression["extension"]
    assert extension == {
        "url": f"{BASE}/StructureDefinition/show-when",
        "valueString": "not (yn = yes)",
    }


# --- Scores as calculated items ---------------------------------------------------------------------


@pytest.mark.parametrize("score", SCORES, ids=[score.code for score in SCORES])
def test_a_calculated_score_adds_up_as_the_engine_does(score, default_rules):
    targets = targets_of(DEFAULT)
    expression = score_expression((code, targets[code].choices) for code in score.items)
    rng = random.Random(score.code)
    totals = set()
    for _ in range(10):  # fhirpathpy takes ~0.1 s per evaluation of a 20-item total
        stored = dict(BASELINE)
        for code in score.items:
            choices = DEFAULT.questions_by_code[code].choices
            if rng.random() < 0.25:
                stored.pop(code, None)
            else:
                stored[code] = rng.choice(choices).value
        if rng.random() < 0.1:
            for code in score.items:
                stored.pop(code, None)
        ours = next(
            s.value for s in default_rules.evaluate(stored, TODAY).scores if s.code == score.code
        )
        visible = work_out_visibility(DEFAULT, stored, TODAY).answers
        response = response_with(DEFAULT, visible)
        theirs = fhirpath(response, expression, {"resource": response}, R4)
        assert theirs == ([] if ours is None else [ours]), (score.code, ours, theirs)
        totals.add(ours)
    assert len(totals) >= 3
