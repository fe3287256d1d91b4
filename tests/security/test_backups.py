"""`make backup` / `make restore` (scripts/backup.sh, scripts/restore.sh) round-trip the database."""

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection, connections
from django.test import Client

from screening.models import AuditEvent, Flag, Screening
from tests.factories import make_submitted_screening
from tests.logins import log_in_staff

REPO_ROOT = Path(__file__).resolve().parents[2]

on_postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="backups use pg_dump and pg_restore, so they need PostgreSQL (CI runs this on PostgreSQL)",
)


def run_script(name: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / name)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def database_url(name: str) -> str:
    """A DATABASE_URL for database `name` on the test database's server."""
    settings = connection.settings_dict
    credentials = quote(settings["USER"] or "", safe="")
    if settings["PASSWORD"]:
        credentials += ":" + quote(settings["PASSWORD"], safe="")
    host = settings["HOST"] or "localhost"
    port = settings["PORT"] or 5432
    return f"postgres://{credentials}@{host}:{port}/{name}"


def row_counts(database_connection) -> dict[str, int]:
    """Rows in every table of the database (the app's, Django's and the add-ons')."""
    with database_connection.cursor() as cursor:
        counts = {}
        for table in database_connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT count(*) FROM {database_connection.ops.quote_name(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


def make_records_worth_keeping(physician):
    """A submitted screening with flags, read, acknowledged and decided: audit events too."""
    screening = make_submitted_screening(flags=[("opioid", "caution"), ("bp_high", "caution")])
    client = log_in_staff(Client(), physician)
    client.get(f"/staff/screenings/{screening.pk}/")
    for flag in screening.flags.all():
        screening.refresh_from_db()
        client.post(
            f"/staff/screenings/{screening.pk}/flags/{flag.pk}/acknowledge/",
            {"lock_version": screening.lock_version},
        )
    screening.refresh_from_db()
    client.post(
        f"/staff/screenings/{screening.pk}/decide/",
        {"lock_version": screening.lock_version, "outcome": "cleared"},
    )


@pytest.fixture
def fresh_database(transactional_db):
    """An empty database on the same server, dropped afterwards."""
    name = f"{connection.settings_dict['NAME']}_restored"
    quoted = connection.ops.quote_name(name)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        cursor.execute(f"CREATE DATABASE {quoted}")
    yield name
    with connection.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")


@on_postgresql_only
@pytest.mark.django_db(transaction=True)  # committed, so pg_dump's own connection sees it
def test_a_backup_restores_into_a_fresh_database_with_every_row(
    physician, default_version, fresh_database, tmp_path
):
    make_records_worth_keeping(physician)
    assert Flag.objects.count() == 2 and AuditEvent.objects.count() == 4
    backup_file = tmp_path / "screening.dump"

    backup = run_script(
        "backup.sh",
        DATABASE_URL=database_url(connection.settings_dict["NAME"]),
        BACKUP_FILE=str(backup_file),
    )
    assert backup.returncode == 0, backup.stderr
    assert backup_file.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format
    assert backup_file.stat().st_mode & 0o077 == 0, "the backup must be readable by its owner only"

    restore = run_script(
        "restore.sh", DATABASE_URL=database_url(fresh_database), BACKUP_FILE=str(backup_file)
    )
    assert restore.returncode == 0, restore.stderr

    database_wrapper = type(connections["default"])
    restored = database_wrapper({**connection.settings_dict, "NAME": fresh_database}, "restored")
    try:
        restored_counts = row_counts(restored)
        with restored.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgname = 'screening_auditevent_append_only'"
            )
            assert cursor.fetchone()[0] == 1, "the audit log's append-only trigger was not restored"
    finally:
        restored.close()
    original_counts = row_counts(connection)
    assert restored_counts == original_counts
    for model in (Screening, Flag, AuditEvent):
        assert restored_counts[model._meta.db_table] > 0

    # The restored audit log is the same chain, and still intact.
    verify = subprocess.run(
        [sys.executable, "manage.py", "verify_audit"],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": database_url(fresh_database)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stderr
    assert "Audit log intact: 4 events" in verify.stdout
    assert AuditEvent.objects.order_by("-id").first().row_hash in verify.stdout


def test_backup_and_restore_refuse_a_database_that_is_not_postgresql(tmp_path):
    for script in ("backup.sh", "restore.sh"):
        result = run_script(
            script, DATABASE_URL="sqlite:///db.sqlite3", BACKUP_FILE=str(tmp_path / "x.dump")
        )
        assert result.returncode != 0
        assert "not a PostgreSQL database" in result.stderr
    assert not (tmp_path / "x.dump").exists()


def test_restore_asks_which_backup_to_restore():
    result = run_script(
        "restore.sh", DATABASE_URL="postgres://nobody@127.0.0.1:1/none", BACKUP_FILE=""
    )
    assert result.returncode != 0 and "set BACKUP_FILE" in result.stderr
