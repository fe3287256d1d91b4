"""Draft content for physicians: the drafts, and a draft's effect on the screenings on file.

Running a draft's rules over real screenings reads patients' answers, so it belongs to
those allowed to read screenings (the review permission), never to clinic admins, who
test drafts on the synthetic test panel instead. Every screening it reads is audited
(screening.services.content.preview_draft_impact).
"""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods

from .. import audit
from ..models import QuestionSetVersion, Screening
from ..services.content import VersionNotEditable, preview_draft_impact


@login_required
@permission_required("screening.review_screening", raise_exception=True)
@require_GET
def drafts(request: HttpRequest) -> HttpResponse:
    versions = (
        QuestionSetVersion.objects.filter(status=QuestionSetVersion.Status.DRAFT)
        .select_related("question_set")
        .order_by("question_set__name", "number")
    )
    return render(request, "staff/drafts.html", {"drafts": versions})


@login_required
@permission_required("screening.review_screening", raise_exception=True)
@require_http_methods(["GET", "POST"])
def draft_impact(request: HttpRequest, version_id: uuid.UUID) -> HttpResponse:
    """GET says what the preview will read; POST runs it (audited) and shows the counts."""
    version = get_object_or_404(
        QuestionSetVersion.objects.select_related("question_set"),
        pk=version_id,
        status=QuestionSetVersion.Status.DRAFT,
    )
    result = None
    if request.method == "POST":
        try:
            result = preview_draft_impact(
                version=version, actor=request.user, ip_address=audit.client_ip(request)
            )
        except VersionNotEditable:
            messages.error(
                request,
                gettext("Version %(number)s was published meanwhile.") % {"number": version.number},
            )
            return redirect("staff:drafts")
    return render(
        request,
        "staff/draft_impact.html",
        {
            "version": version,
            # What the preview reads: intakes of this draft's question set awaiting review.
            "awaiting": Screening.objects.awaiting_review()
            .intakes()
            .filter(version__question_set_id=version.question_set_id)
            .count(),
            "result": result,
            "rows": [row for row in result.impact if row.now or row.gained or row.lost]
            if result
            else [],
        },
    )
