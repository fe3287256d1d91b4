"""Log in, log out, home, and the links in emails: accepting an invitation, resetting a password.

Both links carry their token in the query string, never in the path, so no access log keeps
it (screening.log_filters, clinic.access_log). The first visit moves the token into the
visitor's session and redirects to the same page without it, so it also leaves the address
bar, the browser's history and any Referer.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import INTERNAL_RESET_SESSION_TOKEN
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import session_clock
from ..link_tokens import reset_link_tokens
from ..models import User
from ..services.invitations import (
    InvitationInvalid,
    accept_invitation,
    find_usable_invitation,
    usable_invitation,
)
from ..services.languages import CHOSEN_SIGNED_OUT_SESSION_KEY, is_offered, is_staff
from ..services.languages import set_preferred_language as save_language
from ..services.password_reset import RESET_USER_SESSION_KEY
from .forms import ACCOUNT_READY, SetPasswordForm

INVITATION_SESSION_KEY = "invitation_id"


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_clinic_staff:
        return redirect("staff:home")
    return redirect("patient:home")


@require_GET
def session_status(request: HttpRequest) -> JsonResponse:
    """How long the session has left, for the idle warning's script. A background request:
    it never moves the idle clock on (SessionTimeoutMiddleware), so asking keeps nobody in."""
    if not request.user.is_authenticated:
        return JsonResponse({"signed_in": False}, status=401)
    return JsonResponse(
        {"signed_in": True, "seconds_left": session_clock.idle_seconds_left(request)}
    )


@require_POST
def stay_signed_in(request: HttpRequest) -> JsonResponse:
    """The warning's "Stay signed in" button: the person is here, so the idle clock starts
    again. Only this POST (with the CSRF token, from the signed-in session, while the session
    is still alive) moves it on; the script sends it only when the button is pressed."""
    if not request.user.is_authenticated:
        return JsonResponse({"signed_in": False}, status=401)
    request.session["last_seen"] = session_clock.now()
    return JsonResponse(
        {"signed_in": True, "seconds_left": session_clock.idle_seconds_left(request)}
    )


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """The language switcher on every patient page (templates/base.html): a signed-in
    patient's choice goes on their account, a visitor's into the language cookie (and the
    session, to be saved on the account if they sign in now). Staff read in the clinic's."""
    language = request.POST.get("language")
    if not is_offered(language):
        return render(request, "400.html", status=400)
    if request.user.is_authenticated:
        if is_staff(request.user):
            raise PermissionDenied
        save_language(user=request.user, language=language)
    else:
        request.session[CHOSEN_SIGNED_OUT_SESSION_KEY] = language
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("home")
    return remember_language_in_cookie(HttpResponseRedirect(next_url), language)


def remember_language_in_cookie(response: HttpResponse, language: str) -> HttpResponse:
    """Django's language cookie, as its own set_language view sets it."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response


def _invitation_invalid(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/invitation_invalid.html", status=404)


@require_http_methods(["GET", "POST"])
def accept_invitation_view(request: HttpRequest) -> HttpResponse:
    token = request.GET.get("token")
    if token is not None:
        # The link from the email. The token stays valid until the password is set (a mail
        # scanner opening the link first must not spend it), but from here on only this
        # session needs it.
        try:
            request.session[INVITATION_SESSION_KEY] = str(find_usable_invitation(token).pk)
        except InvitationInvalid:
            request.session.pop(INVITATION_SESSION_KEY, None)
        return redirect("accept_invitation")
    try:
        invitation = usable_invitation(request.session.get(INVITATION_SESSION_KEY, ""))
    except InvitationInvalid:
        return _invitation_invalid(request)
    if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
        # Staff chose the invitation's language with the patient; a language the visitor
        # picked here (the cookie) wins.
        translation.activate(invitation.language)
        request.LANGUAGE_CODE = invitation.language
    provisional_user = User(email=invitation.email, full_name=invitation.full_name)
    form = SetPasswordForm(
        request.POST if request.method == "POST" else None, user=provisional_user
    )
    if request.method == "POST" and form.is_valid():
        try:
            user = accept_invitation(
                invitation_id=invitation.pk, password=form.cleaned_data["password2"]
            )
        except InvitationInvalid:
            return _invitation_invalid(request)
        request.session.pop(INVITATION_SESSION_KEY, None)
        login(request, user, backend="screening.accounts.backends.ClinicModelBackend")
        messages.success(request, ACCOUNT_READY)
        return redirect("patient:home")
    return render(
        request, "accounts/accept_invitation.html", {"form": form, "invitation": invitation}
    )


@require_http_methods(["GET", "POST"])
def old_invitation_link(request: HttpRequest, token: str) -> HttpResponse:
    """Links sent before tokens left the path: every one was ended when that changed."""
    return _invitation_invalid(request)


@require_GET
def password_reset_link(request: HttpRequest) -> HttpResponse:
    """The link in the reset email: its user and token go into the session, then away."""
    request.session[RESET_USER_SESSION_KEY] = request.GET.get("uid", "")
    request.session[INTERNAL_RESET_SESSION_TOKEN] = request.GET.get("token", "")
    return redirect("password_reset_confirm")


class NewPasswordView(auth_views.PasswordResetConfirmView):
    """Django's "choose a new password" page, taking the link's user and token from the
    session (put there by `password_reset_link`) instead of from the URL."""

    template_name = "accounts/password_reset_confirm.html"
    token_generator = reset_link_tokens

    def dispatch(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        # Django's view checks the session's token when the URL's token is its placeholder.
        uidb64 = request.session.get(RESET_USER_SESSION_KEY, "")
        return super().dispatch(request, uidb64=uidb64, token=self.reset_url_token)

    def form_valid(self, form: SetPasswordForm) -> HttpResponse:
        response = super().form_valid(form)
        self.request.session.pop(RESET_USER_SESSION_KEY, None)
        return response


@require_http_methods(["GET", "POST"])
def old_password_reset_link(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """Links sent before tokens left the path: their tokens were made with another salt."""
    return render(request, "accounts/password_reset_confirm.html", {"validlink": False}, status=404)
