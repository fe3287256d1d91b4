"""The test panel runner (no database): each case says which expected flag is missing and
which unexpected flag is present, and the default panel passes on the default rules."""

import datetime

import pytest

from screening.engine.definitions import (
    default_ruleset_from_files,
)
from screening.engine.panel import PanelCaseDef, expectation_problems, run_case

TODAY = datetime.date(2026, 11, 23)
CALM = {"bp": {"systolic": 120, "diastolic": 80}, "heart_rate": 70}


@pytest.fixture(scope="module")
def ruleset():
    return default_ruleset_from_files()


def test_a_case_passes_when_it_raises_what_it_must_and_nothing_it_must_not(ruleset):
    case = PanelCaseDef(
        "elevated",
        {**CALM, "bp": {"systolic": 150, "diastolic": 85}},
        must_raise=("bp_elevated",),
        must_not_raise=("bp_crisis_range",),
    )
    result = run_case(ruleset, case, TODAY)
    assert result.passed, result.reasons()
    assert "bp_elevated" in result.raised


def test_a_case_names_the_expected_flag_that_was_not_raised(ruleset):
    case = PanelCaseDef("crisis?", CALM, must_raise=("bp_crisis_range",))
    result = run_case(ruleset, case, TODAY)
    assert not result.passed
    assert result.missing == ("bp_crisis_range",)
    assert result.reasons() == ["Expected flag bp_crisis_range was not raised."]


def test_a_case_names_the_flag_it_must_not_raise_but_did(ruleset):
    case = PanelCaseDef(
        "crisis",
        {**CALM, "bp": {"systolic": 190, "diastolic": 95}},
        must_not_raise=("bp_crisis_range",),
    )
    result = run_case(ruleset, case, TODAY)
    assert result.unexpected == ("bp_crisis_range",)


def test_nothing_else_makes_every_other_flag_unexpected(ruleset):
    answers = {**CALM, "bp": {"systolic": 190, "diastolic": 95}}
    loose = run_case(ruleset, PanelCaseDef("x", answers, must_raise=("bp_crisis_range",)), TODAY)
    strict = run_case(
        ruleset,
        PanelCaseDef("x", answers, must_raise=("bp_crisis_range",), nothing_else=True),
        TODAY,
    )
    assert loose.passed
    assert "bp_uncontrolled" in strict.unexpected


def test_a_case_is_evaluated_on_its_own_date_so_an_age_never_drifts(ruleset):
    answers = {**CALM, "date_of_birth": "2008-11-24"}  # 18 on 2026-11-24
    case = PanelCaseDef("17", answers, must_raise=("age_under_18",), as_of=TODAY)
    assert run_case(ruleset, case, datetime.date(2040, 1, 1)).passed
    undated = PanelCaseDef("17", answers, must_raise=("age_under_18",))
    assert not run_case(ruleset, undated, datetime.date(2040, 1, 1)).passed


def test_a_case_expecting_an_unknown_rule_fails_with_the_reason(ruleset):
    result = run_case(ruleset, PanelCaseDef("x", CALM, must_raise=("no_such_rule",)), TODAY)
    assert not result.passed
    assert "No rule of this version has the code no_such_rule." in result.reasons()


def test_expectations_cannot_both_require_and_forbid_a_flag():
    assert expectation_problems(["a"], ["a"], {"a"}) == ["a cannot be both raised and not raised."]
