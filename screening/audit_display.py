"""What the audit log shows to whom: the staff page (/staff/audit/) and the admin's list.

A clinic admin audits who read and did what, and when; they must not learn clinical
outcomes, nor which screening an event was about (with its id, or a flag's or a decision's,
they could count a screening's flags and follow one patient through the log). So for people
without the review permission, an event about a screening shows no identifier and no
summary the code did not write the same for every screening. Those who may review
screenings see every field. Stored events never change (each is hash-chained to the one
before): only what is displayed differs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils.translation import gettext

from .models import AuditAction, AuditEvent, User
from .services.review import DECISION_SUMMARIES

REVIEW_PERMISSION = "screening.review_screening"

# Actions about one screening, whichever object they name (a flag, a decision, a draft),
# and about a patient's treatment course and sessions (their ids would let a clinic admin
# follow one patient's visits through the log).
SCREENING_ACTION_PREFIXES = (
    "screening.",
    "flag.",
    "decision.",
    "patient.",
    "course.",
    "session.",
)
ABOUT_A_SCREENING = Q(screening__isnull=False)
for _prefix in SCREENING_ACTION_PREFIXES:
    ABOUT_A_SCREENING |= Q(action__startswith=_prefix)

# Actions about a screening whose stored summary is a fixed text, the same for every
# screening ("Flag acknowledged", "Downloaded as a FHIR Bundle", "FHIR API: Bundle read by
# client 'X'"), so it tells nothing about the screening. Any other action about a screening
# shows the neutral summary below, or none: decisions written before summaries stopped
# naming the outcome said "Not a candidate".
FIXED_SUMMARY_ACTIONS = frozenset(
    {
        AuditAction.SCREENING_VIEWED,
        AuditAction.SCREENING_PRINTED,
        AuditAction.SCREENING_EXPORTED,
        AuditAction.DRAFT_PREVIEW,
        AuditAction.FLAG_ACKNOWLEDGED,
        AuditAction.FHIR_READ,
        AuditAction.PATIENT_COURSE_VIEWED,
        AuditAction.COURSE_STARTED,
        AuditAction.COURSE_VIEWED,
        AuditAction.SESSION_SCHEDULED,
        AuditAction.SESSION_VIEWED,
        AuditAction.SESSION_CANCELLED,
        AuditAction.SESSION_RESCHEDULED,
        AuditAction.COURSE_ENDED,
        AuditAction.DISCHARGE_RECORDED,
        AuditAction.BLOOD_PRESSURE_REVIEWED,
    }
)
HIDDEN = "—"


def identifies_screenings(user: User | None) -> bool:
    """Whether this person may see which screening an event was about, and its outcome."""
    return bool(user and user.has_perm(REVIEW_PERMISSION))


def about_a_screening(event: AuditEvent) -> bool:
    return event.screening_id is not None or event.action.startswith(SCREENING_ACTION_PREFIXES)


@dataclass(frozen=True)
class ShownEvent:
    """An audit event as one viewer may see it."""

    at: datetime
    actor_email: str
    action: str
    summary: str
    object_type: str
    object_id: str
    screening_id: str
    ip_address: str


def shown_event(event: AuditEvent, *, identify_screenings: bool) -> ShownEvent:
    private = about_a_screening(event) and not identify_screenings
    summary = event.summary
    if private and event.action not in FIXED_SUMMARY_ACTIONS:
        summary = DECISION_SUMMARIES.get(event.action, "")
        summary = gettext(summary) if summary else ""
    return ShownEvent(
        at=event.at,
        actor_email=event.actor.email if event.actor_id else "",
        action=event.action,
        summary=summary,
        object_type=event.object_type,
        object_id=HIDDEN if private and event.object_id else event.object_id,
        screening_id=(HIDDEN if private and event.screening_id else str(event.screening_id or "")),
        ip_address=event.ip_address or "",
    )
