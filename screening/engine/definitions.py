"""Clinical content as data: the reviewable files in content/ read (with bounds) and checked,
then built into the engine's definitions (questionnaire, rules, scores, test panel cases).

Pure Python like the rest of the engine: the same builders serve the files, the database
rows (screening.snapshots) and the tests and benchmarks that run without Django. Writing
content to the database is screening.services.content.
"""

import datetime
import hashlib
import json
from decimal import Decimal
from pathlib import Path

import yaml

from . import bounded_yaml
from .expressions import validate
from .medications import Formulary
from .questionnaire import (
    CHOICE_KINDS,
    QUESTION_KINDS,
    ChoiceDef,
    QuestionDef,
    QuestionnaireDef,
    SectionDef,
    variable_types,
)
from .resolver import shared_dictionary
from .rules import Band, RuleDef, RuleSet, ScoreDef

# The default content files, reviewable in a diff (content/ at the top of the repository).
CONTENT_DIRECTORY = Path(__file__).resolve().parents[2] / "content"
DEFAULT_CONTENT_FILE = CONTENT_DIRECTORY / "ketamine_default.yaml"
DEFAULT_FORMULARY_FILE = CONTENT_DIRECTORY / "formulary.yaml"
DEFAULT_PANEL_FILE = CONTENT_DIRECTORY / "test_panel.yaml"
# The check-in a patient answers before each treatment session, and its own test panel.
DEFAULT_CHECK_IN_FILE = CONTENT_DIRECTORY / "checkin_default.yaml"
DEFAULT_CHECK_IN_PANEL_FILE = CONTENT_DIRECTORY / "checkin_test_panel.yaml"
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


def questionnaire_from_data(
    data: dict, baseline: QuestionnaireDef | None = None
) -> QuestionnaireDef:
    """Check the file's structure and build the engine's definition; raise ContentError on problems.

    A check-in's file is read with its `baseline` (the intake's questionnaire), whose names
    its show-when conditions may use."""
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
    questionnaire = QuestionnaireDef(tuple(sections), baseline)
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


def _decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


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


def _panel_date(value: object, where: str) -> datetime.date | None:
    """A date from the panel file (YAML reads 2026-11-23 as a date; a quoted one is text)."""
    if value is None or isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(str(value))
    except ValueError as error:
        raise ContentError(f"{where}: {value!r} is not a date like 2026-11-23") from error


def rule_defs_from_data(data: dict) -> list[RuleDef]:
    """The file's rules as engine definitions, for tests and benchmarks that need no database."""
    return [
        RuleDef(
            **{name: str(raw[name]).strip() for name in RULE_FIELDS},
            patient_message=str(raw.get("patient_message") or "").strip(),
            superseded_by=tuple(raw.get("superseded_by") or ()),
            active=bool(raw.get("active", True)),
        )
        for raw in data.get("rules") or []
    ]


def score_defs_from_data(data: dict) -> list[ScoreDef]:
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
    content_path: Path = DEFAULT_CONTENT_FILE,
    formulary_path: Path = DEFAULT_FORMULARY_FILE,
    baseline_path: Path | None = None,
) -> RuleSet:
    """The default RuleSet straight from the data files (no database); a check-in's is read
    with its baseline intake's file (`baseline_path`)."""
    data, _ = read_content(content_path)
    formulary_data, _ = read_content(formulary_path)
    baseline = questionnaire_from_data(read_content(baseline_path)[0]) if baseline_path else None
    return RuleSet(
        questionnaire_from_data(data, baseline),
        rule_defs_from_data(data),
        score_defs_from_data(data),
        Formulary.from_data(formulary_data, shared_dictionary()),
    )
