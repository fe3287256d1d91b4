"""The test cast (a patient, another patient, a physician, a clinic admin) and shared fixtures."""

import pytest
from django.contrib.auth.models import Group

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
