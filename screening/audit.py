"""Write audit events: every staff read of a screening, every decision, every content change.

Rows are only ever inserted, and only by ``record`` below: nothing in the app updates or
deletes them, the model refuses to, and on PostgreSQL triggers refuse UPDATE, DELETE and
TRUNCATE too. Each row carries a SHA-256 hash of its own fields chained to the previous
row's hash, so any later edit, deletion or insertion is found by ``manage.py verify_audit``;
events cut off the end are found by the anchors it prints (see that command).
"""

import datetime
import functools
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
    return hashlib.sha256(_canonical(event, previous_hash).encode("utf-8")).hexdigest()


def _canonical(event: AuditEvent, previous_hash: str) -> str:
    """The text compute_row_hash hashes."""
    return json.dumps(
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


# A time no event has, standing for the one the database stamps (canonical_parts).
_TIME_MARKER = datetime.datetime(1999, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
_HASH_MARKER = "PREVIOUS_HASH"


def canonical_parts(event: AuditEvent) -> tuple[str, str, str]:
    """The canonical text around the event's time and the previous hash, which only the
    database knows when it appends (`_append_in_one_statement`): part 1 + the time (as
    compute_row_hash writes it) + part 2 + the previous hash + part 3 is exactly what
    compute_row_hash hashes. Each key with its opening quote is unique in the text (a
    value's own quotes are escaped), so the splits are unambiguous."""
    at = event.at
    event.at = _TIME_MARKER
    try:
        text = _canonical(event, _HASH_MARKER)
    finally:
        event.at = at
    time_text = '"at":"' + _TIME_MARKER.isoformat(timespec="microseconds") + '"'
    hash_text = '"previous_hash":"' + _HASH_MARKER + '"'
    if text.count(time_text) != 1 or text.count(hash_text) != 1:
        raise ValueError("the canonical text must name the time and the previous hash once")
    first, rest = text.split(time_text)
    second, third = rest.split(hash_text)
    return first + '"at":"', '"' + second + '"previous_hash":"', '"' + third


def _lock_chain_and_read_last_hash() -> str | None:
    """Make concurrent appenders queue, so no two chain to the same predecessor; then the
    last event's hash (None before the first event). The lock is held until the
    surrounding transaction ends. (SQLite allows one writer at a time anyway.)"""
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [CHAIN_LOCK_KEY])
        # Names from the model's metadata.
        cursor.execute(f"SELECT row_hash FROM {table} ORDER BY id DESC LIMIT 1")  # noqa: S608
        row = cursor.fetchone()
    return row[0] if row else None


# The columns the app fills in (the database numbers the id and, on PostgreSQL, stamps the
# time and works out previous_hash and row_hash).
_GIVEN_FIELDS = [
    AuditEvent._meta.get_field(name)
    for name in (
        "actor",
        "action",
        "screening",
        "object_type",
        "object_id",
        "summary",
        "ip_address",
    )
]


@functools.cache  # PostgreSQL's only, and the same for the life of the process
def _append_sql() -> str:
    """The one statement that appends an event on PostgreSQL: the function of migration
    0028 takes the chain's lock, then gives the last hash and the time; the new hash is
    SHA-256 of the canonical text around them, as compute_row_hash computes it (the time in
    UTC, to the microsecond, as isoformat writes it)."""
    quote = connection.ops.quote_name
    meta = AuditEvent._meta
    at, previous, row_hash = (
        quote(meta.get_field(name).column) for name in ("at", "previous_hash", "row_hash")
    )
    given = ", ".join(quote(field.column) for field in _GIVEN_FIELDS)
    placeholders = ", ".join(["%s"] * len(_GIVEN_FIELDS))
    time_text = "to_char(chain.appended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"
    # Names from the model's metadata; every value is a parameter.
    return (
        f"INSERT INTO {quote(meta.db_table)} ({at}, {given}, {previous}, {row_hash}) "  # noqa: S608
        f"SELECT chain.appended_at, {placeholders}, chain.last_hash, "
        f"encode(sha256(convert_to(%s || {time_text} || '+00:00' || %s || chain.last_hash || %s, "
        "'UTF8')), 'hex') "
        "FROM screening_auditevent_chain_next(%s, %s) AS chain "
        f"RETURNING {quote(meta.pk.column)}, {at}, {previous}, {row_hash}"
    )


def _append_in_one_statement(event: AuditEvent) -> None:
    """Append the event with one prepared statement on PostgreSQL: one round trip, and,
    outside a caller's transaction, the chain's lock held only while it runs and commits
    (it was held across three round trips; the two workers of a server queued on it)."""
    before_time, before_hash, after_hash = canonical_parts(event)
    values = [
        field.get_db_prep_save(getattr(event, field.attname), connection) for field in _GIVEN_FIELDS
    ]
    with connection.cursor() as cursor:
        prepared.execute(
            cursor,
            "audit_append",
            _append_sql(),
            [*values, before_time, before_hash, after_hash, CHAIN_LOCK_KEY, GENESIS_HASH],
        )
        event.id, event.at, event.previous_hash, event.row_hash = cursor.fetchone()
    event._state.adding = False
    event._state.db = connection.alias


def _database_appends() -> bool:
    """Whether this connection's database has migration 0028's function: asked once per
    connection (and again after a stale statement), so code that starts before the
    migration runs, or a database migrated back, still audits, the way it did before."""
    facts = prepared.facts(connection)
    if "audit_chain_next" not in facts:
        facts["audit_chain_next"] = prepared.ask(
            connection,
            "SELECT to_regprocedure('screening_auditevent_chain_next(bigint, text)') IS NOT NULL",
        )
    return facts["audit_chain_next"]


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
def _append(event: AuditEvent) -> None:
    """Chain the event to the last one and insert it, on its own or in the caller's
    transaction. On PostgreSQL, one statement (made once more if it went stale, when it is
    not inside a caller's transaction, whose transaction would then be lost and the error
    stand); elsewhere, or before migration 0028, under the chain's lock, the last hash read
    and the event saved in one transaction, its time taken after the lock."""
    if connection.vendor == "postgresql" and _database_appends():
        _append_in_one_statement(event)
        return
    with transaction.atomic():
        event.previous_hash = _lock_chain_and_read_last_hash() or GENESIS_HASH
        event.at = timezone.now()
        event.row_hash = compute_row_hash(event, event.previous_hash)
        event.save()
