"""Treatment-session pages for nurses and physicians, under /staff/sessions/: the sessions
board, starting a course, a course with its sessions and the scheduling form, and one
session's page (readiness, the check-in's flags, vitals, dose, discharge).

What a nurse reads (docs/sessions.md): readiness with its reasons, vitals, the dose,
discharge, the check-in's flags as title, severity and what to do, and the escort and
transport answers. Never the screening's answers: the physician's "what changed since the
baseline sign-off" is drawn only for those who review screenings. Every read is audited.
"""

import datetime
import uuid
from collections.abc import Callable

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.db.models import Exists, OuterRef, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from .. import audit
from ..models import (
    AuditAction,
    DoseRecord,
    Flag,
    TreatmentCourse,
    TreatmentSession,
    VitalReading,
)
from ..services.review import (
    NOTE_REQUIRED_SEVERITIES,
    AcknowledgementNeedsNote,
    DecisionNotAllowed,
    StaleScreening,
    acknowledge_flag,
)
from ..services.sessions import (
    SessionNotAllowed,
    cancel_session,
    end_course,
    record_discharge,
    record_dose,
    record_reading,
    reschedule_session,
    review_blood_pressure,
    schedule_session,
    start_course,
)
from ..session_records import (
    SessionRecord,
    flags_of,
    limits,
    nurse_answers,
    session_answers,
    session_for_staff,
    session_records,
    sessions_for_staff,
    since_baseline,
)
from .forms import AcknowledgeForm
from .session_forms import (
    BloodPressureReviewForm,
    CancelSessionForm,
    DischargeForm,
    DoseForm,
    EndCourseForm,
    RescheduleForm,
    ScheduleForm,
    StartCourseForm,
    VitalsForm,
)

VIEW = "screening.view_treatmentsession"
SCHEDULE = "screening.schedule_session"
RECORD = "screening.record_vitals"
END_COURSE = "screening.decide_screening"  # a physician's decision
# The board shows today's sessions and the next ones, at most this many.
BOARD_UPCOMING_DAYS = 14
# The in-clinic record's forms, drawn again with their errors (or, once the record is closed,
# their messages shown on top).
RECORD_FORMS = ("pre_dose_form", "post_dose_form", "dose_form", "discharge_form")
BOARD_LIMIT = 200


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def board(request: HttpRequest) -> HttpResponse:
    audit.record(
        request=request, action=AuditAction.SESSIONS_BOARD_VIEWED, summary="Sessions board read"
    )
    today = timezone.localdate()
    start = timezone.make_aware(datetime.datetime.combine(today, datetime.time.min))
    end = start + datetime.timedelta(days=BOARD_UPCOMING_DAYS + 1)
    # A patient dosed and not yet discharged is in the clinic today, whatever day the session
    # was booked for (a dose recorded in the last day: an older one left undischarged is a
    # record to finish from its own page, not today's work).
    in_observation = Q(
        Exists(
            DoseRecord.objects.filter(
                session=OuterRef("pk"),
                given_at__gte=timezone.now() - datetime.timedelta(days=1),
            )
        ),
        discharge__isnull=True,
    )
    booked = Q(
        scheduled_for__gte=start,
        scheduled_for__lt=end,
        course__ended_at__isnull=True,
        cancelled_at__isnull=True,
    )
    sessions = (
        sessions_for_staff().filter(booked | in_observation).order_by("scheduled_for")[:BOARD_LIMIT]
    )
    records = session_records(sessions)
    tomorrow = start + datetime.timedelta(days=1)

    def is_today(record: SessionRecord) -> bool:
        observed = record.dose is not None and not hasattr(record.session, "discharge")
        return observed or record.session.scheduled_for < tomorrow

    context = {
        "today": [r for r in records if is_today(r)],
        "upcoming": [r for r in records if not is_today(r)],
        "days": BOARD_UPCOMING_DAYS,
        "limit": BOARD_LIMIT,
        "can_schedule": request.user.has_perm(SCHEDULE),
    }
    return render(request, "staff/sessions_board.html", context)


@login_required
@permission_required(SCHEDULE, raise_exception=True)
@require_http_methods(["GET", "POST"])
def start_course_view(request: HttpRequest) -> HttpResponse:
    form = StartCourseForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            course = start_course(
                patient=form.cleaned_data["patient"],
                product=form.cleaned_data["product"],
                actor=request.user,
                ip_address=audit.client_ip(request),
            )
        except SessionNotAllowed as error:
            form.add_error("patient", str(error))
        else:
            messages.success(request, gettext("Course started. Schedule its first session below."))
            return redirect("staff:course", course_id=course.pk)
    # The page lists cleared patients' names and emails: a read of patient data, audited
    # (the summary names no patient, like the board's).
    audit.record(
        request=request,
        action=AuditAction.COURSE_START_VIEWED,
        summary="Cleared patients listed to start a course",
    )
    return render(request, "staff/course_start.html", {"form": form})


def _course(course_id: uuid.UUID) -> TreatmentCourse:
    return get_object_or_404(
        TreatmentCourse.objects.select_related(
            "patient", "clearance__screening", "created_by", "ended_by"
        ),
        pk=course_id,
    )


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def course_detail(request: HttpRequest, course_id: uuid.UUID) -> HttpResponse:
    return _course_page(request, _course(course_id))


def _course_page(
    request: HttpRequest,
    course: TreatmentCourse,
    form: ScheduleForm | None = None,
    end_form: EndCourseForm | None = None,
) -> HttpResponse:
    audit.record(
        request=request,
        action=AuditAction.COURSE_VIEWED,
        screening=course.clearance.screening,
        obj=course,
        summary="Treatment course read",
    )
    sessions = sessions_for_staff().filter(course=course)
    context = {
        "course": course,
        "records": session_records(sessions),
        "form": form or ScheduleForm(),
        "can_schedule": request.user.has_perm(SCHEDULE) and course.ended_at is None,
        "can_end": request.user.has_perm(END_COURSE) and course.ended_at is None,
        "end_form": end_form or EndCourseForm(),
    }
    if not context["can_schedule"] and form is not None:
        # A booking sent for a course that has ended: the form is not drawn, say why on top.
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return render(request, "staff/course.html", context)


@login_required
@permission_required(END_COURSE, raise_exception=True)
@require_POST
def end_course_view(request: HttpRequest, course_id: uuid.UUID) -> HttpResponse:
    course = _course(course_id)
    form = EndCourseForm(request.POST)
    if form.is_valid():
        try:
            end_course(
                course=course,
                reason=form.cleaned_data["reason"],
                actor=request.user,
                ip_address=audit.client_ip(request),
            )
        except SessionNotAllowed as error:
            form.add_error(error.field or None, str(error))
        else:
            messages.success(
                request, gettext("Course ended. Its sessions still ahead are canceled.")
            )
            return redirect("staff:course", course_id=course.pk)
    return _course_page(request, _course(course_id), end_form=form)


@login_required
@permission_required(SCHEDULE, raise_exception=True)
@require_POST
def schedule(request: HttpRequest, course_id: uuid.UUID) -> HttpResponse:
    course = _course(course_id)
    form = ScheduleForm(request.POST)
    if form.is_valid():
        try:
            session = schedule_session(
                course=course,
                scheduled_for=form.cleaned_data["scheduled_for"],
                actor=request.user,
                ip_address=audit.client_ip(request),
            )
        except SessionNotAllowed as error:
            form.add_error(error.field or None, str(error))
        else:
            local = timezone.localtime(session.scheduled_for)
            messages.success(
                request, gettext("Session booked for %(date)s at %(time)s.") % _when(local)
            )
            return redirect("staff:course", course_id=course.pk)
    return _course_page(request, course, form)


# One session --------------------------------------------------------------------------


def _when(local: datetime.datetime) -> dict[str, str]:
    """A booking's date and time for a message ("Thursday 3 December 2026", "09:30"), the
    names of the day and month in the active language."""
    return {"date": date_format(local, "l j F Y"), "time": f"{local:%H:%M}"}


def _session(session_id: uuid.UUID) -> TreatmentSession:
    session = session_for_staff(session_id)
    if session is None:
        raise Http404
    return session


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def session_detail(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    return _session_page(request, _session(session_id))


def _session_page(request: HttpRequest, session: TreatmentSession, **forms: object) -> HttpResponse:
    """The session page, with any form that comes back with errors as it was typed. Every
    render is a read of the patient's record, audited."""
    audit.record(
        request=request,
        action=AuditAction.SESSION_VIEWED,
        screening=session.check_in,
        obj=session,
        summary="Treatment session read",
    )
    user = request.user
    reads_screenings = user.has_perm("screening.review_screening")
    # The check-in's flags and (for a physician) the baseline's, in one read; the check-in's
    # answers and the baseline's, in another, for the escort answers and what changed.
    baseline_id = session.course.clearance.screening_id if reads_screenings else None
    # Check-ins set aside when the session moved to another day: kept, with their flags.
    set_aside = (
        list(session.set_aside_check_ins.select_related("check_in"))
        if getattr(session, "has_set_aside", True)
        else []
    )
    flags = flags_of([session.check_in_id, baseline_id, *(one.check_in_id for one in set_aside)])
    for one in set_aside:
        one.sent = one.check_in.submitted_at is not None and not one.check_in.is_editable
        one.flags = flags.get(one.check_in_id, []) if one.sent else []
    (record,) = session_records([session], flags=flags)
    check_in_answers, baseline = session_answers(session, with_baseline=reads_screenings)
    can_record = (
        user.has_perm(RECORD) and not hasattr(session, "discharge") and session.cancelled_at is None
    )
    can_acknowledge = user.has_perm("screening.decide_screening")
    context = {
        "session": session,
        "course": session.course,
        "patient": session.course.patient,
        "record": record,
        "limits": limits(),
        "observation_minutes": settings.OBSERVATION_MINUTES,
        "due_readings": _due_readings(record),
        "post_minutes": settings.POST_DOSE_READING_MINUTES,
        "pre_readings": [r for r in record.readings if r.timing == VitalReading.Timing.PRE_DOSE],
        "post_readings": [r for r in record.readings if r.timing == VitalReading.Timing.POST_DOSE],
        "escort_answers": nurse_answers(session.check_in, check_in_answers),
        "set_aside": set_aside,
        "can_record": can_record,
        "can_acknowledge": can_acknowledge
        and session.check_in is not None
        and not session.check_in.is_editable,
        "reads_screenings": reads_screenings,
        "changes": since_baseline(
            session,
            record.flags,
            check_in_answers,
            baseline=baseline,
            baseline_flags=flags.get(baseline_id, []),
        )
        if reads_screenings
        else None,
    }
    acknowledge_error = forms.pop("acknowledge_error", None)
    context["acknowledge_error"] = acknowledge_error
    context["note_required_severities"] = [str(s) for s in NOTE_REQUIRED_SEVERITIES]
    if not can_record:
        # A form sent after the discharge closed the record is not drawn again: say why.
        for key in RECORD_FORMS:
            for error in getattr(forms.get(key), "non_field_errors", list)():
                messages.error(request, error)
    if can_record:
        current = record.current_readings
        for timing in VitalReading.Timing.values:
            key = f"{timing}_form"
            context[key] = forms.get(key) or VitalsForm(
                timing=timing, correctable=[r for r in current if r.timing == timing]
            )
        context["dose_form"] = forms.get("dose_form") or DoseForm(
            initial={"given_at": timezone.localtime().strftime("%H:%M")}
        )
        context["discharge_form"] = forms.get("discharge_form") or DischargeForm()
    context["can_change_booking"] = (
        user.has_perm(SCHEDULE)
        and session.cancelled_at is None
        and session.course.ended_at is None
        and record.dose is None
        and not hasattr(session, "discharge")
    )
    if context["can_change_booking"]:
        local = timezone.localtime(session.scheduled_for)
        context["reschedule_form"] = forms.get("reschedule_form") or RescheduleForm(
            initial={"date": local.date(), "time": local.strftime("%H:%M")}
        )
        context["cancel_form"] = forms.get("cancel_form") or CancelSessionForm()
    else:
        # A booking that can no longer change (a dose recorded meanwhile): say why on top.
        for key in ("reschedule_form", "cancel_form"):
            for errors in getattr(forms.get(key), "errors", {}).values():
                for error in errors:
                    messages.error(request, error)
    pre = record.pre_dose
    context["needs_bp_review"] = (
        pre is not None
        and not hasattr(pre, "review")
        and limits().above_review(pre.systolic, pre.diastolic)
        and not limits().above_hold(pre.systolic, pre.diastolic)
    )
    if can_acknowledge and context["needs_bp_review"]:
        context["review_form"] = forms.get("review_form") or BloodPressureReviewForm()
    return render(request, "staff/session.html", context)


@login_required
@permission_required(SCHEDULE, raise_exception=True)
@require_POST
def reschedule(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    session = _session(session_id)

    def move(data: dict) -> str:
        moved = reschedule_session(
            session=session,
            scheduled_for=data["scheduled_for"],
            actor=request.user,
            ip_address=audit.client_ip(request),
        )
        local = timezone.localtime(moved.scheduled_for)
        return gettext("Session moved to %(date)s at %(time)s.") % _when(local)

    return _submit(request, session, RescheduleForm(request.POST), "reschedule_form", move)


@login_required
@permission_required(SCHEDULE, raise_exception=True)
@require_POST
def cancel(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    session = _session(session_id)

    def cancel_it(data: dict) -> str:
        cancel_session(
            session=session,
            reason=data["reason"],
            actor=request.user,
            ip_address=audit.client_ip(request),
        )
        return gettext("Session canceled. It stays on the course's record.")

    return _submit(request, session, CancelSessionForm(request.POST), "cancel_form", cancel_it)


def _submit(
    request: HttpRequest,
    session: TreatmentSession,
    form: forms.Form,
    form_key: str,
    write: Callable[[dict], str],
    anchor: str = "",
    *,
    refusal_on_top: bool = False,
) -> HttpResponse:
    """One of the session page's forms sent: valid input goes to `write` (a service call,
    returning the message to show), then back to the page. Otherwise the session page again
    with the form as typed and the message beside its field (or on top of the form)."""
    if form.is_valid():
        try:
            done = write(form.cleaned_data)
        except SessionNotAllowed as error:
            form.add_error(None if refusal_on_top else error.field or None, str(error))
        else:
            messages.success(request, done)
            return _back(session, anchor)
    return _session_page(request, session, **{form_key: form})


def _due_readings(record: SessionRecord) -> list[dict]:
    """The post-dose readings the clinic plans (settings), each with when it is due and the
    reading that answers it, if any."""
    if record.dose is None:
        return []
    rows = []
    for minutes in settings.POST_DOSE_READING_MINUTES:
        due_at = record.dose.given_at + datetime.timedelta(minutes=minutes)
        # As the discharge check counts them: a reading taken at or after the due time.
        done = [r for r in record.post_dose if r.recorded_at >= due_at]
        labelled = [r for r in done if r.planned_minutes == minutes]
        rows.append(
            {
                "minutes": minutes,
                "due_at": due_at,
                "reading": (labelled or done or [None])[0],
            }
        )
    return rows


def _back(session: TreatmentSession, anchor: str = "") -> HttpResponse:
    url = reverse("staff:session", args=[session.pk])
    return redirect(url + (f"#{anchor}" if anchor else ""))


@login_required
@permission_required(RECORD, raise_exception=True)
@require_POST
def record_vitals(request: HttpRequest, session_id: uuid.UUID, timing: str) -> HttpResponse:
    session = _session(session_id)
    if timing not in VitalReading.Timing.values:
        return _back(session)
    current = VitalReading.objects.current().filter(session=session, timing=timing)
    form = VitalsForm(request.POST, timing=timing, correctable=list(current))

    def record(data: dict) -> str:
        record_reading(
            session=session,
            timing=timing,
            systolic=data["blood_pressure"]["systolic"],
            diastolic=data["blood_pressure"]["diastolic"],
            heart_rate=data["heart_rate"],
            spo2=data.get("spo2"),
            weight_kg=data.get("weight_kg"),
            planned_minutes=data.get("planned_minutes"),
            supersedes=data.get("supersedes"),
            correction_reason=data.get("correction_reason", ""),
            actor=request.user,
            ip_address=audit.client_ip(request),
        )
        return gettext("Reading recorded.")

    return _submit(request, session, form, f"{timing}_form", record, "readiness")


@login_required
@permission_required(RECORD, raise_exception=True)
@require_POST
def record_dose_view(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    session = _session(session_id)

    def record(data: dict) -> str:
        record_dose(
            session=session,
            given_at=data["given_at"],
            actor=request.user,
            ip_address=audit.client_ip(request),
        )
        return gettext("Dose time recorded.")

    return _submit(request, session, DoseForm(request.POST), "dose_form", record, "after-dose")


@login_required
@permission_required(RECORD, raise_exception=True)
@require_POST
def record_discharge_view(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    session = _session(session_id)

    def record(data: dict) -> str:
        record_discharge(
            session=session,
            alert_and_oriented=data["alert_and_oriented"],
            walks_unaided=data["walks_unaided"],
            escort_present=data["escort_present"],
            note=data["note"],
            actor=request.user,
            ip_address=audit.client_ip(request),
        )
        return gettext("Discharge recorded.")

    form = DischargeForm(request.POST)
    return _submit(
        request, session, form, "discharge_form", record, "discharge", refusal_on_top=True
    )


@login_required
@permission_required("screening.decide_screening", raise_exception=True)
@require_POST
def review_pressure(request: HttpRequest, session_id: uuid.UUID) -> HttpResponse:
    session = _session(session_id)
    (record,) = session_records([session])
    form = BloodPressureReviewForm(request.POST)
    if record.pre_dose is None or not form.is_valid():
        messages.error(request, gettext("There is no pre-dose reading to review."))
        return _back(session, "readiness")
    try:
        review_blood_pressure(
            reading=record.pre_dose,
            physician=request.user,
            note=form.cleaned_data["note"],
            ip_address=audit.client_ip(request),
        )
    except SessionNotAllowed as error:
        messages.error(request, str(error))
    else:
        messages.success(request, gettext("Blood pressure reviewed: go ahead recorded."))
    return _back(session, "readiness")


@login_required
@permission_required("screening.decide_screening", raise_exception=True)
@require_POST
def acknowledge_check_in_flag(
    request: HttpRequest, session_id: uuid.UUID, flag_id: uuid.UUID
) -> HttpResponse:
    """The intake's acknowledgement (services.review.acknowledge_flag) for a flag of this
    session's check-in, back to the session page."""
    session = _session(session_id)
    if session.check_in is None:
        return _back(session)
    flag = get_object_or_404(Flag.with_retired, pk=flag_id, screening=session.check_in)
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, gettext("That acknowledgement could not be read; please try again.")
        )
        return _back(session, "check-in-flags")
    try:
        acknowledge_flag(
            flag=flag,
            physician=request.user,
            note=form.cleaned_data["note"],
            seen_version=form.cleaned_data["lock_version"],
            ip_address=audit.client_ip(request),
        )
    except StaleScreening:
        messages.error(
            request,
            gettext(
                "The check-in changed while you had this page open. Nothing was saved: please "
                "read the flags as they are now and acknowledge again."
            ),
        )
    except AcknowledgementNeedsNote as error:
        # Drawn beside the flag's note box (the page is drawn again, not redirected).
        return _session_page(
            request,
            session,
            acknowledge_error={"flag_id": flag.pk, "message": str(error)},
        )
    except DecisionNotAllowed as error:
        messages.error(request, str(error))
    return _back(session, f"flag-{flag.pk}")
