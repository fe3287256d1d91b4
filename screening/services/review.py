"""The physician's writes: acknowledge a flag, record a signed decision. One transaction each.

Both carry the screening's lock_version as the physician saw it. The row is locked and the
number compared, so when two physicians work the same screening the second to save is
refused (StaleScreening) instead of silently overwriting the first.
"""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from .. import audit, tasks
from ..engine.severity import Severity
from ..models import (
    AuditAction,
    Decision,
    Flag,
    FlagAcknowledgement,
    ReviewClock,
    Screening,
    User,
)
from ..presenters import severity_label
from ..reason_text import is_blank


class StaleScreening(Exception):
    """Someone else changed the screening since this physician loaded it."""


class DecisionNotAllowed(Exception):
    """The decision breaks a rule of sign-off; the message says which."""


class AcknowledgementNeedsNote(DecisionNotAllowed):
    """An urgent or contraindicated check-in flag is acknowledged only with a note."""


# Check-in flags a physician acknowledges only with a note saying why the dose may go ahead.
NOTE_REQUIRED_SEVERITIES = {Severity.URGENT, Severity.CONTRAINDICATED}

CLEARING = {Decision.Outcome.CLEARED, Decision.Outcome.CLEARED_WITH_CONDITIONS}

# A decision's audit summary never names its outcome: the audit log is read by clinic admins,
# who audit who did what, not what a patient was told (the decision itself records it).
DECISION_SUMMARIES = {
    # Stored in the audit log as written (English); marked so the log can show them translated.
    AuditAction.DECISION_RECORDED: gettext_noop("Decision signed"),
    AuditAction.DECISION_AMENDED: gettext_noop("Amended decision signed"),
}


def _lock(screening: Screening, seen_version: int) -> Screening:
    locked = Screening.objects.select_for_update().get(pk=screening.pk)
    if locked.lock_version != seen_version:
        raise StaleScreening
    return locked


def _bump(screening: Screening) -> None:
    screening.lock_version += 1
    screening.updated_at = timezone.now()
    screening.save(update_fields=["lock_version", "updated_at"])


def note_opened(*, screening: Screening, physician: User) -> int:
    """Stop the clock of every submission of this screening nobody had opened yet: the first
    physician to open the page, and when, is what the response-time page reports."""
    if screening.urgent_unopened_since is not None:
        Screening.objects.filter(pk=screening.pk).update(urgent_unopened_since=None)
        screening.urgent_unopened_since = None
    return ReviewClock.objects.filter(screening=screening, opened_at__isnull=True).update(
        opened_at=timezone.now(), opened_by=physician
    )


@transaction.atomic
def acknowledge_flag(
    *, flag: Flag, physician: User, note: str, seen_version: int, ip_address: str | None = None
) -> FlagAcknowledgement:
    screening = _lock(flag.screening, seen_version)
    if screening.is_editable:
        raise DecisionNotAllowed(
            gettext("The patient is changing their answers; wait until they resubmit.")
        )
    if Flag.with_retired.filter(pk=flag.pk, retired_at__isnull=False).exists():
        raise DecisionNotAllowed(
            gettext(
                "This flag is no longer current: the patient resubmitted. Acknowledge the flags "
                "as they are now."
            )
        )
    # Going ahead with a session despite an urgent or contraindicated check-in flag needs the
    # physician's reason in words, as clearing a contraindication on the intake needs an
    # override reason (the nurse and the record then say why the dose went ahead).
    if (
        screening.purpose == Screening.Purpose.CHECK_IN
        and flag.severity in NOTE_REQUIRED_SEVERITIES
        and is_blank(note)
        and not FlagAcknowledgement.objects.filter(flag=flag).exists()
    ):
        raise AcknowledgementNeedsNote(
            gettext(
                "Write why the session may go ahead despite this %(severity)s flag: a note is "
                "needed to acknowledge it."
            )
            % {"severity": severity_label(flag.severity).lower()}
        )
    # The first acknowledgement stands: a second one never overwrites its name or note.
    acknowledgement, created = FlagAcknowledgement.objects.get_or_create(
        flag=flag, defaults={"physician": physician, "note": note.strip()}
    )
    if not created:
        return acknowledgement
    _bump(screening)
    audit.record(
        actor=physician,
        ip_address=ip_address,
        action=AuditAction.FLAG_ACKNOWLEDGED,
        screening=screening,
        obj=flag,
        summary="Flag acknowledged",
    )
    return acknowledgement


@transaction.atomic
def record_decision(
    *,
    screening: Screening,
    physician: User,
    outcome: str,
    seen_version: int,
    conditions: str = "",
    reason: str = "",
    message_to_patient: str = "",
    override_reason: str = "",
    ip_address: str | None = None,
) -> Decision:
    """Sign a decision. A later decision on the same submission amends the last one."""
    locked = _lock(screening, seen_version)
    if locked.purpose == Screening.Purpose.CHECK_IN:
        raise DecisionNotAllowed(
            gettext(
                "A session check-in is not signed off: acknowledge its flags; the session page "
                "says whether the dose can go ahead."
            )
        )
    if locked.is_editable:
        raise DecisionNotAllowed(
            gettext("The patient is still answering; wait until they resubmit.")
        )
    flags = list(locked.flags.select_related("acknowledgement"))
    if outcome in CLEARING:
        unacknowledged = [f.title for f in flags if not hasattr(f, "acknowledgement")]
        if unacknowledged:
            raise DecisionNotAllowed(
                gettext("Acknowledge every flag before clearing: %(flags)s.")
                % {"flags": ", ".join(unacknowledged)}
            )
        if (
            any(f.severity == Severity.CONTRAINDICATED for f in flags)
            and not override_reason.strip()
        ):
            raise DecisionNotAllowed(
                gettext(
                    "This screening has a contraindication: clearing it needs an override reason."
                )
            )
    # Signing counts as opening it (a decision can be posted without a fresh read).
    note_opened(screening=locked, physician=physician)
    # A decision amends the last one only if both answer the same submission: once the
    # patient has answered a request for more information, the next decision is new.
    previous = (
        locked.decisions.filter(signed_at__gte=locked.submitted_at).order_by("-signed_at").first()
    )
    decision = Decision.objects.create(
        screening=locked,
        physician=physician,
        outcome=outcome,
        conditions=conditions.strip(),
        reason=reason.strip(),
        message_to_patient=message_to_patient.strip(),
        override_reason=override_reason.strip(),
        level_at_decision=locked.level,
        flag_codes=[f.code for f in flags],
        signed_name=physician.full_name or physician.email,
        amends=previous,
    )
    fields = ["status", "message_to_patient"]
    if outcome == Decision.Outcome.MORE_INFORMATION_NEEDED:
        # The intake reopens, waiting for the patient: they see the message, edit and
        # resubmit; the queue keeps it in sight meanwhile, and reminders start.
        locked.status = Screening.Status.WAITING_FOR_PATIENT
        locked.message_to_patient = decision.message_to_patient
        locked.information_requested_at = decision.signed_at
        locked.reminders_sent = 0
        locked.last_reminded_at = None
        locked.reminders_exhausted_at = None
        fields += [
            "information_requested_at",
            "reminders_sent",
            "last_reminded_at",
            "reminders_exhausted_at",
        ]
    else:
        locked.status = Screening.Status.DECIDED
    try:
        with transaction.atomic():
            locked.save(update_fields=fields)
    except IntegrityError as error:
        # Patients cannot start a second questionnaire themselves (services.intake), so
        # this is only a guard: refuse safely rather than leave two open.
        raise DecisionNotAllowed(
            gettext(
                "The patient has another questionnaire open, so this one cannot be reopened. "
                "Please contact the patient directly."
            )
        ) from error
    _bump(locked)
    # The patient is told there is something to read, by the worker, after this commits;
    # the email says nothing more.
    tasks.notify_patient.enqueue(screening_id=str(locked.pk))
    if outcome == Decision.Outcome.MORE_INFORMATION_NEEDED:
        tasks.schedule_reminder(locked)
    action = AuditAction.DECISION_AMENDED if previous else AuditAction.DECISION_RECORDED
    audit.record(
        actor=physician,
        ip_address=ip_address,
        action=action,
        screening=locked,
        obj=decision,
        summary=DECISION_SUMMARIES[action],
    )
    return decision
