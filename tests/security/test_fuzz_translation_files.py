"""Fuzzing the admin's "load a translation file" page (PO or CSV text) and its part pages.

Hypothesis sends translation files broken in every way it can (lines cut, swapped or
replaced by hostile strings, NUL, lone quotes, a path to a file on the server, huge cells,
unknown keys, stale sources, wrong formats) and malformed part posts. Each example must
never answer 500, and a refused one must change nothing: every example runs in a
savepoint rolled back afterwards, and the stored translations are compared with those
before it. An accepted one stores only keys of the version with its current source text.
Reproducible: derandomize=True.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.db import transaction
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from screening.models import ContentTranslation
from screening.services.content import make_draft
from screening.services.translations import (
    TranslationEntry,
    save_translations,
    to_csv,
    to_po,
)
from screening.snapshots import translatable_texts_for
from tests.logins import log_in_staff
from tests.security.test_fuzz_forms import NASTY_STRINGS

pytestmark = pytest.mark.django_db

EXAMPLES = 120
HOSTILE = st.one_of(
    st.sampled_from(NASTY_STRINGS),
    st.text(max_size=40),
    st.sampled_from(
        [
            "/etc/passwd",
            "/proc/self/environ",
            '"',
            '"unterminated',
            'msgctxt "',
            'msgstr[0] "x"',
            'msgid_plural "x"',
            "#, fuzzy",
            '#~ msgid "old"',
            "a,b",
            'a,"b',
            "key,source,translation,no_official_translation",
            "x" * 200_000,
            "\r",
            "\ufeff\ufeff",
        ]
    ),
)


@contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def stored(version):
    return sorted(
        ContentTranslation.objects.filter(version=version).values_list(
            "language", "key", "source_text", "text", "no_official_translation"
        )
    )


@pytest.fixture
def draft(default_version, clinic_admin, client):
    draft = make_draft(source=default_version, actor=clinic_admin, ip_address=None)
    # Only what this test saves, whatever the default content files translate.
    ContentTranslation.objects.filter(version=draft).delete()
    source = translatable_texts_for(draft)
    some = list(source.items())[:40]
    save_translations(
        version=draft,
        language="es",
        entries=[TranslationEntry(key, text, f"ES {text}") for key, text in some],
        actor=None,
        ip_address=None,
    )
    log_in_staff(client, clinic_admin)
    return draft


def mutate(text: str, data) -> str:
    """The file with a few of its lines cut, repeated or replaced, or cut off midway."""
    lines = text.split("\n")
    for _ in range(data.draw(st.integers(0, 4))):
        if not lines:
            break
        index = data.draw(st.integers(0, len(lines) - 1))
        how = data.draw(st.sampled_from(["replace", "insert", "delete", "repeat", "append"]))
        if how == "replace":
            lines[index] = data.draw(HOSTILE)
        elif how == "insert":
            lines.insert(index, data.draw(HOSTILE))
        elif how == "delete":
            del lines[index]
        elif how == "repeat":
            lines.insert(index, lines[index])
        else:
            lines[index] += data.draw(HOSTILE)
    joined = "\n".join(lines)
    if data.draw(st.booleans()):
        joined = joined[: data.draw(st.integers(0, len(joined)))]
    return joined


def test_loading_a_translation_file_survives_malformed_files(client, draft):
    url = f"/admin/screening/questionsetversion/{draft.pk}/translations/es/upload/"
    files = {"po": to_po(draft, "es"), "csv": to_csv(draft, "es")}
    source = translatable_texts_for(draft)
    baseline = stored(draft)
    outcomes = {"saved": 0, "refused": 0}

    @hypothesis_settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @example(file_format="po", wrong_format=False, data=None, raw="/etc/passwd")
    @example(file_format="po", wrong_format=False, data=None, raw="\x00")
    @example(file_format="csv", wrong_format=False, data=None, raw='key,"unclosed')
    @example(file_format="csv", wrong_format=False, data=None, raw="x" * 200_000)
    @example(file_format="zip", wrong_format=False, data=None, raw="")
    @given(
        file_format=st.sampled_from(["po", "csv", "", "PO", "zip\x00"]),
        wrong_format=st.booleans(),
        data=st.data(),
        raw=st.none(),
    )
    def post(file_format, wrong_format, data, raw):
        if raw is None:
            base = files.get(file_format.lower(), files["po"])
            if wrong_format:
                base = files["csv" if file_format == "po" else "po"]
            raw = mutate(base, data)
        with rolled_back():
            response = client.post(url, {"file_format": file_format, "content": raw})
            assert response.status_code in (200, 302), response.status_code
            after = stored(draft)
            if response.status_code == 200:
                assert after == baseline, "a refused file changed the translations"
                outcomes["refused"] += 1
            else:
                for language, key, source_text, text, _ in after:
                    assert language == "es" and key in source, key
                    assert source_text == source[key]
                    assert "\x00" not in text
                outcomes["saved"] += 1

    post()
    assert outcomes["saved"] and outcomes["refused"], outcomes


def test_a_part_page_survives_malformed_posts(client, draft):
    url = f"/admin/screening/questionsetversion/{draft.pk}/translations/es/?part=about_you"
    page = client.get(url).content.decode()
    digest = page.split('name="sources" value="')[1].split('"')[0]
    keys = [key for key in translatable_texts_for(draft) if "sex_at_birth" in key]
    baseline = stored(draft)

    @hypothesis_settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        fields=st.dictionaries(
            st.one_of(
                st.sampled_from([f"text:{key}" for key in keys] + [f"none:{key}" for key in keys]),
                st.sampled_from(["sources", "text:no.such.key", "none:", "text:"]),
            ),
            st.one_of(HOSTILE, st.just(digest)),
            max_size=6,
        ),
        keep_digest=st.booleans(),
    )
    def post(fields, keep_digest):
        if keep_digest:
            fields = {**fields, "sources": digest}
        with rolled_back():
            response = client.post(url, fields)
            assert response.status_code in (200, 302), response.status_code
            if response.status_code == 200:
                assert stored(draft) == baseline

    post()
