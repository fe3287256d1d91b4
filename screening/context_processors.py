from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext

from . import session_clock


def clinic(request: HttpRequest) -> dict[str, object]:
    return {
        "clinic_name": settings.CLINIC_NAME,
        # In the page's language when it is the default text (a clinic's own is as written).
        "crisis_resources_text": gettext(settings.CRISIS_RESOURCES_TEXT),
    }


def session_clock_context(request: HttpRequest) -> dict:
    """What the idle warning's script needs, on every signed-in page (templates/base.html)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    session = request.session
    return {
        "idle_seconds_left": session_clock.seconds_left(session),
        "idle_warning_seconds": session_clock.warning_seconds(session),
        "idle_draft_lead_seconds": session_clock.draft_lead_seconds(session),
    }
