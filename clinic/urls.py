"""Top-level URLs: the admin, and the screening app (its audiences' URL groups)."""

from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Clinic screening administration"
admin.site.site_title = "Clinic screening admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("screening.urls")),
]
