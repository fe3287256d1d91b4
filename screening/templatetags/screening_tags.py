"""Template helpers: formulary classes and badges for staff pages; tap-to-call numbers."""

import re
import weakref
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta

from django import forms, template
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.forms.widgets import Input
from django.template.base import TokenType
from django.template.defaulttags import CommentNode, URLNode
from django.templatetags.i18n import BlockTranslateNode, TranslateNode
from django.templatetags.static import StaticNode
from django.urls import get_script_prefix
from django.utils import timezone
from django.utils.formats import date_format, time_format
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext, ngettext

from .. import presenters

register = template.Library()


@register.filter
def time_on_day(value: datetime | None, day_of: datetime | None) -> str:
    """A time in a session's record as "HH:MM", with its date ("HH:MM (30 Nov)") when it is
    not on the session's own local day (a dose after midnight, a session moved)."""
    if value is None:
        return ""
    local = timezone.localtime(value)
    shown = time_format(local, "H:i")
    if day_of is not None and local.date() != timezone.localdate(day_of):
        shown = f"{shown} ({date_format(local, 'j M')})"
    return shown


@register.filter
def readable_classes(classes: Iterable[str], names: dict[str, str] | None = None) -> str:
    """Formulary classes as the formulary names them: cyp3a4_strong_inhibitor reads "Strong
    CYP3A4 inhibitors" (`names`, from selectors.drug_class_names). A class no longer in the
    formulary reads as its code in words, never re-cased ("cyp3a4 strong inhibitor")."""
    names = names or {}
    words = [names.get(code) or code.replace("_", " ") for code in classes or [] if code != "none"]
    # A drug the formulary lists as class "none", and a generic the drug dictionary recognised
    # that the formulary does not list, both have no interaction the rules know of.
    return "; ".join(words) or gettext("no known interaction with ketamine")


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
        if hours:
            return ngettext("%(days)s day %(hours)s h", "%(days)s days %(hours)s h", days) % {
                "days": days,
                "hours": hours,
            }
        return gettext("%(days)s days") % {"days": days}
    if hours:
        if minutes:
            return gettext("%(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}
        return gettext("%(hours)s h") % {"hours": hours}
    return gettext("%(minutes)s min") % {"minutes": minutes}


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


@register.filter
def filter_field(field: forms.BoundField) -> str:
    """One of the queue's filters (a select, a date or a search box) with its label and its
    message, in Bootstrap's markup, drawn in Python: five through a template include cost
    more than the queue's fifty rows. Every value written is escaped here."""
    value = field.value()
    value = "" if value is None else value
    box_id = esc(field.auto_id)
    errors = field.errors
    choices = field.field.choices if hasattr(field.field, "choices") else None
    if choices:
        options = "".join(
            f'\n<option value="{esc(choice)}"{" selected" if choice == value else ""}>'
            f"{esc(label)}</option>"
            for choice, label in choices
        )
        box = (
            f'<select name="{esc(field.html_name)}" class="select form-select" id="{box_id}">'
            f"{options}\n</select>"
        )
    else:
        input_type = field.field.widget.input_type
        max_length = getattr(field.field, "max_length", None)
        css = "dateinput" if input_type == "date" else "textinput"
        box = (
            f'<input type="{esc(input_type)}" name="{esc(field.html_name)}"'
            + (f' value="{esc(value)}"' if value else "")
            + (f' maxlength="{esc(max_length)}"' if max_length else "")
            + f' class="{css} form-control{" is-invalid" if errors else ""}"'
            + (f' aria-invalid="true" aria-describedby="{box_id}_error"' if errors else "")
            + f' id="{box_id}">'
        )
    message = ""
    if errors:
        message = (
            f'<div id="{box_id}_error" class="invalid-feedback">'
            + "".join(
                f'<p id="error_{number}_{box_id}"><strong>{esc(error)}</strong></p>'
                for number, error in enumerate(errors, start=1)
            )
            + "</div>"
        )
    return mark_safe(  # noqa: S308 (every value escaped above)
        f'<div id="div_{box_id}" class="mb-3">\n'
        f'<label for="{box_id}" class="form-label">{esc(field.label)}</label>\n'
        f"{box}\n{message}\n</div>\n"
    )


@register.simple_tag(takes_context=True)
def page_questions(context: template.Context, items: list[dict]) -> str:
    """A wizard page's questions (templates/patient/section.html): each item a grid of like
    scale items or a run of questions, with its note and introduction, each question in
    its prepared wrapper (intake/fields.FieldView.block). Drawn here: the template's loops
    over a page's items and questions cost more than the rest of the page's markup. What a
    question without a prepared wrapper, the English-wording note and an introduction need
    is still drawn by their templates, as {% include %} would draw them."""
    intro_lang = ' lang="en-US"' if context.get("list_intro_in_english") else ""
    parts = []
    for item in items:
        grid = item["grid"]
        note = (
            _include(context, "patient/_english_wording_note.html") if item["english_note"] else ""
        )
        intro = ""
        if item["intro"]:
            blocks = _include(context, "includes/_intro.html", blocks=item["intro"])
            margin = "mb-2" if grid else "mb-3"
            intro = f'<div class="intro {margin}" data-content{intro_lang}>{blocks}</div>'
        questions = "".join(
            field.block or _include(context, "patient/fields/_question.html", field=field)
            for field in item["fields"]
        )
        if grid:
            labels = "".join(f"<span>{esc(label)}</span>" for label in item["labels"])
            hidden = "" if item["shown"] else " hidden"
            parts.append(
                f'<div class="scale-grid scale-grid-{len(item["labels"])}" data-grid{hidden}>\n'
                f"{note}{intro}"
                f'<div class="scale-grid-head" aria-hidden="true" data-content><span></span>'
                f"{labels}</div>\n{questions}\n</div>\n"
            )
        else:
            parts.append(f"{note}{intro}{questions}\n")
    return mark_safe("".join(parts))  # noqa: S308 (labels escaped; the rest is markup)


def _include(context: template.Context, name: str, **values: object) -> str:
    """`name` drawn with the page's context and `values`, as {% include %} draws it."""
    included = context.template.engine.get_template(name)
    with context.push(**values):
        return included.render(context)


@register.filter
def lean_form(form: forms.BaseForm) -> str:
    """A staff form drawn with Bootstrap's markup in plain Python: each field's label, box,
    message beside it and help, and the form's own messages at the top. The session page's
    few small forms drawn this way cost a fraction of crispy-forms' template layers (make
    bench: the session page is held to the screening page's time). Every value written is
    escaped here (conditional_escape), as a template would."""
    parts = [
        f'<div class="alert alert-danger py-2" role="alert">{esc(error)}</div>'
        for error in form.non_field_errors()
    ]
    parts += [str(field.as_widget()) for field in form.hidden_fields()]
    parts += [_lean_field(field) for field in form.visible_fields()]
    return mark_safe("".join(parts))  # noqa: S308 (every part escaped above)


esc = conditional_escape


def _lean_field(field: forms.BoundField) -> str:
    widget = field.field.widget
    errors = field.errors
    error_id = f"{field.auto_id}_error"
    attrs = {}
    input_type = getattr(widget, "input_type", None)
    checkbox = input_type == "checkbox"
    if checkbox:
        css = "form-check-input"
    elif input_type == "select" or widget.__class__.__name__.endswith("Select"):
        css = "form-select"
    else:
        css = "form-control"
    if errors:
        css += " is-invalid"
        attrs["aria-describedby"] = error_id
    attrs["class"] = " ".join(filter(None, [widget.attrs.get("class", ""), css]))
    box = _widget_html(field, attrs)
    message = "".join(
        f'<div class="invalid-feedback d-block" id="{esc(error_id)}">{esc(error)}</div>'
        for error in errors
    )
    help_text = (
        f'<div class="form-text" id="{esc(field.auto_id)}_helptext">{esc(field.help_text)}</div>'
        if field.help_text
        else ""
    )
    label = f'for="{esc(field.id_for_label)}">{esc(field.label)}</label>'
    if checkbox:
        return (
            f'<div class="mb-3 form-check">{box}<label class="form-check-label" {label}'
            f"{message}{help_text}</div>"
        )
    return f'<div class="mb-3"><label class="form-label" {label}{box}{message}{help_text}</div>'


def _attrs_html(attrs: dict) -> str:
    """Attributes as Django's widgets/attrs.html writes them (True: bare; False, None: left out)."""
    return "".join(
        f" {esc(name)}" if value is True else f' {esc(name)}="{esc(value)}"'
        for name, value in attrs.items()
        if value is not False and value is not None
    )


def _widget_html(field: forms.BoundField, attrs: dict) -> str:
    """The box of one field: text-like inputs, checkboxes, selects and text areas written here
    (the markup of Django's own widget templates), any other widget through its template."""
    widget = field.field.widget
    simple = isinstance(widget, Input | forms.Select | forms.Textarea | forms.CheckboxInput)
    if not simple or isinstance(widget, forms.RadioSelect | forms.SelectMultiple):
        return str(field.as_widget(attrs=attrs))
    attrs = field.build_widget_attrs(attrs, widget)
    if field.auto_id and "id" not in widget.attrs:
        attrs.setdefault("id", field.auto_id)
    context = widget.get_context(field.html_name, field.value(), attrs)["widget"]
    name = esc(context["name"])
    if isinstance(widget, forms.Select):
        options = "".join(
            f'<option value="{esc(option["value"])}"{" selected" if option["selected"] else ""}>'
            f"{esc(option['label'])}</option>"
            for _group, group_options, _index in context["optgroups"]
            for option in group_options
        )
        return f'<select name="{name}"{_attrs_html(context["attrs"])}>{options}</select>'
    if isinstance(widget, forms.Textarea):
        return (
            f'<textarea name="{name}"{_attrs_html(context["attrs"])}>\n'
            f"{esc(context['value'] or '')}</textarea>"
        )
    value = context["value"]
    shown = f' value="{esc(value)}"' if value is not None else ""
    return (
        f'<input type="{esc(context["type"])}" name="{name}"{shown}{_attrs_html(context["attrs"])}>'
    )


@register.filter
def full_stop(text: str) -> str:
    """A reason as a sentence: the full stop added unless it ends with one (or a question
    or exclamation mark), so it is never doubled nor set apart from the last word."""
    text = str(text or "").rstrip()
    if not text or text[-1] in ".!?…。":
        return text
    return text + "."


@register.simple_tag
def baseline_answer_rows(rows: Iterable[dict], now_label: str, then_label: str) -> str:
    """The rows of includes/_baseline_answers.html (since_baseline's answers: the question,
    the answer now and, when the intake had the question, at baseline), drawn in plain
    Python with the template's markup: the session page shows one row per question of the
    check-in, some sixty, and a template loop over them was a third of the page's time (make
    bench holds the page to the screening page's). The labels come translated from the
    template; every value is escaped here, as a template would."""
    now_label, then_label = esc(now_label), esc(then_label)
    parts = []
    for row in rows:
        then = ""
        if row["then"] is not None:
            then = (
                f'<div class="col-md-6"><span class="small text-body-secondary">{then_label}'
                f"</span> {_answer_html(row['then'], row['then_is_list'], strong=False)}</div>"
            )
        parts.append(
            f'\n    <dt class="mt-2" data-content>{esc(row["question"].text)}</dt>\n'
            '    <dd class="mb-1"><div class="row g-1">\n'
            f'      <div class="col-md-6"><span class="small text-body-secondary">{now_label}'
            f"</span> {_answer_html(row['now'], row['now_is_list'], strong=True)}</div>\n"
            f"      {then}\n"
            "    </div></dd>\n  "
        )
    return mark_safe("".join(parts))  # noqa: S308 (every value escaped above)


def _answer_html(answer: object, is_list: bool, *, strong: bool) -> str:
    if is_list:
        lines = "".join(f"<li><bdi>{esc(line)}</bdi></li>" for line in answer)
        return f'<ul class="mb-0">{lines}</ul>'
    shown = f"<bdi>{esc(answer)}</bdi>"
    return f"<strong>{shown}</strong>" if strong else shown


# Markup the same in every request ------------------------------------------------------

# What the staff tabs (includes/_staff_nav.html) depend on besides the language and the
# active tab: each tab's permission, and whether the user may open the admin site.
STAFF_NAV_PERMISSIONS = (
    "screening.review_screening",
    "screening.view_treatmentsession",
    "screening.add_invitation",
    "screening.view_auditevent",
)
_STAFF_NAV: dict[tuple, str] = {}


@register.simple_tag(takes_context=True)
def staff_nav(context: template.Context, active: str) -> str:
    """The staff pages' tabs, `active` marked: drawn once for each language, tab and set of
    tabs the user may see, then reused (every staff page drew a dozen permission checks and
    addresses). includes/_staff_nav.html must read nothing but those."""
    user = context["user"]
    shown = tuple(user.has_perm(permission) for permission in STAFF_NAV_PERMISSIONS)
    key = (get_language(), get_script_prefix(), active, shown, bool(user.is_staff))
    if key not in _STAFF_NAV:
        _STAFF_NAV[key] = _include(context, "includes/_staff_nav.html", active=active)
    return mark_safe(_STAFF_NAV[key])  # noqa: S308 (drawn by the template, escaped there)


class LanguageOptionsNode(template.Node):
    """The language switcher's options (base.html), the active language selected: the same
    for every request in that language."""

    def render(self, context: template.Context) -> str:
        active = get_language()
        options = "".join(
            f'\n                <option value="{esc(code)}" lang="{esc(code)}"'
            f"{' selected' if code == active else ''}>{esc(gettext(name))}</option>\n              "
            for code, name in settings.LANGUAGES
        )
        # The whitespace the template's loop wrote before.
        return "\n              " + options


@register.tag
def language_options(parser: template.base.Parser, token: template.base.Token) -> template.Node:
    """{% language_options %}: every offered language as an <option>, the active one selected."""
    return LanguageOptionsNode()


class SameInEveryRequestNode(template.Node):
    """Renders its contents once per language and reuses them (see same_in_every_request)."""

    def __init__(self, nodelist: template.NodeList) -> None:
        self.nodelist = nodelist
        self.rendered: dict[tuple, str] = {}
        _SAME_IN_EVERY_REQUEST.add(self)

    def render(self, context: template.Context) -> str:
        key = (get_language(), get_script_prefix(), context.autoescape)
        if key not in self.rendered:
            self.rendered[key] = self.nodelist.render(context)
        return self.rendered[key]


# Every such node, so a changed setting (STATIC_URL, the languages; in tests) clears them all.
_SAME_IN_EVERY_REQUEST: weakref.WeakSet[SameInEveryRequestNode] = weakref.WeakSet()


@receiver(setting_changed)
def _forget_markup_made_under_other_settings(**kwargs: object) -> None:
    for node in list(_SAME_IN_EVERY_REQUEST):
        node.rendered.clear()
    _STAFF_NAV.clear()


@register.tag
def same_in_every_request(
    parser: template.base.Parser, token: template.base.Token
) -> template.Node:
    """{% same_in_every_request %}…{% end_same_in_every_request %}: markup drawn once per
    language and then reused, for the parts of a page that every request draws alike (the
    idle warning's texts, the stylesheet links, the header's fixed addresses): each {% url %},
    {% static %} and {% translate %} costs a little on every page, and every page has many.

    Only text, comments, {% language_options %}, and {% translate %}, {% blocktranslate %},
    {% static %} and {% url %} of constants may be inside: anything that reads the request's context is refused when the
    template is loaded, so nothing of one request can be shown to another.
    """
    nodelist = parser.parse(("end_same_in_every_request",))
    parser.delete_first_token()
    for node in _all_nodes(nodelist):
        problem = _reads_the_context(node)
        if problem:
            raise template.TemplateSyntaxError(
                f"same_in_every_request holds only fixed markup: {problem} ({node!r})"
            )
    return SameInEveryRequestNode(nodelist)


def _all_nodes(nodelist: template.NodeList) -> Iterator[template.Node]:
    for node in nodelist:
        yield node
        for attribute in node.child_nodelists:
            yield from _all_nodes(getattr(node, attribute, None) or [])


def _is_constant(expression: template.base.FilterExpression | None) -> bool:
    """A FilterExpression of a literal string with no filters."""
    if expression is None or expression.filters:
        return False
    value = expression.var
    return isinstance(value, str) or (
        isinstance(value, template.Variable) and value.literal is not None
    )


def _reads_the_context(node: template.Node) -> str:
    """Why `node` depends on the request's context ("" when it does not)."""
    if isinstance(node, template.base.TextNode | CommentNode | LanguageOptionsNode):
        return ""
    if isinstance(node, TranslateNode):
        fixed = _is_constant(node.filter_expression) and node.asvar is None
        fixed = fixed and (node.message_context is None or _is_constant(node.message_context))
        return "" if fixed else "a translate tag of a variable"
    if isinstance(node, BlockTranslateNode):
        texts_only = all(token.token_type == TokenType.TEXT for token in node.singular)
        fixed = texts_only and not node.extra_context and node.countervar is None
        fixed = fixed and node.asvar is None and not node.plural
        fixed = fixed and (node.message_context is None or _is_constant(node.message_context))
        return "" if fixed else "a blocktranslate tag with variables"
    if isinstance(node, StaticNode):
        return (
            "" if _is_constant(node.path) and node.varname is None else "a static tag of a variable"
        )
    if isinstance(node, URLNode):
        fixed = _is_constant(node.view_name) and not node.args and not node.kwargs
        return "" if fixed and node.asvar is None else "a url tag with arguments"
    return f"a {type(node).__name__}"
