"""What a patient reads on the confirmation page when an urgent flag is raised.

Each urgent rule names its own patient message (crisis lines for suicide risk; contact the
clinic or emergency services for a blood pressure in the crisis range), so the page shows
the messages of the urgent flags actually raised. A message may use two placeholders,
filled in from the settings when shown: {crisis_resources} (the clinic's crisis lines,
CRISIS_RESOURCES_TEXT) and {clinic_name}.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable

from django.utils.translation import gettext_lazy

from .engine.severity import Severity

PLACEHOLDERS = ("crisis_resources", "clinic_name")

# What every urgent flag showed before rules had their own message; flags stored then have
# none, so their confirmation page keeps showing this (in the page's language).
EARLIER_URGENT_MESSAGE = gettext_lazy(
    "Some of your answers tell us you may be going through a very hard time. A physician at "
    "{clinic_name} has been told and will contact you as soon as possible. {crisis_resources}"
)


def placeholder_problems(text: str) -> list[str]:
    """Why a patient message cannot be shown as written (unknown or broken placeholders)."""
    try:
        fields = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError:
        return [
            "A curly bracket is not closed. Use {crisis_resources} or {clinic_name}, "
            "or no curly brackets at all."
        ]
    unknown = sorted({name for name in fields if name not in PLACEHOLDERS})
    if unknown:
        return [
            f"Unknown placeholder {{{unknown[0]}}}: use {{crisis_resources}} or {{clinic_name}}."
        ]
    return []


def render_patient_message(text: str, *, clinic_name: str, crisis_resources: str) -> str:
    """The message with its placeholders filled in; an unknown one is left as typed."""
    values = {"clinic_name": clinic_name, "crisis_resources": crisis_resources}
    return re.sub(
        r"\{(\w+)\}", lambda found: values.get(found.group(1), found.group(0)), str(text)
    ).strip()


def urgent_messages(
    flags: Iterable[tuple[str, str]], *, clinic_name: str, crisis_resources: str
) -> list[str]:
    """The messages of the urgent flags among (severity, patient_message) pairs, each once."""
    shown: list[str] = []
    for severity, message in flags:
        if severity != Severity.URGENT:
            continue
        text = render_patient_message(
            message or str(EARLIER_URGENT_MESSAGE),
            clinic_name=clinic_name,
            crisis_resources=crisis_resources,
        )
        if text not in shown:
            shown.append(text)
    return shown
