"""Each language's name as staff read it, in the clinic's language (English): "Spanish",
not "Español" (its own name, which the patient's language switcher shows)."""

from django.utils.translation import get_language_info

ENGLISH_NAMES = {"en-us": "US English", "en-gb": "UK English"}


def name_in_english(code: str) -> str:
    """A language's name for staff pages: "Spanish", "UK English", "US English"."""
    if not code:
        return ""
    code = code.lower()
    if code in ENGLISH_NAMES:
        return ENGLISH_NAMES[code]
    try:
        return get_language_info(code)["name"]
    except KeyError:
        return code
