"""Make the audit log tamper-evident and immutable.

Adds the hash chain (previous_hash, row_hash), chains the events already on file in id
order, and on PostgreSQL installs a trigger that refuses UPDATE and DELETE of audit rows.
A row-level trigger does not fire on TRUNCATE: 0005 adds a statement-level one for that.
"""

from django.db import migrations, models

# The hashing function is imported rather than copied: a copy that drifted from it would
# write hashes that the verifier could never match.
from screening.audit import GENESIS_HASH, compute_row_hash

TRIGGER_NAME = "screening_auditevent_append_only"
FUNCTION_NAME = "screening_auditevent_refuse_change"
BATCH_SIZE = 2000


def chain_existing_events(apps, schema_editor):
    AuditEvent = apps.get_model("screening", "AuditEvent")
    database = schema_editor.connection.alias
    previous_hash = GENESIS_HASH
    batch = []
    events = AuditEvent.objects.using(database).order_by("id")
    for event in events.iterator(chunk_size=BATCH_SIZE):
        event.previous_hash = previous_hash
        event.row_hash = compute_row_hash(event, previous_hash)
        previous_hash = event.row_hash
        batch.append(event)
        if len(batch) == BATCH_SIZE:
            AuditEvent.objects.using(database).bulk_update(batch, ["previous_hash", "row_hash"])
            batch = []
    AuditEvent.objects.using(database).bulk_update(batch, ["previous_hash", "row_hash"])


def install_trigger(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("screening", "AuditEvent")._meta.db_table)
    schema_editor.execute(
        f"""
        CREATE OR REPLACE FUNCTION {FUNCTION_NAME}() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit events are append-only: % refused', TG_OP;
        END;
        $$;
        CREATE TRIGGER {TRIGGER_NAME}
            BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION {FUNCTION_NAME}();
        """,
        params=None,  # no placeholders: the % in the message is PL/pgSQL's
    )


def remove_trigger(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("screening", "AuditEvent")._meta.db_table)
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER_NAME} ON {table}")
    schema_editor.execute(f"DROP FUNCTION IF EXISTS {FUNCTION_NAME}()")


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0003_drugclass_updated_at"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="previous_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="row_hash",
            field=models.CharField(default="", editable=False, max_length=64),
            preserve_default=False,
        ),
        migrations.RunPython(chain_existing_events, migrations.RunPython.noop),
        # Unique only once every row has its own previous_hash.
        migrations.AlterField(
            model_name="auditevent",
            name="previous_hash",
            field=models.CharField(editable=False, max_length=64, unique=True),
        ),
        migrations.RunPython(install_trigger, remove_trigger),
    ]
