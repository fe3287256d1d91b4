"""The engine's sentences (screening/engine/readiness.py: codes, values and US English) worded
in the reader's language by screening/engine_words.py: in US English exactly the engine's own
words, in Spanish from the catalogue with numbers and times as Spanish writes them."""

from datetime import date, datetime

import pytest
from django.utils import translation

from screening.engine.readiness import (
    ENGLISH,
    CheckIn,
    DischargeFacts,
    Reading,
    SessionFacts,
    Status,
    Words,
    discharge_check,
    readiness,
)
from screening.engine_words import STATUS_LABELS, TEMPLATES, say, say_html, status_label

VALUES = {
    "problem": "The clearance expired.",
    "severity": "caution",
    "title": "New medicine",
    "systolic": 150,
    "diastolic": 95,
    "limit_systolic": 140,
    "limit_diastolic": 90,
    "minutes": 120,
    "ends": datetime(2026, 12, 1, 12, 5),
    "due": datetime(2026, 12, 1, 10, 40),
    "given": datetime(2026, 11, 30, 2, 21),
    "given_day": date(2026, 11, 30),
    "at": datetime(2026, 11, 30, 4, 30),
    "at_day": date(2026, 11, 30),
}


def test_every_code_of_the_engine_has_its_template():
    assert set(TEMPLATES) == set(ENGLISH)
    assert set(STATUS_LABELS) == set(Status)


@pytest.mark.parametrize("code", sorted(ENGLISH))
def test_in_us_english_each_sentence_reads_as_the_engine_wrote_it(code):
    words = Words(code, VALUES)
    with translation.override("en-us"):
        assert say(words) == words.text


@pytest.mark.parametrize("code", sorted(set(ENGLISH) - {"clearance_problem"}))
def test_in_spanish_each_sentence_is_translated(code):
    words = Words(code, VALUES)
    with translation.override("es"):
        assert say(words) != words.text


def test_the_values_are_written_as_the_language_writes_them():
    facts = DischargeFacts(
        dose_given_at=datetime(2026, 12, 1, 10, 5),
        now=datetime(2026, 12, 1, 11, 0),
        observation_minutes=120,
        latest_post_dose=Reading(185, 90),
        alert_and_oriented=True,
        walks_unaided=True,
        escort_present=True,
    )
    unmet = discharge_check(facts).unmet
    with translation.override("es"):
        spanish = [say(words) for words in unmet]
    assert spanish == [
        "El tiempo de observación (120 minutos después de la dosis) termina a las 12:05.",
        "La última presión arterial (185/90 mmHg) está por encima del límite (180/100).",
    ]
    flagged = readiness(
        SessionFacts(check_in=CheckIn.MISSING, pre_dose=Reading(120, 80)),
    )
    with translation.override("es"):
        assert status_label(flagged.status) == "En espera"
        assert say(flagged.reasons[0].words).startswith("Todavía no se ha invitado al paciente")
    with translation.override("en-us"):
        assert status_label(flagged.status) == "On hold"


def test_a_flag_s_severity_is_the_language_s_word():
    words = Words("check_in_flag", {"severity": "urgent", "title": "Chest pain"})
    with translation.override("es"):
        assert "(urgente): Chest pain." in say(words)
    with translation.override("en-us"):
        assert say(words) == (
            "Check-in flag not yet acknowledged by a physician (urgent): Chest pain."
        )


def test_on_a_page_the_flag_s_title_is_marked_as_the_question_set_s_words_and_escaped():
    words = Words("check_in_flag", {"severity": "caution", "title": "<b>New</b> medicine"})
    with translation.override("en-us"):
        assert say_html(words) == (
            "Check-in flag not yet acknowledged by a physician (caution): "
            "<span data-content>&lt;b&gt;New&lt;/b&gt; medicine</span>."
        )
