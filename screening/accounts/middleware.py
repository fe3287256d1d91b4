"""Response headers that keep patient data out of browser caches, session time limits, and
the second factor for staff.

Neither redirect carries an emailed link's token in `next`: a login URL holding one lands
in django-axes' record of a failed login (AccessAttempt.get_data), in the browser's history
and in any Referer. The links themselves (invitation, password reset, authenticator set-up)
only swap their token for the session, so they are let through instead.
"""

from collections.abc import Callable

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import logout
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.views import redirect_to_login
from django.db import connections, router
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils import translation
from django.utils.functional import SimpleLazyObject
from django.utils.http import urlencode
from django_otp.middleware import OTPMiddleware
from django_otp.plugins.otp_totp.models import TOTPDevice

from .. import session_clock as idle
from ..joined_reads import JoinedRead
from ..models import PageDraft, Screening, User
from ..services.drafts import keep_draft
from ..services.languages import CHOSEN_SIGNED_OUT_SESSION_KEY, is_offered, set_preferred_language
from ..services.two_factor import needs_second_factor
from ..snapshots import questionnaire_for
from .backends import session_of_the_request
from .views import remember_language_in_cookie


class ClinicAuthenticationMiddleware(AuthenticationMiddleware):
    """Django's AuthenticationMiddleware, handing the request's session to the read of its
    user (ClinicModelBackend.get_user), which takes the user's row from the session's own
    read when that read took it (session_store.py). The rest is Django's auth.get_user."""

    def process_request(self, request: HttpRequest) -> None:
        super().process_request(request)
        request.user = SimpleLazyObject(lambda: _user_of(request))


def _user_of(request: HttpRequest) -> User:
    """django.contrib.auth.middleware.get_user, with the session named to the backend."""
    if not hasattr(request, "_cached_user"):
        named = session_of_the_request.set(request.session)
        try:
            request._cached_user = auth.get_user(request)
        finally:
            session_of_the_request.reset(named)
    return request._cached_user


# The staff member's authenticator, read on every staff request (django-otp's ORM read built
# the same query anew each time).
TOTP_DEVICE = JoinedRead(
    "screening_totp_device_read",
    TOTPDevice,
    (),
    where=lambda quote, alias_of: f"{alias_of('')}.{quote(TOTPDevice._meta.pk.column)} = %s",
)


class ClinicOTPMiddleware(OTPMiddleware):
    """django-otp's middleware, reading the session's authenticator app as a prepared read.

    django-otp still decides what the device means: one of another user, or not confirmed,
    verifies nobody (OTPMiddleware._finalize_device). Staff verify with an authenticator app
    only, so a session naming any other kind of device, or garbled, verifies nobody either
    (django-otp's own read fails on a name that is not a device's).
    """

    def _device_from_persistent_id(self, persistent_id: str) -> TOTPDevice | None:
        persistent_id = self._normalize_persistent_id(persistent_id)
        label, _, device_id = persistent_id.rpartition("/")
        if label != TOTPDevice._meta.label_lower or not (
            device_id.isascii() and device_id.isdigit()
        ):
            return None
        key = int(device_id)
        if not _fits_the_key_column(key):
            return None
        found = TOTP_DEVICE.one([key])
        return found[0] if found else None


def _fits_the_key_column(key: int) -> bool:
    """Whether `key` fits the device table's key column (PostgreSQL refuses a larger one)."""
    pk = TOTPDevice._meta.pk
    low, high = connections[router.db_for_read(TOTPDevice)].ops.integer_field_range(
        pk.get_internal_type()
    )
    return (low is None or key >= low) and (high is None or key <= high)


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


def _view_name(request: HttpRequest) -> str | None:
    try:
        return resolve(request.path_info).view_name
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
    staff, 12 hours after login. A patient's answers are saved per page, and what was typed
    on the open page and not saved is kept as that page's draft (screening/services/drafts.py):
    by the page's script just before the limit, or here, when the page is sent after it.

    The script's background requests (screening/session_clock.py) are let through to learn
    the session has ended, but never count as activity."""

    # Record activity at most this often, so a busy page does not write the session each time.
    TOUCH_EVERY_SECONDS = 30

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = idle.now()
            session = request.session
            session.setdefault("started_at", now)
            if "staff_session" not in session:
                session["staff_session"] = bool(user.is_staff or user.is_clinic_staff)
            last_seen = session.get("last_seen", now)
            staff = session.get("staff_session", False)
            idle_limit = idle.idle_limit(session)
            expired = now - last_seen > idle_limit or (
                staff and now - session["started_at"] > settings.STAFF_ABSOLUTE_TIMEOUT_SECONDS
            )
            url_name = _view_name(request)
            if expired:
                kept = not staff and self._keep_what_was_sent(request, user)
                logout(request)
                messages.info(
                    request,
                    translation.gettext(
                        "You were logged out after a period of inactivity. Please log in "
                        "again. What you typed on this page was kept: you will see it there "
                        "to check and save."
                    )
                    if kept
                    else translation.gettext(
                        "You were logged out after a period of inactivity. Please log in again."
                    ),
                )
                if url_name in idle.NOT_ACTIVITY_URL_NAMES:
                    # The warning's script: it sends the browser to the login page, where
                    # the message above is shown.
                    return JsonResponse({"signed_in": False}, status=401)
                if is_token_link(request):
                    # Opened as anyone is: the link takes its token into the new session.
                    return self.get_response(request)
                return redirect_to_login(next_without_secrets(request))
            # An address that is no page of the app (a typo, a probe, a browser's guess)
            # is not the person using it, so it never keeps the session alive.
            is_activity = url_name is not None and url_name not in idle.NOT_ACTIVITY_URL_NAMES
            if is_activity and (
                now - last_seen >= self.TOUCH_EVERY_SECONDS or "last_seen" not in session
            ):
                session["last_seen"] = now
        return self.get_response(request)

    def _keep_what_was_sent(self, request: HttpRequest, user: User) -> bool:
        """A wizard page (or its script's draft) sent after the session ended (no
        JavaScript, or a computer that slept): keep what was typed as the page's draft before signing the patient out, so
        it is on the page when they come back. Only a post that passes the CSRF check, of a
        page of the patient's own screening."""
        if request.method != "POST":
            return False
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return False
        if match.view_name not in ("patient:section", "patient:page_draft"):
            return False
        if CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {}) is not None:
            return False
        screening = (
            Screening.objects.select_related("version")
            .filter(pk=match.kwargs["screening_id"], patient=user)
            .first()
        )
        section_code = match.kwargs["section_code"]
        if screening is None or questionnaire_for(screening.version).section(section_code) is None:
            return False
        return (
            keep_draft(
                screening=screening,
                section_code=section_code,
                data=request.POST,
                source=PageDraft.Source.EXPIRED_POST,
            )
            is not None
        )


class LanguageMiddleware:
    """The language of each page once the user is known (LocaleMiddleware, earlier, has
    chosen a visitor's: the language cookie, then the browser's Accept-Language).

    A signed-in patient reads in the language on their account; a language they picked
    while signed out (on the login or invitation page) is saved there on their first page
    after signing in. Staff always read in the clinic's language, whatever their browser
    says. Sits after SessionTimeoutMiddleware, which notes whether this is a staff session
    (so no query is added to each page)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        patient_language = None
        if user is not None and user.is_authenticated:
            session = request.session
            chosen = session.pop(CHOSEN_SIGNED_OUT_SESSION_KEY, None)
            if idle.is_staff_session(session):
                language = settings.LANGUAGE_CODE
            else:
                if is_offered(chosen):
                    set_preferred_language(user=user, language=chosen)
                language = patient_language = user.preferred_language
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        # The patient's language in the cookie too, so the pages they see signed out (the
        # login page after logging out, or after being signed out for idling) stay in it.
        # Not when this response sets the cookie itself (the language switcher).
        if (
            is_offered(patient_language)
            and response.status_code < 400
            and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != patient_language
            and settings.LANGUAGE_COOKIE_NAME not in response.cookies
        ):
            remember_language_in_cookie(response, patient_language)
        return response


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
