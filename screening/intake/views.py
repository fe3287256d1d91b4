"""The patient's intake: home, one page per section, review, submit and confirmation.

A patient only ever reaches their own screenings: every lookup filters on the logged-in
user, so anyone else's screening is a 404, never a 403 that would confirm it exists.
"""

import logging
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import get_language, gettext
from django.views.decorators.http import require_http_methods, require_POST

from ..engine.severity import Severity
from ..models import PageDraft, Screening, TreatmentSession
from ..patient_messages import urgent_messages
from ..presenters import answer_rows
from ..selectors import (
    NoPublishedQuestionSet,
    completed_codes,
    current_clearance,
    drafted_section_codes,
    first_incomplete_section,
    intake_screenings,
    page_draft,
    patient_screening,
    section_is_complete,
    visibility_for,
)
from ..services.check_ins import CheckInClosed, open_check_in, why_closed
from ..services.drafts import draft_data, keep_draft
from ..services.intake import (
    AlreadyScreened,
    ScreeningIncomplete,
    ScreeningLocked,
    start_first_screening,
    submit_screening,
)
from ..session_clock import idle_seconds_left
from ..snapshots import patient_messages_for, questionnaire_for
from .forms import CheckInSubmitForm, SubmitForm
from .standing import (
    after_course,
    check_in_opens_at,
    ended_course,
    latest_decision,
    session_of,
    standing_of,
    upcoming_sessions,
)
from .wizard import PageStep

logger = logging.getLogger(__name__)


def _own_screening(request: HttpRequest, screening_id: UUID) -> Screening:
    screening = patient_screening(screening_id, request.user)
    if screening is None:
        raise Http404
    return screening


def _closed_check_in(request: HttpRequest, screening: Screening) -> HttpResponse | None:
    """For a check-in whose session was canceled (or its course ended), or that was set aside
    when the session moved to another day: home, with the message saying why."""
    why = why_closed(screening)
    if why is None:
        return None
    messages.info(request, why)
    return redirect("patient:home")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if request.user.is_clinic_staff:
        return redirect("staff:home")
    screenings = list(intake_screenings(request.user).order_by("-created_at"))
    latest = screenings[0] if screenings else None
    decision = latest_decision(latest)
    # Only a decided screening can hold a clearance that has ended.
    clearance = current_clearance(request.user) if decision is not None else None
    course = ended_course(request.user)
    standing = after_course(standing_of(latest, decision, clearance), course)
    return render(
        request,
        "patient/home.html",
        {
            "screenings": screenings,
            "latest": latest,
            "standing": standing,
            "rescreening_due": standing.key.startswith("rescreen_"),
            "sessions": upcoming_sessions(request.user),
            "ended_course": course,
        },
    )


@login_required
@require_POST
def check_in(request: HttpRequest, session_id: UUID) -> HttpResponse:
    """Open (or carry on with) the check-in of one of the patient's own upcoming sessions."""
    if request.user.is_clinic_staff:
        return redirect("staff:home")
    session = get_object_or_404(
        TreatmentSession.objects.select_related("course", "check_in"),
        pk=session_id,
        course__patient=request.user,
    )
    if session.cancelled_at is not None or session.course.ended_at is not None:
        messages.info(request, gettext("This session has been canceled."))
        return redirect("patient:home")
    if session.check_in is None and timezone.now() < check_in_opens_at(session):
        # The day and month in the page's language ("5 December", "5 de diciembre").
        opens = date_format(
            timezone.localtime(check_in_opens_at(session)),
            translation.pgettext("date format: day and month", "j F"),
        )
        messages.info(
            request,
            translation.gettext(
                "The check-in for this session opens %(date)s. We will email you then."
            )
            % {"date": opens},
        )
        return redirect("patient:home")
    try:
        screening = open_check_in(session=session)
    except CheckInClosed:
        messages.info(request, translation.gettext("This session has already taken place."))
        return redirect("patient:home")
    except NoPublishedQuestionSet:
        messages.error(
            request,
            translation.gettext(
                "The clinic has not published its check-in questions yet. Please try later."
            ),
        )
        return redirect("patient:home")
    return redirect("patient:resume", screening_id=screening.pk)


@login_required
@require_POST
def start(request: HttpRequest) -> HttpResponse:
    if request.user.is_clinic_staff:
        # Staff accounts review screenings; they never fill one in for themselves.
        return redirect("staff:home")
    try:
        screening = start_first_screening(patient=request.user)
    except AlreadyScreened:
        # A second questionnaire is the clinic's to start, never the patient's.
        messages.info(
            request,
            translation.gettext(
                "You have already sent your questionnaire. The clinic will contact you."
            ),
        )
        return redirect("patient:home")
    except NoPublishedQuestionSet:
        messages.error(
            request,
            translation.gettext(
                "The clinic has not published its questionnaire yet. Please try later."
            ),
        )
        return redirect("patient:home")
    return redirect("patient:resume", screening_id=screening.pk)


@login_required
def resume(request: HttpRequest, screening_id: UUID) -> HttpResponse:
    screening = _own_screening(request, screening_id)
    if (closed := _closed_check_in(request, screening)) is not None:
        return closed
    if not screening.is_editable:
        return redirect("patient:done", screening_id=screening.pk)
    section = first_incomplete_section(screening)
    if section is None:
        return redirect("patient:review", screening_id=screening.pk)
    return redirect("patient:section", screening_id=screening.pk, section_code=section.code)


@login_required
@require_http_methods(["GET", "POST"])
def section(request: HttpRequest, screening_id: UUID, section_code: str) -> HttpResponse:
    screening = _own_screening(request, screening_id)
    if (closed := _closed_check_in(request, screening)) is not None:
        return closed
    if not screening.is_editable:
        messages.info(
            request,
            translation.gettext(
                "This questionnaire has been submitted and can no longer be changed."
            ),
        )
        return redirect("patient:done", screening_id=screening.pk)
    draft = page_draft(screening, section_code) if request.method == "GET" else None
    if draft is not None:
        # What the patient typed before their session ended, drawn as typed, unsaved.
        step = PageStep.load(
            screening, section_code, draft_data(draft), restored=True, language=get_language()
        )
    else:
        step = PageStep.load(
            screening,
            section_code,
            request.POST if request.method == "POST" else None,
            language=get_language(),
        )
    if step is None:
        raise Http404
    if not step.applies:
        return redirect("patient:resume", screening_id=screening.pk)
    from_review = request.GET.get("from") == "review"
    form = step.form() if step.is_save else None
    if form is not None and form.is_valid():
        try:
            complete = step.save(form)
        except ScreeningLocked:
            return redirect("patient:done", screening_id=screening.pk)
        if not complete:
            messages.info(
                request,
                translation.gettext(
                    "Based on your answers, please answer the follow-up questions below."
                ),
            )
            return redirect(request.get_full_path())
        return redirect(
            "patient:review" if from_review else "patient:resume", screening_id=screening.pk
        )
    context = {
        **step.page(form),
        "from_review": from_review,
        "session": session_of(screening),
    }
    return render(request, "patient/section.html", context)


@require_POST
def page_draft_view(request: HttpRequest, screening_id: UUID, section_code: str) -> HttpResponse:
    """Keep what is typed on a wizard page as its draft: the page's script posts its form
    here just before the idle limit signs the patient out. Answers nothing a person reads:
    JSON for the script, and (like the session status) not counted as activity, so it
    cannot keep a session alive."""
    if not request.user.is_authenticated:
        return JsonResponse({"signed_in": False}, status=401)
    screening = _own_screening(request, screening_id)
    if questionnaire_for(screening.version).section(section_code) is None:
        raise Http404
    if why_closed(screening) is not None:
        return JsonResponse(
            {"signed_in": True, "kept": False, "seconds_left": idle_seconds_left(request)}
        )
    kept = keep_draft(
        screening=screening,
        section_code=section_code,
        data=request.POST,
        source=PageDraft.Source.IDLE,
    )
    return JsonResponse(
        {"signed_in": True, "kept": kept is not None, "seconds_left": idle_seconds_left(request)}
    )


@require_POST
def section_shown(request: HttpRequest, screening_id: UUID, section_code: str) -> JsonResponse:
    """Which of a page's questions apply, given the answers on the page as it is now: the
    page's script posts its form here when an answer changes, and shows or hides questions
    in place. The server's own working-out (PageStep, as for a save) answers, so the page
    never shows what a save would not ask. Nothing is saved or kept; the patient's own
    answers to their own screening (no staff read, so nothing to audit)."""
    if not request.user.is_authenticated:
        return JsonResponse({"signed_in": False}, status=401)
    screening = _own_screening(request, screening_id)
    why = why_closed(screening)
    if why is not None or not screening.is_editable:
        return JsonResponse(
            {"error": why or translation.gettext("This questionnaire can no longer be changed.")},
            status=409,
        )
    step = PageStep.load(screening, section_code, request.POST)
    if step is None:
        raise Http404
    if not step.presented:
        # Not the page's form: without the questions on the page there is nothing to work out.
        return JsonResponse(
            {"error": translation.gettext("No question of this page was sent.")}, status=400
        )
    return JsonResponse({"shown": step.shown_codes})


@login_required
@require_http_methods(["GET", "POST"])
def review(request: HttpRequest, screening_id: UUID) -> HttpResponse:
    screening = _own_screening(request, screening_id)
    if (closed := _closed_check_in(request, screening)) is not None:
        return closed
    if not screening.is_editable:
        return redirect("patient:done", screening_id=screening.pk)
    visibility = visibility_for(screening, language=get_language())
    completed = completed_codes(screening)
    incomplete = [
        s for s in visibility.sections if not section_is_complete(s, visibility, completed)
    ]
    drafted = drafted_section_codes(screening)
    session = session_of(screening)
    # A check-in has no information about treatment to confirm having read.
    form_class = CheckInSubmitForm if session is not None else SubmitForm
    form = form_class(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid() and not incomplete:
        try:
            submit_screening(screening=screening)
        except CheckInClosed as closed:
            # Its session was canceled or moved while the page was open.
            messages.info(request, str(closed))
            return redirect("patient:home")
        except ScreeningIncomplete as error:
            messages.error(request, translation.gettext("Some questions still need an answer."))
            return redirect(
                "patient:section", screening_id=screening.pk, section_code=error.section.code
            )
        except Exception:
            # The submit rolled back as a whole (nothing half-saved); the patient keeps every
            # answer and needs a way forward, not an error page. Logged without answers.
            logger.exception("Submitting screening %s failed and was rolled back.", screening.pk)
            messages.error(
                request,
                translation.gettext(
                    "Sorry, something went wrong on our side and your questionnaire was not "
                    "sent. Your answers are saved. Please press Submit again in a few minutes, "
                    "or contact the clinic if this keeps happening."
                ),
            )
            messages.warning(request, translation.gettext(settings.CRISIS_RESOURCES_TEXT))
            return redirect("patient:review", screening_id=screening.pk)
        # Already submitted (double click, second tab) lands on the same confirmation.
        return redirect("patient:done", screening_id=screening.pk)
    context = {
        "screening": screening,
        "sections": answer_rows(visibility),
        "incomplete": incomplete,
        "form": form,
        # Pages with typing kept when a session ended and not saved since.
        "drafted": [s for s in visibility.sections if s.code in drafted],
        "session": session,
    }
    return render(request, "patient/review.html", context)


def translated_patient_messages(screening: Screening, language: str) -> list[tuple[str, str]]:
    """The urgent flags' (severity, patient message), each message in the patient's language
    when its translation was made from the message the flag carries."""
    source = patient_messages_for(screening.version, None)
    translated = patient_messages_for(screening.version, language)
    return [
        (
            severity,
            translated.get(code, message) if message and source.get(code) == message else message,
        )
        for code, severity, message in screening.flags.filter(severity=Severity.URGENT).values_list(
            "code", "severity", "patient_message"
        )
    ]


@login_required
def done(request: HttpRequest, screening_id: UUID) -> HttpResponse:
    screening = _own_screening(request, screening_id)
    if (closed := _closed_check_in(request, screening)) is not None:
        return closed
    if screening.is_editable:
        return redirect("patient:resume", screening_id=screening.pk)
    visibility = visibility_for(screening, language=get_language())
    crisis_resources = settings.CRISIS_RESOURCES_TEXT
    decision = latest_decision(screening)
    # In the patient's language when it is the default text (a clinic's own is as written).
    crisis_resources = translation.gettext(crisis_resources)
    # The messages of the urgent flags raised: crisis lines for suicide risk, the clinic or
    # emergency services for a blood pressure in the crisis range. They say the clinic
    # "will contact you": once a physician has decided, the page says the decision instead.
    messages_now = (
        []
        if decision is not None
        else urgent_messages(
            translated_patient_messages(screening, get_language()),
            clinic_name=settings.CLINIC_NAME,
            crisis_resources=crisis_resources,
        )
    )
    return render(
        request,
        "patient/done.html",
        {
            "screening": screening,
            "standing": standing_of(screening, decision),
            "sections": answer_rows(visibility),
            "urgent_messages": messages_now,
            "session": session_of(screening),
            # The crisis lines are on every confirmation page, once.
            "crisis_lines_shown": any(crisis_resources in message for message in messages_now),
        },
    )
