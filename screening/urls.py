"""URLs by audience: patient intake under /screenings/, staff pages under /staff/, and the
read-only FHIR API under /fhir/R4/."""

from django.urls import include, path

from .fhir.download import screening_bundle_download
from .views import accounts, patient, physician, staff

patient_urls = (
    [
        path("", patient.home, name="home"),
        path("start/", patient.start, name="start"),
        path("<uuid:screening_id>/", patient.resume, name="resume"),
        path("<uuid:screening_id>/page/<slug:section_code>/", patient.section, name="section"),
        path("<uuid:screening_id>/review/", patient.review, name="review"),
        path("<uuid:screening_id>/submitted/", patient.done, name="done"),
    ],
    "patient",
)

staff_urls = (
    [
        path("", staff.home, name="home"),
        path("invitations/", staff.invitations, name="invitations"),
        path("queue/", physician.queue, name="queue"),
        path("screenings/<uuid:screening_id>/", physician.screening_detail, name="screening"),
        path("screenings/<uuid:screening_id>/print/", physician.screening_print, name="print"),
        path(
            "screenings/<uuid:screening_id>/flags/<uuid:flag_id>/acknowledge/",
            physician.acknowledge,
            name="acknowledge",
        ),
        path("screenings/<uuid:screening_id>/decide/", physician.decide, name="decide"),
        path("screenings/<uuid:screening_id>/fhir/", screening_bundle_download, name="fhir_bundle"),
        path("audit/", physician.audit_log, name="audit"),
    ],
    "staff",
)

urlpatterns = [
    path("", accounts.home, name="home"),
    path("invitation/<str:token>/", accounts.accept_invitation_view, name="accept_invitation"),
    path("screenings/", include(patient_urls)),
    path("staff/", include(staff_urls)),
    path("fhir/R4/", include("screening.fhir.urls")),
]
