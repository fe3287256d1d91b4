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

from django.apps import apps
from django.db.models import Q
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext, gettext_lazy

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

# What the log's "What" column calls each kind of object an event names (its stored type is
# the model's label, "screening.TreatmentSession"); any other is called by its model's name.
OBJECT_NAMES = {
    "screening.Screening": gettext_lazy("Screening"),
    "screening.Flag": gettext_lazy("Flag"),
    "screening.Decision": gettext_lazy("Decision"),
    "screening.RescreeningRequest": gettext_lazy("Re-screening request"),
    "screening.TreatmentCourse": gettext_lazy("Treatment course"),
    "screening.TreatmentSession": gettext_lazy("Treatment session"),
    "screening.VitalReading": gettext_lazy("Vitals reading"),
    "screening.DoseRecord": gettext_lazy("Dose record"),
    "screening.DischargeRecord": gettext_lazy("Discharge record"),
    "screening.BloodPressureReview": gettext_lazy("Blood pressure review"),
    "screening.QuestionSetVersion": gettext_lazy("Question set version"),
    "screening.DrugClass": gettext_lazy("Drug class"),
    "screening.User": gettext_lazy("Account"),
    "screening.ApiToken": gettext_lazy("FHIR API token"),
    "otp_totp.TOTPDevice": gettext_lazy("Authenticator app"),
}


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
    action_label: str  # the action in words, as the log's filter lists it
    summary: str
    what: str  # what the event was about, in plain words ("Screening of Sam Lee")
    reference: str  # the ids of what it was about, for those who may see them
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
        action_label=action_label(event.action),
        summary=summary,
        what=what_it_was_about(event, private=private),
        reference="" if private else reference(event),
        object_type=event.object_type,
        object_id=HIDDEN if private and event.object_id else event.object_id,
        screening_id=(HIDDEN if private and event.screening_id else str(event.screening_id or "")),
        ip_address=event.ip_address or "",
    )


def action_label(action: str) -> str:
    """The action in words; an action no longer listed (an old event's) as stored."""
    try:
        return str(AuditAction(action).label)
    except ValueError:
        return action


def object_name(event: AuditEvent) -> str:
    """The kind of object the event names, in words ("Treatment session"); "" for none."""
    if not event.object_type:
        return ""
    if event.action.startswith("patient.") and event.object_type == "screening.User":
        return gettext("Patient")
    if event.object_type in OBJECT_NAMES:
        return str(OBJECT_NAMES[event.object_type])
    try:
        return str(capfirst(apps.get_model(event.object_type)._meta.verbose_name))
    except (LookupError, ValueError):  # a model since removed: its label as stored
        return event.object_type


def what_it_was_about(event: AuditEvent, *, private: bool) -> str:
    """What the event was about: the screening and its patient (an event about a flag or a
    decision is about its screening too; the summary says which), or the kind of object it
    names. A viewer who may not identify screenings reads "A screening", no name."""
    if event.screening_id is not None:
        if private:
            return gettext("A screening")
        name = format_html("<bdi>{}</bdi>", str(event.screening.patient))  # typed by a person
        return mark_safe(  # noqa: S308 (the translation escaped; the name escaped in its <bdi>)
            conditional_escape(gettext("Screening of %(patient)s")) % {"patient": name}
        )
    return object_name(event)


def reference(event: AuditEvent) -> str:
    """The ids of the screening and of the object the event names, to trace it by."""
    if event.screening_id is None:
        return event.object_id
    screening_id = str(event.screening_id)
    if not event.object_id or event.object_id == screening_id:
        return gettext("screening %(id)s") % {"id": screening_id}
    return gettext("%(thing)s %(id)s, screening %(screening)s") % {
        "thing": object_name(event),
        "id": event.object_id,
        "screening": screening_id,
    }
