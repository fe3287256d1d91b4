"""Response headers that keep patient data out of browser caches, session time limits, and
the second factor for staff."""

import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils.http import urlencode

from ..services.two_factor import needs_second_factor


class NoStoreForSignedInUsersMiddleware:
    """After logout, the back button must not show a page with patient data from the cache."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
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

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
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
                return redirect_to_login(request.get_full_path())
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

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            user is not None
            and needs_second_factor(user)
            and not user.is_verified()
            and not self._always_allowed(request)
        ):
            target = reverse("two_factor_verify")
            if request.method == "GET":
                target += "?" + urlencode({"next": request.get_full_path()})
            return redirect(target)
        return self.get_response(request)

    def _always_allowed(self, request) -> bool:
        if request.path.startswith(settings.STATIC_URL):
            return True
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return False
        return match.url_name in self.ALWAYS_ALLOWED_URL_NAMES
