"""The physician's page about one patient: who they are, the questionnaires they have sent,
and the course of their PHQ-9 (and GAD-7) totals as a chart with a table beside it.

Read by physicians (the review permission), audited like a screening page.
"""

import uuid

from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Exists, OuterRef
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET

from .. import audit
from ..course_chart import (
    NAMES,
    build_charts,
    latest_item9_warning,
    physician_statements,
    table_rows,
)
from ..engine.course import GAD7, PHQ9, course_of
from ..models import AuditAction, Screening, TreatmentCourse, TreatmentSession, User
from ..selectors import patient_course


@login_required
@permission_required("screening.review_screening", raise_exception=True)
@require_GET
def patient_detail(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    # Only someone who has sent a questionnaire is a patient staff may read: anyone else
    # (unknown, staff, a patient who never sent one) is "not found".
    patient = (
        User.objects.filter(pk=patient_id)
        .annotate(in_treatment=Exists(TreatmentCourse.objects.filter(patient=OuterRef("pk"))))
        .first()
    )
    if patient is None:
        raise Http404
    data = patient_course(patient, today=timezone.localdate())
    if not data.sent:
        raise Http404
    audit.record(
        request=request,
        action=AuditAction.PATIENT_COURSE_VIEWED,
        obj=patient,
        summary="Course of symptoms read",
    )
    status_of = dict(Screening.Status.choices)
    courses = []
    for instrument in (PHQ9, GAD7):
        course = course_of(data.points, instrument)
        if not course.points:
            continue
        bands = data.bands.get(instrument, ())
        name = NAMES[instrument]
        courses.append(
            {
                "instrument": instrument,
                "name": name,
                "charts": build_charts(course, bands),
                "rows": table_rows(course, bands),
                "warning": latest_item9_warning(course),
                "statements": physician_statements(course),
                # The chart's short name; the statements describe it (aria-describedby).
                "title": gettext("%(instrument)s totals of %(patient)s over time, chart")
                % {"instrument": name, "patient": patient.full_name},
                "show_item9": instrument == PHQ9,
                "response_threshold": course.response_threshold,
                "remission_below": course.remission_below,
            }
        )
    # A session's check-in is never decided (it has no decision form): the session's status
    # says whether the dose goes ahead, so it links there instead of "Awaiting review".
    sessions_of = {
        session.check_in_id: session
        for session in TreatmentSession.objects.filter(
            check_in_id__in=[one.screening_id for one in data.sent]
        ).only("id", "check_in_id", "scheduled_for")
    }
    questionnaires = [
        {
            "sent": one,
            "status": status_of.get(one.status, one.status),
            "session": sessions_of.get(one.screening_id),
        }
        for one in reversed(data.sent)
    ]
    return render(
        request,
        "staff/patient.html",
        {
            "patient": patient,
            "age": data.age,
            "sex": data.sex,
            "questionnaires": questionnaires,
            "courses": courses,
            # A patient in treatment is one of the Sessions tab's; otherwise the queue's.
            "active_tab": "sessions" if patient.in_treatment else "queue",
        },
    )
