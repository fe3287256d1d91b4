"""The test cast (a patient, another patient, a physician, a clinic admin) and shared fixtures."""

from contextlib import ExitStack
from unittest.mock import patch

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from screening.content import load_formulary, load_question_set
from screening.models import CLINIC_ADMIN_GROUP, PHYSICIAN_GROUP, QuestionSetVersion, User
from screening.services import ensure_roles

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Load the default content once; each test's transaction rolls back to this state."""
    with django_db_blocker.unblock():
        load_formulary()
        load_question_set()


IMMEDIATE_TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
WORKER_MODULE = "django_tasks_db.management.commands.db_worker"
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


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
    version = QuestionSetVersion.objects.published().first()
    if version is None:  # a transactional test (live server) flushed the database
        load_formulary()
        version, _ = load_question_set()
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
def clinic_admin(roles):
    return make_user("admin@example.com", "Ada Clinicadmin", CLINIC_ADMIN_GROUP, is_staff=True)


@pytest.fixture
def patient_client(client, patient):
    client.force_login(patient)
    return client
