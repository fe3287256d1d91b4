"""Reading JSON that people write: answer files for the `evaluate` command, the admin's JSON boxes.

Python's json module turns some inputs into crashes rather than errors: nesting deeper than
the interpreter's stack ("[[[[..." raises RecursionError), integers past Python's 4,300-digit
limit (ValueError), and it accepts NaN and Infinity, which no JSON standard allows. Here each
becomes JSONInputError, with a message a person can act on; so does text holding NUL, which
PostgreSQL cannot store in a JSON column, or a lone surrogate ("\\ud800", no second half),
which is not a character at all: nothing can encode it as UTF-8, so saving or showing it
was a 500.
"""

import json
import math
import re
from typing import Never

from django import forms
from django.core.exceptions import ValidationError
from django.forms.fields import InvalidJSONInput, JSONString

# Far beyond anything legitimate: answers nest three levels (medications -> row -> text), the
# admin's lists two.
MAX_NESTING = 20
MAX_NUMBER_LENGTH = 100
# Half of a UTF-16 pair: json.loads joins a whole pair ("\ud83d\ude00" is one emoji), so any
# code point left in this range stands alone.
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class JSONInputError(ValueError):
    """The text is not JSON this app will read; the message says why and where."""


def parse_json(text: str):
    """Parse `text` as JSON, or raise JSONInputError."""
    try:
        data = json.loads(
            text, parse_int=_integer, parse_float=_decimal_number, parse_constant=_constant
        )
    except json.JSONDecodeError as error:
        raise JSONInputError(
            f"Not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})."
        ) from error
    except RecursionError as error:
        # The C decoder counts its own recursion and raises cleanly before the stack runs out.
        raise JSONInputError(_too_deep()) from error
    _check_structure(data)
    return data


def _check_structure(data) -> None:
    """Refuse nesting past MAX_NESTING, and text no column can hold (NUL, lone surrogates)
    in any key or value. A loop, not recursion."""
    stack = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            stack.extend((key, depth) for key in value)
            value = list(value.values())
        if isinstance(value, list):
            if depth + 1 > MAX_NESTING:
                raise JSONInputError(_too_deep())
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str):
            _check_text(value)


def _check_text(text: str) -> None:
    if "\x00" in text:
        # PostgreSQL's jsonb cannot store it (a DataError), and no text here needs it.
        raise JSONInputError("A text value holds a NUL character (\\u0000), which is not allowed.")
    lone = LONE_SURROGATE.search(text)
    if lone:
        raise JSONInputError(
            f"A text value holds \\u{ord(lone.group()):04x}, half of a character without its "
            "other half (a lone surrogate). Write the character itself, or both halves of "
            "its escape (e.g. \\ud83d\\ude00)."
        )


def _too_deep() -> str:
    return f"Lists and objects are nested more than {MAX_NESTING} levels deep."


def _check_length(text: str) -> None:
    if len(text) > MAX_NUMBER_LENGTH:
        raise JSONInputError(
            f"A number is {len(text):,} characters long; numbers may have at most "
            f"{MAX_NUMBER_LENGTH}."
        )


def _integer(text: str) -> int:
    _check_length(text)
    return int(text)


def _decimal_number(text: str) -> float:
    _check_length(text)
    value = float(text)
    if not math.isfinite(value):
        raise JSONInputError(f"The number {text} is too large.")
    return value


def _constant(name: str) -> Never:
    raise JSONInputError(f"{name} is not a number JSON allows.")


class BoundedJSONField(forms.JSONField):
    """Django's JSON form field, reading with parse_json: any bad JSON is a form error beside
    the field (Django's own field raised RecursionError and ValueError, a 500)."""

    def to_python(self, value):
        if self.disabled:
            return value
        if value in self.empty_values or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, list | dict | int | float | JSONString):
            return value
        try:
            converted = parse_json(value)
        except JSONInputError as error:
            raise ValidationError(str(error), code="invalid") from error
        return JSONString(converted) if isinstance(converted, str) else converted

    def bound_data(self, data, initial):
        """What the box shows again after an error: the text as typed, when it cannot be read."""
        if self.disabled:
            return initial
        if data is None:
            return None
        try:
            return parse_json(data)
        except JSONInputError:
            return InvalidJSONInput(data)
