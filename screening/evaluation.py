"""Build the engine's RuleSet from the database, and store what it finds for a screening.

Published versions never change, so their RuleSet is cached per process; the cache key
includes the formulary's fingerprint, so an admin's formulary edit takes effect at once.
"""

import logging
from dataclasses import dataclass

from django.db.models import Count, Max
from django.utils import timezone

from .content import RULE_FIELDS, rule_defs_from_data, score_defs_from_data
from .engine.medications import Formulary
from .engine.resolver import shared_dictionary
from .engine.rules import SEVERITIES, SEVERITY_RANK, Evaluation, RuleDef, RuleSet, ScoreDef
from .models import (
    Answer,
    Drug,
    DrugClass,
    Flag,
    QuestionSetVersion,
    RecognisedMedication,
    Rule,
    ScoreDefinition,
    Screening,
)
from .questionnaire import questionnaire_for

logger = logging.getLogger(__name__)
_formulary_cache: dict[tuple, Formulary] = {}
_ruleset_cache: dict[tuple, RuleSet] = {}


def _formulary_fingerprint() -> tuple:
    drugs = Drug.objects.aggregate(count=Count("id"), changed=Max("updated_at"))
    classes = DrugClass.objects.aggregate(count=Count("id"), changed=Max("updated_at"))
    return (drugs["count"], drugs["changed"], classes["count"], classes["changed"])


def current_formulary() -> Formulary:
    # Threads may share these caches (runserver, gunicorn --threads): read each entry once
    # into a local and return that, so another thread clearing the cache cannot pull an
    # entry out from under us between the check and the return.
    key = _formulary_fingerprint()
    formulary = _formulary_cache.get(key)
    if formulary is None:
        data = {
            "classes": dict(DrugClass.objects.values_list("name", "description")),
            "drugs": [
                {
                    "name": drug.name,
                    "classes": drug.classes,
                    "components": drug.components,
                    "brands": drug.brands,
                    "synonyms": drug.synonyms,
                    "slang": drug.slang,
                    "form": drug.form,
                    "note": drug.note,
                    "grade": drug.grade,
                    "sources": drug.sources,
                }
                for drug in Drug.objects.all()
            ],
        }
        try:
            formulary = Formulary.from_data(data, shared_dictionary())
        except ValueError:
            # The admin validates every change, so this means a database edited by hand.
            # Patients must still be able to submit: keep the last good formulary, loudly.
            logger.exception("The formulary in the database is invalid; using the last good one.")
            last_good = list(_formulary_cache.values())
            if last_good:
                return last_good[0]
            raise
        _formulary_cache.clear()
        _formulary_cache[key] = formulary
    return formulary


def rule_defs(version: QuestionSetVersion) -> list[RuleDef]:
    """The version's rules as engine definitions (the same builder the data files use)."""
    rows = (
        Rule.objects.filter(version=version)
        .order_by("position", "pk")
        .values(*RULE_FIELDS, "patient_message", "superseded_by", "active")
    )
    return rule_defs_from_data({"rules": list(rows)})


def score_defs(version: QuestionSetVersion) -> list[ScoreDef]:
    rows = (
        ScoreDefinition.objects.filter(version=version)
        .order_by("position", "pk")
        .values("code", "name", "items", "bands", "source")
    )
    return score_defs_from_data({"scores": list(rows)})


def ruleset_for(version: QuestionSetVersion) -> RuleSet:
    formulary = current_formulary()
    if version.status == QuestionSetVersion.Status.DRAFT:
        return RuleSet(
            questionnaire_for(version), rule_defs(version), score_defs(version), formulary
        )
    key = (version.pk, id(formulary))
    ruleset = _ruleset_cache.get(key)
    if ruleset is None:
        ruleset = RuleSet(
            questionnaire_for(version), rule_defs(version), score_defs(version), formulary
        )
        if len(_ruleset_cache) > 16:
            _ruleset_cache.clear()
        _ruleset_cache[key] = ruleset
    return ruleset


def validator_for(version: QuestionSetVersion) -> RuleSet:
    """A RuleSet with the version's names and functions but no rules: for checking expressions."""
    return RuleSet(questionnaire_for(version), [], score_defs(version), current_formulary())


def evaluate(screening: Screening, ruleset: RuleSet | None = None) -> Evaluation:
    answers = dict(screening.answers.values_list("question__code", "value"))
    ruleset = ruleset or ruleset_for(screening.version)
    today = (
        timezone.localdate(screening.submitted_at)
        if screening.submitted_at
        else timezone.localdate()
    )
    return ruleset.evaluate(answers, today)


def store_evaluation(screening: Screening, evaluation: Evaluation) -> None:
    """Replace the screening's flags, recognised medications, scores and level (caller holds the transaction)."""
    screening.flags.all().delete()
    screening.medications.all().delete()
    Flag.objects.bulk_create(
        Flag(
            screening=screening,
            code=flag.code,
            severity=flag.severity,
            title=flag.title,
            message=flag.message,
            rationale=flag.rationale,
            source=flag.source,
            patient_message=flag.patient_message,
            evidence=list(flag.evidence),
            position=position,
        )
        for position, flag in enumerate(evaluation.flags)
    )
    rows_by_question: dict[str, list[dict]] = {}
    for code, value in screening.answers.filter(question__kind="medication_list").values_list(
        "question__code", "value"
    ):
        rows_by_question[code] = list(value.get("rows", [])) if isinstance(value, dict) else []

    def row_field(entry, field: str) -> str:
        rows = rows_by_question.get(entry.question, [])
        row = rows[entry.row] if entry.row < len(rows) else {}
        return str(row.get(field, "") or "")[:200]

    RecognisedMedication.objects.bulk_create(
        RecognisedMedication(
            screening=screening,
            question_code=entry.question,
            typed=entry.match.typed,
            dose=row_field(entry, "dose"),
            frequency=row_field(entry, "frequency"),
            matched=(entry.match.drug or "")[:120],
            components=list(entry.match.components),
            classes=sorted(entry.match.classes),
            score=float(entry.match.score),
            method=entry.match.method,
            position=position,
        )
        for position, entry in enumerate(evaluation.medications)
    )
    screening.level = evaluation.level
    screening.level_rank = SEVERITY_RANK.get(evaluation.level, 0)
    screening.flag_count = len(evaluation.flags)
    screening.scores = [
        {"code": s.code, "name": s.name, "value": s.value, "band": s.band}
        for s in evaluation.scores
    ]
    screening.evaluated_at = timezone.now()
    screening.save(update_fields=["level", "level_rank", "flag_count", "scores", "evaluated_at"])


@dataclass
class FlagImpact:
    code: str
    title: str
    severity: str
    now: int  # screenings on file that have this flag today
    gained: int  # would newly get it under the draft
    lost: int  # would no longer get it


def preview_publication(draft: QuestionSetVersion) -> tuple[int, list[FlagImpact]]:
    """Re-evaluate every submitted screening with the draft's rules; count flags gained and lost.

    Nothing is written: the answers patients gave are evaluated as they are, with the
    draft's questions, scores and rules. Returns (screenings evaluated, impact per flag).
    """
    ruleset = validator_for(draft)
    ruleset = RuleSet(ruleset.questionnaire, rule_defs(draft), ruleset.scores, ruleset.formulary)
    titles = {rule.code: (rule.title, rule.severity) for rule in ruleset.rules}
    current: dict = {}
    for screening_id, code, title, severity in Flag.objects.filter(
        screening__status=Screening.Status.SUBMITTED
    ).values_list("screening_id", "code", "title", "severity"):
        current.setdefault(screening_id, set()).add(code)
        titles.setdefault(code, (title, severity))
    answers_by_screening: dict = {}
    for screening_id, code, value in (
        Answer.objects.filter(screening__status=Screening.Status.SUBMITTED)
        .values_list("screening_id", "question__code", "value")
        .iterator(chunk_size=5000)
    ):
        answers_by_screening.setdefault(screening_id, {})[code] = value
    submitted_on = dict(
        Screening.objects.filter(status=Screening.Status.SUBMITTED).values_list(
            "id", "submitted_at"
        )
    )
    counts = {code: FlagImpact(code, *titles[code], 0, 0, 0) for code in titles}
    for screening_id, submitted_at in submitted_on.items():
        before = current.get(screening_id, set())
        today = timezone.localdate(submitted_at) if submitted_at else timezone.localdate()
        evaluation = ruleset.evaluate(
            answers_by_screening.get(screening_id, {}), today, with_evidence=False
        )
        after = {flag.code for flag in evaluation.flags}
        for code in before:
            counts[code].now += 1
        for code in after - before:
            counts[code].gained += 1
        for code in before - after:
            counts[code].lost += 1
    order = {severity: rank for rank, severity in enumerate(SEVERITIES)}
    impact = sorted(counts.values(), key=lambda row: (order.get(row.severity, 9), row.code))
    return len(submitted_on), impact
