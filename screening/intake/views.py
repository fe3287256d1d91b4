"""The patient's intake: home, one page per section, review, submit and confirmation.

A patient only ever reaches their own screenings: every lookup filters on the logged-in
user, so anyone else's screening is a 404, never a 403 that would confirm it exists.
"""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from ..models import Screening
from ..patient_messages import urgent_messages
from ..presenters import answer_rows, intro_blocks
from ..selectors import (
    NoPublishedQuestionSet,
    completed_codes,
    first_incomplete_section,
    section_is_complete,
    stored_answers,
    visibility_for,
)
from ..services.intake import (
    ScreeningIncomplete,
    ScreeningLocked,
    save_page,
    start_screening,
    submit_screening,
)
from ..snapshots import questionnaire_for
from .forms import SectionForm, SubmitForm, build_section_form

logger = logging.getLogger(__name__)


def _own_screening(request, screening_id) -> Screening:
    return get_object_or_404(
        Screening.objects.select_related("version"), pk=screening_id, patient=request.user
    )


@login_required
def home(request):
    if request.user.is_clinic_staff:
        return redirect("staff:home")
    screenings = Screening.objects.for_patient(request.user).order_by("-created_at")
    return render(request, "patient/home.html", {"screenings": screenings})


@login_required
@require_POST
def start(request):
    if request.user.is_clinic_staff:
        # Staff accounts review screenings; they never fill one in for themselves.
        return redirect("staff:home")
    try:
        screening = start_screening(patient=request.user)
    except NoPublishedQuestionSet:
        messages.error(
            request, "The clinic has not published its questionnaire yet. Please try later."
        )
        return redirect("patient:home")
    return redirect("patient:resume", screening_id=screening.pk)


@login_required
def resume(request, screening_id):
    screening = _own_screening(request, screening_id)
    if not screening.is_editable:
        return redirect("patient:done", screening_id=screening.pk)
    section = first_incomplete_section(screening)
    if section is None:
        return redirect("patient:review", screening_id=screening.pk)
    return redirect("patient:section", screening_id=screening.pk, section_code=section.code)


@login_required
@require_http_methods(["GET", "POST"])
def section(request, screening_id, section_code: str):
    screening = _own_screening(request, screening_id)
    if not screening.is_editable:
        messages.info(
            request, "This questionnaire has been submitted and can no longer be changed."
        )
        return redirect("patient:done", screening_id=screening.pk)
    questionnaire = questionnaire_for(screening.version)
    section_def = questionnaire.section(section_code)
    if section_def is None:
        raise Http404
    stored = stored_answers(screening)
    visibility = visibility_for(screening, stored)
    if section_def not in visibility.sections:
        # Earlier answers made this page irrelevant (e.g. pregnancy questions): move on.
        return redirect("patient:resume", screening_id=screening.pk)
    shown = visibility.visible_in(section_def)
    from_review = request.GET.get("from") == "review"

    if request.method == "POST":
        if "more_rows" in request.POST:
            form = _form_with_more_rows(shown, stored, request.POST)
            return _render_section(request, screening, section_def, visibility, form, from_review)
        presented = {
            code for code in request.POST.getlist("presented") if code in {q.code for q in shown}
        }
        if not presented:
            # Not a post of this page's form (none of its questions was on it): saving
            # nothing would still mark the finished page unfinished. Show the page again.
            form = build_section_form(shown, stored=stored)
            return _render_section(request, screening, section_def, visibility, form, from_review)
        questions = _questions_to_check(section_def, stored, request.POST, screening)
        form = build_section_form(questions, stored=stored, data=request.POST, presented=presented)
        if form.is_valid():
            try:
                # A follow-up revealed by this very post was not on the page: storing its
                # blank would erase an answer given before the patient changed their mind.
                answers = {
                    code: value
                    for code, value in form.stored_answers().items()
                    if code in presented
                }
                saved = save_page(
                    screening=screening, section=section_def, answers=answers, presented=presented
                )
            except ScreeningLocked:
                return redirect("patient:done", screening_id=screening.pk)
            if not saved.complete:
                messages.info(
                    request, "Based on your answers, please answer the follow-up questions below."
                )
                return redirect(request.get_full_path())
            if from_review:
                return redirect("patient:review", screening_id=screening.pk)
            return redirect("patient:resume", screening_id=screening.pk)
        return _render_section(request, screening, section_def, visibility, form, from_review)

    form = build_section_form(shown, stored=stored)
    return _render_section(request, screening, section_def, visibility, form, from_review)


def _questions_to_check(section_def, stored, data, screening):
    """The questions this page's own answers make relevant.

    A first pass reads the posted answers leniently (nothing required, invalid ones
    ignored) so that a follow-up hidden by a changed answer is not demanded, and one
    revealed by it is shown next.
    """
    probe = SectionForm(data, questions=list(section_def.questions), lenient=True)
    probe.is_valid()
    merged = {**stored, **probe.valid_stored_answers()}
    return visibility_for(screening, merged).visible_in(section_def)


def _form_with_more_rows(shown, stored, data):
    form = build_section_form(shown, stored=stored, data=data, presented={q.code for q in shown})
    for field in form.fields.values():
        if hasattr(field.widget, "extra_rows"):
            field.widget.extra_rows += 5
    form.suppress_errors = True
    return form


def _render_section(request, screening, section_def, visibility, form, from_review):
    sections = visibility.sections
    number = sections.index(section_def) + 1
    completed = completed_codes(screening)
    context = {
        "screening": screening,
        "section": section_def,
        "form": form,
        "section_number": number,
        "section_count": len(sections),
        "progress_percent": int(100 * (number - 1) / max(len(sections), 1)),
        "previous_section": sections[number - 2] if number > 1 else None,
        "from_review": from_review,
        "all_done": all(section_is_complete(s, visibility, completed) for s in sections),
        "intro_blocks": intro_blocks(section_def.intro),
    }
    return render(request, "patient/section.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def review(request, screening_id):
    screening = _own_screening(request, screening_id)
    if not screening.is_editable:
        return redirect("patient:done", screening_id=screening.pk)
    visibility = visibility_for(screening)
    completed = completed_codes(screening)
    incomplete = [
        s for s in visibility.sections if not section_is_complete(s, visibility, completed)
    ]
    form = SubmitForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid() and not incomplete:
        try:
            submit_screening(screening=screening)
        except ScreeningIncomplete as error:
            messages.error(request, "Some questions still need an answer.")
            return redirect(
                "patient:section", screening_id=screening.pk, section_code=error.section.code
            )
        except Exception:
            # The submit rolled back as a whole (nothing half-saved); the patient keeps every
            # answer and needs a way forward, not an error page. Logged without answers.
            logger.exception("Submitting screening %s failed and was rolled back.", screening.pk)
            messages.error(
                request,
                "Sorry, something went wrong on our side and your questionnaire was not sent. "
                "Your answers are saved. Please press Submit again in a few minutes, or "
                "contact the clinic if this keeps happening.",
            )
            messages.warning(request, settings.CRISIS_RESOURCES_TEXT)
            return redirect("patient:review", screening_id=screening.pk)
        # Already submitted (double click, second tab) lands on the same confirmation.
        return redirect("patient:done", screening_id=screening.pk)
    context = {
        "screening": screening,
        "sections": answer_rows(visibility),
        "incomplete": incomplete,
        "form": form,
    }
    return render(request, "patient/review.html", context)


@login_required
def done(request, screening_id):
    screening = _own_screening(request, screening_id)
    if screening.is_editable:
        return redirect("patient:resume", screening_id=screening.pk)
    visibility = visibility_for(screening)
    crisis_resources = settings.CRISIS_RESOURCES_TEXT
    # The messages of the urgent flags raised: crisis lines for suicide risk, the clinic or
    # emergency services for a blood pressure in the crisis range.
    messages_now = urgent_messages(
        screening.flags.filter(severity="urgent").values_list("severity", "patient_message"),
        clinic_name=settings.CLINIC_NAME,
        crisis_resources=crisis_resources,
    )
    return render(
        request,
        "patient/done.html",
        {
            "screening": screening,
            "sections": answer_rows(visibility),
            "urgent_messages": messages_now,
            # The crisis lines are on every confirmation page, once.
            "crisis_lines_shown": any(crisis_resources in message for message in messages_now),
        },
    )
