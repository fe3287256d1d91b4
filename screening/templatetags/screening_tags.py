"""Template helpers: formulary classes and badges for staff pages; tap-to-call numbers."""

import re
from collections.abc import Iterable
from datetime import timedelta

from django import template
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe

from .. import presenters

register = template.Library()


@register.filter
def readable_classes(classes: Iterable[str], names: dict[str, str] | None = None) -> str:
    """Formulary classes as the formulary names them: cyp3a4_strong_inhibitor reads "Strong
    CYP3A4 inhibitors" (`names`, from selectors.drug_class_names). A class no longer in the
    formulary reads as its code in words, never re-cased ("cyp3a4 strong inhibitor")."""
    names = names or {}
    words = [names.get(code) or code.replace("_", " ") for code in classes or [] if code != "none"]
    # A drug the formulary lists as class "none", and a generic the drug dictionary recognised
    # that the formulary does not list, both have no interaction the rules know of.
    return "; ".join(words) or "no known interaction with ketamine"


@register.filter
def level_badge(level: str) -> str:
    """A coloured badge for a severity; a filter rather than an include: pages print many."""
    return presenters.level_badge(level)


@register.filter
def duration(value: timedelta | None) -> str:
    """A timedelta as "45 min", "2 h 5 min" or "3 days 4 h"; "" for None."""
    if value is None:
        return ""
    minutes = max(0, int(value.total_seconds() // 60))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} day{'s' if days != 1 else ''} {hours} h" if hours else f"{days} days"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


# A number someone is told to call or text: "call 911", "call or text 988", "ring 116 123",
# "call +1 (800) 273-8255", and in Spanish "llame al 911", "llame o envíe un mensaje de texto
# al 988". Only after such a verb, so no other number becomes a link.
_NUMBER_TO_CALL = re.compile(
    r"\b(?P<verb>(?:call|text|dial|ring|phone)(?:\s+or\s+(?:call|text))?\s+(?:us\s+)?(?:on\s+)?"
    r"|(?:llame|llamar|marque|marcar)(?:\s+o\s+(?:envíe|enviar)\s+un\s+mensaje\s+de\s+texto)?"
    r"\s+(?:al|a\s+el|el)\s+"
    r"|(?:envíe|enviar)\s+un\s+mensaje\s+de\s+texto\s+al\s+)"
    r"(?P<number>\+?[0-9](?:[0-9().-]|\s(?=[0-9(])){1,18}[0-9])\b",
    re.IGNORECASE,
)


@register.filter
def phone_links(text: object) -> str:
    """Text with every number it tells the reader to call or text made a tel: link, so a
    crisis line is one tap away on a phone. The text is escaped first (a message an admin
    wrote is text, never HTML); only the links are markup."""
    escaped = str(conditional_escape(text if isinstance(text, str) else str(text)))

    def link(found: re.Match) -> str:
        number = found["number"]
        digits = ("+" if number.startswith("+") else "") + re.sub(r"[^0-9]", "", number)
        return found["verb"] + format_html('<a href="tel:{}">{}</a>', digits, mark_safe(number))  # noqa: S308 (already escaped)

    return mark_safe(_NUMBER_TO_CALL.sub(link, escaped))  # noqa: S308 (escaped above)
