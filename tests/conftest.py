"""The test cast (a patient, another patient, a physician, a clinic admin) and shared fixtures."""

import functools

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from screening.content import load_formulary, load_question_set
from screening.models import (
    CLINIC_ADMIN_GROUP,
    PHYSICIAN_GROUP,
    AuditEvent,
    QuestionSetVersion,
    User,
)
from screening.services import ensure_roles

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Load the default content once; each test's transaction rolls back to this state."""
    with django_db_blocker.unblock():
        load_formulary()
        load_question_set()


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
