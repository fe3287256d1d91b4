"""The session check-in's rules read its answers together with the baseline intake's.

No database: the RuleSet is built from content/checkin_default.yaml with the intake's file as
its baseline, as the app builds it for each check-in from the patient's own intake."""

import datetime

import pytest

from screening.engine.definitions import (
    DEFAULT_CHECK_IN_FILE,
    DEFAULT_CONTENT_FILE,
    DEFAULT_FORMULARY_FILE,
    default_ruleset_from_files,
)
from screening.engine.rules import RuleDef, RuleSet
from screening.engine.severity import Severity

TODAY = datetime.date(2026, 11, 23)

CALM = {
    "new_health_problem": "no",
    "hospital_stay": "no",
    "medicines_started": "no",
    "medicines_stopped": "no",
    "used_last_24h": "no",
    "grapefruit_last_24h": "no",
    "last_ate": "over_6_hours",
    "last_drank": "over_2_hours",
    **{f"phq9_{item}": "not_at_all" for item in range(1, 10)},
    "suicide_wish_dead": "no",
    "suicide_thoughts": "no",
    "suicide_behaviour_ever": "no",
    "transport_home": "yes",
}
COULD_BE_PREGNANT = {"sex_at_birth": "female", "can_be_pregnant": "yes", "pregnant": "no"}


@pytest.fixture(scope="module")
def ruleset() -> RuleSet:
    return default_ruleset_from_files(
        DEFAULT_CHECK_IN_FILE, DEFAULT_FORMULARY_FILE, baseline_path=DEFAULT_CONTENT_FILE
    )


def codes(ruleset, answers, baseline) -> set[str]:
    evaluation = ruleset.evaluate(answers, TODAY, baseline_answers=baseline)
    return {flag.code for flag in evaluation.flags}


def test_a_calm_check_in_raises_nothing(ruleset):
    assert codes(ruleset, CALM, COULD_BE_PREGNANT) == set()


def test_the_check_in_answer_takes_precedence_over_the_intake(ruleset):
    # At the intake she had a drink the day before and was not sure she was pregnant; today not.
    baseline = {**COULD_BE_PREGNANT, "pregnant": "unsure", "used_last_24h": "yes"}
    assert codes(ruleset, {**CALM, "pregnant": "no"}, baseline) == set()
    assert "pregnancy" in codes(ruleset, {**CALM, "pregnant": "yes"}, baseline)


def test_an_intake_follow_up_the_check_in_hides_is_not_read(ruleset):
    # At the intake she had thoughts of suicide with intent (urgent then, and reviewed before
    # she was cleared); today no thoughts, so the check-in hides its follow-ups: the intake's
    # old "intent" must not raise today's check-in to urgent.
    baseline = {**COULD_BE_PREGNANT, "suicide_thoughts": "yes", "suicide_intent": "yes"}
    assert codes(ruleset, {**CALM, "pregnant": "no"}, baseline) == set()
    today = {**CALM, "pregnant": "no", "suicide_thoughts": "yes", "suicide_intent": "yes"}
    assert "suicide_risk_high" in codes(ruleset, today, baseline)


def test_a_hidden_intake_answer_never_counts(ruleset):
    # "Could you become pregnant?" no: the intake's stale pregnancy answer was hidden there,
    # and the check-in's pregnancy page is not shown, so its answer is not read either.
    baseline = {"sex_at_birth": "female", "can_be_pregnant": "no", "pregnant": "yes"}
    assert codes(ruleset, {**CALM, "pregnant": "yes"}, baseline) == set()


def test_intake_medicines_are_not_flagged_again_only_those_started(ruleset):
    baseline = {**COULD_BE_PREGNANT, "medications": {"rows": [{"name": "Xanax"}], "none": False}}
    assert codes(ruleset, {**CALM, "pregnant": "no"}, baseline) == set()
    started = {"rows": [{"name": "Biaxin 500 mg", "dose": "", "frequency": ""}], "none": False}
    answers = {**CALM, "pregnant": "no", "medicines_started": "yes", "medications_started": started}
    assert codes(ruleset, answers, baseline) == {"cyp3a4_strong_inhibitor"}


def test_evidence_says_when_an_answer_came_from_the_intake(ruleset):
    # A clinic's own check-in rule may read an intake answer the check-in does not ask.
    rule = RuleDef(
        code="breastfeeding_at_intake",
        title="Breast-feeding",
        severity=Severity.CAUTION,
        when='breastfeeding = yes and pregnant = "no"',
        message="m",
    )
    assert ruleset.problems(rule) == []
    with_rule = RuleSet(ruleset.questionnaire, [rule], ruleset.scores, ruleset.formulary)
    baseline = {**COULD_BE_PREGNANT, "breastfeeding": "yes"}
    (flag,) = with_rule.evaluate({**CALM, "pregnant": "no"}, TODAY, baseline_answers=baseline).flags
    assert flag.evidence == (
        {"question": "breastfeeding", "answer": "yes", "from_baseline": True},
        {"question": "pregnant", "answer": "no"},
    )


def test_a_check_in_rule_may_not_name_a_question_nobody_asks(ruleset):
    rule = RuleDef(
        code="x", title="x", severity=Severity.INFO, when="no_such_code = yes", message="m"
    )
    assert ruleset.problems(rule)
