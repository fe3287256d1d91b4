from django.conf import settings
from django.http import HttpRequest


def clinic(request: HttpRequest) -> dict[str, object]:
    return {
        "clinic_name": settings.CLINIC_NAME,
        "crisis_resources_text": settings.CRISIS_RESOURCES_TEXT,
    }
