"""Response headers that keep patient data out of browser caches, session time limits, and
the second factor for staff.

Neither redirect carries an emailed link's token in `next`: a login URL holding one lands
in django-axes' record of a failed login (AccessAttempt.get_data), in the browser's history
and in any Referer. The links themselves (invitation, password reset, authenticator set-up)
only swap their token for the session, so they are let through instead.
"""

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.http import urlencode

from ..services.two_factor import needs_second_factor

# The pages emailed links open: each moves its token into the session and redirects to an
# address without it, whoever the visitor is (screening/accounts/views.py, two_factor_views).
TOKEN_LINK_URL_NAMES = {"accept_invitation", "password_reset_link", "two_factor_open_link"}
# Query parameters that carry a link's secret.
SECRET_PARAMETERS = ("token", "uid")


def _url_name(request: HttpRequest) -> str | None:
    try:
        return resolve(request.path_info).url_name
    except Resolver404:
        return None


def is_token_link(request: HttpRequest) -> bool:
    """An emailed link being opened: a GET of a link page with its token."""
    return (
        request.method == "GET"
        and _url_name(request) in TOKEN_LINK_URL_NAMES
        and any(name in request.GET for name in SECRET_PARAMETERS)
    )


def next_without_secrets(request: HttpRequest) -> str:
    """The page asked for, to come back to after logging in, without any link's secret."""
    query = request.GET.copy()
    for name in SECRET_PARAMETERS:
        query.pop(name, None)
    return request.path + (f"?{query.urlencode()}" if query else "")


class NoStoreForSignedInUsersMiddleware:
    """After logout, the back button must not show a page with patient data from the cache."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            response["Cache-Control"] = "no-store, private"
        return response


class SessionTimeoutMiddleware:
    """End a session on the server after inactivity (staff 15 min, patients 30) and, for
    staff, 12 hours after login. A patient's answers are saved per page, so logging them
    out loses nothing: they resume at the same page after logging in again."""

    # Record activity at most this often, so a busy page does not write the session each time.
    TOUCH_EVERY_SECONDS = 30

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = int(time.time())
            session = request.session
            session.setdefault("started_at", now)
            if "staff_session" not in session:
                session["staff_session"] = bool(user.is_staff or user.is_clinic_staff)
            last_seen = session.get("last_seen", now)
            staff = session.get("staff_session", False)
            idle_limit = (
                settings.STAFF_IDLE_TIMEOUT_SECONDS
                if staff
                else settings.PATIENT_IDLE_TIMEOUT_SECONDS
            )
            expired = now - last_seen > idle_limit or (
                staff and now - session["started_at"] > settings.STAFF_ABSOLUTE_TIMEOUT_SECONDS
            )
            if expired:
                logout(request)
                messages.info(
                    request,
                    "You were logged out after a period of inactivity. Please log in again.",
                )
                if is_token_link(request):
                    # Opened as anyone is: the link takes its token into the new session.
                    return self.get_response(request)
                return redirect_to_login(next_without_secrets(request))
            if now - last_seen >= self.TOUCH_EVERY_SECONDS or "last_seen" not in session:
                session["last_seen"] = now
        return self.get_response(request)


class StaffTwoFactorMiddleware:
    """Staff (physicians, clinic admins, admin-site users) must enter a one-time code after
    their password before any page but the two-factor pages, log out and static files.
    Sits after django-otp's OTPMiddleware, which tells whether this session is verified."""

    ALWAYS_ALLOWED_URL_NAMES = {
        "two_factor_verify",
        "two_factor_setup",
        "two_factor_open_link",
        "two_factor_send_link",
        "logout",
    }

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (
            user is not None
            and needs_second_factor(user)
            and not user.is_verified()
            and not self._always_allowed(request)
        ):
            target = reverse("two_factor_verify")
            if request.method == "GET":
                target += "?" + urlencode({"next": next_without_secrets(request)})
            return redirect(target)
        return self.get_response(request)

    def _always_allowed(self, request: HttpRequest) -> bool:
        if request.path.startswith(settings.STATIC_URL):
            return True
        # A link only swaps its token for the session; the page it sends on to is checked.
        return _url_name(request) in self.ALWAYS_ALLOWED_URL_NAMES or is_token_link(request)
