"""Top-level URLs: accounts, the admin, and the screening app."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from screening.forms import EmailLoginForm
from screening.views import two_factor

admin.site.site_header = "Clinic screening administration"
admin.site.site_title = "Clinic screening admin"

urlpatterns = [
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
    # Password reset: the same "check your email" page whether or not the address has an account.
    path(
        "account/password-reset/",
        auth_views.PasswordResetView.as_view(
            template_name="accounts/password_reset_form.html",
            email_template_name="email/password_reset.txt",
            subject_template_name="email/password_reset_subject.txt",
            extra_email_context={"clinic_name": settings.CLINIC_NAME},
        ),
        name="password_reset",
    ),
    path(
        "account/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "account/password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="accounts/password_reset_confirm.html"
        ),
        name="password_reset_confirm",
    ),
    path(
        "account/password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path("admin/", admin.site.urls),
    path("", include("screening.urls")),
]
