"""The physician's pages: the review queue, a screening with its flags, decisions, print view.

Every read of a screening writes an audit row. Writes go through screening.decisions,
which refuses a save based on a stale page (another physician saved first).
"""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from .. import audit
from ..audit_display import identifies_screenings, shown_event
from ..engine.rules import SEVERITIES
from ..models import Flag, Screening, UndeliveredEmail
from ..presenters import DERIVED_LABELS, SEVERITY_LABELS, answer_rows, display_answer, queue_rows
from ..selectors import drug_class_names, queue_page, visibility_for
from ..services.review import DecisionNotAllowed, StaleScreening, acknowledge_flag, record_decision
from .forms import AcknowledgeForm, DecisionForm, QueueFilterForm

QUEUE_PAGE_SIZE = 50
QUEUE_STATUS_LABELS = dict(Screening.Status.choices)
# What a queue row shows and pages by: not the scores' JSON nor the patient's password hash.
QUEUE_COLUMNS = (
    *("id", "status", "level", "level_rank", "submitted_at", "flag_count"),
    *("patient__full_name", "patient__email"),
)


def permission_required(codename):
    """Logged in and holding the permission; a patient gets 403, a visitor the login page."""

    def decorator(view):
        @login_required
        def wrapped(request, *args, **kwargs):
            if not request.user.has_perm(f"screening.{codename}"):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        wrapped.__name__ = view.__name__
        wrapped.__doc__ = view.__doc__
        return wrapped

    return decorator


@permission_required("review_screening")
def queue(request):
    filters = QueueFilterForm(request.GET or None)
    page = queue_page(
        filters.filter(Screening.objects.select_related("patient").only(*QUEUE_COLUMNS)),
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
        size=QUEUE_PAGE_SIZE,
    )
    query = request.GET.copy()
    for cursor in ("after", "before", "page"):
        query.pop(cursor, None)
    # A screening's address is this prefix and its id: reversed once, not for every row.
    zero = uuid.UUID(int=0)
    prefix = reverse("staff:screening", args=[zero]).removesuffix(f"{zero}/")
    rows = queue_rows(page, link_prefix=prefix, statuses=QUEUE_STATUS_LABELS)
    # The worker could not email physicians about these urgent screenings: say so here,
    # where physicians look (the admin's list of undelivered emails does not name them).
    unsent = UndeliveredEmail.objects.unresolved().urgent_alert_screening_ids()
    alerts_not_sent = (
        Screening.objects.awaiting_review()
        .filter(pk__in=unsent)
        .select_related("patient")
        .in_queue_order()
        if unsent
        else []
    )
    context = {
        "filters": filters,
        "page": page,
        "rows": rows,
        "query": query.urlencode(),
        "page_size": QUEUE_PAGE_SIZE,
        "alerts_not_sent": alerts_not_sent,
    }
    return render(request, "staff/queue.html", context)


def _screening_for_staff(screening_id) -> Screening:
    return get_object_or_404(
        Screening.objects.select_related("patient", "version").exclude(
            status=Screening.Status.IN_PROGRESS, submitted_at__isnull=True
        ),
        pk=screening_id,
    )


def screening_context(screening: Screening) -> dict:
    flags = list(screening.flags.select_related("acknowledgement__physician"))
    answers = visibility_for(screening)
    labels = {q.code: q.text for q in answers.questions.values()}
    grouped = [
        {
            "severity": severity,
            "label": SEVERITY_LABELS[severity],
            "flags": [f for f in flags if f.severity == severity],
        }
        for severity in SEVERITIES
    ]
    score_names = {score["code"]: score["name"] for score in screening.scores or []}
    for flag in flags:
        flag.evidence_rows = [
            _evidence_row(item, answers, labels, score_names) for item in flag.evidence
        ]
    return {
        "screening": screening,
        "flag_groups": [group for group in grouped if group["flags"]],
        "flags": flags,
        "unacknowledged": [f for f in flags if not hasattr(f, "acknowledgement")],
        "medications": list(screening.medications.all()),
        "class_names": drug_class_names(),
        "sections": answer_rows(answers),
        "decisions": list(
            screening.decisions.select_related("physician", "amends").order_by("signed_at")
        ),
        "labels": SEVERITY_LABELS,
    }


def _evidence_row(item: dict, answers, labels: dict, score_names: dict) -> dict:
    """An evidence item as the physician reads it: the question's text and the answer's words."""
    row = dict(item)
    question = answers.questions.get(item.get("question"))
    if question is not None:
        row["label"] = labels[question.code]
        row["display"] = display_answer(question, item.get("answer"))
        if isinstance(row["display"], list):
            row["display"] = "; ".join(row["display"])
    else:
        name = item.get("value") or item.get("question")
        row["label"] = score_names.get(name) or DERIVED_LABELS.get(name, name)
    return row


@permission_required("review_screening")
def screening_detail(request, screening_id):
    return _screening_page(request, _screening_for_staff(screening_id))


def _screening_page(request, screening: Screening, decision_form: DecisionForm | None = None):
    """The whole screening, with the decision form (as posted, when it comes back with an
    error). Every render of it is a read of the screening, audited like any other."""
    audit.record(request=request, action="screening.viewed", screening=screening, obj=screening)
    context = screening_context(screening)
    if decision_form is None:
        has_contraindication = any(f.severity == "contraindicated" for f in context["flags"])
        decision_form = DecisionForm(
            initial={"lock_version": screening.lock_version},
            has_contraindication=has_contraindication,
        )
    context["decision_form"] = decision_form
    context["can_decide"] = request.user.has_perm("screening.decide_screening")
    return render(request, "staff/screening.html", context)


@permission_required("review_screening")
def screening_print(request, screening_id):
    screening = _screening_for_staff(screening_id)
    audit.record(request=request, action="screening.printed", screening=screening, obj=screening)
    return render(request, "staff/screening_print.html", screening_context(screening))


def _stale(request, screening):
    messages.error(
        request,
        "Another physician changed this screening while you had it open. Nothing you entered "
        "was saved: the page now shows their changes. Please check them and try again.",
    )
    return redirect("staff:screening", screening_id=screening.pk)


@permission_required("decide_screening")
@require_POST
def acknowledge(request, screening_id, flag_id):
    screening = _screening_for_staff(screening_id)
    flag = get_object_or_404(Flag, pk=flag_id, screening=screening)
    form = AcknowledgeForm(request.POST)
    if not form.is_valid():
        messages.error(request, "That acknowledgement could not be read; please try again.")
        return redirect("staff:screening", screening_id=screening.pk)
    try:
        acknowledge_flag(
            flag=flag,
            physician=request.user,
            note=form.cleaned_data["note"],
            seen_version=form.cleaned_data["lock_version"],
            request=request,
        )
    except StaleScreening:
        return _stale(request, screening)
    except DecisionNotAllowed as error:
        messages.error(request, str(error))
    return redirect(f"/staff/screenings/{screening.pk}/#flag-{flag.pk}")


@permission_required("decide_screening")
@require_POST
def decide(request, screening_id):
    screening = _screening_for_staff(screening_id)
    has_contraindication = screening.flags.filter(severity="contraindicated").exists()
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
                request=request,
            )
        except StaleScreening:
            return _stale(request, screening)
        except DecisionNotAllowed as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Decision signed.")
            return redirect("staff:queue")
    return _screening_page(request, screening, form)


AUDIT_PAGE_SIZE = 100


@permission_required("view_auditevent")
def audit_log(request):
    from ..models import AuditEvent

    events = AuditEvent.objects.select_related("actor").order_by("-at", "-id")
    action = request.GET.get("action", "")
    actions = sorted(AuditEvent.objects.values_list("action", flat=True).distinct())
    if action in actions:  # allow-list: only actions that exist
        events = events.filter(action=action)
    who = request.GET.get("who", "").replace("\x00", "").strip()[:100]
    if who:
        events = events.filter(actor__email__icontains=who)
    page = Paginator(events, AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    identify = identifies_screenings(request.user)
    rows = [shown_event(event, identify_screenings=identify) for event in page]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "staff/audit.html",
        {
            "page": page,
            "rows": rows,
            "actions": actions,
            "action": action,
            "who": who,
            "query": query.urlencode(),
        },
    )
