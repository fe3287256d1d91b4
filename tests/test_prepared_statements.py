"""The reads every request makes, prepared once per PostgreSQL connection
(screening/prepared.py); elsewhere, or with PREPARED_STATEMENTS off, run as written."""

import psycopg2
import pytest
from django.db import connection, transaction

from screening import prepared
from screening.accounts.session_store import SessionStore

pytestmark = pytest.mark.django_db
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="prepared only on PostgreSQL"
)
SUM = "SELECT CAST(%s AS integer) + CAST(%s AS integer)"


def _run(sql: str, params: list, name: str = "test_prepared_sum") -> list:
    with connection.cursor() as cursor:
        prepared.execute(cursor, name, sql, params)
        return cursor.fetchall()


def _from_another_connection(sql: str, params: list) -> None:
    other = psycopg2.connect(**connection.get_connection_params())
    try:
        with other, other.cursor() as cursor:
            cursor.execute(sql, params)
    finally:
        other.close()


def test_the_statement_gives_the_same_rows_every_time():
    assert _run(SUM, [1, 2]) == [(3,)]
    assert _run(SUM, [40, 2]) == [(42,)]


@on_postgresql
@pytest.mark.django_db(transaction=True)  # it closes the connection
def test_on_postgresql_it_is_prepared_once_per_connection(django_assert_num_queries):
    # Prepared on the driver's cursor the first time: one query either way, an EXECUTE.
    for _ in range(2):
        with django_assert_num_queries(1) as queries:
            assert _run(SUM, [1, 2]) == [(3,)]
        assert queries.captured_queries[0]["sql"].startswith("EXECUTE test_prepared_sum_")
    # A new connection knows none of them: it prepares again.
    connection.close()
    assert _run(SUM, [2, 2]) == [(4,)]


@on_postgresql
def test_a_rollback_does_not_lose_a_prepared_statement():
    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        _run(SUM, [1, 1])
        raise Undo
    assert _run(SUM, [3, 4]) == [(7,)]


@on_postgresql
@pytest.mark.django_db(transaction=True)  # the server drops the connection
def test_after_the_server_drops_the_connection_the_next_request_still_reads_its_session(
    monkeypatch,
):
    """With CONN_HEALTH_CHECKS (production's setting), the first query of a request finds a
    connection the server dropped (a restart, a failover) and opens a new one: the session
    is read on that one, not refused because the new connection lacks the statement."""
    store = SessionStore()
    store["kept"] = "yes"
    store.create()
    assert SessionStore(store.session_key)["kept"] == "yes"  # prepared on this connection
    _from_another_connection(
        "SELECT pg_terminate_backend(%s)", [connection.connection.get_backend_pid()]
    )
    monkeypatch.setattr(connection, "health_check_enabled", True)
    connection.health_check_done = False  # as at the start of every request
    assert SessionStore(store.session_key)["kept"] == "yes"


@on_postgresql
@pytest.mark.django_db(transaction=True)  # it changes a table under a prepared statement
def test_a_migration_that_changes_a_column_read_does_not_break_the_read():
    """A deploy migrates while the old workers still serve: a column type changed under a
    prepared statement ("cached plan must not change result type") is prepared again."""
    _from_another_connection("CREATE TABLE test_prepared_names (name varchar(10))", [])
    try:
        _from_another_connection("INSERT INTO test_prepared_names VALUES ('Ann')", [])
        read = "SELECT name FROM test_prepared_names WHERE name = %s"
        assert _run(read, ["Ann"], name="test_prepared_names_read") == [("Ann",)]
        _from_another_connection(
            "ALTER TABLE test_prepared_names ALTER COLUMN name TYPE varchar(200)", []
        )
        assert _run(read, ["Ann"], name="test_prepared_names_read") == [("Ann",)]
    finally:
        connection.close()  # its statements read the table dropped below
        _from_another_connection("DROP TABLE test_prepared_names", [])


@on_postgresql
@pytest.mark.django_db(transaction=True)  # it changes a table under a prepared statement
def test_inside_a_transaction_a_stale_statement_fails_once_then_is_prepared_afresh():
    """Inside a transaction the failed EXECUTE loses the transaction, so the error stands;
    the next use, in another transaction, prepares the statement again rather than failing
    on that connection until a read happens to run outside one."""
    from django.db import DatabaseError

    _from_another_connection("CREATE TABLE test_prepared_codes (code varchar(10))", [])
    try:
        _from_another_connection("INSERT INTO test_prepared_codes VALUES ('a')", [])
        read = "SELECT code FROM test_prepared_codes WHERE code = %s"
        assert _run(read, ["a"], name="test_prepared_codes_read") == [("a",)]
        _from_another_connection(
            "ALTER TABLE test_prepared_codes ALTER COLUMN code TYPE varchar(65)", []
        )
        with pytest.raises(DatabaseError), transaction.atomic():
            _run(read, ["a"], name="test_prepared_codes_read")
        with transaction.atomic():
            assert _run(read, ["a"], name="test_prepared_codes_read") == [("a",)]
    finally:
        connection.close()
        _from_another_connection("DROP TABLE test_prepared_codes", [])


@on_postgresql
def test_errors_from_preparing_are_djangos_database_errors():
    from django.db import DatabaseError

    with pytest.raises(DatabaseError):
        _run("SELECT * FROM no_such_table WHERE id = %s", [1], name="test_prepared_broken")


def test_with_prepared_statements_off_the_sql_runs_as_written(settings, django_assert_num_queries):
    settings.PREPARED_STATEMENTS = False
    with django_assert_num_queries(1) as queries:
        assert _run(SUM, [1, 2], name="test_prepared_off") == [(3,)]
    assert queries.captured_queries[0]["sql"].startswith("SELECT CAST(")


def test_a_constant_read_gives_the_rows_the_orm_gives_converted_as_the_orm_converts(
    default_version,
):
    from screening.models import Screening
    from tests.factories import make_submitted_screening

    def screenings():
        return Screening.objects.values_list("id", "submitted_at", "previous_id", "level").order_by(
            "submitted_at", "id"
        )

    read = prepared.ConstantRead("test_constant_screenings", screenings)
    make_submitted_screening(level="urgent", minutes_ago=5)
    assert read.rows() == list(screenings()) != []
    # Only the SQL is kept: the rows are read afresh every time.
    make_submitted_screening(level="caution", minutes_ago=1)
    assert read.rows() == list(screenings())
    assert len(read.rows()) == 2
