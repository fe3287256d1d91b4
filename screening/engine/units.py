"""Height and weight in metric and US units: conversions, BMI, and the check for a mixed-up unit;
a blood pressure typed as one reading.

Answers are stored and used by rules in centimetres and kilograms whatever the patient
typed, so `bmi` means the same for both unit systems. No Django import: the forms, the
answers-file reader and the engine share these.
"""

from __future__ import annotations

import re
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


# A whole reading typed in one box: "150/95", "150 / 95", "150 over 95", with or without
# "mmHg". A dash is left out on purpose: "120-130" is how people write a range.
_READING = re.compile(
    r"^\s*(?P<systolic>[0-9]{1,4})\s*(?:/|\bover\b)\s*(?P<diastolic>[0-9]{1,4})\s*(?:mm\s*hg)?\s*$",
    re.IGNORECASE | re.ASCII,
)
# Two numbers in a box in any other form ("150-95", "150 95"): told to use the two boxes.
# One digit each side is the same test as [0-9]+\D+[0-9]+ and takes linear time: that one
# backtracked quadratically, so a box of 100,000 digits held a worker for minutes.
_TWO_NUMBERS = re.compile(r"[0-9]\D+[0-9]", re.ASCII)


def split_blood_pressure(text: str) -> tuple[str, str] | None:
    """The top and bottom numbers of a whole reading typed as one ("150 over 95"), or None."""
    match = _READING.match(text)
    return (match["systolic"], match["diastolic"]) if match else None


def holds_two_numbers(text: str) -> bool:
    return bool(_TWO_NUMBERS.search(text))
