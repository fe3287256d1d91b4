"""Load clinical content (question sets) from the reviewable data files in content/.

The files are the source of truth for the default content: the question set with its
scores and rules, and the test panel of synthetic cases that must pass on it. Loading is
idempotent: the digest of both files is stored on the version they created, so loading
the same files again changes nothing, and a change to either becomes a new published
version (old screenings keep the version they were answered on).
"""

import datetime
import hashlib
import json
from decimal import Decimal
from pathlib import Path

import yaml
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from . import bounded_yaml
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
    PanelCase,
    Question,
    QuestionSet,
    QuestionSetVersion,
    Rule,
    ScoreDefinition,
    Section,
)
from .questionnaire import questionnaire_for

DEFAULT_CONTENT_FILE = Path(settings.BASE_DIR) / "content" / "ketamine_default.yaml"
DEFAULT_FORMULARY_FILE = Path(settings.BASE_DIR) / "content" / "formulary.yaml"
DEFAULT_PANEL_FILE = Path(settings.BASE_DIR) / "content" / "test_panel.yaml"
RULE_FIELDS = ("code", "title", "severity", "when", "message", "rationale", "source")


class ContentError(Exception):
    """The data file is malformed; the message says where."""


def read_content(path: Path) -> tuple[dict, str]:
    """The file's data and a digest of it. Every content file is read here, with the bounds
    of bounded_yaml: a small hostile file must not stall or exhaust the server."""
    with path.open("rb") as file:
        # One byte past the limit is enough to know it is too big, whatever stat() says.
        raw = file.read(bounded_yaml.MAX_FILE_BYTES + 1)
    try:
        data = bounded_yaml.load(raw, name=path.name)
    except bounded_yaml.YAMLRefused as error:
        raise ContentError(f"{path.name} was refused: {error}.") from error
    except yaml.YAMLError as error:
        raise ContentError(f"{path.name} is not valid YAML: {error}") from error
    except ValueError as error:
        raise ContentError(f"{path.name} holds a value that cannot be read: {error}") from error
    if not isinstance(data, dict):
        raise ContentError(f"{path.name} must hold a mapping of names to values at the top.")
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
def load_question_set(
    path: Path = DEFAULT_CONTENT_FILE, panel_path: Path | None = DEFAULT_PANEL_FILE
) -> tuple[QuestionSetVersion, bool]:
    """Publish the file's content and test panel unless the live version came from identical files.

    The panel must pass on the content, as it must for an admin's draft. Returns the
    published version and whether a new one was created.
    """
    data, digest = read_content(path)
    panel = panel_cases_from_data({})
    if panel_path is not None:
        panel_data, panel_digest = read_content(panel_path)
        panel = panel_cases_from_data(panel_data)
        # One digest for both files, so a change to either makes a new version.
        digest = hashlib.sha256(f"{digest}:{panel_digest}".encode()).hexdigest()
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
    write_panel_cases(version, panel)
    from .evaluation import run_test_panel

    result = run_test_panel(version)
    if not result.passed:
        raise ContentError("The test panel fails on this content:\n" + "\n".join(result.reasons()))
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
        if missing:
            raise ContentError(f"rule {raw.get('code', position)}: missing {', '.join(missing)}")
        Rule.objects.create(
            version=version,
            **{name: str(raw[name]).strip() for name in RULE_FIELDS},
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


def copy_rules_scores_and_panel(source: QuestionSetVersion, target: QuestionSetVersion) -> None:
    """Copy a version's scores, rules and test panel cases onto a new draft."""
    for model in (ScoreDefinition, Rule, PanelCase):
        for row in model.objects.filter(version=source):
            row.pk = None
            row.version = target
            row.save()


def panel_cases_from_data(data: dict) -> list[dict]:
    """The panel file's cases, each with its answers in full; raise ContentError on problems.

    A case names a patient from `patients` to start from and gives only what it changes
    (null removes an answer), so each case reads as the difference it is about.
    """
    if not isinstance(data, dict):
        raise ContentError("The test panel file must be a mapping with patients and cases.")
    patients = data.get("patients") or {}
    raw_cases = data.get("cases") or []
    if not isinstance(patients, dict) or not all(isinstance(p, dict) for p in patients.values()):
        raise ContentError("test panel: patients must map each name to answers by question code")
    if not isinstance(raw_cases, list):
        raise ContentError("test panel: cases must be a list")
    default_as_of = _panel_date(data.get("as_of"), "test panel: as_of")
    cases: list[dict] = []
    for index, raw in enumerate(raw_cases, start=1):
        if not isinstance(raw, dict) or not str(raw.get("name") or "").strip():
            raise ContentError(f"test panel case {index}: needs a name")
        name = str(raw["name"]).strip()
        where = f"test panel case {index} ({name})"
        if any(case["name"] == name for case in cases):
            raise ContentError(f"{where}: another case has the same name")
        start = raw.get("start_from")
        if start is not None and start not in patients:
            raise ContentError(f"{where}: no patient called {start!r} under patients")
        changes = raw.get("answers") or {}
        if not isinstance(changes, dict):
            raise ContentError(f"{where}: answers must map question codes to answers")
        answers = dict(patients[start]) if start is not None else {}
        for code, value in changes.items():
            if value is None:
                answers.pop(code, None)
            else:
                answers[code] = value
        expectations = {}
        for key in ("must_raise", "must_not_raise"):
            codes = raw.get(key) or []
            if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
                raise ContentError(f"{where}: {key} must be a list of rule codes")
            expectations[key] = codes
        cases.append(
            {
                "name": name,
                "answers": answers,
                **expectations,
                "nothing_else": bool(raw.get("nothing_else", False)),
                "as_of": _panel_date(raw["as_of"], f"{where}: as_of")
                if "as_of" in raw
                else default_as_of,
                "note": str(raw.get("note", "") or "").strip(),
            }
        )
    return cases


def _panel_date(value, where: str) -> datetime.date | None:
    """A date from the panel file (YAML reads 2026-11-23 as a date; a quoted one is text)."""
    if value is None or isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError as error:
        raise ContentError(f"{where}: {value!r} is not a date like 2026-11-23") from error


def write_panel_cases(version: QuestionSetVersion, cases: list[dict]) -> None:
    """Store the file's test panel on a version, each case checked as the admin checks it."""
    questionnaire = questionnaire_for(version)
    rule_codes = set(version.rules.values_list("code", flat=True))
    for position, case in enumerate(cases, start=1):
        answers, problems = panel_case_problems(
            questionnaire, rule_codes, case["answers"], case["must_raise"], case["must_not_raise"]
        )
        if problems:
            raise ContentError(f"test panel case {case['name']}: " + " ".join(problems))
        PanelCase.objects.create(version=version, position=position, **{**case, "answers": answers})


def panel_case_problems(
    questionnaire: QuestionnaireDef,
    rule_codes,
    answers,
    must_raise,
    must_not_raise,
) -> tuple[dict, list[str]]:
    """A case's answers stored as the intake stores them, and everything wrong with the case.

    Answers are checked as the intake form checks a patient's, so a case is always
    something a real patient could have submitted; expectations must name rules of the
    version.
    """
    from .answers_json import clean_answers
    from .engine.panel import expectation_problems

    cleaned, problems = clean_answers(answers, questionnaire)
    for label, codes in (("must raise", must_raise), ("must not raise", must_not_raise)):
        if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
            problems.append(f'"{label}" must be a list of rule codes.')
            return cleaned, problems
    problems.extend(expectation_problems(must_raise, must_not_raise, rule_codes))
    return cleaned, problems


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
