"""Where a patient's questionnaire stands, in plain words, for their home page and the
confirmation page.

One entry per state. A decision's own words reach the patient only through the decision's
"message to the patient" (the box the physician is told the patient reads); the conditions
and the reason are the physician's notes and are never shown here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..models import Decision, Screening, TreatmentCourse, TreatmentSession, User
from ..selectors import Clearance, ClearanceStatus, session_of_check_in


@dataclass(frozen=True)
class Standing:
    # not_started, in_progress, submitted, waiting, cleared, conditions, not_a_candidate,
    # rescreen_expired, rescreen_requested
    key: str
    heading: str
    text: str
    message: str = ""  # the physician's words to the patient, if any
    tone: str = "info"  # the Bootstrap alert colour


# Each state's words (tests/test_readability.py grades them).
WORDS = {
    "not_started": (
        _("You have not started yet"),
        _(
            "Please fill in the questionnaire before your first treatment. It takes about 20 "
            "minutes."
        ),
    ),
    "in_progress": (
        _("Your questionnaire is not finished"),
        _(
            "Your answers so far are saved. Please carry on where you stopped and send it "
            "when you are done."
        ),
    ),
    "submitted": (
        _("Thank you, your answers have been sent"),
        _(
            "A doctor will read them before your treatment. We will email you when there is "
            "news. You do not need to do anything now."
        ),
    ),
    "waiting": (
        _("Your doctor needs more information"),
        _(
            "Please read the message below. Then change or add to your answers and send the "
            "questionnaire again."
        ),
    ),
    "cleared": (
        _("You are cleared for treatment"),
        _(
            "A doctor has read your answers and cleared you for treatment. The clinic will "
            "book your treatment sessions with you. You will see them on this page."
        ),
    ),
    "conditions": (
        _("You are cleared for treatment, with conditions"),
        _(
            "A doctor has read your answers and cleared you for treatment. There are some "
            "conditions. The clinic will go through them with you."
        ),
    ),
    "not_a_candidate": (
        _("Please contact the clinic"),
        _(
            "A doctor has read your answers. This treatment may not be right for you now. "
            "Please contact the clinic to talk about it."
        ),
    ),
    # The clearance stands but the patient's course has ended: no more sessions are booked.
    "course_ended": (
        _("Your course of treatment has ended"),
        _("Please contact the clinic if you want to talk about more treatment."),
    ),
    # The clearance no longer holds: the patient answers the whole questionnaire again.
    "rescreen_expired": (
        _("Please fill in the questionnaire again"),
        _(
            "Your clearance for treatment has ended, because it was given some months ago. "
            "Before your next treatment, please answer the questionnaire again. Some of your "
            "last answers, like your date of birth and your medicines, are filled in for you."
            " Please check each page and change anything that is different now."
        ),
    ),
    "rescreen_requested": (
        _("Please fill in the questionnaire again"),
        _(
            "Your doctor has asked you to answer the questionnaire again before your next "
            "treatment. Some of your last answers, like your date of birth and your "
            "medicines, are filled in for you. Please check each page and change anything "
            "that is different now."
        ),
    ),
}

RESCREEN_KEYS = {
    ClearanceStatus.EXPIRED: "rescreen_expired",
    ClearanceStatus.RESCREENING_REQUESTED: "rescreen_requested",
}

OUTCOME_KEYS = {
    Decision.Outcome.CLEARED: ("cleared", "success"),
    Decision.Outcome.CLEARED_WITH_CONDITIONS: ("conditions", "success"),
    Decision.Outcome.NOT_A_CANDIDATE: ("not_a_candidate", "warning"),
}


def _standing(key: str, message: str = "", tone: str = "info") -> Standing:
    heading, text = WORDS[key]
    # In the language of the request (the patient's).
    return Standing(key=key, heading=str(heading), text=str(text), message=message, tone=tone)


def standing_of(
    screening: Screening | None,
    decision: Decision | None = None,
    clearance: Clearance | None = None,
) -> Standing:
    """The state of the patient's latest screening; `decision` is its latest decision and
    `clearance` the patient's (current_clearance), when re-screening may be due."""
    if screening is None:
        return _standing("not_started")
    if (
        clearance is not None
        and clearance.needs_rescreening
        and clearance.decision.screening_id == screening.pk
    ):
        return _standing(RESCREEN_KEYS[clearance.status], tone="warning")
    if screening.status == Screening.Status.WAITING_FOR_PATIENT:
        return _standing("waiting", screening.message_to_patient, "warning")
    if screening.status == Screening.Status.IN_PROGRESS:
        return _standing("in_progress")
    if screening.status == Screening.Status.DECIDED and decision is not None:
        key, tone = OUTCOME_KEYS.get(decision.outcome, ("submitted", "info"))
        return _standing(key, decision.message_to_patient, tone)
    return _standing("submitted")


def after_course(standing: Standing, course: TreatmentCourse | None) -> Standing:
    """The standing once the patient's course has ended: a clearance no longer says the
    clinic will book sessions (the home page says when the course ended)."""
    if course is None or standing.key not in ("cleared", "conditions"):
        return standing
    return _standing("course_ended", standing.message, standing.tone)


def latest_decision(screening: Screening | None) -> Decision | None:
    if screening is None or screening.status != Screening.Status.DECIDED:
        return None
    return screening.decisions.order_by("-signed_at").first()


# Upcoming sessions ------------------------------------------------------------------------

# The product and route in the patient's words (the consent page's).
PRODUCT_WORDS = {
    TreatmentCourse.Product.IV_KETAMINE: _("Ketamine by drip (IV)"),
    TreatmentCourse.Product.IM_KETAMINE: _("Ketamine by shot (IM)"),
    TreatmentCourse.Product.ESKETAMINE_NASAL: _("Esketamine nasal spray (Spravato)"),
}


@dataclass(frozen=True)
class UpcomingSession:
    session: TreatmentSession
    product: str
    check_in_sent: bool
    opens_at: datetime | None  # when the check-in can be answered, if not yet


def check_in_opens_at(session: TreatmentSession) -> datetime:
    return session.scheduled_for - timedelta(hours=settings.CHECK_IN_OPENS_HOURS_BEFORE)


def upcoming_sessions(patient: User) -> list[UpcomingSession]:
    """The patient's own sessions still ahead (not past, not discharged), soonest first, each with its check-in's state."""
    now = timezone.now()
    rows = (
        TreatmentSession.objects.filter(
            course__patient=patient,
            course__ended_at__isnull=True,
            cancelled_at__isnull=True,
            scheduled_for__gt=now,
            # A patient seen early and discharged has had that session: it is not ahead.
            discharge__isnull=True,
            # Nor one whose dose is recorded, whatever day it was booked for.
            doses__isnull=True,
        )
        .select_related("course", "check_in")
        .order_by("scheduled_for")
    )
    return [
        UpcomingSession(
            session=session,
            product=str(
                PRODUCT_WORDS.get(session.course.product, session.course.get_product_display())
            ),
            check_in_sent=session.check_in is not None and not session.check_in.is_editable,
            opens_at=check_in_opens_at(session)
            if session.check_in is None and now < check_in_opens_at(session)
            else None,
        )
        for session in rows
    ]


def ended_course(patient: User) -> TreatmentCourse | None:
    """The patient's latest course when it has ended (None with a course in progress)."""
    latest = TreatmentCourse.objects.filter(patient=patient).order_by("-created_at").first()
    return latest if latest is not None and latest.ended_at is not None else None


def session_of(screening: Screening) -> TreatmentSession | None:
    """The session a check-in is for (None for an intake)."""
    return session_of_check_in(screening)
