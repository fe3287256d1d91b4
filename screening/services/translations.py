"""Writes to a version's content translations, their PO and CSV files, and the check that a
version is complete in every language it offers.

Translations are rows of the version (ContentTranslation), like its questions: a draft's
are edited (every write locks the version's row and is refused once it is published, as
for any content write, see screening/services/content.py), a published version's are
frozen with it, and a new draft copies them. Each row records the source text it was
translated from: when the source changes, the translation is out of date (counted as
missing) until someone translates the new wording.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import polib
from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext, gettext_noop

from .. import audit
from ..language_names import name_in_english
from ..models import AuditAction, ContentTranslation, QuestionSetVersion, User
from ..patient_messages import placeholder_problems
from ..snapshots import translatable_texts_for
from .locks import lock_for_editing

NO_OFFICIAL_FLAG = "no-official-translation"
CSV_COLUMNS = ("key", "source", "translation", "no_official_translation")
TRUE_WORDS = {"1", "true", "yes", "y", "x"}
FALSE_WORDS = {"", "0", "false", "no", "n"}
# The longest translation kept (the longest source text is a few hundred characters).
MAX_TEXT_LENGTH = 5000
# How many keys a message names before it says "and N more".
SHOWN_KEYS = 10
# What a file not saved as UTF-8 (a spreadsheet's Windows-1252 CSV) becomes when read as
# UTF-8: each accented letter turns into this replacement character.
REPLACEMENT_CHARACTER = "\ufffd"
NOT_UTF8 = gettext_noop(
    "This file is not UTF-8: save it as 'CSV UTF-8' (or, for a PO file, as UTF-8 text) "
    "and load it again."
)
# Invisible characters a translation must not hold: the C0 and C1 controls but newline and
# tab (a carriage return is read as a newline), and the bidirectional overrides and isolates,
# which can make a text display otherwise than it reads.
INVISIBLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection): the CSV
# file puts an apostrophe before it, and loading one removes it (OWASP's advice).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def offered_languages() -> dict[str, str]:
    """The languages a version may offer translations in: every one but the source, each
    with its name in English (these pages are the clinic admin's)."""
    return {
        code: name_in_english(code)
        for code, _name in settings.LANGUAGES
        if code.lower() != settings.LANGUAGE_CODE.lower()
    }


def language_name(code: str) -> str:
    """ "Spanish", not "Español": for clinic staff."""
    return name_in_english(code) if code in dict(settings.LANGUAGES) else code


def listed(keys: list[str]) -> str:
    shown = ", ".join(keys[:SHOWN_KEYS])
    more = len(keys) - SHOWN_KEYS
    if more > 0:
        return gettext("%(shown)s and %(more)s more") % {"shown": shown, "more": more}
    return shown


# Completeness -------------------------------------------------------------------------------


@dataclass
class LanguageGaps:
    """What keeps a version from being complete in one language."""

    language: str
    total: int
    missing: list[str] = field(default_factory=list)  # never translated, or emptied
    stale: list[str] = field(default_factory=list)  # translated from a source since changed

    @property
    def complete(self) -> bool:
        return not self.missing and not self.stale

    def reason(self) -> str:
        parts = []
        if self.missing:
            parts.append(
                gettext("%(count)s missing (%(keys)s)")
                % {"count": len(self.missing), "keys": listed(self.missing)}
            )
        if self.stale:
            parts.append(
                gettext(
                    "%(count)s out of date, the source text changed since they were translated "
                    "(%(keys)s)"
                )
                % {"count": len(self.stale), "keys": listed(self.stale)}
            )
        return gettext(
            "The %(language)s (%(code)s) translation is incomplete: %(gaps)s of %(total)s "
            "texts: %(parts)s"
        ) % {
            "language": language_name(self.language),
            "code": self.language,
            "gaps": len(self.missing) + len(self.stale),
            "total": self.total,
            "parts": "; ".join(parts),
        }


def language_gaps(
    version: QuestionSetVersion, language: str, source: dict[str, str] | None = None
) -> LanguageGaps:
    """A key is done when it has a non-empty translation of the current source text, or is
    marked as having no official translation."""
    source = translatable_texts_for(version) if source is None else source
    rows = {
        row.key: row
        for row in ContentTranslation.objects.filter(version=version, language=language)
    }
    gaps = LanguageGaps(language, len(source))
    for key, source_text in source.items():
        row = rows.get(key)
        if row is None or (not row.no_official_translation and not row.text.strip()):
            gaps.missing.append(key)
        elif row.source_text != source_text:
            gaps.stale.append(key)
    return gaps


def translation_problems(version: QuestionSetVersion) -> list[str]:
    """One reason per language the version offers and is not complete in (for publishing)."""
    source = translatable_texts_for(version)
    problems = []
    for language in version.languages or []:
        if language not in offered_languages():
            problems.append(
                gettext("The version offers %(language)s, which is not a language of the app.")
                % {"language": repr(language)}
            )
            continue
        gaps = language_gaps(version, language, source)
        if not gaps.complete:
            problems.append(gaps.reason())
    return problems


# Saving -------------------------------------------------------------------------------------


def normalized_newlines(text: str) -> str:
    """A browser sends a text box's new lines as CR LF, a spreadsheet may write CR."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


@dataclass(frozen=True)
class TranslationEntry:
    key: str
    source: str
    text: str
    no_official_translation: bool = False


class TranslationsRefused(Exception):
    """The translations were not saved; `problems` says why, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def entry_problems(entries: Iterable[TranslationEntry], source: dict[str, str]) -> list[str]:
    """Everything that stops these entries being saved on a version with this source."""
    entries = list(entries)
    problems = []
    seen: set[str] = set()
    duplicates = []
    for entry in entries:
        if entry.key in seen:
            duplicates.append(entry.key)
        seen.add(entry.key)
    if duplicates:
        problems.append(
            gettext("These keys appear more than once: %(keys)s.") % {"keys": listed(duplicates)}
        )
    nul = [entry.key for entry in entries if "\x00" in entry.text or "\x00" in entry.key]
    if nul:
        problems.append(
            gettext("These entries hold a NUL character: %(keys)s.") % {"keys": listed(nul)}
        )
    garbled = [entry.key for entry in entries if REPLACEMENT_CHARACTER in entry.text]
    if garbled:
        problems.append(
            gettext(
                "These translations hold the character %(character)s, left where text was not "
                "read as UTF-8: %(keys)s. If they came from a file, it is not UTF-8: save it as "
                "'CSV UTF-8' and load it again; otherwise retype the letters shown as "
                "%(character)s."
            )
            % {"keys": listed(garbled), "character": REPLACEMENT_CHARACTER}
        )
    invisible = [
        entry.key
        for entry in entries
        if "\x00" not in entry.text and INVISIBLE.search(normalized_newlines(entry.text))
    ]
    if invisible:
        problems.append(
            gettext(
                "These translations hold invisible control or text-direction characters "
                "(only new lines and tabs are allowed): %(keys)s. Retype them."
            )
            % {"keys": listed(invisible)}
        )
    too_long = [entry.key for entry in entries if len(entry.text) > MAX_TEXT_LENGTH]
    if too_long:
        problems.append(
            gettext("These translations are longer than %(limit)s characters: %(keys)s.")
            % {"limit": f"{MAX_TEXT_LENGTH:,}", "keys": listed(too_long)}
        )
    unknown = [entry.key for entry in entries if entry.key not in source]
    if unknown:
        problems.append(
            gettext(
                "%(count)s keys are not texts of this version (a file for another version or "
                "question set?): %(keys)s."
            )
            % {"count": len(unknown), "keys": listed(unknown)}
        )
    stale = [
        entry.key for entry in entries if entry.key in source and entry.source != source[entry.key]
    ]
    if stale:
        problems.append(
            gettext(
                "%(count)s entries were translated from a source text that is not this "
                "version's (it has changed since): %(keys)s. Export the file again and "
                "translate the new wording."
            )
            % {"count": len(stale), "keys": listed(stale)}
        )
    for entry in entries:
        if entry.key.startswith("rule.") and entry.key in source and entry.text:
            problems.extend(
                f"{entry.key}: {problem}" for problem in placeholder_problems(entry.text)
            )
            wanted = set(re.findall(r"\{(\w+)\}", source[entry.key]))
            found = set(re.findall(r"\{(\w+)\}", entry.text))
            if wanted != found:
                problems.append(
                    gettext("%(key)s: keep the placeholders of the source (%(placeholders)s).")
                    % {
                        "key": entry.key,
                        "placeholders": ", ".join("{" + name + "}" for name in sorted(wanted))
                        or gettext("none"),
                    }
                )
    return problems


def save_translations(
    *,
    version: QuestionSetVersion,
    language: str,
    entries: list[TranslationEntry],
    actor: User | None,
    ip_address: str | None,
    how: str = "edited",
) -> int:
    """Store these translations of a draft in one transaction; returns how many changed.
    The languages the draft offers are not changed (an admin chooses them on the version).

    Raises TranslationsRefused (unknown keys, stale sources, broken placeholders: nothing
    saved) or VersionNotEditable (the version is published)."""
    if language not in offered_languages():
        raise TranslationsRefused(
            [
                gettext("%(language)s is not a language the app offers.")
                % {"language": repr(language)}
            ]
        )
    with transaction.atomic():
        [locked] = lock_for_editing(version.pk)
        source = translatable_texts_for(locked)
        problems = entry_problems(entries, source)
        if problems:
            raise TranslationsRefused(problems)
        existing = {
            row.key: row
            for row in ContentTranslation.objects.filter(version=locked, language=language)
        }
        changed = 0
        for entry in entries:
            text = normalized_newlines(entry.text).strip()
            row = existing.get(entry.key)
            values = {
                "source_text": entry.source,
                "text": text,
                "no_official_translation": entry.no_official_translation,
            }
            if row is None:
                if not text and not entry.no_official_translation:
                    continue  # nothing to keep
                ContentTranslation.objects.create(
                    version=locked, language=language, key=entry.key, **values
                )
                changed += 1
            elif any(getattr(row, name) != value for name, value in values.items()):
                for name, value in values.items():
                    setattr(row, name, value)
                row.save(update_fields=list(values))
                changed += 1
        audit.record(
            actor=actor,
            ip_address=ip_address,
            action=AuditAction.CONTENT_CHANGED,
            obj=locked,
            summary=f"{locked}: {language_name(language)} translations {how} "
            f"({changed} of {len(entries)} texts changed)",
        )
    return changed


def copy_translations(source: QuestionSetVersion, target: QuestionSetVersion) -> None:
    """A new draft starts with its source version's translations and languages."""
    ContentTranslation.objects.bulk_create(
        ContentTranslation(
            version=target,
            language=row.language,
            key=row.key,
            source_text=row.source_text,
            text=row.text,
            no_official_translation=row.no_official_translation,
        )
        for row in ContentTranslation.objects.filter(version=source)
    )
    target.languages = list(source.languages or [])
    target.save(update_fields=["languages"])


# The translator's files ---------------------------------------------------------------------


def current_entries(version: QuestionSetVersion, language: str) -> list[TranslationEntry]:
    """Every key of the version with its source and its translation as stored (an out-of-date
    translation is left out: the translator sees the new source, to translate)."""
    rows = {
        row.key: row
        for row in ContentTranslation.objects.filter(version=version, language=language)
    }
    entries = []
    for key, source_text in translatable_texts_for(version).items():
        row = rows.get(key)
        current = row is not None and row.source_text == source_text
        entries.append(
            TranslationEntry(
                key=key,
                source=source_text,
                text=row.text if current else "",
                no_official_translation=bool(current and row.no_official_translation),
            )
        )
    return entries


def to_po(version: QuestionSetVersion, language: str) -> str:
    po = polib.POFile(wrapwidth=0)
    po.metadata = {
        "Project-Id-Version": f"{version.question_set.slug} v{version.number}",
        "Language": language,
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
    }
    for entry in current_entries(version, language):
        po.append(
            polib.POEntry(
                msgctxt=entry.key,
                msgid=entry.source,
                msgstr=entry.text,
                flags=[NO_OFFICIAL_FLAG] if entry.no_official_translation else [],
            )
        )
    return str(po)


def to_csv(version: QuestionSetVersion, language: str) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for entry in current_entries(version, language):
        writer.writerow(
            [
                entry.key,
                csv_cell(entry.source),
                csv_cell(entry.text),
                "yes" if entry.no_official_translation else "",
            ]
        )
    # A byte-order mark, so a spreadsheet opens the accents right; the import skips it.
    return "\ufeff" + out.getvalue()


def _escaped_start(text: str) -> bool:
    return text.startswith(FORMULA_STARTS) or (
        text[:1] == "'" and text[1:].startswith((*FORMULA_STARTS, "'"))
    )


def csv_cell(text: str) -> str:
    """A text as a CSV cell a spreadsheet shows and does not run: an apostrophe before a
    leading = + - @ tab or carriage return (and before an apostrophe that starts such a text
    already, so that from_csv_cell gives back exactly this text)."""
    return "'" + text if _escaped_start(text) else text


def from_csv_cell(text: str) -> str:
    """The text of a cell csv_cell wrote: its one added apostrophe removed."""
    if text[:1] == "'" and text[1:].startswith((*FORMULA_STARTS, "'")):
        return text[1:]
    return text


class UnreadableFile(Exception):
    """The text is not a translation file of the expected shape; the message says why."""


def same_language(named: str, language: str) -> bool:
    """Whether a PO file's Language header names `language` (en_GB, en-GB and en-gb alike;
    "es_US" or "es-419" for a page in "es", which names no region)."""
    named = named.strip().replace("_", "-").lower()
    language = language.lower()
    return named == language or ("-" not in language and named.split("-")[0] == language)


def entries_from_po(text: str, language: str | None = None) -> list[TranslationEntry]:
    # A leading comment line: polib reads a string naming an existing file as that file.
    try:
        po = polib.pofile("#\n" + text.lstrip("\ufeff"))
    except Exception as error:  # polib raises OSError, ValueError and others on bad input
        raise UnreadableFile(
            gettext("This is not a PO file polib can read: %(error)s") % {"error": error}
        ) from None
    named = (po.metadata.get("Language") or "").strip()
    if language and named and not same_language(named, language):
        raise UnreadableFile(
            gettext(
                "This PO file is a translation into %(named)r (its Language header), not into "
                "%(language_name)s (%(language)s): load it on that language's page."
            )
            % {"named": named, "language_name": language_name(language), "language": language}
        )
    entries = []
    for entry in po:
        if entry.obsolete or not entry.msgid and not entry.msgctxt:
            continue
        if not entry.msgctxt:
            raise UnreadableFile(
                gettext("The entry for %(source)s has no msgctxt: each entry's msgctxt is its key.")
                % {"source": repr(entry.msgid[:60])}
            )
        if entry.msgid_plural:
            raise UnreadableFile(
                gettext("%(key)s: plural entries are not used here.") % {"key": entry.msgctxt}
            )
        entries.append(
            TranslationEntry(
                key=entry.msgctxt,
                source=entry.msgid,
                # A fuzzy entry is a guess awaiting review: gettext does not use it, nor do we.
                text="" if "fuzzy" in entry.flags else entry.msgstr,
                no_official_translation=NO_OFFICIAL_FLAG in entry.flags,
            )
        )
    if not entries:
        raise UnreadableFile(gettext("The file holds no entries."))
    return entries


def entries_from_csv(text: str) -> list[TranslationEntry]:
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    try:
        rows = list(reader)
    except csv.Error as error:
        raise UnreadableFile(
            gettext("This is not a CSV file that can be read: %(error)s") % {"error": error}
        ) from None
    if not rows or [cell.strip().lower() for cell in rows[0]] != list(CSV_COLUMNS):
        raise UnreadableFile(
            gettext("The first row must name the columns: %(columns)s.")
            % {"columns": ", ".join(CSV_COLUMNS)}
        )
    entries = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(CSV_COLUMNS):
            raise UnreadableFile(
                gettext("Row %(row)s has %(cells)s cells; every row needs %(needed)s.")
                % {"row": number, "cells": len(row), "needed": len(CSV_COLUMNS)}
            )
        key, source, translation, no_official = row
        mark = no_official.strip().lower()
        if mark not in TRUE_WORDS | FALSE_WORDS:
            raise UnreadableFile(
                gettext(
                    "Row %(row)s (%(key)s): no_official_translation must be yes or empty, "
                    "not %(value)s."
                )
                % {"row": number, "key": key[:60], "value": repr(no_official[:20])}
            )
        entries.append(
            TranslationEntry(
                key.strip(),
                from_csv_cell(source),
                from_csv_cell(translation),
                mark in TRUE_WORDS,
            )
        )
    if not entries:
        raise UnreadableFile(gettext("The file holds no rows after the column names."))
    return entries


def read_translation_file(
    text: str, file_format: str, language: str | None = None
) -> list[TranslationEntry]:
    """The entries of a PO or CSV file's text, for the page of `language` (a PO file naming
    another language in its header is refused)."""
    if "\x00" in text:
        raise UnreadableFile(gettext("The file holds a NUL character; save it as UTF-8 text."))
    if REPLACEMENT_CHARACTER in text:
        raise UnreadableFile(gettext(NOT_UTF8))
    if file_format == "po":
        return entries_from_po(text, language)
    if file_format == "csv":
        return entries_from_csv(text)
    raise UnreadableFile(gettext("Choose PO or CSV."))
