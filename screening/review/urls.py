"""Staff pages, under /staff/: the review queue, a screening, decisions, the audit log,
invitations, and a draft's effect on screenings (physicians)."""

from django.urls import path

from ..fhir.download import screening_bundle_download
from . import drafts, invitations, views

app_name = "staff"

urlpatterns = [
    path("", invitations.home, name="home"),
    path("invitations/", invitations.invitations, name="invitations"),
    path("queue/", views.queue, name="queue"),
    path("screenings/<uuid:screening_id>/", views.screening_detail, name="screening"),
    path("screenings/<uuid:screening_id>/print/", views.screening_print, name="print"),
    path(
        "screenings/<uuid:screening_id>/flags/<uuid:flag_id>/acknowledge/",
        views.acknowledge,
        name="acknowledge",
    ),
    path("screenings/<uuid:screening_id>/decide/", views.decide, name="decide"),
    path("screenings/<uuid:screening_id>/rescreen/", views.rescreen, name="rescreen"),
    path("screenings/<uuid:screening_id>/fhir/", screening_bundle_download, name="fhir_bundle"),
    path("audit/", views.audit_log, name="audit"),
    path("urgent-response/", views.urgent_response, name="urgent_response"),
    path("drafts/", drafts.drafts, name="drafts"),
    path("drafts/<uuid:version_id>/impact/", drafts.draft_impact, name="draft_impact"),
]
