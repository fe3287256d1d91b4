"""The test cast (a patient, another patient, a physician, a nurse, a clinic admin) and shared fixtures.

Also: the figures the README quotes, printed at the end of every run that includes their
tests, and a guard that stops CI from skipping the PostgreSQL-only tests.
"""

import functools
import os
import sys
from collections import Counter
from contextlib import ExitStack
from itertools import chain
from unittest.mock import patch

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group
from django.core import serializers
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction
from django.test import Client, override_settings
from django.utils import translation

from screening.engine.definitions import DEFAULT_CHECK_IN_FILE, DEFAULT_CHECK_IN_PANEL_FILE
from screening.models import (
    CLINIC_ADMIN_GROUP,
    NURSE_GROUP,
    PHYSICIAN_GROUP,
    AuditEvent,
    QuestionSetVersion,
    User,
)
from screening.services.content import load_formulary, load_question_set
from screening.services.roles import ensure_roles
from tests.logins import log_in_staff

PASSWORD = "correct horse battery staple"


# The default content as loaded once per test database (JSON, Django's serialisation).
CONTENT_SNAPSHOT: list[str] = []


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Load the default content once; each test's transaction rolls back to this state.

    A copy of the rows the loaders wrote is kept, so that a transactional test (whose
    flush empties every table) gets the very same content back in a fraction of the time
    the loaders take (they run the test panel: 5 to 25 s on the CI machine)."""
    with django_db_blocker.unblock():
        load_formulary()
        load_question_set()
        # The session check-in: its rules read the intake's answers, so it comes second.
        load_question_set(DEFAULT_CHECK_IN_FILE, DEFAULT_CHECK_IN_PANEL_FILE)
        CONTENT_SNAPSHOT[:] = [content_rows()]


def content_rows() -> str:
    """Every row of the app's tables: just after loading, that is the default content."""
    models = apps.get_app_config("screening").get_models()
    querysets = [model._default_manager.order_by("pk") for model in models]
    return serializers.serialize("json", chain.from_iterable(querysets))


def restore_default_content() -> None:
    """After a transactional test's flush: the rows the loaders wrote, as they wrote them."""
    if CONTENT_SNAPSHOT:
        rows: dict[type, list] = {}
        for row in serializers.deserialize("json", CONTENT_SNAPSHOT[0]):
            rows.setdefault(type(row.object), []).append(row.object)
        # One INSERT per table (saving row by row took 20 s on a busy PostgreSQL); the
        # foreign keys are checked at the commit, as Django declares them deferred.
        with transaction.atomic():
            for model, objects in rows.items():
                model._default_manager.bulk_create(objects)
            # The next new row's id follows the copied ones (as loaddata does it): the
            # sequences need not be where set-up left them.
            with connection.cursor() as cursor:
                for statement in connection.ops.sequence_reset_sql(no_style(), list(rows)):
                    cursor.execute(statement)
    else:  # no session set-up (a test database reused as it was)
        load_formulary()
        load_question_set()
        load_question_set(DEFAULT_CHECK_IN_FILE, DEFAULT_CHECK_IN_PANEL_FILE)


# The 0005 migration's trigger: PostgreSQL refuses TRUNCATE of the audit log.
AUDIT_TRUNCATE_TRIGGER = "screening_auditevent_no_truncate"


@pytest.fixture(scope="session", autouse=True)
def flush_past_the_audit_truncate_trigger():
    """Let the flush after each transactional test empty the audit log on PostgreSQL.

    Django flushes with one TRUNCATE of every table, which the audit log's trigger refuses
    (as it should in production, `manage.py flush` included). Here, and only here, the flush
    disables the trigger around its TRUNCATE, in the same transaction. A test that needs the
    real flush uses `sql_flush.__wrapped__`.
    """
    if connection.vendor != "postgresql":
        yield
        return
    operations = type(connection.ops)
    plain_sql_flush = operations.sql_flush

    @functools.wraps(plain_sql_flush)
    def sql_flush(self, style, tables, **options):
        statements = plain_sql_flush(self, style, tables, **options)
        table = AuditEvent._meta.db_table
        if not statements or table not in tables:
            return statements
        quoted = self.quote_name(table)
        return [
            f"ALTER TABLE {quoted} DISABLE TRIGGER {AUDIT_TRUNCATE_TRIGGER};",
            *statements,
            f"ALTER TABLE {quoted} ENABLE TRIGGER {AUDIT_TRUNCATE_TRIGGER};",
        ]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(operations, "sql_flush", sql_flush)
        yield


IMMEDIATE_TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
WORKER_MODULE = "django_tasks_db.management.commands.db_worker"
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


@pytest.fixture(autouse=True)
def the_clinics_language_after_each_test():
    """A request leaves its page's language active in the thread (LocaleMiddleware does not
    undo it): a test after a Spanish page would read Spanish messages. Each test ends in
    the clinic's language."""
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(scope="session", autouse=True)
def tasks_run_at_once():
    """Most tests read an email straight after the request that queued it: the immediate
    backend runs each task as it is queued. Tests of the queue itself use `task_worker`.
    (Session-wide, so that module-wide worlds built before any test get it too.)"""
    with override_settings(TASKS=IMMEDIATE_TASKS):
        yield


@pytest.fixture
def task_worker(settings):
    """The real queue, as production runs it: the database backend, and a function that
    runs the real worker (`manage.py db_worker --batch`) over every task that is due."""
    settings.TASKS = DATABASE_TASKS

    def run_due_tasks() -> None:
        with ExitStack() as stack:
            if connection.in_atomic_block:
                # Inside a test's transaction the worker's between-task connection recycling
                # would close that transaction's connection (on PostgreSQL), so it is skipped
                # there; transactional tests run the worker untouched.
                stack.enter_context(patch(f"{WORKER_MODULE}.close_old_connections"))
            call_command("db_worker", batch=True, reload=False, startup_delay=False, verbosity=0)

    return run_due_tasks


@pytest.fixture
def default_version(db):
    intake = QuestionSetVersion.objects.published().filter(question_set__purpose="intake")
    if not intake.exists():  # a transactional test (live server) flushed the database
        restore_default_content()
    return intake.get()


@pytest.fixture
def check_in_version(default_version):
    """The published session check-in (loaded again after a live-server flush)."""
    version = (
        QuestionSetVersion.objects.published().filter(question_set__purpose="check_in").first()
    )
    if version is None:
        version, _ = load_question_set(DEFAULT_CHECK_IN_FILE, DEFAULT_CHECK_IN_PANEL_FILE)
    return version


@pytest.fixture
def roles(db):
    ensure_roles()


def make_user(email, name, group=None, **extra):
    user = User.objects.create_user(email=email, password=PASSWORD, full_name=name, **extra)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def patient(db):
    return make_user("alice@example.com", "Alice Patient")


@pytest.fixture
def other_patient(db):
    return make_user("bob@example.com", "Bob Otherpatient")


@pytest.fixture
def physician(roles):
    return make_user("doctor@example.com", "Dr Dana Physician", PHYSICIAN_GROUP)


@pytest.fixture
def nurse(roles):
    return make_user("nurse@example.com", "Nell Nurse", NURSE_GROUP)


@pytest.fixture
def physician_client(physician):
    """A browser signed in as the physician, second factor given."""
    return log_in_staff(Client(), physician)


@pytest.fixture
def nurse_client(nurse):
    """A browser signed in as the nurse, second factor given."""
    return log_in_staff(Client(), nurse)


@pytest.fixture
def clinic_admin(roles):
    return make_user("admin@example.com", "Ada Clinicadmin", CLINIC_ADMIN_GROUP, is_staff=True)


@pytest.fixture
def patient_client(client, patient):
    client.force_login(patient)
    return client


# PostgreSQL-only tests skip on SQLite with a reason. CI sets REQUIRE_POSTGRESQL=1 so that a
# misconfigured DATABASE_URL fails the run instead of quietly skipping the race, trigger and
# backup tests.
@pytest.fixture(scope="session", autouse=True)
def postgresql_when_required():
    if (
        os.environ.get("REQUIRE_POSTGRESQL", "").strip() == "1"
        and connection.vendor != "postgresql"
    ):
        pytest.exit(
            f"REQUIRE_POSTGRESQL=1 but the tests run on {connection.vendor}: set DATABASE_URL "
            "to a PostgreSQL database.",
            returncode=1,
        )


# The figures the README quotes ----------------------------------------------------------------

# (what is counted, the test whose parametrised cases are counted, the unit)
COUNTED_TESTS = [
    (
        "Access matrix",
        "tests/security/test_access_matrix.py::test_access_matrix[",
        "cells",
    ),
    (
        "Staff with only a password",
        "tests/security/test_access_matrix.py::"
        "test_staff_with_only_a_password_reach_nothing_but_the_second_factor[",
        "cells",
    ),
    (
        "Default rules raised by their case",
        "tests/engine/test_default_rules.py::test_a_rule_is_raised_once_with_its_severity_and_evidence[",
        "rules",
    ),
    (
        "Default rules quiet on their near miss",
        "tests/engine/test_default_rules.py::test_a_near_miss_does_not_raise_the_rule[",
        "rules",
    ),
]
OUTCOMES: dict[str, str] = {}


def pytest_runtest_logreport(report):
    """Remember each test's outcome: failed if any phase failed, else its call's outcome."""
    if report.failed:
        OUTCOMES[report.nodeid] = "failed"
    elif report.when == "call" or (report.when == "setup" and report.skipped):
        OUTCOMES.setdefault(report.nodeid, report.outcome)


def readme_figures() -> list[str]:
    lines = []
    for label, prefix, unit in COUNTED_TESTS:
        outcomes = Counter(
            outcome for nodeid, outcome in OUTCOMES.items() if nodeid.startswith(prefix)
        )
        total = sum(outcomes.values())
        if total:
            detail = ", ".join(
                f"{count:,} {outcome}" for outcome, count in sorted(outcomes.items())
            )
            lines.append(f"{label}: {total:,} {unit} ({detail})")
    submissions = fuzz_submissions_here() + sum(WORKER_SUBMISSIONS)
    if submissions:
        lines.append(f"Fuzzing: {submissions:,} malformed submissions sent")
    return lines


def fuzz_submissions_here() -> int:
    fuzzing = sys.modules.get("tests.security.test_fuzz_forms")
    return sum(getattr(fuzzing, "EXAMPLES_RUN", {}).values()) if fuzzing else 0


# Under pytest-xdist (make test) the fuzz tests run in a worker process: each worker hands
# its count to the controller, which prints the figures.
WORKER_SUBMISSIONS: list[int] = []


def pytest_sessionfinish(session):
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["fuzz_submissions"] = fuzz_submissions_here()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    WORKER_SUBMISSIONS.append(getattr(node, "workeroutput", {}).get("fuzz_submissions", 0))


def pytest_terminal_summary(terminalreporter):
    lines = readme_figures()
    if lines:
        terminalreporter.section("figures the README quotes")
        for line in lines:
            terminalreporter.write_line(line)
