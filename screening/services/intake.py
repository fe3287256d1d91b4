"""Every write the app makes, one function each, each in one transaction.

Views call these with keyword arguments and never write models themselves, so the rules
for invitations, saving a page and submitting live in one place and are tested here.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from .. import page_writes, prepared, tasks
from ..engine.questionnaire import SectionDef, Visibility, is_answered
from ..engine.severity import Severity
from ..models import CompletedSection, ReviewClock, Screening, User
from ..selectors import (
    AnswersRead,
    current_clearance,
    current_version,
    first_incomplete_section,
    intake_screenings,
    stored_answers,
    visibility_for,
)
from ..snapshots import row_ids_for
from .check_ins import refuse_if_closed, why_closed
from .drafts import discard_drafts
from .evaluation import evaluate, record_submission, store_evaluation
from .rescreening import copy_previous_answers


class ScreeningLocked(Exception):
    """The screening was submitted; the patient can no longer change it."""


class AlreadyScreened(Exception):
    """The patient has a submitted screening and no re-screening is due: a new one is the
    clinic's to start."""


# Invitations ----------------------------------------------------------------------------


# The intake ----------------------------------------------------------------------------


def start_screening(*, patient: User, previous: Screening | None = None) -> Screening:
    """The patient's open screening, or a new one on the published version.

    With `previous` (a re-screening), the new one starts from the previous screening's
    answers that still fit, created and filled in one transaction: a second tab starting at
    the same moment waits for it and then finds it whole."""
    existing = intake_screenings(patient).in_progress().first()
    if existing:
        return existing
    version = current_version()
    try:
        with transaction.atomic():
            screening = Screening.objects.create(
                patient=patient, version=version, previous=previous
            )
            if previous is not None:
                copy_previous_answers(previous=previous, screening=screening)
            tasks.schedule_reminder(screening)
            return screening
    except IntegrityError:
        # Two tabs started at once: the database let one win; use it.
        return intake_screenings(patient).in_progress().get()


def start_first_screening(*, patient: User) -> Screening:
    """What a patient's own "Start" does: their open screening, their first one, or the
    re-screening their clearance now needs.

    Once a screening was submitted, a patient never starts another by themselves (a new
    one is the clinic's to start), so a physician's request for more information always
    reopens the screening the patient sent, never fails on a second open one. The one
    exception: the clearance signed on their latest screening has expired or a physician
    asked for re-screening; then Start makes the new intake, pre-filled from that one.
    """
    mine = intake_screenings(patient)
    open_one = mine.in_progress().first()
    if open_one is not None:
        # One the clinic started for them, or a stale Start button: carry on with it.
        return open_one
    # Only a screening already sent refuses (not one another tab is creating right now:
    # of tabs starting together, start_screening lets the database pick one).
    latest = mine.exclude(status__in=Screening.EDITABLE_STATUSES).order_by("-created_at").first()
    if latest is None:
        # The open one, or a new one (of tabs starting together, the database lets one create it).
        return start_screening(patient=patient)
    clearance = current_clearance(patient)
    # Re-screen only from the screening that holds the clearance, and only while it is the
    # latest: a re-screening already sent waits for its physician, it is not started again.
    if clearance.needs_rescreening and clearance.decision.screening_id == latest.pk:
        return start_screening(patient=patient, previous=latest)
    raise AlreadyScreened


@dataclass
class PageSaved:
    complete: bool  # False when the answers revealed follow-up questions on the same page


@prepared.once_more_if_stale
@transaction.atomic
def save_page(
    *,
    screening: Screening,
    section: SectionDef,
    answers: dict[str, object],
    presented: set[str],
    read: AnswersRead | None = None,
    visibility: Visibility | None = None,
    language: str | None = None,
) -> PageSaved:
    """Store one page of answers. Answers to questions now hidden are kept but ignored.

    `presented` is the set of questions the patient saw on the page. When the new answers
    reveal follow-up questions they did not see, the page is saved but not complete, so the
    patient sees the follow-ups before moving on.

    A caller that has already read the stored answers (`read`) and worked out `visibility`
    for them with `answers` laid over them passes both; they are used only if no other save
    has changed the screening since they were read, and worked out again under the lock if
    one has (or if the page keeps a draft, which is then discarded: the rare case, after a
    session ended with the page unsaved). All the answers go in one upsert.

    `language` is the one the patient saved the page in: the screening records it (the
    language it was answered in, noted for staff, who read the answers in the source).
    """
    unknown = answers.keys() - {question.code for question in section.questions}
    if unknown:
        raise ValueError(f"Not questions of the {section.code} page: {sorted(unknown)}")
    now = timezone.now()
    changes = {"updated_at": now}
    if language and language.lower() in dict(settings.LANGUAGES):
        changes["language"] = language.lower()
    # The UPDATE takes the screening's row lock (a submit waits for it, or it for a submit)
    # and, matching only a screening still in progress, refuses a submitted one. The usual
    # case (nobody saved since the read, no draft kept of this page) is one prepared
    # statement; it changes nothing otherwise, and the ORM's UPDATE below does it.
    reusable = (
        read is not None
        and visibility is not None
        and page_writes.touch_unless_changed(
            screening_id=screening.pk,
            section_code=section.code,
            as_of=read.as_of,
            now=now,
            language=changes.get("language"),
        )
    )
    if not reusable:
        in_progress = Screening.objects.filter(
            pk=screening.pk, status__in=Screening.EDITABLE_STATUSES
        )
        if not in_progress.update(**changes):
            raise ScreeningLocked
        visibility = visibility_for(screening, {**stored_answers(screening), **answers})
    if screening.purpose == Screening.Purpose.CHECK_IN and why_closed(screening) is not None:
        # Its session was canceled or moved to another day while the page was open.
        raise ScreeningLocked
    ids = row_ids_for(screening.version)
    page_writes.upsert_answers(
        screening_id=screening.pk,
        values={ids.questions[code]: value for code, value in answers.items()},
        now=now,
    )
    shown = visibility.visible_in(section)
    complete = all(q.code in presented for q in shown) and all(
        is_answered(q, visibility.answers.get(q.code)) for q in shown if q.required
    )
    # The saved answers supersede what was kept of this page when a session ended: the
    # usual save discards it in its completion's statement (page_writes.mark_complete).
    if complete:
        page_writes.mark_complete(
            screening_id=screening.pk,
            section_id=ids.sections[section.code],
            section_code=section.code,
            now=now,
            draft_seen=not reusable,
        )
    else:
        CompletedSection.objects.filter(
            screening=screening, section_id=ids.sections[section.code]
        ).delete()
        discard_drafts(screening=screening, section_code=section.code)
    screening.updated_at = now
    if "language" in changes:
        screening.language = changes["language"]
    return PageSaved(complete=complete)


class ScreeningIncomplete(Exception):
    """A shown page still lacks answers; the exception carries the section to go back to."""

    def __init__(self, section: SectionDef) -> None:
        super().__init__(section.code)
        self.section = section


@transaction.atomic
def submit_screening(*, screening: Screening, alert_physicians: bool = True) -> bool:
    """Submit once. Returns False when it was already submitted (a double click, a second tab).

    An urgent screening emails every physician, unless `alert_physicians` is False: only
    the demo's made-up screenings (screening/demo.py), which no one needs alerting about.

    The row is locked and the status change is a conditional UPDATE, so of two concurrent
    submits exactly one changes the row, whatever the database.
    """
    locked = Screening.objects.select_for_update().get(pk=screening.pk)
    if not locked.is_editable:
        return False
    # A check-in of a session canceled or moved to another day is not sent.
    refuse_if_closed(locked)
    missing = first_incomplete_section(locked)
    if missing is not None:
        raise ScreeningIncomplete(missing)
    now = timezone.now()
    changed = Screening.objects.filter(pk=locked.pk, status__in=Screening.EDITABLE_STATUSES).update(
        status=Screening.Status.SUBMITTED,
        submitted_at=now,
        consent_acknowledged_at=now,
        updated_at=now,
        lock_version=F("lock_version") + 1,
        # Nothing left for the patient to do: reminders stop, and start again from nothing
        # if a physician asks for more.
        reminders_sent=0,
        last_reminded_at=None,
        reminders_exhausted_at=None,
    )
    if changed != 1:
        return False
    locked.refresh_from_db()
    # The patient submitted without saving what a draft kept: the submitted answers stand.
    discard_drafts(screening=locked)
    # Evaluated in the same transaction: there is never a submitted screening without flags.
    evaluation = evaluate(locked)
    store_evaluation(locked, evaluation)
    record_submission(locked)
    urgent = evaluation.level == Severity.URGENT
    if locked.purpose == Screening.Purpose.CHECK_IN:
        # A session's check-in is read on its session page, not in the intake queue: no
        # review clock. An urgent one (item 9, suicide risk) alerts physicians as an
        # urgent intake does.
        if urgent and alert_physicians:
            tasks.alert_physicians_of_urgent_screening.enqueue(screening_id=str(locked.pk))
        return True
    # This submission's wait for a physician, stopped by the first one to open the page.
    clock = ReviewClock.objects.create(
        screening=locked,
        submitted_at=now,
        urgent=urgent,
        next_alert_at=tasks.first_realert_time(now) if urgent else None,
    )
    if urgent:
        Screening.objects.filter(pk=locked.pk).update(urgent_unopened_since=now)
    if urgent and alert_physicians:
        # Queued in this transaction: the alert exists exactly when the submission does, and
        # the worker sends it, so a mail-server failure never reaches the patient's page.
        tasks.alert_physicians_of_urgent_screening.enqueue(screening_id=str(locked.pk))
        # And if nobody opens it in time, the worker alerts again, until someone does.
        tasks.schedule_urgent_escalation(clock)
    return True


# Roles -------------------------------------------------------------------------------
