"""Top-level URLs: the admin, and the screening app (its audiences' URL groups)."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("screening.urls")),
]
