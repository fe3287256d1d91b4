"""Second factor for staff: a time-based one-time code (TOTP) from an authenticator app.

Physicians and clinic admins see patient data, so after their password they must enter a
code before any page but the two-factor pages and log out (enforced by
`StaffTwoFactorMiddleware`). django-otp does the cryptography, refuses a code that was already
used (each device remembers the last time step it accepted) and slows down guessing.

A staff member enrols once, and only through a single-use link emailed to their account
(screening/services/two_factor_links.py): a password alone never sets up a device. The secret being
enrolled lives only in that login's session, so nobody else can copy it; the device is
saved only when its first code is confirmed, and the person is emailed whenever a device
is enrolled. A new device needs a clinic admin to remove the old one, which emails a new link.

Unlike the other services these take the request: they keep the key being enrolled in the
session and mark the login verified (django-otp's otp_login), which no actor and address can.
"""

import base64
import io
import unicodedata

import qrcode
import qrcode.image.svg
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext
from django_otp import login as otp_login
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.util import random_hex

from .. import audit, tasks
from ..models import AuditAction, AuthenticatorSetupLink, User
from .two_factor_links import LINK_SESSION_KEY

DEVICE_NAME = "Authenticator app"
PENDING_KEY_SESSION_KEY = "two_factor_pending_key"
# django-otp doubles the wait after each wrong code without limit, so someone holding only
# the password could lock the real person out for days. Counting at most this many failures
# caps the wait at 2**(10-1) s, about 8.5 minutes: guessing one of the ~3 valid codes in a
# million still takes years.
MAX_COUNTED_FAILURES = 10


class CodeRefused(Exception):
    """The code was wrong, already used, or guessing is paused; the message says which."""


def needs_second_factor(user: User) -> bool:
    """Everyone who can reach patient data or the admin: physicians, clinic admins, superusers."""
    return user.is_authenticated and (user.is_staff or user.is_clinic_staff)


def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


def device_being_enrolled(request: HttpRequest) -> TOTPDevice:
    """An unsaved device for the set-up page. Its secret is kept in this session only, the
    same on reload (a person who scanned it is not left with a dead entry)."""
    key = request.session.get(PENDING_KEY_SESSION_KEY)
    if not key:
        key = random_hex(20)
        request.session[PENDING_KEY_SESSION_KEY] = key
    return TOTPDevice(user=request.user, name=DEVICE_NAME, key=key, confirmed=False)


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


def app_clock(device: TOTPDevice) -> TOTP:
    """The device's codes as the person's app computes them (without the server's drift)."""
    return TOTP(device.bin_key, device.step, device.t0, device.digits)


def code_shown(device: TOTPDevice, steps_ahead: int = 0) -> str:
    """The code the person's app shows now (or `steps_ahead` periods later)."""
    clock = app_clock(device)
    clock.time = clock.time + steps_ahead * device.step
    return f"{clock.token():0{device.digits}d}"


def device_for_typed_key(typed: str) -> TOTPDevice:
    """An unsaved device from a key as `secret_for_typing` shows it (spaces and all)."""
    secret = "".join(typed.split())
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return TOTPDevice(key=key.hex())


def digits_typed(code: str) -> str:
    """The typed code as ASCII digits, or "" when it is not one.

    Spaces are dropped ("123 456"), and decimal digits of any script are read as 0-9: a phone
    set to Arabic types ٤٢. Anything else, such as superscripts (²), which str.isdigit()
    accepts but int() refuses, makes it not a code.
    """
    code = "".join(code.split())
    if not all(unicodedata.category(character) == "Nd" for character in code):
        return ""
    return "".join(str(unicodedata.decimal(character)) for character in code)


def _check_code(device_id: int, code: str) -> TOTPDevice:
    """Verify `code` on one device, with its row locked so two requests cannot both spend the
    same code (django-otp remembers the last accepted time step and refuses it again)."""
    code = digits_typed(code)
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device_id)
        if device.throttling_failure_count > MAX_COUNTED_FAILURES:
            device.throttling_failure_count = MAX_COUNTED_FAILURES
        allowed, details = device.verify_is_allowed()
        # verify_token counts a failure on the device; raise only after the block commits it.
        accepted = allowed and len(code) == device.digits
        accepted = accepted and device.verify_token(code)
    if not allowed:
        raise CodeRefused(
            gettext(
                "Too many wrong codes. Wait until %(time)s UTC, then enter the code your app "
                "shows at that time."
            )
            % {"time": f"{details['locked_until']:%H:%M:%S}"}
        )
    if not accepted:
        raise CodeRefused(
            gettext(
                "That code is not right, or it was already used. Enter the code your app shows now."
            )
        )
    return device


def _mark_verified(request: HttpRequest, device: TOTPDevice) -> None:
    otp_login(request, device)
    # A new session key once verified: a session cookie planted before the code was typed
    # (session fixation) must not become a verified session.
    request.session.cycle_key()


def confirm_enrolment(
    request: HttpRequest, device: TOTPDevice, code: str, *, link: AuthenticatorSetupLink
) -> None:
    """Accept the first code from the device on the set-up page: save it as the second factor.
    `link` is the emailed set-up link this session opened; it is used up here."""
    user = request.user
    code = digits_typed(code)
    totp = app_clock(device)
    if not (len(code) == device.digits and totp.verify(int(code), 1)):
        audit.record(
            request=request, action=AuditAction.TWO_FACTOR_FAILED, summary="Set-up code refused"
        )
        raise CodeRefused(
            gettext(
                "That code is not right. Check the key in your app and enter the code it shows now."
            )
        )
    with transaction.atomic():
        # Lock the person: two set-up pages confirming at once must not both enrol.
        User.objects.select_for_update().get(pk=user.pk)
        if confirmed_device(user) is not None:
            raise CodeRefused(gettext("An authenticator app is already set up for this account."))
        # A second tab of the same session must not enrol a second device with the same link.
        if (
            AuthenticatorSetupLink.objects.filter(pk=link.pk, used_at__isnull=True).update(
                used_at=timezone.now()
            )
            != 1
        ):
            raise CodeRefused(gettext("This set-up link was already used. Ask for a new one."))
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device.confirmed = True
        device.last_t = totp.t()  # the code just typed cannot be used again to log in
        device.save()
    request.session.pop(PENDING_KEY_SESSION_KEY, None)
    request.session.pop(LINK_SESSION_KEY, None)
    _mark_verified(request, device)
    audit.record(request=request, action=AuditAction.TWO_FACTOR_ENROLLED, obj=device)
    # Sent by the worker, like every email: never inside the request.
    tasks.notify_two_factor_enrolled.enqueue(user_id=str(user.pk))


def verify_code(request: HttpRequest, code: str) -> None:
    """Check a code against the user's confirmed device and mark the session verified."""
    device = confirmed_device(request.user)
    try:
        if device is None:
            raise CodeRefused(gettext("No authenticator app is set up for this account."))
        device = _check_code(device.pk, code)
    except CodeRefused:
        audit.record(request=request, action=AuditAction.TWO_FACTOR_FAILED, summary="Code refused")
        raise
    _mark_verified(request, device)
    audit.record(request=request, action=AuditAction.TWO_FACTOR_VERIFIED, obj=device)
