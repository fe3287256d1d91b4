"""Sessions end on the server; every response carries the security headers."""

import time

import pytest

from screening.models import Answer
from screening.services.intake import start_screening
from tests.logins import log_in_staff_through_the_forms

from .intake_helpers import page_post_data

pytestmark = pytest.mark.django_db


def age_session(client, seconds):
    session = client.session
    session["last_seen"] = int(time.time()) - seconds
    session.save()


def test_a_patient_is_logged_out_after_30_idle_minutes_and_resumes_where_they_were(
    client, patient, default_version
):
    client.post("/login/", {"username": patient.email, "password": "correct horse battery staple"})
    screening = start_screening(patient=patient)
    url = f"/screenings/{screening.pk}/page/about_you/"
    html = client.get(url).content.decode()
    client.post(url, page_post_data(html, screening, {"sex_at_birth": "male"}))
    age_session(client, 29 * 60)
    assert client.get(f"/screenings/{screening.pk}/").status_code == 302
    age_session(client, 31 * 60)
    response = client.get(f"/screenings/{screening.pk}/")
    assert response["Location"].startswith("/login/?next=")
    client.post("/login/", {"username": patient.email, "password": "correct horse battery staple"})
    # The next page after "about you" (the pregnancy page is skipped for a male patient).
    assert client.get(f"/screenings/{screening.pk}/")["Location"].endswith(
        "/page/treatment_history/"
    )
    assert Answer.objects.filter(screening=screening).count() == 4


def test_staff_are_logged_out_after_15_idle_minutes(client, physician):
    log_in_staff_through_the_forms(client, physician, "correct horse battery staple")
    assert client.get("/staff/queue/").status_code == 200
    age_session(client, 16 * 60)
    assert client.get("/staff/queue/")["Location"].startswith("/login/")


def test_staff_sessions_end_12_hours_after_login_however_active(client, physician):
    log_in_staff_through_the_forms(client, physician, "correct horse battery staple")
    session = client.session
    session["started_at"] = int(time.time()) - 12 * 3600 - 1
    session.save()
    assert client.get("/staff/queue/")["Location"].startswith("/login/")


def test_a_deactivated_users_session_stops_on_the_next_request(client, physician):
    log_in_staff_through_the_forms(client, physician, "correct horse battery staple")
    physician.is_active = False
    physician.save()
    assert client.get("/staff/queue/")["Location"].startswith("/login/")


@pytest.mark.parametrize("url", ["/login/", "/screenings/"])
def test_every_response_carries_the_security_headers(patient_client, url):
    response = patient_client.get(url, follow=True)
    csp = response["Content-Security-Policy"]
    for directive in (
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "script-src 'self'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_signed_in_pages_are_never_cached(patient_client):
    assert "no-store" in patient_client.get("/screenings/")["Cache-Control"]


def test_five_wrong_passwords_lock_that_account_from_that_address(client, patient):
    from axes.models import AccessAttempt

    for _ in range(5):
        client.post("/login/", {"username": patient.email, "password": "wrong password!"})
    assert AccessAttempt.objects.filter(username=patient.email).exists()
    locked = client.post(
        "/login/", {"username": patient.email, "password": "correct horse battery staple"}
    )
    assert locked.status_code == 429
    assert b"Too many attempts" in locked.content
    assert "_auth_user_id" not in client.session
    # Another address is not locked out of the same account.
    other = type(client)(REMOTE_ADDR="10.9.8.7")
    ok = other.post(
        "/login/", {"username": patient.email, "password": "correct horse battery staple"}
    )
    assert ok.status_code == 302


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(client, patient):
    wrong = client.post("/login/", {"username": patient.email, "password": "not the password"})
    unknown = client.post(
        "/login/", {"username": "nobody@example.com", "password": "not the password"}
    )
    assert wrong.status_code == unknown.status_code == 200
    message = "That email address and password do not match an account"
    assert message in wrong.content.decode() and message in unknown.content.decode()
