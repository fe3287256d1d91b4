"""A cleared patient with a treatment course and sessions, made with the ORM (scheduling is
the sessions branch's), and the patient's walk through a session check-in."""

from datetime import datetime, time, timedelta

from django.utils import timezone

from screening.models import (
    Decision,
    QuestionSetVersion,
    Screening,
    Submission,
    TreatmentCourse,
    TreatmentSession,
)
from tests.intake_helpers import fill_intake

# The baseline intake answers the check-in reads (a woman who could become pregnant).
COULD_BE_PREGNANT = {"sex_at_birth": "female", "can_be_pregnant": "yes", "pregnant": "no"}
CANNOT_BE_PREGNANT = {"sex_at_birth": "female", "can_be_pregnant": "no"}
MAN = {"sex_at_birth": "male"}

# A calm check-in, answered through the wizard (plausible answers are the first choice of
# each question and "no" to yes/no ones; these replace the ones that would say otherwise).
CALM = {
    "pregnant": "no",
    "last_ate": "over_6_hours",
    "last_drank": "over_2_hours",
    "transport_home": "yes",
}


def make_cleared_course(
    *,
    patient,
    physician,
    baseline: dict,
    product: str = TreatmentCourse.Product.IV_KETAMINE,
) -> TreatmentCourse:
    """A decided intake whose latest submission holds `baseline`, cleared by `physician`."""
    version = QuestionSetVersion.objects.published().get(question_set__purpose="intake")
    now = timezone.now()
    intake = Screening.objects.create(
        patient=patient,
        version=version,
        status=Screening.Status.DECIDED,
        submitted_at=now - timedelta(days=10),
        submission_count=1,
    )
    Submission.objects.create(
        screening=intake, number=1, submitted_at=intake.submitted_at, answers=baseline
    )
    clearance = Decision.objects.create(
        screening=intake,
        physician=physician,
        outcome=Decision.Outcome.CLEARED,
        signed_name=physician.full_name,
    )
    return TreatmentCourse.objects.create(
        patient=patient, product=product, clearance=clearance, created_by=physician
    )


def later_today() -> float:
    """Hours ahead for a session later today, whatever the hour (vitals and the dose are
    recorded only on the session's own local day): an hour, or half the time to midnight."""
    now = timezone.localtime()
    midnight = datetime.combine(now.date() + timedelta(days=1), time.min, tzinfo=now.tzinfo)
    return min(1.0, (midnight - now).total_seconds() / 3600 / 2)


def make_session(course: TreatmentCourse, *, hours_ahead: float = 24) -> TreatmentSession:
    return TreatmentSession.objects.create(
        course=course,
        scheduled_for=timezone.now() + timedelta(hours=hours_ahead),
        created_by=course.created_by,
    )


def answer_check_in(client, session: TreatmentSession, overrides: dict | None = None):
    """Open the check-in from the home page's button, answer every page, and submit it."""
    response = client.post(f"/screenings/sessions/{session.pk}/check-in/")
    assert response.status_code == 302, response.status_code
    session.refresh_from_db()
    check_in = session.check_in
    pages = fill_intake(client, check_in, {**CALM, **(overrides or {})})
    response = client.post(f"/screenings/{check_in.pk}/review/", {"consent": "on"})
    assert response.status_code == 302
    assert response["Location"] == f"/screenings/{check_in.pk}/submitted/"
    check_in.refresh_from_db()
    return check_in, pages
