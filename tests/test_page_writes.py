"""The writes of a wizard page's save (screening/page_writes.py): written out as SQL and
prepared on PostgreSQL, they must store exactly what the ORM stored."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from screening import page_writes
from screening.models import Answer, CompletedSection, PageDraft, Question, Screening
from screening.selectors import read_answers, visibility_for
from screening.services.intake import ScreeningLocked, save_page, start_screening
from screening.snapshots import questionnaire_for, row_ids_for

pytestmark = pytest.mark.django_db
on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="prepared only on PostgreSQL"
)

# One value of each shape an answer takes (screening/answer_fields.py stored_value).
VALUES = [
    "yes",
    ["benzodiazepines", "opioids"],
    {"systolic": 150, "diastolic": 95},
    {"rows": [{"name": "Sertraline", "dose": "50 mg"}], "none": False},
    7.5,
    None,
    "Ünïcode, 'quotes' and \"double\" ones",
]


@pytest.fixture
def screening(default_version, patient):
    return start_screening(patient=patient)


def _questions(screening: Screening) -> list[Question]:
    return list(Question.objects.filter(version=screening.version).order_by("code")[: len(VALUES)])


def test_the_upsert_stores_every_shape_of_answer_as_the_orm_reads_it(screening):
    questions = _questions(screening)
    now = timezone.now()
    page_writes.upsert_answers(
        screening_id=screening.pk,
        values={q.pk: value for q, value in zip(questions, VALUES, strict=True)},
        now=now,
    )
    stored = {a.question_id: a for a in Answer.objects.filter(screening=screening)}
    assert {q.pk: stored[q.pk].value for q in questions} == {
        q.pk: value for q, value in zip(questions, VALUES, strict=True)
    }
    assert {a.updated_at for a in stored.values()} == {now}


def test_the_upsert_replaces_a_stored_answer_and_keeps_the_others(screening):
    first, second = _questions(screening)[:2]
    earlier = timezone.now() - datetime.timedelta(minutes=5)
    Answer.objects.create(screening=screening, question=first, value="old", updated_at=earlier)
    Answer.objects.create(screening=screening, question=second, value="kept", updated_at=earlier)
    now = timezone.now()
    page_writes.upsert_answers(screening_id=screening.pk, values={first.pk: "new"}, now=now)
    assert Answer.objects.get(screening=screening, question=first).value == "new"
    assert Answer.objects.get(screening=screening, question=first).updated_at == now
    assert Answer.objects.get(screening=screening, question=second).value == "kept"
    assert Answer.objects.get(screening=screening, question=second).updated_at == earlier
    assert Answer.objects.filter(screening=screening).count() == 2


def test_a_page_is_recorded_complete_once(screening):
    section_id = row_ids_for(screening.version).sections["mood"]
    first = timezone.now()
    for now in (first, timezone.now()):
        page_writes.mark_complete(
            screening_id=screening.pk,
            section_id=section_id,
            section_code="mood",
            now=now,
            draft_seen=False,
        )
    done = CompletedSection.objects.get(screening=screening)
    assert (done.section_id, done.completed_at) == (section_id, first)


def test_the_screening_is_touched_only_while_nobody_saved_since_the_read(screening):
    as_of = Screening.objects.get(pk=screening.pk).updated_at
    now = timezone.now()
    assert page_writes.touch_unless_changed(
        screening_id=screening.pk, section_code="mood", as_of=as_of, now=now, language="es"
    )
    touched = Screening.objects.get(pk=screening.pk)
    assert (touched.updated_at, touched.language) == (now, "es")
    # Read before that save: changes nothing.
    assert not page_writes.touch_unless_changed(
        screening_id=screening.pk,
        section_code="mood",
        as_of=as_of,
        now=timezone.now(),
        language="en",
    )
    assert Screening.objects.get(pk=screening.pk).updated_at == now
    # No language given: the one recorded stays.
    later = timezone.now()
    assert page_writes.touch_unless_changed(
        screening_id=screening.pk, section_code="mood", as_of=now, now=later, language=None
    )
    touched = Screening.objects.get(pk=screening.pk)
    assert (touched.updated_at, touched.language) == (later, "es")


def _touch(screening: Screening, section_code: str, as_of: datetime.datetime) -> bool:
    return page_writes.touch_unless_changed(
        screening_id=screening.pk,
        section_code=section_code,
        as_of=as_of,
        now=timezone.now(),
        language=None,
    )


def test_the_screening_is_not_touched_while_the_page_keeps_a_draft(screening):
    """Then the save takes its longer way, which discards the draft."""
    PageDraft.objects.create(
        screening=screening, section_code="mood", values={}, source=PageDraft.Source.IDLE
    )
    as_of = Screening.objects.get(pk=screening.pk).updated_at
    assert not _touch(screening, "mood", as_of)
    assert Screening.objects.get(pk=screening.pk).updated_at == as_of
    # Another page's draft is not this page's business.
    assert _touch(screening, "safety", as_of)


def test_a_submitted_screening_is_not_touched(screening):
    Screening.objects.filter(pk=screening.pk).update(
        status=Screening.Status.SUBMITTED, submitted_at=timezone.now()
    )
    as_of = Screening.objects.get(pk=screening.pk).updated_at
    assert not _touch(screening, "mood", as_of)
    assert Screening.objects.get(pk=screening.pk).updated_at == as_of
    # And the save refuses it, as before.
    section = questionnaire_for(screening.version).section("mood")
    with pytest.raises(ScreeningLocked):
        save_page(
            screening=screening,
            section=section,
            answers={"phq9_9": "not_at_all"},
            presented={"phq9_9"},
            read=read_answers(screening),
            visibility=visibility_for(screening, {"phq9_9": "not_at_all"}),
        )


def _save_mood(screening: Screening) -> list[str]:
    screening = Screening.objects.get(pk=screening.pk)
    section = questionnaire_for(screening.version).section("mood")
    answers = {q.code: q.choices[0].value for q in section.questions}
    read = read_answers(screening)
    with CaptureQueriesContext(connection) as queries:
        saved = save_page(
            screening=screening,
            section=section,
            answers=answers,
            presented=set(answers),
            read=read,
            visibility=visibility_for(screening, {**read.answers, **answers}),
            language="en",
        )
    assert saved.complete
    return [q["sql"] for q in queries.captured_queries]


@on_postgresql
def test_on_postgresql_a_save_writes_with_prepared_statements(screening):
    for _ in range(2):  # prepared by the first save, executed by both
        sqls = _save_mood(screening)
        for name in ("screening_page_touch", "screening_answers_write", "screening_page_complete"):
            assert [sql for sql in sqls if sql.startswith(f"EXECUTE {name}_")], name
    assert not [sql for sql in sqls if sql.startswith(("UPDATE", "INSERT"))]
    assert CompletedSection.objects.filter(screening=screening).count() == 1


def test_with_prepared_statements_off_a_save_writes_as_written(screening, settings):
    settings.PREPARED_STATEMENTS = False
    sqls = _save_mood(screening)
    assert not [sql for sql in sqls if sql.startswith("EXECUTE")]
    assert [sql for sql in sqls if sql.startswith("UPDATE")]
    assert [sql for sql in sqls if sql.startswith("INSERT") and "screening_answer" in sql]
    mood = questionnaire_for(screening.version).section("mood")
    assert Answer.objects.filter(screening=screening).count() == len(mood.questions)


@on_postgresql
@pytest.mark.django_db(transaction=True)  # the save must be the outermost transaction
def test_a_save_whose_prepared_writes_went_stale_is_stored_all_the_same(screening):
    """A deploy migrates while a worker still holds its prepared statements: the patient's
    next save fails on the stale statement, and is made once more, prepared afresh."""
    _save_mood(screening)  # prepares the save's statements on this connection
    try:
        with connection.cursor() as cursor:
            cursor.cursor.execute("DEALLOCATE ALL")  # the server forgets them; we do not
        Answer.objects.filter(screening=screening).delete()
        CompletedSection.objects.filter(screening=screening).delete()
        _save_mood(screening)
        mood = questionnaire_for(screening.version).section("mood")
        assert Answer.objects.filter(screening=screening).count() == len(mood.questions)
        assert CompletedSection.objects.filter(screening=screening).count() == 1
    finally:
        connection.close()  # no later test inherits statements the server forgot


def test_a_blank_answer_is_stored_as_the_orm_stores_it_sql_null(screening, other_patient):
    """Not JSON null: `value IS NULL` (and the ORM's value__isnull) find blank answers."""
    from screening.services.intake import start_screening

    question = _questions(screening)[0]
    now = timezone.now()
    page_writes.upsert_answers(screening_id=screening.pk, values={question.pk: None}, now=now)
    by_the_orm = start_screening(patient=other_patient)
    Answer.objects.bulk_create(
        [Answer(screening=by_the_orm, question=question, value=None, updated_at=now)],
        update_conflicts=True,
        unique_fields=["screening", "question"],
        update_fields=["value", "updated_at"],
    )
    blank = Answer.objects.filter(question=question, value__isnull=True)
    assert set(blank.values_list("screening_id", flat=True)) == {screening.pk, by_the_orm.pk}
