"""Forgotten passwords: the reset page never tells whether an email has an account, the
link works once, and the new password meets the same rules as any other."""

import re

import pytest
from django.core import mail

from tests.conftest import PASSWORD

NEW_PASSWORD = "a much longer passphrase now"


def ask_for_reset(client, email):
    return client.post("/account/password-reset/", {"email": email}, follow=True)


def reset_link():
    (message,) = mail.outbox
    return re.search(r"http://testserver(/account/password-reset/\S+)", message.body).group(1)


def test_the_answer_is_the_same_for_known_and_unknown_emails(client, patient):
    known = ask_for_reset(client, patient.email)
    unknown = ask_for_reset(client, "nobody-here@example.com")
    assert known.redirect_chain == unknown.redirect_chain
    assert known.status_code == unknown.status_code == 200
    assert known.text == unknown.text
    assert "If that address belongs to an account" in known.text
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [patient.email]


def test_deactivated_accounts_get_no_link(client, patient):
    patient.is_active = False
    patient.save()
    ask_for_reset(client, patient.email)
    assert mail.outbox == []


def test_the_email_holds_a_link_and_no_health_information(client, patient):
    ask_for_reset(client, patient.email.upper())  # email case does not matter
    body = mail.outbox[0].body
    assert "/account/password-reset/" in body
    assert patient.full_name not in body


def test_the_link_sets_a_new_password_once(client, patient):
    ask_for_reset(client, patient.email)
    form_page = client.get(reset_link(), follow=True)
    assert "Choose a new password" in form_page.text
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(
        set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, follow=True
    )
    assert "Your password is changed" in done.text
    patient.refresh_from_db()
    assert patient.check_password(NEW_PASSWORD) and not patient.check_password(PASSWORD)

    again = client.get(reset_link(), follow=True)
    assert "This link no longer works" in again.text


@pytest.mark.parametrize(
    "password, message",
    [("short one", "too short"), ("password1234", "too common"), ("", "This field is required")],
)
def test_a_weak_new_password_is_refused_beside_the_field(client, patient, password, message):
    ask_for_reset(client, patient.email)
    set_url = client.get(reset_link(), follow=True).redirect_chain[-1][0]
    response = client.post(set_url, {"new_password1": password, "new_password2": password})
    assert response.status_code == 200
    assert message in response.text
    patient.refresh_from_db()
    assert patient.check_password(PASSWORD)


def test_a_tampered_link_is_refused(client, patient):
    ask_for_reset(client, patient.email)
    response = client.get(reset_link()[:-3] + "xyz/", follow=True)
    assert "This link no longer works" in response.text


def test_the_login_page_offers_the_reset(client):
    assert 'href="/account/password-reset/"' in client.get("/login/").text
