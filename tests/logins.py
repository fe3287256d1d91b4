"""Logging test clients in the way each kind of user really gets in.

Staff must pass a second factor (TOTP) before any patient data is shown, so a staff client
is logged in *and* verified; patients only need their password."""

import time

from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from screening.services.two_factor import app_clock, device_for_typed_key
from screening.services.two_factor import code_shown as current_code


def authenticator_for(user) -> TOTPDevice:
    """The user's confirmed authenticator device, set up now if they have none."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device or TOTPDevice.objects.create(user=user, name="Test phone", confirmed=True)


def code_for_typed_key(typed: str, steps_ahead: int = 0) -> str:
    """What an authenticator app shows after the person types the key from the set-up page."""
    return current_code(device_for_typed_key(typed), steps_ahead)


def log_in_staff(client, user):
    """Log a physician or clinic admin in, as if they had also entered a valid TOTP code."""
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = authenticator_for(user).persistent_id
    session.save()
    return client


def log_in_staff_through_the_forms(client, user, password):
    """Password on the login page, then the authenticator code, as a person does it."""
    device = authenticator_for(user)
    client.post("/login/", {"username": user.email, "password": password})
    response = client.post("/account/two-factor/", {"code": current_code(device)})
    assert response.status_code == 302, "the second factor was refused"
    return client


def unused_code(user) -> str:
    """A code the user's device will still accept: codes work once, so a second login in the
    same 30 seconds uses the next period's code (the server accepts one period of drift)."""
    device = authenticator_for(user)
    device.refresh_from_db()
    totp = app_clock(device)
    steps_ahead = max(0, device.last_t + 1 - totp.t())
    if steps_ahead > 1:
        time.sleep((steps_ahead - 1) * device.step - (totp.time - device.t0) % device.step + 0.1)
        return unused_code(user)
    return current_code(device, steps_ahead)
