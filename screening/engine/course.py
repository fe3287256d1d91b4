"""The course of symptoms: a patient's PHQ-9 (and GAD-7) totals over time, against the first.

Plain data in (dated totals, and PHQ-9 item 9's score), plain data out (each point's change
from the baseline, response, remission, a positive item 9). The definitions are those of
clinical-reference-sessions.md §4: response is a fall of at least 50% from the baseline
total; remission is a PHQ-9 total below 5; a positive item 9 is a score of 1 or more
(clinical-reference.md §3.2). GAD-7 has no remission definition there, so none is made up.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

PHQ9 = "phq9_total"
GAD7 = "gad7_total"

# Each instrument's range (clinical-reference.md §3.1: PHQ-9 0–27, GAD-7 0–21).
SCALE_MAX = {PHQ9: 27, GAD7: 21}
# Remission: a PHQ-9 total below 5 (clinical-reference-sessions.md §4). PHQ-9 only.
REMISSION_BELOW = {PHQ9: 5}
# PHQ-9 item 9 scored 1 or more is positive, whatever the total (clinical-reference.md §3.2).
ITEM9_POSITIVE_FROM = 1


@dataclass(frozen=True)
class Point:
    """One total the patient sent: when, on which questionnaire, and item 9's score."""

    instrument: str  # PHQ9 or GAD7 (the score's code)
    taken_at: datetime.datetime
    total: int
    item9: int | None = None  # PHQ-9 item 9's score; None when not known (or GAD-7)
    label: str = ""  # the questionnaire's name, as the patient and staff know it
    band: str = ""  # the band the questionnaire's own score definition gave the total
    ref: str = ""  # what the caller needs to find the questionnaire again (its id)


@dataclass(frozen=True)
class CoursePoint:
    point: Point
    change: int  # total minus the baseline total (negative: fewer symptoms)
    # The fall from the baseline in whole per cent (positive = better); None when the
    # baseline is 0, where no fall is possible and a percentage would divide by zero.
    fall_percent: int | None
    response: bool | None  # None: baseline 0, response cannot be judged
    remission: bool | None  # None: the instrument has no remission definition
    item9_positive: bool
    is_baseline: bool = False


@dataclass(frozen=True)
class Course:
    """One instrument's points in time order, the first being the baseline."""

    instrument: str
    points: tuple[CoursePoint, ...]

    @property
    def baseline(self) -> CoursePoint | None:
        return self.points[0] if self.points else None

    @property
    def latest(self) -> CoursePoint | None:
        return self.points[-1] if self.points else None

    @property
    def response_possible(self) -> bool:
        """A fall of half is only defined from a baseline above 0."""
        return bool(self.points) and self.points[0].point.total > 0

    @property
    def response_threshold(self) -> float | None:
        """The total at or below which a point is a response: half the baseline."""
        if not self.response_possible:
            return None
        return self.points[0].point.total / 2

    @property
    def remission_below(self) -> int | None:
        return REMISSION_BELOW.get(self.instrument)

    @property
    def item9_positive_points(self) -> tuple[CoursePoint, ...]:
        return tuple(p for p in self.points if p.item9_positive)

    @property
    def scale_max(self) -> int:
        return SCALE_MAX.get(self.instrument, max((p.point.total for p in self.points), default=0))


def is_response(baseline: int, total: int) -> bool | None:
    """A fall of at least 50% from the baseline: total <= baseline / 2, in whole numbers so
    exactly half is a response and nothing is lost to rounding. None when the baseline is 0."""
    if baseline <= 0:
        return None
    return 2 * total <= baseline


def fall_percent(baseline: int, total: int) -> int | None:
    """The fall from the baseline in per cent, rounded down toward no change, so 49.9% reads
    49% and is never shown as the 50% of a response. None when the baseline is 0."""
    if baseline <= 0:
        return None
    fall = (baseline - total) * 100
    return fall // baseline if fall >= 0 else -((-fall) // baseline)


def is_remission(instrument: str, total: int) -> bool | None:
    below = REMISSION_BELOW.get(instrument)
    return None if below is None else total < below


def course_of(points: Iterable[Point], instrument: str) -> Course:
    """The course of one instrument: its points oldest first, each against the first."""
    mine = sorted(
        (p for p in points if p.instrument == instrument), key=lambda p: (p.taken_at, p.ref)
    )
    if not mine:
        return Course(instrument, ())
    baseline = mine[0].total
    return Course(
        instrument,
        tuple(
            CoursePoint(
                point=point,
                change=point.total - baseline,
                fall_percent=fall_percent(baseline, point.total),
                response=is_response(baseline, point.total),
                remission=is_remission(instrument, point.total),
                item9_positive=point.item9 is not None and point.item9 >= ITEM9_POSITIVE_FROM,
                is_baseline=index == 0,
            )
            for index, point in enumerate(mine)
        ),
    )
