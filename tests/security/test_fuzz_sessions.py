"""Malformed posts to the session pages' forms (vitals, dose time, discharge, scheduling):
never a server error, and whatever is stored is a plausible reading or nothing at all."""

from contextlib import contextmanager

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from screening.models import DischargeRecord, DoseRecord, TreatmentSession, VitalReading
from screening.review.session_forms import HEART_RATE_RANGE, SPO2_RANGE, WEIGHT_KG_RANGE
from screening.services.sessions import BOOKING_HORIZON
from tests.logins import log_in_staff
from tests.session_helpers import make_session

TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "",
            " ",
            "120",
            "120/80",
            "120 over 80",
            "80/120",
            "0",
            "-5",
            "1e3",
            "NaN",
            "١٢٠",
            "12.5",
            "999999999999999999999",
            "98%",
            "70 kg",
            "25:00",
            "12:60",
            "2026-02-30",
            "\x00",
            "<script>",
            "x" * 5000,
        ]
    ),
)
FIELDS = {
    "vitals/before-dose/": [
        "pre_dose-blood_pressure_systolic",
        "pre_dose-blood_pressure_diastolic",
        "pre_dose-heart_rate",
        "pre_dose-spo2",
        "pre_dose-weight_kg",
        "pre_dose-corrects",
        "pre_dose-correction_reason",
    ],
    "dose/": ["dose-given_at"],
    "discharge/": [
        "discharge-alert_and_oriented",
        "discharge-walks_unaided",
        "discharge-escort_present",
        "discharge-note",
    ],
}


@contextmanager
def rolled_back():
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


@pytest.mark.django_db
def test_session_forms_survive_malformed_posts(nurse, physician, default_version):
    session = make_session(physician)
    client = log_in_staff(Client(), nurse)

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(tail=st.sampled_from(sorted(FIELDS)), data=st.data())
    def post(tail, data):
        body = {name: data.draw(TEXT, label=name) for name in FIELDS[tail]}
        with rolled_back():
            response = client.post(f"/staff/sessions/{session.pk}/{tail}", body)
            assert response.status_code in (200, 302), response.status_code
            for reading in VitalReading.objects.all():
                assert 60 <= reading.systolic <= 260 and 30 <= reading.diastolic <= 160
                assert reading.diastolic < reading.systolic
                assert HEART_RATE_RANGE[0] <= reading.heart_rate <= HEART_RATE_RANGE[1]
                assert reading.spo2 is None or SPO2_RANGE[0] <= reading.spo2 <= SPO2_RANGE[1]
                assert reading.weight_kg is None or (
                    WEIGHT_KG_RANGE[0] <= reading.weight_kg <= WEIGHT_KG_RANGE[1]
                )
            assert not DischargeRecord.objects.exists()  # no dose given: never discharged
            assert DoseRecord.objects.count() <= 1

    post()


@pytest.mark.django_db
def test_scheduling_survives_malformed_posts(nurse, physician, default_version):
    course = make_session(physician).course
    client = log_in_staff(Client(), nurse)

    @settings(
        max_examples=80,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(date=TEXT, time=TEXT)
    def post(date, time):
        with rolled_back():
            response = client.post(
                f"/staff/sessions/courses/{course.pk}/schedule/", {"date": date, "time": time}
            )
            assert response.status_code in (200, 302)
            assert TreatmentSession.objects.filter(course=course).count() <= 2

    post()


@pytest.mark.django_db
def test_moving_cancelling_and_ending_survive_malformed_posts(nurse, physician, default_version):
    session = make_session(physician, hours_from_now=3)
    nurse_client = log_in_staff(Client(), nurse)
    physician_client = log_in_staff(Client(), physician)
    before = session.scheduled_for

    @settings(
        max_examples=80,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(date=TEXT, time=TEXT, reason=TEXT)
    def post(date, time, reason):
        with rolled_back():
            moved = nurse_client.post(
                f"/staff/sessions/{session.pk}/move/", {"move-date": date, "move-time": time}
            )
            assert moved.status_code in (200, 302)
            stored = TreatmentSession.objects.get(pk=session.pk)
            # Moved only to a time ahead and within the booking horizon, or not at all.
            now = timezone.now()
            assert stored.scheduled_for == before or (
                now < stored.scheduled_for <= now + BOOKING_HORIZON
            )
        with rolled_back():
            cancelled = nurse_client.post(
                f"/staff/sessions/{session.pk}/cancel/", {"cancel-reason": reason}
            )
            assert cancelled.status_code in (200, 302)
            stored = TreatmentSession.objects.get(pk=session.pk)
            assert (stored.cancelled_at is None) == (
                not reason.strip() or cancelled.status_code == 200
            )
        with rolled_back():
            ended = physician_client.post(
                f"/staff/sessions/courses/{session.course_id}/end/", {"end-reason": reason}
            )
            assert ended.status_code in (200, 302)

    post()
