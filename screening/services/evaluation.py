"""Build the engine's RuleSet from the database, store what it finds for a screening, run a
version's test panel, and count what a draft would change on screenings on file.

Published versions never change, so their RuleSet is cached per process; the cache key
includes the formulary's fingerprint, so an admin's formulary edit takes effect at once.
"""

from dataclasses import dataclass

from django.utils import timezone

from ..engine.rules import Evaluation, RuleSet, TypedEntry
from ..engine.severity import Severity
from ..models import Answer, Flag, QuestionSetVersion, RecognisedMedication, Screening
from ..snapshots import draft_ruleset, ruleset_for


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

    def row_field(entry: TypedEntry, field: str) -> str:
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
    screening.level_rank = Severity.rank_of(evaluation.level)
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


PREVIEW_CHUNK = 500  # screenings read per query: under every database's parameter limit


def preview_publication(
    draft: QuestionSetVersion, screening_ids: list
) -> tuple[int, list[FlagImpact]]:
    """Re-evaluate these screenings with the draft's rules; count flags gained and lost.

    Nothing is written. The answers patients gave are evaluated as they are, with the
    draft's questions, scores and rules. Reading them is the caller's to audit (see
    screening.services.content.preview_draft_impact). Returns (screenings evaluated, impact per flag).
    """
    ruleset = draft_ruleset(draft)
    titles = {rule.code: (rule.title, rule.severity) for rule in ruleset.rules}
    before_by_screening: dict = {}
    after_by_screening: dict = {}
    for start in range(0, len(screening_ids), PREVIEW_CHUNK):
        chunk = screening_ids[start : start + PREVIEW_CHUNK]
        answers: dict = {screening_id: {} for screening_id in chunk}
        for screening_id, code, value in Answer.objects.filter(screening_id__in=chunk).values_list(
            "screening_id", "question__code", "value"
        ):
            answers[screening_id][code] = value
        for screening_id, code, title, severity in Flag.objects.filter(
            screening_id__in=chunk
        ).values_list("screening_id", "code", "title", "severity"):
            before_by_screening.setdefault(screening_id, set()).add(code)
            titles.setdefault(code, (title, severity))
        for screening_id, submitted_at in Screening.objects.filter(pk__in=chunk).values_list(
            "id", "submitted_at"
        ):
            today = timezone.localdate(submitted_at) if submitted_at else timezone.localdate()
            evaluation = ruleset.evaluate(answers[screening_id], today, with_evidence=False)
            after_by_screening[screening_id] = {flag.code for flag in evaluation.flags}
    counts = {code: FlagImpact(code, *titles[code], 0, 0, 0) for code in titles}
    for screening_id, after in after_by_screening.items():
        before = before_by_screening.get(screening_id, set())
        for code in before:
            counts[code].now += 1
        for code in after - before:
            counts[code].gained += 1
        for code in before - after:
            counts[code].lost += 1
    impact = sorted(counts.values(), key=lambda row: (-Severity.rank_of(row.severity), row.code))
    return len(after_by_screening), impact
