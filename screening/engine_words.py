"""The engine's sentences in the reader's language.

The engine (screening/engine/) has no Django, so it says things as a stable code and the
values they name (engine.readiness.Words; ENGLISH there holds its US English). Here each code
has its gettext template with the same named placeholders, and the values are written as the
active language writes them (numbers, times, a flag's severity). tests/test_engine_words.py
holds the two in step: in US English, each template reads exactly as the engine's English.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.utils.formats import date_format, number_format, time_format
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy

from .engine.readiness import Discharge, Readiness, Reason, Status, Words
from .presenters import severity_label

TEMPLATES = {
    "clearance_problem": "%(problem)s",
    "clearance_invalid": gettext_lazy(
        "The patient's clearance is no longer valid: they need to be screened again."
    ),
    "check_in_missing": gettext_lazy(
        "The patient has not been invited to the check-in yet, nor opened it."
    ),
    "check_in_invited": gettext_lazy(
        "The patient was invited to answer the check-in but has not started it yet."
    ),
    "check_in_not_submitted": gettext_lazy(
        "The patient has not sent the check-in yet (started, or sent back to them to change, "
        "and not sent since)."
    ),
    "check_in_flag": gettext_lazy(
        "Check-in flag not yet acknowledged by a physician (%(severity)s): %(title)s."
    ),
    "pre_dose_missing": gettext_lazy("Pre-dose blood pressure not recorded yet."),
    "pre_dose_above_hold": gettext_lazy(
        "Pre-dose blood pressure %(systolic)s/%(diastolic)s mmHg is above the hold limit "
        "(%(limit_systolic)s/%(limit_diastolic)s): do not dose; a new reading at or below the "
        "limit is needed."
    ),
    "pre_dose_above_review": gettext_lazy(
        "Pre-dose blood pressure %(systolic)s/%(diastolic)s mmHg is above "
        "%(limit_systolic)s/%(limit_diastolic)s: a physician reviews it before dosing."
    ),
    "dose_given_observing": gettext_lazy(
        "Dose given at %(given)s (%(given_day)s): in observation until %(ends)s."
    ),
    "dose_given_observed": gettext_lazy(
        "Dose given at %(given)s (%(given_day)s); the observation period ended at %(ends)s: "
        "discharge once every criterion is met."
    ),
    "discharged": gettext_lazy("Discharged at %(at)s (%(at_day)s)."),
    "dose_missing": gettext_lazy("The dose has not been recorded as given."),
    "observation_running": gettext_lazy(
        "The observation period (%(minutes)s minutes after the dose) ends at %(ends)s."
    ),
    "reading_due": gettext_lazy(
        "The reading due %(minutes)s minutes after the dose (at %(due)s) has not been recorded."
    ),
    "post_dose_missing": gettext_lazy("No blood pressure has been recorded after the dose."),
    "post_dose_above_hold": gettext_lazy(
        "The latest blood pressure (%(systolic)s/%(diastolic)s mmHg) is above the limit "
        "(%(limit_systolic)s/%(limit_diastolic)s)."
    ),
    "not_alert": gettext_lazy("Alert and oriented: not confirmed."),
    "not_walking": gettext_lazy("Walks unaided: not confirmed."),
    "no_escort": gettext_lazy(
        "Escort present: not confirmed (no driving until the next day after a restful sleep)."
    ),
}

STATUS_LABELS = {
    Status.READY: gettext_lazy("Ready to dose"),
    Status.NEEDS_REVIEW: gettext_lazy("Needs physician review"),
    Status.ON_HOLD: gettext_lazy("On hold"),
    Status.DOSED: gettext_lazy("Dose given"),
    Status.DISCHARGED: gettext_lazy("Discharged"),
}


def _value(name: str, value: object) -> str:
    if isinstance(value, datetime.datetime):
        return time_format(value, "H:i")
    if isinstance(value, datetime.date):
        return date_format(value, "j M")  # "30 Nov", "30 nov"
    if name == "severity":
        # A flag's severity, as the flag cards write it, lower case inside a sentence.
        return severity_label(value).lower()
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return number_format(value)
    return str(value)


def say(words: Words) -> str:
    """One of the engine's sentences in the active language (US English when the code is
    unknown here: the engine's own words rather than nothing)."""
    template = TEMPLATES.get(words.code)
    if template is None:
        return words.text
    return str(template) % {name: _value(name, value) for name, value in words.params.items()}


# Values that are the question set's own words (a flag's title), which staff read in the source
# language: marked data-content on a page, as the flag cards mark them.
CONTENT_VALUES = {"title"}


def say_html(words: Words) -> SafeString:
    """say() for a page: escaped, the question set's words marked data-content."""
    template = TEMPLATES.get(words.code)
    if template is None:
        return escape(words.text)
    values = {
        name: format_html("<span data-content>{}</span>", value)
        if name in CONTENT_VALUES
        else escape(_value(name, value))
        for name, value in words.params.items()
    }
    return mark_safe(escape(str(template)) % values)  # noqa: S308 (every part escaped above)


def status_label(status: str) -> str:
    return str(STATUS_LABELS[status]) if status in STATUS_LABELS else str(status)


# What staff pages and messages read: the engine's results with their words in the active
# language (read when shown, so a record built once reads in whichever language is active).


@dataclass(frozen=True)
class ShownReason:
    reason: Reason

    @property
    def status(self) -> Status:
        return self.reason.status

    @property
    def text(self) -> str:
        return say(self.reason.words)

    @property
    def html(self) -> SafeString:
        return say_html(self.reason.words)


@dataclass(frozen=True)
class ShownReadiness:
    readiness: Readiness

    @property
    def status(self) -> Status:
        return self.readiness.status

    @property
    def label(self) -> str:
        return status_label(self.readiness.status)

    @property
    def reasons(self) -> tuple[ShownReason, ...]:
        return tuple(ShownReason(reason) for reason in self.readiness.reasons)


@dataclass(frozen=True)
class ShownDischarge:
    discharge: Discharge

    @property
    def allowed(self) -> bool:
        return self.discharge.allowed

    @property
    def unmet(self) -> tuple[str, ...]:
        return tuple(say(words) for words in self.discharge.unmet)
