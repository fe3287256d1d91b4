"""Show-when conditions in FHIR: our expression tree as ``enableWhen`` or FHIRPath, and back.

Export works on the parsed tree (screening.engine.expressions), never on the text:

- a comparison of one answer with a fixed value, and an ``and`` (or an ``or``) of such
  comparisons, becomes a list of ``enableWhen`` with ``enableBehavior`` all (or any). A
  comparison that needs two conditions in FHIR (``!=`` is "answered and different", since
  an unanswered question is unknown to us but "not equal" to R4) only fits under ``and``;
  one that needs several (a scale item's score compared with a number is the set of choices
  with such a score) only fits under ``or``;
- anything else whose every comparison translates (``not``, ``and`` inside ``or``, a
  negated membership...) becomes an SDC ``enableWhenExpression`` in FHIRPath, whose empty
  collection is our "unknown": FHIRPath's ``and``, ``or`` and ``not()`` treat it as our
  three-valued logic does;
- the rest (derived values such as ``age`` and ``bmi``, functions) stays in our language,
  marked with its own media type.

Import turns ``enableWhen`` back into our language and checks it with our validator.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from ..engine.expressions import (
    AllOf,
    AnyOf,
    Comparison,
    ExpressionError,
    Literal,
    Membership,
    Node,
    Not,
    OneOf,
    VariableRef,
    _compare,
    _parse_iso_date,
    parse,
)
from ..engine.questionnaire import (
    BLOOD_PRESSURE,
    DATE,
    DECIMAL,
    HEIGHT,
    INTEGER,
    MULTIPLE_CHOICE,
    SCALE_ITEM,
    SINGLE_CHOICE,
    TEXT,
    WEIGHT,
    YES_NO,
    ChoiceDef,
    QuestionnaireDef,
)
from ..engine.units import CM_PER_INCH, KG_PER_POUND
from .vocabulary import (
    CM,
    ENABLE_WHEN_EXPRESSION,
    FHIRPATH,
    INCH,
    KG,
    MM_HG,
    OUR_LANGUAGE,
    POUND,
    SHOW_WHEN_PATH,
    Unit,
)

_FLIPPED = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}
# Kinds whose answers are ordered, so <, <=, > and >= apply. A height or weight is compared
# in cm or kg, as the engine compares it whatever unit the patient typed.
ORDERED = (INTEGER, DECIMAL, DATE, HEIGHT, WEIGHT)
# The metric unit each measurement is stored and compared in, and the US one it may be
# typed in.
MEASURED_IN = {HEIGHT: CM, WEIGHT: KG}
US_UNITS = {HEIGHT: INCH, WEIGHT: POUND}


@dataclass(frozen=True)
class Target:
    """An answer an expression can name, as FHIR sees it."""

    link_id: str
    kind: str  # our question kind (a blood pressure's halves are decimals in mm[Hg])
    answer_type: str  # the suffix of enableWhen.answer[x]
    choices: tuple[ChoiceDef, ...] = ()
    unit: Unit | None = None  # for an answer that is a Quantity: its unit

    @property
    def quantity(self) -> bool:
        return self.unit is not None


def targets_of(questionnaire: QuestionnaireDef) -> dict[str, Target]:
    """Every expression name that is an answer in the Questionnaire, by that name.

    The short texts and phone numbers are not: they are free text, which no show-when reads
    (engine/questionnaire.py), so nothing may ever make them a condition in FHIR either.
    """
    answer_types = {
        YES_NO: "Boolean",
        SINGLE_CHOICE: "Coding",
        MULTIPLE_CHOICE: "Coding",
        SCALE_ITEM: "Coding",
        INTEGER: "Integer",
        DECIMAL: "Decimal",
        DATE: "Date",
        TEXT: "String",
    }
    targets: dict[str, Target] = {}
    for question in questionnaire.questions_by_code.values():
        if question.kind == BLOOD_PRESSURE:
            for name in question.expression_names:
                targets[name] = Target(name, DECIMAL, "Quantity", unit=MM_HG)
        elif question.kind in MEASURED_IN:
            targets[question.code] = Target(
                question.code, question.kind, "Quantity", unit=MEASURED_IN[question.kind]
            )
        elif question.kind in answer_types:
            targets[question.code] = Target(
                question.code, question.kind, answer_types[question.kind], question.choices
            )
    return targets


@dataclass
class Translation:
    """How one show-when travels: enableWhen, or an enableWhenExpression, or nothing."""

    enable_when: list[dict] = field(default_factory=list)
    behavior: str | None = None  # "all" or "any", when there is more than one enableWhen
    expression: dict | None = None  # an Expression for the SDC extension

    def apply(self, item: dict) -> None:
        if self.enable_when:
            item["enableWhen"] = self.enable_when
            if self.behavior:
                item["enableBehavior"] = self.behavior
        if self.expression:
            item.setdefault("extension", []).append(
                {"url": ENABLE_WHEN_EXPRESSION, "valueExpression": self.expression}
            )


def translate(text: str, targets: Mapping[str, Target], base: str) -> Translation:
    """A show-when as FHIR; an empty or unparseable one becomes no condition at all."""
    text = text.strip()
    if not text:
        return Translation()
    try:
        tree = parse(text).tree
    except ExpressionError:
        # Saved expressions are validated; the intake asks a question whose condition does
        # not parse, so FHIR shows it too.
        return Translation()
    simple = _enable_when(tree, targets)
    if simple is not None:
        conditions, behavior = simple
        return Translation(conditions, behavior if len(conditions) > 1 else None)
    fhirpath = _fhirpath(tree, targets)
    if fhirpath is not None:
        return Translation(
            expression={
                "language": FHIRPATH,
                "expression": fhirpath,
                "extension": [{"url": base + SHOW_WHEN_PATH, "valueString": text}],
            }
        )
    return Translation(
        expression={
            "language": OUR_LANGUAGE,
            "expression": text,
            "description": "Clinic screening expression language; no FHIRPath equivalent",
        }
    )


# --- enableWhen -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Clause:
    conditions: tuple[dict, ...]
    joined_by: str  # "all" or "any" (irrelevant for a single condition)


def _enable_when(tree: Node, targets: Mapping[str, Target]) -> tuple[list[dict], str] | None:
    if isinstance(tree, (AllOf, AnyOf)):
        behavior = "all" if isinstance(tree, AllOf) else "any"
        conditions: list[dict] = []
        for operand in tree.operands:
            clause = _clause(operand, targets)
            if clause is None or (len(clause.conditions) > 1 and clause.joined_by != behavior):
                return None
            conditions.extend(clause.conditions)
        return conditions, behavior
    clause = _clause(tree, targets)
    if clause is None:
        return None
    return list(clause.conditions), clause.joined_by


def _condition(target: Target, operator: str, value: object) -> dict:
    return {"question": target.link_id, "operator": operator, f"answer{target.answer_type}": value}


def _exists(target: Target) -> dict:
    return {"question": target.link_id, "operator": "exists", "answerBoolean": True}


def _answer_value(target: Target, literal: Literal) -> object | None:
    """The literal as this target's enableWhen answer, or None when it has no exact form."""
    value = literal.value
    if target.kind == YES_NO:
        return {"yes": True, "no": False}.get(value) if isinstance(value, str) else None
    if target.kind == SINGLE_CHOICE:
        choice = _choice(target, value)
        return _coding(choice) if choice else None
    if target.kind == TEXT:
        return value if isinstance(value, str) else None
    if target.kind == DATE:
        return value if isinstance(value, str) and _parse_iso_date(value) else None
    if target.unit is not None:
        return target.unit.quantity(_json_number(value)) if not isinstance(value, str) else None
    if target.kind == INTEGER:
        return value if isinstance(value, int) else None
    if target.kind == DECIMAL:
        return _json_number(value) if not isinstance(value, str) else None
    return None


def _clause(node: Node, targets: Mapping[str, Target]) -> _Clause | None:
    if isinstance(node, Comparison):
        oriented = _orient(node)
        if oriented is None:
            return None
        name, operator, literal = oriented
        target = targets.get(name)
        if target is None:
            return None
        if target.kind == SCALE_ITEM:
            chosen = _choices_scoring(target, operator, literal)
            if chosen is None or not chosen:
                return None
            if len(chosen) == len(target.choices):
                return _Clause((_exists(target),), "all")
            return _Clause(tuple(_condition(target, "=", _coding(c)) for c in chosen), "any")
        if target.kind == MULTIPLE_CHOICE:
            return None
        if operator in ("<", "<=", ">", ">=") and target.kind not in ORDERED:
            return None
        value = _answer_value(target, literal)
        if value is None:
            return None
        if operator == "!=":
            return _Clause((_exists(target), _condition(target, "!=", value)), "all")
        return _Clause((_condition(target, operator, value),), "all")
    if isinstance(node, Membership):
        target = targets.get(node.collection.name)
        if (
            node.negated
            or target is None
            or target.kind != MULTIPLE_CHOICE
            or not isinstance(node.item, Literal)
        ):
            return None
        choice = _choice(target, node.item.value)
        return _Clause((_condition(target, "=", _coding(choice)),), "all") if choice else None
    if isinstance(node, OneOf):
        if not isinstance(node.subject, VariableRef):
            return None
        target = targets.get(node.subject.name)
        if target is None or target.kind in (MULTIPLE_CHOICE, SCALE_ITEM):
            return None
        values = [_answer_value(target, option) for option in node.options]
        if any(value is None for value in values):
            return None
        if node.negated:
            conditions = [_condition(target, "!=", value) for value in values]
            return _Clause((_exists(target), *conditions), "all")
        return _Clause(tuple(_condition(target, "=", value) for value in values), "any")
    return None


def _orient(node: Comparison) -> tuple[str, str, Literal] | None:
    """(variable, operator, literal) with the variable on the left, or None."""
    left, right = node.left, node.right
    if isinstance(left, VariableRef) and isinstance(right, Literal):
        return left.name, node.operator, right
    if isinstance(left, Literal) and isinstance(right, VariableRef):
        return right.name, _FLIPPED[node.operator], left
    return None


def _choice(target: Target, value: object) -> ChoiceDef | None:
    return next((c for c in target.choices if c.value == value), None)


def _choices_scoring(target: Target, operator: str, literal: Literal) -> list[ChoiceDef] | None:
    """The choices of a scale item whose score makes `score operator literal` true."""
    if isinstance(literal.value, str):
        return None
    return [
        choice
        for choice in target.choices
        if choice.score is not None and _compare(operator, choice.score, literal.value)
    ]


def _coding(choice: ChoiceDef) -> dict:
    return {"code": choice.value, "display": choice.label}


def _json_number(value: int | Decimal) -> int | float:
    return value if isinstance(value, int) else float(value)


# --- FHIRPath --------------------------------------------------------------------------------


def answer_path(link_id: str) -> str:
    return f"%resource.repeat(item).where(linkId = {_string(link_id)}).answer.value"


def _string(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _number(value: int | Decimal) -> str:
    return str(value)


def _fhirpath(node: Node, targets: Mapping[str, Target]) -> str | None:
    if isinstance(node, AllOf | AnyOf):
        parts = [_fhirpath(operand, targets) for operand in node.operands]
        if any(part is None for part in parts):
            return None
        joiner = " and " if isinstance(node, AllOf) else " or "
        return joiner.join(f"({part})" for part in parts)
    if isinstance(node, Not):
        inner = _fhirpath(node.operand, targets)
        return None if inner is None else f"({inner}).not()"
    if isinstance(node, Comparison):
        return _fhirpath_comparison(node, targets)
    if isinstance(node, Membership):
        target = targets.get(node.collection.name)
        if target is None or target.kind != MULTIPLE_CHOICE or not isinstance(node.item, Literal):
            return None
        if not isinstance(node.item.value, str):
            return None
        codes = f"{answer_path(target.link_id)}.code"
        found = f"{_string(node.item.value)} in {codes}"
        if node.negated:
            found = f"({found}).not()"
        # An unanswered list is unknown, never "does not contain".
        return f"iif({codes}.exists(), {found}, {{}})"
    if isinstance(node, OneOf):
        if not isinstance(node.subject, VariableRef):
            return None
        target = targets.get(node.subject.name)
        if target is None:
            return None
        options = [_fhirpath_atom(target, "=", option) for option in node.options]
        if any(option is None for option in options):
            return None
        either = " or ".join(f"({option})" for option in options)
        return f"({either}).not()" if node.negated else either
    return None


def _fhirpath_comparison(node: Comparison, targets: Mapping[str, Target]) -> str | None:
    if isinstance(node.left, VariableRef) and isinstance(node.right, VariableRef):
        left, right = targets.get(node.left.name), targets.get(node.right.name)
        plain = (*ORDERED, YES_NO)
        if left is None or right is None or left.kind not in plain or right.kind not in plain:
            return None
        return f"{_value_path(left)} {node.operator} {_value_path(right)}"
    oriented = _orient(node)
    if oriented is None:
        return None
    name, operator, literal = oriented
    target = targets.get(name)
    return None if target is None else _fhirpath_atom(target, operator, literal)


def _value_path(target: Target) -> str:
    path = answer_path(target.link_id)
    return f"{path}.value" if target.quantity else path


def _fhirpath_atom(target: Target, operator: str, literal: Literal) -> str | None:
    path = answer_path(target.link_id)
    op = operator  # our operators are FHIRPath's
    if target.kind == SCALE_ITEM:
        chosen = _choices_scoring(target, operator, literal)
        if chosen is None:
            return None
        codes = " | ".join(_string(choice.value) for choice in chosen)
        if not chosen:
            # Answered: false; unanswered: unknown.
            return f"iif({path}.exists(), false, {{}})"
        return f"{path}.code in ({codes})"
    if target.kind == MULTIPLE_CHOICE:
        return None
    value = _answer_value(target, literal)
    if value is None:
        return None
    if operator in ("<", "<=", ">", ">=") and target.kind not in ORDERED:
        return None
    if target.kind == YES_NO:
        return f"{path} {op} {'true' if value else 'false'}"
    if target.kind == SINGLE_CHOICE:
        return f"{path}.code {op} {_string(literal.value)}"
    if target.kind == TEXT:
        return f"{path} {op} {_string(literal.value)}"
    if target.kind == DATE:
        return f"{path} {op} @{literal.value}"
    if target.quantity:
        return f"{path}.value {op} {_number(literal.value)}"
    return f"{path} {op} {_number(literal.value)}"


def score_expression(items: Iterable[tuple[str, tuple[ChoiceDef, ...]]]) -> str:
    """FHIRPath for a score: the sum of the answered items' scores, empty when none is.

    Standard FHIRPath only (no ordinal() or weight() function): each item's chosen code
    is mapped to its score, so any SDC filler computes what our engine computes.
    """
    parts = []
    for link_id, choices in items:
        scored = [choice for choice in choices if choice.score is not None]
        mapping = "{}"
        for choice in reversed(scored):
            mapping = f"iif(code = {_string(choice.value)}, {choice.score}, {mapping})"
        parts.append(f"{answer_path(link_id)}.select({mapping})")
    combined = parts[0]
    for part in parts[1:]:
        combined = f"{combined}.combine({part})"
    return f"{combined}.aggregate(iif($total.empty(), $this, $total + $this))"


# --- Import: enableWhen back to our language ----------------------------------------------------


@dataclass(frozen=True)
class ImportedTarget:
    """A question already imported, as an enableWhen naming its linkId sees it."""

    code: str  # our question code (or a blood pressure half's expression name)
    kind: str
    choices: tuple[ChoiceDef, ...] = ()
    values_by_code: Mapping[str, str] = field(default_factory=dict)  # FHIR code -> our value


def our_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def show_when_from_enable_when(
    conditions: list[dict], behavior: str | None, targets: Mapping[str, ImportedTarget]
) -> tuple[str, list[str]]:
    """Our expression for a list of enableWhen, and what could not be carried over.

    The text is empty when nothing could be; the caller validates what comes back.
    """
    problems: list[str] = []
    behavior = behavior or "all"
    conditions = list(conditions)
    # "answered and not v" is how we export !=; our != already means both.
    if behavior == "all":
        differs = {c.get("question") for c in conditions if c.get("operator") == "!="}
        conditions = [
            c
            for c in conditions
            if not (
                c.get("operator") == "exists"
                and c.get("answerBoolean") is True
                and c.get("question") in differs
            )
        ]
    parts: list[str] = []
    for condition in conditions:
        part, problem = _from_condition(condition, targets)
        if problem:
            problems.append(problem)
        elif part:
            parts.append(part)
    if problems:
        return "", problems
    joiner = " and " if behavior == "all" else " or "
    return joiner.join(f"({part})" if " or " in part else part for part in parts), []


def _from_condition(condition: dict, targets: Mapping[str, ImportedTarget]) -> tuple[str, str]:
    link_id = condition.get("question", "")
    operator = condition.get("operator", "")
    target = targets.get(link_id)
    if target is None:
        return "", f'enableWhen names "{link_id}", which is not an earlier question'
    answer_key = next((key for key in condition if key.startswith("answer")), None)
    value = condition.get(answer_key) if answer_key else None
    code = target.code
    if operator == "exists":
        if value is not True:
            return "", f'enableWhen "{link_id} exists false" has no equivalent'
        if target.kind in (SINGLE_CHOICE, YES_NO) and target.choices:
            options = ", ".join(our_string(c.value) for c in target.choices)
            return f"{code} in ({options})", ""
        if target.kind == YES_NO:
            return f"{code} in (yes, no)", ""
        if target.kind == MULTIPLE_CHOICE:
            return " or ".join(f"{our_string(c.value)} in {code}" for c in target.choices), ""
        if target.kind == SCALE_ITEM:
            scores = sorted({c.score for c in target.choices if c.score is not None})
            return f"{code} in ({', '.join(str(s) for s in scores)})", ""
        return "", f'enableWhen "{link_id} exists" on a {target.kind} answer has no equivalent'
    if operator not in ("=", "!=", "<", "<=", ">", ">="):
        return "", f'enableWhen operator "{operator}" on "{link_id}" is not understood'
    if answer_key == "answerBoolean" and target.kind == YES_NO and operator in ("=", "!="):
        return f"{code} {operator} {'yes' if value else 'no'}", ""
    if answer_key == "answerCoding" and isinstance(value, dict) and operator in ("=", "!="):
        ours = target.values_by_code.get(str(value.get("code")))
        choice = next((c for c in target.choices if c.value == ours), None)
        if choice is None:
            return "", f'enableWhen on "{link_id}" names an answer that is not one of its choices'
        if target.kind == MULTIPLE_CHOICE:
            negation = " not" if operator == "!=" else ""
            return f"{our_string(choice.value)}{negation} in {code}", ""
        if target.kind == SCALE_ITEM:
            same_score = [c for c in target.choices if c.score == choice.score]
            if len(same_score) > 1:
                return "", (
                    f'enableWhen on "{link_id}" names one of several answers scoring'
                    f" {choice.score}; our expressions compare a scale item's score"
                )
            return f"{code} {operator} {choice.score}", ""
        return f"{code} {operator} {our_string(choice.value)}", ""
    number = value.get("value") if isinstance(value, dict) else value
    numeric = answer_key in ("answerInteger", "answerDecimal", "answerQuantity")
    if numeric and target.kind in (INTEGER, DECIMAL) and _is_number(number):
        return f"{code} {operator} {_our_number(number)}", ""
    if answer_key == "answerQuantity" and target.kind in MEASURED_IN:
        metric = in_metric_unit(value, target.kind)
        if metric is None:
            return "", f'enableWhen on "{link_id}" compares with a quantity in an unknown unit'
        return f"{code} {operator} {_our_number(metric)}", ""
    is_date = isinstance(value, str) and isinstance(_parse_iso_date(value), date)
    if answer_key == "answerDate" and target.kind == DATE and is_date:
        return f"{code} {operator} {our_string(value)}", ""
    if answer_key == "answerString" and target.kind == TEXT and operator in ("=", "!="):
        return f"{code} {operator} {our_string(str(value))}", ""
    return "", f'enableWhen on "{link_id}" ({operator} {answer_key}) has no equivalent'


def in_metric_unit(quantity: object, kind: str) -> Decimal | None:
    """A FHIR Quantity as a height in cm or a weight in kg; None when it is not one.

    A quantity with no unit is taken to be in the metric unit, as our items say; inches
    and pounds convert exactly, by their definitions (engine/units.py).
    """
    if not isinstance(quantity, dict) or not _is_number(quantity.get("value")):
        return None
    number = quantity["value"]
    value = Decimal(repr(number)) if isinstance(number, float) else Decimal(number)
    code = quantity.get("code") or quantity.get("unit") or ""
    metric, us = MEASURED_IN[kind], US_UNITS[kind]
    if code in ("", metric.code):
        return value
    if code == us.code:
        return value * (CM_PER_INCH if kind == HEIGHT else KG_PER_POUND)
    return None


def _is_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float | Decimal)


def _our_number(value: int | float | Decimal) -> str:
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, Decimal) and value != value.to_integral_value():
        value = value.normalize()  # 152.40 cm (60 inches) reads 152.4
    return format(value, "f") if isinstance(value, Decimal) else str(value)
