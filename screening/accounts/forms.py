"""The forms everyone passes through: log in, set a password, a one-time code, reset."""

from django import forms
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, UsernameField
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from ..client_address import client_ip
from ..services.password_reset import request_password_reset

# Shown once the invitation's form has set the password and signed the patient in.
ACCOUNT_READY = _("Your account is ready. You can start your questionnaire now.")


class SetPasswordForm(forms.Form):
    """Set the password of a new patient account; Django's validators decide what is strong enough."""

    password1 = forms.CharField(
        label=_("Choose a password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_(
            "At least 12 characters. A few unrelated words make a strong, memorable password."
        ),
    )
    password2 = forms.CharField(
        label=_("Type the password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def __init__(self, *args, user=None, **kwargs) -> None:
        self.user = user
        super().__init__(*args, **kwargs)

    def clean_password2(self):
        first = self.cleaned_data.get("password1")
        second = self.cleaned_data.get("password2")
        if first and second and first != second:
            raise ValidationError(gettext("The two passwords are different."))
        if second:
            password_validation.validate_password(second, self.user)
        return second


def login_username(request: HttpRequest, credentials) -> str:
    """The email django-axes counts failures against, in the same case accounts are stored."""
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    return str(username).strip().lower()


class EmailLoginForm(AuthenticationForm):
    """Django's login form, labelled for email addresses, with one message for every failure."""

    username = UsernameField(
        label=_("Email address"),
        # Enforced, not just the HTML maxlength Django's form sets: a longer name would reach
        # django-axes, whose 255-character column refuses it on PostgreSQL (a 500).
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )

    def clean_username(self):
        # Accounts are stored in lower case; phones like to capitalise the first letter.
        return self.cleaned_data["username"].strip().lower()

    error_messages = {
        "invalid_login": _(
            "That email address and password do not match an account. Please try again."
        ),
        "inactive": _("That email address and password do not match an account. Please try again."),
    }


class OneTimeCodeForm(forms.Form):
    """The six-digit code from an authenticator app."""

    code = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "numeric",
                "autofocus": True,
            }
        ),
        help_text=_("Six digits. A new code appears every 30 seconds."),
        error_messages={"required": _("Enter the six-digit code your authenticator app shows.")},
    )


class PasswordResetRequestForm(PasswordResetForm):
    """Django's "forgot password" form, whose save only queues the email (rate-limited).

    Django's own save looks the account up and sends mail inside the request, so the
    response time told whether the address had an account.
    """

    def save(self, *, request: HttpRequest | None = None, **unused_options) -> None:
        request_password_reset(email=self.cleaned_data["email"], ip_address=client_ip(request))
