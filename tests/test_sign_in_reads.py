"""What every signed-in request reads first: its session row and its user (with whether they
are clinic staff), each in one query, or both in one once the process knows the session
(screening/accounts/session_store.py, backends.py)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone

from screening.accounts.backends import ClinicModelBackend
from screening.accounts.session_store import SessionStore
from screening.models import CLINIC_ADMIN_GROUP, NURSE_GROUP, PHYSICIAN_GROUP, User
from tests.factories import make_patient

pytestmark = pytest.mark.django_db


def _staff(group_name: str) -> User:
    user = make_patient(f"Staff {group_name}")
    user.groups.add(Group.objects.get_or_create(name=group_name)[0])
    return user


@pytest.mark.parametrize("group_name", [PHYSICIAN_GROUP, NURSE_GROUP, CLINIC_ADMIN_GROUP])
def test_a_staff_member_is_read_as_staff_in_the_one_query(group_name, django_assert_num_queries):
    staff = _staff(group_name)
    with django_assert_num_queries(1):
        user = ClinicModelBackend().get_user(str(staff.pk))
        assert user == staff
        assert user.is_clinic_staff is True


def test_a_patient_is_read_as_not_staff_in_the_one_query(django_assert_num_queries):
    patient = make_patient()
    # A group that is not a staff role does not make anyone staff.
    patient.groups.add(Group.objects.get_or_create(name="Newsletter")[0])
    with django_assert_num_queries(1):
        user = ClinicModelBackend().get_user(str(patient.pk))
        assert user.is_clinic_staff is False


def test_a_superuser_is_staff():
    admin = User.objects.create_superuser(email="root@example.com", password="x", full_name="R")
    assert ClinicModelBackend().get_user(str(admin.pk)).is_clinic_staff is True


def test_a_user_read_elsewhere_still_asks_the_database():
    physician = _staff(PHYSICIAN_GROUP)
    assert User.objects.get(pk=physician.pk).is_clinic_staff is True
    assert User.objects.get(pk=make_patient().pk).is_clinic_staff is False


@pytest.mark.parametrize(
    "user_id", ["not-a-uuid", "", "0" * 40, "00000000-0000-0000-0000-000000000000"]
)
def test_a_malformed_or_unknown_id_is_nobody(user_id):
    assert ClinicModelBackend().get_user(user_id) is None


def test_a_deactivated_account_is_nobody():
    patient = make_patient()
    patient.is_active = False
    patient.save()
    assert ClinicModelBackend().get_user(str(patient.pk)) is None


def test_a_deactivated_account_is_signed_out_of_its_open_session(client):
    patient = make_patient()
    client.force_login(patient, backend="screening.accounts.backends.ClinicModelBackend")
    assert client.get("/").wsgi_request.user == patient
    patient.is_active = False
    patient.save()
    assert client.get("/").wsgi_request.user.is_authenticated is False


def _stored(data: dict, *, expires_in: timedelta) -> str:
    store = SessionStore()
    store.update(data)
    store.create()
    Session.objects.filter(session_key=store.session_key).update(
        expire_date=timezone.now() + expires_in
    )
    return store.session_key


def test_a_session_is_read_in_one_query(django_assert_num_queries):
    key = _stored({"answer": "kept"}, expires_in=timedelta(hours=1))
    store = SessionStore(key)
    with django_assert_num_queries(1):
        assert store["answer"] == "kept"
    assert store.session_key == key


def test_an_expired_session_is_empty_and_gets_a_new_key_when_saved():
    key = _stored({"answer": "old"}, expires_in=-timedelta(seconds=1))
    store = SessionStore(key)
    assert "answer" not in store
    store["answer"] = "new"
    store.save()
    assert store.session_key != key
    # The expired row is left for clearsessions, as Django's own store does.
    assert Session.objects.filter(session_key=key).exists()


def test_an_unknown_session_key_is_empty():
    store = SessionStore("x" * 32)
    assert store.load() == {}
    assert store.session_key is None


def _permissions_as_django_reads_them(user: User) -> set[str]:
    from django.contrib.auth.backends import ModelBackend

    return ModelBackend().get_all_permissions(User.objects.get(pk=user.pk))


@pytest.mark.parametrize("group_name", [PHYSICIAN_GROUP, NURSE_GROUP, CLINIC_ADMIN_GROUP])
def test_a_roles_permissions_are_django_s_read_in_one_query(
    group_name, roles, django_assert_num_queries
):
    from django.contrib.auth.models import Permission

    staff = _staff(group_name)
    # One permission of their own too, beside the role's.
    staff.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    expected = _permissions_as_django_reads_them(staff)
    assert "screening.view_auditevent" in expected and len(expected) > 1
    user = ClinicModelBackend().get_user(str(staff.pk))
    # On PostgreSQL they were read with the user; elsewhere in one query of their own.
    with django_assert_num_queries(0 if connection.vendor == "postgresql" else 1):
        assert ClinicModelBackend().get_all_permissions(user) == expected
        # Cached on the user for the rest of the request, as Django's own.
        assert ClinicModelBackend().get_all_permissions(user) == expected
    assert ClinicModelBackend().get_all_permissions(User.objects.get(pk=staff.pk)) == expected


def test_a_superuser_read_with_their_session_has_every_permission(client):
    from django.contrib.auth.models import Permission

    admin = User.objects.create_superuser(email="root@example.com", password="x", full_name="R")
    _signed_in(client, admin)
    for _ in range(2):  # the first read learns the session, the second reads them together
        user = client.get("/").wsgi_request.user
        assert user == admin
        assert user.has_perm("screening.view_auditevent")
        assert len(ClinicModelBackend().get_all_permissions(user)) == Permission.objects.count()


def test_staff_read_with_their_session_have_their_roles_permissions(client, roles):
    from django.contrib.auth.models import Permission

    physician = _staff(PHYSICIAN_GROUP)
    physician.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    expected = _permissions_as_django_reads_them(physician)
    _signed_in(client, physician)
    for _ in range(2):
        user = client.get("/").wsgi_request.user
        assert ClinicModelBackend().get_all_permissions(user) == expected
        assert user.has_perm("screening.view_auditevent")
    patient = make_patient()
    _signed_in(client, patient)
    for _ in range(2):
        user = client.get("/").wsgi_request.user
        assert ClinicModelBackend().get_all_permissions(user) == set()


def test_a_patient_has_no_permissions_and_a_deactivated_user_none():
    patient = make_patient()
    assert ClinicModelBackend().get_all_permissions(patient) == set()
    staff = _staff(PHYSICIAN_GROUP)
    staff.is_active = False
    assert ClinicModelBackend().get_all_permissions(staff) == set()


def test_sessions_signed_in_under_djangos_backend_stay_signed_in_after_the_upgrade(client):
    """Migration 0027 names the clinic's backend in every stored session that names
    Django's ModelBackend, so an upgrade signs nobody out (a patient saving a page at that
    moment would otherwise lose what they typed to the login page)."""
    import importlib
    from types import SimpleNamespace

    from django.apps import apps
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.db import connection

    migration = importlib.import_module(
        "screening.migrations.0027_sessions_name_the_clinic_backend"
    )
    patient = make_patient()
    store = SessionStore()
    store.update(
        {
            SESSION_KEY: str(patient.pk),
            BACKEND_SESSION_KEY: migration.DJANGO_BACKEND,
            HASH_SESSION_KEY: patient.get_session_auth_hash(),
        }
    )
    store.create()
    other = SessionStore()
    other.update({"unrelated": True})
    other.create()
    client.cookies[settings.SESSION_COOKIE_NAME] = store.session_key
    # Read as signed in before the migration too (a server still running the old code
    # writes such sessions until it stops): the session store reads the old name as ours.
    assert client.get("/").wsgi_request.user == patient
    editor = SimpleNamespace(connection=connection)
    migration.forwards(apps, editor)
    assert client.get("/").wsgi_request.user == patient
    stored = Session.objects.get(session_key=store.session_key).get_decoded()
    assert stored[BACKEND_SESSION_KEY] == migration.CLINIC_BACKEND
    assert dict(SessionStore(other.session_key).items()) == {"unrelated": True}
    migration.backwards(apps, editor)
    stored = Session.objects.get(session_key=store.session_key).get_decoded()
    assert stored[BACKEND_SESSION_KEY] == migration.DJANGO_BACKEND


# Once a process has read a session, it reads the session's user in the same statement
# (session_store.py, backends.USER_WITH_SESSION).


def _signed_in(client, user) -> str:
    client.force_login(user, backend="screening.accounts.backends.ClinicModelBackend")
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def test_a_known_session_is_read_with_its_user_in_one_statement(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from screening.accounts import session_store

    patient = make_patient()
    _signed_in(client, patient)
    client.get("/")  # the first page writes the session's clock
    session_store._signed_in_as.clear()  # as a process that has not read this session
    with CaptureQueriesContext(connection) as learning:
        assert client.get("/").wsgi_request.user == patient
    with CaptureQueriesContext(connection) as known:
        request = client.get("/").wsgi_request
        assert request.user == patient
        assert request.user.is_clinic_staff is False
    assert len(known) == len(learning) - 1
    # The first statement reads both.
    first = known[0]["sql"]
    assert "screening_user_with_session_read" in first or (
        "session_data" in first and "screening_user" in first
    )


def test_staff_read_with_the_session_are_still_staff(client):
    physician = _staff(PHYSICIAN_GROUP)
    _signed_in(client, physician)
    client.get("/")
    user = client.get("/").wsgi_request.user
    assert user == physician and user.is_clinic_staff is True


def test_a_session_now_naming_another_user_is_that_user(client):
    """The row read with the session is used only if the session still names its user."""
    from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY

    first, second = make_patient(), make_patient()
    key = _signed_in(client, first)
    assert client.get("/").wsgi_request.user == first
    store = SessionStore(key)
    store[SESSION_KEY] = str(second.pk)
    store[HASH_SESSION_KEY] = second.get_session_auth_hash()
    store.save()
    assert client.get("/").wsgi_request.user == second
    assert client.get("/").wsgi_request.user == second


def test_a_password_changed_elsewhere_signs_the_known_session_out(client):
    patient = make_patient()
    _signed_in(client, patient)
    assert client.get("/").wsgi_request.user == patient
    patient.set_password("a new and long passphrase")
    patient.save()
    assert client.get("/").wsgi_request.user.is_authenticated is False


def test_a_known_session_that_expired_or_was_deleted_is_nobody(client):
    patient = make_patient()
    key = _signed_in(client, patient)
    client.get("/")
    Session.objects.filter(session_key=key).update(expire_date=timezone.now())
    assert client.get("/").wsgi_request.user.is_authenticated is False
    key = _signed_in(client, patient)
    client.get("/")
    Session.objects.filter(session_key=key).delete()
    assert client.get("/").wsgi_request.user.is_authenticated is False


def test_a_known_session_whose_user_was_deleted_is_nobody(client):
    from django.test.utils import CaptureQueriesContext

    patient = make_patient()
    _signed_in(client, patient)
    client.get("/")
    User.objects.filter(pk=patient.pk).delete()
    assert client.get("/").wsgi_request.user.is_authenticated is False
    # Nor does it cost a statement more on each request while the session lasts: it is
    # read as a session not known (its read, then the user's, which finds nobody).
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/").wsgi_request.user.is_authenticated is False
        reads = [q["sql"] for q in queries if "session" in q["sql"] or "screening_user" in q["sql"]]
        assert len(reads) <= 2, [r[:60] + " ... " + r[-80:] for r in reads]


def test_what_the_process_remembers_is_bounded(client, monkeypatch):
    from screening.accounts import session_store

    monkeypatch.setattr(session_store, "_signed_in_as", {})
    monkeypatch.setattr(session_store, "REMEMBERED_SESSIONS", 2)
    patients = [make_patient() for _ in range(3)]
    for patient in patients:
        _signed_in(client, patient)
        assert client.get("/").wsgi_request.user == patient
        assert len(session_store._signed_in_as) <= 2
    assert client.get("/").wsgi_request.user == patients[-1]


def test_the_session_is_named_to_the_user_read_only_during_it(client):
    from screening.accounts.backends import session_of_the_request

    patient = make_patient()
    _signed_in(client, patient)
    client.get("/")
    assert client.get("/").wsgi_request.user == patient
    assert session_of_the_request.get() is None
    # And a row read with one session is never the user of another read.
    assert ClinicModelBackend().get_user(str(patient.pk)) == patient
