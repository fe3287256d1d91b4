"""`make backup` / `make restore` (scripts/backup.sh, scripts/restore.sh): what the README promises.

A backup round-trips every row; it never overwrites an existing file, not even one that
appears while pg_dump runs; it and its directory are readable by the owner only; a failed
dump leaves nothing that looks like a backup; and a restore that fails half-way leaves the
target database as it was. The tests of the backup script's file handling run anywhere, with
a stand-in for pg_dump on the PATH; the round trip and the restore need PostgreSQL.
"""

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


def run_script(name: str, umask: int = -1, **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / name)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        umask=umask,
    )


# A pg_dump stand-in: writes a small file to --file=PATH. {during} runs after the file is
# opened and written, before it exits (0 unless {during} exits first).
FAKE_PG_DUMP = """#!/usr/bin/env bash
for argument in "$@"; do
  case $argument in --file=*) out=${{argument#--file=}} ;; esac
done
printf 'PGDMP stand-in dump' > "$out"
{during}
"""
# Syntactically a PostgreSQL URL, which is all the backup script checks before pg_dump.
UNUSED_POSTGRES_URL = "postgres://nobody@127.0.0.1:1/none"
EARLIER_BACKUP = b"PGDMP an earlier backup, which must survive"


def backup_with_fake_pg_dump(tmp_path, target: Path, during: str = "", umask: int = -1):
    """Run backup.sh to `target` with the stand-in pg_dump first on the PATH."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    pg_dump = bin_dir / "pg_dump"
    pg_dump.write_text(FAKE_PG_DUMP.format(during=during))
    pg_dump.chmod(0o755)
    return run_script(
        "backup.sh",
        umask=umask,
        DATABASE_URL=UNUSED_POSTGRES_URL,
        BACKUP_FILE=str(target),
        PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
    )


def leftovers(directory: Path, target: Path) -> list[str]:
    """Files in `directory` other than the target: a partial dump left behind, say."""
    return sorted(path.name for path in directory.iterdir() if path != target)


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
                "SELECT count(*) FROM pg_trigger WHERE tgname IN "
                "('screening_auditevent_append_only', 'screening_auditevent_no_truncate')"
            )
            assert cursor.fetchone()[0] == 2, "the audit log's triggers were not restored"
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


def test_a_backup_never_overwrites_an_existing_file(tmp_path):
    backups = tmp_path / "backups"
    backups.mkdir()
    target = backups / "screening.dump"
    target.write_bytes(EARLIER_BACKUP)

    result = backup_with_fake_pg_dump(tmp_path, target)

    assert result.returncode != 0
    assert "already exists; not overwriting it" in result.stderr
    assert target.read_bytes() == EARLIER_BACKUP
    assert leftovers(backups, target) == []


def test_a_file_that_appears_while_pg_dump_runs_is_not_overwritten(tmp_path):
    """Another backup to the same name finishing first: the check before the dump passed."""
    backups = tmp_path / "backups"
    backups.mkdir()
    target = backups / "screening.dump"
    other_backup = f"printf '%s' '{EARLIER_BACKUP.decode()}' > '{target}'"

    result = backup_with_fake_pg_dump(tmp_path, target, during=other_backup)

    assert result.returncode != 0
    assert "not overwriting" in result.stderr
    assert target.read_bytes() == EARLIER_BACKUP
    assert leftovers(backups, target) == []


def test_a_backup_and_the_directory_it_makes_are_owner_only_whatever_the_umask(tmp_path):
    target = tmp_path / "new-directory" / "screening.dump"

    result = backup_with_fake_pg_dump(tmp_path, target, umask=0o022)

    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == b"PGDMP stand-in dump"
    assert oct(target.stat().st_mode & 0o777) == oct(0o600)
    assert oct(target.parent.stat().st_mode & 0o777) == oct(0o700)
    assert leftovers(target.parent, target) == []


def test_a_failed_dump_leaves_nothing_that_looks_like_a_backup(tmp_path):
    backups = tmp_path / "backups"
    backups.mkdir()
    target = backups / "screening.dump"

    result = backup_with_fake_pg_dump(tmp_path, target, during="exit 1")

    assert result.returncode != 0
    assert not target.exists()
    assert leftovers(backups, target) == []


@on_postgresql_only
@pytest.mark.django_db(transaction=True)  # committed, so pg_dump's own connection sees it
def test_a_restore_that_fails_half_way_leaves_the_target_as_it_was(
    physician, default_version, fresh_database, tmp_path
):
    name = connection.settings_dict["NAME"]
    make_records_worth_keeping(physician)
    yesterday = tmp_path / "yesterday.dump"
    assert (
        run_script(
            "backup.sh", DATABASE_URL=database_url(name), BACKUP_FILE=str(yesterday)
        ).returncode
        == 0
    )
    target_url = database_url(fresh_database)
    restored = run_script("restore.sh", DATABASE_URL=target_url, BACKUP_FILE=str(yesterday))
    assert restored.returncode == 0, restored.stderr
    before = snapshot(fresh_database)
    assert before["verify_audit"] == (0, before["verify_audit"][1])
    assert "Audit log intact: 4 events" in before["verify_audit"][1]
    assert len(before["triggers"]) == 2

    # Today's backup holds more, and its copy lost its end (a full disk, a dropped copy):
    # the table of contents is whole, so pg_restore starts, drops tables and fails on the data.
    make_records_worth_keeping(physician)
    today = tmp_path / "today.dump"
    assert (
        run_script("backup.sh", DATABASE_URL=database_url(name), BACKUP_FILE=str(today)).returncode
        == 0
    )
    assert row_counts(connection) != before["rows"]  # a partial restore would show
    whole = today.read_bytes()
    cut = tmp_path / "today-cut.dump"
    cut.write_bytes(whole[: len(whole) - max(64, len(whole) // 100)])
    listing = subprocess.run(["pg_restore", "--list", str(cut)], capture_output=True, timeout=60)
    assert listing.returncode == 0, "the cut must leave the table of contents readable"

    failed = run_script("restore.sh", DATABASE_URL=target_url, BACKUP_FILE=str(cut))

    assert failed.returncode != 0
    assert "could not read from input file" in failed.stderr
    assert snapshot(fresh_database) == before


def snapshot(database_name: str) -> dict:
    """Row counts of every table, the audit log's verification and its triggers."""
    database_wrapper = type(connections["default"])
    other = database_wrapper({**connection.settings_dict, "NAME": database_name}, "snapshot")
    try:
        rows = row_counts(other)
        with other.cursor() as cursor:
            cursor.execute(
                "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass ORDER BY tgname",
                [AuditEvent._meta.db_table],
            )
            triggers = [name for (name,) in cursor.fetchall() if not name.startswith("RI_")]
    finally:
        other.close()
    verify = subprocess.run(
        [sys.executable, "manage.py", "verify_audit"],
        cwd=REPO_ROOT,
        env={**os.environ, "DATABASE_URL": database_url(database_name)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return {"rows": rows, "triggers": triggers, "verify_audit": (verify.returncode, verify.stdout)}


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
