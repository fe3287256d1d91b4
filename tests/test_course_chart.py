"""The course of symptoms as drawn and worded: where the chart puts things, and the
sentences the physician and the patient read."""

import datetime

import pytest

from screening.course_chart import (
    NARROW,
    WIDE,
    build_chart,
    change_words,
    latest_item9_positive,
    latest_item9_warning,
    patient_sentence,
    physician_statements,
)
from screening.engine.course import GAD7, PHQ9, Point, course_of
from screening.engine.rules import Band

DAY = datetime.datetime(2026, 11, 2, 12, 0, tzinfo=datetime.UTC)
PHQ9_BANDS = (
    Band(0, 4, "Minimal or none"),
    Band(5, 9, "Mild"),
    Band(10, 14, "Moderate"),
    Band(15, 19, "Moderately severe"),
    Band(20, 27, "Severe"),
)


def phq9(*totals, item9=None, days=7):
    item9 = item9 or [0] * len(totals)
    return course_of(
        [
            Point(PHQ9, DAY + datetime.timedelta(days=days * i), t, item9[i], ref=str(i))
            for i, t in enumerate(totals)
        ],
        PHQ9,
    )


def test_the_scale_runs_from_0_at_the_bottom_to_27_at_the_top():
    chart = build_chart(phq9(0, 27), PHQ9_BANDS)
    low, high = chart.points
    assert low.y == chart.plot_bottom and high.y == chart.plot_top
    assert low.x < high.x
    assert [tick["value"] for tick in chart.ticks] == [0, 5, 10, 15, 20, 27]


def test_the_bands_meet_at_their_boundaries_and_fill_the_scale():
    chart = build_chart(phq9(12), PHQ9_BANDS)
    tops = [band["y"] for band in chart.bands]
    bottoms = [round(band["y"] + band["height"], 1) for band in chart.bands]
    assert bottoms[0] == chart.plot_bottom and tops[-1] == chart.plot_top
    assert tops[:-1] == bottoms[1:]  # each band starts where the one below ends
    assert [band["label"] for band in chart.bands][0] == "Minimal or none"


def test_the_physicians_chart_marks_item9_with_a_triangle_and_draws_both_lines():
    chart = build_chart(phq9(18, 12, 8, item9=[0, 1, 0]), PHQ9_BANDS)
    assert [bool(p.triangle) for p in chart.points] == [False, True, False]
    assert [line["text"] for line in chart.lines] == ["Response ≤ 9", "Remission < 5"]
    # The lines' names sit right of the plot, the bands' names left of the first point.
    assert all(chart.line_label_x > chart.plot_right for _ in chart.lines)
    assert chart.points[0].x > chart.band_label_x + 100


def test_the_patients_chart_has_no_item9_marks_no_clinical_labels_and_no_lines():
    chart = build_chart(phq9(18, 12, item9=[0, 2]), PHQ9_BANDS, for_patient=True)
    assert not any(p.item9_positive or p.triangle for p in chart.points)
    assert not any(band["label"] for band in chart.bands)
    assert chart.lines == []


def test_the_narrow_drawing_names_nothing_inside_and_leaves_it_to_the_legend():
    chart = build_chart(phq9(18, 8), PHQ9_BANDS, layout=NARROW)
    assert chart.width == NARROW.width < WIDE["physician"].width
    assert not any(band["label"] for band in chart.bands)
    assert [line["text"] for line in chart.lines] == ["", ""]


def test_a_baseline_of_0_draws_no_response_line():
    chart = build_chart(phq9(0, 4), PHQ9_BANDS)
    assert [line["css"] for line in chart.lines] == ["course-line-remission"]


def test_a_gad7_chart_has_no_remission_line():
    course = course_of([Point(GAD7, DAY, 12), Point(GAD7, DAY.replace(day=20), 4)], GAD7)
    chart = build_chart(course, (Band(0, 4, "Minimal"), Band(15, 21, "Severe")))
    assert [line["css"] for line in chart.lines] == ["course-line-response"]
    assert chart.ticks[-1]["value"] == 21


def test_one_point_sits_in_the_middle_and_points_sent_together_are_spread_in_order():
    (only,) = build_chart(phq9(10), PHQ9_BANDS).points
    assert only.x > 200
    together = build_chart(phq9(10, 11, 12, days=0), PHQ9_BANDS).points
    assert together[0].x < together[1].x < together[2].x


def test_crowded_dates_are_labelled_without_overlap_and_the_latest_always():
    chart = build_chart(phq9(*range(20, 8, -1), days=1), PHQ9_BANDS)
    xs = [d["x"] for d in chart.dates]
    assert all(b - a >= WIDE["physician"].date_gap for a, b in zip(xs, xs[1:], strict=False))
    assert xs[-1] == chart.points[-1].x


@pytest.mark.parametrize(
    ("totals", "ending"),
    [
        ((18, 8), "18 at your first questionnaire and 8 at your latest: down by half or more."),
        ((18, 9), "and 9 at your latest: down by half or more."),  # exactly half
        ((18, 10), "and 10 at your latest: down by 8."),
        ((12, 12), "and 12 at your latest: the same."),
        ((8, 14), "and 14 at your latest: up by 6."),
        ((0, 0), "and 0 at your latest: the same."),
    ],
)
def test_the_patient_reads_one_plain_sentence(totals, ending):
    sentence = patient_sentence(phq9(*totals))
    assert sentence.startswith("Your depression questionnaire (PHQ-9) score was ")
    assert sentence.endswith(ending)
    for word in ("response", "remission", "item 9", "band"):
        assert word not in sentence.lower()


def test_with_thoughts_of_self_harm_at_the_latest_the_sentence_gives_only_the_numbers():
    course = phq9(18, 8, item9=[0, 1])
    assert latest_item9_positive(course)
    sentence = patient_sentence(course, plain=True)
    assert sentence.endswith("18 at your first questionnaire and 8 at your latest.")
    assert not latest_item9_positive(phq9(18, 8, item9=[1, 0]))  # an earlier one only


def test_the_physician_is_warned_first_of_item9_at_the_latest_questionnaire():
    warning = latest_item9_warning(phq9(20, 4, item9=[0, 2]))
    assert warning.startswith("Item 9 positive at the latest questionnaire (9 November 2026")
    assert "Needs same-day clinician review, whatever the change in the total." in warning
    assert latest_item9_warning(phq9(20, 4, item9=[2, 0])) == ""


def test_a_single_score_tells_the_patient_what_comes_next():
    assert "When you answer it again" in patient_sentence(phq9(14))


def test_the_physician_reads_response_remission_and_item9_in_words():
    lines = physician_statements(phq9(20, 4, item9=[1, 0]))
    assert "Response at the latest questionnaire" in lines[2]
    assert lines[3] == "Remission (PHQ-9 below 5): yes at the latest questionnaire."
    assert lines[4].startswith("Item 9 (thoughts of being better off dead or of self-harm) ")
    assert "positive on 1 of 2 questionnaires: 2 November 2026." in lines[4]
    earlier = physician_statements(phq9(20, 10, 12))
    assert "No response at the latest questionnaire" in earlier[2]
    assert "there was one on 9 November 2026." in earlier[2]


def test_change_is_written_with_a_true_minus_sign_and_the_percentage():
    course = phq9(20, 10, 25)
    assert [change_words(p) for p in course.points] == ["Baseline", "−10 (−50%)", "+5 (+25%)"]
    assert change_words(phq9(0, 3).points[1]) == "+3"


# In Spanish ---------------------------------------------------------------------------------


def test_a_short_date_is_written_as_the_language_writes_it():
    from django.utils import translation

    from screening.course_chart import short_date

    day = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.UTC)
    with translation.override("en-us"):
        assert short_date(day) == "30 Nov"
    with translation.override("es"):
        assert short_date(day) == "30 nov"


@pytest.mark.django_db
def test_the_spanish_chart_draws_its_numbers_with_decimal_points(default_version):
    """Spanish writes 219,5 where SVG needs 219.5: every number in the drawing stays as SVG
    reads it, whatever the page's language."""
    import re

    from django.test import Client
    from django.utils import translation

    from tests.factories import make_patient, make_sent_questionnaire

    patient = make_patient("Pat Curso")
    patient.preferred_language = "es"
    patient.save(update_fields=["preferred_language"])
    make_sent_questionnaire(patient=patient, phq9=18, gad7=12, days_ago=28)
    make_sent_questionnaire(patient=patient, phq9=7, gad7=5, days_ago=7)
    client = Client()
    client.force_login(patient)
    with translation.override("en-us"):  # the request leaves Spanish active: undone after
        html = client.get("/screenings/how-you-have-been-feeling/").content.decode()
    assert 'lang="es"' in html
    svgs = re.findall(r"<svg class=\"course-chart\".*?</svg>", html, re.S)
    assert svgs
    for svg in svgs:
        for name, value in re.findall(
            r'\b(x|y|x1|x2|y1|y2|cx|cy|width|height|points|viewBox)="([^"]*)"', svg
        ):
            assert re.fullmatch(r"[-0-9. ,]*", value), (name, value)
            if name != "points":
                assert "," not in value, (name, value)
        # A polyline's points are "x,y x,y": exactly one comma per pair.
        for points in re.findall(r'points="([^"]*)"', svg):
            for pair in points.split():
                assert re.fullmatch(r"-?[0-9.]+,-?[0-9.]+", pair), pair
