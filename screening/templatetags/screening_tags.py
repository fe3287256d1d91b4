"""Template helpers for staff pages."""

from collections.abc import Iterable

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
