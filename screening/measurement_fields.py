"""Height and weight boxes in metric or US units, and the check for a mixed-up weight unit.

A height is typed in centimeters or in feet and inches, a weight in kilograms or pounds;
both are stored in cm and kg with what was typed beside them (engine/units.py), so rules
and `bmi` never see pounds. The widgets are plain inputs (no JavaScript): a refused value
comes back as typed with its message beside the boxes.

A weight typed in pounds into the kilograms box passes every range check (180 is a
possible weight in either unit) but would raise a false "BMI 40 or more". So a section
form that asks for a height and a weight checks them together: when the BMI they give is
the kind a mixed-up unit makes, the page comes back asking the patient to move the number
to the other box or to check "Yes, I weigh 120 kg".
"""

from __future__ import annotations

import re
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from .engine.questionnaire import HEIGHT, WEIGHT, QuestionDef
from .engine.units import (
    KG,
    POUNDS,
    cm_from_feet_and_inches,
    feet_and_inches_from_cm,
    kg_from_pounds,
    pounds_from_kg,
    weight_needs_checking,
)

FEET_RANGE = (3, 8)
INCHES_BELOW = 12
MAX_TYPED_LENGTH = 12
PLAIN_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?", re.ASCII)


def plain(number: Decimal) -> str:
    """170.0 reads as 170 and 70.50 as 70.5."""
    return f"{number.normalize():f}"


def _number(text: str) -> Decimal | None:
    """A number as people type it ("70", "70.5", "70,5"), or None for anything else."""
    text = text.strip().replace(",", ".")
    if len(text) > MAX_TYPED_LENGTH or not PLAIN_NUMBER.fullmatch(text):
        return None
    return Decimal(text)


def _as_json_number(number: Decimal) -> int | float:
    return int(number) if number == number.to_integral_value() else float(number)


class MeasurementWidget(forms.Widget):
    """Boxes for one measurement in two unit systems; `parts` name the boxes after the first."""

    parts: tuple[str, ...] = ()
    stored_keys: dict[str, str] = {}

    def value_from_datadict(self, data, files, name):
        value = {part: str(data.get(self._input_name(name, part), "")) for part in self.parts}
        return value

    def value_omitted_from_data(self, data, files, name) -> bool:
        return not any(self._input_name(name, part) in data for part in self.parts)

    def _input_name(self, name: str, part: str) -> str:
        # The first box carries the question's own name, so a plain post of "height_cm=168"
        # (older clients, the answers file) still means centimetres.
        return name if part == self.parts[0] else f"{name}_{part}"

    def format_value(self, value):
        """What the boxes show: the posted text, or a stored answer in the unit it was typed in."""
        if not isinstance(value, dict):
            return dict.fromkeys(self.parts, "")
        if all(isinstance(value.get(part, ""), str) for part in self.parts):
            return {part: value.get(part, "") for part in self.parts}
        shown = dict.fromkeys(self.parts, "")
        typed_us = any(value.get(key) is not None for key in self.stored_keys.values())
        for part, key in self.stored_keys.items():
            if typed_us and value.get(key) is not None:
                shown[part] = plain(Decimal(str(value[key])))
        if not typed_us and value.get(self.parts[0]) is not None:
            shown[self.parts[0]] = plain(Decimal(str(value[self.parts[0]])))
        return shown

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        widget = context["widget"]
        widget["inputs"] = {part: self._input_name(name, part) for part in self.parts}
        # A refused answer marks the boxes that hold it (all of them when all are empty),
        # not the empty boxes of the other unit that the message suggests using.
        attrs = widget["attrs"]
        refused = attrs.get("aria-invalid") in ("true", True) or "is-invalid" in str(
            attrs.get("class", "")
        )
        boxes = [part for part in self.parts if part != "confirm"]
        filled = [part for part in boxes if str(widget["value"].get(part, "")).strip()]
        widget["invalid"] = {part: refused and (part in filled or not filled) for part in boxes}
        return context

    def id_for_label(self, id_):
        return f"{id_}_{self.parts[0]}" if id_ else id_


class HeightWidget(MeasurementWidget):
    template_name = "widgets/height.html"
    parts = ("cm", "feet", "inches")
    stored_keys = {"feet": "feet", "inches": "inches"}


class WeightWidget(MeasurementWidget):
    template_name = "widgets/weight.html"
    parts = ("kg", "lb", "confirm")
    stored_keys = {"lb": "pounds"}
    # Set by the section form when the weight and height together look like a mixed-up
    # unit: the page then offers the "Yes, I weigh ..." box.
    ask_to_confirm = False

    def format_value(self, value):
        shown = super().format_value(value)
        if isinstance(value, dict) and value.get("confirmed") and not shown["confirm"]:
            # A stored, confirmed answer: the box comes back ticked for the same number.
            shown["confirm"] = shown["lb"] or shown["kg"]
        return shown

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        shown = context["widget"]["value"]
        typed, unit = (shown["lb"], "lb") if shown["lb"].strip() else (shown["kg"], "kg")
        typed = typed.strip()
        confirmed = bool(typed) and shown["confirm"].strip() == typed
        context["widget"]["confirm"] = {
            "show": bool(typed) and (self.ask_to_confirm or confirmed),
            "checked": confirmed,
            "value": typed,
            "label": _("Yes, I weigh %(weight)s %(unit)s") % {"weight": typed, "unit": unit},
        }
        return context


class HeightField(forms.Field):
    """Centimeters, or feet and inches; cleaned to {"cm": ...} plus the feet and inches typed."""

    widget = HeightWidget

    def __init__(self, *, question: QuestionDef, **kwargs) -> None:
        super().__init__(**kwargs)
        self.low = question.min_value
        self.high = question.max_value

    def _range_message(self) -> str:
        if self.low is None or self.high is None:
            return _("Enter your height in centimeters, or in feet and inches.")
        low_ft, low_in = feet_and_inches_from_cm(self.low)
        high_ft, high_in = feet_and_inches_from_cm(self.high)
        return _(
            "Enter a height between %(low)s and %(high)s cm, or between %(low_ft)s ft "
            "%(low_in)s in and %(high_ft)s ft %(high_in)s in."
        ) % {
            "low": plain(self.low),
            "high": plain(self.high),
            "low_ft": low_ft,
            "low_in": low_in,
            "high_ft": high_ft,
            "high_in": high_in,
        }

    def clean(self, value):
        value = value if isinstance(value, dict) else {}
        cm_text = str(value.get("cm", "")).strip()
        feet_text = str(value.get("feet", "")).strip()
        inches_text = str(value.get("inches", "")).strip()
        if not (cm_text or feet_text or inches_text):
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return None
        if cm_text and (feet_text or inches_text):
            raise ValidationError(
                _("Fill in centimeters, or feet and inches, but not both."), code="both"
            )
        if cm_text:
            cm = _number(cm_text)
            if cm is None:
                raise ValidationError(
                    _("Enter your height in centimeters as a number, for example 168."),
                    code="invalid",
                )
            if (self.low is None or cm < self.low) and Decimal(2) <= cm <= Decimal(9):
                raise ValidationError(
                    _(
                        "%(typed)s cm looks like feet. Put your height in the boxes for feet "
                        "and inches instead, for example 5 feet 7 inches."
                    )
                    % {"typed": cm_text},
                    code="looks_like_feet",
                )
            self._check_range(cm)
            return {"cm": _as_json_number(cm.quantize(Decimal("0.1")))}
        feet = _number(feet_text or "0")
        inches = _number(inches_text or "0")
        low_ft, high_ft = FEET_RANGE
        if (
            feet is None
            or inches is None
            or feet != feet.to_integral_value()
            or not low_ft <= feet <= high_ft
            or inches >= INCHES_BELOW
        ):
            raise ValidationError(
                _(
                    "Enter feet as a whole number from %(low)s to %(high)s, and inches "
                    "from 0 to %(inches)s. For example, 5 feet 7 inches."
                )
                % {"low": low_ft, "high": high_ft, "inches": INCHES_BELOW - 1},
                code="invalid_feet_inches",
            )
        cm = cm_from_feet_and_inches(feet, inches)
        self._check_range(cm)
        return {
            "cm": _as_json_number(cm),
            "feet": int(feet),
            "inches": _as_json_number(inches),
        }

    def _check_range(self, cm: Decimal) -> None:
        if (self.low is not None and cm < self.low) or (self.high is not None and cm > self.high):
            raise ValidationError(self._range_message(), code="range")


class WeightField(forms.Field):
    """Kilograms or pounds; cleaned to {"kg": ...} plus the pounds typed and the confirmation."""

    widget = WeightWidget

    def __init__(self, *, question: QuestionDef, **kwargs) -> None:
        super().__init__(**kwargs)
        self.low = question.min_value
        self.high = question.max_value

    def clean(self, value):
        value = value if isinstance(value, dict) else {}
        kg_text = str(value.get("kg", "")).strip()
        lb_text = str(value.get("lb", "")).strip()
        confirm = str(value.get("confirm", "")).strip()
        if not (kg_text or lb_text):
            if self.required:
                raise ValidationError(self.error_messages["required"], code="required")
            return None
        if kg_text and lb_text:
            raise ValidationError(_("Fill in kilograms or pounds, but not both."), code="both")
        typed_text, unit = (kg_text, KG) if kg_text else (lb_text, POUNDS)
        typed = _number(typed_text)
        if typed is None:
            raise ValidationError(
                _("Enter your weight in kilograms as a number, for example 70.")
                if unit == KG
                else _("Enter your weight in pounds as a number, for example 154."),
                code="invalid",
            )
        kg = typed.quantize(Decimal("0.1")) if unit == KG else kg_from_pounds(typed)
        if (self.low is not None and kg < self.low) or (self.high is not None and kg > self.high):
            raise ValidationError(self._range_message(unit), code="range")
        cleaned: dict[str, object] = {"kg": _as_json_number(kg)}
        if unit == POUNDS:
            cleaned["pounds"] = _as_json_number(typed)
        if confirm and confirm == typed_text:
            cleaned["confirmed"] = True
        return cleaned

    def _range_message(self, unit: str) -> str:
        if self.low is None or self.high is None:
            return _("Enter your weight in kilograms or in pounds.")
        # The whole pounds that convert into the range, so the message never names a
        # number it would refuse.
        low_lb = pounds_from_kg(self.low) - 1
        while kg_from_pounds(low_lb) < self.low:
            low_lb += 1
        high_lb = pounds_from_kg(self.high) + 1
        while kg_from_pounds(high_lb) > self.high:
            high_lb -= 1
        if unit == KG:
            return _(
                "Enter a weight between %(low)s and %(high)s kg. "
                "If you know your weight in pounds, use the pounds box instead."
            ) % {"low": plain(self.low), "high": plain(self.high)}
        return _(
            "Enter a weight between %(low)s and %(high)s lb. "
            "If you know your weight in kilograms, use the kilograms box instead."
        ) % {"low": plain(low_lb), "high": plain(high_lb)}


def field_for_measurement(question: QuestionDef, **common) -> forms.Field:
    if question.kind == HEIGHT:
        return HeightField(question=question, **common)
    return WeightField(question=question, **common)


def weight_check_message(weight: dict) -> str:
    """What the patient reads when a weight and a height look like a mixed-up unit."""
    if "pounds" in weight:
        typed = plain(Decimal(str(weight["pounds"])))
        return _(
            "Please check your weight. %(pounds)s lb is only %(kg)s kg, which is very light "
            "for your height. If you weighed yourself in kilograms, put the number in the "
            "kilograms box instead. If %(pounds)s lb is right, check the box above to say so."
        ) % {"pounds": typed, "kg": plain(Decimal(str(weight["kg"])))}
    kg = Decimal(str(weight["kg"]))
    return _(
        "Please check your weight. %(kg)s kg is about %(pounds)s lb. If you weighed yourself "
        "in pounds, put the number in the pounds box instead. If %(kg)s kg is right, check "
        "the box above to say so."
    ) % {"kg": plain(kg), "pounds": plain(pounds_from_kg(kg))}


def looks_mixed_up(height: object, weight: object) -> bool:
    """Whether a cleaned height and weight give the BMI that a mixed-up unit gives."""
    if not isinstance(height, dict) or not isinstance(weight, dict):
        return False
    return weight_needs_checking(
        cm=Decimal(str(height["cm"])),
        kg=Decimal(str(weight["kg"])),
        typed_in=POUNDS if "pounds" in weight else KG,
    )


def weight_to_check(height: object, weight: object) -> bool:
    """Whether the patient still has to move or confirm the weight."""
    confirmed = isinstance(weight, dict) and weight.get("confirmed")
    return not confirmed and looks_mixed_up(height, weight)


def check_weight_against_height(form: forms.Form) -> None:
    """On a page asking for both, refuse a weight that looks typed in the other unit until
    the patient moves it or confirms it (the message goes beside the weight boxes)."""
    heights = [
        n
        for n, f in form.fields.items()
        if getattr(f, "question", None) and f.question.kind == HEIGHT
    ]
    weights = [
        n
        for n, f in form.fields.items()
        if getattr(f, "question", None) and f.question.kind == WEIGHT
    ]
    if not heights or not weights:
        return
    height = form.cleaned_data.get(heights[0])
    for name in weights:
        weight = form.cleaned_data.get(name)
        if weight_to_check(height, weight):
            form.fields[name].widget.ask_to_confirm = True
            form.add_error(name, ValidationError(weight_check_message(weight), code="check"))
        elif (
            isinstance(weight, dict)
            and weight.get("confirmed")
            and height is not None
            and not looks_mixed_up(height, weight)
        ):
            # Ticked for a weight that needs no confirming (the height changed, say):
            # nothing to record.
            del weight["confirmed"]
