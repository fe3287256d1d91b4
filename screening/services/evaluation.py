"""Build the engine's RuleSet from the database, store what it finds for a screening, run a
version's test panel, and count what a draft would change on screenings on file.

Published versions never change, so their RuleSet is cached per process; the cache key
includes the formulary's fingerprint, so an admin's formulary edit takes effect at once.
"""

import functools
import json
from dataclasses import dataclass

from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone

from ..engine.rules import Evaluation, RuleSet, TypedEntry
from ..engine.severity import Severity
from ..models import (
    Answer,
    Decision,
    Flag,
    QuestionSetVersion,
    RecognisedMedication,
    Screening,
    Submission,
)
from ..selectors import baseline_for
from ..snapshots import draft_ruleset, ruleset_for

# A kept flag's texts are refreshed from the rule (the same version's, so the same words).
TEXT_FIELDS = ("severity", "title", "message", "rationale", "source", "patient_message")


def evaluate(screening: Screening, ruleset: RuleSet | None = None) -> Evaluation:
    """A screening's flags and scores; a session check-in's are read with its baseline intake
    (its latest submitted answers), and their evidence says which answers came from there."""
    answers = dict(screening.answers.values_list("question__code", "value"))
    today = (
        timezone.localdate(screening.submitted_at)
        if screening.submitted_at
        else timezone.localdate()
    )
    baseline = baseline_for(screening)
    if baseline is None:
        ruleset = ruleset or ruleset_for(screening.version)
        return ruleset.evaluate(answers, today)
    ruleset = ruleset or ruleset_for(screening.version, baseline.screening.version)
    return ruleset.evaluate(answers, today, baseline_answers=baseline.answers)


def _same_evidence(stored: list, raised: tuple | list) -> bool:
    """The stored evidence (read back from JSON) against a fresh evaluation's, compared as JSON."""
    canonical = functools.partial(json.dumps, sort_keys=True, cls=DjangoJSONEncoder)
    return canonical(list(stored or [])) == canonical(list(raised))


def store_evaluation(screening: Screening, evaluation: Evaluation) -> None:
    """Store what the evaluation found: flags, recognised medications, scores and level
    (caller holds the transaction).

    No flag is deleted, so no acknowledgement or note goes. Matched by topic (code) against
    the screening's current flags: raised again on the same evidence, the flag keeps its row
    and acknowledgement (its position and texts refreshed); raised on other evidence, the old
    flag is retired and a new one `replaces` it, to be acknowledged again; no longer raised,
    it is retired. A topic raised anew after being retired replaces its latest retired flag,
    so the earlier acknowledgement is shown beside it.
    """
    now = timezone.now()
    current = {flag.code: flag for flag in Flag.objects.filter(screening=screening)}
    retired_by_code: dict[str, Flag] = {}
    if any(flag.code not in current for flag in evaluation.flags):
        for flag in (
            Flag.with_retired.filter(screening=screening, retired_at__isnull=False)
            .filter(replaced_by__isnull=True)
            .order_by("retired_at")
        ):
            retired_by_code[flag.code] = flag
    raised_codes = {flag.code for flag in evaluation.flags}
    to_retire = [flag.pk for code, flag in current.items() if code not in raised_codes]
    kept: list[Flag] = []
    new: list[Flag] = []
    for position, raised in enumerate(evaluation.flags):
        texts = {
            "severity": raised.severity,
            "title": raised.title,
            "message": raised.message,
            "rationale": raised.rationale,
            "source": raised.source,
            "patient_message": raised.patient_message,
            "position": position,
        }
        existing = current.get(raised.code)
        if existing is not None and _same_evidence(existing.evidence, raised.evidence):
            for field, value in texts.items():
                setattr(existing, field, value)
            kept.append(existing)
            continue
        if existing is not None:
            to_retire.append(existing.pk)
        new.append(
            Flag(
                screening=screening,
                code=raised.code,
                evidence=list(raised.evidence),
                raised_at=now,
                replaces=existing or retired_by_code.get(raised.code),
                **texts,
            )
        )
    # Retired first: the database allows one current flag per topic.
    if to_retire:
        Flag.objects.filter(pk__in=to_retire).update(retired_at=now)
    if kept:
        Flag.objects.bulk_update(kept, ["position", *TEXT_FIELDS])
    Flag.objects.bulk_create(new)
    screening.medications.all().delete()
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


def record_submission(screening: Screening) -> Submission:
    """Keep this submission as it is now, just evaluated (caller holds the transaction and the
    screening's row lock): its answers, flags with their acknowledgements, level and scores,
    and the "more information needed" decision it answers, if that is the latest decision."""
    number = screening.submission_count + 1
    latest = screening.decisions.order_by("-signed_at").first()
    flags = [
        {
            "id": str(flag.pk),
            "code": flag.code,
            "severity": flag.severity,
            "title": flag.title,
            "evidence": flag.evidence,
            "acknowledgement": _acknowledgement_snapshot(flag),
        }
        for flag in Flag.objects.filter(screening=screening)
        .select_related("acknowledgement__physician")
        .order_by("position")
    ]
    submission = Submission.objects.create(
        screening=screening,
        number=number,
        submitted_at=screening.submitted_at,
        answers=dict(screening.answers.values_list("question__code", "value")),
        flags=flags,
        level=screening.level,
        scores=screening.scores,
        in_reply_to=latest
        if latest is not None and latest.outcome == Decision.Outcome.MORE_INFORMATION_NEEDED
        else None,
    )
    screening.submission_count = number
    screening.save(update_fields=["submission_count"])
    return submission


def _acknowledgement_snapshot(flag: Flag) -> dict | None:
    acknowledgement = getattr(flag, "acknowledgement", None)
    if acknowledgement is None:
        return None
    return {
        "physician_id": str(acknowledgement.physician_id),
        "physician_name": acknowledgement.physician.full_name,
        "note": acknowledgement.note,
        "acknowledged_at": acknowledgement.acknowledged_at.isoformat(),
    }


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
