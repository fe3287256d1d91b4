"""Our own Spanish wording reads as "normal" or easier, sentence by sentence (issue 17).

The Spanish counterpart of tests/test_readability.py. "Our own wording" is:
- every msgstr of the default content translations (content/translations/*.es.po) except
  the validated instruments: entries flagged no-official-translation, entries whose
  translator comment says "Official Spanish" (copied verbatim from the official form), and
  the PCL-5 instructions after the "---" marker of the trauma section's intro;
- every msgstr of the patient interface's catalogue (locale/es/LC_MESSAGES/django.po),
  except date formats (not words) and entries used only on staff pages (STAFF_ONLY_FILES).
The score is the Fernández Huerta readability of each sentence (tests/readability_es.py);
60 and above is "normal (for an adult)" or easier, 7th or 8th grade or below.

Names of conditions, medicines and tests (the English test's list plus the Spanish names)
and the shared glossary's fixed words (GLOSSARY_WORDS: "medicamento", "cuestionario",
"contraseña"...) each count as one plain two-syllable word. The formula weighs syllables
per word heavily, and on a five-word sentence one "medicamentos" (5 syllables) costs
about 20 points: without this, the glossary itself would fail the bar.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import polib
import pytest

from .readability_es import NAME_TOKEN, Sentence, long_words, sentences, syllables
from .test_readability import NAMES as ENGLISH_NAMES

ROOT = Path(__file__).resolve().parent.parent
CONTENT_PO_FILES = sorted((ROOT / "content" / "translations").glob("*.es.po"))
INTERFACE_PO_FILE = ROOT / "locale" / "es" / "LC_MESSAGES" / "django.po"

MIN_SCORE = 60.0
# As in English, labels under MIN_WORDS_TO_GRADE words are not scored (the formula means
# little on a word or two) but their words are checked. Spanish words run longer than
# English ones (the syllable weights of the two formulas, 84.6 and 60, differ by 1.41), so
# the English limit of 4 syllables becomes 5: "medicamentos", not "contraindicaciones".
MIN_WORDS_TO_GRADE = 5
MAX_LABEL_SYLLABLES = 5
OFFICIAL_NOTE = "Official Spanish"
INSTRUMENT_MARKER = re.compile(r"^---$", re.MULTILINE)
PLACEHOLDER = re.compile(r"%?%\([a-z_]+\)[sd]|\{[a-z_]+\}")
MARKUP = re.compile(r"<[^>]+>")
# Where staff-only strings live: an entry of the catalogue used only in these files (its
# "#:" locations; the catalogues are made with --add-location file) is for staff, who read
# the clinic's language, not a patient's, and is not graded. An entry used anywhere else,
# even also by staff, is graded.
STAFF_ONLY_FILES = (
    "templates/staff/",
    "templates/admin/",
    "templates/base_staff.html",
    "templates/accounts/two_factor_",
    "templates/email/authenticator_setup_link.txt",
    "templates/email/two_factor_enrolled.txt",
    "templates/email/urgent_screening",
    "templates/includes/_baseline_answers.html",
    "templates/includes/_flag_card.html",
    "templates/includes/_readings_table.html",
    "templates/includes/_rescreening.html",
    "templates/includes/_review_clock.html",
    "templates/includes/_screening_body.html",
    "templates/includes/_session_record_print.html",
    "templates/includes/_session_table.html",
    "templates/includes/_since_baseline.html",
    "templates/includes/_staff_nav.html",
    "templates/includes/_summary.html",
    "templates/includes/_what_changed.html",
    "screening/admin/",
    "screening/admin_site.py",
    "screening/audit_display.py",
    "screening/engine_words.py",
    "screening/fhir/",
    "screening/review/",
    "screening/models.py",
    "screening/session_records.py",
    "screening/services/locks.py",
    "screening/services/rescreening.py",
    "screening/services/review.py",
    "screening/services/sessions.py",
    "screening/services/translations.py",
    "screening/services/two_factor.py",
)
# The second-factor code form is in the sign-in forms' module but only on staff pages.
STAFF_ONLY_MSGIDS = ("Code from your authenticator app",)


def staff_only(entry: polib.POEntry) -> bool:
    return (
        entry.msgid in STAFF_ONLY_MSGIDS
        or bool(entry.occurrences)
        and all(path.startswith(STAFF_ONLY_FILES) for path, _ in entry.occurrences)
    )


# Names a patient must recognize as written, in Spanish (each one plain two-syllable
# word, as in English), besides the English list (brand names and abbreviations the
# Spanish text keeps).
SPANISH_NAMES = [
    "ketamina",
    "esketamina",
    "aneurisma",
    "malformación arteriovenosa",
    "MAV",
    "AIT",
    "hemorragia",
    "angina",
    "arritmia",
    "fibrilación auricular",
    "encefalopatía hipertensiva",
    "hipertensión",
    "hidrocefalia",
    "conmoción cerebral",
    "epilepsia",
    "demencia",
    "glaucoma",
    "glaucoma de ángulo cerrado",
    "cirrosis",
    "hepatitis",
    "TFGe",
    "diálisis",
    "cistitis intersticial",
    "apnea del sueño",
    "EPOC",
    "enfisema",
    "hipertiroidismo",
    "porfiria",
    "esquizofrenia",
    "trastorno esquizoafectivo",
    "trastorno delirante",
    "psicosis",
    "psicótico",
    "psicótica",
    "psicóticos",
    "trastorno bipolar",
    "trastorno de ansiedad",
    "maníaco",
    "maníaca",
    "hipomaníaco",
    "hipomaníaca",
    "trastorno de estrés postraumático",
    "TEPT",
    "anorexia",
    "bulimia",
    "disociación",
    "desrealización",
    "despersonalización",
    "Línea de Prevención del Suicidio y Crisis",
    "trastorno obsesivo-compulsivo",
    "TOC",
    "terapia electroconvulsiva",
    "TEC",
    "estimulación magnética transcraneal",
    "EMT",
    "antidepresivos",
    "antidepresivo",
    "psiquiatra",
    "cloruro de bencetonio",
    "sistólica",
    "diastólica",
    "DIU",
    "insuficiencia cardíaca",
    "anticonceptivo",
    "anticonceptivos",
    "pampelmusa",
]
# The shared glossary's fixed words for the app's own things (I18N-SHARED.md): a patient
# sees them on every page, and the shorter synonyms ("medicina") would break the
# glossary. Like names, each counts as one plain two-syllable word.
GLOSSARY_WORDS = [
    "medicamento",
    "medicamentos",
    "cuestionario",
    "cuestionarios",
    "suplemento",
    "suplementos",
    "presión arterial",
    "embarazada",
    "estatura",
    "contraseña",
    "contraseñas",
    "iniciar sesión",
    "inicio de sesión",
    "cerrar sesión",
    "personal de enfermería",
    "chequeo antes de la sesión",
]
NAMES = ENGLISH_NAMES + SPANISH_NAMES + GLOSSARY_WORDS


def _plain(text: str) -> str:
    """The words a patient reads: markup dropped, each placeholder one name-like word."""
    return PLACEHOLDER.sub(f" {NAME_TOKEN} ", MARKUP.sub(" ", text))


def content_texts() -> list[tuple[str, str]]:
    """(where, Spanish text) for every entry of our own wording in the content PO files."""
    found = []
    for path in CONTENT_PO_FILES:
        for entry in polib.pofile(str(path)):
            notes = f"{entry.comment or ''} {entry.tcomment or ''}"
            if "no-official-translation" in entry.flags or OFFICIAL_NOTE in notes:
                continue
            text = INSTRUMENT_MARKER.split(entry.msgstr)[0]
            found.append((f"{path.name} {entry.msgctxt}", _plain(text)))
    return found


def interface_texts() -> list[tuple[str, str]]:
    """(where, Spanish text) for every entry of the patient interface's catalogue."""
    found = []
    for entry in polib.pofile(str(INTERFACE_PO_FILE)):
        if entry.obsolete or (entry.msgctxt or "").startswith("date format"):
            continue
        if staff_only(entry):
            continue
        texts = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        found.extend((f"django.po {entry.msgid[:50]!r}", _plain(text)) for text in texts)
    return found


def all_sentences() -> list[tuple[str, Sentence]]:
    return [
        (where, sentence)
        for where, text in content_texts() + interface_texts()
        for sentence in sentences(text, NAMES)
    ]


@pytest.fixture(scope="module")
def every_sentence():
    return all_sentences()


@pytest.fixture(scope="module")
def graded(every_sentence):
    return [pair for pair in every_sentence if pair[1].words >= MIN_WORDS_TO_GRADE]


def distribution(graded: list[tuple[str, Sentence]]) -> Counter:
    bands = Counter()
    for _, sentence in graded:
        band = min(90, max(0, int(sentence.score // 10) * 10))
        bands["<50" if band < 50 else f"{band}s"] += 1
    return bands


def test_every_spanish_sentence_of_our_own_wording_reads_as_normal_or_easier(graded):
    too_hard = [
        f"{where}: L {sentence.score:.1f}: {sentence.text}"
        for where, sentence in graded
        if sentence.score < MIN_SCORE
    ]
    assert not too_hard, f"{len(too_hard)} of {len(graded)} sentences:\n" + "\n".join(too_hard)


def test_every_short_spanish_label_uses_words_of_at_most_five_syllables(every_sentence):
    too_long = [
        f"{where}: {sentence.text!r} ({', '.join(words)})"
        for where, sentence in every_sentence
        if sentence.words < MIN_WORDS_TO_GRADE
        and (words := long_words(sentence.text, NAMES, longer_than=MAX_LABEL_SYLLABLES))
    ]
    assert not too_long, "\n".join(too_long)


def test_the_score_covers_the_content_and_the_interface(graded):
    sources = Counter(where.split(" ")[0] for where, _ in graded)
    assert set(sources) == {path.name for path in CONTENT_PO_FILES} | {"django.po"}
    assert len(graded) > 400


def test_every_catalogue_entry_says_where_it_is_used():
    """Without its locations an entry could not be told staff-only: it would be graded."""
    catalogue = polib.pofile(str(INTERFACE_PO_FILE))
    assert all(entry.occurrences for entry in catalogue if not entry.obsolete)


def test_a_string_on_a_patient_page_is_graded_even_if_staff_use_it_too():
    catalogue = polib.pofile(str(INTERFACE_PO_FILE))
    shared = [
        entry
        for entry in catalogue
        if any(path.startswith(STAFF_ONLY_FILES) for path, _ in entry.occurrences)
        and not staff_only(entry)
    ]
    assert shared, "no entry is shared by staff and patient files: the rule is untested"
    graded_msgids = {where for where, _ in interface_texts()}
    assert all(f"django.po {entry.msgid[:50]!r}" in graded_msgids for entry in shared)


def test_the_instruments_are_left_out():
    texts = " ".join(text for _, text in content_texts())
    # PHQ-9 (official Spanish), PCL-5 instructions (official English after "---").
    assert "qué tan seguido ha tenido molestias" not in texts
    assert "Below is a list of problems" not in texts
    # Our own words before the "---" marker are graded.
    assert "No tiene que decir" in texts


def test_a_hard_sentence_fails_the_bar():
    [sentence] = sentences(
        "La administración concomitante de agentes farmacológicos requiere una evaluación "
        "exhaustiva de las contraindicaciones correspondientes antes de iniciar el tratamiento."
    )
    assert sentence.score < MIN_SCORE


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("El gato está en la casa.", 90, 120),
        ("Puede parar y volver más tarde.", 80, 110),
        (
            "La administración concomitante de agentes farmacológicos requiere una "
            "evaluación exhaustiva de las contraindicaciones.",
            -10,
            30,
        ),
    ],
)
def test_the_score_of_known_sentences(text, low, high):
    [sentence] = sentences(text)
    assert low <= sentence.score <= high


def test_the_formula_is_the_corrected_fernandez_huerta():
    # 6 words, 9 syllables (el ga-to es-tá en la ca-sa): 206.84 - 60 * 9/6 - 1.02 * 6
    [sentence] = sentences("El gato está en la casa.")
    assert (sentence.words, sentence.syllables) == (6, 9)
    assert sentence.score == pytest.approx(206.84 - 90 - 6.12)
    # At the same syllables per word, a longer sentence scores lower (Law's correction;
    # the literal "sentences per 100 words" reading would score it higher).
    assert Sentence("", 10, 20).score > Sentence("", 20, 40).score


@pytest.mark.parametrize(
    ("word", "count"),
    [
        ("paciente", 3),  # pa-cien-te: diphthong ie
        ("día", 2),  # dí-a: accented í breaks it
        ("ciudad", 2),  # ciu-dad: two weak vowels
        ("cuestionario", 4),  # cues-tio-na-rio
        ("medicamento", 5),
        ("psiquiatra", 3),  # psi-quia-tra: silent u
        ("Guardar", 2),  # guar-dar: u before a is spoken, in a diphthong
        ("averiguáis", 4),  # a-ve-ri-guáis: triphthong
        ("leer", 2),  # le-er: hiatus of two strong vowels
        ("continúa", 4),  # con-ti-nú-a
        ("aún", 2),
        ("hoy", 1),  # final y is a vowel
        ("y", 1),
        ("mayo", 2),  # y before a vowel is a consonant
        ("pingüino", 3),  # pin-güi-no: ü is spoken
        ("guerra", 2),  # gue-rra: silent u
        ("embarazada", 5),
        ("contraseña", 4),
        ("EPOC", 4),  # e-pe-o-ce
        ("988", 2),
    ],
)
def test_syllables_of_known_words(word, count):
    assert syllables(word) == count


def test_a_name_counts_as_one_plain_word():
    text = "Problemas del cerebro por presión muy alta (encefalopatía hipertensiva)"
    [plain] = sentences(text)
    [named] = sentences(text, ["encefalopatía hipertensiva"])
    assert named.words == plain.words - 1
    assert named.score > plain.score


def test_placeholders_and_markup_are_not_read_as_words():
    assert _plain('Hola, %(name)s. Vea <a href="%(url)s">la clínica</a> de {clinic_name}.') == (
        f"Hola,  {NAME_TOKEN} . Vea  la clínica  de  {NAME_TOKEN} ."
    )


def test_report_the_distribution(graded, capsys):
    """Not a check: prints how the sentences spread over the scale (run with -s)."""
    with capsys.disabled():
        bands = distribution(graded)
        print(f"\n{len(graded)} Spanish sentences scored:", dict(sorted(bands.items())))
