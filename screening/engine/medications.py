"""Medication recognition: what each typed medication entry stands for in the formulary.

Owns the validated in-memory formulary, normalising typed text, exact/brand/synonym/slang/fuzzy
matching, and the takes() and unrecognised_medication() functions that rules call.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, NamedTuple, Protocol

from rapidfuzz import process
from rapidfuzz.distance import OSA

from .expressions import FunctionSpec, Problem

if TYPE_CHECKING:  # the dictionary module imports this one
    from .resolver import DrugDictionary, Generic

# The fuzzy score is OSA (Damerau) edit similarity x 100: 1 - edits / length of the longer
# string, where an edit is one inserted, deleted, changed or swapped letter. 83 accepts one
# edit per six letters: every one-letter slip in a name of 6+ letters ("sertaline", "Zolof",
# "alprazalam") and two in names of 12+ ("clarithromicyn"). It rejects two edits in names
# shorter than 12, which is where real, different drugs sit ("oxcarbazepine" is 4 edits from
# carbamazepine; "vitamins" 2 from "vitamin d"). ratio/WRatio were rejected: ratio scores a
# changed letter as two edits (a 6-letter slip scores 83.3 but so does "oxcarbazepine" vs
# carbamazepine, 84.6), and WRatio's partial matching scores "meth" vs methadone at 90.
FUZZY_THRESHOLD = 83.0
FUZZY_MIN_LETTERS = 5  # shorter words ("coke", "pot", "meth", "E") are never fuzzy-matched
CACHE_SIZE = 10_000
CACHE_MAX_TYPED = 300  # longer entries are recognised but not cached
MAX_WORDS = 60  # recognition reads the first 60 words of an entry
# Combination products: real ones list a handful of single drugs (Genvoya has four); a
# combination of combinations is allowed for kits, but nesting stops here (issue 10, finding 7).
MAX_COMBINATION_DEPTH = 3
MAX_COMPONENTS = 12
MAX_DICTIONARY_WORDS = 6  # longer dictionary names are chemical, never typed by patients

METHODS = ("exact", "brand", "synonym", "slang", "fuzzy", "resolver", "resolver-fuzzy", "none")
GRADES = frozenset({"major", "moderate", "minor", "none", ""})

# --- Normalisation vocabulary (§2.12) -----------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Form words change what an entry means ("ketoconazole shampoo" is not the oral CYP3A4
# inhibitor; a fluticasone inhaler is not a nasal spray). Each maps to its form family.
# Spanish ones as typed, accents folded ("champú", "cápsulas"); "gotas" is not an eye word,
# as Spanish oral drops are common ("tramadol gotas").
_FORM_WORDS_BY_FAMILY = {
    "nasal": "nasal nose intranasal spray sprays",
    "inhaled": "inhaler inhalers inhaled inhalation puffer hfa diskus respimat nebulizer nebuliser"
    " inhalador inhaladores inhalado inhalada inhalacion",
    "topical": "shampoo cream creams ointment gel lotion foam topical wash"
    " champu crema cremas pomada pomadas locion",
    "patch": "patch patches transdermal parche parches",
    "eye": "eye eyes drops ophthalmic colirio",
    "oral": "oral tablet tablets tab tabs capsule capsules cap caps pill pills softgel softgels"
    " lozenge lozenges troche troches syrup liquid chewable"
    " tableta tabletas comprimido comprimidos capsula capsulas pastilla pastillas jarabe",
}
FORM_FAMILIES: dict[str, str] = {
    word: family for family, words in _FORM_WORDS_BY_FAMILY.items() for word in words.split()
}
_MASS_UNITS = _words("mg mgs mcg mcgs ug g gm gram grams")
_UNITS = _MASS_UNITS | _words("ml mls l cc iu unit units meq mmol %")
_TIME_WORDS = _words("day days week weeks month months hour hours hr hrs h times x")
_SPANISH_TIME_WORDS = _words("dia dias semana semanas mes meses hora horas vez veces")
# The Spanish words dropped, accents folded ("dos veces al día", "por la noche", "en ayunas").
# Spanish drug names hold some of them ("carbonato de calcio", "bromuro de ipratropio"): the
# broad dictionary's names that do are kept whole when typed whole, as formulary names are.
_SPANISH_DROPPED_WORDS = (
    _SPANISH_TIME_WORDS
    | _words("diario diaria diarios diarias diariamente cada al del de el la los las en con y")
    | _words("por para mi mis un una uno dos tres cuatro media medio noche noches manana")
    | _words("mananas tarde tardes ayunas dormir si necesario necesaria tomo toma tomar")
    | _words("tableta tabletas comprimido comprimidos capsula capsulas pastilla pastillas")
)
# Words dropped before matching, unless they are part of a formulary name typed whole
# ("Tylenol #3", "the pill", "grapefruit juice", "Tylenol with Codeine", "Nizoral A-D").
_DROPPED_WORDS = (
    _UNITS
    | _TIME_WORDS
    | _SPANISH_DROPPED_WORDS
    # frequency and timing
    | _words("bid tid qid qhs qam qpm prn od qd qod hs daily nightly weekly monthly biweekly")
    | _words("once twice thrice every per night nights morning mornings evening evenings")
    | _words("bedtime noon weekend weekends occasionally sometimes needed required necessary")
    | _words("q one two three four half puff puffs")
    # the pill itself rather than the drug
    | _words("tablet tablets tab tabs capsule capsules cap caps pill pills softgel softgels juice")
    # release and packaging suffixes
    | _words("xr er sr cr xl xt la cd odt ir dr ec ds extended release generic otc")
    # filler and connectors
    | _words("a an the i my me take takes taking took use uses using used for of in on at as")
    | _words("to by with w and plus or also when if mouth po")
)
_CONNECTORS = _words("and with w plus y con")
_RELEASE_SUFFIXES = _words("xr er sr cr xl xt la cd odt ir dr ec am pm")
_CLOCK = _words("am pm")  # dropped after a number ("9 pm"), kept otherwise ("Tylenol PM")
_NUMBERISH = re.compile(r"^(?:\d+(?:[.,]\d+)*|q\d+(?:h|hr|hrs)?|x\d+)$")
_NUMBER = re.compile(r"^\d+(?:[.,]\d+)*$")
# A number next to these is a dose or a frequency, never part of a name ("Tylenol 4 times a day").
_BINDS_NUMBER_AFTER = (
    _UNITS | _TIME_WORDS | _SPANISH_TIME_WORDS | _CLOCK | _words("puffs sprays drops")
)
_BINDS_NUMBER_BEFORE = _words("x every q for cada")

_APOSTROPHES = re.compile("['\u2018\u2019\u201b\u2032`\u00b4\u02bc]")
_TOKEN = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*|%")
_LEADING_NUMBER = re.compile(r"^(\d+(?:[.,]\d+)*)([a-z]+)$")
_MU = str.maketrans({"\u03bc": "u", "\u00b5": "u"})


def tokenize(text: str) -> list[str]:
    """Light normalisation: lower case, accents and apostrophes gone, punctuation splits words.

    "St. John's Wort" -> [st, johns, wort]; "Percocet 5/325mg" -> [percocet, 5, 325, mg];
    "Tylenol #3" -> [tylenol, 3]; "xanax 0.5mg" -> [xanax, 0.5, mg].
    """
    text = text.lower()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text).translate(_MU)
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    tokens: list[str] = []
    for token in _TOKEN.findall(_APOSTROPHES.sub("", text)):
        split = _LEADING_NUMBER.match(token)
        tokens.extend(split.groups() if split else (token,))
    return tokens


def _droppable(token: str) -> bool:
    if token in _DROPPED_WORDS:
        return True
    return (token[0].isdigit() or token[0] in "qx") and bool(_NUMBERISH.match(token))


def _letters(text: str) -> int:
    return sum(ch.isalpha() for ch in text)


# --- Public value types -------------------------------------------------------------------


@dataclass(frozen=True)
class Drug:
    """One formulary entry, as written in content/formulary.yaml."""

    name: str
    classes: frozenset[str] = frozenset()  # declared classes; a combination declares none
    components: tuple[str, ...] = ()  # combination products only
    brands: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()
    slang: tuple[str, ...] = ()  # matched only in the recreational-substances list
    form: str = ""  # a form word the entry requires ("nasal", "inhaler", "shampoo"...)
    note: str = ""
    grade: str = ""
    sources: tuple[str, ...] = ()


DRUG_FIELDS = frozenset(field.name for field in fields(Drug))


@dataclass(frozen=True, eq=False)
class Match:
    """What one typed entry was recognised as."""

    typed: str  # exactly what the patient typed
    normalised: str  # after normalisation
    drug: str | None  # formulary name, None when unrecognised
    components: tuple[str, ...]  # the drugs this entry stands for; () if unrecognised
    classes: frozenset[str]  # union of the components' classes
    score: float  # 100 for exact/brand/synonym/slang, the fuzzy score, 0 when unrecognised
    method: str  # "exact" | "brand" | "synonym" | "slang" | "fuzzy" | "none"

    @property
    def recognised(self) -> bool:
        return self.drug is not None

    # Equality by value, as a dataclass would, but cheap when the typed text differs: flag
    # evidence tests `match in relevant` for every match of every flag.
    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        if not isinstance(other, Match):
            return NotImplemented
        return (
            self.typed == other.typed
            and self.drug == other.drug
            and self.normalised == other.normalised
            and self.method == other.method
            and self.score == other.score
            and self.components == other.components
            and self.classes == other.classes
        )

    def __hash__(self) -> int:
        return hash((self.typed, self.drug, self.normalised, self.method))


@dataclass(frozen=True)
class _Hit:
    """An index entry: a text that stands for one drug (or, for a stem, depends on the form)."""

    drug: str | None  # None for a bare stem such as "fluticasone"
    method: str


_KIND_RANK = {"exact": 0, "brand": 1, "synonym": 2, "slang": 3}


class _Found(NamedTuple):
    """One thing a typed entry was recognised as, before it becomes a Match."""

    drug: str
    components: tuple[str, ...]
    classes: frozenset[str]
    method: str
    score: float


# Where a typed row lists several things ("Xanax, Lexapro and Elavil"), and the words that
# start an instruction rather than a drug ("..., as needed for sleep").
_SEPARATORS = re.compile(r"[,;+&\n]|\b(?:and|plus|also|y)\b", re.IGNORECASE)
_INSTRUCTION_WORDS = frozenset(
    ("for", "when", "if", "as", "to", "at", "before", "after", "with", "during", "because")
    # Spanish, accents folded ("..., para dormir", "con comida", "antes de dormir")
    + ("para", "cuando", "si", "antes", "despues", "durante", "porque", "con", "en", "al")
)

_AMBIGUOUS = object()  # words that name something, but not one thing we can be sure of
_MISSING = object()


# --- The formulary ------------------------------------------------------------------------


class Formulary:
    """The validated formulary and its recognition indexes (built once, read-only after)."""

    def __init__(
        self,
        classes: Mapping[str, str],
        drugs: Iterable[Drug],
        dictionary: DrugDictionary | None = None,
    ) -> None:
        self.classes: dict[str, str] = dict(classes)
        self._dictionary = dictionary
        self.drugs: dict[str, Drug] = {}
        for drug in drugs:
            if drug.name in self.drugs:
                raise ValueError(f'Formulary entry "{drug.name}" appears twice.')
            self.drugs[drug.name] = drug
        for drug in self.drugs.values():
            self._check(drug)
        self._components = self._expand_all()
        self._classes_of = {
            name: frozenset().union(*(self.drugs[c].classes for c in components))
            for name, components in self._components.items()
        }
        self._build_indexes()
        self._combination_by_leaves = {
            frozenset(leaves): name
            for name, leaves in self._components.items()
            if self.drugs[name].components
        }
        self._entries_by_generic: dict[str, object] = {}
        self._cache: dict[tuple, tuple[Match, ...]] = {}

    # Construction -------------------------------------------------------------------------

    @classmethod
    def from_data(cls, data: Mapping, dictionary: DrugDictionary | None = None) -> Formulary:
        """Build from yaml.safe_load(content/formulary.yaml) or the same shape from the database.

        With a dictionary (resolver.shared_dictionary()), names the formulary does not list are
        looked up there too; the formulary stays the only source of interaction classes.

        Raises ValueError naming the entry and the field when something is malformed.
        """
        if not isinstance(data, Mapping):
            raise ValueError("The formulary must be a mapping with 'classes' and 'drugs'.")
        raw_classes = data.get("classes") or {}
        if not isinstance(raw_classes, Mapping):
            raise ValueError("Formulary 'classes' must map each class name to its description.")
        classes = {str(name): str(text or "") for name, text in raw_classes.items()}
        raw_drugs = data.get("drugs") or []
        if not isinstance(raw_drugs, list):
            raise ValueError("Formulary 'drugs' must be a list of entries.")
        drugs = [_drug_from_raw(raw, n) for n, raw in enumerate(raw_drugs, 1)]
        return cls(classes, drugs, dictionary)

    def _check(self, drug: Drug) -> None:
        where = f'Formulary entry "{drug.name}"'
        if drug.name != drug.name.strip().lower() or not tokenize(drug.name):
            raise ValueError(f"{where}: the name must be lower case, with letters or digits.")
        unknown = sorted(drug.classes - self.classes.keys())
        if unknown:
            raise ValueError(
                f"{where}: class {_quoted(unknown)} is not declared under 'classes'"
                f" (declared: {_quoted(sorted(self.classes))})."
            )
        if drug.components:
            if drug.classes:
                raise ValueError(
                    f"{where}: a combination takes its classes from its components;"
                    " list none of its own."
                )
            for component in drug.components:
                if component not in self.drugs:
                    raise ValueError(f'{where}: component "{component}" is not a formulary entry.')
                if component == drug.name:
                    raise ValueError(f"{where}: a combination cannot list itself.")
            repeated = sorted({c for c in drug.components if drug.components.count(c) > 1})
            if repeated:
                raise ValueError(f"{where}: component {_quoted(repeated)} is listed twice.")
            if len(drug.components) > MAX_COMPONENTS:
                raise ValueError(
                    f"{where}: a combination may list at most {MAX_COMPONENTS} components."
                )
        elif not drug.classes:
            raise ValueError(f"{where}: needs classes (use [none] for no interaction).")
        if drug.form:
            families = {FORM_FAMILIES.get(word) for word in tokenize(drug.form)}
            if len(families) != 1 or None in families:
                raise ValueError(
                    f'{where}: form "{drug.form}" is not a known form word'
                    f" (known: {_quoted(sorted(FORM_FAMILIES))})."
                )
        if drug.grade not in GRADES:
            raise ValueError(
                f'{where}: grade "{drug.grade}" must be one of {_quoted(sorted(GRADES - {""}))}.'
            )

    def _expand_all(self) -> dict[str, tuple[str, ...]]:
        """Every entry's leaf components, each entry expanded once (linear in the formulary).

        A combination may contain combinations, but only MAX_COMBINATION_DEPTH levels deep and
        with at most MAX_COMPONENTS leaves: an admin's deeply nested or looping entries are
        refused here, so neither saving the formulary nor a patient's submit can be stalled by
        them (a chain of entries each listing the previous two used to double the work per level).
        """
        leaves: dict[str, tuple[str, ...]] = {}
        depth: dict[str, int] = {}

        def expand(name: str, path: tuple[str, ...]) -> None:
            if name in leaves:
                return
            if name in path:
                cycle = " -> ".join((*path[path.index(name) :], name))
                raise ValueError(f"Formulary combinations contain each other in a loop: {cycle}.")
            drug = self.drugs[name]
            if not drug.components:
                leaves[name], depth[name] = (name,), 0
                return
            if len(path) >= MAX_COMBINATION_DEPTH:
                chain = " -> ".join((*path, name))
                raise ValueError(
                    f"Formulary combinations are nested more than {MAX_COMBINATION_DEPTH} deep:"
                    f" {chain}. List the single drugs instead."
                )
            expanded: dict[str, None] = {}
            for component in drug.components:
                expand(component, (*path, name))
                expanded.update(dict.fromkeys(leaves[component]))
            if len(expanded) > MAX_COMPONENTS:
                raise ValueError(
                    f'Formulary entry "{name}" stands for {len(expanded)} single drugs;'
                    f" a combination may have at most {MAX_COMPONENTS}."
                )
            level = 1 + max(depth[component] for component in drug.components)
            if level > MAX_COMBINATION_DEPTH:
                raise ValueError(
                    f'Formulary entry "{name}" nests combinations {level} deep; at most'
                    f" {MAX_COMBINATION_DEPTH} levels are allowed. List the single drugs instead."
                )
            leaves[name], depth[name] = tuple(expanded), level

        for name in self.drugs:
            expand(name, ())
        return leaves

    def _build_indexes(self) -> None:
        """Every name, brand, synonym and slang term, normalised, plus aliases and form stems.

        keys:    normalised text -> hit (dict lookups: the fast path)
        slang:   the same, for street names (recreational list only)
        aliases: keys with connectors and release suffixes removed ("tylenol codeine",
                 "toprol"), kept only when no other entry claims the same text
        stems:   keys with their form words removed ("fluticasone", "nizoral"), mapping
                 form family -> the entries it can mean; they decide "ketoconazole gel",
                 "fluticasone spray" and refuse to guess for a bare "fluticasone"
        """
        owners: dict[str, tuple[str, str, str]] = {}  # text -> (drug, method, as written)
        self._keys: dict[str, _Hit] = {}
        self._slang: dict[str, _Hit] = {}
        stems: dict[str, dict[str, set[str]]] = {}
        stem_methods: dict[str, str] = {}
        for drug in self.drugs.values():
            own_family = FORM_FAMILIES[tokenize(drug.form)[0]] if drug.form else ""
            written = [(drug.name, "exact")]
            written += [(text, "brand") for text in drug.brands]
            written += [(text, "synonym") for text in drug.synonyms]
            written += [(text, "slang") for text in drug.slang]
            for text, method in written:
                tokens = tokenize(text)
                key = " ".join(tokens)
                if not key:
                    raise ValueError(
                        f'Formulary entry "{drug.name}": {method} "{text}" has no letters or digits.'
                    )
                previous = owners.get(key)
                if previous and previous[0] != drug.name:
                    raise ValueError(
                        f'Formulary entries "{previous[0]}" ({previous[1]} "{previous[2]}") and'
                        f' "{drug.name}" ({method} "{text}") both read as "{key}";'
                        " a typed entry cannot mean both."
                    )
                owners[key] = (drug.name, method, text)
                index = self._slang if method == "slang" else self._keys
                if key not in index or _KIND_RANK[method] < _KIND_RANK[index[key].method]:
                    index[key] = _Hit(drug.name, method)
                if method == "slang":
                    continue
                families = {FORM_FAMILIES[t] for t in tokens if t in FORM_FAMILIES}
                stem_tokens = [t for t in tokens if t not in FORM_FAMILIES]
                if own_family:
                    families.add(own_family)
                if not families or not stem_tokens or all(map(_droppable, stem_tokens)):
                    continue
                if len(stem_tokens) == len(tokens) and not own_family:
                    continue
                stem = " ".join(stem_tokens)
                for family in families:
                    stems.setdefault(stem, {}).setdefault(family, set()).add(drug.name)
                if _KIND_RANK[method] < _KIND_RANK.get(stem_methods.get(stem, "slang"), 3):
                    stem_methods[stem] = method
        self._stems = {
            stem: {family: frozenset(names) for family, names in by_family.items()}
            for stem, by_family in stems.items()
            if stem not in self._keys or self.drugs[self._keys[stem].drug].form == ""
        }
        self._stem_hits = {
            stem: _Hit(None, stem_methods[stem]) for stem in self._stems if stem not in self._keys
        }

        alias_owners: dict[str, set[str]] = {}
        alias_hits: dict[str, _Hit] = {}
        for key, hit in self._keys.items():
            tokens = key.split()
            alias_tokens = [t for t in tokens if t not in _CONNECTORS]
            while len(alias_tokens) > 1 and alias_tokens[-1] in _RELEASE_SUFFIXES:
                alias_tokens.pop()
            alias = " ".join(alias_tokens)
            if alias == key or alias in self._keys or alias in self._stems:
                continue
            if all(map(_droppable, alias_tokens)):
                continue
            alias_owners.setdefault(alias, set()).add(hit.drug)
            alias_hits.setdefault(alias, hit)
        self._aliases = {
            alias: hit for alias, hit in alias_hits.items() if len(alias_owners[alias]) == 1
        }

        # Keys with droppable words ("tylenol 3", "the pill", "grapefruit juice"), by first
        # word, so those words are kept when the whole name is typed; and the dictionary's
        # names with a Spanish word we drop ("carbonato de calcio", "Klor-Con").
        self._protected: dict[str, list[tuple[str, ...]]] = {}
        for key in (*self._keys, *self._slang):
            tokens = tuple(key.split())
            if any(map(_droppable, tokens)):
                self._protected.setdefault(tokens[0], []).append(tokens)
        if self._dictionary is not None:
            spanish = self._dictionary.names_with(_SPANISH_DROPPED_WORDS, MAX_DICTIONARY_WORDS)
            for tokens in spanish:
                if not all(map(_droppable, tokens)):  # never "por 8" or "y 93"
                    self._protected.setdefault(tokens[0], []).append(tokens)
        self._short_slang = frozenset(key for key in self._slang if len(key) <= 2)
        self._longest = max(
            len(text.split()) for text in (*self._keys, *self._slang, *self._aliases, *self._stems)
        )

        # Fuzzy choices: generic names, brands, synonyms, aliases and stems; never slang.
        choices: dict[str, tuple[str, _Hit]] = {}
        for index in (self._keys, self._aliases, self._stem_hits):
            for text, hit in index.items():
                choices.setdefault(text, (text, hit))
        # Bucketed by the query lengths that could reach the threshold against them, so a
        # query is scored against about a fifth of the choices.
        self._choices_by_length: dict[int, tuple[list[str], list[_Hit]]] = {}
        longest_choice = max(map(len, choices))
        for length in range(1, longest_choice + 1):
            low, high = length * FUZZY_THRESHOLD / 100, length * 100 / FUZZY_THRESHOLD
            near = [text for text in choices if low <= len(text) <= high]
            self._choices_by_length[length] = (near, [choices[text][1] for text in near])

    # Lookups ------------------------------------------------------------------------------

    def classes_of(self, name: str) -> frozenset[str]:
        """An entry's classes; a combination's are the union of its components' (recursively)."""
        return self._classes_of[name]

    def components_of(self, name: str) -> tuple[str, ...]:
        """A combination's component entries (recursively); a single drug's is (name,)."""
        return self._components[name]

    def is_known_class_or_drug(self, word: str) -> bool:
        return word in self.classes or word in self.drugs

    def suggest(self, word: str) -> str | None:
        """The declared class or drug name someone most likely meant by word, if any."""
        lowered = str(word).strip().lower()
        if not lowered:
            return None
        if self.is_known_class_or_drug(lowered):
            return lowered
        for names in (sorted(self.classes), sorted(self.drugs)):
            starting = [name for name in names if name.startswith(lowered)]
            if starting:
                return min(starting, key=len)  # "benzo" -> benzodiazepine
        within = [name for name in self.classes if lowered.startswith(name)]
        if within:
            return max(within, key=len)  # "maoi inhibitor" -> maoi
        match = self.recognise(lowered)
        if match.recognised:
            return match.drug  # "xanax" -> alprazolam
        close = difflib.get_close_matches(lowered, list(self.classes), n=1, cutoff=0.5)
        close = close or difflib.get_close_matches(lowered, list(self.drugs), n=1)
        return close[0] if close else None  # "opiate" -> opioid

    # Recognition --------------------------------------------------------------------------

    def recognise(self, typed: str, *, allow_slang: bool = False) -> Match:
        """The first drug a typed entry stands for (see recognise_each for rows naming several)."""
        return self.recognise_each(typed, allow_slang=allow_slang)[0]

    def recognise_each(self, typed: str, *, allow_slang: bool = False) -> tuple[Match, ...]:
        """Every drug a typed entry stands for: one Match, or several for "Xanax and Ambien".

        Always at least one Match; an unrecognised entry gives drug=None, method "none".
        """
        cache_key = (typed, allow_slang)
        found = self._cache.get(cache_key)
        if found is None:
            found = self._recognise(typed, allow_slang)
            if len(typed) > CACHE_MAX_TYPED:
                return found
            if len(self._cache) >= CACHE_SIZE:
                try:
                    del self._cache[next(iter(self._cache))]
                except (KeyError, RuntimeError, StopIteration):  # another thread got there first
                    self._cache.clear()
            self._cache[cache_key] = found
        return found

    def normalise(self, typed: str) -> tuple[str, frozenset[str]]:
        """The text matching works on, and the form families the entry names or implies."""
        light = tokenize(typed)[:MAX_WORDS]
        families = frozenset(FORM_FAMILIES[t] for t in light if t in FORM_FAMILIES)
        if not families:
            if any(t in _MASS_UNITS for t in light):
                families = frozenset({"oral"})  # "Nizoral 200 mg" is the tablet
            elif "%" in light:
                families = frozenset({"topical"})  # "ketoconazole 2%" is the cream or shampoo
        keep = self._protected_positions(light)
        kept = []
        for position, token in enumerate(light):
            if position in keep:
                kept.append(token)
            elif token in _CLOCK:
                if position == 0 or not _NUMBER.match(light[position - 1]):
                    kept.append(token)
            elif not _droppable(token):
                kept.append(token)
        return " ".join(kept), families

    def _protected_positions(self, light: list[str]) -> set[int]:
        keep: set[int] = set()
        for start, token in enumerate(light):
            for key in self._protected.get(token, ()):
                end = start + len(key)
                if tuple(light[start:end]) == key and not any(
                    _NUMBER.match(light[p]) and _bound_number(light, p) for p in range(start, end)
                ):
                    keep.update(range(start, end))
        return keep

    def _recognise(self, typed: str, allow_slang: bool) -> tuple[Match, ...]:
        normalised, families = self.normalise(typed)
        hits, covered = self._hits(normalised, families, allow_slang)
        if not hits:
            return (Match(typed, normalised, None, (), frozenset(), 0.0, "none"),)
        found: list[tuple[str, _Found | None]] = [(normalised, hit) for hit in hits]
        if _SEPARATORS.search(typed):
            found += self._other_parts(typed, covered, {hit.drug for hit in hits}, allow_slang)
        return tuple(
            Match(typed, text, None, (), frozenset(), 0.0, "none")
            if hit is None
            else Match(typed, text, hit.drug, hit.components, hit.classes, hit.score, hit.method)
            for text, hit in found
        )

    def _hits(
        self, normalised: str, families: frozenset[str], allow_slang: bool
    ) -> tuple[list[_Found], set[str]]:
        """What the words name exactly, else the closest misspelling; and the words used."""
        tokens = normalised.split()
        hits, covered, ambiguous = self._exact_hits(tokens, families, allow_slang)
        if hits or ambiguous:
            return hits, covered
        for fuzzy in (self._fuzzy, self._dictionary_fuzzy):
            found = fuzzy(normalised, tokens, families)
            if found is not None:
                hit, query = found
                return [hit], set(query.split())
        return [], set()

    def _other_parts(
        self, typed: str, covered: set[str], drugs: set[str], allow_slang: bool
    ) -> list[tuple[str, _Found | None]]:
        """Parts of a list ("Xanax, sertaline and Blorbex") that the whole row did not name.

        Each is recognised on its own; one that names nothing is kept as an unrecognised
        entry, so no drug in a row of several is ever dropped without a word to the physician.
        A part that starts like an instruction ("..., as needed for sleep") is not a drug.
        """
        extra: list[tuple[str, _Found | None]] = []
        for part in _SEPARATORS.split(typed):
            words = tokenize(part)
            if not words or words[0] in _INSTRUCTION_WORDS:
                continue
            normalised, families = self.normalise(part)
            tokens = normalised.split()
            if not tokens or any(token in covered for token in tokens):
                continue
            hits, _ = self._hits(normalised, families, allow_slang)
            if not hits:
                extra.append((normalised, None))
            for hit in hits:
                if hit.drug not in drugs:
                    drugs.add(hit.drug)
                    extra.append((normalised, hit))
        return extra

    def _found(self, drug: str, method: str, score: float = 100.0) -> _Found:
        return _Found(drug, self._components[drug], self._classes_of[drug], method, score)

    def _exact_hits(
        self, tokens: list[str], families: frozenset[str], allow_slang: bool
    ) -> tuple[list[_Found], set[str], bool]:
        """Longest-first cover of the words: formulary names, then the dictionary, then slang.

        "I take Xanax at night" -> alprazolam; "Xanax and Ambien" -> both; "Xanax and Elavil"
        -> alprazolam from the formulary, amitriptyline from the dictionary. The dictionary
        comes before street names, so "folic acid" is folic acid and never "acid" (LSD).
        Returns the hits in typed order, the words they used, and whether some words named
        something ambiguous.
        """
        count = len(tokens)
        used = [False] * count
        covered: set[str] = set()
        found: list[tuple[int, _Found]] = []
        ambiguous = False

        def cover(longest: int, lookup: Mapping[str, object]) -> None:
            nonlocal ambiguous
            for length in range(min(count, longest), 0, -1):
                for start in range(count - length + 1):
                    if any(used[start : start + length]):
                        continue
                    resolved = lookup(" ".join(tokens[start : start + length]), length)
                    if resolved is None:
                        continue
                    used[start : start + length] = [True] * length
                    if resolved is _AMBIGUOUS:
                        ambiguous = True
                    else:
                        found.append((start, resolved))
                        covered.update(tokens[start : start + length])

        whole_slang = allow_slang and " ".join(tokens) in self._slang
        if not whole_slang:
            cover(self._longest, lambda phrase, _: self._lookup(phrase, families))
            if self._dictionary is not None:
                cover(
                    min(self._dictionary.longest, MAX_DICTIONARY_WORDS),
                    lambda phrase, _: self._lookup_dictionary(phrase, families, "resolver", 100.0),
                )
        if allow_slang:
            short_slang_ok = all(t in self._short_slang for t in tokens)
            cover(
                self._longest,
                lambda phrase, length: self._lookup_slang(
                    phrase, short_slang_ok or length == count
                ),
            )
        found.sort(key=lambda item: item[0])
        hits: list[_Found] = []
        for _, hit in found:
            if all(hit.drug != other.drug for other in hits):
                hits.append(hit)
        if len(hits) > 1:  # "Percocet (oxycodone)" is one drug, not two
            parts = {hit.drug: set(hit.components) for hit in hits}
            hits = [
                hit
                for hit in hits
                if not any(parts[hit.drug] < parts[other] for other in parts if other != hit.drug)
            ]
        return hits, covered, ambiguous

    def _lookup(self, phrase: str, families: frozenset[str]) -> _Found | object | None:
        """What a phrase names in the formulary: a hit, _AMBIGUOUS (a bare stem) or None."""
        candidates = [phrase]
        if len(phrase) > 3 and phrase.endswith("s"):
            candidates.append(phrase[:-1])  # "beers", "aspirins"
        for text in candidates:
            hit = self._keys.get(text) or self._aliases.get(text) or self._stem_hits.get(text)
            if hit is not None:
                drug = self._resolve_form(text, hit, families)
                return _AMBIGUOUS if drug is None else self._found(drug, hit.method)
        return None

    def _lookup_slang(self, phrase: str, whole: bool) -> _Found | None:
        """A street name: only in the recreational list, and a one-letter one only whole."""
        if not whole and phrase in self._short_slang:
            return None
        hit = self._slang.get(phrase)
        return None if hit is None else self._found(hit.drug, hit.method)

    # The broad dictionary ---------------------------------------------------------------

    def _lookup_dictionary(
        self, phrase: str, families: frozenset[str], method: str, score: float
    ) -> _Found | object | None:
        generic = self._dictionary.lookup(phrase) if self._dictionary is not None else None
        return None if generic is None else self._from_generic(generic, families, method, score)

    def _dictionary_fuzzy(
        self, normalised: str, tokens: list[str], families: frozenset[str]
    ) -> tuple[_Found, str] | None:
        """A misspelt word the formulary could not place, against the dictionary's names."""
        if self._dictionary is None:
            return None
        best: tuple[_Found, str] | None = None
        for token in dict.fromkeys(tokens):
            if token in FORM_FAMILIES:
                continue
            closest = self._dictionary.closest(token)
            if closest is None:
                continue
            generic, score = closest
            hit = self._from_generic(generic, families, "resolver-fuzzy", score)
            if isinstance(hit, _Found) and (best is None or hit.score > best[0].score):
                best = (hit, token)
        return best

    def _from_generic(
        self, generic: Generic, families: frozenset[str], method: str, score: float
    ) -> _Found | object:
        """A dictionary generic as a hit: its formulary entry when it has one, else itself.

        A generic with no formulary entry is recognised with no interaction class ("no known
        interaction with ketamine"), unless it belongs to a family that interacts (then it is
        _AMBIGUOUS, reported unrecognised for the physician to check). A generic whose names
        the formulary reads as different entries, or as a form-ambiguous stem, is _AMBIGUOUS.
        """
        entry = self._entry_for(generic)
        if entry is _AMBIGUOUS:
            return _AMBIGUOUS
        if isinstance(entry, str):
            variants = self._stems.get(" ".join(tokenize(entry)))
            if variants and not self.drugs[entry].form:
                # The dictionary does not say which form a brand is ("Extina" is a foam):
                # only the typed form words may choose a variant.
                wanted = {n for family in families for n in variants.get(family, ())}
                if len(wanted) != 1:
                    return _AMBIGUOUS
                entry = wanted.pop()
            return self._found(entry, method, score)
        if isinstance(entry, tuple):  # a combination of formulary entries and other generics
            leaves = tuple(
                dict.fromkeys(
                    leaf for part in entry for leaf in self._components.get(part, (part,))
                )
            )
            same = self._combination_by_leaves.get(frozenset(leaves))
            if same is not None:
                return self._found(same, method, score)
            classes = frozenset().union(*(self._classes_of.get(part, ()) for part in entry))
            return _Found(generic.name, leaves, classes, method, score)
        if generic.review:
            return _AMBIGUOUS
        return _Found(generic.name, generic.parts, frozenset(), method, score)

    def _entry_for(self, generic: Generic) -> str | tuple[str, ...] | object | None:
        """The formulary entry a dictionary generic is, memoised per generic.

        Its own name first ("acetaminophen" is paracetamol's synonym), then every name the
        dictionary gives it, which must all point to one entry ("clorazepate dipotassium" is
        the formulary's clorazepate through "Tranxene"); a combination maps part by part.
        None when the formulary does not know it; _AMBIGUOUS when it cannot tell.
        """
        known = self._entries_by_generic.get(generic.name, _MISSING)
        if known is not _MISSING:
            return known
        entry: str | tuple[str, ...] | object | None = None
        own = self._formulary_text(" ".join(generic.parts))
        if own is None:
            own = self._formulary_text(generic.name)
        if own is not None:
            entry = own
        else:
            named = {self._keys[v].drug for v in generic.variants if v in self._keys}
            if any(v in self._stem_hits for v in generic.variants) or len(named) > 1:
                entry = _AMBIGUOUS
            elif named:
                entry = named.pop()
            elif len(generic.parts) > 1:
                entry = self._combination_parts(generic)
        if len(self._entries_by_generic) < CACHE_SIZE:
            self._entries_by_generic[generic.name] = entry
        return entry

    def _formulary_text(self, text: str) -> str | object | None:
        key = " ".join(tokenize(text))
        hit = self._keys.get(key) or self._aliases.get(key) or self._stem_hits.get(key)
        if hit is None:
            return None
        return _AMBIGUOUS if hit.drug is None else hit.drug

    def _combination_parts(self, generic: Generic) -> tuple[str, ...] | object | None:
        parts: list[str] = []
        for part in generic.parts:
            entry = self._formulary_text(part)
            if entry is None and self._dictionary is not None:
                sub = self._dictionary.generic_named(part)
                if sub is not None and sub.name != generic.name:
                    entry = self._entry_for(sub)
                    if entry is None and sub.review:
                        entry = _AMBIGUOUS
                    entry = sub.name if entry is None else entry
            if entry is _AMBIGUOUS or isinstance(entry, tuple):
                return _AMBIGUOUS
            parts.append(entry if isinstance(entry, str) else part)
        if not any(part in self.drugs for part in parts):
            return None  # nothing the formulary knows: a plain generic of the dictionary
        return tuple(parts)

    def _resolve_form(self, text: str, hit: _Hit, families: frozenset[str]) -> str | None:
        """Apply the typed form words to a hit.

        A hit on an entry that carries a form (a brand such as Flonase, or "fluticasone
        inhaler" typed whole) already satisfies it. A formless generic with form variants
        switches to the variant the typed form names ("ketoconazole gel" -> ketoconazole
        topical) and otherwise stays itself ("ketoconazole 200 mg" stays the oral CYP3A4
        inhibitor, the safer reading). A bare stem with no formless entry ("fluticasone",
        "budesonide", "Nizoral") can mean a nasal spray or an inhaler, a cream or a tablet:
        we do not guess, and return None so the entry is reported unrecognised and a
        physician looks at it. Guessing "nasal" would raise a wrong timing flag for
        inhaler users; guessing "inhaler" would hide a nasal spray.
        """
        variants = self._stems.get(text)
        if hit.drug is not None and (variants is None or self.drugs[hit.drug].form):
            return hit.drug
        wanted = {name for family in families for name in (variants or {}).get(family, ())}
        if len(wanted) == 1:
            return wanted.pop()
        return hit.drug

    def _fuzzy(
        self, normalised: str, tokens: list[str], families: frozenset[str]
    ) -> tuple[_Found, str] | None:
        """Misspellings: the whole text, then each word of 5+ letters, against non-slang names."""
        queries = [normalised] if _letters(normalised) >= FUZZY_MIN_LETTERS else []
        queries += [
            token
            for token in dict.fromkeys(tokens)
            if token != normalised
            and token not in FORM_FAMILIES
            and token.isalpha()
            and len(token) >= FUZZY_MIN_LETTERS
        ]
        best: tuple[_Found, str] | None = None
        for query in queries:
            choices, choice_hits = self._choices_by_length.get(len(query), ([], []))
            results = process.extract(
                query,
                choices,
                scorer=OSA.normalized_similarity,
                processor=None,
                score_cutoff=FUZZY_THRESHOLD / 100,
                limit=5,
            )
            plausible = [
                (OSA.distance(query, choice), -similarity, choice, position)
                for choice, similarity, position in results
                if _plausible_slip(query, choice)
            ]
            if not plausible:
                continue
            # A tie counts edits, not the length-weighted score: "lozapine" is one slip from
            # loxapine and one from clozapine, so it is neither.
            fewest = min(item[0] for item in plausible)
            closest = sorted(item for item in plausible if item[0] == fewest)
            drugs = {
                self._resolve_form(choice, choice_hits[position], families)
                for _, _, choice, position in closest
            }
            if len(drugs) != 1 or None in drugs:
                continue  # a tie between different drugs: do not guess
            top = -closest[0][1]
            score = round(top * 100, 1)
            if best is None or score > best[0].score:
                best = (self._found(drugs.pop(), "fuzzy", score), query)
            if query == normalised:
                break  # the whole text matched; its words cannot do better
        return best

    def __repr__(self) -> str:
        return f"<Formulary: {len(self.drugs)} entries, {len(self.classes)} classes>"


def _bound_number(tokens: list[str], position: int) -> bool:
    """A number that is a dose or a frequency ("4 times a day", "every 6 hours", "500 mg")."""
    after = tokens[position + 1] if position + 1 < len(tokens) else ""
    before = tokens[position - 1] if position else ""
    return after in _BINDS_NUMBER_AFTER or before in _BINDS_NUMBER_BEFORE


def _plausible_slip(query: str, choice: str) -> bool:
    """Whether a close fuzzy score is a slip of the pen rather than a different name.

    Drugs of one family share their ending and differ at the start (azithromycin and
    erythromycin, esomeprazole and omeprazole are two edits apart), so more than one edit
    needs the same first letter. And a short word is never a slip: "vitamin c" is one letter
    from "vitamin d", "omega 6" from "omega 3".
    """
    if query[0] != choice[0] and OSA.distance(query, choice, score_cutoff=2) > 1:
        return False
    query_words, choice_words = query.split(), choice.split()
    if len(query_words) != len(choice_words):
        return True
    return all(
        a == b or (len(a) > 2 and len(b) > 2 and a.isalpha() and b.isalpha())
        for a, b in zip(query_words, choice_words, strict=True)
    )


def _drug_from_raw(raw: object, position: int) -> Drug:
    if not isinstance(raw, Mapping):
        raise ValueError(f"Formulary drug #{position} must be a mapping of fields.")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"Formulary drug #{position} has no name.")
    where = f'Formulary entry "{name}"'
    unknown = sorted(set(raw) - DRUG_FIELDS)
    if unknown:
        raise ValueError(
            f"{where}: unknown field {_quoted(unknown)} (fields: {_quoted(sorted(DRUG_FIELDS))})."
        )

    def strings(field: str) -> tuple[str, ...]:
        value = raw.get(field)
        if value is None:
            return ()
        if not isinstance(value, list | tuple):
            raise ValueError(f"{where}: {field} must be a list, not {value!r}.")
        items = []
        for item in value:
            if not isinstance(item, str | int | float) or not str(item).strip():
                raise ValueError(f"{where}: {field} has an empty or invalid item {item!r}.")
            items.append(str(item).strip())
        return tuple(items)

    def text(field: str) -> str:
        value = raw.get(field)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise ValueError(f"{where}: {field} must be text, not {value!r}.")
        return value.strip()

    return Drug(
        name=name,
        classes=frozenset(strings("classes")),
        components=strings("components"),
        brands=strings("brands"),
        synonyms=strings("synonyms"),
        slang=strings("slang"),
        form=text("form").lower(),
        note=text("note"),
        grade=text("grade").lower(),
        sources=strings("sources"),
    )


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(f'"{value}"' for value in values)


# --- Screening-level API ------------------------------------------------------------------


def recognise_all(
    formulary: Formulary,
    medication_rows: Sequence[dict | str],
    recreational_rows: Sequence[dict | str] = (),
) -> list[Match]:
    """Recognise every typed row; street names count only in the recreational rows.

    Rows are {"name", "dose", "frequency"} dicts or plain strings; only the name is matched.
    Empty names are skipped; every other row gives at least one Match, recognised or not.
    """
    matches: list[Match] = []
    for rows, allow_slang in ((medication_rows, False), (recreational_rows, True)):
        for row in rows or ():
            typed = row.get("name") if isinstance(row, Mapping) else row
            if typed is None:
                continue
            typed = typed if isinstance(typed, str) else str(typed)
            if typed.strip():
                matches.extend(formulary.recognise_each(typed, allow_slang=allow_slang))
    return matches


class _RecognitionContext(Protocol):
    """What takes() and unrecognised_medication() read of the rules' evaluation context."""

    matches: Sequence[Match]


def matches_for(word: str, matches: Iterable[Match], formulary: Formulary) -> list[Match]:
    """The matches that make takes(word) true: a flag's evidence.

    formulary is accepted so callers need not care how a word is resolved; a word is a class
    or an entry name, and a combination's own name counts as well as its components'.
    """
    del formulary  # every match already carries its components and their classes
    return [
        match
        for match in matches
        if word in match.classes or word in match.components or word == match.drug
    ]


def make_takes_spec(formulary: Formulary) -> FunctionSpec:
    """takes("benzodiazepine") / takes("clarithromycin"): does any typed entry stand for it?"""

    # Every rule of one screening asks about the same list of matches: collect its classes
    # and drug names once, and answer each takes() with one set lookup. The list is read-only
    # while a screening is evaluated; its identity and length tell a new screening apart.
    last: list[tuple[object, int, frozenset[str]]] = [(None, -1, frozenset())]

    def implementation(context: _RecognitionContext, word: str) -> bool:
        matches = context.matches
        seen, count, words = last[0]
        if seen is not matches or count != len(matches):
            words = frozenset().union(
                *(match.classes for match in matches),
                *(match.components for match in matches),
                (match.drug for match in matches if match.drug is not None),
            )
            last[0] = (matches, len(matches), words)
        return isinstance(word, str) and word in words

    def describe_args(args: tuple) -> list[Problem]:
        word = args[0] if args else ""
        if isinstance(word, str) and formulary.is_known_class_or_drug(word):
            return []
        message = f'Unknown medication class or drug "{word}".'
        suggestion = formulary.suggest(str(word))
        if suggestion:
            message += f' Did you mean "{suggestion}"?'
        return [Problem(message, 0)]

    return FunctionSpec(("string",), implementation, describe_args)


def make_unrecognised_spec() -> FunctionSpec:
    """unrecognised_medication(): did the patient type something the formulary does not know?"""

    def implementation(context: _RecognitionContext) -> bool:
        return any(not match.recognised for match in context.matches)

    return FunctionSpec((), implementation)
