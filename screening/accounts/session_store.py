"""Django's database sessions, read with one plain SQL statement, and with the signed-in user.

Every signed-in request starts by reading its session row, then its user. Building the
session's query with the ORM costs more than running it (about a millisecond on the
benchmark machine, `make bench`), so the read is written out once here; writing, expiry and
everything else are Django's own (django.contrib.sessions.backends.db), on the same table.

Once this process has read a session, it knows which user the session is signed in as, and
reads that user's row in the same statement as the session's next time (backends.py
USER_WITH_SESSION): one round trip fewer on every signed-in request. The row is used only
if the session read with it still names that user, so what Django checks next (the
account is active, the password hash in the session matches) is checked as before.
"""

from django.contrib.auth import BACKEND_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.core.exceptions import ValidationError
from django.db import connections, router
from django.utils import timezone

from .. import prepared
from ..joined_reads import prepare_value
from ..models import STAFF_GROUPS, User
from .backends import USER_WITH_SESSION, user_from

DJANGO_MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
CLINIC_MODEL_BACKEND = "screening.accounts.backends.ClinicModelBackend"

# The user each session key is signed in as, as this process last read it. A key names one
# user for its whole life: Django's login() gives the session a new key (or empties it for
# another user) and logout() empties it.
_signed_in_as: dict[str, str] = {}
# Users found gone (deleted) under a session that still names them: such a session is not
# remembered, as reading it with its user would find nobody on every request until it
# expires. (Remembering or not changes what a read costs, never who is signed in.)
_users_gone: set[str] = set()
# Then all are forgotten at once (about a megabyte): each costs one query more, once.
REMEMBERED_SESSIONS = 10_000


class SessionStore(DatabaseSessionStore):
    _user_read: User | None = None

    def load(self) -> dict:
        self._user_read = None
        user_id = _signed_in_as.get(self.session_key) if self.session_key else None
        user = None
        if user_id is not None:
            session_data, user = self._read_with_user(user_id)
            if session_data is not None and user is None:
                if len(_users_gone) >= REMEMBERED_SESSIONS:
                    _users_gone.clear()
                _users_gone.add(user_id)
        else:
            session_data = self._read()
        if session_data is None:
            # As Django's own: an unknown or expired key is dropped, and a new one is made
            # when the session is next saved.
            _signed_in_as.pop(self.session_key, None)
            self._session_key = None
            return {}
        data = self.decode(session_data)
        if data.get(BACKEND_SESSION_KEY) == DJANGO_MODEL_BACKEND:
            # Signed in through Django's ModelBackend, which ClinicModelBackend extends and
            # replaced (on an old server during an upgrade, say): the same password check,
            # so the same session. Migration 0027 renamed the stored ones.
            data[BACKEND_SESSION_KEY] = CLINIC_MODEL_BACKEND
        signed_in_as = data.get(SESSION_KEY)
        if isinstance(signed_in_as, str) and signed_in_as not in _users_gone:
            if len(_signed_in_as) >= REMEMBERED_SESSIONS:
                _signed_in_as.clear()
            _signed_in_as[self.session_key] = signed_in_as
            if user is not None and signed_in_as == user_id:
                self._user_read = user
        else:
            _signed_in_as.pop(self.session_key, None)
        return data

    def user_read_with_session(self, pk: object) -> User | None:
        """The user `pk`, when this session's read took their row (once: the user is read
        once a request)."""
        user, self._user_read = self._user_read, None
        return user if user is not None and user.pk == pk else None

    def _now(self) -> object:
        connection = connections[router.db_for_read(self.model)]
        return connection.ops.adapt_datetimefield_value(timezone.now())

    def _read(self) -> str | None:
        """The session's data, if the session exists and has not expired."""
        model = self.model
        connection = connections[router.db_for_read(model)]
        quote = connection.ops.quote_name
        # The table's name from the model, quoted; the key and the time are parameters.
        sql = (
            f"SELECT {quote('session_data')} FROM {quote(model._meta.db_table)} "  # noqa: S608
            f"WHERE {quote('session_key')} = %s AND {quote('expire_date')} > %s"
        )
        with connection.cursor() as cursor:
            prepared.execute(cursor, "screening_session_read", sql, [self.session_key, self._now()])
            row = cursor.fetchone()
        return None if row is None else row[0]

    def _read_with_user(self, user_id: str) -> tuple[str | None, User | None]:
        """The session's data and the user `user_id` with it, in one statement (the data
        alone when that user is gone)."""
        try:
            pk = User._meta.pk.to_python(user_id)
        except ValidationError:
            return self._read(), None
        found = USER_WITH_SESSION.one(
            [*STAFF_GROUPS, self.session_key, self._now(), prepare_value(User, pk)]
        )
        if found is None:
            return self._read(), None  # that user is gone
        session_data = found[1]["session_data"]
        return session_data, user_from(found) if session_data is not None else None
