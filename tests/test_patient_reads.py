"""The patient's screening as their pages read it (screening/patient_reads.py): one
hand-written query that must give exactly what the ORM's select_related gives."""

import pytest
from django.db.models import JSONField, OuterRef, Subquery

from screening.models import Decision, Screening, Submission, TreatmentCourse
from screening.patient_reads import patient_screening
from screening.selectors import baseline_for, session_of_check_in
from screening.services.check_ins import open_check_in
from tests.check_in_helpers import COULD_BE_PREGNANT, make_cleared_course, make_session
from tests.factories import make_patient, make_submitted_screening

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("check_in_version")]

CHAIN = "treatment_session__course__clearance__screening__version"


def _as_the_orm_reads_it(screening: Screening) -> Screening:
    return (
        Screening.objects.select_related("version", CHAIN)
        .annotate(
            baseline_answers=Subquery(
                Submission.objects.filter(
                    screening_id=OuterRef("treatment_session__course__clearance__screening_id")
                )
                .order_by("-number")
                .values("answers")[:1],
                output_field=JSONField(),
            )
        )
        .get(pk=screening.pk)
    )


def _fields(instance) -> dict:
    return {
        field.attname: getattr(instance, field.attname)
        for field in type(instance)._meta.concrete_fields
    }


def test_an_intake_is_read_with_its_version_and_no_session(django_assert_num_queries):
    intake = make_submitted_screening(level="caution")
    with django_assert_num_queries(1):
        read = patient_screening(intake.pk, intake.patient)
        # Known to have no session, as select_related leaves it: no second query.
        assert session_of_check_in(read) is None
        assert read.version.number >= 1
    expected = _as_the_orm_reads_it(intake)
    assert _fields(read) == _fields(expected)
    assert _fields(read.version) == _fields(expected.version)
    assert read.baseline_answers is None


def test_a_check_in_is_read_with_its_session_course_clearance_and_baseline(
    physician, django_assert_num_queries
):
    patient = make_patient()
    course = make_cleared_course(patient=patient, physician=physician, baseline=COULD_BE_PREGNANT)
    # A later submission of the baseline is the one read.
    intake = course.clearance.screening
    Submission.objects.create(
        screening=intake, number=2, submitted_at=intake.submitted_at, answers={"pregnant": "no"}
    )
    check_in = open_check_in(session=make_session(course))
    with django_assert_num_queries(1):
        read = patient_screening(check_in.pk, patient)
        session = session_of_check_in(read)
        baseline = baseline_for(read)
        assert baseline.answers == {"pregnant": "no"}
        assert baseline.screening.version.status == "published"
        assert session.course.ended_at is None
    expected = _as_the_orm_reads_it(check_in)
    expected_session = expected.treatment_session
    assert _fields(read) == _fields(expected)
    assert _fields(read.version) == _fields(expected.version)
    for got, want in (
        (session, expected_session),
        (session.course, expected_session.course),
        (session.course.clearance, expected_session.course.clearance),
        (session.course.clearance.screening, expected_session.course.clearance.screening),
        (baseline.screening.version, expected_session.course.clearance.screening.version),
    ):
        assert _fields(got) == _fields(want)
    assert session.check_in is read


def test_a_baseline_with_no_submission_reads_as_none(physician):
    patient = make_patient()
    # An intake decided with no snapshot (screenings from before snapshots were kept).
    intake = make_submitted_screening(patient=patient, status=Screening.Status.DECIDED)
    clearance = Decision.objects.create(
        screening=intake,
        physician=physician,
        outcome=Decision.Outcome.CLEARED,
        signed_name=physician.full_name,
    )
    course = TreatmentCourse.objects.create(
        patient=patient,
        product=TreatmentCourse.Product.IV_KETAMINE,
        clearance=clearance,
        created_by=physician,
    )
    check_in = open_check_in(session=make_session(course))
    read = patient_screening(check_in.pk, patient)
    assert read.baseline_answers is None
    assert session_of_check_in(read).course == course


def test_another_patients_screening_or_an_unknown_one_is_nothing():
    intake = make_submitted_screening()
    assert patient_screening(intake.pk, make_patient()) is None
    assert patient_screening(Screening().pk, intake.patient) is None


def test_a_page_asks_for_its_draft_only_when_the_screening_keeps_one(django_assert_num_queries):
    from screening.models import PageDraft
    from screening.selectors import page_draft

    intake = make_submitted_screening(status=Screening.Status.IN_PROGRESS)
    read = patient_screening(intake.pk, intake.patient)
    with django_assert_num_queries(0):
        assert page_draft(read, "mood") is None
    kept = PageDraft.objects.create(
        screening=intake, section_code="mood", values={}, source=PageDraft.Source.EXPIRED_POST
    )
    read = patient_screening(intake.pk, intake.patient)
    assert page_draft(read, "mood") == kept
    assert page_draft(read, "about_you") is None


def test_stored_answers_are_the_orms_by_question_code(django_assert_num_queries):
    from screening.models import Answer, Question
    from screening.selectors import stored_answers

    intake = make_submitted_screening(status=Screening.Status.IN_PROGRESS)
    questions = Question.objects.filter(version=intake.version).order_by("code")[:5]
    values = [
        "yes",
        ["benzodiazepines", "opioids"],
        {"systolic": 150, "diastolic": 95},
        [{"name": "Sertraline", "dose": "50 mg"}],
        7.5,
    ]
    for question, value in zip(questions, values, strict=True):
        Answer.objects.create(screening=intake, question=question, value=value)
    stored_answers(intake)  # the version's question codes, read once and kept
    with django_assert_num_queries(1):
        answers = stored_answers(intake)
    assert answers == dict(intake.answers.values_list("question__code", "value"))
    assert answers[questions[2].code] == {"systolic": 150, "diastolic": 95}
    assert stored_answers(make_submitted_screening()) == {}


def _answered(screening: Screening, count: int = 3) -> dict[str, object]:
    from screening.models import Answer, Question

    questions = Question.objects.filter(version=screening.version).order_by("code")[:count]
    for number, question in enumerate(questions):
        Answer.objects.create(screening=screening, question=question, value=f"answer {number}")
    return dict(screening.answers.values_list("question__code", "value"))


def test_with_a_published_version_at_hand_the_answers_are_read_without_their_questions(
    django_assert_num_queries,
):
    from screening.selectors import stored_answers

    intake = make_submitted_screening(status=Screening.Status.IN_PROGRESS)
    expected = _answered(intake)
    stored_answers(intake)  # the version's question codes, read once and kept
    with django_assert_num_queries(1) as queries:
        assert stored_answers(intake) == expected
    assert "screening_question" not in queries.captured_queries[0]["sql"]


def test_a_draft_versions_answers_are_read_with_their_questions_codes_as_they_are_now():
    """An admin may still rename a draft's question: its answers are named as it is now."""
    from screening.models import Question, QuestionSetVersion
    from screening.selectors import stored_answers

    intake = make_submitted_screening(status=Screening.Status.IN_PROGRESS)
    _answered(intake)
    QuestionSetVersion.objects.filter(pk=intake.version_id).update(
        status=QuestionSetVersion.Status.DRAFT
    )
    intake = Screening.objects.select_related("version").get(pk=intake.pk)
    stored_answers(intake)
    renamed = Question.objects.filter(version=intake.version).order_by("code").first()
    Question.objects.filter(pk=renamed.pk).update(code="renamed_in_the_draft")
    assert "renamed_in_the_draft" in stored_answers(intake)


def test_an_answer_to_a_question_the_codes_lack_is_read_with_its_questions_code():
    from screening import patient_reads

    intake = make_submitted_screening(status=Screening.Status.IN_PROGRESS)
    expected = _answered(intake)
    incomplete_codes = {}  # as if the version's codes were missing a question
    assert patient_reads.stored_answers(intake.pk, incomplete_codes) == expected


# On PostgreSQL the screening's answers are read with it, in the same statement, and taken
# once by the page that reads them (selectors.read_answers).


def _read_with_answers(intake: Screening) -> Screening:
    return patient_screening(intake.pk, intake.patient)


def test_answers_read_with_the_screening_are_the_stored_answers(django_assert_num_queries):
    from screening.models import Answer, Question
    from screening.selectors import read_answers, stored_answers

    intake = make_submitted_screening(status=Screening.Status.IN_PROGRESS)
    questions = Question.objects.filter(version=intake.version).order_by("code")[:5]
    values = ["yes", ["a", "b"], {"systolic": 150, "diastolic": 95}, None, 7.5]
    for question, value in zip(questions, values, strict=True):
        Answer.objects.create(screening=intake, question=question, value=value)
    stored_answers(intake)  # the version's question codes, read once and kept
    read = _read_with_answers(intake)
    on_postgresql = read.answers_read_with_it is not None
    with django_assert_num_queries(0 if on_postgresql else 1):
        answers = read_answers(read).answers
    assert answers == stored_answers(intake)
    assert answers[questions[3].code] is None
    # Taken once: a second read asks the database (a save reads again under its lock).
    assert "answers_read_with_it" not in read.__dict__
    with django_assert_num_queries(1):
        assert read_answers(read).answers == answers


def test_a_screening_without_answers_reads_none(django_assert_num_queries):
    from screening.selectors import read_answers, stored_answers

    intake = make_submitted_screening(status=Screening.Status.IN_PROGRESS)
    stored_answers(intake)
    read = _read_with_answers(intake)
    with django_assert_num_queries(0 if read.answers_read_with_it is not None else 1):
        assert read_answers(read).answers == {}


def test_answers_read_with_a_draft_versions_screening_are_named_as_the_questions_are_now():
    from screening.models import Question, QuestionSetVersion
    from screening.selectors import read_answers

    intake = make_submitted_screening(status=Screening.Status.IN_PROGRESS)
    _answered(intake)
    QuestionSetVersion.objects.filter(pk=intake.version_id).update(
        status=QuestionSetVersion.Status.DRAFT
    )
    renamed = Question.objects.filter(version=intake.version).order_by("code").first()
    Question.objects.filter(pk=renamed.pk).update(code="renamed_in_the_draft")
    assert "renamed_in_the_draft" in read_answers(_read_with_answers(intake)).answers


def test_answers_read_with_the_screening_to_a_question_the_codes_lack_are_read_again(
    monkeypatch,
):
    from screening import selectors
    from screening.selectors import read_answers

    intake = make_submitted_screening(status=Screening.Status.IN_PROGRESS)
    expected = _answered(intake)
    read = _read_with_answers(intake)
    monkeypatch.setattr(selectors, "question_codes_of_published", lambda version: {})
    assert read_answers(read).answers == expected
