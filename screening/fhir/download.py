"""The staff screening page's "Download as FHIR" link: the screening's Bundle as a file."""

from __future__ import annotations

import uuid

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone

from .. import audit
from ..models import AuditAction
from .api import base_url, fhir_response
from .export import screening_bundle
from .records import screening_data, screenings_for_export


@login_required
@permission_required("screening.review_screening", raise_exception=True)
def screening_bundle_download(request: HttpRequest, screening_id: uuid.UUID) -> HttpResponse:
    screening = get_object_or_404(screenings_for_export(), pk=screening_id)
    audit.record(
        request=request,
        action=AuditAction.SCREENING_EXPORTED,
        screening=screening,
        obj=screening,
        summary="Downloaded as a FHIR Bundle",
    )
    bundle = screening_bundle(screening_data(screening), base_url(request), timezone.now())
    response = fhir_response(bundle)
    # The file name carries the screening's random id only, never the patient's name.
    response["Content-Disposition"] = f'attachment; filename="screening-{screening.pk}.fhir.json"'
    return response
