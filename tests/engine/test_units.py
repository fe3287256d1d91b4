"""Height and weight in metric and US units: what the engine stores, sees and works out as BMI."""

import datetime
import time
from decimal import Decimal

import pytest

from screening.engine.questionnaire import (
    HEIGHT,
    WEIGHT,
    QuestionDef,
    QuestionnaireDef,
    SectionDef,
    expression_values_of,
    is_answered,
    work_out_visibility,
)
from screening.engine.units import (
    KG,
    POUNDS,
    bmi,
    cm_from_feet_and_inches,
    feet_and_inches_from_cm,
    holds_two_numbers,
    kg_from_pounds,
    pounds_from_kg,
    split_blood_pressure,
    weight_needs_checking,
)

TODAY = datetime.date(2026, 11, 23)
HEIGHT_Q = QuestionDef(code="height_cm", kind=HEIGHT, text="How tall are you?")
WEIGHT_Q = QuestionDef(code="weight_kg", kind=WEIGHT, text="How much do you weigh?")
ABOUT_YOU = QuestionnaireDef(
    (SectionDef("about_you", "About you", questions=(HEIGHT_Q, WEIGHT_Q)),)
)


@pytest.mark.parametrize(
    ("feet", "inches", "cm"),
    [(5, 0, "152.4"), (5, 7, "170.2"), (6, 0, "182.9"), (5, Decimal("7.5"), "171.5")],
)
def test_feet_and_inches_become_centimetres(feet, inches, cm):
    assert cm_from_feet_and_inches(Decimal(feet), Decimal(inches)) == Decimal(cm)


@pytest.mark.parametrize(("pounds", "kg"), [(154, "69.9"), (180, "81.6"), (256, "116.1")])
def test_pounds_become_kilograms_and_back(pounds, kg):
    assert kg_from_pounds(Decimal(pounds)) == Decimal(kg)
    assert pounds_from_kg(Decimal(kg)) == pounds


def test_centimetres_read_back_as_feet_and_inches():
    assert feet_and_inches_from_cm(Decimal("170.2")) == (5, 7)


@pytest.mark.parametrize(
    ("feet", "inches", "pounds"),
    [
        (feet, inches, pounds)
        for feet in (5, 6)
        for inches in (0, 4, 11)
        for pounds in (110, 180, 300)
    ],
)
def test_bmi_from_us_units_matches_the_us_formula(feet, inches, pounds):
    """BMI = 703 x lb / in^2 (the US form of kg / m^2), within the rounding to 0.1."""
    total_inches = feet * 12 + inches
    expected = Decimal(703.0696) * pounds / (total_inches * total_inches)
    stored = bmi(
        cm_from_feet_and_inches(Decimal(feet), Decimal(inches)), kg_from_pounds(Decimal(pounds))
    )
    assert abs(stored - expected) <= Decimal("0.15")


@pytest.mark.parametrize(
    ("cm", "kg", "typed_in", "check"),
    [
        # 180 lb typed into the kilograms box at 170 cm: BMI 62.3 -> ask
        ("170", "180", KG, True),
        # 115.6 kg at 170 cm is BMI 40.0: a real weight can be this, but so can pounds -> ask
        ("170", "115.6", KG, True),
        ("170", "115.3", KG, False),
        # 80 kg typed into the pounds box (36.3 kg) at 170 cm: BMI 12.6 -> ask
        ("170", "36.3", POUNDS, True),
        ("170", "43.4", POUNDS, False),
        # a weight typed in pounds that gives BMI 40 or more is not a mix-up of units
        ("170", "130", POUNDS, False),
    ],
)
def test_a_weight_that_looks_typed_in_the_other_unit_is_checked(cm, kg, typed_in, check):
    assert weight_needs_checking(cm=Decimal(cm), kg=Decimal(kg), typed_in=typed_in) is check


def test_a_height_and_a_weight_in_us_units_are_seen_by_rules_in_cm_and_kg():
    height = {"cm": 170.2, "feet": 5, "inches": 7}
    weight = {"kg": 81.6, "pounds": 180}
    assert expression_values_of(HEIGHT_Q, height) == {"height_cm": Decimal("170.2")}
    assert expression_values_of(WEIGHT_Q, weight) == {"weight_kg": Decimal("81.6")}
    values = work_out_visibility(
        ABOUT_YOU, {"height_cm": height, "weight_kg": weight}, TODAY
    ).values
    assert values["bmi"] == Decimal("28.2")


def test_metric_and_us_answers_of_the_same_body_give_the_same_bmi():
    metric = {"height_cm": {"cm": 170.2}, "weight_kg": {"kg": 116.1}}
    us = {
        "height_cm": {"cm": 170.2, "feet": 5, "inches": 7},
        "weight_kg": {"kg": 116.1, "pounds": 256},
    }
    assert (
        work_out_visibility(ABOUT_YOU, metric, TODAY).values["bmi"]
        == work_out_visibility(ABOUT_YOU, us, TODAY).values["bmi"]
        == Decimal("40.1")
    )


@pytest.mark.parametrize(
    "stored",
    [None, {}, {"feet": 5}, {"cm": None}, {"cm": "tall"}, {"cm": True}, {"cm": 0}, 170, "170"],
)
def test_a_height_without_a_usable_cm_value_is_not_an_answer(stored):
    assert not is_answered(HEIGHT_Q, stored)
    assert expression_values_of(HEIGHT_Q, stored) == {}


@pytest.mark.parametrize(
    "typed, reading",
    [
        ("150/95", ("150", "95")),
        ("150 / 95", ("150", "95")),
        ("150 over 95", ("150", "95")),
        (" 150 Over 95 ", ("150", "95")),
        ("150/95 mmHg", ("150", "95")),
        ("120/80mmhg", ("120", "80")),
        # Not one unambiguous reading: a dash reads as a range; no separator; one number;
        # words; a decimal; digits other than 0-9.
        ("150-95", None),
        ("150 95", None),
        ("150", None),
        ("over 95", None),
        ("150/95/60", None),
        ("150.5/95", None),
        ("１５０/95", None),
        ("150 overs 95", None),
    ],
)
def test_a_blood_pressure_typed_as_one_reading_is_split_only_when_unambiguous(typed, reading):
    assert split_blood_pressure(typed) == reading


@pytest.mark.parametrize(
    ("typed", "two"),
    [("150-95", True), ("150 95", True), ("a1 b2", True), ("150", False), ("", False)],
)
def test_two_numbers_in_one_box_are_noticed(typed, two):
    assert holds_two_numbers(typed) is two


@pytest.mark.parametrize(
    "typed", ["1" * 20_000, "1" * 10_000 + " " * 10_000], ids=["digits", "digits-then-spaces"]
)
def test_a_huge_box_is_checked_for_two_numbers_at_once(typed):
    """A patient's 20,000 typed characters took over 20 seconds here (and 100,000 took
    minutes: a request any patient could send to hold a worker); now microseconds."""
    started = time.perf_counter()
    assert not holds_two_numbers(typed)
    assert time.perf_counter() - started < 1
