"""The default content's translation files (content/translations/<slug>.<language>.po) cover
every patient-facing text of the content files, key by key, with the current source text.

Keys (docs: the issue 17 notes): section.<code>.title, section.<code>.intro (if not empty),
question.<code>.text / .help / .unit (if not empty), choice.<question>.<value>,
rule.<code>.patient_message (if not empty). A validated instrument's item is either in its
official translation (with the address it was copied from) or marked no-official-translation
with an empty translation: never a home-made translation.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from screening.engine.definitions import (
    CONTENT_DIRECTORY,
    DEFAULT_CHECK_IN_FILE,
    DEFAULT_CONTENT_FILE,
    read_content,
    rule_defs_from_data,
)

TRANSLATIONS = CONTENT_DIRECTORY / "translations"
CONTENT_FILES = [DEFAULT_CONTENT_FILE, DEFAULT_CHECK_IN_FILE]
INSTRUMENT_PREFIXES = ("phq9_", "gad7_", "auditc_", "pcl5_")
# Section intros that are an instrument's own instructions.
INSTRUMENT_INTROS = {"section.mood.intro", "section.anxiety.intro"}
# Help text on an instrument item that is our own wording.
OWN_HELP = {"question.auditc_2.help"}
PLACEHOLDER = re.compile(r"\{\w+\}")


def source_texts(data: dict) -> list[tuple[str, str]]:
    """(key, US English source text) in file order, as the content loader reads them."""
    texts = []
    for section in data["sections"]:
        code = section["code"]
        texts.append((f"section.{code}.title", str(section["title"]).strip()))
        intro = str(section.get("intro") or "").strip()
        if intro:
            texts.append((f"section.{code}.intro", intro))
        for question in section.get("questions") or []:
            q = question["code"]
            texts.append((f"question.{q}.text", str(question.get("text", "")).strip()))
            help_text = str(question.get("help") or "").strip()
            if help_text:
                texts.append((f"question.{q}.help", help_text))
            unit = str(question.get("unit") or "")
            if unit:
                texts.append((f"question.{q}.unit", unit))
            for choice in question.get("choices") or []:
                texts.append((f"choice.{q}.{choice['value']}", str(choice["label"])))
    for rule in rule_defs_from_data(data):
        if rule.patient_message:
            texts.append((f"rule.{rule.code}.patient_message", rule.patient_message))
    return texts


def is_instrument(key: str) -> bool:
    if key in INSTRUMENT_INTROS:
        return True
    if key in OWN_HELP:
        return False
    kind, code = key.split(".")[:2]
    return kind in ("question", "choice") and code.startswith(INSTRUMENT_PREFIXES)


def _unquote(line: str) -> str:
    body = line[line.index('"') + 1 : line.rindex('"')]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def read_po(path: Path) -> list[dict]:
    """The entries of a PO file (header left out): context, id, translation, flags, comments."""
    entries, current, field = [], None, None
    for line in path.read_text(encoding="utf-8").splitlines() + [""]:
        if not line.strip():
            if current is not None and "msgid" in current:
                entries.append(current)
            current, field = None, None
            continue
        if current is None:
            current = {"flags": set(), "comments": []}
        if line.startswith("#,"):
            current["flags"].update(f.strip() for f in line[2:].split(","))
        elif line.startswith("#."):
            current["comments"].append(line[2:].strip())
        elif line.startswith("#"):
            continue
        elif line.startswith(("msgctxt ", "msgid ", "msgstr ")):
            field = line.split(" ", 1)[0]
            current[field] = _unquote(line)
        elif line.startswith('"') and field:
            current[field] += _unquote(line)
    return [e for e in entries if e.get("msgid")]


def cases():
    for content_file in CONTENT_FILES:
        data = read_content(content_file)[0]
        for language in data["question_set"]["languages"]:
            yield pytest.param(data, language, id=f"{data['question_set']['slug']}.{language}")


def po_path(data: dict, language: str) -> Path:
    return TRANSLATIONS / f"{data['question_set']['slug']}.{language}.po"


def test_both_default_question_sets_offer_spanish_and_uk_english():
    for content_file in CONTENT_FILES:
        data = read_content(content_file)[0]
        assert data["question_set"]["languages"] == ["es", "en-gb"]


@pytest.mark.parametrize(("data", "language"), cases())
def test_one_entry_per_key_in_file_order_with_the_current_source_text(data, language):
    entries = read_po(po_path(data, language))
    assert [(e["msgctxt"], e["msgid"]) for e in entries] == source_texts(data)


@pytest.mark.parametrize(("data", "language"), cases())
def test_every_entry_is_translated_or_marked_as_an_instrument_without_official_wording(
    data, language
):
    for entry in read_po(po_path(data, language)):
        key = entry["msgctxt"]
        assert "fuzzy" not in entry["flags"], key
        if "no-official-translation" in entry["flags"]:
            assert is_instrument(key), f"{key}: only an instrument item may lack a translation"
            assert entry["msgstr"] == "", key
        else:
            assert entry["msgstr"].strip(), f"{key}: empty translation"


@pytest.mark.parametrize(("data", "language"), cases())
def test_translations_keep_placeholders_and_the_intro_marker(data, language):
    for entry in read_po(po_path(data, language)):
        if not entry["msgstr"]:
            continue
        key, source, translation = entry["msgctxt"], entry["msgid"], entry["msgstr"]
        assert sorted(PLACEHOLDER.findall(translation)) == sorted(PLACEHOLDER.findall(source)), key
        assert translation.count("\n---\n") == source.count("\n---\n"), key
        assert translation.count("\n") == source.count("\n"), f"{key}: line structure"


def test_spanish_instrument_items_are_official_wording_with_its_source_or_marked_missing():
    for content_file in CONTENT_FILES:
        data = read_content(content_file)[0]
        for entry in read_po(po_path(data, "es")):
            if not is_instrument(entry["msgctxt"]) or not entry["msgstr"]:
                continue
            assert any(
                c.startswith("Official Spanish (USA) wording: https://") for c in entry["comments"]
            ), entry["msgctxt"]


def test_uk_english_keeps_the_instruments_official_english_wording():
    for content_file in CONTENT_FILES:
        data = read_content(content_file)[0]
        for entry in read_po(po_path(data, "en-gb")):
            if is_instrument(entry["msgctxt"]):
                assert entry["msgstr"] == entry["msgid"], entry["msgctxt"]


@pytest.mark.skipif(shutil.which("msgfmt") is None, reason="gettext's msgfmt is not installed")
def test_every_translation_file_passes_msgfmt_check():
    files = sorted(TRANSLATIONS.glob("*.po"))
    assert len(files) == 4
    for path in files:
        result = subprocess.run(
            ["msgfmt", "-c", "-o", "/dev/null", str(path)], capture_output=True, text=True
        )
        assert result.returncode == 0, f"{path.name}: {result.stderr}"
