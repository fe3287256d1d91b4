"""Answers as people read them: shared by the patient's review page and the staff pages;
and the review queue's rows, ready to print."""

import datetime
import html
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.dates import MONTHS_3
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import get_language, gettext, gettext_lazy, gettext_noop, pgettext

from .engine.questionnaire import AGE as AGE_VALUE
from .engine.questionnaire import (
    BLOOD_PRESSURE,
    DATE,
    DECIMAL,
    HEIGHT,
    MEDICATION_LIST,
    MULTIPLE_CHOICE,
    PHONE,
    SCALE_ITEM,
    SHORT_TEXT,
    SINGLE_CHOICE,
    TEXT,
    WEIGHT,
    YES_NO,
    QuestionDef,
    QuestionnaireDef,
    SectionDef,
    Visibility,
)
from .engine.questionnaire import BMI as BMI_VALUE
from .engine.severity import Severity

if TYPE_CHECKING:  # for the annotation only: selectors need not be loaded to draw a row
    from .selectors import QueueEntry

# The words of an answer are in the reader's language (the patient's on their pages; staff
# pages are in the clinic's): display_answer translates these at the time of reading.
NOT_ANSWERED = gettext_noop("Not answered")
# An optional list left empty, as its help asks of someone with nothing to list (the
# recreational drugs): an answer, not a gap.
NONE_LISTED = gettext_noop("None listed")
# Kinds whose answer is the patient's own typing, and kinds whose answer is a choice's label
# (the question set's words): the pages mark them (tests/test_untranslated_strings.py).
TYPED_KINDS = frozenset({TEXT, SHORT_TEXT, PHONE, MEDICATION_LIST})
CHOSEN_KINDS = frozenset({SINGLE_CHOICE, SCALE_ITEM, MULTIPLE_CHOICE})


def display_answer(question: QuestionDef, stored: object) -> str | list[str]:
    """A readable answer; a medication list becomes one line per row."""
    empty = (
        gettext(NONE_LISTED) if question.kind == MEDICATION_LIST and not question.required else None
    )
    if stored is None or stored == "" or stored == []:
        return empty or gettext(NOT_ANSWERED)
    kind = question.kind
    if kind == YES_NO:
        return {"yes": gettext("Yes"), "no": gettext("No")}.get(stored, str(stored))
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
            return gettext("None")
        lines = [
            " · ".join(
                part for part in (row["name"], row.get("dose"), row.get("frequency")) if part
            )
            for row in stored.get("rows", [])
        ]
        return lines or empty or gettext(NOT_ANSWERED)
    if kind in (HEIGHT, WEIGHT) and isinstance(stored, dict):
        return _measurement(kind, stored)
    unit = f" {question.unit}" if question.unit else ""
    if kind == DATE:
        try:
            return date_format(
                datetime.date.fromisoformat(stored),
                pgettext("date format: day, month and year", "j F Y"),
            )
        except (TypeError, ValueError):
            return str(stored)
    if kind == DECIMAL:
        return f"{plain_number(stored)}{unit}"
    return f"{stored}{unit}"


def _measurement(kind: str, stored: dict) -> str:
    """As typed, with the metric value the rules use: "5 ft 7 in (170.2 cm)", "180 lb (81.6 kg)"."""
    if kind == HEIGHT:
        metric = f"{plain_number(stored.get('cm'))} {pgettext('unit: centimeters, short', 'cm')}"
        if stored.get("feet") is not None:
            feet = pgettext("unit: feet, short", "ft")
            inches = pgettext("unit: inches, short", "in")
            typed = f"{stored['feet']} {feet} {plain_number(stored.get('inches') or 0)} {inches}"
            return f"{typed} ({metric})"
        return metric
    metric = f"{plain_number(stored.get('kg'))} {pgettext('unit: kilograms, short', 'kg')}"
    pounds = pgettext("unit: pounds, short", "lb")
    shown = (
        f"{plain_number(stored['pounds'])} {pounds} ({metric})" if "pounds" in stored else metric
    )
    if stored.get("confirmed"):
        return gettext("%(weight)s, confirmed as right") % {"weight": shown}
    return shown


def answer_rows(visibility: Visibility) -> list[dict]:
    """Every shown section with its shown questions and answers, in order; hidden ones left out."""
    groups = []
    for section in visibility.sections:
        not_answered = gettext(NOT_ANSWERED)
        rows = [
            {
                "question": question,
                "answer": answer,
                "is_list": isinstance(answer, list),
                # The patient's own typing, or a choice's label (the question set's words).
                "typed": question.kind in TYPED_KINDS
                and answered
                and (question.kind != MEDICATION_LIST or isinstance(answer, list)),
                # (a number's unit, "beats per minute", is the question set's too)
                "from_content": answered and (question.kind in CHOSEN_KINDS or bool(question.unit)),
            }
            for question in visibility.visible_in(section)
            for stored in [visibility.answers.get(question.code)]
            for answer in [display_answer(question, stored)]
            for answered in [stored not in (None, "", []) and answer != not_answered]
        ]
        # For the review page's one line per section: "6 answers, 1 not answered" (an empty
        # list that reads "None listed" is an answer, as the page says).
        unanswered = sum(row["answer"] == not_answered for row in rows)
        groups.append(
            {
                "section": section,
                "rows": rows,
                "answered": len(rows) - unanswered,
                "unanswered": unanswered,
            }
        )
    return groups


def plain_number(value: object) -> object:
    """70.0 reads as 70 and 70.5 as 70.5: no trailing zeros a patient never typed."""
    try:
        number = Decimal(str(value))
    except ArithmeticError:
        return value
    return f"{number.normalize():f}" if number == number.to_integral_value() else str(value)


DERIVED_LABELS = {
    "age": gettext_lazy("Age"),
    "bmi": gettext_lazy("BMI"),
    "bp_systolic": gettext_lazy("Systolic BP"),
    "bp_diastolic": gettext_lazy("Diastolic BP"),
}


def intro_blocks(text: str) -> list[dict]:
    """Split an intro into paragraphs (one per line) and bullet lists (lines starting "- ")."""
    blocks: list[dict] = []
    for raw_line in text.replace("\r\n", "\n").splitlines():
        line = raw_line.strip()
        if not line:
            continue
        # Both keys in every block: a key the template looks for in vain costs it a dir().
        if line.startswith("- "):
            if not blocks or blocks[-1]["bullets"] is None:
                blocks.append({"text": "", "bullets": []})
            blocks[-1]["bullets"].append(line[2:])
        else:
            blocks.append({"text": line, "bullets": None})
    return blocks


# Each severity's badge colour (Bootstrap classes); its words are Severity.label.
BADGE_CSS = {
    Severity.URGENT: "text-bg-danger",
    Severity.CONTRAINDICATED: "text-bg-dark",
    Severity.CAUTION: "text-bg-warning",
    Severity.INFO: "text-bg-info",
}
NOTHING_FLAGGED = ("text-bg-light border", gettext_noop("Nothing flagged"))
# Severity.label's words (the engine has no Django), to translate where they are shown.
SEVERITY_WORDS = {
    Severity.URGENT: gettext_noop("Urgent"),
    Severity.CONTRAINDICATED: gettext_noop("Contraindicated"),
    Severity.CAUTION: gettext_noop("Caution"),
    Severity.INFO: gettext_noop("Info"),
}


def severity_label(level: str) -> str:
    """A severity's word in the active language ("Urgent")."""
    return gettext(SEVERITY_WORDS[level]) if level in SEVERITY_WORDS else str(level)


def level_badge(level: str) -> SafeString:
    """A coloured badge for a severity ("Nothing flagged" for none)."""
    if level in BADGE_CSS:
        css, label = BADGE_CSS[level], severity_label(level)
    else:
        css, label = NOTHING_FLAGGED[0], gettext(NOTHING_FLAGGED[1])
    return format_html('<span class="badge {}">{}</span>', css, label)


# Each level's badge, made once per language: the queue prints fifty.
_BADGE_HTML: dict[tuple[str | None, str], SafeString] = {}


def _badge(level: str) -> SafeString:
    key = (get_language(), level)
    if key not in _BADGE_HTML:
        _BADGE_HTML[key] = level_badge(level)
    return _BADGE_HTML[key]


def short_date_time(
    moment: datetime.datetime,
    months: list[str] | None = None,
    zone: datetime.tzinfo | None = None,
) -> str:
    """ "29 Nov 2026, 16:05" in the clinic's time zone: the |date:"j M Y, H:i" of the
    templates, at a fraction of its cost (Django's date formatter parses its format anew
    for every call). A caller that formats many passes `short_month_names()` and the
    current time zone, looked up once."""
    local = moment.astimezone(zone) if zone is not None else timezone.localtime(moment)
    month = months[local.month] if months else str(MONTHS_3[local.month]).title()
    return f"{local.day} {month} {local.year}, {local:%H:%M}"


def short_month_names() -> list[str]:
    """ "Jan" to "Dec" in the active language, indexed from 1, as short_date_time writes them."""
    return ["", *(str(MONTHS_3[month]).title() for month in range(1, 13))]


def how_long_ago(moment: datetime.datetime, now: datetime.datetime) -> str:
    """ "12 min", "3 h 5 min", "2 days": how long since `moment`, as a queue reads it."""
    minutes = max(0, int((now - moment).total_seconds() // 60))
    if minutes < 60:
        return gettext("%(minutes)s min") % {"minutes": minutes}
    if minutes < 48 * 60:
        hours, rest = divmod(minutes, 60)
        if rest:
            return gettext("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": rest}
        return gettext("%(hours)s h") % {"hours": hours}
    return gettext("%(days)s days") % {"days": minutes // (24 * 60)}


def queue_rows(
    entries: Iterable["QueueEntry"],
    *,
    link_prefix: str,
    statuses: dict[str, str],
    now: datetime.datetime | None = None,
) -> list[SafeString]:
    """The queue's rows, each drawn as its table row: a page of fifty through the template's
    own lookups, {% url %} and |date cost more than the rest of the page.

    An urgent submission no physician has opened yet shows how long it has waited; a
    screening waiting for the patient, how long ago the physician asked, and what.
    """
    now = now or timezone.now()
    words = QueueRowWords(link_prefix=link_prefix, statuses=statuses)
    return [queue_row_html(entry, words, now) for entry in entries]


class QueueRowWords:
    """What every row of one queue page writes alike, translated and escaped once for the
    page (fifty rows each asking the translation machinery again cost more than drawing
    them)."""

    def __init__(self, *, link_prefix: str, statuses: dict[str, str]) -> None:
        # Formats: escaped once their number is in.
        self.not_opened = gettext("Submitted %(ago)s ago, not yet opened")
        self.asked = gettext("Asked %(ago)s ago:")
        # Translated outside the f-strings: xgettext (makemessages) does not look inside them.
        rescreening, resubmitted = _escape(gettext("Re-screening")), _escape(gettext("Resubmitted"))
        self.rescreening_mark = f' <span class="badge text-bg-info">{rescreening}</span>'
        self.resubmitted_mark = f' <span class="badge text-bg-primary">{resubmitted}</span>'
        self.submitted = _escape(gettext("Submitted"))
        self.flags = _escape(gettext("Flags"))
        self.status = _escape(gettext("Status"))
        self.statuses = {status: _escape(words) for status, words in statuses.items()}
        self.link_prefix = _escape(link_prefix)
        self.months = [_escape(month) for month in short_month_names()]
        self.zone = timezone.get_current_timezone()
        # Each level's badge (the queue's five levels, in the page's language).
        self.badges = {level: _badge(level) for level in [*BADGE_CSS, ""]}


# The longest part of a physician's request a queue row quotes.
REQUEST_PREVIEW_CHARACTERS = 140


def queue_row_html(entry: "QueueEntry", words: QueueRowWords, now: datetime.datetime) -> SafeString:
    """One row of the queue's table (templates/staff/queue.html), drawn here like the admin's
    change list draws its rows: fifty rows of a dozen template tags each cost more than the
    rest of the page.

    What patients and physicians typed (names, addresses, the request) is escaped here
    (html.escape, as Django's escape does; format_html's per-argument machinery cost more
    than the rest of a row); the page's words were escaped once in QueueRowWords; ids,
    numbers and dates made of escaped month names need none.
    """
    level = words.badges.get(entry.level) or _badge(entry.level)
    if entry.urgent_unopened_since:
        waited = words.not_opened % {"ago": how_long_ago(entry.urgent_unopened_since, now)}
        level = f'{level}<br><span class="badge text-bg-danger mt-1">{_escape(waited)}</span>'
    marks = (words.rescreening_mark if entry.previous_id is not None else "") + (
        words.resubmitted_mark if entry.submission_count > 1 else ""
    )
    status = words.statuses.get(entry.status) or _escape(entry.status)
    if entry.status == "waiting_for_patient":
        asked = ""
        if entry.information_requested_at:
            ago = how_long_ago(entry.information_requested_at, now)
            asked = _escape(words.asked % {"ago": ago}) + " "
        request = _escape(Truncator(entry.message_to_patient).chars(REQUEST_PREVIEW_CHARACTERS))
        status = (
            f'{status}<br><span class="small queue-request">{asked}<q class="text-body-secondary" '
            f"data-patient-text><bdi>{request}</bdi></q></span>"
        )
    submitted = short_date_time(entry.submitted_at, words.months, words.zone)
    return SafeString(
        f'<tr><td>{level}</td><td><a href="{words.link_prefix}{entry.id}/">'
        f"{_escape(entry.patient_full_name)}</a>{marks}<br>"
        f'<span class="small text-body-secondary">{_escape(entry.patient_email)}</span></td>'
        f'<td data-label="{words.submitted}">{submitted}</td>'
        f'<td data-label="{words.flags}">{entry.flag_count}</td>'
        f'<td data-label="{words.status}">{status}</td></tr>'
    )


def _escape(text: object) -> str:
    """What django.utils.html.escape returns, without making it a SafeString."""
    return html.escape(str(text))


NOT_ASKED = gettext_noop("Not asked")  # shown through gettext


def answer_changes(
    questionnaire: QuestionnaireDef,
    before: Visibility,
    after: Visibility,
    before_questionnaire: QuestionnaireDef | None = None,
) -> list[dict]:
    """The answers that read differently after than before, in questionnaire order, each as
    {section, question, before, after, before_is_list, after_is_list} with the words the answers list shows (free
    text as typed); a question shown on one side only reads "Not asked" on the other.

    `before_questionnaire` is the earlier answers' own version when it differs (a
    re-screening on a newer version): their words are read with its questions, and its
    questions the newer version dropped are listed last, reading "Not asked" now."""
    earlier = before_questionnaire or questionnaire
    changes = []
    for section in questionnaire.sections:
        for question in section.questions:
            old_question = earlier.questions_by_code.get(question.code)
            old = (
                display_answer(old_question, before.answers.get(question.code))
                if old_question is not None and question.code in before.questions
                else gettext(NOT_ASKED)
            )
            new = (
                display_answer(question, after.answers.get(question.code))
                if question.code in after.questions
                else gettext(NOT_ASKED)
            )
            if old != new:
                changes.append(_change(section, question, old, new))
    if earlier is not questionnaire:
        for section in earlier.sections:
            for question in section.questions:
                if question.code in questionnaire.questions_by_code:
                    continue
                if question.code not in before.questions:
                    continue
                old = display_answer(question, before.answers.get(question.code))
                changes.append(_change(section, question, old, gettext(NOT_ASKED)))
    return changes


def _change(section: SectionDef, question: QuestionDef, old: object, new: object) -> dict:
    return {
        "section": section,
        "question": question,
        "before": old,
        "after": new,
        "before_is_list": isinstance(old, list),
        "after_is_list": isinstance(new, list),
    }


def medication_changes(before: Iterable, after: Iterable) -> dict[str, list]:
    """Medicines (RecognisedMedication rows) of two screenings: started (in `after` only) and
    stopped (in `before` only), matched by what each was recognised as, or by the typed
    words when it was not recognised."""

    def key(medication: object) -> str:
        name = medication.matched or medication.typed
        return " ".join(name.casefold().split())

    old = {key(medication): medication for medication in before}
    new = {key(medication): medication for medication in after}
    return {
        "new": [medication for name, medication in new.items() if name not in old],
        "gone": [medication for name, medication in old.items() if name not in new],
    }


def score_changes(before: list[dict], after: list[dict]) -> list[dict]:
    """Scores (a screening's [{"code", "name", "value", "band"}]) whose value or band differs,
    each as {name, before, after, band_before, band_after}; None when not scored."""
    old = {score["code"]: score for score in before or []}
    new = {score["code"]: score for score in after or []}
    changes = []
    for code in [*new, *(code for code in old if code not in new)]:
        was, now = old.get(code, {}), new.get(code, {})
        if (was.get("value"), was.get("band")) == (now.get("value"), now.get("band")):
            continue
        changes.append(
            {
                "name": now.get("name") or was.get("name") or code,
                "before": was.get("value"),
                "after": now.get("value"),
                "band_before": was.get("band", ""),
                "band_after": now.get("band", ""),
            }
        )
    return changes


def flag_changes(before: list[dict], after: list[dict]) -> dict[str, list[dict]]:
    """Flags of two submissions' snapshots: gained, lost, raised again on changed evidence, and
    raised again on the same evidence (these keep their acknowledgements)."""
    old = {flag["code"]: flag for flag in before}
    new = {flag["code"]: flag for flag in after}
    return {
        "gained": [flag for code, flag in new.items() if code not in old],
        "lost": [flag for code, flag in old.items() if code not in new],
        "changed": [
            flag
            for code, flag in new.items()
            if code in old and flag.get("evidence") != old[code].get("evidence")
        ],
        "unchanged": [
            flag
            for code, flag in new.items()
            if code in old and flag.get("evidence") == old[code].get("evidence")
        ],
    }


# What the physician's one-screen summary reads, by question code (the default question set's
# codes; a question set without one of them simply leaves that line out).
SUMMARY_SEX = "sex_at_birth"
SUMMARY_VITALS = (
    ("bp", gettext_lazy("Blood pressure")),
    ("heart_rate", gettext_lazy("Heart rate")),
)
SUMMARY_BODY = (("height_cm", gettext_lazy("Height")), ("weight_kg", gettext_lazy("Weight")))
SUMMARY_ALLERGIES = (
    ("drug_allergies", gettext_lazy("Drug allergies")),
    ("drug_allergy_list", gettext_lazy("Which, and what happened")),
    ("ketamine_allergy", gettext_lazy("Allergic to ketamine or esketamine")),
)
SUMMARY_QUESTIONS = "questions_for_clinic"
SUMMARY_EVIDENCE_ITEMS = 2  # evidence items on a flag's line
SUMMARY_LABEL_WORDS = 8  # words of a question's text on a flag's line


def physician_summary(
    *, patient_name: str, visibility: Visibility, flags: list, medications: list, scores: list
) -> dict:
    """The screening at a glance, from what is already loaded (no query): who, how urgent,
    each flag on one line, scores, vitals, allergies, medicines and the patient's own
    questions. Only stored answers are shown; a question asked but left blank reads "Not
    answered", and a question this screening never showed is left out."""

    def answer(code: str) -> dict | None:
        question = visibility.questions.get(code)
        if question is None:
            return None
        shown = display_answer(question, visibility.answers.get(code))
        return {
            "code": code,
            "label": question.text,
            "answer": "; ".join(shown) if isinstance(shown, list) else shown,
            "answered": shown != gettext(NOT_ANSWERED),
        }

    def labelled(pairs: Iterable[tuple[str, str]]) -> list[dict]:
        rows = []
        for code, label in pairs:
            row = answer(code)
            if row is not None:
                rows.append({**row, "label": label})
        return rows

    age = visibility.values.get(AGE_VALUE)
    sex = answer(SUMMARY_SEX)
    counts = [
        {"severity": severity, "count": count}
        for severity in Severity
        for count in [sum(1 for flag in flags if flag.severity == severity)]
        if count
    ]
    bmi = visibility.values.get(BMI_VALUE)
    return {
        "name": patient_name,
        "age": age,
        "sex": sex["answer"] if sex and sex["answered"] else None,
        "counts": counts,
        "flags": [summary_flag_line(flag) for flag in flags],
        "scores": scores,
        "vitals": labelled(SUMMARY_VITALS),
        "body": labelled(SUMMARY_BODY),
        "bmi": plain_number(round(Decimal(str(bmi)), 1)) if bmi is not None else None,
        "allergies": labelled(SUMMARY_ALLERGIES),
        "recognised": [med for med in medications if med.matched],
        "unrecognised": [med for med in medications if not med.matched],
        "questions": answer(SUMMARY_QUESTIONS),
    }


def summary_flag_line(flag: object) -> dict:
    """A flag on one line: its evidence in a few words (the card below has it whole)."""
    parts = []
    for item in getattr(flag, "evidence_rows", []):
        if item.get("typed"):
            matched = item.get("matched") or gettext("not recognized")
            parts.append(f"“{item['typed']}” → {matched}")
        else:
            shown = item.get("display", item.get("answer"))
            label = _few_words(str(item.get("label")).rstrip("?:"), SUMMARY_LABEL_WORDS)
            parts.append(f"{label}: {gettext(NOT_ANSWERED) if shown is None else shown}")
    evidence = "; ".join(parts[:SUMMARY_EVIDENCE_ITEMS])
    if len(parts) > SUMMARY_EVIDENCE_ITEMS:
        evidence += gettext("; and %(count)s more") % {"count": len(parts) - SUMMARY_EVIDENCE_ITEMS}
    return {"flag": flag, "evidence": evidence, "acknowledged": hasattr(flag, "acknowledgement")}


def _few_words(text: str, count: int) -> str:
    words = text.split()
    return " ".join(words[:count]) + (" …" if len(words) > count else "")
