"""A broad drug-name dictionary under the curated formulary: typed names to a generic.

Owns loading the dictionary of the `drug-named-entity-recognition` package (about 107,000
names and brands of about 20,000 drugs, built from DrugBank open data, MeSH, MedlinePlus and
the NHS) once per process, keeping only what recognition needs, and answering two questions:
which generic a normalised phrase names exactly, and which generic a misspelt word most
plausibly is. It never decides interaction classes: the formulary does (medications.py).
"""

from __future__ import annotations

import bz2
import importlib.util
import logging
import pickle
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.distance import OSA

from .medications import FUZZY_THRESHOLD, tokenize

logger = logging.getLogger(__name__)

PACKAGE = "drug_named_entity_recognition"
DATA_FILE = "drug_ner_dictionary.pkl.bz2"

# Misspellings are looked up here only for single words of this many letters or more: the
# dictionary holds 20 times more names than the formulary, so shorter words are too often
# one slip from some drug ("Klacid" and "Klaricid" are two edits apart, as are many pairs).
FUZZY_MIN_LETTERS = 6

# MeSH families whose members interact with ketamine in the formulary (benzodiazepines,
# morphinan opioids, barbiturates, phenothiazines). A member the formulary does not list is
# not reassured as "no known interaction": it stays unrecognised, for the physician to check.
REVIEW_FAMILIES = (
    "D03.633.100.079.080",  # benzodiazepines
    "D03.132.577.249",  # morphinans
    "D04.615.723.795",  # morphinans (polycyclic compounds)
    "D03.383.742.698.253",  # barbiturates
    "D02.886.369",  # phenothiazines
)

# Words that appear as names in the dictionary but mean something else in a medication list.
# A class of drugs ("an antibiotic") could be one that interacts: it stays unrecognised.
NOT_NAMES = frozenset(
    (
        "colgate",
        "antibiotic",
        "antibiotics",
        "antidepressant",
        "antidepressants",
        "vitamins",
        "water",
    )
)

_PARENTHESES = re.compile(r"\s*\([^)]*\)")
# "acetaminophen, butalbital, and caffeine", "levodopa and carbidopa", "olmesartan/amlodipine"
_COMBINATION_SPLIT = re.compile(r"\s*(?:,\s*and\s+|,\s*|\s+and\s+|\s*/\s*)")


@dataclass(frozen=True)
class Generic:
    """One drug of the dictionary."""

    name: str  # its generic name, lower case ("clorazepate dipotassium", "co-codamol")
    parts: tuple[str, ...]  # the generic names it combines, or (name,) for a single drug
    variants: tuple[str, ...]  # every normalised name, brand and spelling that means it
    review: bool  # in a MeSH family that interacts with ketamine (REVIEW_FAMILIES)


class DrugDictionary:
    """Normalised names to generics, built once from the package's data; read-only after."""

    def __init__(self, generics: Iterable[Generic]) -> None:
        self.generics: tuple[Generic, ...] = tuple(generics)
        owners: dict[str, set[int]] = {}
        for number, generic in enumerate(self.generics):
            for key in generic.variants:
                owners.setdefault(key, set()).add(number)
        # A text two generics claim names neither: the dictionary cannot tell which was meant.
        self._keys: dict[str, int] = {
            key: next(iter(numbers)) for key, numbers in owners.items() if len(numbers) == 1
        }
        for number, generic in enumerate(self.generics):
            # A generic's own name, where no name of the dictionary already claims that text.
            own = " ".join(tokenize(_PARENTHESES.sub("", generic.name)))
            if own and own not in owners and own not in NOT_NAMES:
                self._keys[own] = number
        self.longest = max((len(key.split()) for key in self._keys), default=1)
        self._names_with: dict[tuple[frozenset[str], int], tuple[tuple[str, ...], ...]] = {}
        words = [key for key in self._keys if key.isalpha() and len(key) >= FUZZY_MIN_LETTERS]
        self._words_by_length: dict[int, list[str]] = {}
        skeletons: dict[tuple[str, int], set[int]] = {}
        for word in words:
            self._words_by_length.setdefault(len(word), []).append(word)
            skeletons.setdefault((_skeleton(word), len(word)), set()).add(self._keys[word])
        # Vowel slips ("zolpedim", "respiridone") by consonants and length, where one drug owns
        # them, and only towards a generic's own name: among 47,000 brands worldwide, two
        # vowels are too easily the difference between two drugs ("Cipramil", "Capramol").
        generic_names = {
            (_skeleton(g.name), len(g.name)): n
            for n, g in enumerate(self.generics)
            if g.name.isalpha() and len(g.name) > FUZZY_MIN_LETTERS
        }
        self._by_skeleton = {
            skeleton: next(iter(numbers))
            for skeleton, numbers in skeletons.items()
            if len(numbers) == 1 and generic_names.get(skeleton) in numbers
        }

    def __len__(self) -> int:
        return len(self._keys)

    def names_with(self, words: frozenset[str], longest: int) -> tuple[tuple[str, ...], ...]:
        """The names of at most `longest` words holding any of `words`, as word tuples.

        Read once per set of words: every formulary built on this dictionary asks the same.
        """
        key = (words, longest)
        found = self._names_with.get(key)
        if found is None:
            found = tuple(
                tokens
                for tokens in map(tuple, map(str.split, self._keys))
                if len(tokens) <= longest and not words.isdisjoint(tokens)
            )
            self._names_with[key] = found
        return found

    def lookup(self, phrase: str) -> Generic | None:
        """The generic a normalised phrase names exactly, if exactly one does."""
        number = self._keys.get(phrase)
        return None if number is None else self.generics[number]

    def generic_named(self, name: str) -> Generic | None:
        """A generic by any of its names, written as the dictionary writes them."""
        return self.lookup(" ".join(tokenize(_PARENTHESES.sub("", name))))

    def closest(self, word: str) -> tuple[Generic, float] | None:
        """The generic a misspelt word stands for, only when no other generic is as close.

        The word must be a single word of FUZZY_MIN_LETTERS or more; the best name must score
        FUZZY_THRESHOLD or more (one slip per six letters), begin like the word unless one
        letter apart, and be the only generic within one more slip of it.
        """
        if not (word.isalpha() and len(word) >= FUZZY_MIN_LETTERS):
            return None
        vowel_slip = self._vowel_slip(word)
        if vowel_slip is not None:
            return vowel_slip
        low = int(len(word) * FUZZY_THRESHOLD / 100)
        high = int(len(word) * 100 / FUZZY_THRESHOLD) + 1
        choices = [
            choice
            for length in range(low, high + 1)
            for choice in self._words_by_length.get(length, ())
        ]
        results = process.extract(
            word, choices, scorer=OSA.distance, processor=None, score_cutoff=3, limit=8
        )
        if not results:
            return None
        best_distance = results[0][1]
        best = {self._keys[choice] for choice, distance, _ in results if distance == best_distance}
        rivals = {
            self._keys[choice] for choice, distance, _ in results if distance <= best_distance + 1
        }
        if len(best) != 1 or rivals != best:
            return None  # two drugs about as close: do not guess
        choice = next(c for c, d, _ in results if d == best_distance)
        similarity = OSA.normalized_similarity(word, choice)
        if similarity * 100 < FUZZY_THRESHOLD:
            return None
        if word[0] != choice[0] and best_distance > 1:
            return None  # drug families differ at the start ("azithromycin", "erythromycin")
        return self.generics[best.pop()], round(similarity * 100, 1)

    def _vowel_slip(self, word: str) -> tuple[Generic, float] | None:
        """A word whose consonants and length are those of exactly one drug's name.

        Vowels are what patients get wrong most ("zolpedim", "respiridone", "clonazapam"):
        two swapped vowels are two edits, too many for the threshold on a short name, yet
        the consonants still name one drug. Only a name of 7+ letters, with the same first
        letter and at most two edits away, and only when no other drug has that skeleton.
        """
        if len(word) < FUZZY_MIN_LETTERS + 1:
            return None
        number = self._by_skeleton.get((_skeleton(word), len(word)))
        if number is None:
            return None
        generic = self.generics[number]
        name = generic.name
        if name[0] != word[0] or _skeleton(name) != _skeleton(word) or OSA.distance(word, name) > 2:
            return None
        return generic, round(100 * OSA.normalized_similarity(word, name), 1)


_VOWELS = str.maketrans("", "", "aeiouy")


def _skeleton(word: str) -> str:
    return word.translate(_VOWELS)


def generics_from_package_data(data: Mapping) -> list[Generic]:
    """The package's pickled dictionary as Generic records: real drugs only.

    A name is kept when its drug has a DrugBank, MedlinePlus or NHS page; MeSH-only entries
    are categories, enzymes and proteins ("antidepressive agents", "cytochrome p-450 cyp3a").
    """
    variant_to_canonical: Mapping[str, list[str]] = data["drug_variant_to_canonical"]
    canonical_data: Mapping[str, Mapping] = data["drug_canonical_to_data"]
    variants: dict[str, list[str]] = {}
    for variant, canonicals in variant_to_canonical.items():
        key = " ".join(tokenize(variant))
        if not key or key in NOT_NAMES or not any(ch.isalpha() for ch in key):
            continue
        for canonical in canonicals:
            variants.setdefault(canonical, []).append(key)
    generics = []
    for canonical, keys in variants.items():
        about = canonical_data.get(canonical) or {}
        if not (about.get("drugbank_id") or about.get("medline_plus_id") or about.get("nhs_url")):
            continue
        name = canonical.strip().lower()
        plain = _PARENTHESES.sub("", name).strip()
        parts = tuple(p for p in _COMBINATION_SPLIT.split(plain) if p) or (plain,)
        trees = about.get("mesh_tree") or ()
        review = any(tree.startswith(REVIEW_FAMILIES) for tree in trees)
        generics.append(Generic(name, parts, tuple(dict.fromkeys(keys)), review))
    return generics


def package_data_path() -> Path | None:
    """Where the package keeps its dictionary, found without importing the package.

    Importing it would load the whole dictionary with molecular structures and an n-gram
    index (about 3 s and 330 MB per process) and read a pickle cache from the home directory.
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / DATA_FILE
    return path if path.is_file() else None


def load_dictionary(path: Path | None = None) -> DrugDictionary | None:
    """Read the package's dictionary (about 1 s, 30 MB kept); None if it is not installed."""
    path = path or package_data_path()
    if path is None:
        return None
    with bz2.open(path, "rb") as file:
        # The file ships inside an installed package, so it is as trusted as its code.
        data = pickle.load(file)  # noqa: S301
    return DrugDictionary(generics_from_package_data(data))


_lock = threading.Lock()
_loaded: list[DrugDictionary | None] = []


def shared_dictionary() -> DrugDictionary | None:
    """The process's one dictionary, loaded on first use (thread-safe); None if unavailable.

    Without it recognition still works from the formulary alone: unknown names are reported
    unrecognised, as before, so a missing package never hides a drug.
    """
    if _loaded:
        return _loaded[0]
    with _lock:
        if not _loaded:
            try:
                _loaded.append(load_dictionary())
            except Exception:  # a broken install must not stop patients from submitting
                logger.exception("The drug-name dictionary could not be loaded.")
                _loaded.append(None)
            if _loaded[0] is None:
                logger.warning("No drug-name dictionary: recognition uses the formulary only.")
    return _loaded[0]
