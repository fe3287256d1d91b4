"""The patient's intake, under /screenings/: one page per section, review, submit."""

from django.urls import path

from . import feeling, views

app_name = "patient"

urlpatterns = [
    path("", views.home, name="home"),
    path("start/", views.start, name="start"),
    path("how-you-have-been-feeling/", feeling.feeling, name="feeling"),
    path("sessions/<uuid:session_id>/check-in/", views.check_in, name="check_in"),
    path("<uuid:screening_id>/", views.resume, name="resume"),
    path("<uuid:screening_id>/page/<slug:section_code>/", views.section, name="section"),
    path(
        "<uuid:screening_id>/page/<slug:section_code>/draft/",
        views.page_draft_view,
        name="page_draft",
    ),
    path(
        "<uuid:screening_id>/page/<slug:section_code>/shown/",
        views.section_shown,
        name="section_shown",
    ),
    path("<uuid:screening_id>/review/", views.review, name="review"),
    path("<uuid:screening_id>/submitted/", views.done, name="done"),
]
