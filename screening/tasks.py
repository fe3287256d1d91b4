"""Every email the app sends, as background tasks run by the worker (`manage.py db_worker`).

A request only enqueues a task: one row in the task table, written in the request's own
transaction. The worker looks things up, renders and sends. So no request waits on a mail
server, and a request does the same work whether or not an address has an account.
A task is given ids and addresses, never rendered health data and never a working link:
invitation and password-reset links are minted here, in the worker, so no usable token
ever sits in the task table.

A failed send is tried again after each delay in settings.EMAIL_RETRY_DELAYS (the task
enqueues itself again with `run_after`: django-tasks has no retries of its own). After the
last attempt the email is recorded as an UndeliveredEmail for staff, logged with its kind
and object id only, and the task ends as failed.
"""

import logging
from datetime import datetime, timedelta
from types import TracebackType
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.core.mail import EmailMessage
from django.db import models, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.functional import Promise
from django.utils.http import urlsafe_base64_encode
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django_tasks import task
from django_tasks.base import Task

from .link_tokens import (
    LINK_VALID_FOR,
    issue_invitation_token,
    issue_setup_link_token,
    reset_link_tokens,
)
from .models import (
    PHYSICIAN_GROUP,
    AuthenticatorSetupLink,
    Invitation,
    ReviewClock,
    Screening,
    TreatmentSession,
    UndeliveredEmail,
    User,
)
from .services.languages import language_for

logger = logging.getLogger(__name__)


class EmailNotDelivered(Exception):
    """Every attempt failed; the task result is marked failed and staff can see the email."""


def absolute_url(path: str, query: dict[str, str] | None = None) -> str:
    """A link for an email: the worker has no request, so the site's address is a setting."""
    return settings.SITE_URL + path + (f"?{urlencode(query)}" if query else "")


class SendAttempt:
    """One try at sending. On an error, enqueue the next try or, after the last, record the
    email as undelivered and fail the task. Used as `with SendAttempt(...) as attempt:`."""

    def __init__(self, *, kind: str, task: Task, arguments: dict, number: int) -> None:
        self.kind = kind
        self.task = task
        self.arguments = arguments
        self.number = number
        self.object_type = ""
        self.object_id = ""

    def about(self, obj: models.Model) -> None:
        """What the email is about, for the undelivered record (an id, never its content)."""
        self.object_type = obj._meta.label_lower
        self.object_id = str(obj.pk)

    def __enter__(self) -> "SendAttempt":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if error is None or not isinstance(error, Exception):
            return False
        # The error's class only: SMTP messages can quote addresses, and nothing else here
        # may reach a log.
        reason = type(error).__name__
        delays = settings.EMAIL_RETRY_DELAYS
        if self.number <= len(delays):
            delay = delays[self.number - 1]
            retry = self.task
            if retry.get_backend().supports_defer:
                retry = retry.using(run_after=timezone.now() + timedelta(seconds=delay))
            retry.enqueue(**self.arguments, attempt=self.number + 1)
            logger.warning(
                "Could not send the %s email about %s %s (attempt %d, %s); trying again in %d s.",
                self.kind,
                self.object_type or "-",
                self.object_id or "-",
                self.number,
                reason,
                delay,
            )
            return True
        with transaction.atomic():
            UndeliveredEmail.objects.create(
                kind=self.kind,
                object_type=self.object_type,
                object_id=self.object_id,
                attempts=self.number,
                error=reason[:200],
            )
        logger.error(
            "Gave up sending the %s email about %s %s after %d attempts (%s).",
            self.kind,
            self.object_type or "-",
            self.object_id or "-",
            self.number,
            reason,
        )
        # From None: the original error's message stays out of the task table's traceback.
        raise EmailNotDelivered(
            f"{self.kind} email not delivered after {self.number} attempts ({reason})"
        ) from None


def _send(
    *,
    subject: str | Promise,
    template: str,
    context: dict,
    to: list[str],
    language: str = settings.LANGUAGE_CODE,
) -> None:
    """Render and send, subject and body in `language`: a patient's own (issue 17), the
    clinic's for staff. Never the language of whatever request ran the task."""
    context = {"clinic_name": settings.CLINIC_NAME, **context}
    with translation.override(language):
        body = render_to_string(template, context)
        subject = str(subject)
    EmailMessage(subject=subject, body=body, to=to).send(fail_silently=False)


def _clinic_subject(subject: str | Promise) -> Promise:
    """ "<clinic>: <subject>", the subject translated when the email is rendered."""
    return format_lazy("{}: {}", settings.CLINIC_NAME, subject)


def schedule(task_: Task, run_after: datetime, **kwargs: str) -> None:
    """Queue a timed job to run at `run_after`. A backend that cannot wait (the immediate
    one some tests use) would run it at once, before it is due: it is not queued there."""
    if task_.get_backend().supports_defer:
        task_.using(run_after=run_after).enqueue(**kwargs)


# Invitations ----------------------------------------------------------------------------


@task()
def send_invitation(invitation_id: str, attempt: int = 1) -> None:
    """The patient's link to set a password, or, if the address already has an account, a
    note to log in instead (an invitation never touches an existing account)."""
    with SendAttempt(
        kind=UndeliveredEmail.Kind.INVITATION,
        task=send_invitation,
        arguments={"invitation_id": invitation_id},
        number=attempt,
    ) as sending:
        invitation = Invitation.objects.filter(pk=invitation_id).first()
        if invitation is None or not invitation.is_usable:
            return  # accepted or expired since it was queued: nothing to send
        sending.about(invitation)
        # In the language staff chose for the invitation (the account starts in it too).
        subject = _clinic_subject(_("your pre-treatment questionnaire"))
        if User.objects.filter(email__iexact=invitation.email).exists():
            _send(
                subject=subject,
                template="email/invitation_account_exists.txt",
                context={
                    "invitation": invitation,
                    "login_link": absolute_url(reverse("login")),
                    "reset_link": absolute_url(reverse("password_reset")),
                },
                to=[invitation.email],
                language=invitation.language,
            )
            return
        # A new token for every attempt: only this email ever holds it.
        token = issue_invitation_token(invitation=invitation)
        _send(
            subject=subject,
            template="email/invitation.txt",
            context={
                "invitation": invitation,
                "link": absolute_url(reverse("accept_invitation"), {"token": token}),
            },
            to=[invitation.email],
            language=invitation.language,
        )


# Password reset -------------------------------------------------------------------------


@task()
def send_password_reset(email: str, attempt: int = 1) -> None:
    """A reset link to the account with this address, if there is one that may reset
    (active, with a usable password: Django's own policy); otherwise nothing."""
    with SendAttempt(
        kind=UndeliveredEmail.Kind.PASSWORD_RESET,
        task=send_password_reset,
        arguments={"email": email},
        number=attempt,
    ) as sending:
        for user in PasswordResetForm().get_users(email):
            sending.about(user)
            query = {
                "uid": urlsafe_base64_encode(force_bytes(user.pk)),
                "token": reset_link_tokens.make_token(user),
            }
            language = language_for(user)
            with translation.override(language):
                subject = render_to_string(
                    "email/password_reset_subject.txt", {"clinic_name": settings.CLINIC_NAME}
                )
            _send(
                subject=" ".join(subject.split()),
                template="email/password_reset.txt",
                context={"link": absolute_url(reverse("password_reset_link"), query)},
                to=[user.email],
                language=language,
            )


# Staff ----------------------------------------------------------------------------------


@task()
def alert_physicians_of_urgent_screening(screening_id: str, attempt: int = 1) -> None:
    """Email every active physician; no patient details, only that there is one to review."""
    with SendAttempt(
        kind=UndeliveredEmail.Kind.URGENT_ALERT,
        task=alert_physicians_of_urgent_screening,
        arguments={"screening_id": screening_id},
        number=attempt,
    ) as sending:
        screening = Screening.objects.get(pk=screening_id)
        sending.about(screening)
        recipients = list(
            User.objects.filter(groups__name=PHYSICIAN_GROUP, is_active=True)
            .values_list("email", flat=True)
            .distinct()
        )
        if not recipients:
            return
        _send(
            subject=f"{settings.CLINIC_NAME}: a submitted screening needs same-day review",
            template="email/urgent_screening.txt",
            context={"screening": screening},
            to=recipients,
        )


def minutes_in_words(minutes: int) -> str:
    """ "1 minute", "61 minutes": a re-alert's wait as its subject says it."""
    return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"


def first_realert_time(submitted_at: datetime) -> datetime:
    return submitted_at + timedelta(minutes=settings.URGENT_REVIEW_MINUTES)


def schedule_urgent_escalation(clock: ReviewClock) -> None:
    schedule(escalate_unopened_urgent_screening, clock.next_alert_at, clock_id=str(clock.pk))


@task()
def escalate_unopened_urgent_screening(clock_id: str) -> None:
    """An urgent submission nobody has opened by its alert time: alert every physician and
    the on-call address again, and come back in URGENT_REALERT_MINUTES. Ends when a
    physician opens the screening. The clock row holds the state, so a job run early, or
    twice, sends nothing extra."""
    clock = ReviewClock.objects.filter(pk=clock_id, urgent=True, opened_at__isnull=True).first()
    if clock is None or clock.next_alert_at is None:
        return  # opened since: the clock stopped
    now = timezone.now()
    if now < clock.next_alert_at:
        schedule_urgent_escalation(clock)
        return
    next_alert_at = now + timedelta(minutes=settings.URGENT_REALERT_MINUTES)
    changed = ReviewClock.objects.filter(
        pk=clock.pk, opened_at__isnull=True, next_alert_at=clock.next_alert_at
    ).update(realerts_sent=F("realerts_sent") + 1, next_alert_at=next_alert_at)
    if not changed:
        return  # opened meanwhile, or another run of this job got here first
    alert_again_about_unopened_screening.enqueue(clock_id=str(clock.pk))
    clock.next_alert_at = next_alert_at
    schedule_urgent_escalation(clock)


@task()
def alert_again_about_unopened_screening(clock_id: str, attempt: int = 1) -> None:
    """The second (and later) alert: every active physician and ON_CALL_EMAIL, with what the
    first alert carried (when it was submitted, its reference) and how long it has waited."""
    with SendAttempt(
        kind=UndeliveredEmail.Kind.URGENT_REALERT,
        task=alert_again_about_unopened_screening,
        arguments={"clock_id": clock_id},
        number=attempt,
    ) as sending:
        clock = ReviewClock.objects.select_related("screening").get(pk=clock_id)
        sending.about(clock.screening)
        if clock.opened_at is not None:
            return  # opened while this email waited: nothing to say
        recipients = list(
            User.objects.filter(groups__name=PHYSICIAN_GROUP, is_active=True)
            .values_list("email", flat=True)
            .distinct()
        )
        if settings.ON_CALL_EMAIL and settings.ON_CALL_EMAIL not in recipients:
            recipients.append(settings.ON_CALL_EMAIL)
        if not recipients:
            return
        waited = int((timezone.now() - clock.submitted_at).total_seconds() // 60)
        _send(
            subject=(
                f"{settings.CLINIC_NAME}: an urgent screening has not been opened "
                f"after {minutes_in_words(waited)}"
            ),
            template="email/urgent_screening_not_opened.txt",
            context={"screening": clock.screening, "clock": clock, "waited": waited},
            to=recipients,
        )


# Patients -------------------------------------------------------------------------------


def _send_patient_notice(
    patient: User, *, subject: Promise, template: str, link_path: str = ""
) -> None:
    """Every email to a patient: that there is something to do or read, with a link to log
    in (or to a page behind the login), and no health data. Nothing to an inactive account.
    In the patient's language (their account's)."""
    if not patient.is_active:
        return
    _send(
        subject=_clinic_subject(subject),
        template=template,
        context={"login_link": absolute_url(link_path or reverse("login"))},
        to=[patient.email],
        language=language_for(patient),
    )


@task()
def notify_patient(screening_id: str, attempt: int = 1) -> None:
    """Tell the patient there is something new to read (a decision, a request for more
    information). The email says only that, with a link to log in: no health data."""
    with SendAttempt(
        kind=UndeliveredEmail.Kind.PATIENT_NOTICE,
        task=notify_patient,
        arguments={"screening_id": screening_id},
        number=attempt,
    ) as sending:
        screening = Screening.objects.select_related("patient").get(pk=screening_id)
        sending.about(screening)
        _send_patient_notice(
            screening.patient,
            subject=_("there is news about your questionnaire"),
            template="email/patient_notice.txt",
        )


def schedule_reminder(screening: Screening) -> None:
    """Start the reminders of a screening the patient now has to work on."""
    schedule(
        remind_patient,
        timezone.now() + timedelta(days=settings.REMINDER_AFTER_DAYS),
        screening_id=str(screening.pk),
    )


@task()
def remind_patient(screening_id: str) -> None:
    """A patient with an unfinished intake, or an unanswered request for more information:
    after REMINDER_AFTER_DAYS without activity, a reminder, up to REMINDER_MAX of them;
    after the last one goes unanswered as long, staff are told (the queue lists them).
    Re-enqueues itself while there is something left to do; stops when the patient
    submits. The screening row holds the count, so two runs never send twice."""
    screening = Screening.objects.filter(pk=screening_id).first()
    if screening is None or not screening.is_editable or screening.reminders_exhausted_at:
        return
    wait = timedelta(days=settings.REMINDER_AFTER_DAYS)
    activity = [screening.updated_at, screening.last_reminded_at]
    due = max(moment for moment in activity if moment is not None) + wait
    now = timezone.now()
    if now < due:
        schedule(remind_patient, due, screening_id=screening_id)
        return
    unchanged = Screening.objects.filter(
        pk=screening.pk,
        status__in=Screening.EDITABLE_STATUSES,
        updated_at=screening.updated_at,
        reminders_sent=screening.reminders_sent,
        reminders_exhausted_at__isnull=True,
    )
    if screening.reminders_sent >= settings.REMINDER_MAX:
        if not unchanged.update(reminders_exhausted_at=now):
            _carry_on_if_the_patient_acted(screening)
        return
    if not unchanged.update(reminders_sent=F("reminders_sent") + 1, last_reminded_at=now):
        _carry_on_if_the_patient_acted(screening)
        return
    send_patient_reminder.enqueue(screening_id=screening_id)
    schedule(remind_patient, now + wait, screening_id=screening_id)


def _carry_on_if_the_patient_acted(seen: Screening) -> None:
    """The row changed under this run. If another run counted a reminder, that run carries
    on; if the patient saved a page, reminders wait again from then."""
    now = Screening.objects.filter(pk=seen.pk).first()
    if now is not None and now.is_editable and now.reminders_sent == seen.reminders_sent:
        schedule(
            remind_patient,
            now.updated_at + timedelta(days=settings.REMINDER_AFTER_DAYS),
            screening_id=str(seen.pk),
        )


@task()
def send_patient_reminder(screening_id: str, attempt: int = 1) -> None:
    with SendAttempt(
        kind=UndeliveredEmail.Kind.PATIENT_REMINDER,
        task=send_patient_reminder,
        arguments={"screening_id": screening_id},
        number=attempt,
    ) as sending:
        screening = Screening.objects.select_related("patient").get(pk=screening_id)
        sending.about(screening)
        if not screening.is_editable:
            return  # submitted while the email waited
        _send_patient_notice(
            screening.patient,
            subject=_("your questionnaire is waiting for you"),
            template="email/patient_reminder.txt",
        )


@task()
def notify_two_factor_enrolled(user_id: str, attempt: int = 1) -> None:
    """Tell a staff member an authenticator app was set up: if it was not them, someone
    knows their password."""
    with SendAttempt(
        kind=UndeliveredEmail.Kind.TWO_FACTOR_ENROLLED,
        task=notify_two_factor_enrolled,
        arguments={"user_id": user_id},
        number=attempt,
    ) as sending:
        user = User.objects.get(pk=user_id)
        sending.about(user)
        _send(
            subject=f"{settings.CLINIC_NAME}: an authenticator app was set up for your account",
            template="email/two_factor_enrolled.txt",
            context={},
            to=[user.email],
        )


@task()
def send_authenticator_setup_link(link_id: str, removed_by_id: str = "", attempt: int = 1) -> None:
    """The single-use link a staff member needs, with their password, to set up an
    authenticator app (no trust on first use). Minted here, so no working link is queued."""
    with SendAttempt(
        kind=UndeliveredEmail.Kind.AUTHENTICATOR_SETUP_LINK,
        task=send_authenticator_setup_link,
        arguments={"link_id": link_id, "removed_by_id": removed_by_id},
        number=attempt,
    ) as sending:
        link = AuthenticatorSetupLink.objects.select_related("user").filter(pk=link_id).first()
        if link is None:
            return
        sending.about(link.user)
        token = issue_setup_link_token(link=link)
        if token is None:
            return  # opened, expired or replaced since it was queued: nothing to send
        _send(
            subject=f"{settings.CLINIC_NAME}: set up your authenticator app",
            template="email/authenticator_setup_link.txt",
            context={
                "user": link.user,
                "url": absolute_url(reverse("two_factor_open_link"), {"token": token}),
                "removed_by": User.objects.filter(pk=removed_by_id).first()
                if removed_by_id
                else None,
                "valid_hours": int(LINK_VALID_FOR.total_seconds() // 3600),
            },
            to=[link.user.email],
        )


# Session check-ins ------------------------------------------------------------------------


def _check_in_wanted(session: TreatmentSession, now: datetime) -> bool:
    """Whether a session still wants its check-in answered: ahead, not cancelled, its course
    not ended, and its check-in not already sent."""
    if session.scheduled_for <= now or session.course.ended_at is not None:
        return False
    if session.cancelled_at is not None:
        return False
    return session.check_in is None or session.check_in.is_editable


@task()
def invite_to_check_in(session_id: str) -> None:
    """Email the patient the link to a session's check-in CHECK_IN_OPENS_HOURS_BEFORE hours
    before it (at once if it is closer). Comes back at that time if run early; does nothing
    for a session past, cancelled or already checked in, and sends at most once (the
    session row records it), however often it is queued."""
    session = (
        TreatmentSession.objects.select_related("course", "check_in").filter(pk=session_id).first()
    )
    now = timezone.now()
    if session is None or not _check_in_wanted(session, now):
        return
    opens = session.scheduled_for - timedelta(hours=settings.CHECK_IN_OPENS_HOURS_BEFORE)
    if now < opens:
        schedule(invite_to_check_in, opens, session_id=session_id)
        return
    if TreatmentSession.objects.filter(pk=session.pk, check_in_invited_at__isnull=True).update(
        check_in_invited_at=now
    ):
        send_check_in_invitation.enqueue(session_id=session_id)


@task()
def send_check_in_invitation(session_id: str, attempt: int = 1) -> None:
    with SendAttempt(
        kind=UndeliveredEmail.Kind.CHECK_IN_INVITATION,
        task=send_check_in_invitation,
        arguments={"session_id": session_id},
        number=attempt,
    ) as sending:
        session = TreatmentSession.objects.select_related("course__patient", "check_in").get(
            pk=session_id
        )
        sending.about(session)
        if not _check_in_wanted(session, timezone.now()):
            return  # answered, cancelled or past while the email waited
        # The patient's home lists the session with its "Answer your check-in" button.
        _send_patient_notice(
            session.course.patient,
            subject=_("a few questions before your next visit"),
            template="email/check_in_invitation.txt",
            link_path=reverse("patient:home"),
        )
