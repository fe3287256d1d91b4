"""The compiled interface catalogues are the ones in the .po files, and the Spanish one is
complete: the app reads only the committed .mo files (running it needs no gettext), so a
translation edited in a .po and not compiled would never reach a patient."""

from pathlib import Path

import polib
import pytest
from django.conf import settings

LOCALE = Path(settings.BASE_DIR) / "locale"
CATALOGUES = sorted(LOCALE.glob("*/LC_MESSAGES/django.po"))


def translations(entries) -> dict:
    found = {}
    for entry in entries:
        if "fuzzy" in entry.flags or entry.obsolete:
            continue
        key = (entry.msgctxt, entry.msgid)
        if entry.msgid_plural:
            values = tuple(entry.msgstr_plural[index] for index in sorted(entry.msgstr_plural))
            if any(values):
                found[key] = values
        elif entry.msgstr:
            found[key] = entry.msgstr
    return found


def test_both_translations_have_a_catalogue():
    assert {path.parent.parent.name for path in CATALOGUES} == {"es", "en_GB"}


@pytest.mark.parametrize("po_path", CATALOGUES, ids=lambda path: path.parent.parent.name)
def test_the_compiled_catalogue_matches_its_source(po_path):
    compiled = polib.mofile(str(po_path.with_suffix(".mo")))
    assert translations(compiled) == translations(polib.pofile(str(po_path))), (
        f"{po_path} changed without compilemessages (see README, Languages)"
    )


def test_every_spanish_interface_string_is_translated():
    catalogue = polib.pofile(str(LOCALE / "es" / "LC_MESSAGES" / "django.po"))
    missing = [entry.msgid for entry in catalogue if not entry.translated()]
    assert not missing, missing
