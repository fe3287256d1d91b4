"""The statements a wizard page's save runs on every save, written out as SQL once and
prepared once per PostgreSQL connection (screening/prepared.py), as the reads that open
the page are (screening/patient_reads.py).

Built by the ORM on every request, the screening's UPDATE, the answers' upsert and the
page's completion took longer to put together than to run (in process, written out and
prepared, the PHQ-9 page's save took about a quarter less of the worker's CPU).
services/intake.save_page decides what is written, in its one transaction; these only
write it. The rarer writes of a save (another save came in between, a page made
incomplete, a draft to discard) stay the ORM's.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from functools import cache

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper

from . import prepared
from .models import Answer, CompletedSection, PageDraft, Screening


def touch_unless_changed(
    *,
    screening_id: uuid.UUID,
    section_code: str,
    as_of: datetime.datetime,
    now: datetime.datetime,
    language: str | None,
) -> bool:
    """Move the screening's `updated_at` on to `now` (and set its `language`, if given),
    only if it is still in progress, nobody saved since it was read (`updated_at` is still
    `as_of`) and the page `section_code` keeps no draft. True when it did (and so holds the
    row's lock until the transaction ends); False changes nothing."""
    connection = connections[router.db_for_write(Screening)]
    sql = _statement(connection, _touch_sql)
    field = Screening._meta.get_field("updated_at")
    params = [
        field.get_db_prep_value(now, connection),
        language,
        _key(screening_id, connection),
        *Screening.EDITABLE_STATUSES,
        field.get_db_prep_value(as_of, connection),
        _key(screening_id, connection),
        section_code,
    ]
    with connection.cursor() as cursor:
        prepared.execute(cursor, "screening_page_touch", sql, params)
        return cursor.rowcount == 1


def upsert_answers(
    *, screening_id: uuid.UUID, values: dict[int, object], now: datetime.datetime
) -> None:
    """Store `values` (by question id) as the screening's answers, updated at `now`: one
    statement, a new answer inserted, an existing one replaced."""
    connection = connections[router.db_for_write(Answer)]
    if connection.vendor != "postgresql":
        # The statement below unnests arrays, which only PostgreSQL has: the ORM's upsert.
        Answer.objects.bulk_create(
            [
                Answer(screening_id=screening_id, question_id=id_, value=value, updated_at=now)
                for id_, value in values.items()
            ],
            update_conflicts=True,
            unique_fields=["screening", "question"],
            update_fields=["value", "updated_at"],
        )
        return
    if not values:
        return
    sql = _statement(connection, _upsert_sql)
    value_field = Answer._meta.get_field("value")
    params = [
        _key(screening_id, connection),
        Answer._meta.get_field("updated_at").get_db_prep_value(now, connection),
        list(values),
        # As the ORM saves them: a blank answer (None) is SQL NULL, not JSON null.
        [value_field.get_db_prep_save(value, connection) for value in values.values()],
    ]
    with connection.cursor() as cursor:
        prepared.execute(cursor, "screening_answers_write", sql, params)


def mark_complete(
    *,
    screening_id: uuid.UUID,
    section_id: int,
    section_code: str,
    now: datetime.datetime,
    draft_seen: bool,
) -> None:
    """Record the page `section_id` as complete at `now`, unless it already is, and discard
    what was kept of the page `section_code` when a session ended: the saved answers
    supersede it.

    On PostgreSQL the page's drafts go in the same statement, the save's last: a draft the
    idle script kept while the save ran, after its UPDATE found none, is gone too (one kept
    after this statement outlives the save, as it always did). Elsewhere writers take turns
    (SQLite), so no draft can appear once the save's UPDATE has run: they are deleted only
    if that UPDATE saw one (`draft_seen`)."""
    connection = connections[router.db_for_write(CompletedSection)]
    params = [
        _key(screening_id, connection),
        section_id,
        CompletedSection._meta.get_field("completed_at").get_db_prep_value(now, connection),
    ]
    in_one_statement = connection.vendor == "postgresql"
    if in_one_statement:
        params += [_key(screening_id, connection), section_code]
    sql = _statement(connection, _complete_and_discard_sql if in_one_statement else _complete_sql)
    with connection.cursor() as cursor:
        prepared.execute(cursor, "screening_page_complete", sql, params)
    if draft_seen and not in_one_statement:
        PageDraft.objects.filter(screening_id=screening_id, section_code=section_code).delete()


def _key(screening_id: uuid.UUID, connection: BaseDatabaseWrapper) -> object:
    return Screening._meta.pk.get_db_prep_value(screening_id, connection)


def _statement(connection: BaseDatabaseWrapper, write: Callable[[BaseDatabaseWrapper], str]) -> str:
    return _written(connection.alias, connection.vendor, write)


@cache
def _written(alias: str, vendor: str, write: Callable[[BaseDatabaseWrapper], str]) -> str:
    return write(connections[alias])


# Names from the models' metadata, quoted; every value is a parameter.


def _touch_sql(connection: BaseDatabaseWrapper) -> str:
    quote = connection.ops.quote_name
    screening, draft = Screening._meta, PageDraft._meta
    updated_at = quote(screening.get_field("updated_at").column)
    language = quote(screening.get_field("language").column)
    statuses = ", ".join(["%s"] * len(Screening.EDITABLE_STATUSES))
    return (
        f"UPDATE {quote(screening.db_table)} SET {updated_at} = %s, "  # noqa: S608
        f"{language} = COALESCE(%s, {language}) "
        f"WHERE {quote(screening.pk.column)} = %s "
        f"AND {quote(screening.get_field('status').column)} IN ({statuses}) "
        f"AND {updated_at} = %s "
        f"AND NOT EXISTS (SELECT 1 FROM {quote(draft.db_table)} d "
        f"WHERE d.{quote(draft.get_field('screening').column)} = %s "
        f"AND d.{quote(draft.get_field('section_code').column)} = %s)"
    )


def _upsert_sql(connection: BaseDatabaseWrapper) -> str:
    """PostgreSQL's: the question ids and the values as two arrays, unnested into rows."""
    quote = connection.ops.quote_name
    answer = Answer._meta
    fields = [answer.get_field(name) for name in ("screening", "question", "value", "updated_at")]
    screening, question, value, updated_at = (quote(field.column) for field in fields)
    # Each parameter cast to its column's type (as Django's own UNNEST insert does).
    types = [
        (field.target_field if field.is_relation else field).db_type(connection).split("(")[0]
        for field in fields
    ]
    return (
        f"INSERT INTO {quote(answer.db_table)} "  # noqa: S608
        f"({screening}, {question}, {value}, {updated_at}) "
        f"SELECT CAST(%s AS {types[0]}), r.q, r.v, CAST(%s AS {types[3]}) "
        f"FROM UNNEST(CAST(%s AS {types[1]}[]), CAST(%s AS {types[2]}[])) AS r(q, v) "
        f"ON CONFLICT ({screening}, {question}) DO UPDATE SET "
        f"{value} = EXCLUDED.{value}, {updated_at} = EXCLUDED.{updated_at}"
    )


def _complete_and_discard_sql(connection: BaseDatabaseWrapper) -> str:
    """PostgreSQL's: the completion inserted and the page's drafts deleted in one statement."""
    quote = connection.ops.quote_name
    draft = PageDraft._meta
    return (
        f"WITH completed AS ({_complete_sql(connection)}) "  # noqa: S608
        f"DELETE FROM {quote(draft.db_table)} "
        f"WHERE {quote(draft.get_field('screening').column)} = %s "
        f"AND {quote(draft.get_field('section_code').column)} = %s"
    )


def _complete_sql(connection: BaseDatabaseWrapper) -> str:
    quote = connection.ops.quote_name
    done = CompletedSection._meta
    return (
        f"INSERT INTO {quote(done.db_table)} "  # noqa: S608
        f"({quote(done.get_field('screening').column)}, "
        f"{quote(done.get_field('section').column)}, "
        f"{quote(done.get_field('completed_at').column)}) "
        "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING"
    )
