"""The two reads every patient page makes, each in one plain-SQL query: the patient's
screening (with what a check-in is read with) and its stored answers.

Every patient page (each wizard page's GET and save, a check-in's pages) starts here. The
ORM's version of the first (select_related through a check-in's session, course,
clearance and baseline intake, with the baseline's latest answers as a subquery) took
several times longer to build than the database took to run it (`make bench`: about 6 of
a wizard page's 20 ms on the benchmark machine); it is a JoinedRead
(screening/joined_reads.py says how). The answers, by question code, are read the same
way: the ORM's values_list through the question took longer to build than to run.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from functools import cache

from django.db import connections, router

from . import prepared
from .joined_reads import (
    ON_POSTGRESQL,
    Extra,
    JoinedRead,
    any_row_of,
    convert,
    converters_for,
    prepare_value,
)
from .models import Answer, PageDraft, Question, Screening, Submission, User

# The intake a check-in is read with: its session's course's clearance's screening.
BASELINE = "treatment_session__course__clearance__screening"


def _baseline_answers_sql(quote: Callable[[str], str], alias_of: Callable[[str], str]) -> str:
    """The latest submitted answers of a check-in's baseline intake (NULL for an intake)."""
    answers = Submission._meta
    return (
        f"(SELECT a.{quote(answers.get_field('answers').column)} "  # noqa: S608
        f"FROM {quote(answers.db_table)} a "
        f"WHERE a.{quote(answers.get_field('screening').column)} = "
        f"{alias_of(BASELINE)}.{quote(Screening._meta.pk.column)} "
        f"ORDER BY a.{quote(answers.get_field('number').column)} DESC LIMIT 1)"
    )


def _own_screening_sql(quote: Callable[[str], str], alias_of: Callable[[str], str]) -> str:
    screening = Screening._meta
    return (
        f"{alias_of('')}.{quote(screening.pk.column)} = %s "
        f"AND {alias_of('')}.{quote(screening.get_field('patient').column)} = %s"
    )


def _answers_sql(quote: Callable[[str], str], alias_of: Callable[[str], str]) -> str:
    """The screening's stored answers as one JSON array of [question id, value] pairs
    (PostgreSQL; an empty array when there are none)."""
    answer = Answer._meta
    return (
        "(SELECT COALESCE(jsonb_agg(jsonb_build_array("  # noqa: S608
        f"a.{quote(answer.get_field('question').column)}, "
        f"a.{quote(answer.get_field('value').column)})), '[]'::jsonb) "
        f"FROM {quote(answer.db_table)} a "
        f"WHERE a.{quote(answer.get_field('screening').column)} = "
        f"{alias_of('')}.{quote(Screening._meta.pk.column)})"
    )


PATIENT_SCREENING = JoinedRead(
    "screening_patient_screening_read",
    Screening,
    ("version", f"{BASELINE}__version"),
    where=_own_screening_sql,
    extras=(
        Extra("baseline_answers", _baseline_answers_sql, Submission._meta.get_field("answers")),
        # Whether any page keeps a draft (rare: only after a session ended with a page
        # unsaved), so a page asks for its draft only then.
        Extra("has_page_drafts", any_row_of(PageDraft, "screening")),
        # Its stored answers, in the same statement (the page reads them next): a second
        # statement cost the database more than the answers did (`make bench`).
        Extra("answers", _answers_sql, vendors=ON_POSTGRESQL),
    ),
)


def patient_screening(screening_id: uuid.UUID, patient: User) -> Screening | None:
    """The patient's screening `screening_id` (None if it is not theirs or does not exist),
    with its version and, for a check-in, its session, course, clearance, baseline intake
    and that version, and the baseline's latest submitted answers as `baseline_answers`:
    the instances and caches select_related would make, in one query. `has_page_drafts`
    says whether any of its pages keeps a draft (selectors.page_draft)."""
    found = PATIENT_SCREENING.one(
        [prepare_value(Screening, screening_id), prepare_value(User, patient.pk)]
    )
    if found is None:
        return None
    screening, extras = found
    screening.baseline_answers = extras["baseline_answers"]
    screening.has_page_drafts = bool(extras["has_page_drafts"])
    screening.answers_read_with_it = _answer_pairs(extras["answers"])
    return screening


def _answer_pairs(answers: object) -> list[list] | None:
    """The [question id, value] pairs read with a screening; None where the database did
    not read them (then they are read on their own)."""
    # Django reads jsonb as text (its JSONField decodes): so is this.
    return json.loads(answers) if isinstance(answers, str) else answers


def answers_by_code(
    pairs: list[list], question_codes: dict[int, str] | None
) -> dict[str, object] | None:
    """`pairs` named by their questions' codes; None when a question is not in
    `question_codes` (a draft version's, or one unknown), to be read with the join."""
    if question_codes is None:
        return None
    named = {}
    for question_id, value in pairs:
        code = question_codes.get(question_id)
        if code is None:
            return None
        named[code] = value
    return named


def stored_answers(
    screening_id: uuid.UUID, question_codes: dict[int, str] | None = None
) -> dict[str, object]:
    """The screening's stored answers by question code (selectors.stored_answers).

    Given its version's `question_codes` (by question id; a published version's never
    change), the answers are read alone and named from them: the join with the questions
    cost the database more than the answers did. Without them, or should an answer name a
    question they lack, the answers are read with their questions' codes."""
    connection = connections[router.db_for_read(Answer)]
    key = [prepare_value(Screening, screening_id)]
    if question_codes is not None:
        sql, converters = _answers_statement(connection.vendor, connection.alias, by_code=False)
        with connection.cursor() as cursor:
            prepared.execute(cursor, "screening_answers_by_question_read", sql, key)
            rows = cursor.fetchall()
        if all(question_id in question_codes for question_id, _ in rows):
            return {
                question_codes[question_id]: convert(value, converters, connection)
                for question_id, value in rows
            }
    sql, converters = _answers_statement(connection.vendor, connection.alias, by_code=True)
    with connection.cursor() as cursor:
        prepared.execute(cursor, "screening_answers_read", sql, key)
        rows = cursor.fetchall()
    return {code: convert(value, converters, connection) for code, value in rows}


@cache
def _answers_statement(vendor: str, alias: str, *, by_code: bool) -> tuple[str, list]:
    """The answers' read, each by its question's code (a join) or by its question's id."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    answer, question = Answer._meta, Question._meta
    value = f"a.{quote(answer.get_field('value').column)}"
    where = f"WHERE a.{quote(answer.get_field('screening').column)} = %s"
    question_id = f"a.{quote(answer.get_field('question').column)}"
    # Names from the models' metadata, quoted; the screening's id is a parameter.
    if by_code:
        sql = (
            f"SELECT q.{quote(question.get_field('code').column)}, {value} "  # noqa: S608
            f"FROM {quote(answer.db_table)} a INNER JOIN {quote(question.db_table)} q "
            f"ON q.{quote(question.pk.column)} = {question_id} {where}"
        )
    else:
        sql = f"SELECT {question_id}, {value} FROM {quote(answer.db_table)} a {where}"  # noqa: S608
    return sql, converters_for(connection, answer.get_field("value"), "a")
