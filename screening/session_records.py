"""Named reads for treatment sessions: each session's record (check-in flags, current
readings, dose, discharge) gathered for any number of sessions in a fixed number of queries,
with its readiness from the engine (engine/readiness.py).

Reads only; writes are in screening/services/sessions.py.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.timezone import localtime
from django.utils.translation import gettext

from .engine.readiness import (
    CheckIn,
    CheckInFlag,
    DischargeFacts,
    Limits,
    Reading,
    SessionFacts,
    discharge_check,
    readiness,
)
from .engine_words import ShownDischarge, ShownReadiness
from .joined_reads import Extra, JoinedRead, any_row_of, prepare_value
from .models import (
    DoseRecord,
    Flag,
    RecognisedMedication,
    Screening,
    SetAsideCheckIn,
    Submission,
    TreatmentCourse,
    TreatmentSession,
    VitalReading,
)
from .presenters import NOT_ASKED, display_answer
from .selectors import (
    Baseline,
    Clearance,
    ClearanceStatus,
    baseline_of_session,
    current_clearance,
    current_clearances,
    stored_answers,
    visibility_for,
)
from .snapshots import questionnaire_for


def limits() -> Limits:
    return Limits(
        hold_systolic=settings.PRE_DOSE_HOLD_SYSTOLIC,
        hold_diastolic=settings.PRE_DOSE_HOLD_DIASTOLIC,
        review_systolic=settings.PRE_DOSE_REVIEW_SYSTOLIC,
        review_diastolic=settings.PRE_DOSE_REVIEW_DIASTOLIC,
    )


@dataclass(frozen=True)
class ClearanceCheck:
    valid: bool
    problem: str = ""


def clearance_check(course: TreatmentCourse) -> ClearanceCheck:
    """Whether the patient's clearance still stands (selectors.current_clearance): expired,
    re-screening asked for, or ended by a later decision holds every session of the course."""
    return clearance_check_of(current_clearance(course.patient))


def clearance_check_of(clearance: Clearance) -> ClearanceCheck:
    if clearance.is_valid:
        return ClearanceCheck(valid=True)
    if clearance.status == ClearanceStatus.EXPIRED:
        problem = gettext(
            "The clearance expired on %(date)s: the patient must repeat the screening."
        ) % {"date": date_format(localtime(clearance.expires_at), "j F Y")}
    elif clearance.status == ClearanceStatus.RESCREENING_REQUESTED:
        problem = gettext(
            "A physician asked for re-screening: the patient must repeat the screening."
        )
    else:
        problem = gettext("The patient has no clearance standing (a later decision ended it).")
    return ClearanceCheck(valid=False, problem=problem)


def as_reading(reading: VitalReading | None) -> Reading | None:
    return Reading(reading.systolic, reading.diastolic) if reading is not None else None


def latest_dose(session: TreatmentSession) -> DoseRecord | None:
    return (
        DoseRecord.objects.filter(session=session, superseded_by__isnull=True)
        .order_by("-recorded_at")
        .first()
    )


def latest_post_dose(session: TreatmentSession) -> VitalReading | None:
    return (
        VitalReading.objects.current()
        .filter(session=session, timing=VitalReading.Timing.POST_DOSE)
        .order_by("-recorded_at")
        .first()
    )


def check_in_state(check_in: Screening | None, invited: bool = False) -> CheckIn:
    if check_in is None:
        # Once the invitation is emailed, "no check-in was sent" would send a nurse to
        # send one: say the patient has it and has not started.
        return CheckIn.INVITED if invited else CheckIn.MISSING
    if check_in.submitted_at is None or check_in.is_editable:
        return CheckIn.NOT_SUBMITTED
    return CheckIn.SUBMITTED


@dataclass
class SessionRecord:
    """One session as staff read it: the current readings, dose, discharge and readiness."""

    session: TreatmentSession
    flags: list[Flag]
    readings: list[VitalReading]  # every reading, corrected ones included, oldest first
    dose: DoseRecord | None
    doses: list[DoseRecord]
    # The engine's results, their words in the active language (engine_words.py).
    readiness: ShownReadiness
    discharge: ShownDischarge
    pre_dose: VitalReading | None = None
    post_dose: list[VitalReading] = field(default_factory=list)

    @property
    def current_readings(self) -> list[VitalReading]:
        corrected = {r.supersedes_id for r in self.readings if r.supersedes_id}
        return [r for r in self.readings if r.pk not in corrected]


def flags_of(screening_ids: Iterable) -> dict:
    """The current flags of these screenings (acknowledgements selected), by screening id, in
    one query."""
    flags_by_screening: dict = defaultdict(list)
    screening_ids = [pk for pk in screening_ids if pk]
    if screening_ids:
        for flag in (
            Flag.objects.filter(screening_id__in=screening_ids)
            .select_related("acknowledgement__physician")
            .order_by("position")
        ):
            flags_by_screening[flag.screening_id].append(flag)
    return flags_by_screening


def session_records(
    sessions: Iterable[TreatmentSession], *, flags: dict | None = None
) -> list[SessionRecord]:
    """Records for these sessions (fetched with course__patient, check_in and discharge
    selected): five queries, however many sessions (four when the caller has read the
    check-ins' flags with flags_of)."""
    sessions = list(sessions)
    ids = [s.pk for s in sessions]
    flags_by_screening = flags if flags is not None else flags_of(s.check_in_id for s in sessions)
    readings_by_session: dict = defaultdict(list)
    readings = list(
        VitalReading.objects.filter(session_id__in=ids)
        .select_related("recorded_by", "review__physician")
        .order_by("recorded_at")
    )
    # The reading that corrected each one (`reading.superseded_by`, as select_related sets
    # it, None for none) from this same list: a correction is of a reading of its own
    # session (services.sessions.record_reading), so the table need not join itself.
    corrections = {r.supersedes_id: r for r in readings if r.supersedes_id}
    for reading in readings:
        correction = corrections.get(reading.pk)
        VitalReading.superseded_by.related.set_cached_value(reading, correction)
        if correction is not None:
            VitalReading.supersedes.field.set_cached_value(correction, reading)
        readings_by_session[reading.session_id].append(reading)
    doses_by_session: dict = defaultdict(list)
    for dose in DoseRecord.objects.filter(session_id__in=ids).select_related("recorded_by"):
        doses_by_session[dose.session_id].append(dose)
    the_limits = limits()
    now = timezone.now()
    # Every patient's clearance in two queries, however many courses the sessions belong to.
    clearances = {
        patient_id: clearance_check_of(clearance)
        for patient_id, clearance in current_clearances(
            {session.course.patient_id for session in sessions}, now=now
        ).items()
    }
    records = []
    for session in sessions:
        clearance = clearances[session.course.patient_id]
        flags = flags_by_screening.get(session.check_in_id, [])
        readings = readings_by_session.get(session.pk, [])
        corrected = {r.supersedes_id for r in readings if r.supersedes_id}
        current = [r for r in readings if r.pk not in corrected]
        pre = [r for r in current if r.timing == VitalReading.Timing.PRE_DOSE]
        post = [r for r in current if r.timing == VitalReading.Timing.POST_DOSE]
        pre_dose = pre[-1] if pre else None
        doses = sorted(doses_by_session.get(session.pk, []), key=lambda d: d.recorded_at)
        dose = doses[-1] if doses else None
        facts = SessionFacts(
            check_in=check_in_state(
                session.check_in, invited=session.check_in_invited_at is not None
            ),
            check_in_flags=tuple(
                CheckInFlag(
                    title=flag.title,
                    severity=flag.severity,
                    acknowledged=hasattr(flag, "acknowledgement"),
                )
                for flag in flags
            ),
            pre_dose=as_reading(pre_dose),
            pre_dose_reviewed=pre_dose is not None and hasattr(pre_dose, "review"),
            clearance_valid=clearance.valid,
            clearance_problem=clearance.problem,
            dose_given_at=timezone.localtime(dose.given_at) if dose else None,
            observation_minutes=settings.OBSERVATION_MINUTES,
            now=now,
            discharged_at=timezone.localtime(session.discharge.recorded_at)
            if hasattr(session, "discharge")
            else None,
        )
        discharge_record = getattr(session, "discharge", None)
        discharge = discharge_check(
            DischargeFacts(
                dose_given_at=timezone.localtime(dose.given_at) if dose else None,
                now=now,
                observation_minutes=settings.OBSERVATION_MINUTES,
                latest_post_dose=as_reading(post[-1] if post else None),
                due_minutes=tuple(settings.POST_DOSE_READING_MINUTES),
                post_dose_times=tuple(r.recorded_at for r in post),
                alert_and_oriented=bool(discharge_record and discharge_record.alert_and_oriented),
                walks_unaided=bool(discharge_record and discharge_record.walks_unaided),
                escort_present=bool(discharge_record and discharge_record.escort_present),
            ),
            the_limits,
        )
        records.append(
            SessionRecord(
                session=session,
                flags=flags,
                readings=readings,
                dose=dose,
                doses=doses,
                readiness=ShownReadiness(readiness(facts, the_limits)),
                discharge=ShownDischarge(discharge),
                pre_dose=pre_dose,
                post_dose=post,
            )
        )
    return records


# What every session record needs with the session: course, patient, clearance, check-in,
# discharge, and who canceled it.
SESSION_RELATIONS = (
    "cancelled_by",
    "course__patient",
    "course__clearance__screening__version",
    "check_in__version",
    "discharge__recorded_by",
)


def sessions_for_staff() -> QuerySet[TreatmentSession]:
    """Sessions with what every record needs selected (course, patient, check-in, discharge)."""
    return TreatmentSession.objects.select_related(*SESSION_RELATIONS)


SESSION_FOR_STAFF = JoinedRead(
    "screening_session_for_staff_read",
    TreatmentSession,
    SESSION_RELATIONS,
    where=lambda quote, alias_of: f"{alias_of('')}.{quote(TreatmentSession._meta.pk.column)} = %s",
    extras=(Extra("has_set_aside", any_row_of(SetAsideCheckIn, "session")),),
)


def session_for_staff(session_id: uuid.UUID) -> TreatmentSession | None:
    """One session as sessions_for_staff() reads it, with `has_set_aside` (whether a check-in
    was set aside when it moved; usually none was), in one prepared query: the session
    page's own read, which the ORM took longer to build and PostgreSQL longer to plan than
    to run (screening/joined_reads.py)."""
    found = SESSION_FOR_STAFF.one([prepare_value(TreatmentSession, session_id)])
    if found is None:
        return None
    session, extras = found
    session.has_set_aside = bool(extras["has_set_aside"])
    return session


# What a nurse reads of the check-in: getting home safely (clinical-reference-sessions.md §3:
# no driving until the next day; someone takes them home). Codes the check-in may use; the
# intake's own are transport_home, escort_name and escort_phone.
NURSE_ANSWER_CODES = (
    "transport_home",
    "escort_confirmed",
    "escort_name",
    "escort_phone",
)


def nurse_answers(
    check_in: Screening | None, stored: dict[str, object] | None = None
) -> list[dict]:
    """The check-in's escort and transport answers, as question text and answer words
    (from the check-in's stored answers when the caller has read them)."""
    if check_in is None:
        return []
    questions = questionnaire_for(check_in.version).questions_by_code
    if stored is None:
        stored = dict(
            check_in.answers.filter(question__code__in=NURSE_ANSWER_CODES).values_list(
                "question__code", "value"
            )
        )
    rows = []
    for code in NURSE_ANSWER_CODES:
        if code in stored and code in questions:
            shown = display_answer(questions[code], stored[code])
            rows.append(
                {
                    "code": code,
                    "label": questions[code].text,
                    "display": "; ".join(shown) if isinstance(shown, list) else shown,
                }
            )
    return rows


def session_answers(
    session: TreatmentSession, *, with_baseline: bool = True
) -> tuple[dict | None, Baseline | None]:
    """The check-in's answers and (with_baseline) the baseline intake as it was signed off,
    read together in one query when the check-in has been sent (its latest submission holds
    its answers as they stand: a sent check-in is not edited): (None, None) without a
    check-in."""
    check_in = session.check_in
    if check_in is None:
        return None, None
    intake = session.course.clearance.screening
    sent = check_in.submitted_at is not None and not check_in.is_editable
    ids = [*([intake.pk] if with_baseline else []), *([check_in.pk] if sent else [])]
    latest: dict = {}
    if ids:
        for screening_id, answers in (
            Submission.objects.filter(screening_id__in=ids)
            .order_by("-number")
            .values_list("screening_id", "answers")
        ):
            latest.setdefault(screening_id, answers)
    baseline = None
    if with_baseline:
        baseline = Baseline(
            intake, dict(latest[intake.pk]) if intake.pk in latest else stored_answers(intake)
        )
    if not sent:
        # Not sent yet: the patient may still change them, and staff read none of them.
        return {}, baseline
    answers = dict(latest[check_in.pk]) if check_in.pk in latest else stored_answers(check_in)
    return answers, baseline


def since_baseline(
    session: TreatmentSession,
    check_in_flags: list[Flag],
    check_in_answers: dict[str, object] | None = None,
    *,
    baseline: Baseline | None = None,
    baseline_flags: list[Flag] | None = None,
) -> dict | None:
    """What changed since the baseline sign-off, for the physician: the check-in's answers
    beside the cleared intake's (the questions they share by code, and the check-in's own),
    both medicine lists as typed and recognised, the scores and the flags."""
    check_in = session.check_in
    if check_in is None or check_in.submitted_at is None:
        return None
    # The intake as it was signed off: its latest submission's answers.
    signed_off = baseline or baseline_of_session(session)
    baseline = signed_off.screening
    before = visibility_for(baseline, signed_off.answers)
    after_questionnaire = questionnaire_for(check_in.version)
    # As the patient was asked: a check-in's conditions also read the intake (its pregnancy
    # page is asked because the intake said she could become pregnant).
    after = visibility_for(check_in, check_in_answers, baseline=signed_off)
    answers = []
    for section in after_questionnaire.sections:
        for question in after.visible_in(section):
            now = display_answer(question, after.answers.get(question.code))
            if question.code in before.questions:
                then = display_answer(
                    before.questions[question.code], before.answers.get(question.code)
                )
            elif question.code in before_codes(baseline):
                then = gettext(NOT_ASKED)
            else:
                then = None  # a check-in question the intake never had
            answers.append(
                {
                    "question": question,
                    "now": now,
                    "then": then,
                    "now_is_list": isinstance(now, list),
                    "then_is_list": isinstance(then, list),
                    "changed": then is not None and then != now,
                }
            )
    # Both lists in one read.
    medications = list(
        RecognisedMedication.objects.filter(screening__in=[baseline.pk, check_in.pk])
    )
    baseline_meds = [m for m in medications if m.screening_id == baseline.pk]
    check_in_meds = [m for m in medications if m.screening_id == check_in.pk]
    known = {m.matched.lower() for m in baseline_meds if m.matched}
    known_typed = {m.typed.strip().lower() for m in baseline_meds}
    for med in check_in_meds:
        med.is_new = (
            (med.matched.lower() not in known)
            if med.matched
            else (med.typed.strip().lower() not in known_typed)
        )
    baseline_scores = {s["code"]: s for s in baseline.scores or []}
    scores = [
        {"name": s.get("name", s["code"]), "now": s, "then": baseline_scores.get(s["code"])}
        for s in check_in.scores or []
    ]
    if baseline_flags is None:
        baseline_flags = list(baseline.flags.all())
    baseline_codes = {f.code for f in baseline_flags}
    return {
        "baseline": baseline,
        "decision": session.course.clearance,
        "changed": [a for a in answers if a["changed"]],
        "check_in_only": [a for a in answers if a["then"] is None],
        "unchanged": [a for a in answers if a["then"] is not None and not a["changed"]],
        "changed_count": sum(1 for a in answers if a["changed"]),
        "baseline_medications": baseline_meds,
        "check_in_medications": check_in_meds,
        "scores": scores,
        "baseline_flags": baseline_flags,
        "new_flag_codes": {f.code for f in check_in_flags} - baseline_codes,
    }


def before_codes(screening: Screening) -> set[str]:
    return set(questionnaire_for(screening.version).questions_by_code)
