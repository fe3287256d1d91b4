"""The two reads every patient page makes, each in one plain-SQL query: the patient's
screening (with what a check-in is read with) and its stored answers.

Every patient page (each wizard page's GET and save, a check-in's pages) starts here. The
ORM's version of this read (select_related through a check-in's session, course, clearance
and baseline intake, with the baseline's latest answers as a subquery) took several times
longer to build than the database took to run it (`make bench`: about 6 of a wizard page's
20 ms on the benchmark machine). So the join is written out once per database vendor, and
each row becomes the same model instances the ORM would make: every column of every model
in the chain, each value through its field's own converters (Model.from_db), with the
related caches set as select_related sets them. The answers, by question code, are read
the same way (the ORM's values_list through the question took longer to build than to run).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from functools import cache

from django.db import connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

from . import prepared
from .models import (
    Answer,
    Decision,
    PageDraft,
    Question,
    QuestionSetVersion,
    Screening,
    Submission,
    TreatmentCourse,
    TreatmentSession,
    User,
)


@dataclass(frozen=True)
class _Joined:
    """One model of the join: its table's alias and its columns' aliases in the row."""

    model: type[Model]
    alias: str

    def columns(self) -> list[tuple[str, str]]:
        """(field attname, column alias) for every concrete field."""
        return [
            (field.attname, f"{self.alias}_{field.column}")
            for field in self.model._meta.concrete_fields
        ]


SCREENING = _Joined(Screening, "s")
VERSION = _Joined(QuestionSetVersion, "v")
SESSION = _Joined(TreatmentSession, "ts")
COURSE = _Joined(TreatmentCourse, "c")
CLEARANCE = _Joined(Decision, "d")
BASELINE = _Joined(Screening, "b")
BASELINE_VERSION = _Joined(QuestionSetVersion, "bv")
JOINED = (SCREENING, VERSION, SESSION, COURSE, CLEARANCE, BASELINE, BASELINE_VERSION)
BASELINE_ANSWERS_ALIAS = "baseline_answers"
HAS_PAGE_DRAFTS_ALIAS = "has_page_drafts"


def patient_screening(screening_id: uuid.UUID, patient: User) -> Screening | None:
    """The patient's screening `screening_id` (None if it is not theirs or does not exist),
    with its version and, for a check-in, its session, course, clearance, baseline intake
    and that version, and the baseline's latest submitted answers as `baseline_answers`:
    the instances and caches select_related would make, in one query. `has_page_drafts`
    says whether any of its pages keeps a draft (selectors.page_draft)."""
    connection = connections[router.db_for_read(Screening)]
    sql, converters = _statement(connection.vendor, connection.alias)
    pk_field = Screening._meta.pk
    with connection.cursor() as cursor:
        cursor.execute(
            prepared.statement(connection, "screening_patient_screening_read", sql),
            [
                pk_field.get_db_prep_value(screening_id, connection),
                User._meta.pk.get_db_prep_value(patient.pk, connection),
            ],
        )
        row = cursor.fetchone()
        names = [column[0] for column in cursor.description]
    if row is None:
        return None
    values = dict(zip(names, row, strict=True))
    for name, name_converters in converters.items():
        values[name] = _convert(values[name], name_converters, connection)
    return _assemble(values, connection)


def _instance(joined: _Joined, values: dict, connection: BaseDatabaseWrapper) -> Model | None:
    columns = joined.columns()
    if values[f"{joined.alias}_{joined.model._meta.pk.column}"] is None:
        return None  # a LEFT JOIN that found no row: an intake has no session
    return joined.model.from_db(
        connection.alias,
        [attname for attname, _ in columns],
        [values[alias] for _, alias in columns],
    )


def _assemble(values: dict, connection: BaseDatabaseWrapper) -> Screening:
    screening, version, session, course, clearance, baseline, baseline_version = (
        _instance(joined, values, connection) for joined in JOINED
    )
    screening.version = version
    screening.baseline_answers = values[BASELINE_ANSWERS_ALIAS]
    screening.has_page_drafts = bool(values[HAS_PAGE_DRAFTS_ALIAS])
    # As select_related leaves a reverse one-to-one with no row: known to be absent, no query.
    Screening.treatment_session.related.set_cached_value(screening, session)
    if session is not None:
        session.check_in = screening
        session.course = course
        course.clearance = clearance
        clearance.screening = baseline
        baseline.version = baseline_version
    return screening


@cache
def _statement(vendor: str, alias: str) -> tuple[str, dict[str, list]]:
    """The query for one database, and the converters of each column that needs any."""
    connection = connections[alias]
    quote = connection.ops.quote_name

    def table(joined: _Joined) -> str:
        return f"{quote(joined.model._meta.db_table)} {joined.alias}"

    def column(joined: _Joined, model: type[Model], name: str) -> str:
        return f"{joined.alias}.{quote(model._meta.get_field(name).column)}"

    selected = [
        f"{joined.alias}.{quote(joined.model._meta.get_field(attname).column)} AS {alias}"
        for joined in JOINED
        for attname, alias in (
            (field.attname, f"{joined.alias}_{field.column}")
            for field in joined.model._meta.concrete_fields
        )
    ]
    answers = Submission._meta
    selected.append(
        f"(SELECT a.{quote(answers.get_field('answers').column)} "  # noqa: S608
        f"FROM {quote(answers.db_table)} a "
        f"WHERE a.{quote(answers.get_field('screening').column)} = {column(BASELINE, Screening, 'id')} "
        f"ORDER BY a.{quote(answers.get_field('number').column)} DESC LIMIT 1) "
        f"AS {BASELINE_ANSWERS_ALIAS}"
    )
    drafts = PageDraft._meta
    # Whether any page keeps a draft (rare: only after a session ended with a page unsaved),
    # so a page asks for its draft only then.
    selected.append(
        f"EXISTS (SELECT 1 FROM {quote(drafts.db_table)} pd "  # noqa: S608
        f"WHERE pd.{quote(drafts.get_field('screening').column)} = "
        f"{column(SCREENING, Screening, 'id')}) AS {HAS_PAGE_DRAFTS_ALIAS}"
    )
    sql = (
        f"SELECT {', '.join(selected)} FROM {table(SCREENING)} "  # noqa: S608
        # Names from the models' metadata, quoted; the two ids are parameters.
        f"INNER JOIN {table(VERSION)} ON {column(VERSION, QuestionSetVersion, 'id')} = "
        f"{column(SCREENING, Screening, 'version')} "
        f"LEFT JOIN {table(SESSION)} ON {column(SESSION, TreatmentSession, 'check_in')} = "
        f"{column(SCREENING, Screening, 'id')} "
        f"LEFT JOIN {table(COURSE)} ON {column(COURSE, TreatmentCourse, 'id')} = "
        f"{column(SESSION, TreatmentSession, 'course')} "
        f"LEFT JOIN {table(CLEARANCE)} ON {column(CLEARANCE, Decision, 'id')} = "
        f"{column(COURSE, TreatmentCourse, 'clearance')} "
        f"LEFT JOIN {table(BASELINE)} ON {column(BASELINE, Screening, 'id')} = "
        f"{column(CLEARANCE, Decision, 'screening')} "
        f"LEFT JOIN {table(BASELINE_VERSION)} ON "
        f"{column(BASELINE_VERSION, QuestionSetVersion, 'id')} = {column(BASELINE, Screening, 'version')} "
        f"WHERE {column(SCREENING, Screening, 'id')} = %s "
        f"AND {column(SCREENING, Screening, 'patient')} = %s"
    )
    converters: dict[str, list] = {}
    for joined in JOINED:
        for field in joined.model._meta.concrete_fields:
            if found := _converters(connection, field, joined.alias):
                converters[f"{joined.alias}_{field.column}"] = found
    if found := _converters(connection, answers.get_field("answers"), "a"):
        converters[BASELINE_ANSWERS_ALIAS] = found
    return sql, converters


def _converters(connection: BaseDatabaseWrapper, field: Field, alias: str) -> list:
    """What the ORM does to a column's value read from this database (the backend's, then
    the field's own converters, as SQLCompiler.get_converters finds them), with the column
    expression each is called with."""
    expression = field.get_col(alias)
    found = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
    return [(convert, expression) for convert in found]


def _convert(value: object, converters: list, connection: BaseDatabaseWrapper) -> object:
    for convert, expression in converters:
        value = convert(value, expression, connection)
    return value


def stored_answers(screening_id: uuid.UUID) -> dict[str, object]:
    """The screening's stored answers by question code (selectors.stored_answers)."""
    connection = connections[router.db_for_read(Answer)]
    sql, converters = _answers_statement(connection.vendor, connection.alias)
    with connection.cursor() as cursor:
        cursor.execute(
            prepared.statement(connection, "screening_answers_read", sql),
            [Screening._meta.pk.get_db_prep_value(screening_id, connection)],
        )
        rows = cursor.fetchall()
    return {code: _convert(value, converters, connection) for code, value in rows}


@cache
def _answers_statement(vendor: str, alias: str) -> tuple[str, list]:
    connection = connections[alias]
    quote = connection.ops.quote_name
    answer, question = Answer._meta, Question._meta
    sql = (
        f"SELECT q.{quote(question.get_field('code').column)}, "  # noqa: S608
        # Names from the models' metadata, quoted; the screening's id is a parameter.
        f"a.{quote(answer.get_field('value').column)} FROM {quote(answer.db_table)} a "
        f"INNER JOIN {quote(question.db_table)} q ON q.{quote(question.pk.column)} = "
        f"a.{quote(answer.get_field('question').column)} "
        f"WHERE a.{quote(answer.get_field('screening').column)} = %s"
    )
    return sql, _converters(connection, answer.get_field("value"), "a")
