"""Read a question-set version from the database as the engine's plain data.

Published versions never change, so their snapshot is cached in memory for the life of
the process; drafts are read fresh each time because admins are editing them.
"""

from functools import lru_cache

from .engine.questionnaire import ChoiceDef, QuestionDef, QuestionnaireDef, SectionDef
from .models import Choice, Question, QuestionSetVersion, Section


def questionnaire_for(version: QuestionSetVersion) -> QuestionnaireDef:
    if version.status == QuestionSetVersion.Status.DRAFT:
        return _build(version.pk)
    return _cached(version.pk)


@lru_cache(maxsize=32)
def _cached(version_id) -> QuestionnaireDef:
    return _build(version_id)


def _build(version_id) -> QuestionnaireDef:
    choices_by_question: dict[int, list[ChoiceDef]] = {}
    for choice in Choice.objects.filter(question__version_id=version_id).order_by("position"):
        choices_by_question.setdefault(choice.question_id, []).append(
            ChoiceDef(choice.value, choice.label, choice.score, choice.exclusive)
        )
    questions_by_section: dict[int, list[QuestionDef]] = {}
    for question in Question.objects.filter(version_id=version_id).order_by("position"):
        questions_by_section.setdefault(question.section_id, []).append(
            QuestionDef(
                code=question.code,
                kind=question.kind,
                text=question.text,
                help_text=question.help_text,
                required=question.required,
                min_value=question.min_value,
                max_value=question.max_value,
                unit=question.unit,
                show_when=question.show_when,
                choices=tuple(choices_by_question.get(question.pk, ())),
            )
        )
    sections = tuple(
        SectionDef(
            code=section.code,
            title=section.title,
            intro=section.intro,
            show_when=section.show_when,
            questions=tuple(questions_by_section.get(section.pk, ())),
        )
        for section in Section.objects.filter(version_id=version_id).order_by("position")
    )
    return QuestionnaireDef(sections)
