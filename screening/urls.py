"""URLs by audience: everyone's account pages at the top, the patient's intake under
/screenings/, staff pages under /staff/ (the clinic admin's pages are the Django admin),
and the read-only FHIR API for other systems under /fhir/R4/."""

from django.urls import include, path

urlpatterns = [
    path("", include("screening.accounts.urls")),
    path("screenings/", include("screening.intake.urls")),
    path("staff/", include("screening.review.urls")),
    path("fhir/R4/", include("screening.fhir.urls")),
]
