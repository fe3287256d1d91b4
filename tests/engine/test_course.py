"""The course of symptoms: baseline, change, response (a fall of at least 50% from the
baseline) and remission (PHQ-9 below 5), at their boundaries (clinical-reference-sessions.md
§4), and a positive PHQ-9 item 9 (score 1 or more, clinical-reference.md §3.2)."""

import datetime

import pytest

from screening.engine.course import (
    GAD7,
    PHQ9,
    Point,
    course_of,
    fall_percent,
    is_remission,
    is_response,
)

DAY = datetime.datetime(2026, 11, 1, 9, 0, tzinfo=datetime.UTC)


def phq9(*totals, item9=None):
    item9 = item9 or [0] * len(totals)
    return [
        Point(PHQ9, DAY + datetime.timedelta(days=7 * i), total, item9[i], ref=str(i))
        for i, total in enumerate(totals)
    ]


@pytest.mark.parametrize(
    ("baseline", "total", "response"),
    [
        (18, 9, True),  # exactly a 50% fall is a response
        (18, 10, False),  # 44%
        (19, 9, True),  # 52.6%
        (19, 10, False),  # 47.4%
        (20, 10, True),  # exactly 50%
        (20, 11, False),  # 45%
        (101, 51, False),  # 49.5%: just under half is not a response
        (100, 50, True),
        (1, 0, True),
        (10, 0, True),
        (10, 12, False),  # worse
    ],
)
def test_a_response_is_a_fall_of_at_least_half(baseline, total, response):
    assert is_response(baseline, total) is response


def test_a_fall_of_49_and_a_fraction_percent_reads_49_not_50():
    assert fall_percent(101, 51) == 49  # 49.5%
    assert fall_percent(18, 9) == 50
    assert fall_percent(10, 12) == -20  # a rise is a negative fall


def test_a_baseline_of_0_has_no_response_and_divides_by_nothing():
    assert is_response(0, 0) is None
    assert fall_percent(0, 5) is None
    course = course_of(phq9(0, 3), PHQ9)
    assert not course.response_possible
    assert course.response_threshold is None
    assert [p.response for p in course.points] == [None, None]
    assert [p.fall_percent for p in course.points] == [None, None]
    assert [p.change for p in course.points] == [0, 3]


@pytest.mark.parametrize(("total", "remission"), [(4, True), (5, False), (0, True), (27, False)])
def test_phq9_remission_is_a_total_below_5(total, remission):
    assert is_remission(PHQ9, total) is remission


def test_gad7_has_no_remission_definition_so_none_is_made():
    assert is_remission(GAD7, 0) is None
    course = course_of([Point(GAD7, DAY, 12), Point(GAD7, DAY.replace(day=20), 4)], GAD7)
    assert [p.remission for p in course.points] == [None, None]
    assert course.remission_below is None
    assert course.points[1].response is True  # 12 -> 4 is still a fall of more than half


def test_the_first_point_in_time_is_the_baseline_whatever_order_they_come_in():
    points = phq9(18, 12, 9)
    course = course_of(reversed(points), PHQ9)
    assert [p.point.total for p in course.points] == [18, 12, 9]
    assert course.baseline.point.total == 18 and course.baseline.is_baseline
    assert [p.change for p in course.points] == [0, -6, -9]
    assert [p.fall_percent for p in course.points] == [0, 33, 50]
    assert [p.response for p in course.points] == [False, False, True]
    assert course.response_threshold == 9
    assert course.latest.point.total == 9


def test_a_single_point_is_its_own_baseline_with_nothing_to_compare():
    course = course_of(phq9(14), PHQ9)
    (only,) = course.points
    assert only.is_baseline and only.change == 0 and only.response is False
    assert course.latest is course.baseline


def test_no_points_make_an_empty_course():
    course = course_of([], PHQ9)
    assert course.points == () and course.baseline is None and course.latest is None
    assert not course.response_possible


@pytest.mark.parametrize(("score", "positive"), [(0, False), (1, True), (3, True), (None, False)])
def test_item9_is_positive_from_a_score_of_1(score, positive):
    (point,) = course_of(phq9(10, item9=[score]), PHQ9).points
    assert point.item9_positive is positive


def test_a_positive_item9_is_marked_whatever_the_total():
    course = course_of(phq9(16, 3, item9=[0, 1]), PHQ9)
    assert [p.item9_positive for p in course.points] == [False, True]
    assert course.points[1].remission is True  # in remission by total, item 9 still shown
    assert course.item9_positive_points == (course.points[1],)


def test_each_instrument_is_its_own_course():
    points = [*phq9(18, 9), Point(GAD7, DAY, 10)]
    assert len(course_of(points, PHQ9).points) == 2
    assert len(course_of(points, GAD7).points) == 1
    assert course_of(points, PHQ9).scale_max == 27 and course_of(points, GAD7).scale_max == 21
