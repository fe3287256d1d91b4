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
from .models import (
    Choice,
    Drug,
    DrugClass,
    Question,
    QuestionSet,
    QuestionSetVersion,
    Rule,
    ScoreDefinition,
    Section,
)
from .patient_messages import placeholder_problems

DEFAULT_CONTENT_FILE = Path(settings.BASE_DIR) / "content" / "ketamine_default.yaml"
DEFAULT_FORMULARY_FILE = Path(settings.BASE_DIR) / "content" / "formulary.yaml"
RULE_FIELDS = ("code", "title", "severity", "when", "message", "rationale", "source")
URGENT = "urgent"


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
    write_rules_and_scores(version, data)
    problems = rule_problems(version)
    if problems:
        raise ContentError("Invalid rules:\n" + "\n".join(problems))
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


def write_rules_and_scores(version: QuestionSetVersion, data: dict) -> None:
    """Store the file's score definitions and rules on a version (validated by the caller)."""
    for position, raw in enumerate(data.get("scores") or [], start=1):
        ScoreDefinition.objects.create(
            version=version,
            code=raw["code"],
            name=raw["name"],
            items=list(raw["items"]),
            bands=[dict(band) for band in raw.get("bands") or []],
            source=str(raw.get("source", "")),
            position=position,
        )
    for position, raw in enumerate(data.get("rules") or [], start=1):
        missing = [name for name in RULE_FIELDS if not str(raw.get(name, "")).strip()]
        patient_message = str(raw.get("patient_message") or "").strip()
        if raw.get("severity") == URGENT and not patient_message:
            missing.append("patient_message (required for an urgent rule)")
        if patient_message and raw.get("severity") != URGENT:
            raise ContentError(
                f"rule {raw.get('code', position)}: only urgent rules show a patient_message"
            )
        if missing:
            raise ContentError(f"rule {raw.get('code', position)}: missing {', '.join(missing)}")
        for problem in placeholder_problems(patient_message):
            raise ContentError(f"rule {raw['code']}: patient_message: {problem}")
        Rule.objects.create(
            version=version,
            **{name: str(raw[name]).strip() for name in RULE_FIELDS},
            patient_message=patient_message,
            superseded_by=list(raw.get("superseded_by") or []),
            active=bool(raw.get("active", True)),
            position=position,
        )


@transaction.atomic
def load_formulary(path: Path = DEFAULT_FORMULARY_FILE) -> tuple[int, int]:
    """Add or update every formulary entry of the file; entries admins added are kept.

    Returns (created, updated); loading the same file twice updates nothing.
    """
    from .engine.medications import Formulary

    data, _ = read_content(path)
    try:
        Formulary.from_data(data)
    except ValueError as error:
        raise ContentError(f"{path.name}: {error}") from error
    for name, description in (data.get("classes") or {}).items():
        DrugClass.objects.update_or_create(name=name, defaults={"description": description})
    created = updated = 0
    existing = {drug.name: drug for drug in Drug.objects.all()}
    for raw in data.get("drugs") or []:
        fields = {
            "classes": list(raw.get("classes") or []),
            "components": list(raw.get("components") or []),
            "brands": [str(x) for x in raw.get("brands") or []],
            "synonyms": [str(x) for x in raw.get("synonyms") or []],
            "slang": [str(x) for x in raw.get("slang") or []],
            "form": str(raw.get("form") or ""),
            "note": str(raw.get("note") or ""),
            "grade": str(raw.get("grade") or ""),
            "sources": [str(x) for x in raw.get("sources") or []],
        }
        drug = existing.get(raw["name"])
        if drug is None:
            Drug.objects.create(name=raw["name"], **fields)
            created += 1
        elif any(getattr(drug, key) != value for key, value in fields.items()):
            for key, value in fields.items():
                setattr(drug, key, value)
            drug.save()
            updated += 1
    return created, updated


def copy_rules_and_scores(source: QuestionSetVersion, target: QuestionSetVersion) -> None:
    for score in ScoreDefinition.objects.filter(version=source):
        score.pk = None
        score.version = target
        score.save()
    for rule in Rule.objects.filter(version=source):
        rule.pk = None
        rule.version = target
        rule.save()


def rule_problems(version: QuestionSetVersion) -> list[str]:
    """Every rule's expression checked against the version's questions, scores and formulary."""
    from .evaluation import rule_defs, validator_for

    ruleset = validator_for(version)
    problems = []
    codes = {rule.code for rule in rule_defs(version)}
    for rule in rule_defs(version):
        problems.extend(f"rule {rule.code}: {p.message}" for p in ruleset.problems(rule))
        problems.extend(
            f"rule {rule.code}: superseded_by names unknown rule {code}"
            for code in rule.superseded_by
            if code not in codes
        )
    return problems


def rule_defs_from_data(data: dict):
    """The file's rules as engine definitions, for tests and benchmarks that need no database."""
    from .engine.rules import RuleDef

    return [
        RuleDef(
            **{name: str(raw[name]).strip() for name in RULE_FIELDS},
            patient_message=str(raw.get("patient_message") or "").strip(),
            superseded_by=tuple(raw.get("superseded_by") or ()),
            active=bool(raw.get("active", True)),
        )
        for raw in data.get("rules") or []
    ]


def score_defs_from_data(data: dict):
    from .engine.rules import Band, ScoreDef

    return [
        ScoreDef(
            code=raw["code"],
            name=raw["name"],
            items=tuple(raw["items"]),
            bands=tuple(
                Band(float(b["min"]), float(b["max"]), str(b["label"]))
                for b in raw.get("bands") or []
            ),
            source=str(raw.get("source", "")),
        )
        for raw in data.get("scores") or []
    ]


def default_ruleset_from_files(
    content_path: Path = DEFAULT_CONTENT_FILE, formulary_path: Path = DEFAULT_FORMULARY_FILE
):
    """The default RuleSet straight from the data files (no database)."""
    from .engine.medications import Formulary
    from .engine.resolver import shared_dictionary
    from .engine.rules import RuleSet

    data, _ = read_content(content_path)
    formulary_data, _ = read_content(formulary_path)
    return RuleSet(
        questionnaire_from_data(data),
        rule_defs_from_data(data),
        score_defs_from_data(data),
        Formulary.from_data(formulary_data, shared_dictionary()),
    )
