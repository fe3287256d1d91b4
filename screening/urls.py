"""URLs by audience: patient intake under /screenings/, staff pages under /staff/."""

from django.urls import include, path

from .views import accounts, drafts, patient, physician, staff

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
        path("audit/", physician.audit_log, name="audit"),
        path("drafts/", drafts.drafts, name="drafts"),
        path("drafts/<uuid:version_id>/impact/", drafts.draft_impact, name="draft_impact"),
    ],
    "staff",
)

urlpatterns = [
    path("", accounts.home, name="home"),
    # The token comes in the query string (?token=...), never in the path: see views.accounts.
    path("invitation/", accounts.accept_invitation_view, name="accept_invitation"),
    path("invitation/<str:token>/", accounts.old_invitation_link, name="old_invitation_link"),
    path("screenings/", include(patient_urls)),
    path("staff/", include(staff_urls)),
]
