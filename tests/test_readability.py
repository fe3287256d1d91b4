"""Patient-facing text of the default content reads at US grade 8 or below, sentence by sentence.

"Patient-facing" is everything the intake shows a patient: section titles and intros,
question text and help, choice labels, and the patient messages of urgent rules (shown on
the confirmation page). The validated instruments keep their official wording and are
left out, item by item (INSTRUMENT_ITEMS, INSTRUMENT_SENTENCES below). The grade is the
Flesch–Kincaid grade of each sentence (tests/readability.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings

from screening.engine.definitions import DEFAULT_CHECK_IN_FILE, DEFAULT_CONTENT_FILE, read_content
from screening.patient_messages import render_patient_message

from .readability import Sentence, long_words, sentences, syllables

MAX_GRADE = 8.0
# Shorter labels ("Female", "None of these") are not graded by the formula, which means
# little on a word or two; none of their words may be longer than MAX_LABEL_SYLLABLES.
MIN_WORDS_TO_GRADE = 5
MAX_LABEL_SYLLABLES = 4

# The instruments' own items, answer labels and instructions (official or public wording,
# see the licence notes at the top of the content file): never reworded, so not graded.
INSTRUMENT_ITEMS = {
    "PHQ-9": [f"phq9_{n}" for n in range(1, 10)] + ["phq9_difficulty"],
    "GAD-7": [f"gad7_{n}" for n in range(1, 8)],
    "AUDIT-C": ["auditc_1", "auditc_2", "auditc_3"],
    "PCL-5": [f"pcl5_{n}" for n in range(1, 21)],
}
INSTRUMENT_SENTENCES = {
    # PHQ-9 and GAD-7 instructions (the section intros of "mood" and "anxiety").
    "Over the last 2 weeks, how often have you been bothered by any of the following problems?",
    "Over the last 2 weeks, how often have you been bothered by the following problems?",
    # PCL-5 instructions (in the "stressful experiences" intro).
    "Below is a list of problems that people sometimes have in response to a very stressful "
    "experience.",
    "Please read each problem carefully and then choose one of the answers to indicate how "
    "much you have been bothered by that problem in the past month.",
    "In the past month, how much were you bothered by:",
}
# Help text of an instrument item that is our own wording, not the instrument's: graded.
OWN_HELP_ON_INSTRUMENT_ITEMS = {"auditc_2"}

# Names a patient must recognize as written (conditions, medicines, tests, programs):
# each counts as one ordinary two-syllable word, and the sentence around it is graded.
NAMES = [
    "ketamine",
    "esketamine",
    "Spravato",
    "REMS",
    "aneurysm",
    "arteriovenous malformation",
    "AVM",
    "TIA",
    "hemorrhage",
    "angina",
    "arrhythmia",
    "atrial fibrillation",
    "hypertensive encephalopathy",
    "hypertension",
    "hydrocephalus",
    "concussion",
    "epilepsy",
    "dementia",
    "glaucoma",
    "angle-closure glaucoma",
    "cirrhosis",
    "hepatitis",
    "eGFR",
    "dialysis",
    "interstitial cystitis",
    "sleep apnea",
    "CPAP",
    "COPD",
    "emphysema",
    "hyperthyroidism",
    "porphyria",
    "schizophrenia",
    "schizoaffective disorder",
    "delusional disorder",
    "psychosis",
    "psychotic",
    "bipolar disorder",
    "anxiety disorder",
    "manic",
    "hypomanic",
    "post-traumatic stress disorder",
    "PTSD",
    "anorexia",
    "bulimia",
    "dissociation",
    "derealization",
    "depersonalization",
    "PCP",
    "Suicide & Crisis Lifeline",
    "obsessive-compulsive disorder",
    "OCD",
    "electroconvulsive therapy",
    "ECT",
    "transcranial magnetic stimulation",
    "TMS",
    "antidepressants",
    "antidepressant",
    "psychiatrist",
    "benzethonium chloride",
    "systolic",
    "diastolic",
    "IUD",
    "IV",
    "IM",
    "US",
]


def patient_texts(data: dict) -> Iterator[tuple[str, str]]:
    """(where, text) for every patient-facing string of a content file's own wording."""
    exempt = {code for codes in INSTRUMENT_ITEMS.values() for code in codes}
    for section in data["sections"]:
        yield f"section {section['code']} title", section["title"]
        yield f"section {section['code']} intro", section.get("intro") or ""
        for question in section["questions"]:
            code = question["code"]
            where = f"question {code}"
            if code not in exempt:
                yield f"{where} text", question["text"]
                for choice in question.get("choices") or []:
                    yield f"{where} choice {choice['value']}", choice["label"]
            if code not in exempt or code in OWN_HELP_ON_INSTRUMENT_ITEMS:
                yield f"{where} help", question.get("help") or ""
    for rule in data["rules"]:
        if rule.get("patient_message"):
            yield (
                f"rule {rule['code']} patient message",
                render_patient_message(
                    rule["patient_message"],
                    clinic_name="the clinic",
                    crisis_resources=settings.CRISIS_RESOURCES_TEXT,
                ),
            )


def all_sentences(data: dict) -> list[tuple[str, Sentence]]:
    return [
        (where, sentence)
        for where, text in patient_texts(data)
        for sentence in sentences(text, NAMES)
        if sentence.text not in INSTRUMENT_SENTENCES
    ]


def graded_sentences(data: dict) -> list[tuple[str, Sentence]]:
    return [pair for pair in all_sentences(data) if pair[1].words >= MIN_WORDS_TO_GRADE]


def short_labels(data: dict) -> list[tuple[str, Sentence]]:
    return [pair for pair in all_sentences(data) if pair[1].words < MIN_WORDS_TO_GRADE]


@pytest.fixture(scope="module")
def graded():
    return graded_sentences(read_content(DEFAULT_CONTENT_FILE)[0])


def test_every_patient_facing_sentence_of_our_own_wording_reads_at_grade_8_or_below(graded):
    too_hard = [
        f"{where}: grade {sentence.grade:.1f}: {sentence.text}"
        for where, sentence in graded
        if sentence.grade > MAX_GRADE
    ]
    assert not too_hard, f"{len(too_hard)} of {len(graded)} sentences:\n" + "\n".join(too_hard)


def test_every_short_label_uses_words_of_at_most_four_syllables():
    too_long = [
        f"{where}: {sentence.text!r} ({', '.join(words)})"
        for where, sentence in short_labels(read_content(DEFAULT_CONTENT_FILE)[0])
        if (words := long_words(sentence.text, NAMES, longer_than=MAX_LABEL_SYLLABLES))
    ]
    assert not too_long, "\n".join(too_long)


def test_the_grade_covers_the_whole_intake_and_the_urgent_messages(graded):
    places = {where.split(" ")[0] for where, _ in graded}
    assert places == {"section", "question", "rule"}
    assert len(graded) > 250


def test_the_exempt_instrument_sentences_are_still_in_the_content():
    """An instrument instruction reworded in the file must be graded, not silently exempt."""
    text = DEFAULT_CONTENT_FILE.read_text()
    for sentence in INSTRUMENT_SENTENCES:
        assert sentence in " ".join(text.split()), sentence


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("The cat sat on the mat.", -4, 0),
        ("Please answer as honestly as you can.", 0, 4),
        (
            "Concomitant administration of pharmacological agents necessitates comprehensive "
            "evaluation of contraindications.",
            25,
            40,
        ),
    ],
)
def test_the_grade_of_known_sentences(text, low, high):
    [sentence] = sentences(text)
    assert low <= sentence.grade <= high


def test_the_formula_is_the_published_one():
    # 6 words, 6 syllables: 0.39 * 6 + 11.8 * 1 - 15.59
    [sentence] = sentences("The cat sat on the mat.")
    assert (sentence.words, sentence.syllables) == (6, 6)
    assert sentence.grade == pytest.approx(-1.45)


@pytest.mark.parametrize(
    ("word", "count"),
    # Syllable counts as the CMU Pronouncing Dictionary gives them.
    [
        ("the", 1),
        ("used", 1),
        ("takes", 1),
        ("people", 2),
        ("pressure", 2),
        ("questions", 2),
        ("handles", 2),
        ("annoyed", 2),
        ("being", 2),
        ("medicine", 3),
        ("suicide", 3),
        ("reaction", 3),
        ("allergies", 3),
        ("carefully", 3),
        ("anxiety", 4),
        ("centimetres", 4),
        ("aneurysm", 4),
        ("hallucinations", 5),
        ("PTSD", 4),
        ("12", 1),
    ],
)
def test_syllables_of_known_words(word, count):
    assert syllables(word) == count


def test_a_name_counts_as_one_plain_word():
    [plain] = sentences(
        "Brain problems from very high blood pressure (hypertensive encephalopathy)"
    )
    [named] = sentences(
        "Brain problems from very high blood pressure (hypertensive encephalopathy)",
        ["hypertensive encephalopathy"],
    )
    assert named.words == plain.words - 1
    assert named.grade < plain.grade


def test_the_session_check_in_reads_at_grade_8_or_below_too():
    """The check-in a patient answers before each session, on a phone (issue 14)."""
    data = read_content(DEFAULT_CHECK_IN_FILE)[0]
    graded = graded_sentences(data)
    too_hard = [
        f"{where}: grade {sentence.grade:.1f}: {sentence.text}"
        for where, sentence in graded
        if sentence.grade > MAX_GRADE
    ]
    assert not too_hard, "\n".join(too_hard)
    too_long = [
        f"{where}: {sentence.text!r} ({', '.join(words)})"
        for where, sentence in short_labels(data)
        if (words := long_words(sentence.text, NAMES, longer_than=MAX_LABEL_SYLLABLES))
    ]
    assert not too_long, "\n".join(too_long)
    assert len(graded) > 20
