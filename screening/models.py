"""What the app stores: users, versioned question sets, invitations, screenings and answers.

Models hold data, constraints and small derived properties; every write that spans
models lives in screening/services/. Identifiers that can reach a URL are random UUIDs.
"""

import uuid
from typing import Never

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .engine.medications import DRUG_FIELDS
from .engine.questionnaire import QuestionKind
from .engine.severity import Severity
from .language_names import name_in_english


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    """Everyone who logs in. Patients are users outside the staff groups."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=200)
    is_staff = models.BooleanField(
        default=False, help_text=_("Can log in to the admin site (clinic admins).")
    )
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    # The language the patient reads the app and its emails in (issue 17).
    preferred_language = models.CharField(
        max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self) -> str:
        return self.full_name or self.email

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email

    def in_group(self, name: str) -> bool:
        return self.groups.filter(name=name).exists()

    @property
    def is_clinic_staff(self) -> bool:
        """Physicians and clinic admins: the people who may invite and review patients."""
        if not self.is_authenticated:
            return False
        if self.is_superuser:
            return True
        # Read with the user on each request (screening/accounts/backends.py).
        as_read = self.__dict__.get("clinic_staff_as_read")
        if as_read is not None:
            return as_read
        return self.groups.filter(name__in=STAFF_GROUPS).exists()


PHYSICIAN_GROUP = "Physician"
CLINIC_ADMIN_GROUP = "Clinic admin"
# Records in-clinic vitals and discharge on the session page (issue 14).
NURSE_GROUP = "Nurse"
STAFF_GROUPS = (PHYSICIAN_GROUP, CLINIC_ADMIN_GROUP, NURSE_GROUP)


class QuestionSet(models.Model):
    """A questionnaire a clinic uses (e.g. the ketamine pre-treatment screening)."""

    slug = models.SlugField(unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    # The same as Screening.Purpose: a check-in set's rules also read the patient's baseline
    # intake answers, and its screenings never enter the intake review queue.
    purpose = models.CharField(
        max_length=20,
        choices=[("intake", "Pre-treatment screening"), ("check_in", "Session check-in")],
        default="intake",
    )

    class Meta:
        verbose_name = _("question set")
        verbose_name_plural = _("question sets")

    def __str__(self) -> str:
        return self.name

    @property
    def is_check_in(self) -> bool:
        return self.purpose == "check_in"

    def next_version_number(self) -> int:
        """The number a new version of this set takes: one past the highest, 1 for the first.

        Call it holding this set's row (select_for_update), so two new versions made at once
        get the next two numbers, not a clash."""
        last = self.versions.order_by("-number").values_list("number", flat=True).first()
        return (last or 0) + 1


class QuestionSetVersionQuerySet(models.QuerySet):
    def published(self):
        return self.filter(status=QuestionSetVersion.Status.PUBLISHED)


class QuestionSetVersion(models.Model):
    """One version of a question set. Published versions never change; screenings pin one."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        RETIRED = "retired", _("Retired")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    question_set = models.ForeignKey(QuestionSet, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    notes = models.TextField(blank=True, help_text=_("What changed in this version, for staff."))
    created_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    # Fingerprint of the data file this version was loaded from, so reloading it is a no-op.
    source_digest = models.CharField(max_length=64, blank=True, editable=False)
    # The languages (besides the source, US English) this version's patient-facing texts are
    # translated into, e.g. ["es", "en-gb"]: publishing checks each is complete (issue 17).
    languages = models.JSONField(default=list, blank=True)

    objects = QuestionSetVersionQuerySet.as_manager()

    class Meta:
        verbose_name = _("question set version")
        verbose_name_plural = _("question set versions")
        ordering = ["question_set", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["question_set", "number"], name="unique_version_number"
            ),
            # At most one version of a question set is live at a time.
            models.UniqueConstraint(
                fields=["question_set"],
                condition=Q(status="published"),
                name="one_published_version_per_set",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.question_set.name} v{self.number} ({self.get_status_display()})"

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT


class ContentTranslation(models.Model):
    """One patient-facing text of a version in one language, by its key (see
    screening/engine/translations.py for the keys).

    Kept in the version's own rows, like its questions: frozen with the version when it is
    published, checked per version on publish, copied into a new draft, and a language is
    added without a schema change. `source_text` is the source wording the translation was
    made from: when the source changes, the translation is out of date until redone.
    """

    version = models.ForeignKey(
        QuestionSetVersion, on_delete=models.CASCADE, related_name="translations"
    )
    language = models.CharField(max_length=10)
    key = models.CharField(max_length=200)
    source_text = models.TextField(blank=True)
    text = models.TextField(blank=True)
    # A validated instrument's item whose official translation is not available to us: the
    # patient sees the official English wording with a note, never a home-made translation.
    no_official_translation = models.BooleanField(default=False)

    class Meta:
        ordering = ["version", "language", "key"]
        constraints = [
            models.UniqueConstraint(
                fields=["version", "language", "key"], name="unique_translation_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.language})"


class Section(models.Model):
    """One page of the intake wizard."""

    version = models.ForeignKey(
        QuestionSetVersion, on_delete=models.CASCADE, related_name="sections"
    )
    code = models.SlugField(max_length=64)
    title = models.CharField(max_length=200)
    intro = models.TextField(blank=True)
    show_when = models.TextField(
        blank=True, help_text=_("Skip the whole page unless this expression is true.")
    )
    position = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("section")
        verbose_name_plural = _("sections")
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "code"], name="unique_section_code"),
            models.UniqueConstraint(fields=["version", "position"], name="unique_section_position"),
        ]

    def __str__(self) -> str:
        return self.title


class Question(models.Model):
    version = models.ForeignKey(
        QuestionSetVersion, on_delete=models.CASCADE, related_name="questions"
    )
    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="questions")
    code = models.SlugField(
        max_length=64,
        help_text=_("Stable name used in expressions; never reuse it for another meaning."),
    )
    text = models.TextField()
    help_text = models.TextField(blank=True)
    kind = models.CharField(max_length=20, choices=QuestionKind.choices())
    required = models.BooleanField(default=True)
    min_value = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    max_value = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    unit = models.CharField(max_length=20, blank=True)
    show_when = models.TextField(blank=True, help_text=_("Ask only when this expression is true."))
    position = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["section__position", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "code"], name="unique_question_code"),
            models.CheckConstraint(
                condition=Q(min_value__isnull=True)
                | Q(max_value__isnull=True)
                | Q(min_value__lte=models.F("max_value")),
                name="question_min_not_above_max",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    value = models.SlugField(max_length=64)
    label = models.CharField(max_length=300)
    score = models.IntegerField(null=True, blank=True)
    exclusive = models.BooleanField(
        default=False, help_text=_('Cannot be combined with other choices (e.g. "None of these").')
    )
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["question", "position"]
        constraints = [
            models.UniqueConstraint(fields=["question", "value"], name="unique_choice_value"),
        ]

    def __str__(self) -> str:
        return self.label


class Invitation(models.Model):
    """A single-use link through which a patient sets their password."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    full_name = models.CharField(max_length=200)
    email = models.EmailField()
    # Chosen by staff: the invitation email is written in it, and the account starts in it.
    language = models.CharField(
        max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    # Only a hash is stored, so a database leak does not leak working links.
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="invitations_sent"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="invitations_accepted",
    )

    class Meta:
        verbose_name = _("invitation")
        verbose_name_plural = _("invitations")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Invitation for {self.full_name}"

    @property
    def language_name(self) -> str:
        """For staff: "Spanish", not "Español"."""
        return name_in_english(self.language)

    @property
    def is_usable(self) -> bool:
        return self.accepted_at is None and self.expires_at > timezone.now()


class AuthenticatorSetupLink(models.Model):
    """A single-use, expiring link emailed to a staff member: with their password, the only
    way to set up an authenticator app, so a password alone can never enrol a new device.

    Opening it swaps the token for this row's id in the session (the token is spent then);
    setting up the app marks it used. Only the account's newest link works.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="authenticator_links"
    )
    # Only a hash is stored, so a database leak does not leak working links.
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    opened_at = models.DateTimeField(null=True, blank=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"], name="authlink_user_newest")]

    def __str__(self) -> str:
        return f"Authenticator set-up link for {self.user}"


class ScreeningQuerySet(models.QuerySet):
    def for_patient(self, user):
        return self.filter(patient=user)

    def intakes(self):
        """Pre-treatment screenings only, not the check-ins before sessions."""
        return self.filter(purpose=Screening.Purpose.INTAKE)

    def check_ins(self):
        return self.filter(purpose=Screening.Purpose.CHECK_IN)

    def in_progress(self):
        """Open for the patient to edit: started, or sent back for more information."""
        return self.filter(status__in=Screening.EDITABLE_STATUSES)

    def awaiting_review(self):
        return self.filter(status=Screening.Status.SUBMITTED)

    def in_queue_order(self):
        """Most urgent first (urgent, contraindicated, caution, info, none), then oldest first."""
        return self.order_by("-level_rank", "submitted_at", "id")


class Screening(models.Model):
    """One questionnaire a patient answers, pinned to the question-set version it was
    answered on: the pre-treatment intake, or a check-in before one treatment session."""

    class Purpose(models.TextChoices):
        INTAKE = "intake", _("Pre-treatment screening")
        CHECK_IN = "check_in", _("Session check-in")

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", _("In progress")
        # A physician asked for more information: the patient edits and resubmits.
        WAITING_FOR_PATIENT = "waiting_for_patient", _("Waiting for patient")
        SUBMITTED = "submitted", _("Awaiting review")
        DECIDED = "decided", _("Decided")

    # The statuses in which the patient may change answers and submit.
    EDITABLE_STATUSES = ("in_progress", "waiting_for_patient")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="screenings"
    )
    version = models.ForeignKey(
        QuestionSetVersion, on_delete=models.PROTECT, related_name="screenings"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.IN_PROGRESS)
    purpose = models.CharField(max_length=20, choices=Purpose.choices, default=Purpose.INTAKE)
    # The language the patient answered in (the one they last saved a page in); staff always
    # read the answers in the source language, with this noted.
    language = models.CharField(
        max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    submitted_at = models.DateTimeField(null=True, blank=True)
    consent_acknowledged_at = models.DateTimeField(null=True, blank=True)
    # Set by evaluation on submit: the highest flag's severity ("" when nothing was raised),
    # and the scores with their bands, as [{"code", "name", "value", "band"}].
    level = models.CharField(max_length=20, blank=True)
    # 4 urgent, 3 contraindicated, 2 caution, 1 info, 0 nothing: the queue's sort key.
    level_rank = models.PositiveSmallIntegerField(default=0)
    flag_count = models.PositiveIntegerField(default=0)
    scores = models.JSONField(default=list, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    # Bumped by every physician write; a save carrying an older number is refused, so two
    # physicians working the same screening can never overwrite each other.
    lock_version = models.PositiveIntegerField(default=0)
    # Shown to the patient when a physician asks for more information and reopens the intake.
    message_to_patient = models.TextField(blank=True)
    # How many times it was submitted (one Submission each): above 1, it was resubmitted.
    submission_count = models.PositiveIntegerField(default=0)
    # When a physician last asked for more information (the queue shows how long ago).
    information_requested_at = models.DateTimeField(null=True, blank=True)
    # Reminder emails sent since the patient last had something to do (a new intake, or a
    # request for more information), and when the last one went; `reminders_exhausted_at`
    # is set when the last allowed reminder went unanswered and staff are told.
    reminders_sent = models.PositiveSmallIntegerField(default=0)
    last_reminded_at = models.DateTimeField(null=True, blank=True)
    reminders_exhausted_at = models.DateTimeField(null=True, blank=True)
    # When this urgent submission was sent, while no physician has opened it: the queue's
    # "not yet opened" clock, read with the row (ReviewClock keeps the history).
    urgent_unopened_since = models.DateTimeField(null=True, blank=True)
    # A re-screening: the decided screening whose clearance expired or a physician asked to
    # be repeated. Its answers pre-filled this one (copied, never moved) and the physician's
    # page compares the two.
    previous = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="rescreenings"
    )

    objects = ScreeningQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        permissions = [
            ("review_screening", "Can read submitted screenings and the review queue"),
            ("decide_screening", "Can acknowledge flags and sign decisions"),
        ]
        constraints = [
            # A patient works on one intake at a time; two tabs cannot start two. Check-ins
            # are one per session (TreatmentSession.check_in), so they are not counted here.
            models.UniqueConstraint(
                fields=["patient"],
                condition=Q(status__in=["in_progress", "waiting_for_patient"], purpose="intake"),
                name="one_open_screening_per_patient",
            ),
            models.CheckConstraint(
                condition=Q(status="in_progress") | Q(submitted_at__isnull=False),
                name="submitted_screening_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "submitted_at"], name="screening_status_time"),
            # The review queue: most urgent first, then oldest first.
            models.Index(
                "status",
                models.F("level_rank").desc(),
                "submitted_at",
                name="screening_queue_order",
            ),
            models.Index(fields=["level", "submitted_at"], name="screening_level_time"),
            # The queue's default view (review/forms.py QueueFilterForm): intakes awaiting
            # review, and urgent ones sent back to the patient. The OR keeps PostgreSQL off
            # the index above, so this partial index holds exactly those rows, in queue order
            # (100,000 screenings: a sequential scan of 90 ms became an index scan).
            models.Index(
                models.F("level_rank").desc(),
                "submitted_at",
                "id",
                name="screening_default_queue",
                condition=Q(purpose="intake")
                & (Q(status="submitted") | Q(level_rank=4, status="waiting_for_patient")),
            ),
            # The queue's list of patients who did not answer their last reminder.
            models.Index(
                fields=["reminders_exhausted_at"],
                name="screening_unanswered_idx",
                condition=Q(reminders_exhausted_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"Screening of {self.patient} ({self.get_status_display()})"

    @property
    def is_editable(self) -> bool:
        return self.status in self.EDITABLE_STATUSES

    @property
    def answered_in(self) -> str:
        """The language the patient answered in, for staff when it is not the clinic's
        (settings.LANGUAGE_CODE); "" when it is."""
        if self.language.lower() == settings.LANGUAGE_CODE.lower():
            return ""
        return name_in_english(self.language)


class Answer(models.Model):
    """One answer, stored as JSON in the shape its question kind defines (see intake/answers.py)."""

    screening = models.ForeignKey(Screening, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.PROTECT, related_name="answers")
    value = models.JSONField(null=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["screening", "question"], name="one_answer_per_question"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.question.code}={self.value!r}"


class CompletedSection(models.Model):
    """A page the patient has saved with every shown question valid: resume skips it."""

    screening = models.ForeignKey(
        Screening, on_delete=models.CASCADE, related_name="completed_sections"
    )
    section = models.ForeignKey(Section, on_delete=models.CASCADE, related_name="+")
    completed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["screening", "section"], name="section_completed_once"),
        ]

    def __str__(self) -> str:
        return f"{self.section} completed"


class PageDraft(models.Model):
    """What a patient typed on one wizard page and had not saved when their session ended.

    Kept as the raw submitted values (a form field's name to its list of values), never
    checked and never applied to the answers: the page is drawn from it, as typed, the next
    time the same patient opens it, and only pressing Save makes answers of it. Saving the
    page (or submitting the screening) supersedes it and it is removed; a later draft of the
    same page replaces an earlier one. Never shown to staff, never in the admin.
    """

    class Source(models.TextChoices):
        IDLE = "idle", _("Kept by the page as the idle limit came")
        EXPIRED_POST = "expired_post", _("Posted after the session had ended")

    screening = models.ForeignKey(Screening, on_delete=models.CASCADE, related_name="page_drafts")
    section_code = models.SlugField(max_length=64)
    values = models.JSONField(default=dict)
    source = models.CharField(max_length=20, choices=Source.choices)
    kept_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["screening", "section_code"], name="one_draft_per_page"
            ),
        ]

    def __str__(self) -> str:
        return f"Draft of {self.section_code}"


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete a record that is kept as written (audit
    events, flags, acknowledgements, submissions)."""


class ReviewClock(models.Model):
    """One submission's wait for a physician: when it was submitted and who opened it first.

    A row per submission (a resubmission starts a new one), written in the submit's own
    transaction. For an urgent submission the worker alerts every physician again, and
    the on-call address, at `next_alert_at` while nobody has opened it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    screening = models.ForeignKey(Screening, on_delete=models.PROTECT, related_name="clocks")
    submitted_at = models.DateTimeField()
    urgent = models.BooleanField(default=False)
    opened_at = models.DateTimeField(null=True, blank=True)
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    realerts_sent = models.PositiveSmallIntegerField(default=0)
    next_alert_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-submitted_at"]
        indexes = [
            models.Index(
                fields=["screening"],
                name="clock_unopened_idx",
                condition=Q(opened_at__isnull=True),
            ),
            models.Index(fields=["urgent", "-submitted_at"], name="clock_urgent_idx"),
        ]

    def __str__(self) -> str:
        return f"Submitted {self.submitted_at:%Y-%m-%d %H:%M}"

    @property
    def time_to_first_review(self):
        return self.opened_at - self.submitted_at if self.opened_at else None


SEVERITY_CHOICES = Severity.choices()


class ScoreDefinition(models.Model):
    """A total over scale items (e.g. PHQ-9), usable in rules by its code and shown with its band."""

    version = models.ForeignKey(
        QuestionSetVersion, on_delete=models.CASCADE, related_name="score_definitions"
    )
    code = models.SlugField(max_length=64)
    name = models.CharField(max_length=200)
    items = models.JSONField(help_text=_("Question codes of the scale items that are summed."))
    bands = models.JSONField(
        default=list, blank=True, help_text=_('List of {"min": 0, "max": 4, "label": "Minimal"}.')
    )
    source = models.CharField(max_length=300, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "code"], name="unique_score_code")
        ]
        verbose_name = _("score definition")
        verbose_name_plural = _("score definitions")

    def __str__(self) -> str:
        return self.name


# A rule's texts are copied into every flag it raises and shown on the physician's page,
# so each has a limit: several times the longest default text (message 250, rationale 411,
# source 629, patient message 200 characters; the title is a CharField of 200), so real
# texts always fit and a pasted megabyte never does.
RULE_TEXT_LIMITS = {"message": 1000, "rationale": 2000, "source": 2000, "patient_message": 1000}


class Rule(models.Model):
    """A clinical rule: when its expression is true for a screening, it raises a flag."""

    version = models.ForeignKey(QuestionSetVersion, on_delete=models.CASCADE, related_name="rules")
    code = models.SlugField(
        max_length=64, help_text=_("Stable topic name; each is raised at most once.")
    )
    title = models.CharField(max_length=200)
    severity = models.CharField(max_length=20, choices=SEVERITY_CHOICES)
    when = models.TextField(help_text=_('Expression, e.g. bp_systolic > 180 or takes("maoi").'))
    message = models.TextField(
        max_length=RULE_TEXT_LIMITS["message"], help_text=_("What the physician reads first.")
    )
    rationale = models.TextField(
        max_length=RULE_TEXT_LIMITS["rationale"],
        blank=True,
        help_text=_("Why it matters clinically."),
    )
    source = models.TextField(
        max_length=RULE_TEXT_LIMITS["source"],
        help_text=_(
            "The references, in full: a label and its section, a guideline or a paper "
            "(authors, journal, year)."
        ),
    )
    patient_message = models.TextField(
        max_length=RULE_TEXT_LIMITS["patient_message"],
        blank=True,
        help_text=_(
            "Urgent rules only, and required for them: what the patient reads on the "
            "confirmation page when this flag is raised. Plain words, grade 8 or below. "
            "{crisis_resources} shows the clinic's crisis lines; {clinic_name} its name."
        ),
    )
    superseded_by = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Codes of rules that, when raised, suppress this one."),
    )
    active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("rule")
        verbose_name_plural = _("rules")
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "code"], name="unique_rule_code"),
            # The patient's confirmation page shows the message of each urgent flag raised.
            models.CheckConstraint(
                condition=~Q(severity=Severity.URGENT) | ~Q(patient_message=""),
                name="urgent_rule_has_patient_message",
            ),
            # The limits above, kept by the database too (max_length on a TextField is
            # only the form's).
            *(
                models.CheckConstraint(
                    condition=LessThanOrEqual(Length(name), limit),
                    name=f"rule_{name}_within_limit",
                )
                for name, limit in RULE_TEXT_LIMITS.items()
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.severity})"


class PanelCase(models.Model):
    """A synthetic patient of a version's test panel: answers plus the flags they must raise.

    Clinic admins test a draft's rules against these before publishing, never against real
    patients' screenings. Cases are content: copied into a new draft like rules, read-only
    once their version is published.
    """

    version = models.ForeignKey(
        QuestionSetVersion, on_delete=models.CASCADE, related_name="panel_cases"
    )
    name = models.CharField(
        max_length=200, help_text=_("Say who the patient is and what it checks.")
    )
    answers = models.JSONField(
        default=dict,
        help_text=_(
            'Answers keyed by question code, as a patient would give them, e.g. {"pregnant":'
            ' "no", "bp": "120/80", "medications": ["Xanax 0.5 mg"]}. Unanswered questions are'
            " left out."
        ),
    )
    must_raise = models.JSONField(
        default=list, blank=True, help_text=_("Codes of the rules this patient must raise.")
    )
    must_not_raise = models.JSONField(
        default=list, blank=True, help_text=_("Codes of the rules this patient must not raise.")
    )
    nothing_else = models.BooleanField(
        default=False, help_text=_("Fail if any flag other than the ones it must raise is raised.")
    )
    as_of = models.DateField(
        null=True,
        blank=True,
        help_text=_("Evaluate as if on this day, so ages in the case never drift. Blank: today."),
    )
    note = models.TextField(
        blank=True, help_text=_("Why the case exists, e.g. its clinical source.")
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["version", "position", "pk"]
        verbose_name = _("test panel case")
        constraints = [
            models.UniqueConstraint(fields=["version", "name"], name="unique_panel_case_name")
        ]

    def __str__(self) -> str:
        return self.name


class Drug(models.Model):
    """One formulary entry: a drug, substance, food or combination product patients may type."""

    name = models.CharField(max_length=120, unique=True, help_text=_("Generic name, lower case."))
    classes = models.JSONField(
        default=list, blank=True, help_text=_('Formulary classes, e.g. ["opioid"].')
    )
    components = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Combination products: the names of their component entries."),
    )
    brands = models.JSONField(default=list, blank=True)
    synonyms = models.JSONField(
        default=list, blank=True, help_text=_("Misspellings and other spellings.")
    )
    slang = models.JSONField(
        default=list,
        blank=True,
        help_text=_("Street names, matched only in the recreational list."),
    )
    form = models.CharField(max_length=40, blank=True)
    note = models.TextField(blank=True)
    grade = models.CharField(max_length=20, blank=True)
    sources = models.JSONField(default=list, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("drug")
        verbose_name_plural = _("drugs")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def as_row(self) -> dict[str, object]:
        """The entry as the engine reads it: one value per field of engine.medications.Drug
        (the snapshot builds the formulary from these; the admin checks a change with them)."""
        return {name: getattr(self, name) for name in sorted(DRUG_FIELDS)}


class DrugClass(models.Model):
    name = models.SlugField(max_length=64, unique=True)
    description = models.CharField(max_length=300)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = _("drug classes")

    def __str__(self) -> str:
        return self.name


class FlagQuerySet(models.QuerySet):
    """Flags are history: never deleted, retired instead (see Flag)."""

    def delete(self):
        raise AppendOnlyError("Flags are never deleted; a flag no longer raised is retired.")

    def current(self):
        return self.filter(retired_at__isnull=True)


class CurrentFlagManager(models.Manager.from_queryset(FlagQuerySet)):
    """The flags the latest evaluation raised: what every reader means by a screening's flags."""

    def get_queryset(self):
        return super().get_queryset().current()


class Flag(models.Model):
    """A concern raised by a rule for one submitted screening, with the evidence behind it.

    Flags are kept for good. A resubmission re-evaluates the screening: a flag raised again
    with the same evidence is the same row (its acknowledgement and note stand); a flag whose
    evidence changed is retired and a new flag `replaces` it (to be acknowledged again, the
    earlier note shown beside it); a flag no longer raised is retired. `Flag.objects` and
    `screening.flags` read current flags only; `Flag.with_retired` reads the history too.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    screening = models.ForeignKey(Screening, on_delete=models.CASCADE, related_name="flags")
    code = models.SlugField(max_length=64)
    severity = models.CharField(max_length=20, choices=SEVERITY_CHOICES)
    title = models.CharField(max_length=200)
    message = models.TextField()
    rationale = models.TextField(blank=True)
    source = models.TextField(blank=True)
    # The rule's patient message as it was when the flag was raised (urgent flags only).
    patient_message = models.TextField(blank=True)
    evidence = models.JSONField(default=list)
    position = models.PositiveIntegerField(default=0)
    raised_at = models.DateTimeField(default=timezone.now)
    # Set when a later evaluation no longer raised this flag, or raised it on other evidence.
    retired_at = models.DateTimeField(null=True, blank=True)
    # The earlier flag of the same topic this one follows (its evidence differed, or it had
    # stopped being raised): its acknowledgement is shown beside this one.
    replaces = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="replaced_by"
    )

    objects = CurrentFlagManager()
    with_retired = FlagQuerySet.as_manager()

    class Meta:
        ordering = ["screening", "position"]
        base_manager_name = "with_retired"
        constraints = [
            # Each topic is raised once per screening, whatever happens in the code above;
            # retired flags of the topic are its history.
            models.UniqueConstraint(
                fields=["screening", "code"],
                condition=Q(retired_at__isnull=True),
                name="one_flag_per_topic",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.severity})"

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Flags are never deleted; a flag no longer raised is retired.")


class RecognisedMedication(models.Model):
    """One typed medication entry: what the patient wrote beside what it was recognised as."""

    screening = models.ForeignKey(Screening, on_delete=models.CASCADE, related_name="medications")
    question_code = models.SlugField(max_length=64)
    typed = models.CharField(max_length=200)
    dose = models.CharField(max_length=200, blank=True)
    frequency = models.CharField(max_length=200, blank=True)
    matched = models.CharField(max_length=120, blank=True)
    components = models.JSONField(default=list, blank=True)
    classes = models.JSONField(default=list, blank=True)
    score = models.FloatField(default=0)
    method = models.CharField(max_length=20, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["screening", "position"]
        verbose_name = _("recognized medication")
        verbose_name_plural = _("recognized medications")

    def __str__(self) -> str:
        return f"{self.typed} -> {self.matched or 'unrecognized'}"


class FlagAcknowledgementQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("An acknowledgement is never changed.")

    def delete(self):
        raise AppendOnlyError("An acknowledgement and its note are never deleted.")


class FlagAcknowledgement(models.Model):
    """A physician's note that they have read a flag. Clinical documentation: never edited or
    deleted (on PostgreSQL a trigger refuses both), and its flag cannot be deleted under it.

    A resubmission keeps it: a flag raised again on the same evidence keeps its row and so
    its acknowledgement; a flag whose evidence changed is retired with its acknowledgement,
    and the new flag that replaces it, to be acknowledged again, shows the earlier note.
    """

    flag = models.OneToOneField(Flag, on_delete=models.PROTECT, related_name="acknowledgement")
    physician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)
    acknowledged_at = models.DateTimeField(default=timezone.now)

    objects = FlagAcknowledgementQuerySet.as_manager()

    def __str__(self) -> str:
        return f"{self.flag.code} acknowledged by {self.physician}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("An acknowledgement is never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("An acknowledgement and its note are never deleted.")


class Decision(models.Model):
    """A signed decision. Never edited: an amendment is a new decision pointing at the old one."""

    class Outcome(models.TextChoices):
        CLEARED = "cleared", _("Cleared for treatment")
        CLEARED_WITH_CONDITIONS = "cleared_with_conditions", _("Cleared with conditions")
        NOT_A_CANDIDATE = "not_a_candidate", _("Not a candidate")
        MORE_INFORMATION_NEEDED = "more_information_needed", _("More information needed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    screening = models.ForeignKey(Screening, on_delete=models.PROTECT, related_name="decisions")
    physician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(max_length=30, choices=Outcome.choices)
    conditions = models.TextField(blank=True)
    reason = models.TextField(blank=True)
    message_to_patient = models.TextField(blank=True)
    override_reason = models.TextField(
        blank=True, help_text=_("Why the patient is cleared despite a contraindication.")
    )
    # The level and flags the physician saw when signing, as they were at that moment.
    level_at_decision = models.CharField(max_length=20, blank=True)
    flag_codes = models.JSONField(default=list, blank=True)
    signed_name = models.CharField(max_length=200)
    signed_at = models.DateTimeField(default=timezone.now)
    amends = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="amendments"
    )

    class Meta:
        ordering = ["screening", "signed_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(outcome="cleared_with_conditions") | ~Q(conditions=""),
                name="conditions_required",
            ),
            models.CheckConstraint(
                condition=~Q(outcome="not_a_candidate") | ~Q(reason=""), name="reason_required"
            ),
            models.CheckConstraint(
                condition=~Q(outcome="more_information_needed") | ~Q(message_to_patient=""),
                name="message_required",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} by {self.signed_name}"


class RescreeningRequest(models.Model):
    """A physician asked a patient to repeat the full intake: the clearance signed on this
    screening is no longer valid from `requested_at`. One per screening (a second press of
    the button is the same request). The reason is the physician's note, never the patient's
    to read: the patient is told only that their doctor asks them to answer again."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    screening = models.OneToOneField(
        Screening, on_delete=models.PROTECT, related_name="rescreening_request"
    )
    physician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    signed_name = models.CharField(max_length=200)
    reason = models.TextField()
    requested_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="rescreening_reason_required"),
        ]

    def __str__(self) -> str:
        return f"Re-screening asked by {self.signed_name}"


class SubmissionQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("A submission's snapshot is never changed.")

    def delete(self):
        raise AppendOnlyError("A submission's snapshot is never deleted.")

    def bulk_update(self, objs, fields, batch_size=None):
        raise AppendOnlyError("A submission's snapshot is never changed.")


class Submission(models.Model):
    """What one submission of a screening was, as it was: never edited (like a decision).

    Written by the submit, in its transaction, after the evaluation: the answers on file
    ({question code: stored value}, hidden ones included), the flags raised (code, severity,
    title, evidence, and the acknowledgement each carried at that moment, if any), the level
    and the scores. `in_reply_to` is the "more information needed" decision it answered.
    """

    id = models.BigAutoField(primary_key=True)
    screening = models.ForeignKey(Screening, on_delete=models.PROTECT, related_name="submissions")
    number = models.PositiveIntegerField()
    submitted_at = models.DateTimeField()
    answers = models.JSONField(default=dict)
    flags = models.JSONField(default=list)
    level = models.CharField(max_length=20, blank=True)
    scores = models.JSONField(default=list)
    in_reply_to = models.ForeignKey(
        Decision, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = SubmissionQuerySet.as_manager()

    class Meta:
        ordering = ["screening", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["screening", "number"], name="one_submission_per_number"
            ),
            models.CheckConstraint(condition=Q(number__gte=1), name="submission_number_from_1"),
        ]

    def __str__(self) -> str:
        return f"Submission {self.number} of {self.screening_id}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("A submission's snapshot is never changed.")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("A submission's snapshot is never deleted.")


class AuditEventQuerySet(models.QuerySet):
    """Bulk writes would skip the hash chain or rewrite history, so they are refused."""

    def update(self, **kwargs) -> Never:
        raise AppendOnlyError("Audit events are never updated.")

    def delete(self) -> Never:
        raise AppendOnlyError("Audit events are never deleted.")

    def bulk_create(self, objs, *args, **kwargs) -> Never:
        raise AppendOnlyError("Audit events are written one at a time by screening.audit.record.")

    def bulk_update(self, objs, fields, batch_size=None) -> Never:
        raise AppendOnlyError("Audit events are never updated.")


class AuditAction(models.TextChoices):
    """Every action the audit log records, with the words the log's filter shows.

    ``screening.audit.record`` is called with one of these; the stored value is the string
    ("screening.viewed"), so events written before this list existed read the same.
    """

    SCREENING_VIEWED = "screening.viewed", _("Screening viewed")
    SCREENING_PRINTED = "screening.printed", _("Screening printed")
    SCREENING_EXPORTED = "screening.exported", _("Screening downloaded as a FHIR Bundle")
    DRAFT_PREVIEW = "screening.draft_preview", _("Draft's effect on screenings previewed")
    FLAG_ACKNOWLEDGED = "flag.acknowledged", _("Flag acknowledged")
    DECISION_RECORDED = "decision.recorded", _("Decision signed")
    DECISION_AMENDED = "decision.amended", _("Amended decision signed")
    CONTENT_ADDED = "content.added", _("Content added")
    CONTENT_CHANGED = "content.changed", _("Content changed")
    CONTENT_DELETED = "content.deleted", _("Content deleted")
    DRAFT_MADE = "content.draft_made", _("Draft version made")
    PUBLISHED = "content.published", _("Version published")
    IMPORTED = "content.imported", _("Questionnaire imported from FHIR")
    TWO_FACTOR_ENROLLED = "two_factor.enrolled", _("Authenticator app set up")
    TWO_FACTOR_VERIFIED = "two_factor.verified", _("Second-factor code accepted")
    TWO_FACTOR_FAILED = "two_factor.failed", _("Second-factor code refused")
    TWO_FACTOR_LINK_SENT = "two_factor.link_sent", _("Authenticator set-up link emailed")
    TWO_FACTOR_LINK_OPENED = "two_factor.link_opened", _("Authenticator set-up link opened")
    TWO_FACTOR_REMOVED = "two_factor.removed", _("Authenticator app removed")
    FHIR_TOKEN_ISSUED = "fhir.token_issued", _("FHIR API token issued")
    FHIR_TOKEN_REVOKED = "fhir.token_revoked", _("FHIR API token revoked")
    FHIR_READ = "fhir.read", _("Read through the FHIR API")
    URGENT_RESPONSE_VIEWED = "urgent_response.viewed", _("Urgent response times read")
    QUEUE_VIEWED = "queue.viewed", _("Review queue read")
    PATIENT_COURSE_VIEWED = "patient.course_viewed", _("Patient's course of symptoms read")
    SESSIONS_BOARD_VIEWED = "sessions.board_viewed", _("Sessions board read")
    COURSE_START_VIEWED = "course.start_viewed", _("Cleared patients listed to start a course")
    COURSE_STARTED = "course.started", _("Treatment course started")
    COURSE_VIEWED = "course.viewed", _("Treatment course read")
    SESSION_SCHEDULED = "session.scheduled", _("Treatment session scheduled")
    SESSION_VIEWED = "session.viewed", _("Treatment session read")
    SESSION_CANCELLED = "session.cancelled", _("Treatment session canceled")
    SESSION_RESCHEDULED = "session.rescheduled", _("Treatment session moved")
    COURSE_ENDED = "course.ended", _("Treatment course ended")
    VITALS_RECORDED = "session.vitals_recorded", _("Session vitals recorded")
    DOSE_RECORDED = "session.dose_recorded", _("Dose recorded as given")
    DISCHARGE_RECORDED = "session.discharge_recorded", _("Discharge recorded")
    BLOOD_PRESSURE_REVIEWED = "session.bp_reviewed", _("Pre-dose blood pressure reviewed")
    RESCREENING_REQUESTED = "rescreening.requested", _("Re-screening asked for")


class AuditEvent(models.Model):
    """Append-only record of who read or changed what, when and from where.

    Every row is chained to the one before it: ``row_hash`` is a SHA-256 over its own
    fields and ``previous_hash`` (the row_hash of the previous row by id), so an edited,
    deleted or inserted row breaks the chain (``manage.py verify_audit``). Rows are
    written only by ``screening.audit.record``; on PostgreSQL triggers also refuse
    UPDATE, DELETE and TRUNCATE.
    """

    id = models.BigAutoField(primary_key=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    action = models.CharField(max_length=40, db_index=True)
    screening = models.ForeignKey(
        Screening, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_events"
    )
    object_type = models.CharField(max_length=60, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    summary = models.CharField(max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    # Unique: two writers that chained to the same predecessor would fork the chain, so
    # the database refuses the second one even if the writers' lock were ever missing.
    previous_hash = models.CharField(max_length=64, unique=True, editable=False)
    row_hash = models.CharField(max_length=64, editable=False)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor} {self.action}"

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise AppendOnlyError("Audit events are never updated.")
        if not self.row_hash:
            raise AppendOnlyError("Audit events are written only by screening.audit.record.")
        # Never let a preset primary key turn this insert into an UPDATE of another row.
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs) -> Never:
        raise AppendOnlyError("Audit events are never deleted.")


class PasswordResetRequest(models.Model):
    """A password-reset email that was let through, counted for the rate limit.

    Only granted requests are kept, so a flood cannot push a real request out of the window;
    rows older than the window are deleted as new ones come in. The address typed is kept
    only as a keyed hash: counting needs equality, not the address.
    """

    requested_at = models.DateTimeField(default=timezone.now)
    email_digest = models.CharField(max_length=64)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["email_digest", "requested_at"], name="reset_by_email_idx"),
            models.Index(fields=["ip_address", "requested_at"], name="reset_by_address_idx"),
            models.Index(fields=["requested_at"], name="reset_by_time_idx"),
        ]

    def __str__(self) -> str:
        return f"Password reset requested {self.requested_at:%Y-%m-%d %H:%M}"


class UndeliveredEmailQuerySet(models.QuerySet):
    def unresolved(self):
        return self.filter(resolved_at__isnull=True)


class UndeliveredEmail(models.Model):
    """An email the worker gave up on after every retry, kept so staff can act on it.

    It names what the email was about (an invitation, a screening, an account) and the last
    error's class, never the email's text or the error's message, so it holds no health data.
    """

    class Kind(models.TextChoices):
        INVITATION = "invitation", _("Invitation to a patient")
        PASSWORD_RESET = "password_reset", _("Password-reset link")
        URGENT_ALERT = "urgent_alert", _("Urgent screening alert to physicians")
        TWO_FACTOR_ENROLLED = "two_factor_enrolled", _("Notice of a new authenticator app")
        AUTHENTICATOR_SETUP_LINK = "authenticator_setup_link", _("Authenticator set-up link")
        URGENT_REALERT = "urgent_realert", _("Urgent screening not yet opened: alert again")
        PATIENT_NOTICE = "patient_notice", _("Notice to a patient that there is news")
        PATIENT_REMINDER = "patient_reminder", _("Reminder to a patient")
        CHECK_IN_INVITATION = "check_in_invitation", _("Invitation to a session check-in")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    object_type = models.CharField(max_length=60)
    object_id = models.CharField(max_length=64)
    attempts = models.PositiveSmallIntegerField()
    error = models.CharField(max_length=200)
    failed_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = UndeliveredEmailQuerySet.as_manager()

    class Meta:
        verbose_name = _("undelivered email")
        verbose_name_plural = _("undelivered emails")
        ordering = ["-failed_at"]
        indexes = [
            models.Index(
                fields=["failed_at"],
                name="undelivered_open_idx",
                condition=Q(resolved_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} not delivered ({self.failed_at:%Y-%m-%d %H:%M})"


# FHIR API tokens ---------------------------------------------------------------------
# One per client system (an EHR's interface engine, a reporting job). Only a SHA-256 hash
# of the token is stored; the token itself is shown once, when it is issued
# (screening/fhir/tokens.py).


class ApiTokenQuerySet(models.QuerySet):
    def usable(self):
        """Neither revoked nor expired."""
        return self.filter(revoked_at__isnull=True, expires_at__gt=timezone.now())


class ApiToken(models.Model):
    """A read-only credential for the FHIR API, for one client system."""

    class Scope(models.TextChoices):
        # Patient data: screenings (QuestionnaireResponse, Bundle) and the question sets.
        SCREENINGS_READ = "screenings.read", _("Read screenings (patient data) and question sets")
        # No patient data at all: for a system that only needs the forms.
        QUESTIONNAIRES_READ = "questionnaires.read", _("Read question sets only (no patient data)")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    client_name = models.CharField(
        max_length=200, help_text=_("The system that will use it, e.g. 'Epic interface engine'.")
    )
    scope = models.CharField(max_length=30, choices=Scope.choices)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    # The token's first characters, so staff can tell tokens apart without the secret.
    token_prefix = models.CharField(max_length=16, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
    )
    requests_per_minute = models.PositiveIntegerField(
        default=120,
        validators=[MinValueValidator(1), MaxValueValidator(6000)],
        help_text=_("Requests beyond this in one minute get 429 Too Many Requests."),
    )
    # The rate limit's current one-minute window, counted in the database so that every
    # app server shares it.
    window_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    window_count = models.PositiveIntegerField(default=0, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        app_label = "screening"
        ordering = ["-created_at"]
        verbose_name = _("FHIR API token")
        permissions = [
            (
                "issue_screening_token",
                "Can issue FHIR API tokens that read screenings (patient data)",
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")), name="api_token_expires_after_issue"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.client_name} ({self.token_prefix}…)"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()

    @property
    def reads_screenings(self) -> bool:
        return self.scope == self.Scope.SCREENINGS_READ


class TreatmentCourse(models.Model):
    """A cleared patient's course of treatment with one product and route."""

    class Product(models.TextChoices):
        IV_KETAMINE = "iv_ketamine", _("Ketamine, intravenous infusion")
        IM_KETAMINE = "im_ketamine", _("Ketamine, intramuscular injection")
        ESKETAMINE_NASAL = "esketamine_nasal", _("Esketamine nasal spray")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="treatment_courses"
    )
    product = models.CharField(max_length=30, choices=Product.choices)
    # The signed clearance the course was started under.
    clearance = models.ForeignKey(
        "Decision", on_delete=models.PROTECT, related_name="treatment_courses"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.TextField(blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_product_display()} for {self.patient}"


class TreatmentSession(models.Model):
    """One visit with one dose, and the check-in the patient answers before it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    course = models.ForeignKey(TreatmentCourse, on_delete=models.PROTECT, related_name="sessions")
    scheduled_for = models.DateTimeField()
    check_in = models.OneToOneField(
        Screening,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="treatment_session",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    # When the patient was emailed the link to the check-in (screening.tasks): at most once.
    check_in_invited_at = models.DateTimeField(null=True, blank=True)
    # A cancelled session is kept, with who cancelled it, when and why (services.sessions).
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    cancel_reason = models.TextField(blank=True)

    # The reason written on the sessions a course's end cancels (services.sessions.end_course):
    # kept in English, as older rows hold it, and shown in the reader's language.
    COURSE_ENDED = "The course ended."

    class Meta:
        ordering = ["scheduled_for"]
        indexes = [models.Index(fields=["scheduled_for"], name="treatment_session_time")]
        permissions = [
            ("schedule_session", "Can start treatment courses and schedule sessions"),
            ("record_vitals", "Can record in-clinic vitals, the dose and discharge"),
        ]

    def __str__(self) -> str:
        return f"Session of {self.course.patient} at {self.scheduled_for:%Y-%m-%d %H:%M}"

    @property
    def shown_cancel_reason(self) -> str:
        """The cancel reason as staff read it: the course's end in their language, or the
        reason as written."""
        if self.cancel_reason == self.COURSE_ENDED:
            return str(_("The course ended."))
        return self.cancel_reason


class AppendOnlyModel(models.Model):
    """A clinical record kept as written: a correction is a new row that supersedes it."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("Session records are never changed; record a correction.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("Session records are never deleted; record a correction.")


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("Session records are never changed; record a correction.")

    def delete(self):
        raise AppendOnlyError("Session records are never deleted; record a correction.")

    def current(self):
        """The rows no later correction supersedes."""
        return self.filter(superseded_by__isnull=True)


class VitalReading(AppendOnlyModel):
    """One set of vital signs taken by a nurse, before the dose or after it."""

    class Timing(models.TextChoices):
        PRE_DOSE = "pre_dose", _("Before the dose")
        POST_DOSE = "post_dose", _("After the dose")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(TreatmentSession, on_delete=models.PROTECT, related_name="readings")
    timing = models.CharField(max_length=20, choices=Timing.choices)
    # For a post-dose reading: the planned time point it answers (settings
    # POST_DOSE_READING_MINUTES), or null for an extra reading.
    planned_minutes = models.PositiveIntegerField(null=True, blank=True)
    systolic = models.PositiveSmallIntegerField()
    diastolic = models.PositiveSmallIntegerField()
    heart_rate = models.PositiveSmallIntegerField()
    spo2 = models.PositiveSmallIntegerField(null=True, blank=True)
    weight_kg = models.DecimalField(max_digits=5, decimal_places=1, null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )
    correction_reason = models.TextField(blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["recorded_at"]

    def __str__(self) -> str:
        return f"{self.systolic}/{self.diastolic} at {self.recorded_at:%H:%M}"


class DoseRecord(AppendOnlyModel):
    """When the dose was given; a correction is a new record superseding this one."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.ForeignKey(TreatmentSession, on_delete=models.PROTECT, related_name="doses")
    given_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    supersedes = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="superseded_by"
    )

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["recorded_at"]

    def __str__(self) -> str:
        return f"Dose given at {self.given_at:%H:%M}"


class DischargeRecord(AppendOnlyModel):
    """The nurse's discharge: recorded only when every criterion was met (services.sessions)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    session = models.OneToOneField(
        TreatmentSession, on_delete=models.PROTECT, related_name="discharge"
    )
    observation_minutes = models.PositiveIntegerField()
    alert_and_oriented = models.BooleanField()
    walks_unaided = models.BooleanField()
    escort_present = models.BooleanField()
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    objects = AppendOnlyQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Discharged at {self.recorded_at:%H:%M}"


class BloodPressureReview(AppendOnlyModel):
    """A physician's go-ahead for one pre-dose reading above the review limit (not the hold
    limit, which no one overrides): a new reading needs a new review."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    reading = models.OneToOneField(VitalReading, on_delete=models.PROTECT, related_name="review")
    physician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    note = models.TextField(blank=True)
    reviewed_at = models.DateTimeField(default=timezone.now)

    objects = AppendOnlyQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Review of {self.reading}"


class SetAsideCheckIn(AppendOnlyModel):
    """A check-in set aside when its session moved to another day (services.sessions): kept
    as the patient wrote it, read by staff as the check-in for the earlier date, and no
    longer the session's (a new one is asked for in the new time's window)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    check_in = models.OneToOneField(Screening, on_delete=models.PROTECT, related_name="set_aside")
    session = models.ForeignKey(
        TreatmentSession, on_delete=models.PROTECT, related_name="set_aside_check_ins"
    )
    # The session's time the check-in was answered for.
    was_scheduled_for = models.DateTimeField()
    set_aside_at = models.DateTimeField(default=timezone.now)
    set_aside_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["set_aside_at"]
        verbose_name = _("set-aside check-in")
        verbose_name_plural = _("set-aside check-ins")

    def __str__(self) -> str:
        return f"Check-in set aside at {self.set_aside_at:%Y-%m-%d %H:%M}"
