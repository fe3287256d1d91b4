"""Staff invite patients; the single-use link sets a password and then dies.

The link carries its token in the query string; opening it moves the invitation into the
visitor's session and redirects to /invitation/, where the password is set."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from screening.models import Invitation, User
from screening.services.invitations import create_invitation
from tests.logins import log_in_staff

pytestmark = pytest.mark.django_db
GOOD_PASSWORD = "plum orchard lantern river"


ACCEPT_PAGE = "/invitation/"


def link_for(token: str) -> str:
    return f"/invitation/?token={token}"


def open_link(client, link):
    """Follow the emailed link as a browser does: it lands on the token-free page."""
    response = client.get(link)
    assert response.status_code == 302 and response["Location"] == ACCEPT_PAGE
    return client.get(ACCEPT_PAGE)


def accept(client, link, password1=GOOD_PASSWORD, password2=None):
    open_link(client, link)
    return client.post(ACCEPT_PAGE, {"password1": password1, "password2": password2 or password1})


@pytest.fixture
def invitation_link(physician):
    _, token = create_invitation(
        full_name="Carol New", email="Carol@Example.com", created_by=physician
    )
    return link_for(token)


def test_physician_invites_a_patient_and_only_the_email_carries_the_link(client, physician):
    log_in_staff(client, physician)
    response = client.post(
        "/staff/invitations/", {"full_name": "Carol New", "email": "carol@example.com"}
    )
    assert response.status_code == 302
    page = client.get("/staff/invitations/").content.decode()
    invitation = Invitation.objects.get()
    assert invitation.email == "carol@example.com"
    assert "Invitation sent to carol@example.com" in page
    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/invitation/" in line)
    assert "/invitation/?token=" in link
    # Staff never hold a working link: it exists only in the patient's inbox.
    assert link.strip() not in page
    assert link.strip().split("token=")[1] not in page


def test_the_invitation_form_refuses_a_bad_email(client, physician):
    log_in_staff(client, physician)
    response = client.post("/staff/invitations/", {"full_name": "Carol", "email": "not-an-email"})
    assert response.status_code == 200
    assert b"Enter a valid email address" in response.content
    assert b'value="Carol"' in response.content
    assert not Invitation.objects.exists()


def test_a_patient_cannot_reach_the_invitation_page(patient_client):
    assert patient_client.get("/staff/invitations/").status_code == 403


def test_an_anonymous_visitor_is_sent_to_log_in_from_staff_pages(client):
    assert client.get("/staff/invitations/")["Location"].startswith("/login/")


def test_accepting_an_invitation_creates_the_account_and_logs_in(client, invitation_link, settings):
    # The production hashers (the suite's settings put a fast one first).
    settings.PASSWORD_HASHERS = settings.PRODUCTION_PASSWORD_HASHERS
    response = accept(client, invitation_link)
    assert response["Location"] == "/screenings/"
    user = User.objects.get(email="carol@example.com")
    assert user.full_name == "Carol New"
    assert user.check_password(GOOD_PASSWORD)
    assert user.password.startswith("argon2")
    assert client.get("/screenings/").status_code == 200


def test_the_patient_then_logs_in_with_email_and_password(client, invitation_link):
    accept(client, invitation_link)
    client.logout()
    response = client.post("/login/", {"username": "carol@example.com", "password": GOOD_PASSWORD})
    assert response.status_code == 302


def test_an_invitation_cannot_be_used_twice(client, invitation_link):
    accept(client, invitation_link)
    client.logout()
    assert open_link(client, invitation_link).status_code == 404
    again = accept(client, invitation_link, "another long passphrase")
    assert again.status_code == 404
    assert User.objects.get(email="carol@example.com").check_password(GOOD_PASSWORD)


def test_an_expired_invitation_cannot_be_used(client, invitation_link):
    assert open_link(client, invitation_link).status_code == 200
    Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    response = client.post(ACCEPT_PAGE, {"password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD})
    assert response.status_code == 404
    assert b"already been used or has expired" in response.content
    assert not User.objects.filter(email="carol@example.com").exists()


def test_an_unknown_token_looks_like_a_used_one(client, db):
    response = open_link(client, link_for("not-a-real-token"))
    assert response.status_code == 404
    assert b"already been used or has expired" in response.content


@pytest.mark.parametrize(
    "password1, password2, message",
    [
        ("short", "short", "too short"),
        ("password1234", "password1234", "too common"),
        (
            "plum orchard lantern river",
            "plum orchard lantern rivers",
            "two passwords are different",
        ),
    ],
)
def test_weak_or_mismatched_passwords_are_refused(
    client, invitation_link, password1, password2, message
):
    response = accept(client, invitation_link, password1, password2)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.filter(email="carol@example.com").exists()


def test_an_invitation_cannot_take_over_an_existing_patient_account(client, patient, physician):
    _, token = create_invitation(full_name="Alice", email="ALICE@example.com", created_by=physician)
    response = accept(client, link_for(token))
    assert response.status_code == 404
    patient.refresh_from_db()
    assert not patient.check_password(GOOD_PASSWORD)
    assert patient.check_password("correct horse battery staple")


def test_accepting_one_invitation_expires_the_others_to_the_same_address(client, physician):
    _, first = create_invitation(full_name="Carol", email="carol@example.com", created_by=physician)
    _, second = create_invitation(
        full_name="Carol", email="carol@example.com", created_by=physician
    )
    accept(client, link_for(first))
    client.logout()
    assert open_link(client, link_for(second)).status_code == 404


def test_an_invitation_cannot_take_over_a_staff_account(client, physician, clinic_admin):
    _, token = create_invitation(full_name="Dr", email=physician.email, created_by=clinic_admin)
    response = accept(client, link_for(token))
    assert response.status_code == 404
    physician.refresh_from_db()
    assert not physician.check_password(GOOD_PASSWORD)


def test_only_a_hash_of_the_token_is_stored(physician):
    invitation, token = create_invitation(
        full_name="Dee", email="dee@example.com", created_by=physician
    )
    assert token not in invitation.token_hash
    assert len(invitation.token_hash) == 64


def test_login_ignores_the_case_of_the_email(client, patient):
    response = client.post(
        "/login/", {"username": "Alice@Example.COM", "password": "correct horse battery staple"}
    )
    assert response.status_code == 302


def test_inviting_someone_who_has_an_account_looks_the_same_and_sends_a_log_in_email(
    client, physician, patient
):
    log_in_staff(client, physician)
    known = client.post(
        "/staff/invitations/", {"full_name": "Alice", "email": patient.email.upper()}, follow=True
    )
    unknown = client.post(
        "/staff/invitations/", {"full_name": "Dora", "email": "dora@example.com"}, follow=True
    )
    assert "Invitation sent to alice@example.com" in known.text
    assert "Invitation sent to dora@example.com" in unknown.text
    assert known.status_code == unknown.status_code == 200
    to_alice, to_dora = mail.outbox
    assert to_alice.subject == to_dora.subject
    # Alice is told to log in (no link that could set her password); Dora gets her link.
    assert "/invitation/" not in to_alice.body
    assert "already have an account" in to_alice.body and "/login/" in to_alice.body
    assert "/account/password-reset/" in to_alice.body
    assert "/invitation/" in to_dora.body


def test_opening_the_link_takes_the_token_out_of_the_address_bar(client, invitation_link):
    response = client.get(invitation_link)
    assert response.status_code == 302
    assert response["Location"] == ACCEPT_PAGE
    page = client.get(ACCEPT_PAGE)
    assert "Welcome, Carol New" in page.text
    # The form posts back to the token-free page, and the token is nowhere on it.
    assert invitation_link.split("token=")[1] not in page.text


def test_the_page_without_the_link_opened_in_this_browser_is_refused(client, invitation_link):
    other_browser = client.__class__()
    open_link(other_browser, invitation_link)
    assert client.get(ACCEPT_PAGE).status_code == 404
    response = client.post(ACCEPT_PAGE, {"password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD})
    assert response.status_code == 404
    assert not User.objects.filter(email="carol@example.com").exists()


def test_a_mail_scanner_opening_the_link_first_does_not_spend_it(client, invitation_link):
    scanner = client.__class__()
    assert open_link(scanner, invitation_link).status_code == 200
    assert accept(client, invitation_link)["Location"] == "/screenings/"


def test_a_link_from_before_tokens_left_the_path_shows_the_ask_for_a_new_link_page(
    client, physician
):
    _, token = create_invitation(full_name="Old", email="old@example.com", created_by=physician)
    response = client.get(f"/invitation/{token}/")
    assert response.status_code == 404
    assert b"please ask the clinic for a new link" in response.content
