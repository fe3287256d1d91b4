"""Re-screening: a physician asks a cleared patient to repeat the full intake, and the
repeated intake starts from the previous answers that are stable facts or history (copied,
never moved), each checked against the current version's questions so that nothing that no
longer fits is carried. Answers about the patient's present state always start empty.

The clearance itself is read by screening.selectors.current_clearance.
"""

import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from .. import audit, tasks
from ..engine.questionnaire import (
    BLOOD_PRESSURE,
    DATE,
    DECIMAL,
    FREE_TEXT_KINDS,
    HEIGHT,
    INTEGER,
    MEDICATION_LIST,
    MULTIPLE_CHOICE,
    SCALE_ITEM,
    SINGLE_CHOICE,
    WEIGHT,
    YES_NO,
    QuestionDef,
    measurement_value,
)
from ..models import Answer, AuditAction, RescreeningRequest, Screening, User
from ..selectors import current_clearance, visibility_for
from ..snapshots import questionnaire_for, row_ids_for


class RescreeningNotAllowed(Exception):
    """The screening does not hold the patient's current clearance; the message says why."""


@transaction.atomic
def request_rescreening(
    *, screening: Screening, physician: User, reason: str, ip_address: str | None = None
) -> RescreeningRequest:
    """Ask the patient to repeat the full intake: their clearance ends now.

    One request per screening: a second press (a double click, a second tab) returns the
    first request and writes, audits and emails nothing more. The screening's row is locked
    so two concurrent presses are one request."""
    reason = reason.strip()
    if not reason:
        raise ValueError("A re-screening request needs a reason.")
    locked = Screening.objects.select_for_update().select_related("patient").get(pk=screening.pk)
    existing = RescreeningRequest.objects.filter(screening=locked).first()
    if existing is not None:
        return existing
    clearance = current_clearance(locked.patient)
    if clearance.decision is None or clearance.decision.screening_id != locked.pk:
        raise RescreeningNotAllowed(
            gettext(
                "Re-screening can only be asked for on the screening that holds the patient's "
                "current clearance. This one does not: nothing was changed."
            )
        )
    request = RescreeningRequest.objects.create(
        screening=locked,
        physician=physician,
        signed_name=physician.full_name or physician.email,
        reason=reason,
    )
    # A physician's write: an open decision form on this screening is now out of date.
    locked.lock_version += 1
    locked.updated_at = timezone.now()
    locked.save(update_fields=["lock_version", "updated_at"])
    # The patient is told there is news and to log in; the email says nothing more.
    tasks.notify_patient.enqueue(screening_id=str(locked.pk))
    audit.record(
        actor=physician,
        ip_address=ip_address,
        action=AuditAction.RESCREENING_REQUESTED,
        screening=locked,
        obj=request,
        summary="Re-screening asked for",
    )
    return request


# Pre-filling a re-screening ------------------------------------------------------------

# The only answers a re-screening copies, by section and question code: stable facts and
# history that the patient confirms on each page. An allow-list, not a deny-list: a section or
# question an admin adds later (or renames) starts empty until someone decides here that it
# describes something that does not change. Everything about the present (the PHQ-9, GAD-7,
# PCL-5 and AUDIT-C items, thoughts of suicide, pregnancy and breast-feeding, weight, blood
# pressure and pulse, use in the last 24 hours, symptoms and conditions "now") must be
# answered afresh: a patient pressing "Save and continue" on every page must never send last
# time's answers as today's. Medical-condition lists that mix "ever" with "now" or recent
# events (heart, brain and eyes, liver, lungs, thyroid) are left out for the same reason.
PREFILLED_ANSWERS: dict[str, frozenset[str]] = {
    "about_you": frozenset({"date_of_birth", "sex_at_birth", "height_cm"}),
    "treatment_history": frozenset(
        {"treatment_reason", "treatment_reason_other", "antidepressants_tried", "prior_treatments"}
    ),
    "care_team": frozenset(
        {
            "has_prescriber",
            "prescriber_name",
            "prescriber_phone",
            "has_therapist",
            "therapist_name",
            "therapist_phone",
            "emergency_contact_name",
            "emergency_contact_phone",
        }
    ),
    "liver_kidney": frozenset({"porphyria"}),
    "psychiatric_history": frozenset(
        {"psych_history", "psych_history_other", "family_psychosis", "dissociation_history"}
    ),
    "substances": frozenset({"ketamine_nonmedical_ever"}),
    # The list is copied for the patient to confirm; the page tells them to add anything new.
    "medicines": frozenset({"medications"}),
    "ketamine_allergies": frozenset(
        {
            "ketamine_before",
            "ketamine_route",
            "ketamine_response",
            "ketamine_allergy",
            "ketamine_serious_reaction",
            "drug_allergies",
            "drug_allergy_list",
        }
    ),
}


def is_prefilled(section_code: str, question: QuestionDef) -> bool:
    """Whether a re-screening copies the previous answer to `question` on `section_code`'s
    page. A scale item (a symptom over the last weeks) never is, whatever the list says."""
    return question.kind != SCALE_ITEM and question.code in PREFILLED_ANSWERS.get(
        section_code, frozenset()
    )


def answer_still_fits(question: QuestionDef, previous: QuestionDef, value: object) -> bool:
    """Whether an answer given to `previous` is a valid answer to `question` as it is now:
    the same kind, and for choices, every chosen value still offered. An answer that does
    not fit is left for the patient to give again, never guessed."""
    if value is None or question.kind != previous.kind:
        return False
    kind = question.kind
    offered = {choice.value for choice in question.choices}
    if kind == YES_NO:
        return value in ("yes", "no")
    if kind in (SINGLE_CHOICE, SCALE_ITEM):
        return isinstance(value, str) and value in offered
    if kind == MULTIPLE_CHOICE:
        return (
            isinstance(value, list)
            and bool(value)
            and all(isinstance(item, str) and item in offered for item in value)
        )
    if kind in (INTEGER, DECIMAL):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        low, high = question.min_value, question.max_value
        return (low is None or value >= low) and (high is None or value <= high)
    if kind in (HEIGHT, WEIGHT):
        return measurement_value(kind, value) is not None
    if kind == DATE:
        try:
            datetime.date.fromisoformat(value)
        except (TypeError, ValueError):
            return False
        return True
    if kind == BLOOD_PRESSURE:
        return isinstance(value, dict)
    if kind == MEDICATION_LIST:
        return isinstance(value, dict)
    if kind in FREE_TEXT_KINDS:
        return isinstance(value, str)
    return False


def copy_previous_answers(*, previous: Screening, screening: Screening) -> list[str]:
    """Copy onto `screening` the answers `previous` was last sent with, for the questions
    its patient was asked that are stable facts or history (PREFILLED_ANSWERS) and still fit
    the new screening's version. Returns the codes copied. Writes answers only: no page is marked complete, so the patient goes through
    every page; the previous screening's answers are read, never changed."""
    asked = visibility_for(previous)
    old_questions = questionnaire_for(previous.version).questions_by_code
    new_questionnaire = questionnaire_for(screening.version)
    new_questions = new_questionnaire.questions_by_code
    section_of = {
        question.code: section.code
        for section in new_questionnaire.sections
        for question in section.questions
    }
    ids = row_ids_for(screening.version)
    copied = {}
    for code in asked.questions:
        question, before = new_questions.get(code), old_questions.get(code)
        if question is None or before is None:
            continue
        if not is_prefilled(section_of[code], question):
            continue
        value = asked.answers.get(code)
        if answer_still_fits(question, before, value):
            copied[code] = value
    now = timezone.now()
    Answer.objects.bulk_create(
        Answer(screening=screening, question_id=ids.questions[code], value=value, updated_at=now)
        for code, value in copied.items()
    )
    return list(copied)
