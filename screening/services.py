"""Every write the app makes, one function each, each in one transaction.

Views call these with keyword arguments and never write models themselves, so the rules
for invitations, saving a page and submitting live in one place and are tested here.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from .engine.questionnaire import SectionDef, Visibility, is_answered, work_out_visibility
from .engine.rules import URGENT
from .evaluation import evaluate, store_evaluation
from .models import (
    PHYSICIAN_GROUP,
    Answer,
    CompletedSection,
    Invitation,
    QuestionSetVersion,
    Screening,
    User,
)
from .questionnaire import questionnaire_for

DEFAULT_QUESTION_SET = "ketamine-pretreatment"


class InvitationInvalid(Exception):
    """The link was already used, has expired or never existed: all look the same to the visitor."""


class ScreeningLocked(Exception):
    """The screening was submitted; the patient can no longer change it."""


class NoPublishedQuestionSet(Exception):
    """The clinic has not published a question set yet."""


# Invitations ----------------------------------------------------------------------------


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_invitation(*, full_name: str, email: str, created_by: User) -> tuple[Invitation, str]:
    """Make a single-use link for a patient; the raw token exists only in the returned link."""
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        full_name=full_name.strip(),
        email=email.strip().lower(),
        token_hash=_hash_token(token),
        created_by=created_by,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_VALID_DAYS),
    )
    return invitation, token


def send_invitation_email(*, invitation: Invitation, link: str) -> None:
    context = {"invitation": invitation, "link": link, "clinic_name": settings.CLINIC_NAME}
    send_mail(
        subject=f"{settings.CLINIC_NAME}: your pre-treatment questionnaire",
        message=render_to_string("email/invitation.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


def send_account_exists_email(*, invitation: Invitation, login_link: str, reset_link: str) -> None:
    context = {
        "invitation": invitation,
        "login_link": login_link,
        "reset_link": reset_link,
        "clinic_name": settings.CLINIC_NAME,
    }
    send_mail(
        subject=f"{settings.CLINIC_NAME}: your pre-treatment questionnaire",
        message=render_to_string("email/invitation_account_exists.txt", context),
        from_email=None,
        recipient_list=[invitation.email],
    )


def find_usable_invitation(token: str) -> Invitation:
    invitation = Invitation.objects.filter(token_hash=_hash_token(token)).first()
    if invitation is None or not invitation.is_usable:
        raise InvitationInvalid
    return invitation


@transaction.atomic
def accept_invitation(*, token: str, password: str) -> User:
    """Create (or re-activate) the patient's account with their chosen password; the link dies."""
    invitation = (
        Invitation.objects.select_for_update().filter(token_hash=_hash_token(token)).first()
    )
    if invitation is None or not invitation.is_usable:
        raise InvitationInvalid
    if User.objects.filter(email__iexact=invitation.email).exists():
        # An invitation only ever creates an account. Setting the password of an existing
        # one would let whoever holds the link (staff included) take it over; people who
        # already have an account log in instead.
        raise InvitationInvalid
    user = User.objects.create_user(
        email=invitation.email, password=password, full_name=invitation.full_name
    )
    now = timezone.now()
    invitation.accepted_at = now
    invitation.patient = user
    invitation.save(update_fields=["accepted_at", "patient"])
    # Other open invitations to the same address die with this one.
    Invitation.objects.filter(email__iexact=invitation.email, accepted_at__isnull=True).update(
        expires_at=now
    )
    return user


# The intake ----------------------------------------------------------------------------


def current_version(slug: str = DEFAULT_QUESTION_SET) -> QuestionSetVersion:
    version = QuestionSetVersion.objects.published().filter(question_set__slug=slug).first()
    if version is None:
        raise NoPublishedQuestionSet
    return version


def start_screening(*, patient: User) -> Screening:
    """The patient's open screening, or a new one on the published version."""
    existing = Screening.objects.for_patient(patient).in_progress().first()
    if existing:
        return existing
    version = current_version()
    try:
        with transaction.atomic():
            return Screening.objects.create(patient=patient, version=version)
    except IntegrityError:
        # Two tabs started at once: the database let one win; use it.
        return Screening.objects.for_patient(patient).in_progress().get()


def stored_answers(screening: Screening) -> dict[str, object]:
    return dict(screening.answers.values_list("question__code", "value"))


def visibility_for(screening: Screening, answers: dict[str, object] | None = None) -> Visibility:
    questionnaire = questionnaire_for(screening.version)
    if answers is None:
        answers = stored_answers(screening)
    return work_out_visibility(questionnaire, answers, timezone.localdate())


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


def first_incomplete_section(screening: Screening) -> SectionDef | None:
    """Where a returning patient resumes; None when every shown page is done."""
    visibility = visibility_for(screening)
    completed = completed_codes(screening)
    for section in visibility.sections:
        if not section_is_complete(section, visibility, completed):
            return section
    return None


@dataclass
class PageSaved:
    complete: bool  # False when the answers revealed follow-up questions on the same page


@transaction.atomic
def save_page(
    *, screening: Screening, section: SectionDef, answers: dict[str, object], presented: set[str]
) -> PageSaved:
    """Store one page of answers. Answers to questions now hidden are kept but ignored.

    `presented` is the set of questions the patient saw on the page. When the new answers
    reveal follow-up questions they did not see, the page is saved but not complete, so the
    patient sees the follow-ups before moving on.
    """
    locked = Screening.objects.select_for_update().get(pk=screening.pk)
    if not locked.is_editable:
        raise ScreeningLocked
    merged = {**stored_answers(locked), **answers}
    visibility = visibility_for(locked, merged)
    questions = {q.code: q for q in locked.version.questions.filter(section__code=section.code)}
    now = timezone.now()
    for code, value in answers.items():
        Answer.objects.update_or_create(
            screening=locked, question=questions[code], defaults={"value": value, "updated_at": now}
        )
    shown = visibility.visible_in(section)
    complete = all(q.code in presented for q in shown) and all(
        is_answered(q, merged.get(q.code)) for q in shown if q.required
    )
    if complete:
        CompletedSection.objects.get_or_create(
            screening=locked, section=locked.version.sections.get(code=section.code)
        )
    else:
        CompletedSection.objects.filter(screening=locked, section__code=section.code).delete()
    locked.updated_at = now
    locked.save(update_fields=["updated_at"])
    return PageSaved(complete=complete)


class ScreeningIncomplete(Exception):
    """A shown page still lacks answers; the exception carries the section to go back to."""

    def __init__(self, section: SectionDef):
        super().__init__(section.code)
        self.section = section


@transaction.atomic
def submit_screening(*, screening: Screening) -> bool:
    """Submit once. Returns False when it was already submitted (a double click, a second tab).

    The row is locked and the status change is a conditional UPDATE, so of two concurrent
    submits exactly one changes the row, whatever the database.
    """
    locked = Screening.objects.select_for_update().get(pk=screening.pk)
    if locked.status != Screening.Status.IN_PROGRESS:
        return False
    missing = first_incomplete_section(locked)
    if missing is not None:
        raise ScreeningIncomplete(missing)
    now = timezone.now()
    changed = Screening.objects.filter(pk=locked.pk, status=Screening.Status.IN_PROGRESS).update(
        status=Screening.Status.SUBMITTED,
        submitted_at=now,
        consent_acknowledged_at=now,
        updated_at=now,
        lock_version=F("lock_version") + 1,
    )
    if changed != 1:
        return False
    locked.refresh_from_db()
    # Evaluated in the same transaction: there is never a submitted screening without flags.
    evaluation = evaluate(locked)
    store_evaluation(locked, evaluation)
    if evaluation.level == URGENT:
        # robust: a mail-server failure is logged, never shown to the patient in place of
        # the crisis resources.
        transaction.on_commit(
            lambda: alert_physicians_of_urgent_screening(screening=locked), robust=True
        )
    return True


def alert_physicians_of_urgent_screening(*, screening: Screening) -> None:
    """Email every active physician; no patient details in the email, only a link to log in."""
    recipients = list(
        User.objects.filter(groups__name=PHYSICIAN_GROUP, is_active=True)
        .values_list("email", flat=True)
        .distinct()
    )
    if not recipients:
        return
    context = {"clinic_name": settings.CLINIC_NAME, "screening": screening}
    send_mail(
        subject=f"{settings.CLINIC_NAME}: a submitted screening needs same-day review",
        message=render_to_string("email/urgent_screening.txt", context),
        from_email=None,
        recipient_list=recipients,
    )


# Roles -------------------------------------------------------------------------------

CONTENT_MODELS = ("section", "question", "choice", "rule", "scoredefinition", "drug", "drugclass")
ROLE_PERMISSIONS = {
    PHYSICIAN_GROUP: [
        "screening.add_invitation",
        "screening.view_invitation",
        "screening.review_screening",
        "screening.decide_screening",
    ],
    # Clinic admins edit the clinical content in the admin (drafts only, enforced there).
    # They do not read patients' screenings; they read the audit log.
    "Clinic admin": [
        "screening.add_invitation",
        "screening.view_invitation",
        "screening.view_auditevent",
        # Issue and revoke FHIR API tokens that read question sets only; a token that reads
        # screenings needs screening.issue_screening_token, which no group has.
        "screening.view_apitoken",
        "screening.add_apitoken",
        # Remove a colleague's lost authenticator so they can set up a new one at next login.
        "otp_totp.view_totpdevice",
        "otp_totp.delete_totpdevice",
        *(
            f"screening.{action}_{model}"
            for model in ("questionset", "questionsetversion")
            for action in ("view", "add", "change")
        ),
        *(
            f"screening.{action}_{model}"
            for model in CONTENT_MODELS
            for action in ("view", "add", "change", "delete")
        ),
    ],
}


def ensure_roles() -> None:
    """Create the staff groups with their permissions; safe to run again."""
    from django.contrib.auth.models import Permission

    for group_name, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        permissions = []
        for dotted in codenames:
            app_label, codename = dotted.split(".")
            permissions.extend(
                Permission.objects.filter(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(permissions)
