"""Template helpers for staff pages."""

from collections.abc import Iterable
from datetime import timedelta

from django import template

from .. import presenters

register = template.Library()


@register.filter
def readable_classes(classes: Iterable[str]) -> str:
    """Formulary classes as words: cyp3a4_strong_inhibitor reads "CYP3A4 strong inhibitor"."""
    words = [
        name.replace("_", " ").replace("cyp", "CYP").replace("maoi", "MAOI").replace("nmda", "NMDA")
        for name in classes or []
        if name != "none"
    ]
    # A drug the formulary lists as class "none", and a generic the drug dictionary recognised
    # that the formulary does not list, both have no interaction the rules know of.
    return ", ".join(words) or "no known interaction with ketamine"


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
