"""Write audit events: every staff read of a screening, every decision, every content change.

Rows are only ever inserted, and only by ``record`` below: nothing in the app updates or
deletes them, the model refuses to, and on PostgreSQL triggers refuse UPDATE, DELETE and
TRUNCATE too. Each row carries a SHA-256 hash of its own fields chained to the previous
row's hash, so any later edit, deletion or insertion is found by ``manage.py verify_audit``;
events cut off the end are found by the anchors it prints (see that command).
"""

import hashlib
import json
from datetime import UTC

from django.db import connection, models, transaction
from django.http import HttpRequest
from django.utils import timezone

from . import prepared
from .client_address import client_ip
from .models import AuditAction, AuditEvent, Screening, User

# The previous_hash of the very first event.
GENESIS_HASH = "0" * 64

# Key of the PostgreSQL advisory lock that serialises appends (any fixed 64-bit number;
# this one is the first 8 bytes of sha256("screening.auditevent") as a signed integer).
CHAIN_LOCK_KEY = 2342241390980210168


def compute_row_hash(event: AuditEvent, previous_hash: str) -> str:
    """SHA-256 over a canonical serialisation of the event's fields and the previous hash.

    Every stored field is covered except the id (the order it gives is what previous_hash
    links) and row_hash itself. The previous hash must stay in: without it, an event could be
    deleted and the next one re-pointed at its predecessor unnoticed
    (tests/security/test_audit_integrity.py checks both).

    Changing this changes every hash: old rows would no longer verify. The 0004 migration
    uses it to hash the rows that existed before the chain.
    """
    canonical = json.dumps(
        {
            "at": event.at.astimezone(UTC).isoformat(timespec="microseconds"),
            "actor_id": str(event.actor_id) if event.actor_id is not None else None,
            "action": event.action,
            "screening_id": str(event.screening_id) if event.screening_id is not None else None,
            "object_type": event.object_type,
            "object_id": event.object_id,
            "summary": event.summary,
            "ip_address": event.ip_address,
            "previous_hash": previous_hash,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _lock_chain_and_read_last_hash() -> str | None:
    """Make concurrent appenders queue, so no two chain to the same predecessor; then the
    last event's hash (None before the first event).

    The lock is held until the surrounding transaction ends. On PostgreSQL the lock and
    the read go in one round trip as two statements: under READ COMMITTED, the default,
    the read, a statement of its own, sees every append committed before the lock was
    granted (one statement doing both would read from before it waited). SQLite allows
    one writer at a time anyway.
    """
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    # Names from the model's metadata; the one value is a parameter.
    last_hash = f"SELECT row_hash FROM {table} ORDER BY id DESC LIMIT 1"  # noqa: S608
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SELECT pg_advisory_xact_lock(%s); {last_hash}", [CHAIN_LOCK_KEY])
        else:
            cursor.execute(last_hash)
        row = cursor.fetchone()
    return row[0] if row else None


# Every column of an event but its id, which the database numbers.
_STORED_FIELDS = [field for field in AuditEvent._meta.concrete_fields if not field.primary_key]


def _insert(event: AuditEvent) -> None:
    """Insert the new event and take its id: on PostgreSQL as a statement prepared once per
    connection (the ORM's save built the same INSERT anew on every staff read); elsewhere
    through the model's save."""
    if connection.vendor != "postgresql":
        event.save()
        return
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in _STORED_FIELDS)
    placeholders = ", ".join(["%s"] * len(_STORED_FIELDS))
    values = [
        field.get_db_prep_save(getattr(event, field.attname), connection)
        for field in _STORED_FIELDS
    ]
    with connection.cursor() as cursor:
        prepared.execute(
            cursor,
            "audit_append",
            # Names from the model's metadata; every value is a parameter.
            f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) RETURNING id",  # noqa: S608
            values,
        )
        event.id = cursor.fetchone()[0]
    event._state.adding = False
    event._state.db = connection.alias


def record(
    *,
    request: HttpRequest | None = None,
    actor: User | None = None,
    action: AuditAction,
    screening: Screening | None = None,
    obj: models.Model | None = None,
    summary: str = "",
    ip_address: str | None = None,
) -> AuditEvent:
    """Append one event to the audit log (the only place that writes audit events).

    ``action`` is an AuditAction member. Services called without a request (publish_version)
    pass the actor and ip_address.
    """
    actor = actor if actor is not None else getattr(request, "user", None)
    if actor is not None and not actor.is_authenticated:
        actor = None
    ip_address = ip_address or client_ip(request)
    if ip_address:
        # Hash the address in the form the database will return it (IPv6 compressed).
        ip_address = AuditEvent._meta.get_field("ip_address").to_python(ip_address)
    event = AuditEvent(
        actor=actor,
        action=action,
        screening=screening,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        summary=summary[:300],
        ip_address=ip_address,
    )
    _append(event)
    return event


@prepared.once_more_if_stale
@transaction.atomic
def _append(event: AuditEvent) -> None:
    """Chain the event to the last one and insert it: a transaction of its own, or part of
    the caller's. Made once more if its prepared INSERT went stale, when it is the outermost
    transaction; inside the caller's, the caller's transaction is lost and the error stands."""
    event.previous_hash = _lock_chain_and_read_last_hash() or GENESIS_HASH
    event.at = timezone.now()
    event.row_hash = compute_row_hash(event, event.previous_hash)
    _insert(event)
