"""Read a question-set version or a screening from the database as export's plain data.

Only what the staff screening page shows leaves: the answers to the questions the patient
was shown (a hidden question's stale answer never does), the stored scores, recognised
medications, flags with their acknowledgements, and signed decisions.
"""

from __future__ import annotations

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone, translation

from ..engine.questionnaire import work_out_visibility
from ..models import Answer, Decision, QuestionSetVersion, Screening
from ..snapshots import questionnaire_for, score_defs
from .export import (
    AcknowledgementData,
    DecisionData,
    FlagData,
    MedicationData,
    QuestionSetData,
    ScreeningData,
)


def question_set_data(version: QuestionSetVersion) -> QuestionSetData:
    question_set = version.question_set
    return QuestionSetData(
        version_id=str(version.pk),
        slug=question_set.slug,
        name=question_set.name,
        description=question_set.description,
        number=version.number,
        status=version.status,
        published_at=version.published_at,
        questionnaire=questionnaire_for(version),
        scores=tuple(score_defs(version)),
    )


def screenings_for_export() -> QuerySet[Screening]:
    """Intakes staff may read: submitted at least once (a reopened one included). Session
    check-ins are not exported yet: their answers are read with the baseline intake's."""
    return (
        Screening.objects.intakes()
        .select_related("patient", "version__question_set")
        .exclude(status=Screening.Status.IN_PROGRESS, submitted_at__isnull=True)
    )


def _visible_answers(screening: Screening, question_set: QuestionSetData, stored: dict) -> dict:
    # The same day the engine used, so derived values (age) agree with the flags.
    day = timezone.localdate(screening.submitted_at)
    return work_out_visibility(question_set.questionnaire, stored, day).answers


def _screening_data(
    screening: Screening, question_set: QuestionSetData, stored: dict, **details: object
) -> ScreeningData:
    """The screening's own fields and its visible answers; `details` adds the rest (scores,
    medications, flags, decisions) where the caller needs them."""
    return ScreeningData(
        id=str(screening.pk),
        status=screening.status,
        submitted_at=screening.submitted_at,
        evaluated_at=screening.evaluated_at,
        patient_id=str(screening.patient_id),
        patient_name=screening.patient.full_name,
        question_set=question_set,
        answers=_visible_answers(screening, question_set, stored),
        language=screening.language,
        **details,
    )


def responses_data(screenings: list[Screening]) -> list[ScreeningData]:
    """Just enough for each screening's QuestionnaireResponse (a search page), in a few
    queries whatever the number of screenings."""
    stored: dict = {screening.pk: {} for screening in screenings}
    for screening_id, code, value in Answer.objects.filter(screening__in=screenings).values_list(
        "screening_id", "question__code", "value"
    ):
        stored[screening_id][code] = value
    question_sets: dict = {}
    made = []
    for screening in screenings:
        if screening.version_id not in question_sets:
            question_sets[screening.version_id] = question_set_data(screening.version)
        question_set = question_sets[screening.version_id]
        made.append(_screening_data(screening, question_set, stored[screening.pk]))
    return made


def screening_data(screening: Screening) -> ScreeningData:
    question_set = question_set_data(screening.version)
    stored = dict(screening.answers.values_list("question__code", "value"))
    flags = []
    for flag in screening.flags.select_related("acknowledgement__physician").order_by("position"):
        acknowledgement = getattr(flag, "acknowledgement", None)
        flags.append(
            FlagData(
                id=str(flag.pk),
                code=flag.code,
                severity=flag.severity,
                title=flag.title,
                message=flag.message,
                rationale=flag.rationale,
                evidence=tuple(flag.evidence or ()),
                acknowledgement=AcknowledgementData(
                    physician_id=str(acknowledgement.physician_id),
                    physician_name=acknowledgement.physician.full_name,
                    at=acknowledgement.acknowledged_at,
                )
                if acknowledgement
                else None,
            )
        )
    decisions = tuple(
        DecisionData(
            id=str(decision.pk),
            outcome=decision.outcome,
            outcome_label=_outcome_label(decision),
            conditions=decision.conditions,
            reason=decision.reason,
            message_to_patient=decision.message_to_patient,
            override_reason=decision.override_reason,
            physician_id=str(decision.physician_id),
            signed_name=decision.signed_name,
            signed_at=decision.signed_at,
            flag_codes=tuple(decision.flag_codes or ()),
            amends_id=str(decision.amends_id) if decision.amends_id else None,
        )
        for decision in screening.decisions.order_by("signed_at")
    )
    medications = tuple(
        MedicationData(
            question_code=row.question_code,
            typed=row.typed,
            dose=row.dose,
            frequency=row.frequency,
            matched=row.matched,
            position=row.position,
        )
        for row in screening.medications.order_by("position")
    )
    return _screening_data(
        screening,
        question_set,
        stored,
        scores=tuple(screening.scores or ()),
        medications=medications,
        flags=tuple(flags),
        decisions=decisions,
    )


def _outcome_label(decision: Decision) -> str:
    """The outcome's words in the clinic's language, whatever language a request asked for
    (a record leaves the clinic the same for every reader)."""
    with translation.override(settings.LANGUAGE_CODE):
        return decision.get_outcome_display()
