"""Second factor for staff: a time-based one-time code (TOTP) from an authenticator app.

Physicians and clinic admins see patient data, so after their password they must enter a
code before any page but the two-factor pages and log out (enforced by
`StaffTwoFactorMiddleware`). django-otp does the cryptography, refuses a code that was already
used (each device remembers the last time step it accepted) and slows down guessing.

A staff member enrols once, with the password alone, on first login. After that a new device
can only be set up after a clinic admin removes the old one in the admin (so a stolen
password is not enough to enrol the thief's phone).
"""

import base64
import io

import qrcode
import qrcode.image.svg
from django.db import transaction
from django.utils.safestring import SafeString, mark_safe
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import audit

DEVICE_NAME = "Authenticator app"


def needs_second_factor(user) -> bool:
    """Everyone who can reach patient data or the admin: physicians, clinic admins, superusers."""
    return user.is_authenticated and (user.is_staff or user.is_clinic_staff)


def confirmed_device(user) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


def device_being_enrolled(user) -> TOTPDevice:
    """The unconfirmed device shown on the set-up page; the same secret until it is confirmed."""
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def secret_for_typing(device: TOTPDevice) -> str:
    """The base32 secret in groups of four, for people who type it instead of scanning."""
    secret = base64.b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_code_svg(device: TOTPDevice) -> SafeString:
    """The otpauth:// link as an inline SVG (no image request, nothing sent to a third party)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    svg = buffer.getvalue().decode("utf-8")
    # Drop the XML declaration: the SVG is embedded in the page. It holds only path data built
    # by qrcode from our own URL, so it is safe to insert as markup.
    return mark_safe(svg[svg.index("<svg") :])  # noqa: S308


class CodeRefused(Exception):
    """The code was wrong, already used, or guessing is paused; the message says which."""


def _check_code(device_id, code: str) -> TOTPDevice:
    """Verify `code` on one device, with its row locked so two requests cannot both spend the
    same code (django-otp remembers the last accepted time step and refuses it again)."""
    code = "".join(code.split())
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device_id)
        allowed, _ = device.verify_is_allowed()
        # verify_token counts a failure on the device; raise only after the block commits it.
        accepted = allowed and code.isdigit() and len(code) == device.digits
        accepted = accepted and device.verify_token(code)
    if not allowed:
        raise CodeRefused(
            "Too many wrong codes. Wait a minute, then enter the code your app shows now."
        )
    if not accepted:
        raise CodeRefused(
            "That code is not right, or it was already used. Enter the code your app shows now."
        )
    return device


def confirm_enrolment(request, device: TOTPDevice, code: str) -> None:
    """Accept the first code from a new device: it becomes the user's second factor."""
    try:
        device = _check_code(device.pk, code)
    except CodeRefused:
        audit.record(request=request, action="two_factor.failed", summary="Set-up code refused")
        raise
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    otp_login(request, device)
    audit.record(request=request, action="two_factor.enrolled", obj=device)


def verify_code(request, code: str) -> None:
    """Check a code against the user's confirmed device and mark the session verified."""
    device = confirmed_device(request.user)
    try:
        if device is None:
            raise CodeRefused("No authenticator app is set up for this account.")
        device = _check_code(device.pk, code)
    except CodeRefused:
        audit.record(request=request, action="two_factor.failed", summary="Code refused")
        raise
    otp_login(request, device)
    audit.record(request=request, action="two_factor.verified", obj=device)
