"""Write audit events: every staff read of a screening, every decision, every content change.

Rows are only ever inserted here; nothing in the app updates or deletes them, and the
admin shows them read-only.
"""

from .models import AuditEvent


def client_ip(request) -> str | None:
    """The caller's address. Behind a proxy, configure it to set REMOTE_ADDR (e.g. gunicorn --forwarded-allow-ips)."""
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def record(
    *, request=None, actor=None, action: str, screening=None, obj=None, summary: str = ""
) -> AuditEvent:
    actor = actor if actor is not None else getattr(request, "user", None)
    if actor is not None and not actor.is_authenticated:
        actor = None
    return AuditEvent.objects.create(
        actor=actor,
        action=action,
        screening=screening,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        summary=summary[:300],
        ip_address=client_ip(request),
    )
