"""A reason staff must write (why a session is canceled, why a course ends, why a reading is
corrected): it must say something a person can read. Text that is empty once invisible and
formatting characters are taken away (zero-width spaces, controls, spaces of any kind) is
empty; the characters that override or isolate the direction of text (U+202A to U+202E,
U+2066 to U+2069) are refused, as they reorder the words after them on a staff page."""

import re
import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext

# Format (Cf), control (Cc) and separator (Zs, Zl, Zp) characters: none of them is read.
_UNREAD = {"Cf", "Cc", "Zs", "Zl", "Zp"}
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def is_blank(text: str) -> bool:
    """Whether the text holds nothing but invisible, formatting or space characters."""
    return all(unicodedata.category(character) in _UNREAD for character in text)


def check_reason(text: str, empty_message: str) -> str:
    """The reason as it is kept (stripped), or ValidationError with the message to show
    beside the box: `empty_message` when nothing readable is written."""
    if is_blank(text):
        raise ValidationError(empty_message, code="required")
    if BIDI_CONTROLS.search(text):
        raise ValidationError(
            gettext(
                "Remove the hidden characters that change the direction of the text, then "
                "send it again."
            ),
            code="bidi",
        )
    return text.strip()
