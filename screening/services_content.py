"""Writes to clinical content (make a draft, lock a draft for an edit, publish) and the audited
preview of a draft's effect on screenings on file.

Every content write locks its version's row (SELECT ... FOR UPDATE) for the rest of its
transaction and checks, under that lock, that the version is still a draft. Publishing
takes the same lock before it validates and runs the test panel, so an edit and the
publication of its version are serialised: the edit either lands before publication (and
is checked by it) or is refused. A published version never changes.
"""

from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from . import audit
from .content import (
    copy_rules_scores_and_panel,
    expression_problems,
    rule_problems,
    write_questionnaire,
)
from .engine.panel import PanelResult
from .evaluation import FlagImpact, preview_publication, run_test_panel
from .models import QuestionSet, QuestionSetVersion, Screening, User
from .questionnaire import questionnaire_for


class VersionNotEditable(Exception):
    """The version is published or retired: its content can no longer change."""


class PublishRefused(Exception):
    """The draft has invalid expressions or failing test panel cases; nothing was published."""

    def __init__(self, reasons: list[str]):
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def lock_for_editing(*version_ids) -> list[QuestionSetVersion]:
    """Lock these versions until the current transaction ends; refuse any that is not a draft.

    Call it inside the transaction that writes the content (the admin's add, change and
    delete views each run in one). Rows are locked in primary-key order, so two writers
    locking the same versions can never deadlock.
    """
    ids = {version_id for version_id in version_ids if version_id is not None}
    versions = list(
        QuestionSetVersion.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    )
    for version in versions:
        if not version.is_editable:
            raise VersionNotEditable(
                f"Version {version.number} is {version.get_status_display().lower()}, so its "
                "content can no longer change (it may have been published while you were "
                "editing). Nothing was saved. Make a new draft from it to change it."
            )
    return versions


def make_draft(*, source: QuestionSetVersion, actor: User, ip_address: str | None):
    """Copy a version (questions, scores, rules, test panel) into a new draft numbered next."""
    with transaction.atomic():
        # The question set's row serialises drafts and publications of one set, so two
        # admins making drafts at once get the next two numbers, not a clash.
        QuestionSet.objects.select_for_update().get(pk=source.question_set_id)
        # The source's row: a draft being copied cannot be edited halfway through the copy.
        source = QuestionSetVersion.objects.select_for_update().get(pk=source.pk)
        last = source.question_set.versions.order_by("-number").first()
        draft = QuestionSetVersion.objects.create(
            question_set=source.question_set,
            number=last.number + 1,
            notes=f"Draft made from version {source.number}",
        )
        write_questionnaire(draft, questionnaire_for(source))
        copy_rules_scores_and_panel(source, draft)
        audit.record(
            actor=actor,
            ip_address=ip_address,
            action="content.draft_made",
            obj=draft,
            summary=str(draft),
        )
    return draft


@dataclass
class PublishReview:
    """Everything that decides whether a draft may be published; nothing about any patient."""

    problems: list[str]  # invalid show-when and rule expressions
    panel: PanelResult

    @property
    def ready(self) -> bool:
        return not self.problems and self.panel.passed

    def reasons(self) -> list[str]:
        return [*self.problems, *(f"Test case {line}" for line in self.panel.reasons())]


def review_for_publishing(version: QuestionSetVersion) -> PublishReview:
    """Validate every expression and run the test panel (synthetic cases only)."""
    problems = expression_problems(questionnaire_for(version)) + rule_problems(version)
    return PublishReview(problems, run_test_panel(version))


def publish_version(
    *, version: QuestionSetVersion, actor: User, ip_address: str | None
) -> QuestionSetVersion:
    """Make a draft the live version, if its expressions are valid and its test panel passes.

    One transaction: lock the question set and the draft, check and run the panel on the
    content as it is under the lock, retire the live version, publish, write the audit
    event. Raises PublishRefused with the reasons, or VersionNotEditable.
    """
    with transaction.atomic():
        QuestionSet.objects.select_for_update().get(pk=version.question_set_id)
        [locked] = lock_for_editing(version.pk)
        review = review_for_publishing(locked)
        if not review.ready:
            raise PublishRefused(review.reasons())
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
            action="content.published",
            obj=locked,
            summary=f"{locked}; test panel: {passed} of {passed} cases pass",
        )
    return locked


# The effect of a draft on real screenings: for those who may read screenings -------------

DRAFT_PREVIEW_ACTION = "screening.draft_preview"


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
        screenings = list(
            Screening.objects.awaiting_review().order_by("submitted_at", "id").only("id")
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
