"""Statements run on nearly every request, prepared once per PostgreSQL connection.

PostgreSQL plans every statement it is sent. For the reads every page starts with (the
session, the user, a patient's screening, its answers, a staff member's permissions)
planning cost more than running: the patient's screening, a join of seven tables, took
1.0 ms to plan and 0.15 ms to run on the benchmark machine, and 0.4 ms in all once
prepared. So on PostgreSQL each is sent once per connection as PREPARE and then run with
EXECUTE. A prepared statement lasts as long as its connection (a ROLLBACK does not undo
it); a new connection prepares again. The writes of a wizard page's save are run the same
way (screening/page_writes.py).

SQL-level PREPARE needs the same server connection from one request to the next: set
PREPARED_STATEMENTS=False behind a pooler that hands out connections per transaction
(PgBouncer's transaction mode). Other databases run the statement as written.
"""

import functools
import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

import psycopg2.errors
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models import QuerySet

P = ParamSpec("P")
R = TypeVar("R")
_PLACEHOLDER = re.compile("%s")
# What PostgreSQL says when a prepared statement no longer fits its connection: it is gone
# (a connection replaced under us), or a migration changed a table it reads ("cached plan
# must not change result type"). Prepared again, the statement runs.
# A function a statement calls that a migration dropped is the same story.
_STALE = (
    psycopg2.errors.InvalidSqlStatementName,
    psycopg2.errors.FeatureNotSupported,
    psycopg2.errors.UndefinedFunction,
)


def execute(cursor: CursorWrapper, name: str, sql: str, params: Sequence[object]) -> None:
    """Run `sql` (placeholders %s) with `params` on Django's `cursor`: on PostgreSQL as
    EXECUTE of the statement prepared for `name` on this connection, preparing it first if
    this connection has not. Django's cursor has already checked the connection's health
    (CONN_HEALTH_CHECKS) and reconnected if it had to, so the statement is prepared on the
    connection the read runs on.

    A stale statement (see _STALE) is forgotten. Outside a transaction it is prepared again
    and run once more: the EXECUTE that failed did nothing. Inside one, the error stands
    (the transaction is lost) and the next use prepares it afresh: a transaction that runs
    prepared statements (a wizard page's save, screening/page_writes.py; the audit log's
    append) is made once more by `once_more_if_stale`."""
    connection = cursor.db
    if connection.vendor != "postgresql" or not settings.PREPARED_STATEMENTS:
        cursor.execute(sql, params)
        return
    prepared_as = _prepared(connection)
    if name not in prepared_as:
        prepared_as[name] = _prepare(cursor, name, sql)
    try:
        cursor.execute(_execute_sql(prepared_as[name], sql), params)
    except DatabaseError as error:
        if not is_stale(error):
            raise
        # One stale statement means the schema changed (or the server forgot them all):
        # every statement is prepared afresh at its next use, under a new name (a stale
        # one may still exist, and a DEALLOCATE inside a transaction could fail it). So a
        # transaction made once more (once_more_if_stale) finds none of them stale.
        prepared_as.clear()
        facts(connection).clear()
        if not connection.get_autocommit():
            raise  # inside a transaction the failed EXECUTE lost it: the error stands
        # Outside one, the failed EXECUTE spoiled nothing: run it again, prepared afresh.
        prepared_as[name] = _prepare(cursor, name, sql)
        cursor.execute(_execute_sql(prepared_as[name], sql), params)


def once_more_if_stale(transaction_function: Callable[P, R]) -> Callable[P, R]:
    """Run `transaction_function`, a whole transaction, once more if it failed because a
    statement it ran had gone stale (a deploy migrated a table while this connection kept
    its statement): the failed attempt was rolled back, and the second prepares afresh.
    Only when it is the outermost transaction; inside a caller's, the error stands."""

    @functools.wraps(transaction_function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        outermost = not connections[DEFAULT_DB_ALIAS].in_atomic_block
        try:
            return transaction_function(*args, **kwargs)
        except DatabaseError as error:
            if not (outermost and is_stale(error)):
                raise
        return transaction_function(*args, **kwargs)

    return run


def is_stale(error: DatabaseError) -> bool:
    """Whether `error` is a prepared statement gone stale (`execute` forgot it, so the next
    use prepares it afresh)."""
    return isinstance(error.__cause__, _STALE)


def _prepared(connection: BaseDatabaseWrapper) -> dict[str, str]:
    """What each statement is prepared as on the connection open now (a new connection
    starts with none)."""
    return _known(connection).prepared_as


def facts(connection: BaseDatabaseWrapper) -> dict[str, object]:
    """What the app found out about the database on the connection open now (whether a
    function exists, say): forgotten with the prepared statements when one goes stale."""
    return _known(connection).facts


def ask(connection: BaseDatabaseWrapper, sql: str) -> object:
    """The one value `sql` gives, asked on the driver's own cursor: a question about the
    database, not a query of the request (the counts the tests assert do not depend on
    which test opened the connection)."""
    connection.ensure_connection()
    with connection.wrap_database_errors, connection.connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


@dataclass
class _OnThisConnection:
    """What one server connection holds: the statements prepared on it (by name, as the
    name each was prepared as), the numbers those names take, and what was asked of it."""

    raw: object
    prepared_as: dict[str, str] = field(default_factory=dict)
    numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    facts: dict[str, object] = field(default_factory=dict)


def _known(connection: BaseDatabaseWrapper) -> _OnThisConnection:
    """The state of the server connection open now (a new connection starts afresh)."""
    connection.ensure_connection()
    known = getattr(connection, "_prepared_statements", None)
    if known is None or known.raw is not connection.connection:
        known = _OnThisConnection(connection.connection)
        connection._prepared_statements = known
    return known


def _prepare(cursor: CursorWrapper, name: str, sql: str) -> str:
    """Prepare `sql` on the cursor's connection; the name it was prepared as."""
    prepared_as = f"{name}_{next(_known(cursor.db).numbers)}"
    numbered = iter(range(1, sql.count("%s") + 1))
    # On the driver's own cursor: preparing is how the read is run, not a query of its own
    # (the query counts the tests assert do not depend on which test ran first); errors
    # still become Django's.
    with cursor.db.wrap_database_errors:
        cursor.cursor.execute(
            f"PREPARE {prepared_as} AS " + _PLACEHOLDER.sub(lambda _: f"${next(numbered)}", sql)
        )
    return prepared_as


def _execute_sql(name: str, sql: str) -> str:
    count = sql.count("%s")
    return f"EXECUTE {name}({', '.join(['%s'] * count)})" if count else f"EXECUTE {name}"


class ConstantRead:
    """A read the ORM writes that never changes, not even its parameters (the queue's first
    page, its notices): its SQL is built once per connection, not on every request, and run
    prepared.

    `build` returns the queryset (a values_list: rows come back as tuples, each value passed
    through its field's converters as the queryset would). The SQL and the converters are
    kept on the connection they were made for: the converters belong to that connection's
    backend, and each thread has its own.
    """

    def __init__(self, name: str, build: Callable[[], QuerySet]) -> None:
        self.name = name
        self.build = build

    def rows(self, using: str = "default") -> list[tuple]:
        connection = connections[using]
        known = connection.__dict__.setdefault("_constant_reads", {})
        if self.name not in known:
            compiler = self.build().query.get_compiler(using=using)
            sql, params = compiler.as_sql()
            fields = [selected[0] for selected in compiler.select[: compiler.col_count]]
            known[self.name] = (sql, params, compiler, compiler.get_converters(fields))
        sql, params, compiler, converters = known[self.name]
        with connection.cursor() as cursor:
            execute(cursor, self.name, sql, params)
            rows = cursor.fetchall()
        if converters:
            rows = compiler.apply_converters(rows, converters)
        # Only the columns asked for (the ORM may select more to order by).
        return [tuple(row[: compiler.col_count]) for row in rows]
