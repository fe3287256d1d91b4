"""Forgotten passwords: asking for a link (rate-limited), and the link's token kept out of URLs.

Asking does the same work whether or not the address has an account: the request counts
recent requests, records this one and queues a task; the worker (screening.tasks) looks
the account up, mints the link and sends it. At most PASSWORD_RESET_LIMIT_PER_ACCOUNT
emails per address typed and PASSWORD_RESET_LIMIT_PER_ADDRESS per client address go out
in PASSWORD_RESET_LIMIT_WINDOW_MINUTES, counted in the database so the limit holds across
every app server; over a limit the page says the same and nothing is sent.

The link carries its token in the query string, which no log line keeps (see
screening.log_filters and clinic.access_log); the first visit moves it into the session
and redirects to a URL with neither token nor user id (views.accounts).
"""

import ipaddress
import logging
import unicodedata
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from .. import tasks
from ..models import PasswordResetRequest

logger = logging.getLogger(__name__)

# The session key that holds the link's user (Django's view keeps the token in its own key).
RESET_USER_SESSION_KEY = "password_reset_uid"
# Key of the PostgreSQL advisory lock that makes count-then-record atomic across app servers
# (the first 8 bytes of sha256("screening.password_reset") as a signed integer).
LIMIT_LOCK_KEY = -2505539735004606316


def normalised_email(email: str) -> str:
    """The address as Django's PasswordResetForm matches it to an account: NFKC, then
    casefold (django.contrib.auth.forms._unicode_ci_compare). Every spelling that reaches
    the same account counts as one: 'phyſician' (long s), a Kelvin sign for K, full-width
    letters. Lower-casing alone kept those apart, and each got its own three emails."""
    return unicodedata.normalize("NFKC", email).casefold().strip()


def email_digest(email: str) -> str:
    """A keyed hash of the address typed: the rate limit needs to count, not to read it."""
    return salted_hmac(
        "screening.password_reset.email", normalised_email(email), algorithm="sha256"
    ).hexdigest()


def _valid_address(ip_address: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(ip_address)) if ip_address else None
    except ValueError:
        return None


def limit_reached(*, for_account: int, from_address: int) -> str | None:
    """Which limit the counts of recent emails reach ("account", "client address"), if any."""
    if for_account >= settings.PASSWORD_RESET_LIMIT_PER_ACCOUNT:
        return "account"
    if from_address >= settings.PASSWORD_RESET_LIMIT_PER_ADDRESS:
        return "client address"
    return None


@transaction.atomic
def request_password_reset(*, email: str, ip_address: str | None) -> bool:
    """Queue a reset email for `email` unless a limit is reached; True when queued.

    No account is looked up here: the answer and its timing are the same for every address.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            # Two app servers counting at once must not both let the last email through.
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LIMIT_LOCK_KEY])
    now = timezone.now()
    window_start = now - timedelta(minutes=settings.PASSWORD_RESET_LIMIT_WINDOW_MINUTES)
    PasswordResetRequest.objects.filter(requested_at__lt=window_start).delete()
    digest = email_digest(email)
    ip_address = _valid_address(ip_address)
    recent = PasswordResetRequest.objects.filter(requested_at__gte=window_start)
    refused = limit_reached(
        for_account=recent.filter(email_digest=digest).count(),
        from_address=recent.filter(ip_address=ip_address).count(),
    )
    if refused:
        logger.warning(
            "Password-reset email not sent: the limit per %s was reached (request from %s).",
            refused,
            ip_address or "an unknown address",
        )
        return False
    PasswordResetRequest.objects.create(
        requested_at=now, email_digest=digest, ip_address=ip_address
    )
    tasks.send_password_reset.enqueue(email=email.strip())
    return True
