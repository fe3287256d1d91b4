"""Sessions signed in before the clinic's authentication backend replaced Django's
ModelBackend name the old one, which is no longer in AUTHENTICATION_BACKENDS: Django would
treat them as signed out, and a patient who saved a page just after the upgrade would land
on the login page with what they typed lost. This names the new backend in every stored
session that names the old one, so everyone stays signed in across the upgrade (and back
again if it is reversed)."""

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.core import signing
from django.db import migrations
from django.utils import timezone

DJANGO_BACKEND = "django.contrib.auth.backends.ModelBackend"
CLINIC_BACKEND = "screening.accounts.backends.ClinicModelBackend"


def _rename(apps, schema_editor, old: str, new: str) -> None:
    from django.contrib.sessions.backends.db import SessionStore

    Session = apps.get_model("sessions", "Session")
    store = SessionStore()
    alias = schema_editor.connection.alias
    live = Session.objects.using(alias).filter(expire_date__gt=timezone.now())
    for session in live.iterator():
        try:
            data = store.decode(session.session_data)
        except signing.BadSignature:  # pragma: no cover - decode() itself returns {} on these
            continue
        if data.get(BACKEND_SESSION_KEY) != old:
            continue
        data[BACKEND_SESSION_KEY] = new
        # Only if nobody wrote the session since it was read (a server still running the
        # old code stamps it on each request): a newer write is not undone. The session
        # store reads the old name as the new one anyway (accounts/session_store.py).
        Session.objects.using(alias).filter(
            pk=session.pk, session_data=session.session_data
        ).update(session_data=store.encode(data))


def forwards(apps, schema_editor):
    if settings.SESSION_ENGINE.endswith(("signed_cookies", "cache")):
        return  # nothing stored in the table
    _rename(apps, schema_editor, DJANGO_BACKEND, CLINIC_BACKEND)


def backwards(apps, schema_editor):
    if settings.SESSION_ENGINE.endswith(("signed_cookies", "cache")):
        return
    _rename(apps, schema_editor, CLINIC_BACKEND, DJANGO_BACKEND)


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0026_set_aside_check_ins"),
        ("sessions", "0001_initial"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
