"""Forgotten passwords: the reset page never tells whether an email has an account, the
link works once, the new password meets the same rules as any other, and reset emails are
rate-limited per account and per client address with the same page either way."""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from screening.models import PasswordResetRequest
from tests.conftest import PASSWORD, make_user

NEW_PASSWORD = "a much longer passphrase now"
NEW_PASSWORD_PAGE = "/account/password-reset/new-password/"


def ask_for_reset(client, email, **extra):
    return client.post("/account/password-reset/", {"email": email}, follow=True, **extra)


def page_text(response) -> str:
    """The page as the visitor reads it: the CSRF token of its forms (the language switcher's)
    is masked afresh on every response, and says nothing about the address typed."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.text)


def reset_link():
    (message,) = mail.outbox
    return re.search(r"https?://[^/\s]+(/account/password-reset/\S+)", message.body).group(1)


def open_reset_link(client, link):
    """Follow the emailed link as a browser does; returns the new-password page's URL."""
    response = client.get(link)
    assert response.status_code == 302
    return response["Location"]


def test_the_answer_is_the_same_for_known_and_unknown_emails(client, patient):
    known = ask_for_reset(client, patient.email)
    unknown = ask_for_reset(client, "nobody-here@example.com")
    assert known.redirect_chain == unknown.redirect_chain
    assert known.status_code == unknown.status_code == 200
    assert page_text(known) == page_text(unknown)
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
    assert "/account/password-reset/link/?uid=" in body
    assert patient.full_name not in body


def test_the_link_sets_a_new_password_once(client, patient):
    ask_for_reset(client, patient.email)
    set_url = open_reset_link(client, reset_link())
    # The page's URL holds neither the token nor the user's id.
    assert set_url == NEW_PASSWORD_PAGE
    form_page = client.get(set_url)
    assert "Choose a new password" in form_page.text
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
    set_url = open_reset_link(client, reset_link())
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


def test_a_link_from_before_tokens_left_the_path_no_longer_works(client, patient):
    from django.contrib.auth.tokens import default_token_generator
    from django.utils.encoding import force_bytes
    from django.utils.http import urlsafe_base64_encode

    uid = urlsafe_base64_encode(force_bytes(patient.pk))
    token = default_token_generator.make_token(patient)
    old_link = f"/account/password-reset/{uid}/{token}/"
    assert "This link no longer works" in client.get(old_link).text
    # Nor does its token, carried the new way: reset tokens have their own salt now.
    response = client.get(
        open_reset_link(client, f"/account/password-reset/link/?uid={uid}&token={token}")
    )
    assert "This link no longer works" in response.text


def test_the_new_password_page_needs_the_link_opened_in_this_browser(client, patient):
    ask_for_reset(client, patient.email)
    other_browser = client.__class__()
    open_reset_link(other_browser, reset_link())
    response = client.post(
        NEW_PASSWORD_PAGE, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}
    )
    assert "This link no longer works" in response.text
    patient.refresh_from_db()
    assert patient.check_password(PASSWORD)


# Rate limits ------------------------------------------------------------------------------


def test_an_account_gets_at_most_three_reset_emails_an_hour_and_the_page_never_says(
    client, patient, settings
):
    assert settings.PASSWORD_RESET_LIMIT_PER_ACCOUNT == 3
    pages = [ask_for_reset(client, email) for email in [patient.email] * 4 + [" ALICE@example.com"]]
    assert len(mail.outbox) == 3
    assert all(message.to == [patient.email] for message in mail.outbox)
    assert (
        len({(page.status_code, page_text(page), tuple(page.redirect_chain)) for page in pages})
        == 1
    )


def test_an_account_gets_reset_emails_again_once_the_hour_has_passed(client, patient):
    for _ in range(4):
        ask_for_reset(client, patient.email)
    assert len(mail.outbox) == 3
    PasswordResetRequest.objects.update(requested_at=timezone.now() - timedelta(minutes=61))
    ask_for_reset(client, patient.email)
    assert len(mail.outbox) == 4
    # Requests older than the window are not kept.
    assert PasswordResetRequest.objects.count() == 1


def test_one_client_address_gets_at_most_ten_reset_emails_an_hour(client, db, settings):
    assert settings.PASSWORD_RESET_LIMIT_PER_ADDRESS == 10
    people = [make_user(f"person{n}@example.com", f"Person {n}") for n in range(12)]
    pages = [ask_for_reset(client, person.email, REMOTE_ADDR="203.0.113.9") for person in people]
    assert len(mail.outbox) == 10
    assert len({page_text(page) for page in pages}) == 1
    # Someone else, elsewhere, is not held back by that address's flood.
    ask_for_reset(client, people[11].email, REMOTE_ADDR="198.51.100.4")
    assert [message.to for message in mail.outbox[10:]] == [[people[11].email]]


def test_unknown_addresses_count_towards_the_client_address_limit(client, patient):
    for n in range(10):
        ask_for_reset(client, f"nobody{n}@example.com", REMOTE_ADDR="203.0.113.9")
    ask_for_reset(client, patient.email, REMOTE_ADDR="203.0.113.9")
    assert mail.outbox == []


def test_the_limits_come_from_settings(client, patient, settings):
    settings.PASSWORD_RESET_LIMIT_PER_ACCOUNT = 1
    ask_for_reset(client, patient.email)
    ask_for_reset(client, patient.email)
    assert len(mail.outbox) == 1


# Spellings Django's reset form matches to kessler@example.com (NFKC, then casefold).
SAME_ACCOUNT = {
    "long s": "ke\u017f\u017fler@example.com",
    "Kelvin sign": "\u212aessler@example.com",
    "full-width": "\uff4b\uff45\uff53\uff53\uff4c\uff45\uff52@example.com",
    "upper case": "KESSLER@EXAMPLE.COM",
    "full-width capitals": "\uff2b\uff25\uff33\uff33\uff2c\uff25\uff32@example.com",
}


@pytest.mark.parametrize("spelling", SAME_ACCOUNT.values(), ids=SAME_ACCOUNT.keys())
def test_every_spelling_of_an_account_counts_as_that_account(client, db, spelling):
    # The retest after issue 10, finding D: 'phyſician@example.com' got three more emails.
    make_user("kessler@example.com", "Kim Kessler")
    for email in ["kessler@example.com"] * 3 + [spelling] * 3:
        ask_for_reset(client, email)
    assert PasswordResetRequest.objects.count() == 3
    assert len(mail.outbox) <= 3


def test_the_limit_counts_addresses_as_djangos_reset_form_matches_them():
    from django.contrib.auth.forms import _unicode_ci_compare

    from screening.services.password_reset import email_digest

    for spelling in SAME_ACCOUNT.values():
        assert _unicode_ci_compare(spelling, "kessler@example.com")
        assert email_digest(spelling) == email_digest("kessler@example.com")
    assert email_digest("kesler@example.com") != email_digest("kessler@example.com")


def test_the_address_typed_is_kept_only_as_a_keyed_hash(client, patient):
    ask_for_reset(client, patient.email, REMOTE_ADDR="203.0.113.9")
    (kept,) = PasswordResetRequest.objects.all()
    assert patient.email not in kept.email_digest and len(kept.email_digest) == 64
    assert kept.ip_address == "203.0.113.9"
