"""Treatment courses and sessions, staff side: start a course for a cleared patient, schedule
its sessions, and the in-clinic record of each (vitals, the dose, discharge, a physician's
review of a raised pre-dose blood pressure). One transaction and one audit event each.

Clinical records here are append-only: a reading typed wrong is corrected by a new reading
that supersedes it; nothing is edited or deleted (docs/sessions.md).
"""

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import audit, tasks
from ..engine.readiness import DischargeFacts, Status, discharge_check
from ..engine_words import say
from ..models import (
    AuditAction,
    BloodPressureReview,
    Decision,
    DischargeRecord,
    DoseRecord,
    Screening,
    SetAsideCheckIn,
    TreatmentCourse,
    TreatmentSession,
    User,
    VitalReading,
)
from ..reason_text import check_reason
from ..selectors import current_clearance
from ..session_records import (
    as_reading,
    clearance_check_of,
    latest_dose,
    latest_post_dose,
    limits,
    session_records,
    sessions_for_staff,
)
from .review import CLEARING


class SessionNotAllowed(Exception):
    """The request breaks a rule of courses and sessions; the message says which, in words a
    nurse or physician can act on. ``field`` names the form box the message belongs beside
    (empty: the top of the form)."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


NOT_READY_WORDS = {
    Status.ON_HOLD: _("on hold"),
    Status.NEEDS_REVIEW: _("waiting for a physician's review"),
}

# A dose time further back than this is refused as a slip (a wrong hour, or yesterday's time):
# a session is one clinic visit, the dose is recorded while the patient is observed (at least
# OBSERVATION_MINUTES, 2 hours by default), and 12 hours covers the longest clinic day while
# still catching a time that cannot belong to this visit.
DOSE_TIME_MAX_AGE = timedelta(hours=12)
# Sessions are booked at most this far ahead: a year ("9999" is a typo, not a plan).
BOOKING_HORIZON = timedelta(days=366)


def latest_intake_decision(patient: User) -> Decision | None:
    """The most recent decision signed on any of the patient's intakes (not check-ins)."""
    return (
        Decision.objects.filter(
            screening__patient=patient, screening__purpose=Screening.Purpose.INTAKE
        )
        .select_related("screening")
        .order_by("-signed_at")
        .first()
    )


@transaction.atomic
def start_course(
    *, patient: User, product: str, actor: User, ip_address: str | None
) -> TreatmentCourse:
    """Start a course under the patient's latest intake decision, which must be a clearance."""
    # Lock the patient's row: two staff starting a course at once get one course.
    patient = User.objects.select_for_update().get(pk=patient.pk)
    if product not in TreatmentCourse.Product.values:
        raise SessionNotAllowed(gettext("Choose the product and route of the course."))
    decision = latest_intake_decision(patient)
    if decision is None:
        raise SessionNotAllowed(
            gettext(
                "%(patient)s has no signed screening decision: a course starts only after a "
                "physician clears the screening."
            )
            % {"patient": patient.full_name}
        )
    if decision.outcome not in CLEARING:
        raise SessionNotAllowed(
            gettext(
                "%(patient)s's latest screening decision is “%(outcome)s”, not a clearance: a "
                "course cannot start."
            )
            % {"patient": patient.full_name, "outcome": decision.get_outcome_display()}
        )
    if patient.treatment_courses.filter(ended_at__isnull=True).exists():
        raise SessionNotAllowed(
            gettext("%(patient)s already has a course in progress.")
            % {"patient": patient.full_name}
        )
    course = TreatmentCourse.objects.create(
        patient=patient, product=product, clearance=decision, created_by=actor
    )
    audit.record(
        actor=actor,
        ip_address=ip_address,
        action=AuditAction.COURSE_STARTED,
        screening=decision.screening,
        obj=course,
        summary="Treatment course started",
    )
    return course


@transaction.atomic
def schedule_session(
    *, course: TreatmentCourse, scheduled_for: datetime, actor: User, ip_address: str | None
) -> TreatmentSession:
    """Book one session of the course, and invite the patient to its check-in (the task
    waits until CHECK_IN_OPENS_HOURS_BEFORE the session, and is queued in this transaction)."""
    course = TreatmentCourse.objects.select_for_update().get(pk=course.pk)
    _check_booking(course, scheduled_for)
    session = TreatmentSession.objects.create(
        course=course, scheduled_for=scheduled_for, created_by=actor
    )
    audit.record(
        actor=actor,
        ip_address=ip_address,
        action=AuditAction.SESSION_SCHEDULED,
        obj=session,
        summary="Treatment session scheduled",
    )
    tasks.invite_to_check_in.enqueue(session_id=str(session.pk))
    return session


def _check_booking(
    course: TreatmentCourse, scheduled_for: datetime, moving: TreatmentSession | None = None
) -> None:
    """The checks of booking a session, and of moving one (`moving`) to another time: the
    course has not ended, the time is ahead and within a year, the patient's clearance
    stands, and no other session of the course (cancelled ones aside) is on that day. The
    caller holds the course's row lock."""
    if course.ended_at is not None:
        raise SessionNotAllowed(
            gettext("This course has ended: start a new course to book sessions.")
        )
    now = timezone.now()
    if scheduled_for <= now:
        raise SessionNotAllowed(
            gettext("That time has already passed: choose a time in the future."), field="time"
        )
    if scheduled_for > now + BOOKING_HORIZON:
        raise SessionNotAllowed(
            gettext("That date is more than a year ahead: check the year."), field="date"
        )
    clearance = clearance_check_of(current_clearance(course.patient))
    if not clearance.valid:
        # The problem is worded in the active language (session_records.clearance_check_of).
        raise SessionNotAllowed(
            gettext("No session can be booked: %(problem)s") % {"problem": clearance.problem}
        )
    day = timezone.localdate(scheduled_for)
    others = course.sessions.filter(cancelled_at__isnull=True)
    if moving is not None:
        others = others.exclude(pk=moving.pk)
    if any(
        timezone.localdate(other) == day for other in others.values_list("scheduled_for", flat=True)
    ):
        raise SessionNotAllowed(
            gettext(
                "%(patient)s already has a session of this course on %(date)s: choose another day."
            )
            % {"patient": course.patient.full_name, "date": date_format(day, "l j F Y")},
            field="date",
        )


def _checked_reason(reason: str, empty_message: str) -> str:
    """The reason as kept, or SessionNotAllowed beside the reason box (reason_text)."""
    try:
        return check_reason(reason, empty_message)
    except ValidationError as error:
        raise SessionNotAllowed(error.messages[0], field="reason") from error


def _refuse_changing_booking(session: TreatmentSession) -> None:
    """A booking is cancelled or moved only while nothing has happened at the visit."""
    if session.cancelled_at is not None:
        raise SessionNotAllowed(gettext("This session was canceled already."))
    if DoseRecord.objects.filter(session=session).exists():
        raise SessionNotAllowed(
            gettext(
                "A dose has been recorded for this session: it took place, and cannot be "
                "canceled or moved."
            )
        )
    if DischargeRecord.objects.filter(session=session).exists():
        raise SessionNotAllowed(
            gettext("The patient has been discharged: this session's record is closed.")
        )


@transaction.atomic
def cancel_session(
    *, session: TreatmentSession, reason: str, actor: User, ip_address: str | None
) -> TreatmentSession:
    """Cancel a booked session: kept on file with who, when and why; its check-in invitation
    is not sent (the task finds it cancelled). Refused once a dose is recorded."""
    session = TreatmentSession.objects.select_for_update().get(pk=session.pk)
    _refuse_changing_booking(session)
    reason = _checked_reason(reason, gettext("Say why the session is canceled."))
    session.cancelled_at = timezone.now()
    session.cancelled_by = actor
    session.cancel_reason = reason.strip()
    session.save(update_fields=["cancelled_at", "cancelled_by", "cancel_reason"])
    audit.record(
        actor=actor,
        ip_address=ip_address,
        action=AuditAction.SESSION_CANCELLED,
        obj=session,
        summary="Treatment session cancelled",
    )
    return session


@transaction.atomic
def reschedule_session(
    *, session: TreatmentSession, scheduled_for: datetime, actor: User, ip_address: str | None
) -> TreatmentSession:
    """Move a booked session to another time, with the checks of booking, and plan its
    check-in invitation again for the new time; a check-in opened or sent for another day
    is set aside (kept, no longer the session's). Refused once a dose is recorded."""
    course = TreatmentCourse.objects.select_for_update().get(pk=session.course_id)
    session = TreatmentSession.objects.select_for_update().get(pk=session.pk)
    _refuse_changing_booking(session)
    _check_booking(course, scheduled_for, moving=session)
    moved_day = timezone.localdate(scheduled_for) != timezone.localdate(session.scheduled_for)
    if session.check_in_id is not None and moved_day:
        # Answered for the old day ("in the last 24 hours", food, a new medicine since): set
        # aside, kept as written and read by staff as the earlier date's, and a new check-in
        # is asked for in the new time's window. A move within the day keeps it.
        SetAsideCheckIn.objects.create(
            check_in_id=session.check_in_id,
            session=session,
            was_scheduled_for=session.scheduled_for,
            set_aside_by=actor,
        )
        session.check_in = None
    session.scheduled_for = scheduled_for
    fields = ["scheduled_for", "check_in"]
    if session.check_in_id is None:
        # Not opened yet: the invitation is sent again before the new time (it is sent at
        # most once per planned time; a task queued for the old time finds the new one).
        session.check_in_invited_at = None
        fields.append("check_in_invited_at")
    session.save(update_fields=fields)
    audit.record(
        actor=actor,
        ip_address=ip_address,
        action=AuditAction.SESSION_RESCHEDULED,
        obj=session,
        summary="Treatment session moved",
    )
    tasks.invite_to_check_in.enqueue(session_id=str(session.pk))
    return session


@transaction.atomic
def end_course(
    *, course: TreatmentCourse, reason: str, actor: User, ip_address: str | None
) -> TreatmentCourse:
    """End a course (a physician's decision), with the reason: no more sessions are booked on
    it, and its sessions still ahead with no dose recorded are cancelled, each audited."""
    course = TreatmentCourse.objects.select_for_update().get(pk=course.pk)
    if course.ended_at is not None:
        raise SessionNotAllowed(gettext("This course has ended already."))
    reason = _checked_reason(reason, gettext("Say why the course ends."))
    now = timezone.now()
    course.ended_at = now
    course.ended_by = actor
    course.end_reason = reason.strip()
    course.save(update_fields=["ended_at", "ended_by", "end_reason"])
    audit.record(
        actor=actor,
        ip_address=ip_address,
        action=AuditAction.COURSE_ENDED,
        screening=course.clearance.screening,
        obj=course,
        summary="Treatment course ended",
    )
    # Every session with no dose recorded, whatever its time: one booked earlier today (or
    # left over from a past day) would otherwise still read "Ready to dose" on an ended course.
    ahead = (
        course.sessions.select_for_update()
        .filter(cancelled_at__isnull=True)
        .exclude(Exists(DoseRecord.objects.filter(session=OuterRef("pk"))))
    )
    for session in ahead:
        session.cancelled_at = now
        session.cancelled_by = actor
        session.cancel_reason = TreatmentSession.COURSE_ENDED
        session.save(update_fields=["cancelled_at", "cancelled_by", "cancel_reason"])
        audit.record(
            actor=actor,
            ip_address=ip_address,
            action=AuditAction.SESSION_CANCELLED,
            obj=session,
            summary="Treatment session cancelled",
        )
    return course


def _refuse_before_dose(session: TreatmentSession, field: str, what: str) -> None:
    """What is recorded before the dose (a pre-dose reading, the dose itself) is recorded only
    on a course still in progress and on the session's own local day (settings.TIME_ZONE).
    `what` is "vitals" or "dose"; `field` the form box the message goes beside."""
    if session.course.ended_at is not None:
        raise SessionNotAllowed(
            gettext("This course has ended: no dose is given and nothing is recorded before one."),
            field=field,
        )
    day = timezone.localdate(session.scheduled_for)
    if day != timezone.localdate():
        words = {"date": date_format(day, "l j F Y")}
        if what == "dose":
            message = gettext(
                "This session is booked for %(date)s; record its dose on that day, or move it "
                "to today first."
            )
        else:
            message = gettext(
                "This session is booked for %(date)s; record its vitals on that day, or move it "
                "to today first."
            )
        raise SessionNotAllowed(message % words, field=field)


def _refuse_after_discharge(session: TreatmentSession) -> None:
    if session.cancelled_at is not None:
        raise SessionNotAllowed(gettext("This session was canceled: nothing is recorded for it."))
    if DischargeRecord.objects.filter(session=session).exists():
        raise SessionNotAllowed(
            gettext("The patient has been discharged: this session's record is closed.")
        )


@transaction.atomic
def record_reading(
    *,
    session: TreatmentSession,
    timing: str,
    systolic: int,
    diastolic: int,
    heart_rate: int,
    actor: User,
    ip_address: str | None,
    spo2: int | None = None,
    weight_kg: Decimal | None = None,
    planned_minutes: int | None = None,
    supersedes: VitalReading | None = None,
    correction_reason: str = "",
) -> VitalReading:
    """Append one set of vital signs. A correction names the reading it replaces (which stays
    on file, shown as corrected) and why."""
    session = (
        TreatmentSession.objects.select_for_update().select_related("course").get(pk=session.pk)
    )
    _refuse_after_discharge(session)
    if timing not in VitalReading.Timing.values:
        raise SessionNotAllowed(
            gettext("Say whether the reading was taken before or after the dose.")
        )
    if timing == VitalReading.Timing.POST_DOSE and latest_dose(session) is None:
        raise SessionNotAllowed(
            gettext("Record when the dose was given before a post-dose reading.")
        )
    if supersedes is not None:
        if supersedes.session_id != session.pk:
            raise SessionNotAllowed(gettext("That reading belongs to another session."))
        if VitalReading.objects.filter(supersedes=supersedes).exists():
            raise SessionNotAllowed(gettext("That reading has already been corrected."))
        if not correction_reason.strip():
            raise SessionNotAllowed(gettext("Say why the reading is corrected."))
        timing = supersedes.timing
        planned_minutes = supersedes.planned_minutes
    if timing == VitalReading.Timing.PRE_DOSE:
        # Post-dose readings go on after midnight and after the course ends (the observation
        # of a dose already given is finished whatever the clock says).
        _refuse_before_dose(session, field="blood_pressure", what="vitals")
    reading = VitalReading.objects.create(
        session=session,
        timing=timing,
        planned_minutes=planned_minutes if timing == VitalReading.Timing.POST_DOSE else None,
        systolic=systolic,
        diastolic=diastolic,
        heart_rate=heart_rate,
        spo2=spo2,
        weight_kg=weight_kg,
        recorded_by=actor,
        supersedes=supersedes,
        correction_reason=correction_reason.strip(),
    )
    audit.record(
        actor=actor,
        ip_address=ip_address,
        action=AuditAction.VITALS_RECORDED,
        obj=reading,
        summary="Correction recorded" if supersedes else "Vitals recorded",
    )
    return reading


@transaction.atomic
def record_dose(
    *, session: TreatmentSession, given_at: datetime, actor: User, ip_address: str | None
) -> DoseRecord:
    """Record when the dose was given; a second record supersedes the first (a correction)."""
    session = (
        TreatmentSession.objects.select_for_update().select_related("course").get(pk=session.pk)
    )
    _refuse_after_discharge(session)
    previous = latest_dose(session)
    if previous is None:
        # A correction of a dose already given is still recorded after midnight or once the
        # course has ended; the first record only on the session's day, the course running.
        _refuse_before_dose(session, field="given_at", what="dose")
        # The dose goes ahead only when the session is ready (a correction of a dose already
        # given is still recorded: the record must say when it really was).
        (record,) = session_records([sessions_for_staff().get(pk=session.pk)])
        if record.readiness.status != Status.READY:
            raise SessionNotAllowed(
                # The engine's reasons, in the active language (engine_words.py).
                gettext(
                    "The session is %(status)s: %(reasons)s The dose is recorded only when the "
                    "session is ready to dose."
                )
                % {
                    "status": NOT_READY_WORDS[record.readiness.status],
                    "reasons": " ".join(reason.text for reason in record.readiness.reasons),
                }
            )
    now = timezone.now()
    if given_at > now + timedelta(minutes=1):
        raise SessionNotAllowed(
            gettext("The dose time is in the future: record it once it is given."),
            field="given_at",
        )
    if given_at < now - DOSE_TIME_MAX_AGE:
        hours = int(DOSE_TIME_MAX_AGE.total_seconds() // 3600)
        raise SessionNotAllowed(
            gettext(
                "That time is more than %(hours)s hours ago: check the time the dose was given."
            )
            % {"hours": hours},
            field="given_at",
        )
    if timezone.localdate(given_at) != timezone.localdate(session.scheduled_for):
        raise SessionNotAllowed(
            gettext(
                "That time is not on the session's day (%(date)s): check the time the dose was "
                "given."
            )
            % {"date": date_format(timezone.localdate(session.scheduled_for), "l j F Y")},
            field="given_at",
        )
    pre_dose = (
        VitalReading.objects.current()
        .filter(session=session, timing=VitalReading.Timing.PRE_DOSE)
        .order_by("-recorded_at")
        .first()
    )
    if pre_dose is not None and given_at < pre_dose.recorded_at.replace(second=0, microsecond=0):
        raise SessionNotAllowed(
            gettext(
                "That time is before the pre-dose blood pressure reading (%(time)s): the dose "
                "is given after it."
            )
            % {"time": f"{timezone.localtime(pre_dose.recorded_at):%H:%M}"},
            field="given_at",
        )
    dose = DoseRecord.objects.create(
        session=session, given_at=given_at, recorded_by=actor, supersedes=previous
    )
    audit.record(
        actor=actor,
        ip_address=ip_address,
        action=AuditAction.DOSE_RECORDED,
        obj=dose,
        summary="Dose time corrected" if previous else "Dose recorded as given",
    )
    return dose


@transaction.atomic
def record_discharge(
    *,
    session: TreatmentSession,
    alert_and_oriented: bool,
    walks_unaided: bool,
    escort_present: bool,
    actor: User,
    ip_address: str | None,
    note: str = "",
) -> DischargeRecord:
    """Discharge the patient, refused (naming what is unmet) until every criterion is met."""
    session = TreatmentSession.objects.select_for_update().get(pk=session.pk)
    _refuse_after_discharge(session)
    dose = latest_dose(session)
    post = latest_post_dose(session)
    post_times = (
        VitalReading.objects.current()
        .filter(session=session, timing=VitalReading.Timing.POST_DOSE)
        .values_list("recorded_at", flat=True)
    )
    check = discharge_check(
        DischargeFacts(
            dose_given_at=timezone.localtime(dose.given_at) if dose else None,
            now=timezone.now(),
            observation_minutes=settings.OBSERVATION_MINUTES,
            latest_post_dose=as_reading(post),
            due_minutes=tuple(settings.POST_DOSE_READING_MINUTES),
            post_dose_times=tuple(post_times),
            alert_and_oriented=alert_and_oriented,
            walks_unaided=walks_unaided,
            escort_present=escort_present,
        ),
        limits(),
    )
    if not check.allowed:
        # The unmet conditions are the engine's, in the active language (engine_words.py).
        raise SessionNotAllowed(
            gettext("Not discharged yet: %(unmet)s")
            % {"unmet": " ".join(say(words) for words in check.unmet)}
        )
    discharge = DischargeRecord.objects.create(
        session=session,
        observation_minutes=settings.OBSERVATION_MINUTES,
        alert_and_oriented=alert_and_oriented,
        walks_unaided=walks_unaided,
        escort_present=escort_present,
        note=note.strip(),
        recorded_by=actor,
    )
    audit.record(
        actor=actor,
        ip_address=ip_address,
        action=AuditAction.DISCHARGE_RECORDED,
        obj=discharge,
        summary="Discharge recorded",
    )
    return discharge


@transaction.atomic
def review_blood_pressure(
    *, reading: VitalReading, physician: User, note: str, ip_address: str | None
) -> BloodPressureReview:
    """A physician's go-ahead for a pre-dose reading above the review limit. A reading above
    the hold limit is never waved through: a new reading is taken instead."""
    reading = VitalReading.objects.select_for_update().get(pk=reading.pk)
    if reading.timing != VitalReading.Timing.PRE_DOSE:
        raise SessionNotAllowed(gettext("Only a pre-dose reading is reviewed before dosing."))
    if VitalReading.objects.filter(supersedes=reading).exists():
        raise SessionNotAllowed(
            gettext("That reading has been corrected since: review the new one.")
        )
    if limits().above_hold(reading.systolic, reading.diastolic):
        raise SessionNotAllowed(
            gettext(
                "This reading is above the hold limit: the session stays on hold until a new "
                "reading is at or below it."
            )
        )
    review, created = BloodPressureReview.objects.get_or_create(
        reading=reading, defaults={"physician": physician, "note": note.strip()}
    )
    if created:
        audit.record(
            actor=physician,
            ip_address=ip_address,
            action=AuditAction.BLOOD_PRESSURE_REVIEWED,
            obj=review,
            summary="Pre-dose blood pressure reviewed",
        )
    return review
