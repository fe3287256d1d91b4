"""The database as the engine's plain data: questionnaires, rule sets and the formulary.

Published versions never change, so their snapshots are cached for the life of the
process; drafts are read fresh because admins are editing them. The formulary's cache
key is its fingerprint, so an admin's formulary edit takes effect at once. Also the row
ids of a version's questions and sections, so saving a page needs no lookup of them.
"""

import logging
import uuid
from dataclasses import dataclass
from functools import lru_cache

from django.db.models import Count, Max

from .content_language import content_language, patient_texts
from .engine.definitions import RULE_FIELDS, rule_defs_from_data, score_defs_from_data
from .engine.medications import Formulary
from .engine.questionnaire import ChoiceDef, QuestionDef, QuestionnaireDef, SectionDef
from .engine.resolver import shared_dictionary
from .engine.rules import RuleDef, RuleSet, ScoreDef
from .engine.translations import text_parts, translatable_texts, translated_questionnaire
from .models import (
    Choice,
    Drug,
    DrugClass,
    Question,
    QuestionSetVersion,
    Rule,
    ScoreDefinition,
    Section,
)

# The intake every session check-in is read against (its baseline), by its question set.
DEFAULT_QUESTION_SET = "ketamine-pretreatment"
CHECK_IN_QUESTION_SET = "ketamine-session-check-in"


def questionnaire_for(version: QuestionSetVersion, language: str | None = None) -> QuestionnaireDef:
    """The version's questionnaire; with `language` (a patient's), its texts in that language
    (screening/content_language.py): codes, kinds and expressions are the same in every one."""
    language = content_language(language)
    if version.status == QuestionSetVersion.Status.DRAFT:
        source = _build(version.pk)
        return source if language is None else _translated(version, language, source)
    if language is None:
        return _cached(version.pk)
    return _cached_translated(version.pk, language)


@lru_cache(maxsize=32)
def _cached(version_id: uuid.UUID) -> QuestionnaireDef:
    return _build(version_id)


@lru_cache(maxsize=32)
def _cached_translated(version_id: uuid.UUID, language: str) -> QuestionnaireDef:
    version = QuestionSetVersion.objects.get(pk=version_id)
    return _translated(version, language, _cached(version_id))


def _translated(
    version: QuestionSetVersion, language: str, source: QuestionnaireDef
) -> QuestionnaireDef:
    texts = patient_texts(version, language, translatable_texts(source))
    return translated_questionnaire(source, texts)


def translatable_texts_for(version: QuestionSetVersion) -> dict[str, str]:
    """Every patient-facing text of the version by key, read fresh: the one list the admin's
    translation pages, the PO and CSV files and the check on publish use."""
    return translatable_texts(_build(version.pk), rule_defs(version))


def text_parts_for(version: QuestionSetVersion) -> dict[str, str]:
    """The part (section code, or "rules") of each of the version's keys."""
    return text_parts(_build(version.pk), rule_defs(version))


def patient_messages_for(version: QuestionSetVersion, language: str | None) -> dict[str, str]:
    """The version's rules' patient messages by rule code, in `language` where translated."""
    language = content_language(language)
    source = {
        f"rule.{rule.code}.patient_message": rule.patient_message
        for rule in rule_defs(version)
        if rule.patient_message
    }
    texts = source if language is None else patient_texts(version, language, source)
    return {key.split(".")[1]: text for key, text in texts.items()}


def _build(version_id: uuid.UUID) -> QuestionnaireDef:
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


@dataclass(frozen=True)
class RowIds:
    """A version's question and section primary keys by code."""

    questions: dict[str, int]
    sections: dict[str, int]


def row_ids_for(version: QuestionSetVersion) -> RowIds:
    if version.status == QuestionSetVersion.Status.DRAFT:
        return _row_ids(version.pk)
    return _cached_row_ids(version.pk)


@lru_cache(maxsize=32)
def _cached_row_ids(version_id: uuid.UUID) -> RowIds:
    return _row_ids(version_id)


def question_codes_of_published(version: QuestionSetVersion) -> dict[int, str] | None:
    """Each question's code by its row id, for a published (or retired) version, whose
    questions never change; None for a draft, which an admin may still edit."""
    if version.status == QuestionSetVersion.Status.DRAFT:
        return None
    return _cached_question_codes(version.pk)


@lru_cache(maxsize=32)
def _cached_question_codes(version_id: uuid.UUID) -> dict[int, str]:
    return {pk: code for code, pk in _cached_row_ids(version_id).questions.items()}


def _row_ids(version_id: uuid.UUID) -> RowIds:
    return RowIds(
        questions=dict(Question.objects.filter(version_id=version_id).values_list("code", "pk")),
        sections=dict(Section.objects.filter(version_id=version_id).values_list("code", "pk")),
    )


logger = logging.getLogger(__name__)


_formulary_cache: dict[tuple, Formulary] = {}


_ruleset_cache: dict[tuple, RuleSet] = {}


def _formulary_fingerprint() -> tuple:
    drugs = Drug.objects.aggregate(count=Count("id"), changed=Max("updated_at"))
    classes = DrugClass.objects.aggregate(count=Count("id"), changed=Max("updated_at"))
    return (drugs["count"], drugs["changed"], classes["count"], classes["changed"])


def current_formulary() -> Formulary:
    # Threads may share these caches (runserver, gunicorn --threads): read each entry once
    # into a local and return that, so another thread clearing the cache cannot pull an
    # entry out from under us between the check and the return.
    key = _formulary_fingerprint()
    formulary = _formulary_cache.get(key)
    if formulary is None:
        data = {
            "classes": dict(DrugClass.objects.values_list("name", "description")),
            "drugs": [drug.as_row() for drug in Drug.objects.all()],
        }
        try:
            formulary = Formulary.from_data(data, shared_dictionary())
        except ValueError:
            # The admin validates every change, so this means a database edited by hand.
            # Patients must still be able to submit: keep the last good formulary, loudly.
            logger.exception("The formulary in the database is invalid; using the last good one.")
            last_good = list(_formulary_cache.values())
            if last_good:
                return last_good[0]
            raise
        _formulary_cache.clear()
        _formulary_cache[key] = formulary
    return formulary


def rule_defs(version: QuestionSetVersion) -> list[RuleDef]:
    """The version's rules as engine definitions (the same builder the data files use)."""
    rows = (
        Rule.objects.filter(version=version)
        .order_by("position", "pk")
        .values(*RULE_FIELDS, "patient_message", "superseded_by", "active")
    )
    return rule_defs_from_data({"rules": list(rows)})


def score_defs(version: QuestionSetVersion) -> list[ScoreDef]:
    rows = (
        ScoreDefinition.objects.filter(version=version)
        .order_by("position", "pk")
        .values("code", "name", "items", "bands", "source")
    )
    return score_defs_from_data({"scores": list(rows)})


def ruleset_for(
    version: QuestionSetVersion, baseline_version: QuestionSetVersion | None = None
) -> RuleSet:
    """The version's rules; a check-in's read the answers of `baseline_version`, its
    patient's intake (the published intake when none is given)."""
    formulary = current_formulary()
    if version.status == QuestionSetVersion.Status.DRAFT:
        return RuleSet(
            questionnaire_with_baseline(version, baseline_version),
            rule_defs(version),
            score_defs(version),
            formulary,
        )
    key = (version.pk, baseline_version.pk if baseline_version else None, id(formulary))
    ruleset = _ruleset_cache.get(key)
    if ruleset is None:
        ruleset = RuleSet(
            questionnaire_with_baseline(version, baseline_version),
            rule_defs(version),
            score_defs(version),
            formulary,
        )
        if len(_ruleset_cache) > 16:
            _ruleset_cache.clear()
        _ruleset_cache[key] = ruleset
    return ruleset


def checking_baseline() -> QuestionnaireDef | None:
    """What a check-in's content is checked against: the published intake's questionnaire.

    A check-in's show-when conditions, rules and test panel may read the intake's answers;
    each real check-in is evaluated with its own patient's intake (`ruleset_for`)."""
    intake = (
        QuestionSetVersion.objects.published()
        .filter(question_set__slug=DEFAULT_QUESTION_SET)
        .first()
    )
    return questionnaire_for(intake) if intake is not None else None


def questionnaire_with_baseline(
    version: QuestionSetVersion, baseline_version: QuestionSetVersion | None = None
) -> QuestionnaireDef:
    """The version's questionnaire, reading the baseline intake's too if it is a check-in."""
    questionnaire = questionnaire_for(version)
    if not version.question_set.is_check_in:
        return questionnaire
    baseline = (
        questionnaire_for(baseline_version) if baseline_version is not None else checking_baseline()
    )
    return questionnaire.with_baseline(baseline)


def validator_for(version: QuestionSetVersion) -> RuleSet:
    """A RuleSet with the version's names and functions but no rules: for checking expressions."""
    return RuleSet(
        questionnaire_with_baseline(version), [], score_defs(version), current_formulary()
    )


def draft_ruleset(version: QuestionSetVersion) -> RuleSet:
    """The version's questions, scores and rules, read fresh (never from the cache)."""
    validator = validator_for(version)
    return RuleSet(
        validator.questionnaire, rule_defs(version), validator.scores, validator.formulary
    )
