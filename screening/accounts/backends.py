"""The signed-in user of each request, read with whether they are clinic staff."""

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError
from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper

from ..models import STAFF_GROUPS, User


class ClinicModelBackend(ModelBackend):
    """Django's ModelBackend, but the user of each request is read in one query that also
    says whether they are a physician, nurse or clinic admin (`User.is_clinic_staff`).
    Every signed-in page asks that (the staff second factor, the session's time limits),
    which took a second query on every request; the statement is plain SQL because building
    it with the ORM costs more than running it. Signing in is the ModelBackend's own."""

    def get_user(self, user_id: object) -> User | None:
        try:
            pk = User._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        connection = connections[router.db_for_read(User)]
        users = list(
            User.objects.raw(
                _user_with_staff_flag_sql(connection),
                [*STAFF_GROUPS, User._meta.pk.get_db_prep_value(pk, connection)],
            )
        )
        if not users:
            return None
        user = users[0]
        user.clinic_staff_as_read = bool(user.clinic_staff_as_read)
        return user if self.user_can_authenticate(user) else None


def _user_with_staff_flag_sql(connection: BaseDatabaseWrapper) -> str:
    # Names from the models' own metadata, quoted; every value is a query parameter.
    quote = connection.ops.quote_name
    memberships = User.groups.through._meta
    group = User.groups.field.related_model._meta
    user_column = memberships.get_field("user").column
    group_column = memberships.get_field("group").column
    placeholders = ", ".join(["%s"] * len(STAFF_GROUPS))
    return (
        f"SELECT u.*, EXISTS (SELECT 1 FROM {quote(memberships.db_table)} m "  # noqa: S608
        f"JOIN {quote(group.db_table)} g ON g.{quote('id')} = m.{quote(group_column)} "
        f"WHERE m.{quote(user_column)} = u.{quote('id')} AND g.{quote('name')} IN ({placeholders})"
        f") AS clinic_staff_as_read FROM {quote(User._meta.db_table)} u "
        f"WHERE u.{quote('id')} = %s"
    )
