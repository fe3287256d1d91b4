"""Answers as people read them: shared by the patient's review page and the staff pages;
and the review queue's rows, ready to print."""

import datetime
from collections.abc import Iterable
from decimal import Decimal

from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.html import format_html
from django.utils.safestring import SafeString

from .engine.questionnaire import (
    BLOOD_PRESSURE,
    DATE,
    DECIMAL,
    HEIGHT,
    MEDICATION_LIST,
    MULTIPLE_CHOICE,
    SCALE_ITEM,
    SINGLE_CHOICE,
    WEIGHT,
    YES_NO,
    QuestionDef,
    Visibility,
)

NOT_ANSWERED = "Not answered"
# An optional list left empty, as its help asks of someone with nothing to list (the
# recreational drugs): an answer, not a gap.
NONE_LISTED = "None listed"


def display_answer(question: QuestionDef, stored) -> str | list[str]:
    """A readable answer; a medication list becomes one line per row."""
    empty = NONE_LISTED if question.kind == MEDICATION_LIST and not question.required else None
    if stored is None or stored == "" or stored == []:
        return empty or NOT_ANSWERED
    kind = question.kind
    if kind == YES_NO:
        return {"yes": "Yes", "no": "No"}.get(stored, str(stored))
    if kind in (SINGLE_CHOICE, SCALE_ITEM):
        choice = question.choice(str(stored))
        return choice.label if choice else str(stored)
    if kind == MULTIPLE_CHOICE:
        labels = [(question.choice(v).label if question.choice(v) else v) for v in stored]
        return ", ".join(labels)
    if kind == BLOOD_PRESSURE:
        return f"{stored.get('systolic')}/{stored.get('diastolic')} mmHg"
    if kind == MEDICATION_LIST:
        if stored.get("none") and not stored.get("rows"):
            return "None"
        lines = [
            " · ".join(
                part for part in (row["name"], row.get("dose"), row.get("frequency")) if part
            )
            for row in stored.get("rows", [])
        ]
        return lines or empty or NOT_ANSWERED
    if kind in (HEIGHT, WEIGHT) and isinstance(stored, dict):
        return _measurement(kind, stored)
    unit = f" {question.unit}" if question.unit else ""
    if kind == DATE:
        try:
            return datetime.date.fromisoformat(stored).strftime("%-d %B %Y")
        except (TypeError, ValueError):
            return str(stored)
    if kind == DECIMAL:
        return f"{plain_number(stored)}{unit}"
    return f"{stored}{unit}"


def _measurement(kind: str, stored: dict) -> str:
    """As typed, with the metric value the rules use: "5 ft 7 in (170.2 cm)", "180 lb (81.6 kg)"."""
    if kind == HEIGHT:
        metric = f"{plain_number(stored.get('cm'))} cm"
        if stored.get("feet") is not None:
            typed = f"{stored['feet']} ft {plain_number(stored.get('inches') or 0)} in"
            return f"{typed} ({metric})"
        return metric
    metric = f"{plain_number(stored.get('kg'))} kg"
    shown = f"{plain_number(stored['pounds'])} lb ({metric})" if "pounds" in stored else metric
    return f"{shown}, confirmed as right" if stored.get("confirmed") else shown


def answer_rows(visibility: Visibility) -> list[dict]:
    """Every shown section with its shown questions and answers, in order; hidden ones left out."""
    return [
        {
            "section": section,
            "rows": [
                {"question": question, "answer": answer, "is_list": isinstance(answer, list)}
                for question in visibility.visible_in(section)
                for answer in [display_answer(question, visibility.answers.get(question.code))]
            ],
        }
        for section in visibility.sections
    ]


def plain_number(value):
    """70.0 reads as 70 and 70.5 as 70.5: no trailing zeros a patient never typed."""
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return value
    return f"{number.normalize():f}" if number == number.to_integral_value() else str(value)


SEVERITY_LABELS = {
    "urgent": "Urgent",
    "contraindicated": "Contraindicated",
    "caution": "Caution",
    "info": "Info",
}


DERIVED_LABELS = {
    "age": "Age",
    "bmi": "BMI",
    "bp_systolic": "Systolic BP",
    "bp_diastolic": "Diastolic BP",
}


def intro_blocks(text: str) -> list[dict]:
    """Split an intro into paragraphs (one per line) and bullet lists (lines starting "- ")."""
    blocks: list[dict] = []
    for raw_line in text.replace("\r\n", "\n").splitlines():
        line = raw_line.strip()
        if not line:
            continue
        if line.startswith("- "):
            if not blocks or "bullets" not in blocks[-1]:
                blocks.append({"bullets": []})
            blocks[-1]["bullets"].append(line[2:])
        else:
            blocks.append({"text": line})
    return blocks


BADGES = {
    "urgent": ("text-bg-danger", "Urgent"),
    "contraindicated": ("text-bg-dark", "Contraindicated"),
    "caution": ("text-bg-warning", "Caution"),
    "info": ("text-bg-info", "Info"),
}
NOTHING_FLAGGED = ("text-bg-light border", "Nothing flagged")


def level_badge(level: str) -> SafeString:
    """A coloured badge for a severity ("Nothing flagged" for none)."""
    css, label = BADGES.get(level, NOTHING_FLAGGED)
    return format_html('<span class="badge {}">{}</span>', css, label)


# Each level's badge, made once: the queue prints fifty.
_BADGE_HTML = {level: level_badge(level) for level in [*BADGES, ""]}


def short_date_time(moment: datetime.datetime) -> str:
    """ "29 Nov 2026, 16:05" in the clinic's time zone: the |date:"j M Y, H:i" of the
    templates, at a fraction of its cost (Django's date formatter parses its format anew
    for every call)."""
    local = timezone.localtime(moment)
    return f"{local.day} {str(MONTHS_3[local.month]).title()} {local.year}, {local:%H:%M}"


def queue_rows(screenings: Iterable, *, link_prefix: str, statuses: dict[str, str]) -> list[dict]:
    """The queue's rows as plain values: a page of fifty through the template's own lookups,
    {% url %} and |date cost more than the rest of the page."""
    return [
        {
            "badge": _BADGE_HTML.get(screening.level) or level_badge(screening.level),
            "url": f"{link_prefix}{screening.pk}/",
            "name": screening.patient.full_name,
            "email": screening.patient.email,
            "submitted": short_date_time(screening.submitted_at),
            "flags": screening.flag_count,
            "status": statuses.get(screening.status, screening.status),
        }
        for screening in screenings
    ]
