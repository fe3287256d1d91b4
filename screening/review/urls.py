"""Staff pages, under /staff/: the review queue, a screening, decisions, the audit log,
invitations, a draft's effect on screenings (physicians), and treatment courses and sessions
(nurses and physicians)."""

from django.urls import path

from ..fhir.download import screening_bundle_download
from . import drafts, invitations, patients, sessions, views

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
    path("patients/<uuid:patient_id>/", patients.patient_detail, name="patient"),
    path("audit/", views.audit_log, name="audit"),
    path("urgent-response/", views.urgent_response, name="urgent_response"),
    path("drafts/", drafts.drafts, name="drafts"),
    path("drafts/<uuid:version_id>/impact/", drafts.draft_impact, name="draft_impact"),
    path("sessions/", sessions.board, name="sessions"),
    path("sessions/courses/new/", sessions.start_course_view, name="start_course"),
    path("sessions/courses/<uuid:course_id>/", sessions.course_detail, name="course"),
    path("sessions/courses/<uuid:course_id>/schedule/", sessions.schedule, name="schedule"),
    path("sessions/courses/<uuid:course_id>/end/", sessions.end_course_view, name="end_course"),
    path("sessions/<uuid:session_id>/", sessions.session_detail, name="session"),
    path("sessions/<uuid:session_id>/move/", sessions.reschedule, name="reschedule_session"),
    path("sessions/<uuid:session_id>/cancel/", sessions.cancel, name="cancel_session"),
    path(
        "sessions/<uuid:session_id>/vitals/before-dose/",
        sessions.record_vitals,
        {"timing": "pre_dose"},
        name="record_pre_dose",
    ),
    path(
        "sessions/<uuid:session_id>/vitals/after-dose/",
        sessions.record_vitals,
        {"timing": "post_dose"},
        name="record_post_dose",
    ),
    path("sessions/<uuid:session_id>/dose/", sessions.record_dose_view, name="record_dose"),
    path(
        "sessions/<uuid:session_id>/discharge/",
        sessions.record_discharge_view,
        name="record_discharge",
    ),
    path(
        "sessions/<uuid:session_id>/blood-pressure-review/",
        sessions.review_pressure,
        name="review_blood_pressure",
    ),
    path(
        "sessions/<uuid:session_id>/flags/<uuid:flag_id>/acknowledge/",
        sessions.acknowledge_check_in_flag,
        name="session_acknowledge",
    ),
]
