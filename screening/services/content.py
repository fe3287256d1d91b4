"""Writes to clinical content (make a draft, lock a draft for an edit, publish) and the audited
preview of a draft's effect on screenings on file.

Every content write locks its version's row (SELECT ... FOR UPDATE) for the rest of its
transaction and checks, under that lock, that the version is still a draft. Publishing
takes the same lock before it validates and runs the test panel, so an edit and the
publication of its version are serialised: the edit either lands before publication (and
is checked by it) or is refused. A published version never changes.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from .. import audit
from ..answers_json import clean_answers
from ..engine.bounded_yaml import MAX_FILE_BYTES
from ..engine.definitions import (
    DEFAULT_CONTENT_FILE,
    DEFAULT_FORMULARY_FILE,
    DEFAULT_PANEL_FILE,
    RULE_FIELDS,
    ContentError,
    expression_problems,
    panel_cases_from_data,
    questionnaire_from_data,
    read_content,
)
from ..engine.medications import Formulary
from ..engine.panel import PanelCaseDef, PanelResult, expectation_problems, run_panel
from ..engine.questionnaire import (
    QuestionnaireDef,
)
from ..engine.severity import Severity
from ..models import (
    RULE_TEXT_LIMITS,
    AuditAction,
    Choice,
    ContentTranslation,
    Drug,
    DrugClass,
    PanelCase,
    Question,
    QuestionSet,
    QuestionSetVersion,
    Rule,
    ScoreDefinition,
    Screening,
    Section,
    User,
)
from ..patient_messages import placeholder_problems
from ..snapshots import (
    checking_baseline,
    draft_ruleset,
    questionnaire_for,
    questionnaire_with_baseline,
    rule_defs,
    translatable_texts_for,
    validator_for,
)
from .evaluation import FlagImpact, preview_publication
from .languages import name_in_english
from .locks import VersionNotEditable, lock_for_editing
from .translations import (
    UnreadableFile,
    copy_translations,
    entry_problems,
    language_gaps,
    offered_languages,
    read_translation_file,
    translation_problems,
)


class PublishRefused(Exception):
    """The draft has invalid expressions or failing test panel cases; nothing was published."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def make_draft(
    *, source: QuestionSetVersion, actor: User, ip_address: str | None
) -> QuestionSetVersion:
    """Copy a version (questions, scores, rules, test panel) into a new draft numbered next."""
    with transaction.atomic():
        # The question set's row serialises drafts and publications of one set, so two
        # admins making drafts at once get the next two numbers, not a clash.
        QuestionSet.objects.select_for_update().get(pk=source.question_set_id)
        # The source's row: a draft being copied cannot be edited halfway through the copy.
        source = QuestionSetVersion.objects.select_for_update().get(pk=source.pk)
        draft = QuestionSetVersion.objects.create(
            question_set=source.question_set,
            number=source.question_set.next_version_number(),
            notes=f"Draft made from version {source.number}",
        )
        write_questionnaire(draft, questionnaire_for(source))
        copy_rules_scores_and_panel(source, draft)
        copy_translations(source, draft)
        audit.record(
            actor=actor,
            ip_address=ip_address,
            action=AuditAction.DRAFT_MADE,
            obj=draft,
            summary=str(draft),
        )
    return draft


@dataclass
class PublishReview:
    """Everything that decides whether a draft may be published; nothing about any patient."""

    problems: list[str]  # invalid show-when and rule expressions
    panel: PanelResult
    # One line per language the version offers and is incomplete in (missing or out of date).
    translations: list[str] = field(default_factory=list)
    # The languages the published version it replaces offers and this one does not: patients
    # reading them would get the English source instead. Allowed only when the admin says so.
    dropped_languages: list[str] = field(default_factory=list)
    published_number: int | None = None

    @property
    def dropped_names(self) -> list[str]:
        return [name_in_english(code) for code in self.dropped_languages]

    def drop_problems(self, allowed: Iterable[str] = ()) -> list[str]:
        """A reason to refuse for each dropped language the admin did not agree to drop."""
        allowed = set(allowed)
        return [
            f"The published version {self.published_number} offers {name_in_english(code)} "
            f"({code}) and this one does not: patients reading {name_in_english(code)} would "
            f"get the English text. Confirm that you mean to publish without "
            f"{name_in_english(code)}, or translate it on the version's translations page."
            for code in self.dropped_languages
            if code not in allowed
        ]

    @property
    def ready(self) -> bool:
        return not self.problems and not self.translations and self.panel.passed

    def reasons(self) -> list[str]:
        return [
            *self.problems,
            *self.translations,
            *(f"Test case {line}" for line in self.panel.reasons()),
        ]


def review_for_publishing(version: QuestionSetVersion) -> PublishReview:
    """Validate every expression, check every language offered is complete, and run the test
    panel (synthetic cases only)."""
    problems = expression_problems(questionnaire_with_baseline(version)) + rule_problems(version)
    review = PublishReview(problems, run_test_panel(version), translation_problems(version))
    published = (
        version.question_set.versions.filter(status=QuestionSetVersion.Status.PUBLISHED)
        .exclude(pk=version.pk)
        .first()
    )
    if published is not None:
        offered = set(version.languages or [])
        review.dropped_languages = [
            code for code in published.languages or [] if code not in offered
        ]
        review.published_number = published.number
    return review


def publish_version(
    *,
    version: QuestionSetVersion,
    actor: User,
    ip_address: str | None,
    drop_languages: Iterable[str] = (),
) -> QuestionSetVersion:
    """Make a draft the live version, if its expressions are valid and its test panel passes.

    A version offering translations must be complete in each (screening/services/translations.py).
    A version that offers fewer languages than the published one it replaces is refused unless
    each language it drops is named in `drop_languages` (the admin confirmed it).
    One transaction: lock the question set and the draft, check and run the panel on the
    content as it is under the lock, retire the live version, publish, write the audit
    event. Raises PublishRefused with the reasons, or VersionNotEditable.
    """
    with transaction.atomic():
        QuestionSet.objects.select_for_update().get(pk=version.question_set_id)
        [locked] = lock_for_editing(version.pk)
        review = review_for_publishing(locked)
        drop_problems = review.drop_problems(drop_languages)
        if not review.ready or drop_problems:
            raise PublishRefused(review.reasons() + drop_problems)
        locked.question_set.versions.filter(status=QuestionSetVersion.Status.PUBLISHED).update(
            status=QuestionSetVersion.Status.RETIRED
        )
        locked.status = QuestionSetVersion.Status.PUBLISHED
        locked.published_at = timezone.now()
        locked.save(update_fields=["status", "published_at"])
        passed = len(review.panel.cases)
        audit.record(
            actor=actor,
            ip_address=ip_address,
            action=AuditAction.PUBLISHED,
            obj=locked,
            summary=f"{locked}; test panel: {passed} of {passed} cases pass"
            + (
                f"; published without {', '.join(review.dropped_names)}"
                if review.dropped_languages
                else ""
            ),
        )
    return locked


# The effect of a draft on real screenings: for those who may read screenings -------------

DRAFT_PREVIEW_ACTION = AuditAction.DRAFT_PREVIEW


@dataclass
class DraftImpact:
    version: QuestionSetVersion
    evaluated: int
    impact: list[FlagImpact] = field(default_factory=list)


def preview_draft_impact(
    *, version: QuestionSetVersion, actor: User, ip_address: str | None
) -> DraftImpact:
    """Evaluate every screening awaiting review with the draft's rules; count flags gained and lost.

    This reads patients' answers, so only someone allowed to read screenings may run it,
    and it is audited as a read of each screening it evaluated: one event per screening
    (as for opening one), written in the same transaction as the read, so the result is
    never shown without its audit trail.
    """
    if not actor.has_perm("screening.review_screening"):
        raise PermissionDenied
    if not version.is_editable:
        raise VersionNotEditable(f"Version {version.number} is not a draft.")
    with transaction.atomic():
        # Intakes on this draft's question set: a check-in is read with its baseline
        # intake, which this preview does not evaluate (none is previewed for a check-in draft).
        screenings = list(
            Screening.objects.awaiting_review()
            .intakes()
            .filter(version__question_set_id=version.question_set_id)
            .order_by("submitted_at", "id")
            .only("id")
        )
        evaluated, impact = preview_publication(version, [s.pk for s in screenings])
        summary = f"Evaluated under draft version {version.number} to preview its effect"
        for screening in screenings:
            audit.record(
                actor=actor,
                ip_address=ip_address,
                action=DRAFT_PREVIEW_ACTION,
                screening=screening,
                obj=version,
                summary=summary,
            )
    return DraftImpact(version, evaluated, impact)


# Loading the content files -------------------------------------------------------------


@transaction.atomic
def load_question_set(
    path: Path = DEFAULT_CONTENT_FILE, panel_path: Path | None = DEFAULT_PANEL_FILE
) -> tuple[QuestionSetVersion, bool]:
    """Publish the file's content and test panel unless the live version came from identical files.

    The panel must pass on the content, as it must for an admin's draft. Returns the
    published version and whether a new one was created.
    """
    data, digest = read_content(path)
    translation_files = translation_files_for(path, data)
    if translation_files:
        # The translation files are part of the version: a change to one makes a new version.
        digests = ":".join(
            hashlib.sha256(file.read_bytes()).hexdigest() for file in translation_files.values()
        )
        digest = hashlib.sha256(f"{digest}:{digests}".encode()).hexdigest()
    panel = panel_cases_from_data({})
    if panel_path is not None:
        panel_data, panel_digest = read_content(panel_path)
        panel = panel_cases_from_data(panel_data)
        # One digest for both files, so a change to either makes a new version.
        digest = hashlib.sha256(f"{digest}:{panel_digest}".encode()).hexdigest()
    meta = data["question_set"]
    purpose = str(meta.get("purpose") or "intake")
    baseline = None
    if purpose == "check_in":
        # A check-in reads the intake's answers: load the intake first.
        baseline = checking_baseline()
        if baseline is None:
            raise ContentError(f"{path.name}: publish the intake before its session check-in.")
    questionnaire = questionnaire_from_data(data, baseline)
    question_set, _ = QuestionSet.objects.get_or_create(
        slug=meta["slug"],
        defaults={
            "name": meta["name"],
            "description": meta.get("description", ""),
            "purpose": purpose,
        },
    )
    live = (
        question_set.versions.select_for_update()
        .filter(status=QuestionSetVersion.Status.PUBLISHED)
        .first()
    )
    if live and live.source_digest == digest:
        return live, False
    version = QuestionSetVersion.objects.create(
        question_set=question_set,
        number=question_set.next_version_number(),
        notes=f"Loaded from {path.name}",
        source_digest=digest,
        languages=list(translation_files),
    )
    write_questionnaire(version, questionnaire)
    write_rules_and_scores(version, data)
    problems = rule_problems(version)
    if problems:
        raise ContentError("Invalid rules:\n" + "\n".join(problems))
    write_translation_files(version, translation_files)
    write_panel_cases(version, panel)
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


TRANSLATIONS_DIRECTORY = "translations"


def translation_files_for(path: Path, data: dict) -> dict[str, Path]:
    """The translation file of each language the content file offers (question_set.languages):
    translations/<slug>.<language>.po beside it."""
    meta = data.get("question_set") or {}
    languages = meta.get("languages") or []
    if not isinstance(languages, list) or not all(isinstance(code, str) for code in languages):
        raise ContentError(f"{path.name}: question_set.languages must be a list of language codes")
    files = {}
    for language in languages:
        if language not in offered_languages():
            raise ContentError(
                f"{path.name}: question_set.languages names {language!r}; the app offers "
                + ", ".join(offered_languages())
            )
        file = path.parent / TRANSLATIONS_DIRECTORY / f"{meta.get('slug')}.{language}.po"
        if not file.is_file():
            raise ContentError(f"{path.name} offers {language}, but {file.name} is missing.")
        if file.stat().st_size > MAX_FILE_BYTES:
            raise ContentError(f"{file.name} is larger than {MAX_FILE_BYTES:,} bytes.")
        files[language] = file
    return files


def write_translation_files(version: QuestionSetVersion, files: dict[str, Path]) -> None:
    """Store each language's PO file on the version; every one must be complete."""

    source = translatable_texts_for(version)
    for language, file in files.items():
        try:
            entries = read_translation_file(file.read_text(encoding="utf-8"), "po")
        except (UnreadableFile, UnicodeDecodeError) as error:
            raise ContentError(f"{file.name}: {error}") from error
        problems = entry_problems(entries, source)
        if problems:
            raise ContentError(f"{file.name}:\n" + "\n".join(problems))
        ContentTranslation.objects.bulk_create(
            ContentTranslation(
                version=version,
                language=language,
                key=entry.key,
                source_text=entry.source,
                text=entry.text.strip(),
                no_official_translation=entry.no_official_translation,
            )
            for entry in entries
        )
        gaps = language_gaps(version, language, source)
        if not gaps.complete:
            raise ContentError(f"{file.name}: {gaps.reason()}")


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


def rule_text_limits() -> dict[str, int]:
    """The most characters each of a rule's texts may have (the admin form's limits too)."""
    return {"title": Rule._meta.get_field("title").max_length, **RULE_TEXT_LIMITS}


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
        if raw.get("severity") == Severity.URGENT and not patient_message:
            missing.append("patient_message (required for an urgent rule)")
        if patient_message and raw.get("severity") != Severity.URGENT:
            raise ContentError(
                f"rule {raw.get('code', position)}: only urgent rules show a patient_message"
            )
        if missing:
            raise ContentError(f"rule {raw.get('code', position)}: missing {', '.join(missing)}")
        for name, limit in rule_text_limits().items():
            length = len(patient_message if name == "patient_message" else str(raw[name]).strip())
            if length > limit:
                raise ContentError(
                    f"rule {raw['code']}: {name} is {length:,} characters long; at most "
                    f"{limit:,} (it is copied into every flag the rule raises)"
                )
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


def write_panel_cases(version: QuestionSetVersion, cases: list[dict]) -> None:
    """Store the file's test panel on a version, each case checked as the admin checks it."""
    questionnaire = questionnaire_with_baseline(version)
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
    rule_codes: Iterable[str],
    answers: object,
    must_raise: object,
    must_not_raise: object,
) -> tuple[dict, list[str]]:
    """A case's answers stored as the intake stores them, and everything wrong with the case.

    Answers are checked as the intake form checks a patient's, so a case is always
    something a real patient could have submitted; expectations must name rules of the
    version.
    """
    cleaned, problems = clean_answers(answers, questionnaire)
    for label, codes in (("must raise", must_raise), ("must not raise", must_not_raise)):
        if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
            problems.append(f'"{label}" must be a list of rule codes.')
            return cleaned, problems
    problems.extend(expectation_problems(must_raise, must_not_raise, rule_codes))
    return cleaned, problems


def rule_problems(version: QuestionSetVersion) -> list[str]:
    """Every rule's expression checked against the version's questions, scores and formulary."""
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


def run_test_panel(version: QuestionSetVersion) -> PanelResult:
    """Evaluate every test panel case of the version with the version's own rules.

    Each case is checked again first: an answer that no longer fits the version (a
    question removed or its choices changed since the case was saved) fails the case with
    the reason, as does an expectation naming a rule that is gone.
    """
    ruleset = draft_ruleset(version)
    cases = []
    for case in PanelCase.objects.filter(version=version).order_by("position", "pk"):
        answers, problems = panel_case_problems(
            ruleset.questionnaire,
            ruleset.rule_codes,
            case.answers,
            case.must_raise,
            case.must_not_raise,
        )
        cases.append(
            PanelCaseDef(
                name=case.name,
                answers=answers,
                must_raise=tuple(case.must_raise) if not problems else (),
                must_not_raise=tuple(case.must_not_raise) if not problems else (),
                nothing_else=case.nothing_else,
                as_of=case.as_of,
                problems=tuple(problems),
            )
        )
    return run_panel(ruleset, cases, timezone.localdate())
