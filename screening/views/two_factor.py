"""The second factor pages: set up an authenticator app once, then enter a code each login."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods

from .. import two_factor
from ..forms import OneTimeCodeForm


def _next_url(request) -> str:
    """Where to go after the code: the page the person asked for, if it is on this site.

    Only a path: redirect() would take any other word ("1 ") for a URL name and fail to
    reverse it (a 500)."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("home")


@login_required
@require_http_methods(["GET", "POST"])
def verify(request):
    user = request.user
    if not two_factor.needs_second_factor(user) or user.is_verified():
        return redirect(_next_url(request))
    if two_factor.confirmed_device(user) is None:
        return redirect_with_next("two_factor_setup", request)
    form = OneTimeCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            two_factor.verify_code(request, form.cleaned_data["code"])
        except two_factor.CodeRefused as refused:
            form.add_error("code", str(refused))
        else:
            return redirect(_next_url(request))
    return render(
        request, "accounts/two_factor_verify.html", {"form": form, "next": _next_url(request)}
    )


@login_required
@require_http_methods(["GET", "POST"])
def setup(request):
    user = request.user
    if not two_factor.needs_second_factor(user) or user.is_verified():
        return redirect(_next_url(request))
    if two_factor.confirmed_device(user) is not None:
        # Already enrolled: a password alone must not be enough to add another device.
        return redirect_with_next("two_factor_verify", request)
    device = two_factor.device_being_enrolled(request)
    form = OneTimeCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            two_factor.confirm_enrolment(request, device, form.cleaned_data["code"])
        except two_factor.CodeRefused as refused:
            form.add_error("code", str(refused))
        else:
            return redirect(_next_url(request))
    return render(
        request,
        "accounts/two_factor_setup.html",
        {
            "form": form,
            "next": _next_url(request),
            "qr_code_svg": two_factor.qr_code_svg(device),
            "secret": two_factor.secret_for_typing(device),
        },
    )


def redirect_with_next(url_name: str, request):
    next_url = _next_url(request)
    target = reverse(url_name)
    if next_url != reverse("home"):
        target += "?" + urlencode({"next": next_url})
    return redirect(target)
