"""Named reads of the intake: stored answers, what a patient is asked, which pages are done.

Reads only; every write is in screening/services/.
"""

from django.utils import timezone

from .engine.questionnaire import SectionDef, Visibility, is_answered, work_out_visibility
from .models import QuestionSetVersion, Screening
from .snapshots import questionnaire_for

DEFAULT_QUESTION_SET = "ketamine-pretreatment"


class NoPublishedQuestionSet(Exception):
    """The clinic has not published a question set yet."""


def current_version(slug: str = DEFAULT_QUESTION_SET) -> QuestionSetVersion:
    version = QuestionSetVersion.objects.published().filter(question_set__slug=slug).first()
    if version is None:
        raise NoPublishedQuestionSet
    return version


def stored_answers(screening: Screening) -> dict[str, object]:
    return dict(screening.answers.values_list("question__code", "value"))


def visibility_for(screening: Screening, answers: dict[str, object] | None = None) -> Visibility:
    questionnaire = questionnaire_for(screening.version)
    if answers is None:
        answers = stored_answers(screening)
    return work_out_visibility(questionnaire, answers, timezone.localdate())


def section_is_complete(section: SectionDef, visibility: Visibility, completed: set[str]) -> bool:
    """Saved by the patient, and every shown required question still has an answer."""
    if section.code not in completed:
        return False
    return all(
        is_answered(question, visibility.answers.get(question.code))
        for question in visibility.visible_in(section)
        if question.required
    )


def completed_codes(screening: Screening) -> set[str]:
    return set(screening.completed_sections.values_list("section__code", flat=True))


def first_incomplete_section(screening: Screening) -> SectionDef | None:
    """Where a returning patient resumes; None when every shown page is done."""
    visibility = visibility_for(screening)
    completed = completed_codes(screening)
    for section in visibility.sections:
        if not section_is_complete(section, visibility, completed):
            return section
    return None
