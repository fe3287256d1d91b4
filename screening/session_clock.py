"""The idle clock of a signed-in session, shared by the session middleware, the "Stay signed
in" warning and the views its script calls.

The server alone decides when a session ends (SessionTimeoutMiddleware): the warning is
progressive enhancement and changes nothing without JavaScript. Only two kinds of request
move the clock on: an ordinary page request (the person opened or sent a page), and the
"Stay signed in" button's POST. The script's own background requests (asking how long is
left, keeping a draft of the page) never do, so a page left open can never keep its session
alive by itself.
"""

import time

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest

# Requests a page's script sends by itself: they never count as the person's activity.
BACKGROUND_URL_NAMES = frozenset({"session_status", "patient:page_draft"})
# Requests the middleware never counts as activity: the background ones, and "Stay signed
# in", whose view alone moves the clock on, and only once its CSRF check has passed.
NOT_ACTIVITY_URL_NAMES = BACKGROUND_URL_NAMES | {"stay_signed_in"}
# The warning appears this long before the idle limit (never before half of it).
WARNING_SECONDS = 120
# The page's script keeps a draft of the wizard page this long before the limit (less for
# a very short limit), so the post arrives while the session still lets it in.
DRAFT_LEAD_SECONDS = 10


def now() -> int:
    return int(time.time())


def is_staff_session(session: SessionBase) -> bool:
    return bool(session.get("staff_session", False))


def idle_limit(session: SessionBase) -> int:
    return (
        settings.STAFF_IDLE_TIMEOUT_SECONDS
        if is_staff_session(session)
        else settings.PATIENT_IDLE_TIMEOUT_SECONDS
    )


def seconds_left(session: SessionBase, at: int | None = None) -> int:
    """How long this session has before the server ends it, if nobody acts."""
    at = now() if at is None else at
    left = idle_limit(session) - (at - session.get("last_seen", at))
    if is_staff_session(session):
        absolute = settings.STAFF_ABSOLUTE_TIMEOUT_SECONDS - (at - session.get("started_at", at))
        left = min(left, absolute)
    return max(left, 0)


def idle_seconds_left(request: HttpRequest) -> int:
    return seconds_left(request.session)


def warning_seconds(session: SessionBase) -> int:
    return min(WARNING_SECONDS, idle_limit(session) // 2)


def draft_lead_seconds(session: SessionBase) -> int:
    return max(1, min(DRAFT_LEAD_SECONDS, idle_limit(session) // 10))
