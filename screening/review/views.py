"""The physician's pages: the review queue, a screening with its flags, decisions, print view.

Every read of a screening writes an audit row. Writes go through screening.services.review,
which refuses a save based on a stale page (another physician saved first).
"""

import statistics
import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_POST

from .. import audit
from ..audit_display import identifies_screenings, shown_event
from ..engine.questionnaire import Visibility, work_out_visibility
from ..engine.severity import Severity
from ..models import (
    AuditAction,
    AuditEvent,
    Decision,
    Flag,
    ReviewClock,
    Screening,
    SetAsideCheckIn,
    Submission,
    TreatmentSession,
)
from ..prepared import ConstantRead
from ..presenters import (
    DERIVED_LABELS,
    answer_changes,
    answer_rows,
    display_answer,
    flag_changes,
    medication_changes,
    physician_summary,
    queue_rows,
    score_changes,
    severity_label,
)
from ..selectors import (
    ClearanceStatus,
    baseline_for,
    current_clearance,
    drug_class_names,
    first_queue_entries,
    first_queue_page,
    queue_notices,
    queue_page,
    visibility_for,
)
from ..services.rescreening import RescreeningNotAllowed, request_rescreening
from ..services.review import (
    CLEARING,
    DecisionNotAllowed,
    StaleScreening,
    acknowledge_flag,
    note_opened,
    record_decision,
)
from ..session_records import session_records, sessions_for_staff
from ..snapshots import questionnaire_for
from .forms import AcknowledgeForm, DecisionForm, QueueFilterForm, RescreeningForm

QUEUE_PAGE_SIZE = 50
QUEUE_STATUS_LABELS = dict(Screening.Status.choices)
# The queue as physicians open it, with no filter, search or cursor: the same read every time.
UNFILTERED_FIRST_PAGE = ConstantRead(
    "queue_unfiltered_first_page",
    lambda: first_queue_entries(
        QueueFilterForm(None).filter(Screening.objects.intakes()), QUEUE_PAGE_SIZE
    ),
)


@login_required
@permission_required("screening.review_screening", raise_exception=True)
def queue(request: HttpRequest) -> HttpResponse:
    filters = QueueFilterForm(request.GET or None)
    if request.GET:
        page = queue_page(
            # The intake queue: a session's check-in is read on its session page.
            filters.filter(Screening.objects.intakes()),
            after=request.GET.get("after", ""),
            before=request.GET.get("before", ""),
            size=QUEUE_PAGE_SIZE,
        )
    else:
        page = first_queue_page(UNFILTERED_FIRST_PAGE, size=QUEUE_PAGE_SIZE)
    query = request.GET.copy()
    for cursor in ("after", "before", "page"):
        query.pop(cursor, None)
    # A screening's address is this prefix and its id: reversed once, not for every row.
    zero = uuid.UUID(int=0)
    prefix = reverse("staff:screening", args=[zero]).removesuffix(f"{zero}/")
    rows = queue_rows(page, link_prefix=prefix, statuses=QUEUE_STATUS_LABELS)
    # The worker could not email physicians about these urgent screenings, or these patients
    # did not answer their last reminder: say so here, where physicians look (the admin's
    # list of undelivered emails does not name them).
    notices = queue_notices()
    # The queue names patients and their level: reading it is a staff read like any other.
    # The summary names the view (status and level shown), never a patient, a search or a
    # count: clinic admins read the log and must learn nothing about patients from it.
    chosen = filters.chosen()
    audit.record(
        request=request,
        action=AuditAction.QUEUE_VIEWED,
        summary="Review queue read: status {}, level {}".format(
            chosen.get("status") or "submitted", chosen.get("level") or "any"
        ),
    )
    context = {
        "filters": filters,
        "page": page,
        "rows": rows,
        "query": query.urlencode(),
        "page_size": QUEUE_PAGE_SIZE,
        "alerts_not_sent": notices.alerts_not_sent,
        "not_answering": notices.not_answering,
        "reminder_max": settings.REMINDER_MAX,
    }
    return render(request, "staff/queue.html", context)


def _screening_for_staff(screening_id: uuid.UUID) -> Screening:
    return get_object_or_404(
        Screening.objects.select_related("patient", "version__question_set").exclude(
            status=Screening.Status.IN_PROGRESS, submitted_at__isnull=True
        ),
        pk=screening_id,
    )


def screening_context(screening: Screening) -> dict:
    # Every flag the screening ever had, in one read: the current ones are the page's flags;
    # the retired ones are history (earlier acknowledgements, flags no longer raised).
    history = list(
        Flag.with_retired.filter(screening=screening).select_related("acknowledgement__physician")
    )
    by_id = {flag.pk: flag for flag in history}
    replaced = {flag.replaces_id for flag in history if flag.replaces_id}
    flags = [flag for flag in history if flag.retired_at is None]
    no_longer_raised = sorted(
        (flag for flag in history if flag.retired_at is not None and flag.pk not in replaced),
        key=lambda flag: (flag.retired_at, flag.position),
        reverse=True,
    )
    answers, answers_as_sent = _answers_to_show(screening)
    # Every question of the version, shown now or not: a flag no longer raised may name one
    # the latest answers hide.
    questions = questionnaire_for(screening.version).questions_by_code
    baseline = baseline_for(screening)
    if baseline is not None:
        # A check-in's flags may name an answer of the patient's intake (its baseline).
        intake = questionnaire_for(baseline.screening.version).questions_by_code
        questions = {**intake, **questions}
    grouped = [
        {
            "severity": severity,
            "label": severity_label(severity),
            "flags": [f for f in flags if f.severity == severity],
        }
        for severity in Severity
    ]
    score_names = {score["code"]: score["name"] for score in screening.scores or []}
    for flag in flags + no_longer_raised:
        flag.evidence_rows = [_evidence_row(item, questions, score_names) for item in flag.evidence]
        flag.earlier_acknowledgements = _earlier_acknowledgements(flag, by_id)
    medications = list(screening.medications.all())
    summary = physician_summary(
        patient_name=screening.patient.full_name,
        visibility=answers,
        flags=flags,
        medications=medications,
        scores=screening.scores or [],
    )
    return {
        "screening": screening,
        "summary": summary,
        "flag_groups": [group for group in grouped if group["flags"]],
        "flags": flags,
        "no_longer_raised": no_longer_raised,
        "unacknowledged": [f for f in flags if not hasattr(f, "acknowledgement")],
        "medications": medications,
        "class_names": drug_class_names(),
        "sections": answer_rows(answers),
        "decisions": list(
            screening.decisions.select_related("physician", "amends").order_by("signed_at")
        ),
        "changes": what_changed(screening),
        "rescreen_changes": changed_since_previous_screening(screening, answers, flags),
        "answers_as_sent": answers_as_sent,
    }


def _answers_to_show(screening: Screening) -> tuple[Visibility, Submission | None]:
    """The answers the physician reads. While the screening waits for the patient, the
    patient may be changing answers they have not sent yet: staff read the answers as last
    sent (the latest submission's snapshot), beside the flags raised on them; the edits
    appear when the patient sends the questionnaire again. Without a snapshot (sent before
    snapshots were kept) the stored answers are shown, and the page says they may change."""
    if screening.status != Screening.Status.WAITING_FOR_PATIENT:
        return visibility_for(screening), None
    latest = Submission.objects.filter(screening=screening).order_by("-number").first()
    if latest is None:
        return visibility_for(screening), None
    sent = work_out_visibility(
        questionnaire_for(screening.version),
        latest.answers,
        timezone.localdate(latest.submitted_at),
    )
    return sent, latest


def _earlier_acknowledgements(flag: Flag, by_id: dict) -> list:
    """The acknowledgements of the flags this one replaced (newest first): each was written
    about answers that have changed since, and is shown beside it."""
    earlier = []
    seen = set()
    previous = by_id.get(flag.replaces_id)
    while previous is not None and previous.pk not in seen:
        seen.add(previous.pk)
        acknowledgement = getattr(previous, "acknowledgement", None)
        if acknowledgement is not None:
            earlier.append(acknowledgement)
        previous = by_id.get(previous.replaces_id)
    return earlier


def what_changed(screening: Screening) -> dict | None:
    """For a screening submitted more than once: what its latest submission changed since the
    one before (answers old -> new, flags gained and lost) and the message that asked for it."""
    if screening.submission_count < 2:
        return None
    latest, *earlier = (
        Submission.objects.filter(screening=screening)
        .select_related("in_reply_to")
        .order_by("-number")[:2]
    )
    previous = earlier[0] if earlier and earlier[0].number == latest.number - 1 else None
    changes = {
        "kind": "resubmission",
        "latest": latest,
        "previous": previous,
        "request": latest.in_reply_to,
    }
    if previous is None:
        return changes  # the earlier submission was made before snapshots were kept
    questionnaire = questionnaire_for(screening.version)
    before, after = (
        work_out_visibility(
            questionnaire, submission.answers, timezone.localdate(submission.submitted_at)
        )
        for submission in (previous, latest)
    )
    changes["answers"] = answer_changes(questionnaire, before, after)
    changes["flags"] = flag_changes(previous.flags, latest.flags)
    return changes


def changed_since_previous_screening(
    screening: Screening, answers: Visibility, flags: list[Flag]
) -> dict | None:
    """For a re-screening: what differs from the screening it repeats, as that one was last
    sent and signed (answers before -> now, medicines started and stopped, scores, flags
    raised and no longer raised). `answers` and `flags` are this screening's, as the page
    shows them."""
    if screening.previous_id is None:
        return None
    previous = Screening.objects.select_related("version").get(pk=screening.previous_id)
    signed = previous.decisions.order_by("-signed_at").first()
    sent = Submission.objects.filter(screening=previous).order_by("-number").first()
    old_questionnaire = questionnaire_for(previous.version)
    if sent is not None:
        before = work_out_visibility(
            old_questionnaire, sent.answers, timezone.localdate(sent.submitted_at)
        )
    else:
        before = visibility_for(previous)  # sent before snapshots were kept; decided since
    old_flags = [
        {"code": flag.code, "severity": flag.severity, "title": flag.title}
        for flag in previous.flags.all()
    ]
    new_flags = [
        {"code": flag.code, "severity": flag.severity, "title": flag.title} for flag in flags
    ]
    flag_diff = flag_changes(old_flags, new_flags)
    return {
        "kind": "rescreening",
        "previous": previous,
        "signed": signed,
        "answers": answer_changes(
            questionnaire_for(screening.version), before, answers, old_questionnaire
        ),
        "medications": medication_changes(previous.medications.all(), screening.medications.all()),
        "scores": score_changes(previous.scores, screening.scores),
        "flags": {
            "gained": flag_diff["gained"],
            "lost": flag_diff["lost"],
            "kept": flag_diff["changed"] + flag_diff["unchanged"],
        },
    }


def _evidence_row(item: dict, questions: dict, score_names: dict) -> dict:
    """An evidence item as the physician reads it: the question's text and the answer's words."""
    row = dict(item)
    question = questions.get(item.get("question"))
    if question is not None:
        row["label"] = question.text
        row["display"] = display_answer(question, item.get("answer"))
        if isinstance(row["display"], list):
            row["display"] = "; ".join(row["display"])
    else:
        name = item.get("value") or item.get("question")
        row["label"] = score_names.get(name) or DERIVED_LABELS.get(name, name)
    return row


@login_required
@permission_required("screening.review_screening", raise_exception=True)
def screening_detail(request: HttpRequest, screening_id: uuid.UUID) -> HttpResponse:
    return _screening_page(request, _screening_for_staff(screening_id))


def _screening_page(
    request: HttpRequest,
    screening: Screening,
    decision_form: DecisionForm | None = None,
    rescreening_form: RescreeningForm | None = None,
) -> HttpResponse:
    """The whole screening, with the decision form and the re-screening form (as posted,
    when one comes back with an error). Every render of it is a read of the screening,
    audited like any other."""
    audit.record(
        request=request, action=AuditAction.SCREENING_VIEWED, screening=screening, obj=screening
    )
    note_opened(screening=screening, physician=request.user)
    context = screening_context(screening)
    context["clocks"] = list(screening.clocks.select_related("opened_by").order_by("submitted_at"))
    if decision_form is None:
        has_contraindication = any(f.severity == Severity.CONTRAINDICATED for f in context["flags"])
        decision_form = DecisionForm(
            initial={"lock_version": screening.lock_version},
            has_contraindication=has_contraindication,
        )
    context["decision_form"] = decision_form
    # A session's check-in is not signed off: its flags are acknowledged (here or on the
    # session page) and the session's own status says whether the dose can go ahead.
    is_check_in = screening.purpose == Screening.Purpose.CHECK_IN
    context["can_decide"] = request.user.has_perm("screening.decide_screening") and not is_check_in
    context["check_in_session"] = (
        TreatmentSession.objects.filter(check_in=screening).first() if is_check_in else None
    )
    context["set_aside"] = (
        SetAsideCheckIn.objects.filter(check_in=screening).first()
        if is_check_in and context["check_in_session"] is None
        else None
    )
    context.update(_clearance_context(screening, rescreening_form, context["decisions"]))
    return render(request, "staff/screening.html", context)


def _clearance_context(
    screening: Screening, form: RescreeningForm | None, decisions: list[Decision]
) -> dict:
    """The patient's clearance, when this screening holds it: its status, and the form to
    ask for re-screening while it has not been asked for."""
    if not any(decision.outcome in CLEARING for decision in decisions):
        return {"clearance": None}  # no clearing decision here: it cannot hold one
    clearance = current_clearance(screening.patient)
    holds = clearance.decision is not None and clearance.decision.screening_id == screening.pk
    if not holds:
        return {"clearance": None}
    asked = clearance.status == ClearanceStatus.RESCREENING_REQUESTED
    return {
        "clearance": clearance,
        "clearance_expired": clearance.status == ClearanceStatus.EXPIRED,
        "rescreening_request": clearance.request if asked else None,
        "rescreening_form": None if asked else (form or RescreeningForm()),
    }


@login_required
@permission_required("screening.review_screening", raise_exception=True)
def screening_print(request: HttpRequest, screening_id: uuid.UUID) -> HttpResponse:
    screening = _screening_for_staff(screening_id)
    audit.record(
        request=request, action=AuditAction.SCREENING_PRINTED, screening=screening, obj=screening
    )
    context = screening_context(screening)
    # The session record of the patient's treatment courses (issue 14).
    context["session_records"] = session_records(
        sessions_for_staff().filter(course__patient=screening.patient_id)
    )
    return render(request, "staff/screening_print.html", context)


def _stale(request: HttpRequest, screening: Screening) -> HttpResponse:
    messages.error(
        request,
        gettext(
            "Another physician changed this screening while you had it open. Nothing you "
            "entered was saved: the page now shows their changes. Please check them and try "
            "again."
        ),
    )
    return redirect("staff:screening", screening_id=screening.pk)


@login_required
@permission_required("screening.decide_screening", raise_exception=True)
@require_POST
def acknowledge(request: HttpRequest, screening_id: uuid.UUID, flag_id: uuid.UUID) -> HttpResponse:
    screening = _screening_for_staff(screening_id)
    # A flag retired since the page was drawn (the patient resubmitted) is not a 404: the
    # service says the page is out of date.
    flag = get_object_or_404(Flag.with_retired, pk=flag_id, screening=screening)
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, gettext("That acknowledgement could not be read; please try again.")
        )
        return redirect("staff:screening", screening_id=screening.pk)
    try:
        acknowledge_flag(
            flag=flag,
            physician=request.user,
            note=form.cleaned_data["note"],
            seen_version=form.cleaned_data["lock_version"],
            ip_address=audit.client_ip(request),
        )
    except StaleScreening:
        return _stale(request, screening)
    except DecisionNotAllowed as error:
        messages.error(request, str(error))
    # Back to where the physician pressed it: the flag's line in the summary, or its card.
    place = "summary-flag" if request.POST.get("return_to") == "summary" else "flag"
    return redirect(reverse("staff:screening", args=[screening.pk]) + f"#{place}-{flag.pk}")


@login_required
@permission_required("screening.decide_screening", raise_exception=True)
@require_POST
def decide(request: HttpRequest, screening_id: uuid.UUID) -> HttpResponse:
    screening = _screening_for_staff(screening_id)
    has_contraindication = screening.flags.filter(severity=Severity.CONTRAINDICATED).exists()
    form = DecisionForm(request.POST, has_contraindication=has_contraindication)
    if form.is_valid():
        data = form.cleaned_data
        try:
            record_decision(
                screening=screening,
                physician=request.user,
                outcome=data["outcome"],
                seen_version=data["lock_version"],
                conditions=data["conditions"],
                reason=data["reason"],
                message_to_patient=data["message_to_patient"],
                override_reason=data.get("override_reason", ""),
                ip_address=audit.client_ip(request),
            )
        except StaleScreening:
            return _stale(request, screening)
        except DecisionNotAllowed as error:
            if screening.is_editable:
                # The page draws no decision form while the patient is answering: say why
                # at the top instead of beside a form that is not there.
                messages.error(request, str(error))
                return redirect("staff:screening", screening_id=screening.pk)
            form.add_error(None, str(error))
        else:
            messages.success(request, gettext("Decision signed."))
            return redirect("staff:queue")
    return _screening_page(request, screening, form)


@login_required
@permission_required("screening.decide_screening", raise_exception=True)
@require_POST
def rescreen(request: HttpRequest, screening_id: uuid.UUID) -> HttpResponse:
    """Ask the patient to repeat the full intake (the clearance on this screening ends)."""
    screening = _screening_for_staff(screening_id)
    form = RescreeningForm(request.POST)
    if not form.is_valid():
        return _screening_page(request, screening, rescreening_form=form)
    try:
        request_rescreening(
            screening=screening,
            physician=request.user,
            reason=form.cleaned_data["reason"],
            ip_address=audit.client_ip(request),
        )
    except RescreeningNotAllowed as error:
        messages.error(request, str(error))
        return redirect("staff:screening", screening_id=screening.pk)
    messages.success(
        request,
        gettext(
            "Re-screening asked for. The patient is emailed to log in, and their home page "
            "asks them to answer the questionnaire again."
        ),
    )
    return redirect(reverse("staff:screening", args=[screening.pk]) + "#rescreening-heading")


URGENT_RESPONSE_ROWS = 500


@login_required
@permission_required("screening.review_screening", raise_exception=True)
@require_GET
def urgent_response(request: HttpRequest) -> HttpResponse:
    """How long each urgent submission waited for a physician to open it: each row, the
    median and the longest, so a clinic can audit how fast it answers urgent flags. A
    resubmission that is urgent again is a row of its own. Names no patient."""
    audit.record(
        request=request,
        action=AuditAction.URGENT_RESPONSE_VIEWED,
        summary="Urgent response times read",
    )
    now = timezone.now()
    clocks = ReviewClock.objects.filter(urgent=True)
    waits = [
        opened_at - submitted_at
        for submitted_at, opened_at in clocks.filter(opened_at__isnull=False).values_list(
            "submitted_at", "opened_at"
        )
    ]
    rows = [
        {
            "clock": clock,
            "wait": clock.time_to_first_review,
            "waiting_for": None if clock.opened_at else now - clock.submitted_at,
        }
        for clock in clocks.select_related("opened_by").order_by("-submitted_at")[
            :URGENT_RESPONSE_ROWS
        ]
    ]
    context = {
        "rows": rows,
        "opened_count": len(waits),
        "median": statistics.median(waits) if waits else None,
        "longest": max(waits) if waits else None,
        "not_opened": clocks.filter(opened_at__isnull=True).count(),
        "limit": URGENT_RESPONSE_ROWS,
        "review_minutes": settings.URGENT_REVIEW_MINUTES,
        "realert_minutes": settings.URGENT_REALERT_MINUTES,
    }
    return render(request, "staff/urgent_response.html", context)


AUDIT_PAGE_SIZE = 100


@login_required
@permission_required("screening.view_auditevent", raise_exception=True)
def audit_log(request: HttpRequest) -> HttpResponse:
    identify = identifies_screenings(request.user)
    events = AuditEvent.objects.select_related("actor").order_by("-at", "-id")
    if identify:  # the "What" column names each screening's patient
        events = events.select_related("screening__patient")
    action = request.GET.get("action", "")
    if action in AuditAction.values:  # allow-list: only actions the app records
        events = events.filter(action=action)
    who = request.GET.get("who", "").replace("\x00", "").strip()[:100]
    if who:
        events = events.filter(actor__email__icontains=who)
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [shown_event(event, identify_screenings=identify) for event in page]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "staff/audit.html",
        {
            "page": page,
            "rows": rows,
            "actions": AuditAction.choices,
            "action": action,
            "who": who,
            "query": query.urlencode(),
        },
    )
