"""Every write the app makes, one function each, each in one transaction.

Views call these with keyword arguments and never write models themselves, so the rules
for invitations, saving a page and submitting live in one place and are tested here.
"""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .. import tasks
from ..engine.questionnaire import SectionDef, is_answered
from ..engine.rules import URGENT
from ..models import Answer, CompletedSection, Screening, User
from ..selectors import current_version, first_incomplete_section, stored_answers, visibility_for
from .evaluation import evaluate, store_evaluation


class ScreeningLocked(Exception):
    """The screening was submitted; the patient can no longer change it."""


# Invitations ----------------------------------------------------------------------------


# The intake ----------------------------------------------------------------------------


def start_screening(*, patient: User) -> Screening:
    """The patient's open screening, or a new one on the published version."""
    existing = Screening.objects.for_patient(patient).in_progress().first()
    if existing:
        return existing
    version = current_version()
    try:
        with transaction.atomic():
            return Screening.objects.create(patient=patient, version=version)
    except IntegrityError:
        # Two tabs started at once: the database let one win; use it.
        return Screening.objects.for_patient(patient).in_progress().get()


@dataclass
class PageSaved:
    complete: bool  # False when the answers revealed follow-up questions on the same page


@transaction.atomic
def save_page(
    *, screening: Screening, section: SectionDef, answers: dict[str, object], presented: set[str]
) -> PageSaved:
    """Store one page of answers. Answers to questions now hidden are kept but ignored.

    `presented` is the set of questions the patient saw on the page. When the new answers
    reveal follow-up questions they did not see, the page is saved but not complete, so the
    patient sees the follow-ups before moving on.
    """
    locked = Screening.objects.select_for_update().get(pk=screening.pk)
    if not locked.is_editable:
        raise ScreeningLocked
    merged = {**stored_answers(locked), **answers}
    visibility = visibility_for(locked, merged)
    questions = {q.code: q for q in locked.version.questions.filter(section__code=section.code)}
    now = timezone.now()
    for code, value in answers.items():
        Answer.objects.update_or_create(
            screening=locked, question=questions[code], defaults={"value": value, "updated_at": now}
        )
    shown = visibility.visible_in(section)
    complete = all(q.code in presented for q in shown) and all(
        is_answered(q, merged.get(q.code)) for q in shown if q.required
    )
    if complete:
        CompletedSection.objects.get_or_create(
            screening=locked, section=locked.version.sections.get(code=section.code)
        )
    else:
        CompletedSection.objects.filter(screening=locked, section__code=section.code).delete()
    locked.updated_at = now
    locked.save(update_fields=["updated_at"])
    return PageSaved(complete=complete)


class ScreeningIncomplete(Exception):
    """A shown page still lacks answers; the exception carries the section to go back to."""

    def __init__(self, section: SectionDef):
        super().__init__(section.code)
        self.section = section


@transaction.atomic
def submit_screening(*, screening: Screening) -> bool:
    """Submit once. Returns False when it was already submitted (a double click, a second tab).

    The row is locked and the status change is a conditional UPDATE, so of two concurrent
    submits exactly one changes the row, whatever the database.
    """
    locked = Screening.objects.select_for_update().get(pk=screening.pk)
    if locked.status != Screening.Status.IN_PROGRESS:
        return False
    missing = first_incomplete_section(locked)
    if missing is not None:
        raise ScreeningIncomplete(missing)
    now = timezone.now()
    changed = Screening.objects.filter(pk=locked.pk, status=Screening.Status.IN_PROGRESS).update(
        status=Screening.Status.SUBMITTED,
        submitted_at=now,
        consent_acknowledged_at=now,
        updated_at=now,
        lock_version=F("lock_version") + 1,
    )
    if changed != 1:
        return False
    locked.refresh_from_db()
    # Evaluated in the same transaction: there is never a submitted screening without flags.
    evaluation = evaluate(locked)
    store_evaluation(locked, evaluation)
    if evaluation.level == URGENT:
        # Queued in this transaction: the alert exists exactly when the submission does, and
        # the worker sends it, so a mail-server failure never reaches the patient's page.
        tasks.alert_physicians_of_urgent_screening.enqueue(screening_id=str(locked.pk))
    return True


# Roles -------------------------------------------------------------------------------
