"""Signed-in sessions for the benchmarks, made directly in the session store.

Logging in through the forms would mean passwords (Argon2, slow on purpose) and, for staff,
a one-time code for every session; the benchmarks measure the pages behind the login, so
they write the session a real login would leave: the user, the backend and the password
hash's HMAC (django.contrib.auth), the second factor (django-otp's `otp_device_id`, a
confirmed TOTP device of the user) and the time stamps SessionTimeoutMiddleware checks.
`started_at` and `last_seen` are now, so a session is good for the staff idle limit (15 min)
at least, and requests touch `last_seen` every 30 s while a run lasts.
"""

import time

from django.apps import apps
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore

MODEL_BACKEND = "screening.accounts.backends.ClinicModelBackend"


def verified_device_id(user) -> str | None:
    """A confirmed TOTP device's persistent id (set up now if the user has none), when
    django-otp is installed."""
    if not apps.is_installed("django_otp.plugins.otp_totp"):
        return None
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Bench authenticator", confirmed=True)
    return device.persistent_id


def signed_in_session(user, *, staff: bool) -> str:
    """Create a session for `user` (second factor verified for staff); returns its key.

    Call it under the SECRET_KEY of the server that will read the session: the session data
    and the password hash's HMAC are both signed with it.
    """
    session = SessionStore()
    session[SESSION_KEY] = user._meta.pk.value_to_string(user)
    session[BACKEND_SESSION_KEY] = MODEL_BACKEND
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    now = int(time.time())
    session["started_at"] = now
    session["last_seen"] = now
    session["staff_session"] = staff
    if staff:
        device_id = verified_device_id(user)
        if device_id is not None:
            from django_otp import DEVICE_ID_SESSION_KEY

            session[DEVICE_ID_SESSION_KEY] = device_id
    session.create()
    return session.session_key
