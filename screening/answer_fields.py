"""How each kind of question is typed, checked and stored: one form field per question kind.

Fields validate and normalise what people type into the JSON shape an answer is stored
in (`stored_value`); every error message says what to type, and a refused value is shown
back as typed. Shared by the intake's pages (screening/intake/forms.py) and by answers
given as JSON (screening/answers_json.py: the evaluate command, the test panel).
"""

import datetime
from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .engine.questionnaire import (
    BLOOD_PRESSURE,
    DATE,
    DECIMAL,
    HEIGHT,
    INTEGER,
    MEDICATION_LIST,
    MULTIPLE_CHOICE,
    PHONE,
    SCALE_ITEM,
    SHORT_TEXT,
    SINGLE_CHOICE,
    TEXT,
    WEIGHT,
    YES_NO,
    QuestionDef,
)
from .engine.rules import RECREATIONAL_LIST_CODES
from .engine.units import holds_two_numbers, split_blood_pressure
from .measurement_fields import field_for_measurement
from .presenters import plain_number

# Lazy: the labels are read in the language of the request that draws them.
YES_NO_CHOICES = [("yes", gettext_lazy("Yes")), ("no", gettext_lazy("No"))]


TEXT_MAX_LENGTH = 2000
SHORT_TEXT_MAX_LENGTH = 200
# A telephone number as people write it: digits with spaces, dashes, dots, brackets and a
# leading +; between 7 and 15 digits (15 is the longest international number, E.164).
PHONE_MAX_LENGTH = 30
PHONE_DIGITS = (7, 15)
PHONE_CHARACTERS = "0123456789 +-()."
# The same rule as one regular expression matching the whole answer, for systems that check
# answers themselves (the FHIR export's regex extension): a leading + at most, then 7 to 15
# digits among spaces, dashes, dots and brackets. No anchors and no (?:...), which XML
# Schema's regular expressions lack. tests/fhir/test_export.py checks they agree.
PHONE_PATTERN = r"\+?[\- ().]*([0-9][\- ().]*){7,15}"


MEDICATION_FIELD_MAX_LENGTH = 200


MEDICATION_MAX_ROWS = 60


BLANK_MEDICATION_ROWS = 3


# Plausible resting blood pressure, mmHg: outside this a typo is far likelier than a reading.
SYSTOLIC_RANGE = (60, 260)


DIASTOLIC_RANGE = (30, 160)


EARLIEST_DATE = datetime.date(1900, 1, 1)


def _aria_context(context: dict) -> dict:
    """aria-invalid and aria-describedby, which Django puts in attrs, as names a template can
    read (the widgets' markup is shared with the wizard's lean templates)."""
    attrs = context["widget"]["attrs"]
    context["widget"]["invalid"] = attrs.get("aria-invalid") == "true"
    context["widget"]["describedby"] = attrs.get("aria-describedby", "")
    return context


class BloodPressureWidget(forms.Widget):
    template_name = "widgets/blood_pressure.html"

    def get_context(self, name, value, attrs):
        return _aria_context(super().get_context(name, value, attrs))

    def value_from_datadict(self, data, files, name):
        return {
            "systolic": data.get(f"{name}_systolic", ""),
            "diastolic": data.get(f"{name}_diastolic", ""),
        }

    def value_omitted_from_data(self, data, files, name):
        return f"{name}_systolic" not in data and f"{name}_diastolic" not in data

    def format_value(self, value):
        if isinstance(value, dict):
            return {
                key: "" if value.get(key) is None else value.get(key)
                for key in ("systolic", "diastolic")
            }
        return {"systolic": "", "diastolic": ""}

    def id_for_label(self, id_):
        return f"{id_}_systolic" if id_ else id_


class BloodPressureField(forms.Field):
    """Two whole numbers, top over bottom, each within a plausible range."""

    widget = BloodPressureWidget

    def clean(self, value):
        value = value or {}
        systolic_text = str(value.get("systolic", "")).strip()
        diastolic_text = str(value.get("diastolic", "")).strip()
        systolic_text, diastolic_text = _one_reading_in_one_box(systolic_text, diastolic_text)
        if not systolic_text and not diastolic_text:
            if self.required:
                raise ValidationError(
                    _("Enter both numbers of your blood pressure, for example 120 and 80.")
                )
            return None
        if not systolic_text or not diastolic_text:
            raise ValidationError(
                _(
                    "Enter both numbers of your blood pressure (top and bottom), or leave "
                    "both empty."
                )
            )
        systolic = _whole_number(systolic_text)
        diastolic = _whole_number(diastolic_text)
        low, high = SYSTOLIC_RANGE
        d_low, d_high = DIASTOLIC_RANGE
        errors = []
        if systolic is None or not low <= systolic <= high:
            errors.append(
                _("The top number (systolic) must be a whole number between %(low)s and %(high)s.")
                % {"low": low, "high": high}
            )
        if diastolic is None or not d_low <= diastolic <= d_high:
            errors.append(
                _(
                    "The bottom number (diastolic) must be a whole number between %(low)s "
                    "and %(high)s."
                )
                % {"low": d_low, "high": d_high}
            )
        if not errors and diastolic >= systolic:
            errors.append(
                _("The top number (systolic) should be higher than the bottom number (diastolic).")
            )
        if errors:
            raise ValidationError(errors)
        return {"systolic": systolic, "diastolic": diastolic}


def _one_reading_in_one_box(systolic: str, diastolic: str) -> tuple[str, str]:
    """A whole reading typed in one box ("150 over 95", "150/95") as its two numbers, when
    the other box is empty or repeats its own number; two numbers in any other form, or
    beside a different number in the other box, are refused with how to type them."""
    for typed, other, own_index in ((systolic, diastolic, 1), (diastolic, systolic, 0)):
        reading = split_blood_pressure(typed)
        if reading and other in ("", reading[own_index]):
            return reading
        if reading or holds_two_numbers(typed):
            raise ValidationError(
                _(
                    "Put the top number in the first box and the bottom number in the second,"
                    " for example 120 and 80."
                )
            )
    return systolic, diastolic


def _whole_number(text: str) -> int | None:
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 4:
        return None
    return int(text)


class MedicationListWidget(forms.Widget):
    """Rows of name, dose and how often; works without JavaScript (blank rows are offered)."""

    template_name = "widgets/medication_list.html"
    extra_rows = BLANK_MEDICATION_ROWS

    def value_from_datadict(self, data, files, name):
        try:
            count = int(data.get(f"{name}-rows", "0"))
        except ValueError:
            count = 0
        count = max(0, min(count, MEDICATION_MAX_ROWS + 10))
        rows = [
            {
                "name": data.get(f"{name}-{index}-name", ""),
                "dose": data.get(f"{name}-{index}-dose", ""),
                "frequency": data.get(f"{name}-{index}-frequency", ""),
            }
            for index in range(count)
        ]
        return {"rows": rows, "none": data.get(f"{name}-none") in ("on", "true", "1", "yes")}

    def value_omitted_from_data(self, data, files, name):
        return f"{name}-rows" not in data

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        value = value if isinstance(value, dict) else {}
        rows = medication_rows(value, self.extra_rows)
        context["widget"]["rows"] = rows
        context["widget"]["row_count"] = len(rows)
        context["widget"]["none"] = bool(value.get("none"))
        context["widget"]["street_drugs"] = name in RECREATIONAL_LIST_CODES
        return _aria_context(context)

    def format_value(self, value):
        return value

    def id_for_label(self, id_):
        return f"{id_}-0-name" if id_ else id_


def medication_rows(value: dict, extra_rows: int) -> list[dict]:
    """The rows a medication list shows: those with anything typed, then `extra_rows` blank."""
    rows = [row for row in value.get("rows", []) if any(str(v).strip() for v in row.values())]
    return rows + [{"name": "", "dose": "", "frequency": ""} for _ in range(extra_rows)]


class MedicationListField(forms.Field):
    widget = MedicationListWidget

    def clean(self, value):
        value = value or {}
        rows = []
        errors = []
        for number, row in enumerate(value.get("rows", []), start=1):
            name = str(row.get("name", "")).strip()
            dose = str(row.get("dose", "")).strip()
            frequency = str(row.get("frequency", "")).strip()
            if not (name or dose or frequency):
                continue
            if "\x00" in name + dose + frequency:
                errors.append(
                    _("Row %(number)s: remove the invisible control character.")
                    % {"number": number}
                )
                continue
            if not name:
                errors.append(
                    _("Row %(number)s: add the name of the medicine or substance.")
                    % {"number": number}
                )
            if max(len(name), len(dose), len(frequency)) > MEDICATION_FIELD_MAX_LENGTH:
                errors.append(
                    _("Row %(number)s: please keep each box under %(limit)s characters.")
                    % {"number": number, "limit": MEDICATION_FIELD_MAX_LENGTH}
                )
            rows.append({"name": name, "dose": dose, "frequency": frequency})
        if len(rows) > MEDICATION_MAX_ROWS:
            errors.append(
                _("Please list at most %(limit)s items; add the rest in a note to the clinic.")
                % {"limit": MEDICATION_MAX_ROWS}
            )
        none = bool(value.get("none"))
        if none and rows:
            errors.append(
                _(
                    "You checked that you take none, but also listed some. Uncheck the box or "
                    "clear the rows."
                )
            )
        if errors:
            raise ValidationError(errors)
        if not rows and not none and self.required:
            raise ValidationError(
                _("List what you take, one per row, or check the box if you take none.")
            )
        return {"rows": rows, "none": none}


class ExclusiveMultipleChoiceField(forms.MultipleChoiceField):
    """Checkboxes where a "None of these" choice cannot be combined with the others."""

    def __init__(self, *, exclusive_values: set[str], **kwargs) -> None:
        self.exclusive_values = exclusive_values
        super().__init__(**kwargs)

    def clean(self, value):
        chosen = super().clean(value)
        if len(chosen) > 1 and self.exclusive_values & set(chosen):
            label = dict(self.choices).get(next(iter(self.exclusive_values & set(chosen))))
            raise ValidationError(
                _("“%(label)s” can't be checked together with other answers.") % {"label": label}
            )
        return chosen


def field_for(question: QuestionDef) -> forms.Field:
    """The form field that asks one question."""
    common = {
        "label": f"{question.text} ({question.unit})" if question.unit else question.text,
        # crispy renders help text unescaped; admin-written text must stay inert.
        "help_text": escape(question.help_text),
        "required": question.required,
    }
    kind = question.kind
    required_message = _("Please answer this question.")
    if kind == YES_NO:
        field = forms.ChoiceField(choices=YES_NO_CHOICES, widget=forms.RadioSelect, **common)
    elif kind in (SINGLE_CHOICE, SCALE_ITEM):
        field = forms.ChoiceField(
            choices=[(c.value, c.label) for c in question.choices],
            widget=forms.RadioSelect,
            **common,
        )
    elif kind == MULTIPLE_CHOICE:
        field = ExclusiveMultipleChoiceField(
            choices=[(c.value, c.label) for c in question.choices],
            exclusive_values={c.value for c in question.choices if c.exclusive},
            widget=forms.CheckboxSelectMultiple,
            **common,
        )
        # Name the choice that means "none" only where the question has one.
        none = next((c.label for c in question.choices if c.exclusive), "")
        required_message = (
            _("Please check at least one answer (or “%(none)s”).") % {"none": none}
            if none
            else _("Please check at least one answer.")
        )
    elif kind == INTEGER:
        field = forms.IntegerField(widget=forms.TextInput(attrs={"inputmode": "numeric"}), **common)
        _add_range(field, question, whole=True)
    elif kind == DECIMAL:
        field = forms.DecimalField(
            max_digits=10,
            decimal_places=2,
            widget=forms.TextInput(attrs={"inputmode": "decimal"}),
            **common,
        )
        _add_range(field, question, whole=False)
    elif kind == DATE:
        field = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), **common)
        field.validators.append(_date_in_the_past)
        field.error_messages["invalid"] = _("Enter a date like 1985-04-23 (year, month, day).")
    elif kind == BLOOD_PRESSURE:
        field = BloodPressureField(**common)
    elif kind == MEDICATION_LIST:
        field = MedicationListField(**common)
    elif kind in (HEIGHT, WEIGHT):
        field = field_for_measurement(question, **common)
    elif kind == TEXT:
        field = forms.CharField(
            max_length=TEXT_MAX_LENGTH, widget=forms.Textarea(attrs={"rows": 3}), **common
        )
    elif kind == SHORT_TEXT:
        field = forms.CharField(
            max_length=SHORT_TEXT_MAX_LENGTH,
            widget=forms.TextInput(attrs={"autocomplete": "off"}),
            **common,
        )
        field.error_messages["max_length"] = _("Please keep this under %(limit)s characters.") % {
            "limit": SHORT_TEXT_MAX_LENGTH
        }
    elif kind == PHONE:
        field = forms.CharField(
            max_length=PHONE_MAX_LENGTH,
            widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
            **common,
        )
        field.validators.append(_phone_number)
        field.error_messages["max_length"] = _phone_message()
    else:  # pragma: no cover - kinds are a closed list checked on load
        raise ValueError(f"Unknown question kind {kind!r}")
    field.error_messages["required"] = required_message
    field.question = question
    return field


def _add_range(field: forms.Field, question: QuestionDef, *, whole: bool) -> None:
    low, high = question.min_value, question.max_value
    # The unit is the question's own (content, in the page's language): " cm", or nothing.
    values = {
        "low": _plain(low) if low is not None else "",
        "high": _plain(high) if high is not None else "",
        "unit": f" {question.unit}" if question.unit else "",
    }
    if low is not None and high is not None:
        message = (
            _("Enter a whole number between %(low)s and %(high)s%(unit)s.")
            if whole
            else _("Enter a number between %(low)s and %(high)s%(unit)s.")
        )
    elif low is not None:
        message = (
            _("Enter a whole number of at least %(low)s%(unit)s.")
            if whole
            else _("Enter a number of at least %(low)s%(unit)s.")
        )
    elif high is not None:
        message = (
            _("Enter a whole number of at most %(high)s%(unit)s.")
            if whole
            else _("Enter a number of at most %(high)s%(unit)s.")
        )
    else:
        message = _("Enter a whole number.") if whole else _("Enter a number.")
    message = message % values
    field.error_messages["invalid"] = message
    field.error_messages["max_digits"] = message
    field.error_messages["max_decimal_places"] = _(
        "Use at most two decimal places. %(message)s"
    ) % {"message": message}

    def check_range(value) -> None:
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValidationError(message)

    field.validators.append(check_range)


def _plain(number: Decimal) -> str:
    return f"{number.normalize():f}"


def _phone_message() -> str:
    return _(
        "Enter a phone number of %(low)s to %(high)s digits, for example "
        "555 201 4477 or +44 20 7946 0000."
    ) % {"low": PHONE_DIGITS[0], "high": PHONE_DIGITS[1]}


def _phone_number(value: str) -> None:
    digits = sum(character in PHONE_CHARACTERS[:10] for character in value)
    low, high = PHONE_DIGITS
    if set(value) - set(PHONE_CHARACTERS) or "+" in value[1:] or not low <= digits <= high:
        raise ValidationError(_phone_message())


def _date_in_the_past(value: datetime.date) -> None:
    if value > timezone.localdate():
        raise ValidationError(_("This date is in the future. Please check the year."))
    if value < EARLIEST_DATE:
        raise ValidationError(_("Please check the year: dates before 1900 are not accepted."))


def stored_value(question: QuestionDef, cleaned):
    if cleaned in (None, "", []):
        return None
    if question.kind == DATE:
        return cleaned.isoformat()
    if question.kind == DECIMAL:
        return float(cleaned)
    if question.kind == MULTIPLE_CHOICE:
        return list(cleaned)
    return cleaned


def initial_value(question: QuestionDef, stored):
    """What a form shows for a stored answer (the inverse of stored_value)."""
    if stored is None:
        return None
    if question.kind == DATE:
        try:
            return datetime.date.fromisoformat(stored)
        except (TypeError, ValueError):
            return None
    if question.kind == DECIMAL:
        return plain_number(stored)
    return stored
