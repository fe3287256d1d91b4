"""Emailed set-up links: what, besides the password, lets a staff member set up an authenticator.

A password alone never enrols a device (no trust on first use): a staff account that has
none, because it never had one or because a clinic admin removed it, gets a single-use,
expiring link at its own email address. Opening the link spends its token at once and
keeps only the link's id in the session, then redirects to the token-free set-up page,
so no working token is left in an address bar, a history or a server log (the documented
access log records the path without the query string, where the token travels). The
set-up page (screening/accounts/two_factor_views.py) works only in a session that opened the
account's newest link, while the person is logged in with that account's password.
Opening a link takes the request (the link's id goes into the session); the writes take
the actor and their address.
"""

import datetime
import secrets
from datetime import timedelta

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from .. import audit, tasks
from ..link_tokens import LINK_VALID_FOR, hash_token, newest_link
from ..models import AuditAction, AuthenticatorSetupLink, User

# Someone who knows the password could otherwise fill the person's inbox with links.
NEW_LINK_AFTER = timedelta(minutes=2)
LINK_SESSION_KEY = "two_factor_setup_link"


class LinkNotUsable(Exception):
    """Unknown, already opened, expired or replaced: all look the same to the visitor."""


class TooSoonForANewLink(Exception):
    def __init__(self, sent_at: datetime.datetime) -> None:
        super().__init__("A link was sent a moment ago.")
        self.sent_at = sent_at


def issue_setup_link(
    *, user: User, actor: User, ip_address: str | None, removed_by: User | None = None
) -> None:
    """Make a new link for `user` (their older links stop working); the worker emails it.

    The token made here is never sent: the worker mints the one it emails (a new one per
    attempt), so no working link sits in the task table, like invitations.
    """
    with transaction.atomic():
        link = AuthenticatorSetupLink.objects.create(
            user=user,
            token_hash=hash_token(secrets.token_urlsafe(32)),
            expires_at=timezone.now() + LINK_VALID_FOR,
        )
        audit.record(
            actor=actor,
            ip_address=ip_address,
            action=AuditAction.TWO_FACTOR_LINK_SENT,
            obj=user,
            summary=f"Authenticator set-up link emailed to {user.email}",
        )
        tasks.send_authenticator_setup_link.enqueue(
            link_id=str(link.pk), removed_by_id=str(removed_by.pk) if removed_by else ""
        )


def send_new_setup_link(*, user: User, ip_address: str | None) -> None:
    """The logged-in staff member without an authenticator asks for a (new) link. It goes to
    the account's address only; one every NEW_LINK_AFTER at most."""
    with transaction.atomic():
        # Lock the person: two clicks at once must not both send.
        User.objects.select_for_update().get(pk=user.pk)
        newest = newest_link(user)
        if newest is not None and newest.created_at > timezone.now() - NEW_LINK_AFTER:
            raise TooSoonForANewLink(newest.created_at)
        issue_setup_link(user=user, actor=user, ip_address=ip_address)


def remove_authenticator(*, device: TOTPDevice, actor: User, ip_address: str | None) -> None:
    """A clinic admin removes a colleague's authenticator (a lost phone): audited as who
    removed whose, and the colleague is emailed a link to set up a new one."""
    owner = device.user
    with transaction.atomic():
        device.delete()
        audit.record(
            actor=actor,
            ip_address=ip_address,
            action=AuditAction.TWO_FACTOR_REMOVED,
            obj=owner,
            summary=f"Authenticator app of {owner.email} removed",
        )
        if not TOTPDevice.objects.filter(user=owner, confirmed=True).exists():
            issue_setup_link(user=owner, actor=actor, ip_address=ip_address, removed_by=actor)


def open_setup_link(*, token: str, request: HttpRequest) -> None:
    """Spend the token: keep the link's id in this session, where the set-up page finds it."""
    with transaction.atomic():
        link = (
            AuthenticatorSetupLink.objects.select_for_update()
            .filter(token_hash=hash_token(token))
            .first()
        )
        if (
            link is None
            or link.opened_at is not None
            or link.expires_at <= timezone.now()
            or link != newest_link(link.user)
        ):
            raise LinkNotUsable
        link.opened_at = timezone.now()
        link.save(update_fields=["opened_at"])
        audit.record(
            request=request,
            action=AuditAction.TWO_FACTOR_LINK_OPENED,
            obj=link.user,
            summary="Authenticator set-up link opened",
        )
    request.session[LINK_SESSION_KEY] = str(link.pk)


def setup_link_in_session(request: HttpRequest) -> AuthenticatorSetupLink | None:
    """The opened link this session may set up the logged-in user's authenticator with."""
    link_id = request.session.get(LINK_SESSION_KEY)
    if not link_id:
        return None
    link = AuthenticatorSetupLink.objects.filter(pk=link_id, user=request.user).first()
    if (
        link is None
        or link.used_at is not None
        or link.expires_at <= timezone.now()
        or link != newest_link(request.user)
    ):
        return None
    return link
