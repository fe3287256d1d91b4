"""Height and weight in metric and US units: conversions, BMI, and the check for a mixed-up unit.

Answers are stored and used by rules in centimetres and kilograms whatever the patient
typed, so `bmi` means the same for both unit systems. No Django import: the forms, the
answers-file reader and the engine share these.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CM_PER_INCH = Decimal("2.54")  # exact, by definition of the inch
KG_PER_POUND = Decimal("0.45359237")  # exact, by definition of the pound
INCHES_PER_FOOT = 12

# A usual adult BMI (18.5 to 25) typed in pounds into the kilograms box reads 41 to 55: at
# or above this, a weight typed in kilograms is checked with the patient before it can
# raise "BMI 40 or more". The other way round, a weight in kilograms typed into the pounds
# box gives a BMI below 10; below this a weight typed in pounds is checked.
CHECK_KG_AT_OR_ABOVE_BMI = Decimal(40)
CHECK_POUNDS_BELOW_BMI = Decimal(15)

KG = "kg"
POUNDS = "lb"


def _round(value: Decimal, places: str = "0.1") -> Decimal:
    return value.quantize(Decimal(places), rounding=ROUND_HALF_UP)


def cm_from_feet_and_inches(feet: Decimal, inches: Decimal) -> Decimal:
    return _round((feet * INCHES_PER_FOOT + inches) * CM_PER_INCH)


def kg_from_pounds(pounds: Decimal) -> Decimal:
    return _round(pounds * KG_PER_POUND)


def pounds_from_kg(kg: Decimal) -> Decimal:
    return _round(kg / KG_PER_POUND, "1")


def feet_and_inches_from_cm(cm: Decimal) -> tuple[int, int]:
    total = int(_round(cm / CM_PER_INCH, "1"))
    return divmod(total, INCHES_PER_FOOT)


def bmi(cm: Decimal, kg: Decimal) -> Decimal:
    metres = cm / 100
    return _round(kg / (metres * metres))


def weight_needs_checking(*, cm: Decimal, kg: Decimal, typed_in: str) -> bool:
    """Whether this weight, with this height, looks like pounds and kilograms mixed up."""
    value = bmi(cm, kg)
    if typed_in == KG:
        return value >= CHECK_KG_AT_OR_ABOVE_BMI
    return value < CHECK_POUNDS_BELOW_BMI
