"""Which questions a patient is asked given their answers: the engine, without a database."""

import datetime
from decimal import Decimal

import pytest

from screening.engine.questionnaire import (
    ChoiceDef,
    QuestionDef,
    QuestionnaireDef,
    SectionDef,
    derived_values,
    variable_types,
    work_out_visibility,
)

TODAY = datetime.date(2026, 11, 23)
SEX = QuestionDef(
    "sex_at_birth",
    "single_choice",
    "Sex?",
    choices=(ChoiceDef("female", "F"), ChoiceDef("male", "M")),
)
QUESTIONNAIRE = QuestionnaireDef(
    (
        SectionDef(
            "about", "About", questions=(QuestionDef("date_of_birth", "date", "Born?"), SEX)
        ),
        SectionDef(
            "pregnancy",
            "Pregnancy",
            show_when='sex_at_birth != "male"',
            questions=(
                QuestionDef("can_be_pregnant", "yes_no", "Could you?"),
                QuestionDef("pregnant", "yes_no", "Are you?", show_when="can_be_pregnant = yes"),
            ),
        ),
        SectionDef(
            "vitals",
            "Vitals",
            questions=(
                QuestionDef("bp", "blood_pressure", "BP?", required=False),
                QuestionDef("bp_follow_up", "yes_no", "Dizzy?", show_when="bp_systolic > 180"),
                QuestionDef("adult_only", "yes_no", "Adult?", show_when="age >= 18"),
            ),
        ),
    )
)


def visible(answers):
    return set(work_out_visibility(QUESTIONNAIRE, answers, TODAY).questions)


def test_a_section_whose_condition_is_false_is_skipped():
    shown = visible({"sex_at_birth": "male"})
    assert "can_be_pregnant" not in shown and "pregnant" not in shown


def test_a_follow_up_is_shown_only_after_a_yes():
    assert "pregnant" not in visible({"sex_at_birth": "female", "can_be_pregnant": "no"})
    assert "pregnant" in visible({"sex_at_birth": "female", "can_be_pregnant": "yes"})


def test_an_unanswered_condition_keeps_its_follow_up_hidden():
    assert "pregnant" not in visible({"sex_at_birth": "female"})
    assert "bp_follow_up" not in visible({})


def test_a_stale_answer_to_a_hidden_question_is_ignored():
    result = work_out_visibility(
        QUESTIONNAIRE, {"sex_at_birth": "male", "can_be_pregnant": "yes", "pregnant": "yes"}, TODAY
    )
    assert "pregnant" not in result.answers
    assert "pregnant" not in result.values


def test_blood_pressure_is_seen_as_its_two_numbers():
    result = work_out_visibility(QUESTIONNAIRE, {"bp": {"systolic": 190, "diastolic": 95}}, TODAY)
    assert result.values["bp_systolic"] == 190 and result.values["bp_diastolic"] == 95
    assert "bp_follow_up" in result.questions


@pytest.mark.parametrize("born, age", [("2008-11-23", 18), ("2008-11-24", 17), ("1960-02-29", 66)])
def test_age_is_worked_out_from_the_date_of_birth(born, age):
    assert derived_values({"date_of_birth": born}, TODAY)["age"] == age


def test_bmi_is_worked_out_from_height_and_weight():
    assert derived_values({"height_cm": 170, "weight_kg": Decimal("115.6")}, TODAY)[
        "bmi"
    ] == Decimal("40.0")


def test_a_derived_value_can_drive_a_show_when():
    assert "adult_only" in visible({"date_of_birth": "1990-01-01"})
    assert "adult_only" not in visible({"date_of_birth": "2015-01-01"})


def test_show_when_may_only_name_earlier_questions():
    names = variable_types(QUESTIONNAIRE, before_question="pregnant")
    assert "can_be_pregnant" in names and "pregnant" not in names and "bp_systolic" not in names
    assert "age" in names


def test_a_section_intro_splits_at_its_list_marker_line():
    from screening.engine.questionnaire import split_intro

    assert split_intro("Top.\n\nMore top.\n---\nAbove the list.") == (
        "Top.\n\nMore top.",
        "Above the list.",
    )
    assert split_intro("No marker - and a dash.\n- a bullet") == (
        "No marker - and a dash.\n- a bullet",
        "",
    )
