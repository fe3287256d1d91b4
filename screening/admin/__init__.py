"""The clinic admin's workshop: question sets, versions, sections, questions, rules, scores,
the test panel, the formulary, invitations.

Only draft versions can be edited; a published version is read-only here, and a new
draft is made from it with an action. Every content write locks its version's row for the
rest of the admin's transaction and is refused if the version is no longer a draft (see
screening.services.content). Every show-when and rule is checked with the expression validator when
saved, and its errors appear on the form beside the field. A draft is tested against its
test panel of synthetic cases, never against real patients' screenings.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.db import models, transaction
from django.forms.fields import InvalidJSONInput
from django.http import HttpRequest, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tasks_db.models import DBTaskResult

from .. import audit
from ..answers_json import clean_answers
from ..audit_display import identifies_screenings, shown_event
from ..engine.expressions import validate
from ..engine.medications import DRUG_FIELDS, Formulary
from ..engine.panel import PanelCaseDef, expectation_problems, run_case
from ..engine.questionnaire import variable_types
from ..engine.severity import Severity
from ..fhir.admin import import_fhir_questionnaire  # also registers the FHIR API tokens
from ..json_input import BoundedJSONField
from ..models import (
    RULE_TEXT_LIMITS,
    AuditAction,
    AuditEvent,
    Choice,
    Drug,
    DrugClass,
    Invitation,
    PanelCase,
    Question,
    QuestionSet,
    QuestionSetVersion,
    Rule,
    ScoreDefinition,
    Section,
    UndeliveredEmail,
    User,
)
from ..patient_messages import placeholder_problems
from ..services.content import (
    PublishRefused,
    VersionNotEditable,
    lock_for_editing,
    make_draft,
    publish_version,
    review_for_publishing,
)
from ..services.translations import offered_languages
from ..services.two_factor_links import remove_authenticator
from ..snapshots import questionnaire_with_baseline
from .translations import TranslationAdminMixin


class AuditedAdminMixin:
    """Every change made in the admin also goes to the append-only audit log."""

    # Django's JSON form field turns deep nesting and huge integers into a 500.
    formfield_overrides = {models.JSONField: {"form_class": BoundedJSONField}}

    def log_addition(self, request: HttpRequest, obj, message):
        audit.record(request=request, action=AuditAction.CONTENT_ADDED, obj=obj, summary=str(obj))
        return super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj, message):
        audit.record(request=request, action=AuditAction.CONTENT_CHANGED, obj=obj, summary=str(obj))
        return super().log_change(request, obj, message)

    def log_deletions(self, request: HttpRequest, queryset):
        for obj in queryset:
            audit.record(
                request=request, action=AuditAction.CONTENT_DELETED, obj=obj, summary=str(obj)
            )
        return super().log_deletions(request, queryset)


class DraftLockFormMixin:
    """Lock the version a content form writes to, and refuse it unless it is still a draft.

    The admin validates and saves a form in one transaction, so the lock taken here holds
    until the object (and its inlines) are saved: another admin publishing the version
    waits for this save, or this save waits for the publication and is then refused with
    the message on the form, everything typed still in it.
    """

    def clean(self):
        version = self.cleaned_data.get("version")
        if isinstance(self.instance, QuestionSetVersion):
            ids = [self.instance.pk] if not self.instance._state.adding else []
        else:
            ids = [getattr(self.instance, "version_id", None), version.pk if version else None]
        try:
            lock_for_editing(*ids)
        except VersionNotEditable as error:
            raise forms.ValidationError(str(error)) from error
        return super().clean()


class DraftOnlyMixin(AuditedAdminMixin):
    """Published and retired versions, and everything in them, are read-only.

    Changing and deleting are refused per object; adding is refused by offering only
    draft versions (and sections of drafts) in the form. Every write locks the version
    and checks it again inside the write's transaction (DraftLockFormMixin, and below).
    """

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "version":
            kwargs["queryset"] = QuestionSetVersion.objects.filter(
                status=QuestionSetVersion.Status.DRAFT
            )
        elif db_field.name == "section":
            kwargs["queryset"] = Section.objects.filter(
                version__status=QuestionSetVersion.Status.DRAFT
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj, form, change) -> None:
        self._lock(obj)
        super().save_model(request, obj, form, change)

    def delete_model(self, request: HttpRequest, obj) -> None:
        self._lock(obj)
        super().delete_model(request, obj)

    def log_deletions(self, request: HttpRequest, queryset):
        # Django logs a deletion before deleting, and logging takes the audit log's lock:
        # take the version's lock first, so every writer takes the two in the same order
        # (a publication does too) and two of them can never deadlock.
        for obj in queryset:
            self._lock(obj)
        return super().log_deletions(request, queryset)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        for obj in queryset:
            self._lock(obj)
        super().delete_queryset(request, queryset)

    def _lock(self, obj) -> None:
        """Lock the object's version for this transaction; raise VersionNotEditable unless a draft."""
        if isinstance(obj, QuestionSetVersion):
            if not obj._state.adding:
                lock_for_editing(obj.pk)
        else:
            lock_for_editing(obj.version_id)

    def changeform_view(
        self, request: HttpRequest, object_id=None, form_url="", extra_context=None
    ):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except VersionNotEditable as error:  # the form's clean() says it first; never a 500
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(request.path)

    def delete_view(self, request: HttpRequest, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except VersionNotEditable as error:  # published while the confirmation page was open
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(request.path)

    def response_action(self, request: HttpRequest, queryset):
        # One transaction per action, as for the change and delete pages: a bulk delete's
        # locks, audit events and deletions commit together or not at all.
        try:
            with transaction.atomic():
                return super().response_action(request, queryset)
        except VersionNotEditable as error:  # a bulk delete raced a publication
            self.message_user(request, str(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def _version_of(self, obj):
        return obj if isinstance(obj, QuestionSetVersion) else getattr(obj, "version", None)

    def has_change_permission(self, request: HttpRequest, obj=None):
        version = self._version_of(obj) if obj else None
        if version is not None and not version.is_editable:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None):
        version = self._version_of(obj) if obj else None
        if version is not None and not version.is_editable:
            return False
        return super().has_delete_permission(request, obj)


def expression_errors(text: str, names) -> list[str]:
    return [problem.message for problem in validate(text, names)] if text.strip() else []


class ChoiceInline(admin.TabularInline):
    model = Choice
    extra = 0
    fields = ["position", "value", "label", "score", "exclusive"]

    def _editable(self, obj):
        return obj is None or obj.version.is_editable

    def has_change_permission(self, request: HttpRequest, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


class QuestionAdminForm(DraftLockFormMixin, forms.ModelForm):
    class Meta:
        model = Question
        fields = [
            "version",
            "section",
            "position",
            "code",
            "text",
            "help_text",
            "kind",
            "required",
            "min_value",
            "max_value",
            "unit",
            "show_when",
        ]

    def clean(self):
        cleaned = super().clean()
        section = cleaned.get("section")
        version = cleaned.get("version")
        if section and version and section.version_id != version.pk:
            self.add_error("section", gettext("Choose a section of the same version."))
        show_when = cleaned.get("show_when") or ""
        if section and version and show_when.strip():
            names = names_defined_before(version, section.position, cleaned.get("position") or 0)
            for message in expression_errors(show_when, names):
                self.add_error("show_when", message)
        return cleaned


def names_defined_before(version: QuestionSetVersion, section_position: int, position: int):
    """Show-when may only name questions asked earlier than the question being edited."""
    earlier_codes = set(
        Question.objects.filter(version=version)
        .filter(
            models_q_before(section_position, position),
        )
        .values_list("code", flat=True)
    )
    questionnaire = questionnaire_with_baseline(version)
    all_names = variable_types(questionnaire)
    # A check-in's conditions may read any of its baseline intake's answers.
    allowed = variable_types(questionnaire.baseline) if questionnaire.baseline else {}
    for section in questionnaire.sections:
        for question in section.questions:
            if question.code in earlier_codes:
                allowed.update(
                    {
                        name: all_names[name]
                        for name in question.expression_names
                        if name in all_names
                    }
                )
    for derived, sources in (("age", {"date_of_birth"}), ("bmi", {"height_cm", "weight_kg"})):
        if derived in all_names and sources <= earlier_codes:
            allowed[derived] = all_names[derived]
    return allowed


def models_q_before(section_position: int, position: int):
    from django.db.models import Q

    return Q(section__position__lt=section_position) | Q(
        section__position=section_position, position__lt=position
    )


@admin.register(Question)
class QuestionAdmin(DraftOnlyMixin, admin.ModelAdmin):
    form = QuestionAdminForm
    list_display = ["code", "short_text", "kind", "required", "section", "version"]
    list_filter = ["version", "kind", "required"]
    search_fields = ["code", "text"]
    inlines = [ChoiceInline]
    ordering = ["version", "section__position", "position"]

    @admin.display(description=_("Text"))
    def short_text(self, obj):
        return obj.text[:80]


class SectionAdminForm(DraftLockFormMixin, forms.ModelForm):
    class Meta:
        model = Section
        fields = ["version", "position", "code", "title", "intro", "show_when"]

    def clean(self):
        cleaned = super().clean()
        version = cleaned.get("version")
        show_when = cleaned.get("show_when") or ""
        if version and show_when.strip():
            names = names_defined_before(version, cleaned.get("position") or 0, 0)
            for message in expression_errors(show_when, names):
                self.add_error("show_when", message)
        return cleaned


@admin.register(Section)
class SectionAdmin(DraftOnlyMixin, admin.ModelAdmin):
    form = SectionAdminForm
    list_display = ["title", "code", "position", "version"]
    list_filter = ["version"]
    ordering = ["version", "position"]


class SectionInline(admin.TabularInline):
    model = Section
    extra = 0
    fields = ["position", "code", "title"]
    show_change_link = True

    def has_change_permission(self, request: HttpRequest, obj=None):
        return (obj is None or obj.is_editable) and super().has_change_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, obj=None):
        return (obj is None or obj.is_editable) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj=None):
        return (obj is None or obj.is_editable) and super().has_delete_permission(request, obj)


class QuestionSetVersionAdminForm(DraftLockFormMixin, forms.ModelForm):
    languages = forms.MultipleChoiceField(
        label=_("Translations offered"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Patients reading one of these languages see the version's translation; "
            "publishing needs each to be complete. Edit them on the translations page."
        ),
    )

    class Meta:
        model = QuestionSetVersion
        fields = ["question_set", "number", "notes", "languages"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["languages"].choices = list(offered_languages().items())


@admin.register(QuestionSetVersion)
class QuestionSetVersionAdmin(TranslationAdminMixin, DraftOnlyMixin, admin.ModelAdmin):
    form = QuestionSetVersionAdminForm
    list_display = ["__str__", "status", "created_at", "published_at", "translations_link"]
    list_filter = ["question_set", "status"]
    readonly_fields = ["status", "published_at", "created_at", "translations_link"]
    fields = [
        "question_set",
        "number",
        "notes",
        "languages",
        "status",
        "created_at",
        "published_at",
        "translations_link",
    ]

    @admin.display(description=_("Translations"))
    def translations_link(self, obj) -> str:
        if obj is None or obj.pk is None or obj._state.adding:
            return "—"
        url = reverse("admin:screening_questionsetversion_translations", args=[obj.pk])
        offered = ", ".join(obj.languages or []) or gettext("none yet")
        return format_html(
            '<a href="{}">{}</a> ({})',
            url,
            gettext("Translations"),
            gettext("offered: %(languages)s") % {"languages": offered},
        )

    inlines = [SectionInline]
    actions = ["make_draft_copy", "run_test_panel", "publish", import_fhir_questionnaire]

    @admin.action(description=_("Make a new draft from this version"))
    def make_draft_copy(self, request: HttpRequest, queryset) -> None:
        for version in queryset:
            draft = make_draft(
                source=version, actor=request.user, ip_address=audit.client_ip(request)
            )
            self.message_user(
                request,
                gettext("Draft version %(number)s created.") % {"number": draft.number},
                messages.SUCCESS,
            )

    @admin.action(description=_("Run the test panel of this version"))
    def run_test_panel(self, request: HttpRequest, queryset):
        if queryset.count() != 1:
            self.message_user(request, gettext("Choose exactly one version."), messages.ERROR)
            return None
        version = queryset.get()
        return self._review_page(request, version, review_for_publishing(version), confirm=False)

    @admin.action(description=_("Publish this draft (runs its test panel first)"))
    def publish(self, request: HttpRequest, queryset):
        drafts = [version for version in queryset if version.is_editable]
        if len(drafts) != 1 or queryset.count() != 1:
            self.message_user(
                request, gettext("Choose exactly one draft version to publish."), messages.ERROR
            )
            return None
        version = drafts[0]
        refused: list[str] = []
        if request.POST.get("confirm") == "yes":
            try:
                publish_version(
                    version=version,
                    actor=request.user,
                    ip_address=audit.client_ip(request),
                    # The languages the admin ticked "Publish without ..." for.
                    drop_languages=request.POST.getlist("drop_language"),
                )
            except VersionNotEditable as error:
                self.message_user(request, str(error), messages.ERROR)
                return None
            except PublishRefused as error:
                refused = error.reasons
            else:
                self.message_user(
                    request,
                    gettext("%(version)s is now published.") % {"version": version},
                    messages.SUCCESS,
                )
                return None
        return self._review_page(
            request, version, review_for_publishing(version), confirm=True, refused=refused
        )

    def _review_page(self, request: HttpRequest, version, review, *, confirm: bool, refused=()):
        """The test panel's results (and, to publish, the confirmation): synthetic cases only."""
        titles = dict(version.rules.values_list("code", "title"))
        cases = [
            {
                "name": case.name,
                "passed": case.passed,
                "problems": case.problems,
                "missing": [(code, titles.get(code, "")) for code in case.missing],
                "unexpected": [(code, titles.get(code, "")) for code in case.unexpected],
            }
            for case in review.panel.cases
        ]
        cases.sort(key=lambda case: case["passed"])  # failing cases first, in panel order
        return TemplateResponse(
            request,
            "admin/screening/publish_review.html",
            {
                **self.admin_site.each_context(request),
                "title": (
                    gettext("Publish %(version)s?")
                    if confirm
                    else gettext("Test panel of %(version)s")
                )
                % {"version": version},
                "version": version,
                "review": review,
                "cases": cases,
                "failing_count": len(review.panel.failing),
                "confirm": confirm,
                "refused": refused,
                "dropped": [
                    {"code": code, "name": name}
                    for code, name in zip(
                        review.dropped_languages, review.dropped_names, strict=True
                    )
                ],
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )


@admin.register(QuestionSet)
class QuestionSetAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "slug"]


@admin.register(Invitation)
class InvitationAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ["full_name", "email", "created_by", "created_at", "expires_at", "accepted_at"]
    search_fields = ["full_name", "email"]
    readonly_fields = [
        "full_name",
        "email",
        "created_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "patient",
    ]
    exclude = ["token_hash"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Invitations are made on the staff page, which shows the link once.
        return False


class ClinicUserCreationForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "full_name")


class ClinicUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(AuditedAdminMixin, DjangoUserAdmin):
    add_form = ClinicUserCreationForm
    form = ClinicUserChangeForm
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active"]
    list_filter = ["is_staff", "is_active", "groups"]
    search_fields = ["email", "full_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Person"), {"fields": ("full_name",)}),
        (_("Access"), {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "full_name", "usable_password", "password1", "password2"),
            },
        ),
    )
    filter_horizontal = ["groups"]


class RuleAdminForm(DraftLockFormMixin, forms.ModelForm):
    class Meta:
        model = Rule
        fields = [
            "version",
            "position",
            "code",
            "title",
            "severity",
            "when",
            "message",
            "rationale",
            "source",
            "patient_message",
            "superseded_by",
            "active",
        ]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # A published rule's page shows its fields read-only: the form then has none.
        for name in {"title", *RULE_TEXT_LIMITS} & set(self.fields):
            self.fields[name].error_messages["max_length"] = _(
                "At most %(limit_value)s characters: this text is copied into every flag "
                "the rule raises (this has %(show_value)s). Shorten it, and cite long "
                "sources by reference."
            )

    def clean_superseded_by(self):
        # An empty box (or null) means none; the column cannot hold NULL (an IntegrityError).
        value = self.cleaned_data.get("superseded_by")
        return [] if value is None else value

    def clean(self):
        from ..engine.rules import RuleDef
        from ..snapshots import validator_for

        cleaned = super().clean()
        version = cleaned.get("version")
        when = cleaned.get("when") or ""
        if version and when.strip():
            ruleset = validator_for(version)
            rule = RuleDef(code="", title="", severity=Severity.INFO, when=when, message="")
            for problem in ruleset.problems(rule):
                self.add_error("when", problem.message)
        # None only when the box could not be read, and that error is already shown.
        superseded_by = cleaned.get("superseded_by")
        if superseded_by is not None:
            if not is_list_of_text(superseded_by):
                self.add_error(
                    "superseded_by",
                    gettext('Give a list of rule codes, e.g. ["suicide_risk_high"].'),
                )
            elif version and superseded_by:
                known = set(version.rules.values_list("code", flat=True))
                unknown = [code for code in superseded_by if code not in known]
                if unknown:
                    self.add_error(
                        "superseded_by",
                        gettext("Unknown rule codes: %(codes)s.")
                        % {"codes": ", ".join(map(str, unknown))},
                    )
        self._check_patient_message(cleaned)
        return cleaned

    def _check_patient_message(self, cleaned: dict) -> None:
        """Urgent rules name what the patient reads; other flags show the patient nothing."""
        message = (cleaned.get("patient_message") or "").strip()
        cleaned["patient_message"] = message
        severity = cleaned.get("severity")
        if severity == Severity.URGENT and not message:
            self.add_error(
                "patient_message",
                gettext(
                    "An urgent rule needs a patient message: what the patient reads on the "
                    "confirmation page when this flag is raised (for a suicide-risk rule, "
                    "include {crisis_resources})."
                ),
            )
        elif message and severity and severity != Severity.URGENT:
            self.add_error(
                "patient_message",
                gettext(
                    "Only urgent flags show a message to the patient. Clear this box, or make "
                    "the rule urgent."
                ),
            )
        for problem in placeholder_problems(message):
            self.add_error("patient_message", problem)


@admin.register(Rule)
class RuleAdmin(DraftOnlyMixin, admin.ModelAdmin):
    form = RuleAdminForm
    list_display = ["code", "title", "severity", "active", "version"]
    list_filter = ["version", "severity", "active"]
    search_fields = ["code", "title", "when", "source"]
    ordering = ["version", "position"]


class ScoreDefinitionAdminForm(DraftLockFormMixin, forms.ModelForm):
    class Meta:
        model = ScoreDefinition
        fields = ["version", "position", "code", "name", "items", "bands", "source"]

    def clean_bands(self):
        # An empty box (or null) means no bands; the column cannot hold NULL.
        value = self.cleaned_data.get("bands")
        return [] if value is None else value

    def clean(self):
        cleaned = super().clean()
        version, items, bands = cleaned.get("version"), cleaned.get("items"), cleaned.get("bands")
        if version is not None and items is not None:
            scale_items = set(
                version.questions.filter(kind="scale_item").values_list("code", flat=True)
            )
            if not items or not is_list_of_text(items):
                self.add_error(
                    "items",
                    gettext('Give a list of scale item codes, e.g. ["phq9_1", "phq9_2"].'),
                )
            else:
                unknown = [str(code) for code in items if code not in scale_items]
                if unknown:
                    self.add_error(
                        "items",
                        gettext("Not scale items of this version: %(codes)s.")
                        % {"codes": ", ".join(unknown)},
                    )
        if bands is not None and not are_bands(bands):
            self.add_error(
                "bands",
                gettext(
                    'Give a list like [{"min": 0, "max": 4, "label": "Minimal"}], min not '
                    "above max."
                ),
            )
        return cleaned


def is_list_of_text(value) -> bool:
    """A list of codes; a nested list or an object in it is a form error, not a 500."""
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def are_bands(bands) -> bool:
    """A list of {"min": number, "max": number, "label": text}, min not above max."""

    def number(value) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    return isinstance(bands, list) and all(
        isinstance(band, dict)
        and number(band.get("min"))
        and number(band.get("max"))
        and band["min"] <= band["max"]
        and isinstance(band.get("label"), str)
        and band["label"].strip()
        for band in bands
    )


@admin.register(ScoreDefinition)
class ScoreDefinitionAdmin(DraftOnlyMixin, admin.ModelAdmin):
    form = ScoreDefinitionAdminForm
    list_display = ["code", "name", "version"]
    list_filter = ["version"]


class CommaListField(forms.CharField):
    """A list edited as comma-separated text, so admins never type JSON."""

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        text = super().to_python(value) or ""
        return [item.strip() for item in text.split(",") if item.strip()]


class PanelCaseJSONField(BoundedJSONField):
    """A test case's answers, read with the bounds of every admin JSON box (nesting, huge
    numbers, NUL, lone surrogates: a message beside the box) and shown indented."""

    def prepare_value(self, value):
        if isinstance(value, InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


class PanelCaseAdminForm(DraftLockFormMixin, forms.ModelForm):
    answers = PanelCaseJSONField(
        widget=forms.Textarea(attrs={"rows": 20, "cols": 80}),
        help_text=PanelCase._meta.get_field("answers").help_text,
    )
    must_raise = CommaListField(
        required=False, help_text=_("Comma-separated rule codes, e.g. bp_elevated, opioid.")
    )
    must_not_raise = CommaListField(
        required=False, help_text=_("Comma-separated rule codes, e.g. bp_crisis_range.")
    )

    class Meta:
        model = PanelCase
        fields = [
            "version",
            "position",
            "name",
            "answers",
            "must_raise",
            "must_not_raise",
            "nothing_else",
            "as_of",
            "note",
        ]

    def clean(self):
        cleaned = super().clean()
        version = cleaned.get("version")
        if version is None:
            return cleaned
        if "answers" in cleaned:
            answers, problems = clean_answers(
                cleaned["answers"], questionnaire_with_baseline(version)
            )
            for problem in problems:
                self.add_error("answers", problem)
            if not problems:
                # Stored exactly as the intake would store them (e.g. "120/80" as two numbers).
                cleaned["answers"] = answers
        rule_codes = set(version.rules.values_list("code", flat=True))
        must_raise = cleaned.get("must_raise", [])
        must_not_raise = cleaned.get("must_not_raise", [])
        for name, codes in (("must_raise", must_raise), ("must_not_raise", must_not_raise)):
            for problem in expectation_problems(codes, [], rule_codes):
                self.add_error(name, problem)
        both = sorted(set(must_raise) & set(must_not_raise) & rule_codes)
        if both:
            self.add_error(
                "must_not_raise",
                gettext("%(codes)s cannot be both raised and not raised.")
                % {"codes": ", ".join(both)},
            )
        if not must_raise and not must_not_raise and not cleaned.get("nothing_else"):
            self.add_error(
                None,
                gettext(
                    "Say what the case checks: the flags it must raise, the flags it must not "
                    'raise, or check "nothing else" for a patient who must raise no other flag.'
                ),
            )
        return cleaned


@admin.register(PanelCase)
class PanelCaseAdmin(DraftOnlyMixin, admin.ModelAdmin):
    """The test panel: synthetic patients with the flags they must and must not raise."""

    form = PanelCaseAdminForm
    list_display = ["name", "expects", "version"]
    list_filter = ["version"]
    search_fields = ["name", "note"]
    ordering = ["version", "position", "pk"]
    readonly_fields = ["result_now"]

    def get_fields(self, request: HttpRequest, obj=None):
        fields = list(self.form.Meta.fields)
        return [*fields, "result_now"] if obj is not None else fields

    @admin.display(description=_("Expects"))
    def expects(self, obj):
        parts = []
        if obj.must_raise:
            parts.append(gettext("raises %(codes)s") % {"codes": ", ".join(obj.must_raise)})
        if obj.nothing_else:
            parts.append(gettext("nothing else") if obj.must_raise else gettext("no flag at all"))
        elif obj.must_not_raise:
            parts.append(gettext("not %(codes)s") % {"codes": ", ".join(obj.must_not_raise)})
        return "; ".join(parts)

    @admin.display(description=_("Result with this version's rules"))
    def result_now(self, obj) -> str:
        from ..snapshots import draft_ruleset

        ruleset = draft_ruleset(obj.version)
        answers, problems = clean_answers(obj.answers, ruleset.questionnaire)
        result = run_case(
            ruleset,
            PanelCaseDef(
                name=obj.name,
                answers=answers,
                must_raise=tuple(obj.must_raise),
                must_not_raise=tuple(obj.must_not_raise),
                nothing_else=obj.nothing_else,
                as_of=obj.as_of,
                problems=tuple(problems),
            ),
            timezone.localdate(),
        )
        raised = ", ".join(result.raised) or gettext("no flag")
        if result.passed:
            return gettext("Passes. Raises: %(raised)s.") % {"raised": raised}
        # The reasons are the engine's (pure Python, no Django): English.
        return gettext("Fails. %(reasons)s Raises: %(raised)s.") % {
            "reasons": " ".join(result.reasons()),
            "raised": raised,
        }


LIST_FIELDS = ("classes", "components", "brands", "synonyms", "slang", "sources")


class DrugAdminForm(forms.ModelForm):
    classes = CommaListField(
        required=False, help_text=_("Comma-separated, e.g. opioid, sedative_hypnotic.")
    )
    components = CommaListField(
        required=False, help_text=_("Combination products only: names of the component entries.")
    )
    brands = CommaListField(required=False)
    synonyms = CommaListField(required=False, help_text=_("Misspellings and other spellings."))
    slang = CommaListField(
        required=False, help_text=_("Matched only in the recreational-substances list.")
    )
    sources = CommaListField(required=False)

    class Meta:
        model = Drug
        fields = ["name", *LIST_FIELDS, "form", "note", "grade"]

    def clean(self):
        """Check the whole formulary with this entry changed, as the engine will read it."""
        cleaned = super().clean()
        if self.errors:
            return cleaned
        # This entry as it will be saved (a field the form lacks keeps the model's default).
        entry = Drug(**{name: cleaned[name] for name in DRUG_FIELDS if name in cleaned})
        others = (
            Drug.objects.exclude(pk=self.instance.pk) if self.instance.pk else Drug.objects.all()
        )
        data = {
            "classes": dict(DrugClass.objects.values_list("name", "description")),
            "drugs": [*(drug.as_row() for drug in others), entry.as_row()],
        }
        try:
            Formulary.from_data(data)
        except ValueError as error:
            raise forms.ValidationError(str(error)) from error
        return cleaned


@admin.register(Drug)
class DrugAdmin(AuditedAdminMixin, admin.ModelAdmin):
    form = DrugAdminForm
    actions = None  # one at a time, so a referenced entry can never go in a bulk delete

    def has_delete_permission(self, request: HttpRequest, obj=None):
        # A component of a combination product cannot go while the combination needs it.
        if obj is not None and any(obj.name in (d.components or []) for d in Drug.objects.all()):
            return False
        return super().has_delete_permission(request, obj)

    list_display = ["name", "class_list", "grade"]
    search_fields = ["name", "brands", "synonyms"]
    list_filter = ["grade"]

    @admin.display(description=_("Classes"))
    def class_list(self, obj):
        return ", ".join(obj.classes or obj.components)


@admin.register(DrugClass)
class DrugClassAdmin(AuditedAdminMixin, admin.ModelAdmin):
    actions = None
    readonly_fields = ["name_if_used"]

    @admin.display(description=_("Used by"))
    def name_if_used(self, obj):
        return ", ".join(d.name for d in Drug.objects.all() if obj.name in (d.classes or [])) or "—"

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        # Rules and drugs refer to a class by name, so a class in use keeps its name.
        if obj is not None and self._in_use(obj):
            return ["name", "name_if_used"]
        return ["name_if_used"]

    def has_delete_permission(self, request: HttpRequest, obj=None):
        if obj is not None and self._in_use(obj):
            return False
        return super().has_delete_permission(request, obj)

    def _in_use(self, obj) -> bool:
        return any(obj.name in (d.classes or []) for d in Drug.objects.all())

    list_display = ["name", "description"]
    search_fields = ["name", "description"]


class ListOnlyAdmin(admin.ModelAdmin):
    """A list to read and nothing else: no page per row, no add, change or delete.

    For records nobody may edit (audit events, undelivered emails): without the per-row
    URLs there is not even a read-only page that could show more than the list does."""

    def get_urls(self):
        return [url for url in super().get_urls() if url.name and url.name.endswith("_changelist")]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ListOnlyAdmin):
    """Read-only: the audit log can be read and filtered, never edited or deleted.

    Shown as screening.audit_display says: without the review permission, an event about a
    screening shows who did what and when, not which screening nor its outcome.
    """

    list_filter = ["action"]
    list_select_related = ["actor", "screening__patient"]  # shown_event names the patient
    search_fields = ["actor__email", "summary", "object_id"]
    # The list shows every field, so there is no page per event: audit events are numbered
    # (the hash chain is walked in that order) and no URL may carry a sequential number.
    list_display_links = None

    def get_list_display(self, request: HttpRequest):
        identify = identifies_screenings(request.user)

        def shown(event):
            return shown_event(event, identify_screenings=identify)

        @admin.display(description=_("Summary"))
        def summary(event):
            return shown(event).summary

        @admin.display(description=_("Object id"))
        def object_id(event):
            return shown(event).object_id

        @admin.display(description=_("Screening"))
        def screening(event):
            return shown(event).screening_id

        return ["at", "actor", "action", summary, "object_type", object_id, screening, "ip_address"]

    def get_search_fields(self, request: HttpRequest):
        # Searching the stored summaries and ids would find what the list hides (old decision
        # events name their outcome): people who may not identify screenings search by who.
        if identifies_screenings(request.user):
            return self.search_fields
        return ["actor__email"]


@admin.register(UndeliveredEmail)
class UndeliveredEmailAdmin(ListOnlyAdmin):
    """Emails the worker gave up on after every retry: what they were about, never their text.

    An urgent alert names its screening only to people who may review screenings (physicians
    see it on their queue, screening.review.views.queue); to others it is an alert that
    failed, about a screening they cannot identify.
    """

    list_filter = ["kind"]
    list_display_links = None

    def get_list_display(self, request: HttpRequest):
        identify = identifies_screenings(request.user)

        @admin.display(description=_("Object id"))
        def object_id(email):
            if email.kind == UndeliveredEmail.Kind.URGENT_ALERT and not identify:
                return gettext("— (shown to physicians on the review queue)")
            return email.object_id

        return ["failed_at", "kind", "object_type", object_id, "attempts", "error"]


# The task table (django-tasks-db registers it) holds addresses typed into the password-reset
# form; undelivered emails have their own list above, so it stays out of the admin.
admin.site.unregister(DBTaskResult)


# Staff authenticator devices (django-otp). A clinic admin can remove a colleague's lost
# phone; the removal is audited and the colleague is emailed a link to set up a new one
# (screening/services/two_factor_links.py). django-otp's own admin adds pages that show a device's
# secret key by a numbered URL; this one keeps only the list, the device page (without the
# key) and delete.
admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class StaffAuthenticatorAdmin(TOTPDeviceAdmin):
    list_filter = ["confirmed"]

    def get_urls(self):
        return admin.ModelAdmin.get_urls(self)

    def has_delete_permission(self, request: HttpRequest, obj=None):
        # Removing a superuser's device lets whoever knows that password enrol their own phone.
        if obj is not None and obj.user.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def delete_model(self, request: HttpRequest, obj) -> None:
        remove_authenticator(device=obj, actor=request.user, ip_address=audit.client_ip(request))

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        # The "delete selected" action: each one audited and followed by its own email.
        for device in queryset.select_related("user"):
            remove_authenticator(
                device=device, actor=request.user, ip_address=audit.client_ip(request)
            )
