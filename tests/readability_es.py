"""Fernández Huerta readability of Spanish patient-facing text, sentence by sentence.

The Spanish counterpart of tests/readability.py (Flesch–Kincaid grade for the English).

The formula
-----------
Fernández Huerta, J. (1959). "Medidas sencillas de lecturabilidad". Consigna 214: 29–32,
an adaptation of Flesch's Reading Ease to Spanish. As it is usually cited (e.g. the table
of Spanish formulas of Blanco Pérez & Gutiérrez Couto, esdocs.com/doc/1358536):

    L = 206.84 - 0.60 P - 1.02 F

with P the syllables and F the sentences counted in samples of 100 words. Taken literally,
more sentences in 100 words (shorter sentences) would LOWER the score, the opposite of
Flesch. Gwillim Law pointed this out (LINGUIST List 22.2332, 27 May 2011, "Error in the
Fernandez Huerta Readability Formula"): scaled to any length, the literal form is
206.84 - 60 * syllables/words - 102 * sentences/words, whose sentence term runs the wrong
way, while the Flesch formula it adapts is
206.835 - 84.6 * syllables/words - 1.015 * words/sentences. The corrected form, which
legible.es (A. Muñoz Fernández, "Lecturabilidad de Fernández Huerta", citing Law 2011)
gives and which textstat and other tools use, reads F as the mean WORDS PER SENTENCE:

    L = 206.84 - 60 * (syllables / words) - 1.02 * (words / sentences)

That is the one used here: scoring one sentence at a time, the literal form would score a
40-word sentence as easier than a 5-word one.

The scale (legible.es, same page): 90–100 very easy (4th grade), 80–90 easy (5th),
70–80 fairly easy (6th), 60–70 "normal (para adulto)" (7th or 8th grade), 50–60 fairly
difficult (pre-university), 30–50 difficult, 0–30 very difficult. So L >= 60 is
"normal" or easier, about US grade 8 or below: the bar the English text meets.

Syllables
---------
Counted by Spanish spelling rules (no dictionary needed): each vowel nucleus is one
syllable. Two strong vowels (a, e, o) side by side are two syllables (hiatus: le-er);
a weak vowel (i, u, ü) without an accent next to another vowel makes one syllable with
it (diphthong: pa-cien-te, ciu-dad; triphthong: a-ve-ri-guáis); an accented í or ú breaks
the diphthong (dí-a, ba-úl); the u of "que", "qui", "gue", "gui" is silent; y is a vowel
at the end of a word or before a consonant (hoy, muy, "y"), a consonant before a vowel
(ya, mayo). An abbreviation in capitals is read letter by letter (EPOC is four
syllables: e-pe-o-ce); a number as a short word or two, as in the English test.

Names a patient must recognize as written (conditions, medicines, tests) count as one
ordinary two-syllable word each, as in the English test.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’»)]*\s+|\n+")
LETTERS = "A-Za-zÁÉÍÓÚÜÑáéíóúüñ"
WORD = re.compile(rf"[{LETTERS}0-9][{LETTERS}0-9'’\-]*")
STRONG = set("aeoáéó") | set("íú")  # an accented i or u is a vowel of its own
VOWELS = STRONG | set("iuü")
# Syllables of the names of letters, for abbreviations read letter by letter.
LETTER_NAMES = {
    **dict.fromkeys("ABCDEGIKOPQTUY", 1),
    **dict.fromkeys("FHJLMNRSVXZ", 2),
    "Ñ": 2,
    "W": 3,
}
NAME_SYLLABLES = 2
NAME_TOKEN = "Nombrepropio"


def syllables(word: str) -> int:
    """Syllables of one Spanish word."""
    word = word.strip("'’-")
    if not word:
        return 0
    if word.isdigit():
        # As in the English test: a number reads as a short word or two.
        return max(1, (len(word) + 1) // 2)
    if "-" in word:
        return sum(syllables(part) for part in word.split("-") if part)
    if len(word) >= 2 and word.isupper():
        return sum(LETTER_NAMES.get(letter, 1) for letter in word if letter.isalpha())
    word = re.sub(rf"[^{LETTERS}]", "", word).lower()
    if not word:
        return 0
    # Silent u: que, qui, gue, gui (but güe, güi are spoken).
    word = re.sub(r"(?<=[qg])u(?=[eéií])", "", word)
    # y is a vowel (i) at the end of a word or before a consonant.
    word = re.sub(r"y(?![aeiouáéíóú])", "i", word)
    count = 0
    previous = ""
    for letter in word:
        if letter in VOWELS:
            # A new syllable unless it joins the vowel before it in a diphthong:
            # that needs an unaccented weak vowel on either side.
            if not previous or (previous in STRONG and letter in STRONG):
                count += 1
            previous = letter
        else:
            previous = ""
    return max(1, count)


@dataclass(frozen=True)
class Sentence:
    text: str
    words: int
    syllables: int

    @property
    def score(self) -> float:
        """Fernández Huerta L of this one sentence (higher is easier)."""
        return 206.84 - 60 * (self.syllables / self.words) - 1.02 * self.words


def sentences(text: str, names: Iterable[str] = ()) -> list[Sentence]:
    """The sentences of a text with their counts; a list bullet or a label is one sentence."""
    found: list[Sentence] = []
    for sentence in _split(text):
        name_count, plain = _words(sentence, names)
        words = name_count + len(plain)
        if words:
            count = name_count * NAME_SYLLABLES + sum(syllables(word) for word in plain)
            found.append(Sentence(sentence, words, count))
    return found


def long_words(text: str, names: Iterable[str] = (), *, longer_than: int) -> list[str]:
    """The words of a text, names aside, with more syllables than `longer_than`."""
    return [
        word
        for sentence in _split(text)
        for word in _words(sentence, names)[1]
        if syllables(word) > longer_than
    ]


def _split(text: str) -> list[str]:
    # "EE. UU." (the United States) is one word, not the end of a sentence.
    text = text.replace("EE. UU.", "EE.UU.")
    parts = (raw.strip().lstrip("-•* ").strip() for raw in SENTENCE_END.split(text.strip()))
    return [part for part in parts if part]


def _words(sentence: str, names: Iterable[str]) -> tuple[int, list[str]]:
    """How many names a sentence holds, and its other words."""
    name_count = 0
    rest = sentence
    for name in sorted(set(names) | {NAME_TOKEN, "EE.UU."}, key=len, reverse=True):
        pattern = re.compile(rf"(?<![{LETTERS}]){re.escape(name)}(?![{LETTERS}])", re.IGNORECASE)
        rest, hits = pattern.subn(" ", rest)
        name_count += hits
    return name_count, WORD.findall(rest)
