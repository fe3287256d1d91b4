"""Django's database sessions, read with one plain SQL statement.

Every signed-in request starts by reading its session row. Building that query with the
ORM costs more than running it (about a millisecond on the benchmark machine, `make bench`),
so the read is written out once here; writing, expiry and everything else are Django's own
(django.contrib.sessions.backends.db), on the same table.
"""

from django.contrib.auth import BACKEND_SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import connections, router
from django.utils import timezone

from .. import prepared

DJANGO_MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
CLINIC_MODEL_BACKEND = "screening.accounts.backends.ClinicModelBackend"


class SessionStore(DatabaseSessionStore):
    def load(self) -> dict:
        model = self.model
        connection = connections[router.db_for_read(model)]
        quote = connection.ops.quote_name
        # The table's name from the model, quoted; the key and the time are parameters.
        sql = (
            f"SELECT {quote('session_data')} FROM {quote(model._meta.db_table)} "  # noqa: S608
            f"WHERE {quote('session_key')} = %s AND {quote('expire_date')} > %s"
        )
        with connection.cursor() as cursor:
            prepared.execute(
                cursor,
                "screening_session_read",
                sql,
                [self.session_key, connection.ops.adapt_datetimefield_value(timezone.now())],
            )
            row = cursor.fetchone()
        if row is None:
            # As Django's own: an unknown or expired key is dropped, and a new one is made
            # when the session is next saved.
            self._session_key = None
            return {}
        data = self.decode(row[0])
        if data.get(BACKEND_SESSION_KEY) == DJANGO_MODEL_BACKEND:
            # Signed in through Django's ModelBackend, which ClinicModelBackend extends and
            # replaced (on an old server during an upgrade, say): the same password check,
            # so the same session. Migration 0027 renamed the stored ones.
            data[BACKEND_SESSION_KEY] = CLINIC_MODEL_BACKEND
        return data
