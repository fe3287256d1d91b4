"""Building treatment courses and sessions for tests: a cleared patient, a course, a session
with a submitted check-in carrying chosen flags, and a logged-in nurse."""

from datetime import timedelta

from django.utils import timezone

from screening.models import Decision, Screening, TreatmentCourse, TreatmentSession
from tests.factories import make_patient, make_submitted_screening


def clear(screening: Screening, physician, outcome: str = Decision.Outcome.CLEARED) -> Decision:
    """Sign a decision straight onto the screening (the decision rules are tested elsewhere)."""
    screening.status = Screening.Status.DECIDED
    screening.save(update_fields=["status"])
    return Decision.objects.create(
        screening=screening,
        physician=physician,
        outcome=outcome,
        reason="Reason." if outcome == Decision.Outcome.NOT_A_CANDIDATE else "",
        conditions="Conditions." if outcome == Decision.Outcome.CLEARED_WITH_CONDITIONS else "",
        signed_name=physician.full_name,
    )


def make_course(physician, patient=None) -> TreatmentCourse:
    baseline = make_submitted_screening(patient=patient or make_patient())
    decision = clear(baseline, physician)
    return TreatmentCourse.objects.create(
        patient=baseline.patient,
        product=TreatmentCourse.Product.IV_KETAMINE,
        clearance=decision,
        created_by=physician,
    )


def make_check_in(patient, flags=(), submitted: bool = True) -> Screening:
    """A check-in screening with (code, severity) flags; sent unless submitted=False."""
    check_in = make_submitted_screening(patient=patient, flags=flags)
    check_in.purpose = Screening.Purpose.CHECK_IN
    if not submitted:
        check_in.status = Screening.Status.IN_PROGRESS
        check_in.submitted_at = None
    check_in.save(update_fields=["purpose", "status", "submitted_at"])
    return check_in


def make_session(
    physician,
    course: TreatmentCourse | None = None,
    flags=(),
    check_in: bool = True,
    hours_from_now: float = 1,
) -> TreatmentSession:
    course = course or make_course(physician)
    now = timezone.now()
    scheduled_for = now + timedelta(hours=hours_from_now)
    if hours_from_now == 1 and timezone.localdate(scheduled_for) != timezone.localdate(now):
        # The default is a session today (vitals and the dose are recorded only on the
        # session's day): in the last hour before midnight, it is booked for now.
        scheduled_for = now
    return TreatmentSession.objects.create(
        course=course,
        scheduled_for=scheduled_for,
        check_in=make_check_in(course.patient, flags) if check_in else None,
        created_by=physician,
    )


def backdate_readings(session: TreatmentSession, minutes: float) -> None:
    """Move the session's readings so far into the past (as if taken earlier in the visit)."""
    from django.db.models import F, QuerySet

    from screening.models import VitalReading

    # A plain QuerySet: the model's own refuses updates (records are append-only), which is
    # the point in the app but not in a test setting the clock back.
    QuerySet(model=VitalReading).filter(session=session).update(
        recorded_at=F("recorded_at") - timedelta(minutes=minutes)
    )
