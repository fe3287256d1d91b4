"""Issue, revoke, authenticate and rate-limit FHIR API tokens.

Who may issue what: a token that reads screenings hands patient data to another system, so
issuing one needs the ``screening.issue_screening_token`` permission, which no group has
by default (superusers have every permission; a superuser may grant it to a named person).
Clinic admins, who never read screenings themselves, issue only question-set tokens. Anyone
who may issue tokens may revoke any token: revoking only takes access away.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from .. import audit
from ..models import ApiToken, AuditAction, User

TOKEN_PREFIX = "fhir_"
MAX_VALIDITY = timedelta(days=365)
ISSUE_PERMISSION = "screening.add_apitoken"
ISSUE_SCREENING_PERMISSION = "screening.issue_screening_token"


class TokenNotAllowed(Exception):
    """The person may not issue this token; the message says why."""


def hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def may_issue(user: User, scope: str) -> bool:
    if not user.has_perm(ISSUE_PERMISSION):
        return False
    return scope != ApiToken.Scope.SCREENINGS_READ or user.has_perm(ISSUE_SCREENING_PERMISSION)


@transaction.atomic
def issue_token(
    *,
    client_name: str,
    scope: str,
    expires_at: datetime,
    created_by: User,
    requests_per_minute: int = 120,
    ip_address: str | None = None,
) -> tuple[ApiToken, str]:
    """A new token and its secret, which is never stored and cannot be shown again."""
    if not may_issue(created_by, scope):
        raise TokenNotAllowed(
            "Only someone with the permission to issue tokens that read screenings may issue "
            "this one: it gives another system patients' data. Ask a superuser."
        )
    now = timezone.now()
    if not now < expires_at <= now + MAX_VALIDITY:
        raise TokenNotAllowed("A token must expire in the future, and within a year.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        client_name=client_name,
        scope=scope,
        token_hash=hash_token(secret),
        token_prefix=secret[: len(TOKEN_PREFIX) + 6],
        created_by=created_by,
        created_at=now,
        expires_at=expires_at,
        requests_per_minute=requests_per_minute,
    )
    audit.record(
        actor=created_by,
        ip_address=ip_address,
        action=AuditAction.FHIR_TOKEN_ISSUED,
        obj=token,
        summary=f"FHIR API token for {client_name} ({token.get_scope_display()})",
    )
    return token, secret


@transaction.atomic
def revoke_token(*, token: ApiToken, revoked_by: User, ip_address: str | None = None) -> bool:
    """Revoke a token at once; False when it was already revoked."""
    changed = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=revoked_by
    )
    if changed:
        audit.record(
            actor=revoked_by,
            ip_address=ip_address,
            action=AuditAction.FHIR_TOKEN_REVOKED,
            obj=token,
            summary=f"FHIR API token for {token.client_name} revoked",
        )
        token.refresh_from_db()
    return bool(changed)


@dataclass(frozen=True)
class Refusal:
    status: int  # 401 or 403
    error: str  # the RFC 6750 error code
    message: str


def authenticate(header: str) -> ApiToken | Refusal:
    """The token an Authorization header carries, or why it is refused.

    An unknown, revoked and expired token are all 401: a client learns only that its
    token no longer works, and the messages differ only in what the holder can fix.
    """
    scheme, _, secret = header.partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        return Refusal(
            401, "invalid_request", "Send an API token: 'Authorization: Bearer <token>'."
        )
    token = (
        ApiToken.objects.select_related("created_by").filter(token_hash=hash_token(secret)).first()
    )
    if token is None:
        return Refusal(401, "invalid_token", "This API token is not valid.")
    if token.revoked_at is not None:
        return Refusal(401, "invalid_token", "This API token has been revoked.")
    if token.expires_at <= timezone.now():
        return Refusal(401, "invalid_token", "This API token has expired.")
    return token


def take_request(token: ApiToken) -> int:
    """Count one request against the token's rate; 0 if allowed, else seconds to wait.

    Fixed one-minute windows counted with conditional UPDATEs, so concurrent requests on
    any number of app servers cannot exceed the limit within a window.
    """
    now = timezone.now()
    window = now.replace(second=0, microsecond=0)
    tokens = ApiToken.objects.filter(pk=token.pk)
    counted = tokens.filter(
        window_started_at=window, window_count__lt=F("requests_per_minute")
    ).update(window_count=F("window_count") + 1, last_used_at=now)
    if not counted:
        counted = tokens.filter(
            Q(window_started_at__isnull=True) | ~Q(window_started_at=window)
        ).update(window_started_at=window, window_count=1, last_used_at=now)
    if counted:
        return 0
    return max(1, 60 - now.second)
