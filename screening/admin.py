"""The clinic admin's workshop: question sets, versions, sections, questions, invitations.

Only draft versions can be edited; a published version is read-only here, and a new
draft is made from it with an action. Every show-when is checked with the expression
validator when saved, and its errors appear on the form beside the field.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from . import audit
from .content import copy_rules_and_scores, expression_problems, rule_problems, write_questionnaire
from .engine.expressions import validate
from .engine.questionnaire import variable_types
from .models import (
    AuditEvent,
    Choice,
    Drug,
    DrugClass,
    Invitation,
    Question,
    QuestionSet,
    QuestionSetVersion,
    Rule,
    ScoreDefinition,
    Section,
    User,
)
from .patient_messages import placeholder_problems
from .questionnaire import questionnaire_for
from .two_factor_links import remove_authenticator


class AuditedAdminMixin:
    """Every change made in the admin also goes to the append-only audit log."""

    def log_addition(self, request, obj, message):
        audit.record(request=request, action="content.added", obj=obj, summary=str(obj))
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        audit.record(request=request, action="content.changed", obj=obj, summary=str(obj))
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            audit.record(request=request, action="content.deleted", obj=obj, summary=str(obj))
        return super().log_deletions(request, queryset)


class DraftOnlyMixin(AuditedAdminMixin):
    """Published and retired versions, and everything in them, are read-only.

    Changing and deleting are refused per object; adding is refused by offering only
    draft versions (and sections of drafts) in the form, checked again in clean().
    """

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "version":
            kwargs["queryset"] = QuestionSetVersion.objects.filter(
                status=QuestionSetVersion.Status.DRAFT
            )
        elif db_field.name == "section":
            kwargs["queryset"] = Section.objects.filter(
                version__status=QuestionSetVersion.Status.DRAFT
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        version = self._version_of(obj)
        if (
            version is not None
            and not version.is_editable
            and not isinstance(obj, QuestionSetVersion)
        ):
            raise PermissionDenied("Published versions cannot be changed; make a new draft.")
        super().save_model(request, obj, form, change)

    def _version_of(self, obj):
        return obj if isinstance(obj, QuestionSetVersion) else getattr(obj, "version", None)

    def has_change_permission(self, request, obj=None):
        version = self._version_of(obj) if obj else None
        if version is not None and not version.is_editable:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
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

    def has_change_permission(self, request, obj=None):
        return self._editable(obj) and super().has_change_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return self._editable(obj) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(obj) and super().has_delete_permission(request, obj)


class QuestionAdminForm(forms.ModelForm):
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
            self.add_error("section", "Choose a section of the same version.")
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
    questionnaire = questionnaire_for(version)
    all_names = variable_types(questionnaire)
    allowed = {}
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

    @admin.display(description="Text")
    def short_text(self, obj):
        return obj.text[:80]


class SectionAdminForm(forms.ModelForm):
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

    def has_change_permission(self, request, obj=None):
        return (obj is None or obj.is_editable) and super().has_change_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        return (obj is None or obj.is_editable) and super().has_add_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return (obj is None or obj.is_editable) and super().has_delete_permission(request, obj)


@admin.register(QuestionSetVersion)
class QuestionSetVersionAdmin(DraftOnlyMixin, admin.ModelAdmin):
    list_display = ["__str__", "status", "created_at", "published_at"]
    list_filter = ["question_set", "status"]
    readonly_fields = ["status", "published_at", "created_at"]
    fields = ["question_set", "number", "notes", "status", "created_at", "published_at"]
    inlines = [SectionInline]
    actions = ["make_draft_copy", "publish"]

    @admin.action(description="Make a new draft from this version")
    def make_draft_copy(self, request, queryset):
        for version in queryset:
            with transaction.atomic():
                last = version.question_set.versions.order_by("-number").first()
                draft = QuestionSetVersion.objects.create(
                    question_set=version.question_set,
                    number=last.number + 1,
                    notes=f"Draft made from version {version.number}",
                )
                write_questionnaire(draft, questionnaire_for(version))
                copy_rules_and_scores(version, draft)
                audit.record(
                    request=request, action="content.draft_made", obj=draft, summary=str(draft)
                )
            self.message_user(request, f"Draft version {draft.number} created.", messages.SUCCESS)

    @admin.action(description="Publish this draft (preview its effect first)")
    def publish(self, request, queryset):
        from django.template.response import TemplateResponse

        from .evaluation import preview_publication

        drafts = [version for version in queryset if version.is_editable]
        if len(drafts) != 1 or queryset.count() != 1:
            self.message_user(
                request, "Choose exactly one draft version to publish.", messages.ERROR
            )
            return None
        version = drafts[0]
        problems = expression_problems(questionnaire_for(version)) + rule_problems(version)
        if problems:
            self.message_user(
                request, f"{version} was not published: " + "; ".join(problems), messages.ERROR
            )
            return None
        if request.POST.get("confirm") != "yes":
            evaluated, impact = preview_publication(version)
            return TemplateResponse(
                request,
                "admin/screening/publish_preview.html",
                {
                    **self.admin_site.each_context(request),
                    "title": f"Publish {version}?",
                    "version": version,
                    "evaluated": evaluated,
                    "impact": [row for row in impact if row.now or row.gained or row.lost],
                    "opts": self.model._meta,
                    "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                },
            )
        with transaction.atomic():
            version.question_set.versions.filter(status=QuestionSetVersion.Status.PUBLISHED).update(
                status=QuestionSetVersion.Status.RETIRED
            )
            version.status = QuestionSetVersion.Status.PUBLISHED
            version.published_at = timezone.now()
            version.save(update_fields=["status", "published_at"])
            audit.record(
                request=request, action="content.published", obj=version, summary=str(version)
            )
        self.message_user(request, f"{version} is now published.", messages.SUCCESS)
        return None


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

    def has_add_permission(self, request):
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
        ("Person", {"fields": ("full_name",)}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
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


class RuleAdminForm(forms.ModelForm):
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

    def clean(self):
        from .engine.rules import RuleDef
        from .evaluation import validator_for

        cleaned = super().clean()
        version = cleaned.get("version")
        when = cleaned.get("when") or ""
        if version and when.strip():
            ruleset = validator_for(version)
            rule = RuleDef(code="", title="", severity="info", when=when, message="")
            for problem in ruleset.problems(rule):
                self.add_error("when", problem.message)
        superseded_by = cleaned.get("superseded_by") or []
        if version and superseded_by:
            if not isinstance(superseded_by, list):
                self.add_error(
                    "superseded_by", 'Give a list of rule codes, e.g. ["suicide_risk_high"].'
                )
            else:
                known = set(version.rules.values_list("code", flat=True))
                unknown = [code for code in superseded_by if code not in known]
                if unknown:
                    self.add_error(
                        "superseded_by", f"Unknown rule codes: {', '.join(map(str, unknown))}."
                    )
        self._check_patient_message(cleaned)
        return cleaned

    def _check_patient_message(self, cleaned: dict) -> None:
        """Urgent rules name what the patient reads; other flags show the patient nothing."""
        message = (cleaned.get("patient_message") or "").strip()
        cleaned["patient_message"] = message
        severity = cleaned.get("severity")
        if severity == "urgent" and not message:
            self.add_error(
                "patient_message",
                "An urgent rule needs a patient message: what the patient reads on the "
                "confirmation page when this flag is raised (for a suicide-risk rule, "
                "include {crisis_resources}).",
            )
        elif message and severity and severity != "urgent":
            self.add_error(
                "patient_message",
                "Only urgent flags show a message to the patient. Clear this box, or make "
                "the rule urgent.",
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


class ScoreDefinitionAdminForm(forms.ModelForm):
    class Meta:
        model = ScoreDefinition
        fields = ["version", "position", "code", "name", "items", "bands", "source"]

    def clean(self):
        cleaned = super().clean()
        version, items, bands = cleaned.get("version"), cleaned.get("items"), cleaned.get("bands")
        if version is not None and items is not None:
            scale_items = set(
                version.questions.filter(kind="scale_item").values_list("code", flat=True)
            )
            if not isinstance(items, list) or not items:
                self.add_error(
                    "items", 'Give a list of scale item codes, e.g. ["phq9_1", "phq9_2"].'
                )
            else:
                unknown = [str(code) for code in items if code not in scale_items]
                if unknown:
                    self.add_error(
                        "items", f"Not scale items of this version: {', '.join(unknown)}."
                    )
        if bands is not None:
            try:
                for band in bands:
                    low, high = float(band["min"]), float(band["max"])
                    if low > high or not str(band["label"]).strip():
                        raise ValueError
            except (TypeError, KeyError, ValueError):
                self.add_error(
                    "bands",
                    'Give a list like [{"min": 0, "max": 4, "label": "Minimal"}], min not above max.',
                )
        return cleaned


@admin.register(ScoreDefinition)
class ScoreDefinitionAdmin(DraftOnlyMixin, admin.ModelAdmin):
    form = ScoreDefinitionAdminForm
    list_display = ["code", "name", "version"]
    list_filter = ["version"]


LIST_FIELDS = ("classes", "components", "brands", "synonyms", "slang", "sources")


class CommaListField(forms.CharField):
    """A list edited as comma-separated text, so admins never type JSON."""

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value):
        text = super().to_python(value) or ""
        return [item.strip() for item in text.split(",") if item.strip()]


class DrugAdminForm(forms.ModelForm):
    classes = CommaListField(
        required=False, help_text="Comma-separated, e.g. opioid, sedative_hypnotic."
    )
    components = CommaListField(
        required=False, help_text="Combination products only: names of the component entries."
    )
    brands = CommaListField(required=False)
    synonyms = CommaListField(required=False, help_text="Misspellings and other spellings.")
    slang = CommaListField(
        required=False, help_text="Matched only in the recreational-substances list."
    )
    sources = CommaListField(required=False)

    class Meta:
        model = Drug
        fields = ["name", *LIST_FIELDS, "form", "note", "grade"]

    def clean(self):
        """Check the whole formulary with this entry changed, as the engine will read it."""
        from .engine.medications import Formulary

        cleaned = super().clean()
        if self.errors:
            return cleaned
        entry = {
            "name": cleaned["name"],
            "form": cleaned.get("form", ""),
            "note": cleaned.get("note", ""),
        }
        entry["grade"] = cleaned.get("grade", "")
        entry.update({name: cleaned.get(name, []) for name in LIST_FIELDS})
        others = (
            Drug.objects.exclude(pk=self.instance.pk) if self.instance.pk else Drug.objects.all()
        )
        drugs = [
            {name: getattr(drug, name) for name in ("name", *LIST_FIELDS, "form", "note", "grade")}
            for drug in others
        ]
        data = {
            "classes": dict(DrugClass.objects.values_list("name", "description")),
            "drugs": [*drugs, entry],
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

    def has_delete_permission(self, request, obj=None):
        # A component of a combination product cannot go while the combination needs it.
        if obj is not None and any(obj.name in (d.components or []) for d in Drug.objects.all()):
            return False
        return super().has_delete_permission(request, obj)

    list_display = ["name", "class_list", "grade"]
    search_fields = ["name", "brands", "synonyms"]
    list_filter = ["grade"]

    @admin.display(description="Classes")
    def class_list(self, obj):
        return ", ".join(obj.classes or obj.components)


@admin.register(DrugClass)
class DrugClassAdmin(AuditedAdminMixin, admin.ModelAdmin):
    actions = None
    readonly_fields = ["name_if_used"]

    @admin.display(description="Used by")
    def name_if_used(self, obj):
        return ", ".join(d.name for d in Drug.objects.all() if obj.name in (d.classes or [])) or "—"

    def get_readonly_fields(self, request, obj=None):
        # Rules and drugs refer to a class by name, so a class in use keeps its name.
        if obj is not None and self._in_use(obj):
            return ["name", "name_if_used"]
        return ["name_if_used"]

    def has_delete_permission(self, request, obj=None):
        if obj is not None and self._in_use(obj):
            return False
        return super().has_delete_permission(request, obj)

    def _in_use(self, obj) -> bool:
        return any(obj.name in (d.classes or []) for d in Drug.objects.all())

    list_display = ["name", "description"]
    search_fields = ["name", "description"]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: the audit log can be read and filtered, never edited or deleted."""

    list_display = ["at", "actor", "action", "summary", "object_type", "object_id", "ip_address"]
    list_filter = ["action"]
    # The screening is shown by its identifier only: the log must not show whose it is.
    fields = [
        "at",
        "actor",
        "action",
        "screening_id",
        "object_type",
        "object_id",
        "summary",
        "ip_address",
    ]
    readonly_fields = fields
    search_fields = ["actor__email", "summary", "object_id"]
    # The list shows every field, so there is no page per event: audit events are numbered
    # (the hash chain is walked in that order) and no URL may carry a sequential number.
    list_display_links = None

    def get_urls(self):
        return [url for url in super().get_urls() if url.name and url.name.endswith("_changelist")]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# Staff authenticator devices (django-otp). A clinic admin can remove a colleague's lost
# phone; the removal is audited and the colleague is emailed a link to set up a new one
# (screening/two_factor_links.py). django-otp's own admin adds pages that show a device's
# secret key by a numbered URL; this one keeps only the list, the device page (without the
# key) and delete.
admin.site.unregister(TOTPDevice)


@admin.register(TOTPDevice)
class StaffAuthenticatorAdmin(TOTPDeviceAdmin):
    list_filter = ["confirmed"]

    def get_urls(self):
        return admin.ModelAdmin.get_urls(self)

    def lookup_allowed(self, lookup, value, request=None):
        # Django's admin accepts filters on any field in the URL: ?key__startswith=... would
        # let a clinic admin read a colleague's secret one character at a time.
        return lookup in {"confirmed", "confirmed__exact", "user", "user__id__exact"}

    def has_delete_permission(self, request, obj=None):
        # Removing a superuser's device lets whoever knows that password enrol their own phone.
        if obj is not None and obj.user.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        remove_authenticator(device=obj, request=request)

    def delete_queryset(self, request, queryset):
        # The "delete selected" action: each one audited and followed by its own email.
        for device in queryset.select_related("user"):
            remove_authenticator(device=device, request=request)
