"""What patients type, recognised with the real formulary and drug dictionary: the targets.

The list (data/typed_medications.yaml) was written from knowledge of US and UK prescribing,
not from the formulary; `python -m bench.recognition` prints every miss.
"""

import pytest
import yaml

from bench.recognition import (
    FORMULARY_FILE,
    TARGET_RIGHT,
    measure,
    percent_right,
    report,
    summary,
    typed_cases,
)
from screening.engine.medications import Formulary
from screening.engine.resolver import shared_dictionary


@pytest.fixture(scope="module")
def outcomes():
    dictionary = shared_dictionary()
    assert dictionary is not None, "drug-named-entity-recognition is in requirements.txt"
    data = yaml.safe_load(FORMULARY_FILE.read_text(encoding="utf-8"))
    return measure(Formulary.from_data(data, dictionary), dictionary)


def test_the_list_has_at_least_400_strings_in_every_group_the_issue_names():
    cases = typed_cases()
    assert len(cases) >= 400
    groups = {group for group, _, _ in cases}
    assert {"benzodiazepines", "opioids", "antipsychotics", "maois", "cyp3a4_inhibitors"} <= groups
    assert len({typed for _, typed, _ in cases}) == len(cases)


def test_at_least_98_percent_are_recognised_as_the_right_generic(outcomes):
    assert percent_right(outcomes) >= TARGET_RIGHT, report(outcomes)


def test_nothing_is_matched_to_a_wrong_drug(outcomes):
    assert summary(outcomes)["wrong"] == 0, report(outcomes)


def test_nothing_is_dropped_without_an_unrecognised_entry(outcomes):
    assert summary(outcomes)["silent"] == 0, report(outcomes)


@pytest.mark.parametrize(
    "group",
    ["benzodiazepines", "opioids", "antipsychotics", "tricyclics_and_other_antidepressants"],
)
def test_the_groups_the_review_found_worst_are_now_recognised(outcomes, group):
    mine = [outcome for outcome in outcomes if outcome.group == group]
    missed = [outcome.typed for outcome in mine if outcome.verdict != "right"]
    assert len(missed) <= len(mine) // 20, missed
