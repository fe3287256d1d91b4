"""The signed-in user of each request, read with whether they are clinic staff (in the same
statement as the session itself once this process knows the session's user), and their
permissions read in one query."""

from collections.abc import Callable
from contextvars import ContextVar

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.options import Options

from .. import prepared
from ..joined_reads import ON_POSTGRESQL, Extra, JoinedRead, prepare_value
from ..models import STAFF_GROUPS, User

# The session of the request whose user Django is reading, set around that read by
# ClinicAuthenticationMiddleware: the session's own read may have taken the user's row.
session_of_the_request: ContextVar[SessionBase | None] = ContextVar(
    "session_of_the_request", default=None
)


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
        session = session_of_the_request.get()
        user = getattr(session, "user_read_with_session", lambda pk: None)(pk)
        if user is None:
            found = USER_WITH_STAFF_FLAG.one([*STAFF_GROUPS, prepare_value(User, pk)])
            if found is None:
                return None
            user = user_from(found)
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj: User, obj: object = None) -> set[str]:
        """The ModelBackend's answer (cached on the user for the request, nothing for an
        inactive user or an object), with the user's own and their groups' permissions read
        in one query rather than two: every staff page checks a permission."""
        if (
            not user_obj.is_active
            or user_obj.is_anonymous
            or obj is not None
            or user_obj.is_superuser
            or hasattr(user_obj, "_perm_cache")
        ):
            return super().get_all_permissions(user_obj, obj)
        connection = connections[router.db_for_read(Permission)]
        user_id = User._meta.pk.get_db_prep_value(user_obj.pk, connection)
        with connection.cursor() as cursor:
            prepared.execute(
                cursor,
                "screening_permissions_read",
                _permissions_sql(connection),
                [user_id, user_id],
            )
            user_obj._perm_cache = {f"{app}.{codename}" for app, codename in cursor.fetchall()}
        return user_obj._perm_cache


def _is_clinic_staff_sql(quote: Callable[[str], str], alias_of: Callable[[str], str]) -> str:
    """Whether the user is in one of the staff groups (the group names are parameters)."""
    memberships = User.groups.through._meta
    group = Group._meta
    user_column = quote(memberships.get_field("user").column)
    group_column = quote(memberships.get_field("group").column)
    placeholders = ", ".join(["%s"] * len(STAFF_GROUPS))
    return (
        f"EXISTS (SELECT 1 FROM {quote(memberships.db_table)} m "  # noqa: S608
        f"JOIN {quote(group.db_table)} g ON g.{quote(group.pk.column)} = m.{group_column} "
        f"WHERE m.{user_column} = {alias_of('')}.{quote(User._meta.pk.column)} "
        f"AND g.{quote(group.get_field('name').column)} IN ({placeholders}))"
    )


def user_from(found: tuple[User, dict[str, object]]) -> User:
    """The user of a read with the staff flag and, on PostgreSQL, their permissions
    (USER_WITH_STAFF_FLAG, USER_WITH_SESSION): cached on the user for the request, as
    get_all_permissions caches them. A superuser has every permission, so theirs are not."""
    user, extras = found
    user.clinic_staff_as_read = bool(extras["clinic_staff_as_read"])
    permissions = extras["permissions"]
    if permissions is not None and not user.is_superuser:
        user._perm_cache = set(permissions)
    return user


def _permissions_array_sql(quote: Callable[[str], str], alias_of: Callable[[str], str]) -> str:
    """The user's permissions (what _permissions_sql reads) as one array of "app.codename",
    as Django names them (PostgreSQL)."""
    user_id = f"{alias_of('')}.{quote(User._meta.pk.column)}"
    each = _permissions_sql_for(quote, user_id, user_id)
    # Names from the models' metadata, quoted; the user is the row's own.
    return f"ARRAY(SELECT perm.app_label || '.' || perm.codename FROM ({each}) perm)"  # noqa: S608


def _user_read(name: str, *more: Extra) -> JoinedRead:
    """The user by id with whether they are clinic staff and, on PostgreSQL, their
    permissions, and `more`: every column named (a statement prepared with "u.*" would
    break on the first column a migration adds)."""
    return JoinedRead(
        name,
        User,
        (),
        where=lambda quote, alias_of: f"{alias_of('')}.{quote(User._meta.pk.column)} = %s",
        extras=(
            Extra("clinic_staff_as_read", _is_clinic_staff_sql),
            # On PostgreSQL the permissions come with the user: every staff page checks one.
            Extra("permissions", _permissions_array_sql, vendors=ON_POSTGRESQL),
            *more,
        ),
    )


USER_WITH_STAFF_FLAG = _user_read("screening_user_read")


def _session_data_sql(quote: Callable[[str], str], alias_of: Callable[[str], str]) -> str:
    """The session's data, when its key (a parameter) names a session not expired (the time
    is a parameter): NULL otherwise."""
    meta = Session._meta
    return (
        f"(SELECT s.{quote(meta.get_field('session_data').column)} "  # noqa: S608
        f"FROM {quote(meta.db_table)} s "
        f"WHERE s.{quote(meta.get_field('session_key').column)} = %s "
        f"AND s.{quote(meta.get_field('expire_date').column)} > %s)"
    )


# The user a session was signed in as, read with the session's data in one statement
# (screening/accounts/session_store.py): the user with the staff flag, and the session.
USER_WITH_SESSION = _user_read(
    "screening_user_with_session_read", Extra("session_data", _session_data_sql)
)


def _permissions_sql(connection: BaseDatabaseWrapper) -> str:
    """The app label and codename of every permission a user has, themselves or through a
    group (what ModelBackend reads in two queries); the user's id is given twice."""
    return _permissions_sql_for(connection.ops.quote_name, "%s", "%s")


def _permissions_sql_for(quote: Callable[[str], str], own_user: str, member: str) -> str:
    """_permissions_sql with the user given by the SQL `own_user` and `member`."""
    permission = Permission._meta
    content_type = ContentType._meta
    own = User.user_permissions.through._meta
    memberships = User.groups.through._meta
    granted = Group.permissions.through._meta

    def column(meta: Options, name: str) -> str:
        return quote(meta.get_field(name).column)

    return (
        f"SELECT ct.{column(content_type, 'app_label')} AS app_label, "  # noqa: S608
        f"p.{column(permission, 'codename')} AS codename "
        f"FROM {quote(permission.db_table)} p JOIN {quote(content_type.db_table)} ct "
        f"ON ct.{quote('id')} = p.{column(permission, 'content_type')} "
        f"WHERE p.{quote('id')} IN (SELECT o.{column(own, 'permission')} "
        f"FROM {quote(own.db_table)} o WHERE o.{column(own, 'user')} = {own_user}) "
        f"OR p.{quote('id')} IN (SELECT g.{column(granted, 'permission')} "
        f"FROM {quote(granted.db_table)} g JOIN {quote(memberships.db_table)} m "
        f"ON m.{column(memberships, 'group')} = g.{column(granted, 'group')} "
        f"WHERE m.{column(memberships, 'user')} = {member})"
    )
