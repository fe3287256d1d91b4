"""Pages everyone passes through: log in and out, the second factor, password reset, and
accepting an invitation. Tokens travel in query strings, never in paths (access logs)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import two_factor_views as two_factor
from . import views as accounts
from .forms import EmailLoginForm, PasswordResetRequestForm

urlpatterns = [
    path("", accounts.home, name="home"),
    path(
        "login/",
        auth_views.LoginView.as_view(
            template_name="accounts/login.html",
            authentication_form=EmailLoginForm,
            redirect_authenticated_user=True,
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The idle warning's script: how long is left, and the "Stay signed in" button.
    path("account/session/", accounts.session_status, name="session_status"),
    path("account/session/stay/", accounts.stay_signed_in, name="stay_signed_in"),
    # The language switcher on every patient page (a form: it works without JavaScript).
    path("account/language/", accounts.set_language, name="set_language"),
    path("account/two-factor/", two_factor.verify, name="two_factor_verify"),
    path("account/two-factor/set-up/", two_factor.setup, name="two_factor_setup"),
    # The emailed link: its token travels in the query string, which the documented access
    # log format leaves out, and is spent on first use.
    path(
        "account/two-factor/set-up/link/", two_factor.open_setup_link, name="two_factor_open_link"
    ),
    path(
        "account/two-factor/set-up/send-link/",
        two_factor.send_setup_link,
        name="two_factor_send_link",
    ),
    # Password reset: the same "check your email" page whether or not the address has an
    # account, and whether or not the rate limit was reached; the worker sends the email.
    path(
        "account/password-reset/",
        auth_views.PasswordResetView.as_view(
            template_name="accounts/password_reset_form.html",
            form_class=PasswordResetRequestForm,
        ),
        name="password_reset",
    ),
    path(
        "account/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    # The emailed link (?uid=...&token=...) puts both into the session and redirects to the
    # new-password page, whose URL holds neither.
    path("account/password-reset/link/", accounts.password_reset_link, name="password_reset_link"),
    path(
        "account/password-reset/new-password/",
        accounts.NewPasswordView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "account/password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path(
        "account/password-reset/<uidb64>/<token>/",
        accounts.old_password_reset_link,
        name="old_password_reset_link",
    ),
    # The token comes in the query string (?token=...), never in the path: see views.
    path("invitation/", accounts.accept_invitation_view, name="accept_invitation"),
    path("invitation/<str:token>/", accounts.old_invitation_link, name="old_invitation_link"),
]
