"""The wizard's questions as a page shows them, drawn without a form renderer.

A question's label, help, ids, choices and widget depend only on its published version,
which never changes, and on the language the page is drawn in (the interface's own words in
a field, such as "Yes" and "No" or "Top number (systolic)", and, once translated, the
question set's), so they are worked out once per version and language and kept
(`specs_for`). So is
its HTML: the kind's lean template (templates/patient/fields/) is rendered once with a
marker in each place that changes from one request to the next (a tick, a typed value),
and split there (`Fragments`). A request then only joins those pieces around its own
values, escaped. A field with an error, and the medication list (its number of rows
varies), is drawn by the same template at request time instead: same markup either way.

The markup is the crispy-forms layout this replaces, with its labels, fieldsets and
legends, aria-invalid, and aria-describedby naming the help and the error. Measured on the
PHQ-9 page (ten radio groups): crispy rendered 76 templates and some 1,200 template nodes;
the whole page now takes 4 templates and 66 nodes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cached_property

from django.forms.utils import ErrorList
from django.http import QueryDict
from django.template.loader import render_to_string
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, gettext

from ..answer_fields import (
    BLANK_MEDICATION_ROWS,
    TEXT_MAX_LENGTH,
    MedicationListWidget,
    initial_value,
    medication_rows,
)
from ..content_language import label_with_unit
from ..engine.questionnaire import (
    BLOOD_PRESSURE,
    DATE,
    DECIMAL,
    HEIGHT,
    INTEGER,
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
)
from ..engine.rules import RECREATIONAL_LIST_CODES
from ..models import QuestionSetVersion
from ..snapshots import questionnaire_for

TEMPLATES = "patient/fields"
CHOICE_KINDS = (YES_NO, SINGLE_CHOICE, SCALE_ITEM, MULTIPLE_CHOICE)
CHECKED = " checked"

# A marker in a pre-rendered field: NUL cannot be stored in PostgreSQL text and no escaping
# touches it, so it cannot come from a question's text (Fragments checks that it did not).
_SLOT = re.compile("\x00([a-z_0-9]+)\x00")


def _marker(name: str) -> str:
    return f"\x00{name}\x00"


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    id: str
    interface: bool = False  # the app's own words ("Yes", "No"), not the question set's


@dataclass(frozen=True)
class Fragments:
    """A field's HTML without errors, split at the values a request fills in: static text at
    even positions, slot names at odd ones."""

    parts: tuple[str, ...]

    def join(self, values: dict[str, str]) -> SafeString:
        parts = list(self.parts)
        for index in range(1, len(parts), 2):
            parts[index] = values[parts[index]]
        return mark_safe("".join(parts))  # noqa: S308 (static parts rendered escaped; values escaped by the caller)


# Kinds whose boxes Django's own widgets draw at request time (templates/widgets/).
DRAWN_BY_DJANGO = frozenset({HEIGHT, WEIGHT})


@dataclass(frozen=True)
class FieldSpec:
    """Everything about drawing one question that its version fixes."""

    code: str
    kind: str
    template: str
    label: str
    help_text: str
    required: bool
    input_id: str  # what the label points at
    input_type: str = "text"
    input_class: str = ""
    inputmode: str = ""
    options: tuple[Option, ...] = ()
    max_length: int | None = None
    street_drugs: bool = False  # the recreational list: no "as on the label", "How much"
    fragments: Fragments | None = None

    @property
    def help_id(self) -> str:
        return f"id_{self.code}_helptext"

    @property
    def error_id(self) -> str:
        return f"id_{self.code}_error"


@dataclass
class FieldView:
    """One question on this request's page: its spec, what is shown in it, its errors."""

    spec: FieldSpec
    value: str = ""  # text, number and date boxes
    checked: frozenset[str] = frozenset()  # ticked choices
    systolic: str = ""
    diastolic: str = ""
    rows: list[dict] = field(default_factory=list)  # medication rows, blank ones included
    none: bool = False  # "I don't take any"
    errors: ErrorList | list = field(default_factory=list)
    html: SafeString | None = None  # the whole field, when joined from its fragments
    bound: object = None  # the bound Django field, for the kinds Django's widgets draw
    shown: bool = True  # False: it does not apply now (drawn hidden, for the page's script)

    @property
    def options(self) -> list[dict]:
        return [
            {
                "value": o.value,
                "label": o.label,
                "id": o.id,
                "interface": o.interface,
                "checked": self._tick(i, o.value),
            }
            for i, o in enumerate(self.spec.options)
        ]

    def _tick(self, index: int, value: str) -> str:
        return CHECKED if value in self.checked else ""

    @cached_property
    def block(self) -> SafeString | None:
        """The question in its wrapper, as templates/patient/fields/_question.html draws it,
        when its HTML was joined from fragments (None: the template draws it). Ten includes
        of that one-line template were a tenth of the page's rendering."""
        if self.html is None:
            return None
        code = escape(self.spec.code)
        hidden = "" if self.shown else " hidden"
        disabled = "" if self.shown else " disabled"
        return mark_safe(  # noqa: S308 (the code escaped; the field's HTML already safe)
            f'<div class="question" data-question="{code}"{hidden}><input type="hidden" '
            f'name="presented" value="{code}"{disabled}>{self.html}</div>\n'
        )

    @property
    def describedby(self) -> str:
        ids = [self.spec.help_id] if self.spec.help_text else []
        if self.errors:
            ids.append(self.spec.error_id)
        return " ".join(ids)

    @property
    def row_count(self) -> int:
        return len(self.rows)

    def slot_values(self) -> dict[str, str]:
        """This request's values for the spec's fragments, escaped."""
        if self.spec.kind in CHOICE_KINDS:
            return {
                f"tick{i}": CHECKED if o.value in self.checked else ""
                for i, o in enumerate(self.spec.options)
            }
        return {
            "value": escape(self.value),
            "systolic": escape(self.systolic),
            "diastolic": escape(self.diastolic),
        }


class _MarkedView(FieldView):
    """A view whose every changing value is a marker: rendering it gives the fragments."""

    def _tick(self, index: int, value: str) -> str:
        return _marker(f"tick{index}")


def _fragments(spec: FieldSpec) -> Fragments | None:
    if spec.kind in DRAWN_BY_DJANGO:
        return None  # drawn from the bound field each time
    if spec.kind == MEDICATION_LIST:
        return None  # its rows vary in number: drawn by its template each time
    view = _MarkedView(
        spec, value=_marker("value"), systolic=_marker("systolic"), diastolic=_marker("diastolic")
    )
    html = render_to_string(spec.template, {"field": view})
    parts = tuple(_SLOT.split(html))
    expected = set(view.slot_values())
    found = parts[1::2]
    if len(found) != len(set(found)) or not set(found) <= expected:
        return None  # a marker came from the content itself: draw it with the template
    return Fragments(parts)


def _spec(question: QuestionDef) -> FieldSpec:
    code, kind = question.code, question.kind
    common = {
        "code": code,
        "kind": kind,
        "label": label_with_unit(question.text, question.unit),
        "help_text": question.help_text,
        "required": question.required,
        "input_id": f"id_{code}",
    }
    if kind in CHOICE_KINDS:
        choices = (
            [("yes", gettext("Yes")), ("no", gettext("No"))]
            if kind == YES_NO
            else [(c.value, c.label) for c in question.choices]
        )
        spec = FieldSpec(
            **common,
            template=f"{TEMPLATES}/_choices.html",
            input_type="checkbox" if kind == MULTIPLE_CHOICE else "radio",
            options=tuple(
                Option(value, label, f"id_{code}_{index}", interface=kind == YES_NO)
                for index, (value, label) in enumerate(choices)
            ),
        )
    elif kind in (INTEGER, DECIMAL):
        spec = FieldSpec(
            **common,
            template=f"{TEMPLATES}/_input.html",
            input_class="textinput",
            inputmode="numeric" if kind == INTEGER else "decimal",
        )
    elif kind == DATE:
        spec = FieldSpec(
            **common,
            template=f"{TEMPLATES}/_input.html",
            input_type="date",
            input_class="dateinput",
        )
    elif kind == TEXT:
        spec = FieldSpec(
            **common, template=f"{TEMPLATES}/_textarea.html", max_length=TEXT_MAX_LENGTH
        )
    elif kind == BLOOD_PRESSURE:
        spec = FieldSpec(
            **{**common, "input_id": f"id_{code}_systolic"},
            template=f"{TEMPLATES}/_blood_pressure.html",
        )
    elif kind == MEDICATION_LIST:
        spec = FieldSpec(
            **{**common, "input_id": f"id_{code}-0-name"},
            template=f"{TEMPLATES}/_medication_list.html",
            street_drugs=code in RECREATIONAL_LIST_CODES,
        )
    elif kind in (SHORT_TEXT, PHONE):
        spec = FieldSpec(
            **common,
            template=f"{TEMPLATES}/_input.html",
            input_type="tel" if kind == PHONE else "text",
        )
    elif kind in DRAWN_BY_DJANGO:
        # Height and weight: metric or US boxes, and a confirmation when the two disagree
        # with the height; their widgets (templates/widgets/) draw them from the bound field.
        spec = FieldSpec(**common, template=f"{TEMPLATES}/_django_widget.html")
    else:  # pragma: no cover - kinds are a closed list checked on load
        raise ValueError(f"Unknown question kind {kind!r}")
    return replace(spec, fragments=_fragments(spec))


# Published versions' specs by version id (bounded, like the snapshots' caches).
_published_specs: dict[tuple, dict[str, FieldSpec]] = {}


def specs_for(version: QuestionSetVersion, language: str | None = None) -> dict[str, FieldSpec]:
    """Every question of the version, ready to draw, its texts in `language` (the active one
    unless given) and its interface words in the active language; kept per published version
    and language (the first language drawn must not win for everyone)."""
    language = language or get_language() or ""
    questionnaire = questionnaire_for(version, language)
    if version.status == QuestionSetVersion.Status.DRAFT:
        return _specs(questionnaire)
    key = (version.pk, language)
    specs = _published_specs.get(key)
    if specs is None:
        specs = _specs(questionnaire)
        if len(_published_specs) > 48:
            _published_specs.clear()
        _published_specs[key] = specs
    return specs


def _specs(questionnaire: QuestionnaireDef) -> dict[str, FieldSpec]:
    return {code: _spec(question) for code, question in questionnaire.questions_by_code.items()}


def field_views(
    specs: dict[str, FieldSpec],
    questions: list[QuestionDef],
    *,
    stored: dict[str, object],
    data: QueryDict | None = None,
    errors: dict[str, list[str]] | None = None,
    extra_rows: int = BLANK_MEDICATION_ROWS,
) -> list[FieldView]:
    """The page's questions as drawn: from the stored answers, or, when `data` (a refused or
    re-shown post) is given, exactly as typed, with `errors` beside each field."""
    errors = errors or {}
    views = []
    for question in questions:
        spec = specs[question.code]
        view = FieldView(spec, errors=errors.get(question.code, []))
        if data is None:
            _show_stored(view, question, stored.get(question.code), extra_rows)
        else:
            _show_typed(view, data, extra_rows)
        if spec.fragments is not None and not view.errors:
            view.html = spec.fragments.join(view.slot_values())
        views.append(view)
    return views


def _show_stored(view: FieldView, question: QuestionDef, stored: object, extra_rows: int) -> None:
    kind = question.kind
    if kind in (YES_NO, SINGLE_CHOICE, SCALE_ITEM):
        view.checked = frozenset() if stored is None else frozenset({str(stored)})
    elif kind == MULTIPLE_CHOICE:
        view.checked = frozenset(map(str, stored)) if isinstance(stored, list) else frozenset()
    elif kind == BLOOD_PRESSURE:
        stored = stored if isinstance(stored, dict) else {}
        view.systolic = _text(stored.get("systolic"))
        view.diastolic = _text(stored.get("diastolic"))
    elif kind == MEDICATION_LIST:
        stored = stored if isinstance(stored, dict) else {}
        view.rows = medication_rows(stored, extra_rows)
        view.none = bool(stored.get("none"))
    else:
        # What a form showed for a stored answer: a date as typed (ISO), 70.0 as 70.
        initial = initial_value(question, stored)
        view.value = initial.isoformat() if kind == DATE and initial else _text(initial)


def _show_typed(view: FieldView, data: QueryDict, extra_rows: int) -> None:
    code, kind = view.spec.code, view.spec.kind
    if kind == MULTIPLE_CHOICE:
        view.checked = frozenset(data.getlist(code))
    elif kind in CHOICE_KINDS:
        view.checked = frozenset({data[code]}) if code in data else frozenset()
    elif kind == BLOOD_PRESSURE:
        view.systolic = data.get(f"{code}_systolic", "")
        view.diastolic = data.get(f"{code}_diastolic", "")
    elif kind == MEDICATION_LIST:
        value = MedicationListWidget().value_from_datadict(data, {}, code)
        view.rows = medication_rows(value, extra_rows)
        view.none = bool(value.get("none"))
    else:
        view.value = data.get(code, "")


def _text(value: object) -> str:
    return "" if value is None else str(value)
