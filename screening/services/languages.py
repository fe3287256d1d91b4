"""Which language each person reads the app and its emails in (issue 17).

Patients choose (the switcher on every patient page, remembered on their account); staff
always read in the clinic's language (settings.LANGUAGE_CODE), whatever their browser says;
a visitor not signed in gets LocaleMiddleware's choice (the language cookie, then the
browser's Accept-Language).
"""

from django.conf import settings
from django.utils.translation import get_language_info

from ..models import User

# A language picked while signed out (on the login or invitation page), saved to the
# account when that visitor signs in (screening.accounts.middleware.LanguageMiddleware).
CHOSEN_SIGNED_OUT_SESSION_KEY = "language_chosen_signed_out"


def is_offered(language: object) -> bool:
    return isinstance(language, str) and language in dict(settings.LANGUAGES)


def is_staff(user: User) -> bool:
    return bool(user.is_staff or user.is_clinic_staff)


def language_for(user: User) -> str:
    """The language of the pages and emails `user` gets."""
    if is_staff(user) or not is_offered(user.preferred_language):
        return settings.LANGUAGE_CODE
    return user.preferred_language


def set_preferred_language(*, user: User, language: str) -> None:
    """Remember a patient's choice on their account. Staff have no choice to remember."""
    if not is_offered(language):
        raise ValueError(f"Not an offered language: {language!r}")
    if is_staff(user) or user.preferred_language == language:
        return
    user.preferred_language = language
    user.save(update_fields=["preferred_language"])


# Staff read each language's name in the clinic's language (English), not in its own
# ("Spanish", not "Español"): the answers were given in it, the staff member reads English.
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
