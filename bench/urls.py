"""The bench-only URLconf (bench.settings): every production URL plus a bare view.

/bench/ok/ returns "ok" through the whole middleware stack with no session, template or
query: the framework's own ceiling on this machine, which the HTTP targets are relative to.
It exists only here, never in clinic.urls.
"""

from django.http import HttpResponse
from django.urls import include, path


def ok(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("bench/ok/", ok),
    path("", include("clinic.urls")),
]
