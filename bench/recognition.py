"""Medication recognition measured on what patients type: right generic, wrong drug, dropped.

The list (tests/engine/data/typed_medications.yaml) was written from knowledge of US and UK
prescribing, not from the formulary. Each typed string is recognised as the intake would
(medication list, or recreational list for the "recreational" group) and judged:

  right         every expected generic recognised, nothing else matched
  wrong         some entry matched a drug that is not one of the expected generics
  unrecognised  an expected generic missed, but the physician is told (an unrecognised entry)
  silent        an expected generic missed with no unrecognised entry: dropped without a word
"""

from __future__ import annotations

import re
import resource
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from screening.engine.medications import FORM_FAMILIES, Formulary, Match, recognise_all, tokenize
from screening.engine.resolver import DrugDictionary, load_dictionary

ROOT = Path(__file__).resolve().parents[1]
TYPED_FILE = ROOT / "tests" / "engine" / "data" / "typed_medications.yaml"
FORMULARY_FILE = ROOT / "content" / "formulary.yaml"
RECREATIONAL_GROUP = "recreational"
TARGET_RIGHT = 98.0  # per cent of typed strings recognised as the right generic


@dataclass(frozen=True)
class Outcome:
    group: str
    typed: str
    expected: tuple[str, ...]
    found: tuple[str, ...]  # what was recognised ("?" for an unrecognised entry)
    verdict: str  # right | wrong | unrecognised | silent


def typed_cases(path: Path = TYPED_FILE) -> list[tuple[str, str, tuple[str, ...]]]:
    """(group, typed, expected generics) for every string of the list."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        (group, str(typed), tuple(str(name) for name in expected))
        for group, rows in data.items()
        for row in rows
        for typed, expected in row.items()
    ]


def _key(name: str) -> str:
    return " ".join(tokenize(name))


class Judge:
    """Decides whether a recognised name is one of the generics a string was expected to be."""

    def __init__(self, formulary: Formulary, dictionary: DrugDictionary | None):
        self.formulary = formulary
        self.dictionary = dictionary
        self._names: dict[str, frozenset[str]] = {}

    def names(self, name: str) -> frozenset[str]:
        """Every way of writing one drug: its formulary name and synonyms, its dictionary names."""
        known = self._names.get(name)
        if known is None:
            plain = re.sub(r"\([^)]*\)", "", name)
            names = {_key(name), _key(plain)}
            # "fluticasone nasal" and "estradiol patch" are the generic in a form
            names.add(" ".join(t for t in tokenize(plain) if t not in FORM_FAMILIES))
            drug = self.formulary.drugs.get(name)
            if drug is not None:
                names.update(_key(text) for text in drug.synonyms)
            for text in list(names):
                generic = self.dictionary.generic_named(text) if self.dictionary else None
                if generic is not None:
                    names.update(generic.variants)
                    names.add(_key(generic.name))
            known = self._names[name] = frozenset(names)
        return known

    def judge(self, group: str, typed: str, expected: tuple[str, ...], matches: list[Match]):
        wanted = {_key(name) for name in expected}
        recognised = [match for match in matches if match.recognised]
        seen: set[str] = set()
        wrong = False
        for match in recognised:
            names = set(self.names(match.drug))
            for component in match.components:
                names |= self.names(component)
            seen |= names
            if not names & wanted:
                wrong = True
        missing = wanted - seen
        if wrong:
            verdict = "wrong"
        elif not missing:
            verdict = "right"
        elif any(not match.recognised for match in matches):
            verdict = "unrecognised"
        else:
            verdict = "silent"
        found = tuple(match.drug or "?" for match in matches)
        return Outcome(group, typed, expected, found, verdict)


def measure(
    formulary: Formulary, dictionary: DrugDictionary | None, path: Path = TYPED_FILE
) -> list[Outcome]:
    judge = Judge(formulary, dictionary)
    outcomes = []
    for group, typed, expected in typed_cases(path):
        recreational = group == RECREATIONAL_GROUP
        matches = recognise_all(formulary, [] if recreational else [typed], [typed] * recreational)
        outcomes.append(judge.judge(group, typed, expected, matches))
    return outcomes


def summary(outcomes: list[Outcome]) -> Counter:
    return Counter(outcome.verdict for outcome in outcomes)


def percent_right(outcomes: list[Outcome]) -> float:
    return 100 * summary(outcomes)["right"] / len(outcomes)


def report(outcomes: list[Outcome]) -> str:
    """Figures by group, then every string not recognised as the right generic."""
    lines = []
    groups = dict.fromkeys(outcome.group for outcome in outcomes)
    for group in groups:
        mine = [outcome for outcome in outcomes if outcome.group == group]
        right = sum(outcome.verdict == "right" for outcome in mine)
        lines.append(f"  {group:40} {right:4} of {len(mine):4} right")
    for outcome in outcomes:
        if outcome.verdict != "right":
            lines.append(
                f"  {outcome.verdict:12} {outcome.typed!r} expected {list(outcome.expected)}"
                f" got {list(outcome.found)}"
            )
    return "\n".join(lines)


def run() -> list[tuple[str, str, str, bool]]:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    dictionary = load_dictionary()
    load_seconds = time.perf_counter() - started
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    formulary = Formulary.from_data(
        yaml.safe_load(FORMULARY_FILE.read_text(encoding="utf-8")), dictionary
    )

    cold = []
    for _, typed, _ in typed_cases():
        start = time.perf_counter()
        formulary.recognise_each(typed)
        cold.append(time.perf_counter() - start)
    outcomes = measure(formulary, dictionary)
    counts = summary(outcomes)
    right = percent_right(outcomes)
    cold_ms = sorted(cold)
    return [
        (
            "recognition: drug-name dictionary, loaded once per process",
            f"{load_seconds:.2f} s, +{grown_mb:.0f} MB peak",
            "< 3 s, < 150 MB",
            load_seconds < 3 and grown_mb < 150,
        ),
        (
            f"recognition: {len(outcomes)} patient-typed strings, right generic",
            f"{right:.1f}%",
            f">= {TARGET_RIGHT:.0f}%",
            right >= TARGET_RIGHT,
        ),
        (
            "recognition: matched to a wrong drug",
            str(counts["wrong"]),
            "0",
            counts["wrong"] == 0,
        ),
        (
            "recognition: dropped silently (not even 'unrecognised')",
            str(counts["silent"]),
            "0",
            counts["silent"] == 0,
        ),
        (
            "recognition: a new typed entry (first time, no cache), median / p99",
            f"{statistics.median(cold_ms) * 1000:.2f} / {cold_ms[int(len(cold_ms) * 0.99)] * 1000:.2f} ms",
            "< 5 ms p99",
            cold_ms[int(len(cold_ms) * 0.99)] < 0.005,
        ),
    ]


if __name__ == "__main__":  # python -m bench.recognition: the figures and every miss
    dictionary = load_dictionary()
    formulary = Formulary.from_data(
        yaml.safe_load(FORMULARY_FILE.read_text(encoding="utf-8")), dictionary
    )
    outcomes = measure(formulary, dictionary)
    print(report(outcomes))
    print(dict(summary(outcomes)), f"{percent_right(outcomes):.1f}% right of {len(outcomes)}")
