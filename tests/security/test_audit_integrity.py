"""The audit log is tamper-evident (a hash chain that verify_audit checks) and immutable.

Someone with full database access can still cut events off the end, empty the table or
re-hash the whole chain; the anchors verify_audit prints (kept away from the database)
catch that, and the tests below prove it for each.
"""

import datetime
import hashlib
import io
import threading
import uuid
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from screening import audit
from screening.models import AppendOnlyError, AuditAction, AuditEvent, Screening, User
from tests.factories import make_submitted_screening
from tests.logins import log_in_staff

pytestmark = pytest.mark.django_db


def postgresql_only(reason: str):
    return pytest.mark.skipif(connection.vendor != "postgresql", reason=reason)


TABLE = AuditEvent._meta.db_table
TRIGGER = "screening_auditevent_append_only"
TRUNCATE_TRIGGER = "screening_auditevent_no_truncate"


def verify_audit(*args: str) -> str:
    """The command's output when the chain is intact; raises CommandError when it is not."""
    output = io.StringIO()
    call_command("verify_audit", *args, stdout=output)
    return output.getvalue()


def anchor_of(output: str) -> tuple[str, str]:
    """The "Anchor: N HASH" line of a run, as (N, HASH)."""
    lines = [line for line in output.splitlines() if line.startswith("Anchor: ")]
    assert len(lines) == 1, output
    count, head = lines[0].removeprefix("Anchor: ").split()
    return count, head


def audited_actions(physician) -> list[AuditEvent]:
    """A physician reads, prints, acknowledges and decides: each step writes an event."""
    screening = make_submitted_screening(flags=[("opioid", "caution")])
    client = log_in_staff(Client(), physician)
    base = f"/staff/screenings/{screening.pk}/"
    # An uncompressed IPv6 address: the hash must use the form the database stores.
    client.get(base, REMOTE_ADDR="2001:0DB8:0000:0000:0000:0000:0000:0001")
    client.get(f"{base}print/")
    flag = screening.flags.get()
    screening.refresh_from_db()
    client.post(f"{base}flags/{flag.pk}/acknowledge/", {"lock_version": screening.lock_version})
    screening.refresh_from_db()
    client.post(f"{base}decide/", {"lock_version": screening.lock_version, "outcome": "cleared"})
    audit.record(actor=physician, action="test.note", obj=screening, summary="Ünïcode ✓ note")
    return list(AuditEvent.objects.order_by("id"))


def tamper(sql: str, params: list) -> None:
    """Change the table the way someone with database access could: past the ORM and trigger."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # PostgreSQL will not alter a table with foreign-key checks still pending from
            # this transaction (the test's rows): run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            # USER: both the append-only and the no-truncate trigger, as a superuser could.
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")


def empty_the_log() -> None:
    """TRUNCATE on PostgreSQL (its triggers disabled), DELETE on SQLite (which has none)."""
    if connection.vendor == "postgresql":
        tamper(f"TRUNCATE {TABLE}", [])
    else:
        tamper(f"DELETE FROM {TABLE}", [])


def rehash_from(events: list[AuditEvent], start: int) -> None:
    """Rewrite events[start:] in place and re-chain them: what a forger with the code does."""
    previous_hash = events[start].previous_hash
    for event in events[start:]:
        event.summary = f"forged: {event.summary}"
        event.previous_hash = previous_hash
        event.row_hash = audit.compute_row_hash(event, previous_hash)
        previous_hash = event.row_hash
        tamper(
            f"UPDATE {TABLE} SET summary = %s, previous_hash = %s, row_hash = %s WHERE id = %s",
            [event.summary, event.previous_hash, event.row_hash, event.pk],
        )


def test_the_chain_verifies_after_real_audited_actions(physician, default_version):
    events = audited_actions(physician)
    actions = [event.action for event in events]
    assert actions == [
        "screening.viewed",
        "screening.printed",
        "flag.acknowledged",
        "decision.recorded",
        "test.note",
    ]
    assert events[0].previous_hash == audit.GENESIS_HASH
    for previous, event in zip(events, events[1:], strict=False):
        assert event.previous_hash == previous.row_hash
    assert events[0].ip_address == "2001:db8::1"
    output = verify_audit()
    assert "Audit log intact: 5 events" in output
    assert events[-1].row_hash in output


def test_an_empty_log_is_intact():
    assert "Audit log intact: 0 events" in verify_audit()


def test_a_row_edited_in_the_database_is_named(physician, default_version):
    events = audited_actions(physician)
    edited = events[2]
    tamper(f"UPDATE {TABLE} SET summary = %s WHERE id = %s", ["Nothing happened", edited.pk])
    with pytest.raises(CommandError) as broken:
        verify_audit()
    message = str(broken.value)
    assert f"event {edited.pk} (" in message and "it was edited" in message
    assert "2 events before it are intact" in message
    assert broken.value.returncode != 0


def test_a_row_edited_and_rehashed_breaks_the_link_to_the_next_row(physician, default_version):
    events = audited_actions(physician)
    edited, following = events[1], events[2]
    edited.summary = "Nothing happened"
    forged_hash = audit.compute_row_hash(edited, edited.previous_hash)
    tamper(
        f"UPDATE {TABLE} SET summary = %s, row_hash = %s WHERE id = %s",
        [edited.summary, forged_hash, edited.pk],
    )
    with pytest.raises(CommandError, match=f"event {following.pk} .*does not follow"):
        verify_audit()


def test_a_row_deleted_from_the_middle_is_detected(physician, default_version):
    events = audited_actions(physician)
    tamper(f"DELETE FROM {TABLE} WHERE id = %s", [events[2].pk])
    with pytest.raises(CommandError, match=f"event {events[3].pk} .*does not follow"):
        verify_audit()


def test_a_deleted_event_whose_successor_is_relinked_by_raw_sql_is_named(
    physician, default_version
):
    """The hash covers the link: re-pointing the next event past a deleted one breaks it."""
    events = audited_actions(physician)
    deleted, relinked = events[2], events[3]
    tamper(f"DELETE FROM {TABLE} WHERE id = %s", [deleted.pk])
    tamper(
        f"UPDATE {TABLE} SET previous_hash = %s WHERE id = %s",
        [events[1].row_hash, relinked.pk],
    )
    with pytest.raises(CommandError) as broken:
        verify_audit()
    message = str(broken.value)
    assert f"event {relinked.pk} (" in message
    assert "its content does not match its hash" in message
    assert "2 events before it are intact" in message


def test_the_hash_covers_the_link_and_every_field_of_an_event():
    """Change any one stored field (or the previous hash) and the row hash changes.

    Every column but the id (its order is what previous_hash links) and row_hash itself must
    be listed here: a new column that the hash left out could be edited unnoticed.
    """
    event = AuditEvent(
        at=timezone.now(),
        actor_id=uuid.uuid4(),
        action="screening.viewed",
        screening_id=uuid.uuid4(),
        object_type="screening.screening",
        object_id="1234",
        summary="Read the screening",
        ip_address="192.0.2.1",
        previous_hash="a" * 64,
    )
    changes = {
        "at": event.at + timedelta(microseconds=1),
        "actor_id": uuid.uuid4(),
        "action": "screening.printed",
        "screening_id": uuid.uuid4(),
        "object_type": "screening.flag",
        "object_id": "1235",
        "summary": "Read the screening.",
        "ip_address": "192.0.2.2",
        "previous_hash": "b" * 64,
    }
    stored = {field.attname for field in AuditEvent._meta.concrete_fields}
    assert set(changes) == stored - {"id", "row_hash"}
    original = audit.compute_row_hash(event, event.previous_hash)
    for attname, value in changes.items():
        changed = AuditEvent(**{name: getattr(event, name) for name in changes})
        setattr(changed, attname, value)
        assert audit.compute_row_hash(changed, changed.previous_hash) != original, (
            f"the row hash ignores {attname}"
        )
    # And none of them is optional: null or empty counts as a change too.
    for attname in ("actor_id", "screening_id", "ip_address", "summary", "object_id"):
        changed = AuditEvent(**{name: getattr(event, name) for name in changes})
        setattr(changed, attname, None if attname.endswith(("_id", "address")) else "")
        assert audit.compute_row_hash(changed, changed.previous_hash) != original, attname


# Anchors: what the chain alone cannot show ---------------------------------------------------


def test_each_run_prints_an_anchor_that_a_later_run_accepts(physician, default_version):
    events = audited_actions(physician)
    count, head = anchor_of(verify_audit())
    assert (count, head) == ("5", events[-1].row_hash)
    audit.record(action="test.later")  # the log grows; the anchor still holds

    output = verify_audit("--expect-count", count, "--expect-head", head)

    assert "Audit log intact: 6 events" in output
    assert "It still holds all 1 anchor(s) given." in output
    assert anchor_of(output) == ("6", AuditEvent.objects.order_by("-id").first().row_hash)


def test_events_cut_off_the_end_pass_the_chain_but_fail_the_anchor(physician, default_version):
    events = audited_actions(physician)
    count, head = anchor_of(verify_audit())
    tamper(f"DELETE FROM {TABLE} WHERE id >= %s", [events[3].pk])

    assert "Audit log intact: 3 events" in verify_audit()  # the chain alone cannot tell
    with pytest.raises(CommandError) as cut:
        verify_audit("--expect-count", count, "--expect-head", head)
    message = str(cut.value)
    assert "Audit log cut short: it holds 3 events" in message
    assert "says it held 5" in message and "removed from its end" in message
    assert cut.value.returncode == 1


def test_an_emptied_log_fails_its_anchor(physician, default_version):
    audited_actions(physician)
    count, head = anchor_of(verify_audit())
    empty_the_log()

    assert "Audit log intact: 0 events" in verify_audit()  # the chain alone cannot tell
    with pytest.raises(CommandError, match="Audit log cut short: it holds 0 events"):
        verify_audit("--expect-count", count, "--expect-head", head)


def test_a_log_rewritten_and_rehashed_to_the_end_fails_its_anchor(physician, default_version):
    events = audited_actions(physician)
    count, head = anchor_of(verify_audit())
    rehash_from(events, 2)  # events 3 to 5 rewritten, and the chain made whole again

    assert "Audit log intact: 5 events" in verify_audit()  # the chain alone cannot tell
    with pytest.raises(CommandError) as rewritten:
        verify_audit("--expect-count", count, "--expect-head", head)
    message = str(rewritten.value)
    assert f"Audit log rewritten: event {events[-1].pk}, number 5 in the log" in message
    assert head in message


def test_an_anchor_file_checks_every_anchor_in_it(physician, default_version, tmp_path):
    audited_actions(physician)
    first = "Anchor: {} {}".format(*anchor_of(verify_audit()))
    audit.record(action="test.later")
    second = "Anchor: {} {}".format(*anchor_of(verify_audit()))
    anchors = tmp_path / "anchors.txt"
    anchors.write_text(f"# kept on the backup host\n{first}\n\n{second}  # last night\n")

    assert "It still holds all 2 anchor(s) given." in verify_audit("--anchor-file", str(anchors))

    # Events 5 and 6 rewritten: each anchor is now wrong; the older is named first.
    rehash_from(list(AuditEvent.objects.order_by("id")), 4)
    with pytest.raises(CommandError, match=rf"number 5 in the log.* {anchors}, line 2 says"):
        verify_audit("--anchor-file", str(anchors))


def test_anchors_can_come_from_standard_input(physician, default_version, monkeypatch):
    audited_actions(physician)
    line = "Anchor: {} {}".format(*anchor_of(verify_audit()))
    monkeypatch.setattr("sys.stdin", io.StringIO(line + "\n"))
    assert "It still holds all 1 anchor(s) given." in verify_audit("--anchor-file", "-")

    empty_the_log()
    monkeypatch.setattr("sys.stdin", io.StringIO(line + "\n"))
    with pytest.raises(CommandError, match="standard input, line 1 says it held 5"):
        verify_audit("--anchor-file", "-")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--expect-count", "5"], "together"),
        (["--expect-head", "a" * 64], "together"),
        (["--expect-count", "0", "--expect-head", "a" * 64], "positive number"),
        (["--expect-count", "5", "--expect-head", "not-a-hash"], "64 hex digits"),
    ],
    ids=["count-alone", "head-alone", "zero", "bad-hash"],
)
def test_a_malformed_anchor_is_a_usage_error(args, message):
    with pytest.raises(CommandError, match=message) as refused:
        verify_audit(*args)
    assert refused.value.returncode == 2


def test_a_malformed_anchor_file_names_the_line(tmp_path):
    anchors = tmp_path / "anchors.txt"
    anchors.write_text(f"Anchor: 5 {'a' * 64}\nAnchor: five {'a' * 64}\n")
    with pytest.raises(CommandError, match=rf"{anchors}, line 2: not an anchor") as refused:
        verify_audit("--anchor-file", str(anchors))
    assert refused.value.returncode == 2
    with pytest.raises(CommandError, match="Cannot read anchors") as missing:
        verify_audit("--anchor-file", str(tmp_path / "missing.txt"))
    assert missing.value.returncode == 2


def test_the_orm_refuses_to_change_or_delete_audit_events(physician, default_version):
    audited_actions(physician)
    event = AuditEvent.objects.order_by("id").first()
    event.summary = "edited"
    with pytest.raises(AppendOnlyError):
        event.save()
    with pytest.raises(AppendOnlyError):
        event.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=event.pk).update(summary="edited")
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.bulk_create([AuditEvent(action="forged")])
    # Only screening.audit.record writes events, so nothing can skip the chain.
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.create(action="forged")
    assert AuditEvent.objects.count() == 5
    assert not AuditEvent.objects.filter(summary="edited").exists()
    assert "Audit log intact: 5 events" in verify_audit()


@postgresql_only("the append-only trigger exists only on PostgreSQL (SQLite relies on the model)")
@pytest.mark.parametrize(
    "sql",
    [f"UPDATE {TABLE} SET summary = 'edited'", f"DELETE FROM {TABLE}"],
    ids=["update", "delete"],
)
def test_postgresql_refuses_raw_update_and_delete(physician, default_version, sql):
    audited_actions(physician)
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql)
    assert AuditEvent.objects.count() == 5
    assert not AuditEvent.objects.filter(summary="edited").exists()


def truncate(sql: str) -> None:
    with connection.cursor() as cursor:
        # Without this PostgreSQL refuses any TRUNCATE for another reason: the test's own
        # rows still have foreign-key checks pending.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(sql)


@postgresql_only("the no-truncate trigger exists only on PostgreSQL (SQLite has no TRUNCATE)")
@pytest.mark.parametrize(
    "sql",
    [
        f"TRUNCATE {TABLE}",
        # The audit log points at screenings and users: CASCADE would empty it too.
        f"TRUNCATE {Screening._meta.db_table} CASCADE",
        f"TRUNCATE {User._meta.db_table} CASCADE",
    ],
    ids=["audit-log", "screenings-cascade", "users-cascade"],
)
def test_postgresql_refuses_to_truncate_the_audit_log(physician, default_version, sql):
    audited_actions(physician)
    with pytest.raises(DatabaseError, match="append-only: TRUNCATE refused"), transaction.atomic():
        truncate(sql)
    assert AuditEvent.objects.count() == 5
    assert "Audit log intact: 5 events" in verify_audit()


@postgresql_only("the no-truncate trigger exists only on PostgreSQL (SQLite has no TRUNCATE)")
def test_manage_py_flush_cannot_empty_the_audit_log(physician, default_version, monkeypatch):
    audited_actions(physician)
    # The suite's own flush steps past the trigger (tests/conftest.py); production's does not.
    operations = type(connection.ops)
    monkeypatch.setattr(operations, "sql_flush", operations.sql_flush.__wrapped__)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    with pytest.raises(CommandError, match="couldn't be flushed") as refused:
        call_command("flush", interactive=False, verbosity=0)
    assert "append-only: TRUNCATE refused" in str(refused.value.__cause__)
    assert AuditEvent.objects.count() == 5
    assert Screening.objects.exists()


def write_at_once(writers: int, write) -> list[Exception]:
    """Run write(writer) in `writers` threads started together, each on its own connection;
    the exceptions they raised (a thread's exception is otherwise lost)."""
    start_together = threading.Barrier(writers)
    errors = []

    def run(writer):
        try:
            start_together.wait()
            write(writer)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@postgresql_only("SQLite lets one connection write at a time, so appends cannot race there")
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_make_one_unbroken_chain():
    writers, events_each = 6, 10

    def write_events(writer):
        for number in range(events_each):
            audit.record(action="test.concurrent", summary=f"writer {writer} event {number}")

    assert write_at_once(writers, write_events) == []
    assert AuditEvent.objects.count() == writers * events_each
    assert f"Audit log intact: {writers * events_each} events" in verify_audit()


@pytest.mark.django_db(transaction=True)
def test_the_migration_chains_events_written_before_it():
    before_chain = [("screening", "0003_drugclass_updated_at")]
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("screening")
    executor.migrate(before_chain)
    try:
        old_apps = executor.loader.project_state(before_chain).apps
        OldAuditEvent = old_apps.get_model("screening", "AuditEvent")
        for number in range(3):
            OldAuditEvent.objects.create(
                at=timezone.now(), action="old.event", summary=f"before the chain {number}"
            )
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(latest)
    assert "Audit log intact: 3 events" in verify_audit()
    audit.record(action="new.event")
    assert "Audit log intact: 4 events" in verify_audit()


@pytest.fixture
def forget_prepared_statements():
    """Make the server forget the statements this connection prepared, as a changed table
    or a pooler's new connection would, while the connection believes it has them. The
    connection is closed afterwards: no later test inherits the forgotten statements."""

    def forget() -> None:
        with connection.cursor() as cursor:
            cursor.cursor.execute("DEALLOCATE ALL")

    yield forget
    connection.close()


@postgresql_only("statements are prepared only on PostgreSQL")
@pytest.mark.django_db(transaction=True)  # the append's own transaction must be the outermost
def test_a_staff_read_is_still_recorded_when_the_prepared_append_has_gone_stale(
    physician, forget_prepared_statements
):
    audit.record(actor=physician, action=AuditAction.QUEUE_VIEWED, summary="first")
    forget_prepared_statements()
    audit.record(actor=physician, action=AuditAction.QUEUE_VIEWED, summary="second")
    assert list(AuditEvent.objects.order_by("id").values_list("summary", flat=True)) == [
        "first",
        "second",
    ]
    call_command("verify_audit", stdout=io.StringIO())


@postgresql_only("statements are prepared only on PostgreSQL")
@pytest.mark.django_db(transaction=True)  # it needs a transaction of its own to lose
def test_inside_the_callers_transaction_a_stale_append_fails_that_transaction_only(
    physician, forget_prepared_statements
):
    audit.record(actor=physician, action=AuditAction.QUEUE_VIEWED, summary="first")
    forget_prepared_statements()
    with pytest.raises(DatabaseError), transaction.atomic():
        audit.record(actor=physician, action=AuditAction.QUEUE_VIEWED, summary="lost")
    audit.record(actor=physician, action=AuditAction.QUEUE_VIEWED, summary="third")
    assert list(AuditEvent.objects.order_by("id").values_list("summary", flat=True)) == [
        "first",
        "third",
    ]
    call_command("verify_audit", stdout=io.StringIO())


# Summaries that test the canonical text the database hashes around the previous hash.
AWKWARD_SUMMARIES = [
    'quotes " and \\ backslashes',
    '"previous_hash":"0000" as text',
    "línea nueva\nand a tab\t, 😀 and \u2028",
    "",
]


@pytest.mark.parametrize("summary", AWKWARD_SUMMARIES)
def test_the_canonical_text_around_the_time_and_previous_hash_is_what_is_hashed(summary):
    event = AuditEvent(
        at=timezone.now(),
        action="test.text",
        summary=summary,
        object_type="screening.Screening",
        object_id=str(uuid.uuid4()),
        ip_address="2001:db8::1",
    )
    before_time, before_hash, after_hash = audit.canonical_parts(event)
    previous = "ab" * 32
    at = event.at.astimezone(datetime.UTC).isoformat(timespec="microseconds")
    assert audit.compute_row_hash(event, previous) == (
        hashlib.sha256(
            (before_time + at + before_hash + previous + after_hash).encode()
        ).hexdigest()
    )


@postgresql_only("the one-statement append exists only on PostgreSQL")
@pytest.mark.django_db(transaction=True)  # it drops and restores a function
def test_without_migration_0028s_function_staff_reads_are_still_audited(physician):
    """Code started before `migrate`, or a database migrated back: appends as before."""
    from importlib import import_module

    migration = import_module("screening.migrations.0028_audit_chain_next_function")
    with connection.schema_editor() as editor:
        migration.drop_function(None, editor)
    try:
        connection.close()  # a connection that has not yet asked whether the function exists
        audit.record(actor=physician, action=AuditAction.QUEUE_VIEWED, summary="before")
        with connection.schema_editor() as editor:
            migration.create_function(django_apps, editor)
        connection.close()  # a new connection asks again, finds it, and appends in one statement
        with CaptureQueriesContext(connection) as appended:
            audit.record(actor=physician, action=AuditAction.QUEUE_VIEWED, summary="prepared")
        assert [q["sql"][:20] for q in appended.captured_queries] == ["EXECUTE audit_append"]
        # The function dropped under a connection that uses it: the next append falls back.
        with connection.schema_editor() as editor:
            migration.drop_function(None, editor)
        audit.record(actor=physician, action=AuditAction.QUEUE_VIEWED, summary="after")
    finally:
        with connection.schema_editor() as editor:
            migration.create_function(django_apps, editor)
        connection.close()
    summaries = list(AuditEvent.objects.order_by("id").values_list("summary", flat=True))
    assert summaries == ["before", "prepared", "after"]
    assert "Audit log intact: 3 events" in verify_audit()


@postgresql_only("the one-statement append exists only on PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_events_times_follow_the_chains_order_under_concurrent_writers():
    """Each event's time is taken after the chain's lock, so the audit log's order by time
    is its order in the chain."""
    writers, events_each = 4, 10

    def write_events(writer):
        for number in range(events_each):
            if number % 2:
                with transaction.atomic():
                    audit.record(action="test.time", summary=f"{writer}.{number}")
            else:
                audit.record(action="test.time", summary=f"{writer}.{number}")

    assert write_at_once(writers, write_events) == []
    times = list(AuditEvent.objects.order_by("id").values_list("at", flat=True))
    assert times == sorted(times)


@postgresql_only("the one-statement append and its race exist only on PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_appends_alone_inside_transactions_and_by_the_old_code_make_one_unbroken_chain():
    """While a deploy rolls out, old workers chain in Python under the same lock; new ones
    append in one statement, alone or inside a caller's transaction. Every event's hash is
    the one compute_row_hash gives, and the chain holds."""
    writers, events_each = 6, 8

    def old_code_append(summary):
        with transaction.atomic():
            event = AuditEvent(at=timezone.now(), action="test.old", summary=summary)
            event.previous_hash = audit._lock_chain_and_read_last_hash() or audit.GENESIS_HASH
            event.row_hash = audit.compute_row_hash(event, event.previous_hash)
            event.save()

    def write_events(writer):
        for number in range(events_each):
            summary = f"{AWKWARD_SUMMARIES[number % 4]} {writer}.{number}"
            if writer % 3 == 0:
                audit.record(action="test.alone", summary=summary)
            elif writer % 3 == 1:
                with transaction.atomic():
                    audit.record(action="test.inside", summary=summary)
                    AuditEvent.objects.exists()  # the caller's own work after it
            else:
                old_code_append(summary)

    assert write_at_once(writers, write_events) == []
    events = list(AuditEvent.objects.order_by("id"))
    assert len(events) == writers * events_each
    assert all(e.row_hash == audit.compute_row_hash(e, e.previous_hash) for e in events)
    assert f"Audit log intact: {writers * events_each} events" in verify_audit()
