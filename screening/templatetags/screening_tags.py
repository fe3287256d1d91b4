"""Template helpers for staff pages."""

from django import template

from .. import presenters

register = template.Library()


@register.filter
def readable_classes(classes, names=None) -> str:
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
