"""Named reads: stored answers, what a patient is asked, which pages are done, and a page of
the review queue.

Reads only; every write is in screening/services/.
"""

import datetime
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import CharField, Q, QuerySet, Value
from django.db.models.functions import Cast
from django.utils import timezone

from .engine.questionnaire import SectionDef, Visibility, is_answered, work_out_visibility
from .models import (
    DrugClass,
    PageDraft,
    QuestionSetVersion,
    Screening,
    TreatmentSession,
    UndeliveredEmail,
)
from .snapshots import CHECK_IN_QUESTION_SET as CHECK_IN_QUESTION_SET
from .snapshots import DEFAULT_QUESTION_SET as DEFAULT_QUESTION_SET
from .snapshots import questionnaire_for


class NoPublishedQuestionSet(Exception):
    """The clinic has not published a question set yet."""


def current_version(slug: str = DEFAULT_QUESTION_SET) -> QuestionSetVersion:
    version = QuestionSetVersion.objects.published().filter(question_set__slug=slug).first()
    if version is None:
        raise NoPublishedQuestionSet
    return version


def stored_answers(screening: Screening) -> dict[str, object]:
    return dict(screening.answers.values_list("question__code", "value"))


@dataclass(frozen=True)
class AnswersRead:
    """A screening's stored answers, and its `updated_at` read before them: a save that
    finds the same `updated_at` under its lock knows nobody saved in between."""

    answers: dict[str, object]
    as_of: datetime.datetime


def read_answers(screening: Screening) -> AnswersRead:
    return AnswersRead(stored_answers(screening), screening.updated_at)


@dataclass(frozen=True)
class Baseline:
    """The intake a session check-in is read with: the screening the patient's clearance was
    signed on, and its latest submitted answers."""

    screening: Screening
    answers: dict[str, object]


def baseline_for(check_in: Screening) -> Baseline | None:
    """The baseline intake of a check-in (None for an intake, or a check-in of no session)."""
    if check_in.purpose != Screening.Purpose.CHECK_IN:
        return None
    session = TreatmentSession.objects.filter(check_in=check_in).select_related(
        "course__clearance__screening__version"
    )
    session = session.first()
    if session is None:
        return None
    intake = session.course.clearance.screening
    latest = intake.submissions.order_by("-number").values_list("answers", flat=True).first()
    return Baseline(intake, dict(latest) if latest is not None else stored_answers(intake))


def visibility_for(screening: Screening, answers: dict[str, object] | None = None) -> Visibility:
    """What the patient is asked; a check-in's conditions also read its baseline intake."""
    questionnaire = questionnaire_for(screening.version)
    if answers is None:
        answers = stored_answers(screening)
    baseline = baseline_for(screening)
    if baseline is None:
        return work_out_visibility(questionnaire, answers, timezone.localdate())
    return work_out_visibility(
        questionnaire.with_baseline(questionnaire_for(baseline.screening.version)),
        answers,
        timezone.localdate(),
        baseline.answers,
    )


def section_is_complete(section: SectionDef, visibility: Visibility, completed: set[str]) -> bool:
    """Saved by the patient, and every shown required question still has an answer."""
    if section.code not in completed:
        return False
    return all(
        is_answered(question, visibility.answers.get(question.code))
        for question in visibility.visible_in(section)
        if question.required
    )


def completed_codes(screening: Screening) -> set[str]:
    return set(screening.completed_sections.values_list("section__code", flat=True))


def page_draft(screening: Screening, section_code: str) -> PageDraft | None:
    """What was kept of this page when the patient's session ended, if anything. Only the
    patient's own wizard page asks (the screening was looked up by its patient)."""
    return PageDraft.objects.filter(screening=screening, section_code=section_code).first()


def drafted_section_codes(screening: Screening) -> set[str]:
    """The pages with a kept draft the patient has not saved yet (the review page lists them)."""
    return set(PageDraft.objects.filter(screening=screening).values_list("section_code", flat=True))


def first_incomplete_section(screening: Screening) -> SectionDef | None:
    """Where a returning patient resumes; None when every shown page is done."""
    visibility = visibility_for(screening)
    completed = completed_codes(screening)
    for section in visibility.sections:
        if not section_is_complete(section, visibility, completed):
            return section
    return None


# The review queue ------------------------------------------------------------------------

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
ONE_MICROSECOND = datetime.timedelta(microseconds=1)


@dataclass(frozen=True)
class QueuePage:
    """Up to a page of screenings in queue order, and where the neighbouring pages start."""

    screenings: list[Screening]
    next_cursor: str | None  # for ?after=
    previous_cursor: str | None  # for ?before=

    def __iter__(self) -> Iterator[Screening]:
        return iter(self.screenings)

    def __len__(self) -> int:
        return len(self.screenings)


def queue_page(screenings: QuerySet, *, after: str = "", before: str = "", size: int) -> QueuePage:
    """The page after (or before) the row a cursor names, most urgent first, then oldest.

    Keyset paging: each page is found from its neighbour's edge row through the queue's
    index, so page 2,000 costs what page 1 does, and nothing counts the whole table (an
    exact count of 100,000 screenings took longer than the rest of the page). A cursor
    that does not parse gives the first page, like every other queue parameter.
    """
    backwards = _cursor(before)
    forwards = None if backwards else _cursor(after)
    if backwards:
        rows = _beside(screenings, backwards, size + 1, forwards=False)
        more_before = len(rows) > size
        rows = rows[:size][::-1]
        return QueuePage(rows, _cursor_of(rows[-1]) if rows else None, _first(rows, more_before))
    if forwards:
        rows = _beside(screenings, forwards, size + 1, forwards=True)
    else:
        rows = list(screenings.in_queue_order()[: size + 1])
    more_after = len(rows) > size
    rows = rows[:size]
    return QueuePage(
        rows,
        _cursor_of(rows[-1]) if rows and more_after else None,
        _first(rows, forwards is not None),
    )


def _beside(screenings: QuerySet, cursor: tuple, limit: int, *, forwards: bool) -> list[Screening]:
    """Up to `limit` rows after (or, nearest first, before) the cursor's row in queue order.

    First the rest of the cursor's level, then the levels below (or above): each is one
    range of the (status, level, time) index, so PostgreSQL seeks to it instead of reading
    and discarding every row before it, as one condition spanning levels made it do.
    """
    rank, submitted_at, pk = cursor
    if forwards:
        same_level = (
            screenings.filter(level_rank=rank, submitted_at__gte=submitted_at)
            .filter(Q(submitted_at__gt=submitted_at) | Q(submitted_at=submitted_at, id__gt=pk))
            .order_by("submitted_at", "id")
        )
        other_levels = screenings.filter(level_rank__lt=rank).in_queue_order()
    else:
        same_level = (
            screenings.filter(level_rank=rank, submitted_at__lte=submitted_at)
            .filter(Q(submitted_at__lt=submitted_at) | Q(submitted_at=submitted_at, id__lt=pk))
            .order_by("-submitted_at", "-id")
        )
        other_levels = screenings.filter(level_rank__gt=rank).order_by(
            "level_rank", "-submitted_at", "-id"
        )
    rows = list(same_level[:limit])
    if len(rows) < limit:
        rows += list(other_levels[: limit - len(rows)])
    return rows


def _first(rows: list[Screening], more_before: bool) -> str | None:
    return _cursor_of(rows[0]) if rows and more_before else None


def _cursor_of(screening: Screening) -> str:
    micros = (screening.submitted_at - EPOCH) // ONE_MICROSECOND
    return f"{screening.level_rank}.{micros}.{screening.pk.hex}"


def _cursor(text: str) -> tuple[int, datetime.datetime, uuid.UUID] | None:
    try:
        rank, micros, pk = text.split(".")
        return int(rank), EPOCH + int(micros) * ONE_MICROSECOND, uuid.UUID(hex=pk)
    except (ValueError, OverflowError):
        return None


@dataclass(frozen=True)
class QueueNotices:
    """What the queue must tell physicians above its rows, whatever the page shows."""

    alerts_not_sent: list[Screening]  # urgent, awaiting review, whose alert email failed
    not_answering: list[Screening]  # patients who did not answer their last reminder


def queue_notices() -> QueueNotices:
    """One query when there is nothing to tell (the usual case), two when there is: the ids
    of both kinds in one UNION, then their screenings with the patients' names."""
    kinds = [UndeliveredEmail.Kind.URGENT_ALERT, UndeliveredEmail.Kind.URGENT_REALERT]
    undelivered = (
        UndeliveredEmail.objects.unresolved()
        .filter(kind__in=kinds)
        .annotate(source=Value("alert", output_field=CharField()))
        .values_list("object_id", "source")
        .order_by()
    )
    unanswered = (
        Screening.objects.intakes()
        .in_progress()
        .filter(reminders_exhausted_at__isnull=False)
        .annotate(
            key=Cast("id", output_field=CharField()),
            source=Value("unanswered", output_field=CharField()),
        )
        .values_list("key", "source")
        .order_by()
    )
    found: dict[str, set[uuid.UUID]] = {"alert": set(), "unanswered": set()}
    for key, source in undelivered.union(unanswered, all=True):
        try:
            found[source].add(uuid.UUID(key))
        except ValueError:
            continue
    if not found["alert"] and not found["unanswered"]:
        return QueueNotices([], [])
    screenings = list(
        Screening.objects.filter(
            Q(status=Screening.Status.SUBMITTED, pk__in=found["alert"])
            | Q(pk__in=found["unanswered"])
        )
        .select_related("patient")
        .in_queue_order()
    )
    return QueueNotices(
        alerts_not_sent=[s for s in screenings if s.pk in found["alert"]],
        not_answering=sorted(
            (s for s in screenings if s.pk in found["unanswered"]),
            key=lambda s: s.reminders_exhausted_at,
        ),
    )


def drug_class_names() -> dict[str, str]:
    """Each formulary class's name as its description writes it ("Strong CYP3A4 inhibitors"
    from "Strong CYP3A4 inhibitors (raise ketamine exposure, ...)"), by class code."""
    return {
        code: description.split(" (", 1)[0].strip() or code
        for code, description in DrugClass.objects.values_list("name", "description")
    }
