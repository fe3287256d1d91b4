"""Template helpers for staff pages."""

from django import template
from django.utils.html import format_html

register = template.Library()

BADGES = {
    "urgent": ("text-bg-danger", "Urgent"),
    "contraindicated": ("text-bg-dark", "Contraindicated"),
    "caution": ("text-bg-warning", "Caution"),
    "info": ("text-bg-info", "Info"),
}


@register.filter
def readable_classes(classes) -> str:
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
    """A coloured badge for a severity; a filter rather than an include because the queue renders many."""
    css, label = BADGES.get(level, ("text-bg-light border", "Nothing flagged"))
    return format_html('<span class="badge {}">{}</span>', css, label)
