"""Refuse TRUNCATE of the audit log on PostgreSQL.

The 0004 trigger is row-level: it refuses UPDATE and DELETE, but TRUNCATE fires no row
triggers, so `TRUNCATE screening_auditevent`, a `TRUNCATE ... CASCADE` of a table the audit
log points at (screenings, users) or `manage.py flush` emptied the log, and verify_audit
then found an intact chain of 0 events. A statement-level BEFORE TRUNCATE trigger, running
the same refusing function, closes that. The table's owner can still drop or disable the
trigger: verify_audit's anchors (kept away from the database) catch what that allows.

The test suite's flush disables this trigger for its own TRUNCATE (tests/conftest.py).
"""

from django.db import migrations

TRIGGER_NAME = "screening_auditevent_no_truncate"
# Created by 0004; it raises "audit events are append-only: TRUNCATE refused".
FUNCTION_NAME = "screening_auditevent_refuse_change"


def install_trigger(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("screening", "AuditEvent")._meta.db_table)
    schema_editor.execute(
        f"CREATE TRIGGER {TRIGGER_NAME} BEFORE TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {FUNCTION_NAME}()"
    )


def remove_trigger(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = schema_editor.quote_name(apps.get_model("screening", "AuditEvent")._meta.db_table)
    schema_editor.execute(f"DROP TRIGGER IF EXISTS {TRIGGER_NAME} ON {table}")


class Migration(migrations.Migration):
    dependencies = [
        ("screening", "0005_proxy_authenticator_setup_link"),
    ]

    operations = [
        migrations.RunPython(install_trigger, remove_trigger),
    ]
