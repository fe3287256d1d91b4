"""The reads every request makes, prepared once per PostgreSQL connection
(screening/prepared.py); elsewhere run as written."""

import pytest
from django.db import connection

from screening import prepared

pytestmark = pytest.mark.django_db


def _run(sql: str, params: list) -> list:
    with connection.cursor() as cursor:
        cursor.execute(prepared.statement(connection, "test_prepared_sum", sql), params)
        return cursor.fetchall()


def test_the_statement_gives_the_same_rows_every_time():
    sql = "SELECT CAST(%s AS integer) + CAST(%s AS integer)"
    assert _run(sql, [1, 2]) == [(3,)]
    assert _run(sql, [40, 2]) == [(42,)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared only on PostgreSQL")
@pytest.mark.django_db(transaction=True)  # it closes the connection
def test_on_postgresql_it_is_prepared_once_per_connection(django_assert_num_queries):
    sql = "SELECT CAST(%s AS integer) + CAST(%s AS integer)"
    # Prepared on the driver's cursor the first time: one query either way, an EXECUTE.
    for _ in range(2):
        with django_assert_num_queries(1) as queries:
            assert _run(sql, [1, 2]) == [(3,)]
        assert queries.captured_queries[0]["sql"].startswith("EXECUTE test_prepared_sum(")
    # A new connection knows none of them: it prepares again.
    connection.close()
    assert _run(sql, [2, 2]) == [(4,)]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared only on PostgreSQL")
def test_a_rollback_does_not_lose_a_prepared_statement():
    from django.db import transaction

    class Undo(Exception):
        pass

    with pytest.raises(Undo), transaction.atomic():
        _run("SELECT CAST(%s AS integer) + CAST(%s AS integer)", [1, 1])
        raise Undo
    assert _run("SELECT CAST(%s AS integer) + CAST(%s AS integer)", [3, 4]) == [(7,)]


def test_elsewhere_the_sql_runs_as_written(monkeypatch):
    monkeypatch.setattr(connection, "vendor", "sqlite")
    assert prepared.statement(connection, "unused", "SELECT %s") == "SELECT %s"
