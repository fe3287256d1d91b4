"""The course of symptoms as people read it: an SVG chart's shapes, a table's rows, and the
sentences that say what the numbers mean, for the physician and, in plain words, the patient.

The numbers come from screening.engine.course; this module only places and words them. The
chart is drawn by templates/includes/_course_chart.html from the shapes made here: no
script, no inline style (the Content Security Policy allows neither), colours from classes
in screening/static/screening/course.css, so it prints like the page.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from django.utils import timezone
from django.utils.formats import date_format, number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop, ngettext, pgettext

from .engine.course import GAD7, PHQ9, Course, CoursePoint
from .engine.rules import Band

NAMES = {PHQ9: "PHQ-9", GAD7: "GAD-7"}
# The patient's words for each instrument (lazy: read in the page's language).
PLAIN_NAMES = {
    PHQ9: gettext_lazy("depression questionnaire (PHQ-9)"),
    GAD7: gettext_lazy("anxiety questionnaire (GAD-7)"),
}


# The default question sets' names (content/*.yaml), which the table shows, in the reader's
# language; a name a clinic gave its own question set is shown as written.
DEFAULT_QUESTION_SET_NAMES = (
    gettext_noop("Ketamine pre-treatment screening"),
    gettext_noop("Session check-in"),
)


# The drawing's own units (the SVG scales to the width of its box). Two layouts, both drawn,
# CSS showing one: a wide one, where the physician's chart keeps room left of the first point
# for the bands' names and right of the plot for the response and remission lines' names
# (so no label sits on a point), and a narrow one for phones, whose text stays readable at
# 390 px because the drawing is about as wide as the screen; there the legend and the table
# name the lines and bands.
@dataclass(frozen=True)
class Layout:
    width: int
    heights: dict
    margin_right: int
    band_label_room: int  # left of the first point, for the bands' names (0: no names)
    line_labels: bool
    date_gap: int  # date labels closer than this would overlap


MARGIN_LEFT, MARGIN_TOP, MARGIN_BOTTOM = 34, 12, 34
EDGE = 18  # space between the plot's sides and the first and last point
WIDE = {
    "physician": Layout(640, {PHQ9: 300, GAD7: 220}, 100, 118, True, 74),
    "patient": Layout(560, {PHQ9: 300, GAD7: 220}, 14, 0, False, 74),
}
NARROW = Layout(360, {PHQ9: 250, GAD7: 190}, 12, 0, False, 64)


def long_date(moment: datetime.datetime) -> str:
    """ "3 March 2026" in the page's language ("3 de marzo de 2026")."""
    return date_format(
        timezone.localdate(moment), pgettext("date format: day, month and year", "j F Y")
    )


def short_date(moment: datetime.datetime) -> str:
    """ "30 Nov" in the page's language, as that language writes it ("30 nov" in Spanish,
    whose month abbreviations are not capitalized: the format's "b")."""
    return date_format(
        timezone.localdate(moment), pgettext("date format: day and short month", "j M")
    )


@dataclass
class ChartPoint:
    x: float
    y: float
    total: int
    item9_positive: bool
    label_y: float = 0
    # A triangle's corners, for a positive item 9 (shape, not only colour, tells it apart).
    triangle: str = ""


@dataclass
class Chart:
    instrument: str
    name: str
    height: int
    plot_left: float
    plot_right: float
    plot_top: float
    plot_bottom: float
    bands: list[dict] = field(default_factory=list)
    ticks: list[dict] = field(default_factory=list)
    points: list[ChartPoint] = field(default_factory=list)
    line: str = ""  # the polyline's points
    dates: list[dict] = field(default_factory=list)
    lines: list[dict] = field(default_factory=list)  # response and remission thresholds
    show_item9: bool = False
    width: int = 560

    @property
    def plot_width(self) -> float:
        return self.plot_right - self.plot_left

    @property
    def tick_x(self) -> float:
        return self.plot_left - 6

    @property
    def band_label_x(self) -> float:
        return self.plot_left + 6

    @property
    def line_label_x(self) -> float:
        return self.plot_right + 4

    @property
    def date_y(self) -> float:
        return self.plot_bottom + 18


def _band_top(bands: tuple[Band, ...], index: int, scale_max: int) -> float:
    """A band is drawn up to where the next one starts (10-14 runs up to 15), the last to the
    top of the scale."""
    if index + 1 < len(bands):
        return min(bands[index + 1].low, scale_max)
    return scale_max


def build_charts(course: Course, bands: tuple[Band, ...], *, for_patient: bool = False) -> dict:
    """The wide and the narrow drawing of one instrument's course."""
    reader = "patient" if for_patient else "physician"
    return {
        "wide": build_chart(course, bands, for_patient=for_patient, layout=WIDE[reader]),
        "narrow": build_chart(course, bands, for_patient=for_patient, layout=NARROW),
    }


def build_chart(
    course: Course,
    bands: tuple[Band, ...],
    *,
    for_patient: bool = False,
    layout: Layout | None = None,
) -> Chart | None:
    """The shapes of one instrument's chart; None when there is nothing to draw."""
    if not course.points:
        return None
    layout = layout or WIDE["patient" if for_patient else "physician"]
    height = layout.heights.get(course.instrument, 240)
    width = layout.width
    scale_max = course.scale_max or 1
    left, right = MARGIN_LEFT, width - layout.margin_right
    top, bottom = MARGIN_TOP, height - MARGIN_BOTTOM

    def y(value: float) -> float:
        return round(bottom - (bottom - top) * min(value, scale_max) / scale_max, 1)

    chart = Chart(
        instrument=course.instrument,
        name=NAMES.get(course.instrument, course.instrument),
        height=height,
        plot_left=left,
        plot_right=right,
        plot_top=top,
        plot_bottom=bottom,
        show_item9=not for_patient and course.instrument == PHQ9,
        width=width,
    )
    ordered = sorted(bands, key=lambda band: band.low)
    for index, band in enumerate(ordered):
        low, high = max(band.low, 0), _band_top(tuple(ordered), index, scale_max)
        if high <= low:
            continue
        chart.bands.append(
            {
                "y": y(high),
                "height": round(y(low) - y(high), 1),
                "css": f"course-band-{index % 5}",
                # The patient's chart is shaded but not labelled with clinical words.
                "label": band.label if layout.band_label_room and not for_patient else "",
                "label_y": round((y(low) + y(high)) / 2 + 4, 1),
            }
        )
    tick_values = sorted({0, scale_max, *(int(b.low) for b in ordered if 0 < b.low < scale_max)})
    chart.ticks = [{"value": value, "y": y(value), "text_y": y(value) + 4} for value in tick_values]

    times = [p.point.taken_at for p in course.points]
    span = (times[-1] - times[0]).total_seconds()
    labelled = any(band["label"] for band in chart.bands)
    inner_left = left + (layout.band_label_room if labelled else EDGE)
    inner_right = right - EDGE
    for index, point in enumerate(course.points):
        if len(course.points) == 1:
            x = (inner_left + inner_right) / 2
        elif span <= 0:  # all sent at one moment: evenly spaced, in order
            x = inner_left + (inner_right - inner_left) * index / (len(course.points) - 1)
        else:
            elapsed = (point.point.taken_at - times[0]).total_seconds()
            x = inner_left + (inner_right - inner_left) * elapsed / span
        x, py = round(x, 1), y(point.point.total)
        marked = chart.show_item9 and point.item9_positive
        chart.points.append(
            ChartPoint(
                x=x,
                y=py,
                total=point.point.total,
                item9_positive=marked,
                label_y=round(py - 10, 1),
                triangle=f"{x},{py - 8} {x + 7},{py + 5} {x - 7},{py + 5}" if marked else "",
            )
        )
    chart.line = " ".join(f"{p.x},{p.y}" for p in chart.points)
    last_x = None
    for index, (shape, point) in enumerate(zip(chart.points, course.points, strict=True)):
        is_last = index == len(chart.points) - 1
        if last_x is not None and shape.x - last_x < layout.date_gap:
            if not is_last:
                continue
            chart.dates.pop()  # the latest date matters more than the one before it
        chart.dates.append({"x": shape.x, "text": short_date(point.point.taken_at)})
        last_x = shape.x

    if not for_patient:
        threshold = course.response_threshold
        if threshold is not None:
            chart.lines.append(
                {
                    "y": y(threshold),
                    "css": "course-line-response",
                    "text": _("Response ≤ %(total)s") % {"total": _number(threshold)},
                }
            )
        if course.remission_below is not None:
            chart.lines.append(
                {
                    "y": y(course.remission_below),
                    "css": "course-line-remission",
                    "text": _("Remission < %(total)s") % {"total": course.remission_below},
                }
            )
        # Beside its line, right of the plot; two lines closer than a line of text part
        # their labels (the higher one up, the lower one down).
        for line in chart.lines:
            line["text_y"] = line["y"] + 4
            if not layout.line_labels:
                line["text"] = ""
        if len(chart.lines) == 2 and abs(chart.lines[0]["y"] - chart.lines[1]["y"]) < 13:
            upper, lower = sorted(chart.lines, key=lambda line: line["y"])
            middle = (upper["y"] + lower["y"]) / 2
            upper["text_y"], lower["text_y"] = middle - 3, middle + 11
    return chart


def _number(value: float) -> str:
    """A whole number as is, else one decimal, as the active language writes it ("7.5", "7,5")."""
    if float(value).is_integer():
        return str(int(value))
    return number_format(value, decimal_pos=1)


def band_of(bands: tuple[Band, ...], total: int) -> str:
    return next((band.label for band in bands if band.low <= total <= band.high), "")


def table_rows(course: Course, bands: tuple[Band, ...]) -> list[dict]:
    """One row per point: date, questionnaire, total, band, change, item 9."""
    rows = []
    for point in course.points:
        rows.append(
            {
                "date": long_date(point.point.taken_at),
                "label": _(point.point.label) if point.point.label else "",
                "ref": point.point.ref,
                "total": point.point.total,
                # The band the questionnaire's own definition gave, else today's content's.
                "band": point.point.band or band_of(bands, point.point.total),
                "change": change_words(point),
                "plain_change": plain_change(point),
                "item9": point.point.item9,
                "item9_positive": point.item9_positive,
                "is_baseline": point.is_baseline,
            }
        )
    return rows


def change_words(point: CoursePoint) -> str:
    if point.is_baseline:
        return _("Baseline")
    sign = "+" if point.change > 0 else ("−" if point.change < 0 else "±")
    text = f"{sign}{abs(point.change)}"
    if point.fall_percent is not None:
        percent = -point.fall_percent
        text += f" ({'+' if percent > 0 else '−' if percent < 0 else '±'}{abs(percent)}%)"
    return text


def plain_change(point: CoursePoint) -> str:
    if point.is_baseline:
        return _("Your first score")
    if point.change == 0:
        return _("The same as your first")
    if point.change < 0:
        return _("%(points)s lower than your first") % {"points": abs(point.change)}
    return _("%(points)s higher than your first") % {"points": abs(point.change)}


def latest_item9_warning(course: Course) -> str:
    """For the physician, before anything else: item 9 positive at the latest PHQ-9, whatever
    the totals did ("" when it is not). A falling total does not make this answer safer.
    Source: clinical-reference.md, "PHQ-9 item 9 scored 1 or more" (same-day clinician
    review; rule phq9_item9_positive)."""
    if course.instrument != PHQ9 or not course.points or not course.latest.item9_positive:
        return ""
    latest = course.latest
    return _(
        "Item 9 positive at the latest questionnaire (%(date)s, answer %(answer)s): thoughts of "
        "being better off dead or of self-harm. Needs same-day clinician review, whatever the "
        "change in the total."
    ) % {"date": long_date(latest.point.taken_at), "answer": latest.point.item9}


def physician_statements(course: Course) -> list[str]:
    """Response, remission and item 9 in words, for the physician (a positive item 9 at the
    latest questionnaire is said separately and first: latest_item9_warning)."""
    if not course.points:
        return []
    name = NAMES.get(course.instrument, course.instrument)
    baseline, latest = course.baseline, course.latest
    values = {
        "name": name,
        "total": baseline.point.total,
        "date": long_date(baseline.point.taken_at),
    }
    if baseline.point.label:
        first = _("Baseline %(name)s total %(total)s on %(date)s (%(questionnaire)s).") % {
            **values,
            "questionnaire": _(baseline.point.label),
        }
    else:
        first = _("Baseline %(name)s total %(total)s on %(date)s.") % values
    lines = [first]
    if latest is baseline:
        lines.append(_("Only one total so far: nothing to compare it with yet."))
    else:
        lines.append(
            _("Latest total %(total)s on %(date)s: %(change)s from baseline.")
            % {
                "total": latest.point.total,
                "date": long_date(latest.point.taken_at),
                "change": change_words(latest),
            }
        )
        if not course.response_possible:
            lines.append(_("Response cannot be judged: the baseline total is 0."))
        elif latest.response:
            lines.append(
                # "%%": one format for every sentence (msgfmt checks it), formatted like them.
                _("Response at the latest questionnaire: a fall of at least 50%% from baseline.")
                % {}
            )
        else:
            responded = [p for p in course.points if p.response]
            if responded:
                lines.append(
                    _(
                        "No response at the latest questionnaire (a fall of at least 50%% from "
                        "baseline); there was one on %(date)s."
                    )
                    % {"date": long_date(responded[-1].point.taken_at)}
                )
            else:
                lines.append(
                    _(
                        "No response at the latest questionnaire (a fall of at least 50%% from "
                        "baseline)."
                    )
                    % {}
                )
    if course.remission_below is not None:
        remission = {"name": name, "below": course.remission_below}
        if latest.remission:
            lines.append(
                _("Remission (%(name)s below %(below)s): yes at the latest questionnaire.")
                % remission
            )
        else:
            lines.append(
                _("Remission (%(name)s below %(below)s): no at the latest questionnaire.")
                % remission
            )
    if course.instrument == PHQ9:
        positive = course.item9_positive_points
        unknown = sum(1 for p in course.points if p.point.item9 is None)
        if positive:
            lines.append(
                ngettext(
                    "Item 9 (thoughts of being better off dead or of self-harm) positive on "
                    "%(positive)s of %(count)s questionnaire: %(dates)s.",
                    "Item 9 (thoughts of being better off dead or of self-harm) positive on "
                    "%(positive)s of %(count)s questionnaires: %(dates)s.",
                    len(course.points),
                )
                % {
                    "positive": len(positive),
                    "count": len(course.points),
                    "dates": ", ".join(long_date(p.point.taken_at) for p in positive),
                }
            )
        elif unknown:
            lines.append(
                _(
                    "Item 9 (thoughts of being better off dead or of self-harm) was not positive "
                    "on any questionnaire (%(unknown)s without an answer)."
                )
                % {"unknown": unknown}
            )
        else:
            lines.append(
                _(
                    "Item 9 (thoughts of being better off dead or of self-harm) was not positive "
                    "on any questionnaire."
                )
            )
    return lines


def latest_item9_positive(course: Course) -> bool:
    """Whether the latest PHQ-9 answered "thoughts that you would be better off dead or of
    hurting yourself" on at least several days."""
    return course.instrument == PHQ9 and bool(course.points) and course.latest.item9_positive


# For the patient whose latest questionnaire said they had thoughts of being better off dead
# or of hurting themselves: no praise of a falling score, a kind pointer to help instead.
PATIENT_ITEM9_MESSAGE = gettext_lazy(
    "In your latest questionnaire you said you have had thoughts that you would be better "
    "off dead, or of hurting yourself. Thank you for telling us. Please talk to your clinic "
    "about how you are feeling; you do not have to wait for your next questionnaire. If you "
    "feel unsafe now, use the crisis lines below."
)


def patient_sentence(course: Course, *, plain: bool = False) -> str:
    """One plain sentence: the first score, the latest, and which way it went. `plain`
    (the latest questionnaire had thoughts of self-harm): only the two numbers, no word
    about a fall that could read as "you are doing well"."""
    if not course.points:
        return ""
    values = {
        "name": PLAIN_NAMES.get(course.instrument, course.instrument),
        "first": course.baseline.point.total,
        "latest": course.latest.point.total,
        "change": abs(course.latest.change),
    }
    baseline, latest = course.baseline, course.latest
    if latest is baseline:
        return _(
            "Your %(name)s score was %(first)s on %(date)s. When you answer it again, you will "
            "see here how it has changed."
        ) % {**values, "date": long_date(baseline.point.taken_at)}
    # Whole sentences, each translated as one: the end of each says which way it went.
    if plain:
        text = _(
            "Your %(name)s score was %(first)s at your first questionnaire and %(latest)s at your latest."
        )
    elif latest.change == 0:
        text = _(
            "Your %(name)s score was %(first)s at your first questionnaire and %(latest)s at "
            "your latest: the same."
        )
    elif latest.change > 0:
        text = _(
            "Your %(name)s score was %(first)s at your first questionnaire and %(latest)s at "
            "your latest: up by %(change)s."
        )
    elif latest.response:
        text = _(
            "Your %(name)s score was %(first)s at your first questionnaire and %(latest)s at "
            "your latest: down by half or more."
        )
    else:
        text = _(
            "Your %(name)s score was %(first)s at your first questionnaire and %(latest)s at "
            "your latest: down by %(change)s."
        )
    return text % values
