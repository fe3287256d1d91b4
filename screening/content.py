"""Load clinical content (question sets) from the reviewable data files in content/.

The file is the source of truth for the default content. Loading is idempotent: the
file's digest is stored on the version it created, so loading the same file again
changes nothing, and a changed file becomes a new published version (old screenings
keep the version they were answered on).
"""

import hashlib
import json
from decimal import Decimal
from pathlib import Path

import yaml
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .engine.expressions import validate
from .engine.questionnaire import (
    CHOICE_KINDS,
    QUESTION_KINDS,
    ChoiceDef,
    QuestionDef,
    QuestionnaireDef,
    SectionDef,
    variable_types,
)
from .models import Choice, Question, QuestionSet, QuestionSetVersion, Section

DEFAULT_CONTENT_FILE = Path(settings.BASE_DIR) / "content" / "ketamine_default.yaml"


class ContentError(Exception):
    """The data file is malformed; the message says where."""


def read_content(path: Path) -> tuple[dict, str]:
    raw = path.read_bytes()
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as error:
        raise ContentError(f"{path.name} is not valid YAML: {error}") from error
    # Digest of the parsed data, so comments and layout changes do not make a new version.
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()
    return data, digest


def questionnaire_from_data(data: dict) -> QuestionnaireDef:
    """Check the file's structure and build the engine's definition; raise ContentError on problems."""
    sections = []
    seen_codes: set[str] = set()
    for s_index, raw_section in enumerate(data.get("sections") or [], start=1):
        where = f"section {s_index} ({raw_section.get('code', '?')})"
        questions = []
        for q_index, raw in enumerate(raw_section.get("questions") or [], start=1):
            code = raw.get("code")
            q_where = f"{where}, question {q_index} ({code})"
            if not code or code in seen_codes:
                raise ContentError(f"{q_where}: missing or duplicate code")
            seen_codes.add(code)
            kind = raw.get("kind")
            if kind not in QUESTION_KINDS:
                raise ContentError(f"{q_where}: unknown kind {kind!r}")
            choices = tuple(
                ChoiceDef(
                    value=str(choice["value"]),
                    label=str(choice["label"]),
                    score=choice.get("score"),
                    exclusive=bool(choice.get("exclusive", False)),
                )
                for choice in raw.get("choices") or []
            )
            if kind in CHOICE_KINDS and not choices:
                raise ContentError(f"{q_where}: a {kind} question needs choices")
            if kind == "scale_item" and any(choice.score is None for choice in choices):
                raise ContentError(f"{q_where}: every choice of a scale item needs a score")
            questions.append(
                QuestionDef(
                    code=code,
                    kind=kind,
                    text=str(raw.get("text", "")).strip(),
                    help_text=str(raw.get("help", "") or "").strip(),
                    required=bool(raw.get("required", True)),
                    min_value=_decimal(raw.get("min")),
                    max_value=_decimal(raw.get("max")),
                    unit=str(raw.get("unit", "") or ""),
                    show_when=str(raw.get("show_when", "") or "").strip(),
                    choices=choices,
                )
            )
        sections.append(
            SectionDef(
                code=raw_section["code"],
                title=raw_section["title"],
                intro=str(raw_section.get("intro", "") or "").strip(),
                show_when=str(raw_section.get("show_when", "") or "").strip(),
                questions=tuple(questions),
            )
        )
    questionnaire = QuestionnaireDef(tuple(sections))
    problems = expression_problems(questionnaire)
    if problems:
        raise ContentError("Invalid show-when expressions:\n" + "\n".join(problems))
    return questionnaire


def expression_problems(questionnaire: QuestionnaireDef) -> list[str]:
    """Every show-when checked against the names defined before it."""
    problems = []
    for section in questionnaire.sections:
        if section.show_when:
            names = variable_types(questionnaire, before_section=section.code)
            for problem in validate(section.show_when, names):
                problems.append(f"section {section.code}: {problem.message}")
        for question in section.questions:
            if question.show_when:
                names = variable_types(questionnaire, before_question=question.code)
                for problem in validate(question.show_when, names):
                    problems.append(f"question {question.code}: {problem.message}")
    return problems


def _decimal(value) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@transaction.atomic
def load_question_set(path: Path = DEFAULT_CONTENT_FILE) -> tuple[QuestionSetVersion, bool]:
    """Publish the file's content unless the live version already came from identical content.

    Returns the published version and whether a new one was created.
    """
    data, digest = read_content(path)
    questionnaire = questionnaire_from_data(data)
    meta = data["question_set"]
    question_set, _ = QuestionSet.objects.get_or_create(
        slug=meta["slug"],
        defaults={"name": meta["name"], "description": meta.get("description", "")},
    )
    live = (
        question_set.versions.select_for_update()
        .filter(status=QuestionSetVersion.Status.PUBLISHED)
        .first()
    )
    if live and live.source_digest == digest:
        return live, False
    last = question_set.versions.order_by("-number").first()
    version = QuestionSetVersion.objects.create(
        question_set=question_set,
        number=(last.number + 1) if last else 1,
        notes=f"Loaded from {path.name}",
        source_digest=digest,
    )
    write_questionnaire(version, questionnaire)
    if live:
        live.status = QuestionSetVersion.Status.RETIRED
        live.save(update_fields=["status"])
    version.status = QuestionSetVersion.Status.PUBLISHED
    version.published_at = timezone.now()
    version.save(update_fields=["status", "published_at"])
    return version, True


def write_questionnaire(version: QuestionSetVersion, questionnaire: QuestionnaireDef) -> None:
    """Store a questionnaire definition as the sections, questions and choices of a version."""
    for s_position, section_def in enumerate(questionnaire.sections, start=1):
        section = Section.objects.create(
            version=version,
            code=section_def.code,
            title=section_def.title,
            intro=section_def.intro,
            show_when=section_def.show_when,
            position=s_position,
        )
        for q_position, question_def in enumerate(section_def.questions, start=1):
            question = Question.objects.create(
                version=version,
                section=section,
                code=question_def.code,
                text=question_def.text,
                help_text=question_def.help_text,
                kind=question_def.kind,
                required=question_def.required,
                min_value=question_def.min_value,
                max_value=question_def.max_value,
                unit=question_def.unit,
                show_when=question_def.show_when,
                position=s_position * 1000 + q_position,
            )
            Choice.objects.bulk_create(
                Choice(
                    question=question,
                    value=choice.value,
                    label=choice.label,
                    score=choice.score,
                    exclusive=choice.exclusive,
                    position=c_position,
                )
                for c_position, choice in enumerate(question_def.choices, start=1)
            )
