"""The audit log is tamper-evident (a hash chain that verify_audit checks) and immutable."""

import io
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone

from screening import audit
from screening.models import AppendOnlyError, AuditEvent
from tests.factories import make_submitted_screening
from tests.logins import log_in_staff

pytestmark = pytest.mark.django_db


def postgresql_only(reason: str):
    return pytest.mark.skipif(connection.vendor != "postgresql", reason=reason)


TABLE = AuditEvent._meta.db_table
TRIGGER = "screening_auditevent_append_only"


def verify_audit() -> str:
    """The command's output when the chain is intact; raises CommandError when it is not."""
    output = io.StringIO()
    call_command("verify_audit", stdout=output)
    return output.getvalue()


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
            cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER {TRIGGER}")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER {TRIGGER}")


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


@postgresql_only("SQLite lets one connection write at a time, so appends cannot race there")
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_make_one_unbroken_chain():
    writers, events_each = 6, 10
    start_together = threading.Barrier(writers)
    errors = []

    def write_events(writer):
        try:
            start_together.wait()
            for number in range(events_each):
                audit.record(action="test.concurrent", summary=f"writer {writer} event {number}")
        except Exception as error:  # reported below: a thread's exception is otherwise lost
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=write_events, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
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
