"""Severity: its values, order, ranks and labels are written once, in the engine."""

from screening.engine.severity import Severity


def test_most_urgent_first_with_ranks_and_labels():
    assert [(s.value, s.rank, s.label) for s in Severity] == [
        ("urgent", 4, "Urgent"),
        ("contraindicated", 3, "Contraindicated"),
        ("caution", 2, "Caution"),
        ("info", 1, "Info"),
    ]


def test_a_stored_level_compares_with_its_member_and_nothing_ranks_zero():
    assert Severity("urgent") is Severity.URGENT and Severity.URGENT == "urgent"
    assert Severity.rank_of("caution") == 2
    assert Severity.rank_of("") == 0 and Severity.rank_of("unknown") == 0


def test_choices_are_value_and_label_pairs():
    assert Severity.choices()[0] == ("urgent", "Urgent")
    assert len(Severity.choices()) == 4
