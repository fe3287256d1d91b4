"""Which language each person reads the app and its emails in (issue 17).

Patients choose (the switcher on every patient page, remembered on their account); staff
always read in the clinic's language (settings.LANGUAGE_CODE), whatever their browser says;
a visitor not signed in gets LocaleMiddleware's choice (the language cookie, then the
browser's Accept-Language).
"""

from django.conf import settings

from ..language_names import name_in_english  # noqa: F401 (re-exported)
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
