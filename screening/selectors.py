"""Named reads: stored answers, what a patient is asked, which pages are done, a page of
the review queue, and the questionnaires a patient has sent (the course of symptoms).

Reads only; every write is in screening/services/.
"""

import datetime
import enum
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db.models import CharField, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast
from django.utils import timezone

from . import patient_reads
from .engine.course import GAD7, PHQ9, Point
from .engine.questionnaire import (
    AGE,
    DATE_OF_BIRTH,
    SectionDef,
    Visibility,
    derived_values,
    is_answered,
    work_out_visibility,
)
from .engine.rules import Band
from .models import (
    Choice,
    Decision,
    DrugClass,
    PageDraft,
    QuestionSetVersion,
    RescreeningRequest,
    ScoreDefinition,
    Screening,
    Submission,
    TreatmentSession,
    UndeliveredEmail,
    User,
)
from .patient_reads import patient_screening as patient_screening
from .prepared import ConstantRead
from .snapshots import CHECK_IN_QUESTION_SET as CHECK_IN_QUESTION_SET
from .snapshots import DEFAULT_QUESTION_SET as DEFAULT_QUESTION_SET
from .snapshots import question_codes_of_published, questionnaire_for


class NoPublishedQuestionSet(Exception):
    """The clinic has not published a question set yet."""


def current_version(slug: str = DEFAULT_QUESTION_SET) -> QuestionSetVersion:
    version = QuestionSetVersion.objects.published().filter(question_set__slug=slug).first()
    if version is None:
        raise NoPublishedQuestionSet
    return version


def stored_answers(screening: Screening) -> dict[str, object]:
    """The screening's answers by question code, in one query written out as SQL: the most
    frequent read of the app (screening/patient_reads.py says why). When the screening's
    version is at hand and published, the answers are named from its cached question codes
    rather than joined with its questions."""
    version_at_hand = Screening._meta.get_field("version").is_cached(screening)
    codes = question_codes_of_published(screening.version) if version_at_hand else None
    return patient_reads.stored_answers(screening.pk, codes)


@dataclass(frozen=True)
class AnswersRead:
    """A screening's stored answers, and its `updated_at` read before them: a save that
    finds the same `updated_at` under its lock knows nobody saved in between."""

    answers: dict[str, object]
    as_of: datetime.datetime


def read_answers(screening: Screening) -> AnswersRead:
    """The stored answers as of `screening`'s read: those read with it by patient_screening
    (taken once: a later read must ask the database), or read now."""
    pairs = screening.__dict__.pop("answers_read_with_it", None)
    if pairs is not None:
        version_at_hand = Screening._meta.get_field("version").is_cached(screening)
        codes = question_codes_of_published(screening.version) if version_at_hand else None
        answers = patient_reads.answers_by_code(pairs, codes)
        if answers is not None:
            return AnswersRead(answers, screening.updated_at)
    return AnswersRead(stored_answers(screening), screening.updated_at)


@dataclass(frozen=True)
class Baseline:
    """The intake a session check-in is read with: the screening the patient's clearance was
    signed on, and its latest submitted answers."""

    screening: Screening
    answers: dict[str, object]


def session_of_check_in(check_in: Screening) -> TreatmentSession | None:
    """The session a check-in is for (None for an intake, or a check-in of no session); no
    query when the screening was read with patient_screening()."""
    if check_in.purpose != Screening.Purpose.CHECK_IN:
        return None
    if Screening.treatment_session.is_cached(check_in):
        return getattr(check_in, "treatment_session", None)
    return (
        TreatmentSession.objects.filter(check_in=check_in)
        .select_related("course__clearance__screening__version")
        .first()
    )


def baseline_for(check_in: Screening) -> Baseline | None:
    """The baseline intake of a check-in (None for an intake, or a check-in of no session)."""
    session = session_of_check_in(check_in)
    if session is None:
        # A check-in set aside when its session moved is still read with its baseline.
        session = (
            TreatmentSession.objects.filter(set_aside_check_ins__check_in=check_in)
            .select_related("course__clearance__screening__version")
            .first()
            if check_in.purpose == Screening.Purpose.CHECK_IN
            else None
        )
        return None if session is None else baseline_of_session(session)
    answers = getattr(check_in, "baseline_answers", None)
    if answers is not None:
        return Baseline(session.course.clearance.screening, dict(answers))
    return baseline_of_session(session)


def baseline_of_session(session: TreatmentSession) -> Baseline:
    """The intake the session's course was cleared on, with its latest submitted answers."""
    intake = session.course.clearance.screening
    latest = intake.submissions.order_by("-number").values_list("answers", flat=True).first()
    return Baseline(intake, dict(latest) if latest is not None else stored_answers(intake))


def visibility_for(
    screening: Screening,
    answers: dict[str, object] | None = None,
    baseline: Baseline | None = None,
    language: str | None = None,
) -> Visibility:
    """What the patient is asked; a check-in's conditions also read its baseline intake
    (found from its session unless the caller has it). With `language`, the patient's, its
    sections and questions carry their texts in that language (the working-out is the same)."""
    questionnaire = questionnaire_for(screening.version, language)
    if answers is None:
        answers = stored_answers(screening)
    if baseline is None:
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
    patient's own wizard page asks (the screening was looked up by its patient). No query
    when the screening was read with patient_screening() and keeps no draft at all."""
    if getattr(screening, "has_page_drafts", True) is False:
        return None
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


# Clearance ---------------------------------------------------------------------------------


def intake_screenings(patient: User) -> QuerySet:
    """The patient's full intakes (not pre-session check-ins): every read of clearance and
    re-screening goes through here, so telling the two apart is one line."""
    return Screening.objects.for_patient(patient).intakes()


class ClearanceStatus(enum.StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    RESCREENING_REQUESTED = "rescreening_requested"
    NONE = "none"  # never cleared, or a later "not a candidate" ended it


CLEARING_OUTCOMES = (Decision.Outcome.CLEARED, Decision.Outcome.CLEARED_WITH_CONDITIONS)
ENDING_OUTCOMES = (Decision.Outcome.NOT_A_CANDIDATE,)


@dataclass(frozen=True)
class Clearance:
    """Whether a patient may be treated on their intake, and why not."""

    status: ClearanceStatus
    decision: Decision | None = None  # the clearing decision, when there is one
    expires_at: datetime.datetime | None = None
    request: RescreeningRequest | None = None  # the physician's request, when one ended it

    @property
    def is_valid(self) -> bool:
        return self.status == ClearanceStatus.VALID

    @property
    def needs_rescreening(self) -> bool:
        """The patient must repeat the full intake before a session."""
        return self.status in (ClearanceStatus.EXPIRED, ClearanceStatus.RESCREENING_REQUESTED)


def current_clearance(patient: User, *, now: datetime.datetime | None = None) -> Clearance:
    """The patient's clearance as of `now`: the latest signed clearing decision still
    standing, when it expires, and whether it is valid, expired or ended by a physician's
    request to re-screen. One query (two when a physician asked to re-screen).

    A clearing decision stands while it is the latest decision on its screening (an
    amendment to "more information needed" reopens the screening, so it no longer stands)
    and no "not a candidate" was signed after it, on any intake. Valid strictly before
    signed_at + CLEARANCE_VALID_DAYS; a request from a physician made after the signature
    ends it at once (and is reported before expiry: it carries the physician's reason).
    """
    return current_clearances([patient.pk], now=now)[patient.pk]


def current_clearances(
    patient_ids: Iterable[uuid.UUID], *, now: datetime.datetime | None = None
) -> dict[uuid.UUID, Clearance]:
    """current_clearance for many patients at once (the sessions board): one query, however
    many patients (and one more to read a physician's request to re-screen, when a clearance
    has one). Each decision is read with the id of the newest such request made at or after
    its signature, on any of the patient's intakes."""
    now = now or timezone.now()
    patient_ids = list(patient_ids)
    later_request = (
        RescreeningRequest.objects.filter(
            screening__purpose=Screening.Purpose.INTAKE,
            screening__patient_id=OuterRef("screening__patient_id"),
            requested_at__gte=OuterRef("signed_at"),
        )
        .order_by("-requested_at")
        .values("pk")[:1]
    )
    decisions_by_patient: dict[uuid.UUID, list[Decision]] = defaultdict(list)
    # The decisions of these patients' intakes, each with its patient's id (the intake's
    # other columns are not read: a clearance names its screening by screening_id).
    for decision in (
        Decision.objects.filter(
            screening__patient_id__in=patient_ids,
            screening__purpose=Screening.Purpose.INTAKE,
        )
        .annotate(
            intake_patient_id=F("screening__patient_id"),
            later_request_id=Subquery(later_request),
        )
        .order_by("-signed_at", "-pk")
    ):
        decisions_by_patient[decision.intake_patient_id].append(decision)
    return {
        patient_id: _clearance_from(decisions_by_patient[patient_id], now)
        for patient_id in patient_ids
    }


def _clearance_from(decisions: list[Decision], now: datetime.datetime) -> Clearance:
    """One patient's clearance from their intakes' decisions, newest first, each read with
    `later_request_id` (current_clearances)."""
    latest_on_screening: set[uuid.UUID] = set()
    clearing = None
    for decision in decisions:
        first_seen = decision.screening_id not in latest_on_screening
        latest_on_screening.add(decision.screening_id)
        if decision.outcome in ENDING_OUTCOMES:
            return Clearance(ClearanceStatus.NONE)
        if decision.outcome in CLEARING_OUTCOMES and first_seen:
            clearing = decision
            break
    if clearing is None:
        return Clearance(ClearanceStatus.NONE)
    expires_at = clearing.signed_at + datetime.timedelta(days=settings.CLEARANCE_VALID_DAYS)
    request = None
    if clearing.later_request_id is not None:
        request = RescreeningRequest.objects.select_related("screening").get(
            pk=clearing.later_request_id
        )
    if request is not None:
        status = ClearanceStatus.RESCREENING_REQUESTED
    elif now >= expires_at:
        status = ClearanceStatus.EXPIRED
    else:
        status = ClearanceStatus.VALID
    return Clearance(status, clearing, expires_at, request)


# The review queue ------------------------------------------------------------------------

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
ONE_MICROSECOND = datetime.timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One screening as the queue shows it: its row's values, and where it sits in the queue.

    Plain values, not a Screening and its patient: fifty pairs of model instances cost more
    than the rest of the page's read.
    """

    id: uuid.UUID
    status: str
    level: str
    level_rank: int
    submitted_at: datetime.datetime
    flag_count: int
    submission_count: int
    patient_full_name: str
    patient_email: str
    information_requested_at: datetime.datetime | None
    message_to_patient: str
    urgent_unopened_since: datetime.datetime | None
    previous_id: uuid.UUID | None

    @property
    def pk(self) -> uuid.UUID:
        return self.id


# The columns of a QueueEntry, in its fields' order.
QUEUE_ENTRY_COLUMNS = (
    *("id", "status", "level", "level_rank", "submitted_at", "flag_count", "submission_count"),
    *("patient__full_name", "patient__email"),
    *("information_requested_at", "message_to_patient", "urgent_unopened_since", "previous_id"),
)


@dataclass(frozen=True)
class QueuePage:
    """Up to a page of screenings in queue order, and where the neighbouring pages start."""

    screenings: list[QueueEntry]
    next_cursor: str | None  # for ?after=
    previous_cursor: str | None  # for ?before=

    def __iter__(self) -> Iterator[QueueEntry]:
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
    screenings = screenings.values_list(*QUEUE_ENTRY_COLUMNS)
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
        rows = _entries(first_queue_entries(screenings, size))
    return _page_from(rows, size, after_a_cursor=forwards is not None)


def first_queue_page(read: ConstantRead, *, size: int) -> QueuePage:
    """The first page, from `read`, the prepared read of a queue's first `size` + 1 entries
    (`first_queue_entries`): the queue as physicians open it, with no filter or cursor."""
    return _page_from([QueueEntry(*values) for values in read.rows()], size, after_a_cursor=False)


def _page_from(rows: list[QueueEntry], size: int, *, after_a_cursor: bool) -> QueuePage:
    """A page of the first `size` of `rows` read forwards (one more says a next page exists)."""
    more_after = len(rows) > size
    rows = rows[:size]
    return QueuePage(
        rows,
        _cursor_of(rows[-1]) if rows and more_after else None,
        _first(rows, after_a_cursor),
    )


def first_queue_entries(screenings: QuerySet, size: int) -> QuerySet:
    """The read of the first page's entries and the one after them (is there a next page?)."""
    return screenings.values_list(*QUEUE_ENTRY_COLUMNS).in_queue_order()[: size + 1]


def _entries(rows: QuerySet) -> list[QueueEntry]:
    return [QueueEntry(*values) for values in rows]


def _beside(screenings: QuerySet, cursor: tuple, limit: int, *, forwards: bool) -> list[QueueEntry]:
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
    rows = _entries(same_level[:limit])
    if len(rows) < limit:
        rows += _entries(other_levels[: limit - len(rows)])
    return rows


def _first(rows: list[QueueEntry], more_before: bool) -> str | None:
    return _cursor_of(rows[0]) if rows and more_before else None


def _cursor_of(entry: QueueEntry) -> str:
    micros = (entry.submitted_at - EPOCH) // ONE_MICROSECOND
    return f"{entry.level_rank}.{micros}.{entry.id.hex}"


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


def _notice_keys() -> QuerySet:
    """The ids of the screenings the queue's notices name, with which notice names each: the
    undelivered urgent alerts' and the patients' who did not answer their last reminder."""
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
    return undelivered.union(unanswered, all=True)


# Read on every opening of the queue, and the same read every time.
NOTICE_KEYS = ConstantRead("queue_notice_keys", _notice_keys)


def queue_notices() -> QueueNotices:
    """One query when there is nothing to tell (the usual case), two when there is: the ids
    of both kinds in one UNION, then their screenings with the patients' names."""
    found: dict[str, set[uuid.UUID]] = {"alert": set(), "unanswered": set()}
    for key, source in NOTICE_KEYS.rows():
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


# The questionnaires a patient has sent: the course of symptoms ---------------------------

COURSE_SCORES = (PHQ9, GAD7)
ITEM9 = "phq9_9"  # PHQ-9 item 9's question code, the same in the intake and the check-in
SEX_AT_BIRTH = "sex_at_birth"


@dataclass(frozen=True)
class SentQuestionnaire:
    """A questionnaire as the patient last sent it: its latest submission's snapshot.

    One per screening, never one per submission: a questionnaire sent again after a
    physician asked for more information is the same questionnaire, corrected, so its
    latest answers replace the earlier ones (as they do on the screening page), dated when
    they were sent. `times_sent` says whether that happened."""

    screening_id: uuid.UUID
    name: str  # the question set's name: "Ketamine pre-treatment screening"
    version_id: uuid.UUID
    sent_at: datetime.datetime
    times_sent: int
    status: str
    scores: list
    item9_answer: str | None
    date_of_birth: str | None
    sex_at_birth: str | None


def sent_questionnaires(patient: User) -> list[SentQuestionnaire]:
    """Every questionnaire the patient has sent, oldest first, in one query: the latest
    submission of each (only the few answers the course needs are read, not the blob)."""
    rows = (
        Submission.objects.filter(screening__patient=patient)
        .annotate(
            item9_answer=KeyTextTransform(ITEM9, "answers"),
            birth=KeyTextTransform(DATE_OF_BIRTH, "answers"),
            sex=KeyTextTransform(SEX_AT_BIRTH, "answers"),
        )
        .order_by("screening_id", "number")
        .values_list(
            "screening_id",
            "number",
            "submitted_at",
            "scores",
            "item9_answer",
            "birth",
            "sex",
            "screening__version_id",
            "screening__version__question_set__name",
            "screening__status",
        )
    )
    latest: dict[uuid.UUID, SentQuestionnaire] = {}
    for screening_id, number, sent_at, scores, item9, birth, sex, version, name, status in rows:
        latest[screening_id] = SentQuestionnaire(
            screening_id=screening_id,
            name=name,
            version_id=version,
            sent_at=sent_at,
            times_sent=number,
            status=status,
            scores=scores if isinstance(scores, list) else [],
            item9_answer=item9,
            date_of_birth=birth,
            sex_at_birth=sex,
        )
    return sorted(latest.values(), key=lambda sent: (sent.sent_at, str(sent.screening_id)))


def _choice_words(sent: list[SentQuestionnaire]) -> dict[tuple, tuple[int | None, str]]:
    """(version, question code, stored value) -> (the choice's score, its label), for item 9
    and the sex at birth of every version the patient answered: one query."""
    rows = Choice.objects.filter(
        question__version_id__in={s.version_id for s in sent},
        question__code__in=(ITEM9, SEX_AT_BIRTH),
    ).values_list("question__version_id", "question__code", "value", "score", "label")
    return {(version, code, value): (score, label) for version, code, value, score, label in rows}


def _total(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def symptom_points(
    sent: list[SentQuestionnaire], choices: dict[tuple, tuple[int | None, str]] | None = None
) -> list[Point]:
    """The PHQ-9 and GAD-7 totals of the questionnaires sent, one point per questionnaire
    that scored them (a questionnaire that did not ask a scale gives no point for it).
    Item 9's score is its choice's score in the version answered, never read from text."""
    if choices is None:
        choices = _choice_words(sent)
    points = []
    for one in sent:
        for score in one.scores:
            code = score.get("code") if isinstance(score, dict) else None
            total = _total(score.get("value")) if code in COURSE_SCORES else None
            if total is None:
                continue
            item9 = None
            if code == PHQ9 and one.item9_answer is not None:
                item9 = choices.get((one.version_id, ITEM9, one.item9_answer), (None, ""))[0]
            points.append(
                Point(
                    instrument=code,
                    taken_at=one.sent_at,
                    total=total,
                    item9=item9,
                    label=one.name,
                    band=str(score.get("band") or ""),
                    ref=str(one.screening_id),
                )
            )
    return points


def score_bands(version_id: uuid.UUID | None) -> dict[str, tuple[Band, ...]]:
    """The bands of the course's scores as a version's content defines them: one query."""
    if version_id is None:
        return {}
    bands: dict[str, tuple[Band, ...]] = {}
    for code, rows in ScoreDefinition.objects.filter(
        version_id=version_id, code__in=COURSE_SCORES
    ).values_list("code", "bands"):
        bands[code] = tuple(
            Band(row["min"], row["max"], str(row.get("label", "")))
            for row in rows or []
            if isinstance(row, dict)
            and isinstance(row.get("min"), int | float)
            and isinstance(row.get("max"), int | float)
        )
    return bands


@dataclass(frozen=True)
class PatientCourse:
    """What the course pages show of one patient: the questionnaires sent, the points, the
    bands of the latest version, and age and sex as the latest questionnaire gave them."""

    sent: list[SentQuestionnaire]
    points: list[Point]
    bands: dict[str, tuple[Band, ...]]
    age: int | None
    sex: str | None


def patient_course(patient: User, *, today: datetime.date) -> PatientCourse:
    """Three queries whatever the number of questionnaires (four with the bands)."""
    sent = sent_questionnaires(patient)
    choices = _choice_words(sent) if sent else {}
    points = symptom_points(sent, choices)
    latest_version = max(points, key=lambda p: p.taken_at).ref if points else None
    version_of = {str(s.screening_id): s.version_id for s in sent}
    age = sex = None
    for one in reversed(sent):
        if one.date_of_birth:
            age = derived_values({DATE_OF_BIRTH: one.date_of_birth}, today).get(AGE)
            if one.sex_at_birth:
                sex = choices.get((one.version_id, SEX_AT_BIRTH, one.sex_at_birth), (None, ""))[1]
            break
    return PatientCourse(
        sent=sent,
        points=points,
        bands=score_bands(version_of.get(latest_version)),
        age=age,
        sex=sex or None,
    )
