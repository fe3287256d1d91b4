"""The test panel: synthetic patients that check a version's rules, like unit tests for content.

Each case is a set of answers with the flags it must raise and the flags it must not raise
(or "nothing else" besides the ones it must raise). Running the panel evaluates every case
with the version's RuleSet and says, per case, which expected flag is missing and which
unexpected flag is present. Clinic admins test a draft this way instead of on real
patients' screenings, so what they see depends on nothing any patient answered.

No Django import: cases and results are plain data.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from .rules import RuleSet


@dataclass(frozen=True)
class PanelCaseDef:
    name: str
    answers: Mapping[str, object]
    must_raise: tuple[str, ...] = ()
    must_not_raise: tuple[str, ...] = ()
    nothing_else: bool = False  # any flag not in must_raise is unexpected
    as_of: datetime.date | None = None  # evaluate as if on this day (ages do not drift)
    problems: tuple[str, ...] = ()  # found when the case was read: answers that do not fit


@dataclass(frozen=True)
class CaseResult:
    name: str
    raised: tuple[str, ...]  # flag codes, in the order the engine raised them
    missing: tuple[str, ...]  # must raise, but did not
    unexpected: tuple[str, ...]  # raised, but must not be
    problems: tuple[str, ...] = ()  # the case itself is broken (unknown rule code, ...)

    @property
    def passed(self) -> bool:
        return not (self.missing or self.unexpected or self.problems)

    def reasons(self) -> list[str]:
        """Why the case failed, one sentence each (empty when it passed)."""
        return [
            *self.problems,
            *(f"Expected flag {code} was not raised." for code in self.missing),
            *(f"Unexpected flag {code} was raised." for code in self.unexpected),
        ]


@dataclass
class PanelResult:
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def failing(self) -> list[CaseResult]:
        return [case for case in self.cases if not case.passed]

    @property
    def passed(self) -> bool:
        return not self.failing

    def reasons(self) -> list[str]:
        """One line per failing case: its name and why."""
        return [f"{case.name}: {' '.join(case.reasons())}" for case in self.failing]


def expectation_problems(
    must_raise: Iterable[str], must_not_raise: Iterable[str], rule_codes: Iterable[str]
) -> list[str]:
    """What is wrong with a case's expectations against the version's rule codes, as sentences."""
    known = set(rule_codes)
    must_raise, must_not_raise = list(must_raise), list(must_not_raise)
    problems = []
    unknown = sorted({code for code in [*must_raise, *must_not_raise] if code not in known})
    if unknown:
        problems.append(f"No rule of this version has the code {', '.join(unknown)}.")
    both = sorted(set(must_raise) & set(must_not_raise))
    if both:
        problems.append(f"{', '.join(both)} cannot be both raised and not raised.")
    return problems


def run_case(ruleset: RuleSet, case: PanelCaseDef, today: datetime.date) -> CaseResult:
    problems = [
        *case.problems,
        *expectation_problems(case.must_raise, case.must_not_raise, ruleset.rule_codes),
    ]
    evaluation = ruleset.evaluate(case.answers, case.as_of or today, with_evidence=False)
    raised = tuple(flag.code for flag in evaluation.flags)
    missing = tuple(code for code in case.must_raise if code not in raised)
    if case.nothing_else:
        unexpected = tuple(code for code in raised if code not in case.must_raise)
    else:
        unexpected = tuple(code for code in raised if code in case.must_not_raise)
    return CaseResult(case.name, raised, missing, unexpected, tuple(problems))


def run_panel(ruleset: RuleSet, cases: Iterable[PanelCaseDef], today: datetime.date) -> PanelResult:
    """Evaluate every case with the ruleset; today is used for cases without their own date."""
    return PanelResult([run_case(ruleset, case, today) for case in cases])
