"""Which language a version's content is shown in, and its texts in that language.

The source (settings.LANGUAGE_CODE, US English) is what staff, the rules, the FHIR export
and print read. A patient reads the version's translation into their language; a text
without one (a validated instrument's item whose official translation we do not have, or
a language the version does not offer) is shown in the official English wording, marked
as English (`SourceWording`) so screen readers read it as English and the page says why.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from .models import ContentTranslation, QuestionSetVersion

# The `lang` of the source wording (settings.LANGUAGE_CODE as a BCP 47 tag).
SOURCE_LANG_TAG = "en-US"


class SourceWording(str):
    """A text shown in the source language inside a page in another language.

    A str for everything that reads it (the engine, string operations give a plain str);
    a template draws it inside `<span lang="en-US">`, escaped (Django's escaping calls
    __html__).
    """

    __slots__ = ()

    def __html__(self) -> SafeString:
        return mark_safe(f'<span lang="{SOURCE_LANG_TAG}">{escape(str(self))}</span>')  # noqa: S308 (escaped)


def is_source_language(language: str | None) -> bool:
    return not language or language.lower() == settings.LANGUAGE_CODE.lower()


def same_language_as_source(language: str) -> bool:
    """English of another country: the source is not a foreign language to its readers."""
    return language.split("-")[0].lower() == settings.LANGUAGE_CODE.split("-")[0].lower()


def content_language(language: str | None) -> str | None:
    """The language to show content in (None: the source), from a language code such as
    django.utils.translation.get_language()'s."""
    if is_source_language(language):
        return None
    return language.lower()


def patient_texts(version: QuestionSetVersion, language: str, source: dict[str, str]) -> dict:
    """Every key's text as a patient reading `language` sees it: the translation when there is
    an up-to-date one, else the source wording marked as English."""
    offered = language in (version.languages or [])
    if not offered and same_language_as_source(language):
        return dict(source)  # UK English without a translation reads the US source as it is
    rows = (
        {
            row.key: row
            for row in ContentTranslation.objects.filter(version=version, language=language)
        }
        if offered
        else {}
    )
    texts: dict[str, str] = {}
    for key, source_text in source.items():
        row = rows.get(key)
        if (
            row is not None
            and not row.no_official_translation
            and row.text.strip()
            and row.source_text == source_text
        ):
            texts[key] = row.text
        else:
            texts[key] = SourceWording(source_text)
    return texts


def label_with_unit(text: str, unit: str) -> str:
    """A question's label with its unit, keeping the English mark of either part."""
    if not unit:
        return text
    if isinstance(text, SourceWording) or isinstance(unit, SourceWording):
        return mark_safe(f"{conditional(text)} ({conditional(unit)})")  # noqa: S308 (escaped)
    return f"{text} ({unit})"


def conditional(text: str) -> str:
    return text.__html__() if isinstance(text, SourceWording) else escape(text)


def shows_source_wording(*texts: object) -> bool:
    """True when any of these texts is shown in English on a translated page."""
    return any(isinstance(text, SourceWording) for text in texts)
