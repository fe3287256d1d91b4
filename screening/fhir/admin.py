"""The clinic admin's FHIR tools in the Django admin: API tokens, and importing a Questionnaire.

Tokens: issued with a form whose scopes are those the person may issue (a token that reads
screenings needs screening.issue_screening_token; see tokens.py), shown once on the page
that follows, never again; revoked with an action; never edited or deleted (the audit log
names them). The import is an action on a version: its question set gets a new draft.
"""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from ..client_address import client_ip
from ..models import ApiToken, QuestionSetVersion
from .importer import NotAQuestionnaire, import_as_draft, read_questionnaire
from .tokens import (
    ISSUE_PERMISSION,
    MAX_VALIDITY,
    TokenNotAllowed,
    issue_token,
    may_issue,
    revoke_token,
)

DEFAULT_VALIDITY = timedelta(days=90)


class IssueTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["client_name", "scope", "expires_at", "requests_per_minute"]

    def __init__(self, *args, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["expires_at"].initial = timezone.now() + DEFAULT_VALIDITY
        self.fields["expires_at"].help_text = gettext("At most a year from now.")
        # The scopes this person may issue; choosing one is deliberate (no default).
        self.fields["scope"].choices = [("", "---------")] + [
            (value, label) for value, label in ApiToken.Scope.choices if may_issue(user, value)
        ]

    def clean_expires_at(self):
        expires_at = self.cleaned_data["expires_at"]
        now = timezone.now()
        if expires_at <= now + timedelta(hours=1):
            raise forms.ValidationError(gettext("Choose a time at least an hour from now."))
        if expires_at > now + MAX_VALIDITY:
            raise forms.ValidationError(gettext("A token may be valid for a year at most."))
        return expires_at


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = [
        "client_name",
        "scope",
        "token_prefix",
        "created_by",
        "created_at",
        "expires_at",
        "revoked_at",
        "last_used_at",
    ]
    list_filter = ["scope"]
    search_fields = ["client_name", "token_prefix"]
    readonly_fields = [
        "client_name",
        "scope",
        "token_prefix",
        "created_by",
        "created_at",
        "expires_at",
        "requests_per_minute",
        "revoked_at",
        "revoked_by",
        "last_used_at",
    ]
    actions = ["revoke"]

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        if obj is None:
            form = IssueTokenForm

            class BoundForm(form):
                def __init__(self, *args, **inner) -> None:
                    super().__init__(*args, user=request.user, **inner)

            kwargs["form"] = BoundForm
            kwargs["fields"] = IssueTokenForm.Meta.fields
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        return self.readonly_fields if obj is not None else []

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # a token is never edited: revoke it and issue another

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # kept: audit events name the token that read each screening

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(ISSUE_PERMISSION)

    def save_model(self, request: HttpRequest, obj, form, change) -> None:
        try:
            token, secret = issue_token(
                client_name=obj.client_name,
                scope=obj.scope,
                expires_at=obj.expires_at,
                requests_per_minute=obj.requests_per_minute,
                created_by=request.user,
                ip_address=client_ip(request),
            )
        except TokenNotAllowed as error:
            raise forms.ValidationError(str(error)) from error
        obj.pk = token.pk
        obj._state.adding = False
        obj._issued_secret = secret  # shown once by response_add, never stored

    def response_add(self, request: HttpRequest, obj, post_url_continue=None):
        return TemplateResponse(
            request,
            "admin/screening/apitoken/issued.html",
            {
                **self.admin_site.each_context(request),
                "title": gettext("FHIR API token issued"),
                "token": obj,
                "secret": obj._issued_secret,
                "opts": self.model._meta,
            },
        )

    @admin.action(description=_("Revoke the selected tokens now"), permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset) -> None:
        revoked = sum(
            revoke_token(token=token, revoked_by=request.user, ip_address=client_ip(request))
            for token in queryset
        )
        self.message_user(
            request,
            ngettext("%(count)s token revoked.", "%(count)s tokens revoked.", revoked)
            % {"count": revoked},
            messages.SUCCESS,
        )


# --- Import ---------------------------------------------------------------------------------


class ImportQuestionnaireForm(forms.Form):
    """The Questionnaire pasted as text: no page of the app takes a file
    (screening/request_limits.py), so the request body's 1 MB limit bounds it."""

    questionnaire_json = forms.CharField(
        label=_("FHIR Questionnaire (JSON)"),
        # No max_length: a browser would cut a long paste off silently at the box's limit.
        # The request body limit bounds it, and read_questionnaire says what is wrong.
        strip=False,
        widget=forms.Textarea(
            attrs={"rows": 20, "cols": 100, "spellcheck": "false", "autocomplete": "off"}
        ),
        help_text=_(
            "Paste a FHIR R4 Questionnaire resource in JSON, for example a published PHQ-9 "
            "(open the file in a text editor, select all, copy). At most 1 MB."
        ),
        error_messages={"required": _("Paste the Questionnaire's JSON into the box.")},
    )
    copy_rules = forms.BooleanField(
        required=False,
        initial=True,
        label=_("Copy this version's rules and scores into the draft"),
    )

    def clean_questionnaire_json(self) -> str:
        text = self.cleaned_data["questionnaire_json"]
        try:
            self.resource = read_questionnaire(text)
        except NotAQuestionnaire as error:
            raise forms.ValidationError(str(error)) from None
        return text


@admin.action(
    description=_("Import a FHIR Questionnaire as a new draft of this question set"),
    permissions=["add"],
)
def import_fhir_questionnaire(modeladmin, request: HttpRequest, queryset):
    """Step 1 shows the box to paste into; step 2 (the form posted back) imports and reports."""
    if queryset.count() != 1:
        modeladmin.message_user(
            request,
            gettext("Choose exactly one version: its question set gets the draft."),
            messages.ERROR,
        )
        return None
    version: QuestionSetVersion = queryset.select_related("question_set").get()
    form = ImportQuestionnaireForm()
    if request.POST.get("import") == "yes":
        form = ImportQuestionnaireForm(request.POST)
        if form.is_valid():
            try:
                draft, report = import_as_draft(
                    question_set=version.question_set,
                    resource=form.resource,
                    rules_from=version if form.cleaned_data["copy_rules"] else None,
                    actor=request.user,
                    ip_address=client_ip(request),
                )
            except NotAQuestionnaire as error:
                form.add_error("questionnaire_json", str(error))
            else:
                return TemplateResponse(
                    request,
                    "admin/screening/import_report.html",
                    {
                        **modeladmin.admin_site.each_context(request),
                        "title": gettext("Imported as draft version %(number)s")
                        % {"number": draft.number},
                        "draft": draft,
                        "report": report,
                        "opts": modeladmin.model._meta,
                    },
                )
    return TemplateResponse(
        request,
        "admin/screening/import_questionnaire.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": gettext("Import a FHIR Questionnaire into %(question_set)s")
            % {"question_set": version.question_set},
            "version": version,
            "form": form,
            "opts": modeladmin.model._meta,
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
        },
    )
