"""The second factor pages: set up an authenticator app once (through the link emailed to
the account), then enter a code each login."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from ..client_address import client_ip
from ..services import two_factor, two_factor_links
from .forms import OneTimeCodeForm

# The page asked for before a set-up link was requested, kept for when the link comes back.
AFTER_SET_UP_SESSION_KEY = "two_factor_after_set_up"


def _next_url(request: HttpRequest) -> str:
    """Where to go after the code: the page the person asked for, if it is on this site.

    Only a path: redirect() would take any other word ("1 ") for a URL name and fail to
    reverse it (a 500)."""
    candidate = (
        request.POST.get("next")
        or request.GET.get("next")
        or request.session.get(AFTER_SET_UP_SESSION_KEY)
        or ""
    )
    if candidate.startswith("/") and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("home")


@login_required
@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest) -> HttpResponse:
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
def setup(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not two_factor.needs_second_factor(user) or user.is_verified():
        return redirect(_next_url(request))
    if two_factor.confirmed_device(user) is not None:
        # Already enrolled: a password alone must not be enough to add another device.
        return redirect_with_next("two_factor_verify", request)
    link = two_factor_links.setup_link_in_session(request)
    if link is None:
        # No trust on first use: the password alone shows no key and enrols nothing.
        return render(request, "accounts/two_factor_link_needed.html", {"next": _next_url(request)})
    device = two_factor.device_being_enrolled(request)
    form = OneTimeCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            two_factor.confirm_enrolment(request, device, form.cleaned_data["code"], link=link)
        except two_factor.CodeRefused as refused:
            form.add_error("code", str(refused))
        else:
            next_url = _next_url(request)
            request.session.pop(AFTER_SET_UP_SESSION_KEY, None)
            return redirect(next_url)
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


@require_GET
def open_setup_link(request: HttpRequest) -> HttpResponse:
    """The link from the email: swap its token for this session, then a token-free address.
    It works before or after logging in; the set-up page itself needs the password."""
    try:
        two_factor_links.open_setup_link(token=request.GET.get("token", ""), request=request)
    except two_factor_links.LinkNotUsable:
        return render(request, "accounts/two_factor_link_invalid.html", status=404)
    return redirect("two_factor_setup")


@login_required
@require_POST
def send_setup_link(request: HttpRequest) -> HttpResponse:
    """A staff member without an authenticator asks for a set-up link, sent to the account's
    own address (never one typed here)."""
    user = request.user
    if not two_factor.needs_second_factor(user) or user.is_verified():
        return redirect("home")
    if two_factor.confirmed_device(user) is not None:
        return redirect("two_factor_verify")
    if _next_url(request) != "home":
        request.session[AFTER_SET_UP_SESSION_KEY] = _next_url(request)
    try:
        two_factor_links.send_new_setup_link(user=user, ip_address=client_ip(request))
    except two_factor_links.TooSoonForANewLink:
        messages.info(
            request,
            "We emailed you a link a moment ago. Check your inbox (and spam folder), or ask "
            "again in a couple of minutes.",
        )
    else:
        messages.success(
            request, f"We emailed a set-up link to {user.email}. It works once, for 24 hours."
        )
    return redirect("two_factor_setup")


def redirect_with_next(url_name: str, request: HttpRequest) -> HttpResponse:
    next_url = _next_url(request)
    target = reverse(url_name)
    if next_url != reverse("home"):
        target += "?" + urlencode({"next": next_url})
    return redirect(target)
