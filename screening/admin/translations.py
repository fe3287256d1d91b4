"""The translations of a question-set version in the admin, beside its source texts.

Per version: an overview of every language the app offers (how many texts are translated,
missing or out of date); per language, the texts one part at a time (a page of the
questionnaire, or the rules' patient messages), each source text read-only beside its
translation and the "no official translation" box, a part saved in one go; the language's
PO and CSV files to download; and a file to load (pasted, or read into the box by the
browser: no page of the app takes a file upload, see screening/request_limits.py).

A published or retired version's translations are shown read-only: they are frozen with
it. Writes go through screening/services/translations.py (locks the version, refuses a
published one, audits).
"""

from __future__ import annotations

import hashlib

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods

from .. import audit
from ..engine.translations import RULES_PART
from ..models import ContentTranslation, QuestionSetVersion
from ..services.content import VersionNotEditable
from ..services.translations import (
    TranslationEntry,
    TranslationsRefused,
    UnreadableFile,
    language_gaps,
    language_name,
    offered_languages,
    read_translation_file,
    save_translations,
    to_csv,
    to_po,
)
from ..snapshots import text_parts_for, translatable_texts_for


class UploadForm(forms.Form):
    file_format = forms.ChoiceField(
        label=_("File format"),
        choices=[
            ("po", _("PO (gettext)")),
            ("csv", _("CSV (key, source, translation, no_official_translation)")),
        ],
        widget=forms.RadioSelect,
        initial="po",
    )
    content = forms.CharField(
        label=_("The file's text"),
        strip=False,
        widget=forms.Textarea(attrs={"rows": 20, "cols": 100, "spellcheck": "false"}),
        help_text=_(
            "Choose the file above (your browser copies its text here) or paste its text. "
            "Every key must be a text of this version and every source text must be this "
            "version's: a file made from another version is refused, nothing saved. At most 1 MB."
        ),
        error_messages={"required": _("Choose a file or paste its text into the box.")},
    )


def _parts(key_parts: dict[str, str], version: QuestionSetVersion) -> list[tuple[str, str]]:
    """(code, title) of each part with texts, in the questionnaire's order."""
    titles = dict(version.sections.values_list("code", "title"))
    codes: list[str] = []
    for group in key_parts.values():
        if group not in codes:
            codes.append(group)
    return [
        (
            code,
            gettext("Patient messages of urgent rules")
            if code == RULES_PART
            else titles.get(code, code),
        )
        for code in codes
    ]


def _digest(texts: list[str]) -> str:
    return hashlib.sha256("\x1f".join(texts).encode()).hexdigest()


class TranslationAdminMixin:
    """Adds the translation pages to the question-set version admin."""

    def get_urls(self):
        name = f"{self.model._meta.app_label}_{self.model._meta.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/translations/",
                wrap(self.translations_view),
                name=f"{name}_translations",
            ),
            path(
                "<path:object_id>/translations/<str:language>/",
                wrap(self.translation_edit_view),
                name=f"{name}_translation_edit",
            ),
            path(
                "<path:object_id>/translations/<str:language>/upload/",
                wrap(self.translation_upload_view),
                name=f"{name}_translation_upload",
            ),
            path(
                "<path:object_id>/translations/<str:language>/download.<str:file_format>",
                wrap(self.translation_download_view),
                name=f"{name}_translation_download",
            ),
            *super().get_urls(),
        ]

    # Lookups ---------------------------------------------------------------------------------

    def _version(self, request: HttpRequest, object_id: str) -> QuestionSetVersion:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            return get_object_or_404(
                QuestionSetVersion.objects.select_related("question_set"), pk=object_id
            )
        except (ValueError, forms.ValidationError):  # not a UUID
            raise Http404 from None

    def _language(self, language: str) -> str:
        if language not in offered_languages():
            raise Http404
        return language

    def _may_edit(self, request: HttpRequest, version: QuestionSetVersion) -> bool:
        return version.is_editable and super().has_change_permission(request)

    def _context(self, request: HttpRequest, version: QuestionSetVersion, **extra) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": version,
            "version": version,
            "editable": self._may_edit(request, version),
            **extra,
        }

    # Pages -----------------------------------------------------------------------------------

    @staticmethod
    def _overview_rows(version: QuestionSetVersion, source: dict[str, str]) -> list[dict]:
        rows = []
        for code, name in offered_languages().items():
            gaps = language_gaps(version, code, source)
            rows.append(
                {
                    "code": code,
                    "name": name,
                    "offered": code in (version.languages or []),
                    "total": gaps.total,
                    "missing": len(gaps.missing),
                    "stale": len(gaps.stale),
                    "done": gaps.total - len(gaps.missing) - len(gaps.stale),
                }
            )
        return rows

    def translations_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return require_GET(self._translations)(request, object_id)

    def _translations(self, request: HttpRequest, object_id: str) -> HttpResponse:
        version = self._version(request, object_id)
        source = translatable_texts_for(version)
        return TemplateResponse(
            request,
            "admin/screening/translations.html",
            self._context(
                request,
                version,
                title=gettext("Translations of %(version)s") % {"version": version},
                languages=self._overview_rows(version, source),
            ),
        )

    def translation_edit_view(
        self, request: HttpRequest, object_id: str, language: str
    ) -> HttpResponse:
        return require_http_methods(["GET", "POST"])(self._edit)(request, object_id, language)

    def _edit(self, request: HttpRequest, object_id: str, language: str) -> HttpResponse:
        version = self._version(request, object_id)
        language = self._language(language)
        source = translatable_texts_for(version)
        key_parts = text_parts_for(version)
        parts = _parts(key_parts, version)
        part = request.GET.get("part") or (parts[0][0] if parts else "")
        if parts and part not in dict(parts):
            raise Http404
        keys = [key for key in source if key_parts.get(key) == part]
        rows = {
            row.key: row
            for row in ContentTranslation.objects.filter(version=version, language=language)
        }
        problems: list[str] = []
        posted = None
        if request.method == "POST":
            if not super().has_change_permission(request):
                raise PermissionDenied
            posted = {
                key: (
                    request.POST.get(f"text:{key}", ""),
                    f"none:{key}" in request.POST,
                )
                for key in keys
            }
            if not version.is_editable:
                self.message_user(
                    request,
                    gettext(
                        "Version %(number)s is %(status)s: its translations are frozen with "
                        "it. Nothing was saved. Make a new draft from it to change them."
                    )
                    % {"number": version.number, "status": version.get_status_display().lower()},
                    messages.ERROR,
                )
                return HttpResponseRedirect(request.get_full_path())
            if request.POST.get("sources") != _digest([source[key] for key in keys]):
                problems.append(
                    gettext(
                        "The source texts of this part changed since you opened the page "
                        "(another admin edited the draft). Nothing was saved: check the texts "
                        "below, then save again."
                    )
                )
            else:
                entries = [
                    TranslationEntry(key, source[key], text, none)
                    for key, (text, none) in posted.items()
                ]
                try:
                    changed = save_translations(
                        version=version,
                        language=language,
                        entries=entries,
                        actor=request.user,
                        ip_address=audit.client_ip(request),
                    )
                except TranslationsRefused as error:
                    problems = error.problems
                except VersionNotEditable as error:
                    self.message_user(request, str(error), messages.ERROR)
                    return HttpResponseRedirect(request.get_full_path())
                else:
                    self.message_user(
                        request,
                        ngettext(
                            "Saved: %(count)s text changed.",
                            "Saved: %(count)s texts changed.",
                            changed,
                        )
                        % {"count": changed},
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(request.get_full_path())
        items = []
        for key in keys:
            row = rows.get(key)
            text, none = (
                posted[key]
                if posted is not None
                else ((row.text, row.no_official_translation) if row else ("", False))
            )
            items.append(
                {
                    "key": key,
                    "source": source[key],
                    "text": text,
                    "no_official_translation": none,
                    "stale": row is not None and row.source_text != source[key],
                    "long": len(source[key]) > 80,
                }
            )
        gaps = language_gaps(version, language, source)
        return TemplateResponse(
            request,
            "admin/screening/translation_edit.html",
            self._context(
                request,
                version,
                title=gettext("%(language)s translation of %(version)s")
                % {"language": language_name(language), "version": version},
                language=language,
                language_name=language_name(language),
                parts=parts,
                part=part,
                part_title=dict(parts).get(part, ""),
                items=items,
                problems=problems,
                sources_digest=_digest([source[key] for key in keys]),
                gaps=gaps,
                incomplete_parts={key_parts.get(key) for key in gaps.missing + gaps.stale},
            ),
        )

    def translation_download_view(
        self, request: HttpRequest, object_id: str, language: str, file_format: str
    ) -> HttpResponse:
        return require_GET(self._download)(request, object_id, language, file_format)

    def _download(
        self, request: HttpRequest, object_id: str, language: str, file_format: str
    ) -> HttpResponse:
        version = self._version(request, object_id)
        language = self._language(language)
        if file_format == "po":
            body, content_type = to_po(version, language), "text/x-gettext-translation"
        elif file_format == "csv":
            body, content_type = to_csv(version, language), "text/csv"
        else:
            raise Http404
        response = HttpResponse(body, content_type=f"{content_type}; charset=utf-8")
        filename = f"{version.question_set.slug}-v{version.number}.{language}.{file_format}"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    def translation_upload_view(
        self, request: HttpRequest, object_id: str, language: str
    ) -> HttpResponse:
        return require_http_methods(["GET", "POST"])(self._upload)(request, object_id, language)

    def _upload(self, request: HttpRequest, object_id: str, language: str) -> HttpResponse:
        version = self._version(request, object_id)
        language = self._language(language)
        form = UploadForm()
        problems: list[str] = []
        if request.method == "POST":
            if not super().has_change_permission(request):
                raise PermissionDenied
            if not version.is_editable:
                self.message_user(
                    request,
                    gettext(
                        "Version %(number)s is %(status)s: its translations are frozen with "
                        "it. Nothing was loaded."
                    )
                    % {"number": version.number, "status": version.get_status_display().lower()},
                    messages.ERROR,
                )
                return HttpResponseRedirect(request.get_full_path())
            form = UploadForm(request.POST)
            if form.is_valid():
                try:
                    entries = read_translation_file(
                        form.cleaned_data["content"], form.cleaned_data["file_format"], language
                    )
                    changed = save_translations(
                        version=version,
                        language=language,
                        entries=entries,
                        actor=request.user,
                        ip_address=audit.client_ip(request),
                        how=f"loaded from a {form.cleaned_data['file_format'].upper()} file",
                    )
                except UnreadableFile as error:
                    form.add_error("content", str(error))
                except TranslationsRefused as error:
                    problems = error.problems
                except VersionNotEditable as error:
                    self.message_user(request, str(error), messages.ERROR)
                    return HttpResponseRedirect(request.get_full_path())
                else:
                    self.message_user(
                        request,
                        ngettext(
                            "Loaded %(entries)s entries: %(count)s text changed.",
                            "Loaded %(entries)s entries: %(count)s texts changed.",
                            changed,
                        )
                        % {"entries": len(entries), "count": changed},
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(
                        reverse(
                            f"admin:{self.model._meta.app_label}_"
                            f"{self.model._meta.model_name}_translations",
                            args=[version.pk],
                        )
                    )
        return TemplateResponse(
            request,
            "admin/screening/translation_upload.html",
            self._context(
                request,
                version,
                title=gettext("Load a %(language)s translation file into %(version)s")
                % {"language": language_name(language), "version": version},
                language=language,
                language_name=language_name(language),
                form=form,
                problems=problems,
            ),
        )
