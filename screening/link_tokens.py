"""The tokens in emailed links: invitations, password resets and authenticator set-up links.

The worker (screening/tasks.py) mints each token when it sends the email, a new one per
attempt, so no working link ever sits in the task table; only a SHA-256 hash of an
invitation or set-up token is stored. Requests and services check tokens with the same
helpers. This module writes no email and enqueues nothing, so the worker and the services
that enqueue its tasks can both import it.
"""

import hashlib
import secrets
from datetime import timedelta

from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.db import transaction
from django.utils import timezone

from .models import AuthenticatorSetupLink, Invitation, User


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_invitation_token(*, invitation: Invitation) -> str:
    """A new token for the invitation's link; any earlier one stops working."""
    token = secrets.token_urlsafe(32)
    Invitation.objects.filter(pk=invitation.pk).update(token_hash=hash_token(token))
    invitation.token_hash = hash_token(token)
    return token


class ResetLinkTokenGenerator(PasswordResetTokenGenerator):
    # Its own salt: links emailed before tokens moved out of the URL path (where access logs
    # recorded them) no longer work.
    key_salt = "screening.password_reset.ResetLinkTokenGenerator"


reset_link_tokens = ResetLinkTokenGenerator()


# Long enough for a link sent in the evening to be used the next working day.
LINK_VALID_FOR = timedelta(hours=24)


def newest_link(user: User) -> AuthenticatorSetupLink | None:
    return AuthenticatorSetupLink.objects.filter(user=user).order_by("-created_at").first()


def issue_setup_link_token(*, link: AuthenticatorSetupLink) -> str | None:
    """A new token for the link's email (any earlier one stops working), or None when the
    link can no longer be used: opened, expired or replaced by a newer one since it was
    queued."""
    with transaction.atomic():
        link = AuthenticatorSetupLink.objects.select_for_update().get(pk=link.pk)
        if (
            link.opened_at is not None
            or link.expires_at <= timezone.now()
            or link != newest_link(link.user)
        ):
            return None
        token = secrets.token_urlsafe(32)
        link.token_hash = hash_token(token)
        link.save(update_fields=["token_hash"])
    return token
