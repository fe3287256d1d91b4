"""The patient's "How you have been feeling" page: their own PHQ-9 (and GAD-7) scores over
time, in plain words, with the same chart and table the physician reads, minus the clinical
labels and item 9's markings (those are for the care team to act on, not to worry over).

Only the logged-in patient's own questionnaires are read; the page takes no identifier.
"""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from ..course_chart import (
    NAMES,
    PATIENT_ITEM9_MESSAGE,
    PLAIN_NAMES,
    build_charts,
    latest_item9_positive,
    patient_sentence,
    table_rows,
)
from ..engine.course import GAD7, PHQ9, SCALE_MAX, course_of
from ..selectors import patient_course


@login_required
@require_GET
def feeling(request: HttpRequest) -> HttpResponse:
    if request.user.is_clinic_staff:
        return redirect("staff:home")
    data = patient_course(request.user, today=timezone.localdate())
    # The latest PHQ-9 had thoughts of self-harm: no sentence on the page praises a fall.
    item9_now = latest_item9_positive(course_of(data.points, PHQ9))
    courses = []
    for instrument in (PHQ9, GAD7):
        course = course_of(data.points, instrument)
        if not course.points:
            continue
        bands = data.bands.get(instrument, ())
        sentence = patient_sentence(course, plain=item9_now)
        courses.append(
            {
                "instrument": instrument,
                "name": NAMES[instrument],
                "plain_name": PLAIN_NAMES[instrument],
                "sentence": sentence,
                "scale_max": SCALE_MAX[instrument],
                "charts": build_charts(course, bands, for_patient=True),
                "rows": table_rows(course, bands),
                # The chart's short name; the sentence describes it (aria-describedby).
                "title": _("Your %(name)s scores over time, chart")
                % {"name": PLAIN_NAMES[instrument]},
            }
        )
    return render(
        request,
        "patient/feeling.html",
        {"courses": courses, "item9_message": PATIENT_ITEM9_MESSAGE if item9_now else ""},
    )
