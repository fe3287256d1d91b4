"""select_related by hand (screening/joined_reads.py): the session page's read of a
session must give exactly the instances and caches the ORM's select_related gives."""

import pytest
from django.utils import timezone

from screening.models import DischargeRecord, SetAsideCheckIn, TreatmentSession
from screening.session_records import SESSION_RELATIONS, session_for_staff, sessions_for_staff
from tests.session_helpers import make_check_in, make_session

pytestmark = pytest.mark.django_db


def _fields(instance) -> dict:
    return {
        field.attname: getattr(instance, field.attname)
        for field in type(instance)._meta.concrete_fields
    }


def _follow(instance, path: str):
    for name in path.split("__"):
        instance = getattr(instance, name, None)
        if instance is None:
            return None
    return instance


def _same_as_the_orm(session: TreatmentSession, django_assert_num_queries) -> TreatmentSession:
    expected = sessions_for_staff().get(pk=session.pk)
    with django_assert_num_queries(1):
        read = session_for_staff(session.pk)
        # Every relation is cached, present or known to be missing: no more queries.
        for path in SESSION_RELATIONS:
            names = path.split("__")
            for depth in range(1, len(names) + 1):
                sub_path = "__".join(names[:depth])
                got, want = _follow(read, sub_path), _follow(expected, sub_path)
                assert (got is None) == (want is None), sub_path
                if got is not None:
                    assert type(got) is type(want)
                    assert _fields(got) == _fields(want), sub_path
    assert _fields(read) == _fields(expected)
    return read


def test_a_booked_session_is_read_as_select_related_reads_it(physician, django_assert_num_queries):
    session = make_session(physician)
    read = _same_as_the_orm(session, django_assert_num_queries)
    assert read.cancelled_by is None and read.has_set_aside is False
    with django_assert_num_queries(0):
        assert not hasattr(read, "discharge")  # known to have none: no query


def test_a_canceled_discharged_session_with_a_set_aside_check_in(
    physician, nurse, django_assert_num_queries
):
    session = make_session(physician)
    SetAsideCheckIn.objects.create(
        check_in=make_check_in(session.course.patient),
        session=session,
        was_scheduled_for=session.scheduled_for,
        set_aside_by=physician,
    )
    DischargeRecord.objects.create(
        session=session,
        observation_minutes=60,
        alert_and_oriented=True,
        walks_unaided=True,
        escort_present=True,
        recorded_by=nurse,
    )
    TreatmentSession.objects.filter(pk=session.pk).update(
        cancelled_at=timezone.now(), cancelled_by=physician, cancel_reason="Unwell."
    )
    read = _same_as_the_orm(session, django_assert_num_queries)
    assert read.has_set_aside is True
    assert read.cancelled_by == physician and read.discharge.recorded_by == nurse
    assert read.discharge.session is read


def test_a_session_without_a_check_in_and_an_unknown_one(physician, django_assert_num_queries):
    session = make_session(physician, check_in=False)
    assert _same_as_the_orm(session, django_assert_num_queries).check_in is None
    assert session_for_staff(TreatmentSession().pk) is None
