"""Invitations: a single-use link for a patient to set a password and start the intake.

The raw token exists only in the email the worker sends (screening.tasks); only its
hash is stored. An invitation only ever creates an account, never touches one.
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import tasks
from ..link_tokens import hash_token
from ..models import (
    Invitation,
    User,
)
from .languages import is_offered


class InvitationInvalid(Exception):
    """The link was already used, has expired or never existed: all look the same to the visitor."""


def create_invitation(
    *, full_name: str, email: str, created_by: User, language: str = settings.LANGUAGE_CODE
) -> tuple[Invitation, str]:
    """Make a single-use link for a patient; the raw token exists only in the returned link.
    `language`: the one its email is written in and the patient's account starts in."""
    if not is_offered(language):
        raise ValueError(f"Not an offered language: {language!r}")
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        full_name=full_name.strip(),
        email=email.strip().lower(),
        language=language,
        token_hash=hash_token(token),
        created_by=created_by,
        expires_at=timezone.now() + timedelta(days=settings.INVITATION_VALID_DAYS),
    )
    return invitation, token


@transaction.atomic
def invite_patient(
    *, full_name: str, email: str, created_by: User, language: str = settings.LANGUAGE_CODE
) -> Invitation:
    """What the staff page calls: the invitation now, its email from the worker.

    The same work whether or not the address already has an account (the worker decides
    which email to send), so the page's response time does not tell. The token made here
    is never sent: the worker mints the one it emails, so no working link sits in the task
    table.
    """
    invitation, _never_sent = create_invitation(
        full_name=full_name, email=email, created_by=created_by, language=language
    )
    tasks.send_invitation.enqueue(invitation_id=str(invitation.pk))
    return invitation


def find_usable_invitation(token: str) -> Invitation:
    invitation = Invitation.objects.filter(token_hash=hash_token(token)).first()
    if invitation is None or not invitation.is_usable:
        raise InvitationInvalid
    return invitation


def usable_invitation(invitation_id: str) -> Invitation:
    """The invitation a visitor's session holds (see `views.accounts.accept_invitation_view`)."""
    try:
        invitation = Invitation.objects.filter(pk=invitation_id).first()
    except ValidationError:  # no invitation in the session
        raise InvitationInvalid from None
    if invitation is None or not invitation.is_usable:
        raise InvitationInvalid
    return invitation


@transaction.atomic
def accept_invitation(*, invitation_id: str, password: str) -> User:
    """Create the patient's account with their chosen password; the link dies."""
    invitation = Invitation.objects.select_for_update().filter(pk=invitation_id).first()
    if invitation is None or not invitation.is_usable:
        raise InvitationInvalid
    if User.objects.filter(email__iexact=invitation.email).exists():
        # An invitation only ever creates an account. Setting the password of an existing
        # one would let whoever holds the link (staff included) take it over; people who
        # already have an account log in instead.
        raise InvitationInvalid
    user = User.objects.create_user(
        email=invitation.email,
        password=password,
        full_name=invitation.full_name,
        preferred_language=invitation.language,
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
