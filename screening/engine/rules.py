"""Turn a screening's answers into scores and flags: the clinical heart of the app.

Plain data in (the questionnaire, rule and score definitions, the formulary, stored
answers and today's date), plain data out (scores with bands, recognised medications,
flags with severity, message and evidence). No Django import: submission, the publish
preview, the `evaluate` command and the benchmarks all call `RuleSet.evaluate`.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from .expressions import (
    Expression,
    FunctionSpec,
    Problem,
    VariableKind,
    VariableType,
    parse,
    validate,
)
from .medications import Formulary, Match, make_takes_spec, make_unrecognised_spec, matches_for
from .questionnaire import (
    FREE_TEXT_KINDS,
    FREE_TEXT_REFUSED,
    MEDICATION_LIST,
    QuestionnaireDef,
    Visibility,
    is_answered,
    variable_types,
    work_out_visibility,
)
from .severity import Severity

# Medication lists whose entries may use street names ("coke" means cocaine only here).
RECREATIONAL_LIST_CODES = frozenset({"recreational_substances"})


@dataclass(frozen=True)
class Band:
    low: float
    high: float
    label: str


@dataclass(frozen=True)
class ScoreDef:
    code: str
    name: str
    items: tuple[str, ...]
    bands: tuple[Band, ...] = ()
    source: str = ""

    def band_for(self, value: int | None) -> str:
        if value is None:
            return ""
        return next((band.label for band in self.bands if band.low <= value <= band.high), "")


@dataclass(frozen=True)
class RuleDef:
    code: str
    title: str
    severity: str
    when: str
    message: str
    rationale: str = ""
    source: str = ""
    superseded_by: tuple[str, ...] = ()
    active: bool = True
    patient_message: str = ""  # urgent rules: what the patient's confirmation page shows


@dataclass(frozen=True)
class ScoreResult:
    code: str
    name: str
    value: int | None
    band: str


@dataclass(frozen=True)
class Flag:
    code: str
    severity: str
    title: str
    message: str
    rationale: str
    source: str
    evidence: tuple[dict, ...]
    patient_message: str = ""

    def as_dict(self) -> dict:
        return {
            "code": self.code,
            "severity": self.severity,
            "title": self.title,
            "message": self.message,
            "rationale": self.rationale,
            "source": self.source,
            "evidence": list(self.evidence),
            "patient_message": self.patient_message,
        }


class TypedEntry(NamedTuple):
    """One recognised (or unrecognised) drug from one row the patient typed."""

    question: str  # the medication-list question's code
    row: int  # the row's index in that list, so its dose and frequency can be found
    match: Match


@dataclass
class Evaluation:
    flags: list[Flag]
    scores: list[ScoreResult]
    medications: list[TypedEntry]  # every typed entry, in the order the patient typed them

    @property
    def level(self) -> str:
        """The screening's level: its highest flag's severity, or "" when nothing was raised."""
        return max((flag.severity for flag in self.flags), key=Severity.rank_of, default="")


@dataclass
class _Context:
    """What functions in expressions can see while one screening is evaluated."""

    matches: list[Match]
    answers: Mapping[str, object]
    questionnaire: QuestionnaireDef
    formulary: Formulary = field(repr=False)


def _answered(context: _Context, code: str) -> bool:
    question = context.questionnaire.questions_by_code.get(code)
    return question is not None and is_answered(question, context.answers.get(code))


def _describe_answered_args(
    questionnaire: QuestionnaireDef,
) -> Callable[[tuple], list[Problem]]:
    def describe(args: tuple) -> list[Problem]:
        code = args[0] if args else None
        if code not in questionnaire.questions_by_code:
            return [Problem(f'answered() needs a question code; "{code}" is not one.', 0)]
        if questionnaire.questions_by_code[code].kind in FREE_TEXT_KINDS:
            # Even whether someone wrote anything is free text feeding a rule.
            return [Problem(f'Cannot use answered("{code}"): {FREE_TEXT_REFUSED}', 0)]
        return []

    return describe


class RuleSet:
    """A version's rules and scores, parsed once, ready to evaluate any number of screenings."""

    def __init__(
        self,
        questionnaire: QuestionnaireDef,
        rules: list[RuleDef],
        scores: list[ScoreDef],
        formulary: Formulary,
    ) -> None:
        self.questionnaire = questionnaire
        self.rules = [rule for rule in rules if rule.active]
        # Inactive rules too: a test case may expect one of them not to fire.
        self.rule_codes = frozenset(rule.code for rule in rules)
        self.scores = scores
        self.formulary = formulary
        self.functions: dict[str, FunctionSpec] = {
            "takes": make_takes_spec(formulary),
            "unrecognised_medication": make_unrecognised_spec(),
            "answered": FunctionSpec(
                ("string",), _answered, _describe_answered_args(questionnaire)
            ),
        }
        # Rules are validated when saved; one that still fails to parse raises here, loudly,
        # rather than silently never firing.
        self._compiled = [(rule, parse(rule.when)) for rule in self.rules]
        self._list_questions = [
            q for q in questionnaire.questions_by_code.values() if q.kind == MEDICATION_LIST
        ]
        # A check-in's rules may read its baseline intake's answers too; its own come last
        # so that a question asked again is found in the check-in.
        asked = [
            *(questionnaire.baseline.questions_by_code.values() if questionnaire.baseline else ()),
            *questionnaire.questions_by_code.values(),
        ]
        self._name_to_question = {
            name: question.code for question in asked for name in question.expression_names
        }

    # Validation ---------------------------------------------------------------------

    def variables(self) -> dict[str, VariableType]:
        names = variable_types(self.questionnaire)
        names.update({score.code: VariableType(VariableKind.NUMBER) for score in self.scores})
        return names

    def problems(self, rule: RuleDef) -> list[Problem]:
        return validate(rule.when, self.variables(), self.functions)

    # Evaluation ---------------------------------------------------------------------

    def evaluate(
        self,
        stored_answers: Mapping[str, object],
        today: datetime.date,
        *,
        with_evidence: bool = True,
        baseline_answers: Mapping[str, object] | None = None,
    ) -> Evaluation:
        """Scores, medications and flags for one screening.

        The publish preview only counts which flags each screening would gain or lose, so
        it passes with_evidence=False and skips the (comparatively costly) evidence.

        A check-in is evaluated with its baseline intake's answers (`baseline_answers`). A
        test panel case gives both in one mapping: the codes only the baseline asks are
        taken as the baseline's.
        """
        if baseline_answers is None and self.questionnaire.baseline is not None:
            own = self.questionnaire.questions_by_code
            baseline_answers = {k: v for k, v in stored_answers.items() if k not in own}
            stored_answers = {k: v for k, v in stored_answers.items() if k in own}
        visibility = work_out_visibility(
            self.questionnaire, stored_answers, today, baseline_answers
        )
        values = dict(visibility.values)
        score_results = []
        for score in self.scores:
            answered = [values[item] for item in score.items if isinstance(values.get(item), int)]
            total = sum(answered) if answered else None
            values[score.code] = total
            score_results.append(ScoreResult(score.code, score.name, total, score.band_for(total)))

        medications: list[TypedEntry] = []
        for question in self._list_questions:
            stored = visibility.answers.get(question.code)
            rows = stored.get("rows", []) if isinstance(stored, dict) else []
            allow_slang = question.code in RECREATIONAL_LIST_CODES
            for index, row in enumerate(rows):
                typed = str(row.get("name") or "") if isinstance(row, dict) else str(row)
                if typed.strip():
                    medications.extend(
                        TypedEntry(question.code, index, match)
                        for match in self.formulary.recognise_each(typed, allow_slang=allow_slang)
                    )
        matches = [entry.match for entry in medications]
        context = _Context(matches, visibility.answers, self.questionnaire, self.formulary)

        raised: dict[str, tuple[RuleDef, Expression]] = {}
        for rule, expression in self._compiled:
            if rule.code not in raised and expression.is_true(values, self.functions, context):
                raised[rule.code] = (rule, expression)
        for code in list(raised):
            rule = raised[code][0]
            if any(other in raised for other in rule.superseded_by):
                del raised[code]

        flags = [
            Flag(
                code=rule.code,
                severity=rule.severity,
                title=rule.title,
                message=rule.message,
                rationale=rule.rationale,
                source=rule.source,
                patient_message=rule.patient_message,
                evidence=self._evidence(expression, values, visibility, medications)
                if with_evidence
                else (),
            )
            for rule, expression in raised.values()
        ]
        flags.sort(key=lambda flag: -Severity.rank_of(flag.severity))
        return Evaluation(flags, score_results, medications)

    def _evidence(
        self,
        expression: Expression,
        values: Mapping[str, object],
        visibility: Visibility,
        medications: list[TypedEntry],
    ) -> tuple[dict, ...]:
        """The answers and medications behind a flag, so the physician sees why it was raised.

        An answer a check-in's rule read from the baseline intake says so (`from_baseline`).
        """
        answers = visibility.answers
        evidence: list[dict] = []
        seen_questions: set[str] = set()
        seen_matches: set[int] = set()
        for name in sorted(expression.names):
            question_code = self._name_to_question.get(name)
            if question_code is not None:
                if question_code not in seen_questions:
                    seen_questions.add(question_code)
                    if question_code in visibility.baseline:
                        evidence.append(
                            {
                                "question": question_code,
                                "answer": visibility.baseline[question_code],
                                "from_baseline": True,
                            }
                        )
                    else:
                        evidence.append(
                            {"question": question_code, "answer": answers.get(question_code)}
                        )
            else:  # a score or a derived value such as age or BMI
                value = values.get(name)
                evidence.append({"value": name, "answer": _plain(value)})
        for function_name, args in expression.function_calls:
            if function_name == "takes" and args:
                relevant = matches_for(str(args[0]), [e.match for e in medications], self.formulary)
            elif function_name == "unrecognised_medication":
                relevant = [e.match for e in medications if not e.match.recognised]
            elif function_name == "answered" and args:
                if args[0] not in seen_questions:
                    seen_questions.add(args[0])
                    evidence.append({"question": args[0], "answer": answers.get(args[0])})
                continue
            else:
                continue
            relevant_ids = {id(match) for match in relevant}
            for question_code, _, match in medications:
                if id(match) in relevant_ids and id(match) not in seen_matches:
                    seen_matches.add(id(match))
                    evidence.append(medication_evidence(question_code, match))
        return tuple(evidence)


def medication_evidence(question_code: str, match: Match) -> dict:
    return {
        "question": question_code,
        "typed": match.typed,
        "matched": match.drug,
        "components": list(match.components),
        "score": round(match.score, 1),
    }


def _plain(value: object) -> object:
    """JSON-friendly numbers for evidence (Decimal BMI becomes a float)."""
    if value is None or isinstance(value, (int, str)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)
