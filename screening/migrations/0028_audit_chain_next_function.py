"""A PostgreSQL function that takes the audit chain's lock, then gives the last hash and
the time of the next event.

screening.audit appends an event in one statement on PostgreSQL: the database takes the
chain's advisory lock, reads the last event's hash, stamps the new event's time, and hashes
the canonical text the app sends around those two. One statement reads from a snapshot
taken before it waited for the lock, so the lock and the read sit in this VOLATILE function:
each query in it takes a fresh snapshot (READ COMMITTED), so the read sees every append
committed before the lock was granted; and the time is taken after the lock
(clock_timestamp), so events' times follow the chain's order. Appenders that take the lock
and read on their own (the app before this migration) queue on the same lock.
"""

from django.db import migrations

FUNCTION = "screening_auditevent_chain_next"


def create_function(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("screening", "AuditEvent")._meta.db_table)
    schema_editor.execute(
        f"CREATE OR REPLACE FUNCTION {FUNCTION}(lock_key bigint, genesis text) "
        "RETURNS TABLE (last_hash text, appended_at timestamptz) "
        "LANGUAGE plpgsql VOLATILE AS $$ BEGIN "
        "PERFORM pg_advisory_xact_lock(lock_key); "
        "RETURN QUERY SELECT COALESCE("
        f"(SELECT e.row_hash FROM {table} e ORDER BY e.id DESC LIMIT 1), genesis)::text, "
        "clock_timestamp(); "
        "END $$"
    )


def drop_function(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION}(bigint, text)")


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0027_sessions_name_the_clinic_backend"),
    ]

    operations = [
        migrations.RunPython(create_function, drop_function),
    ]
