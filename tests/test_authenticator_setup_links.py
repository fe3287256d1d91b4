"""A password alone never sets up an authenticator app: removing a colleague's app is audited
and emails them a single-use, expiring link, and a staff account without an app can only
ask for such a link at its own address."""

import hashlib
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from screening.models import PHYSICIAN_GROUP, AuditEvent, AuthenticatorSetupLink
from tests.conftest import PASSWORD, make_user
from tests.logins import authenticator_for, code_for_typed_key, log_in_staff

SET_UP = "/account/two-factor/set-up/"
SEND_LINK = "/account/two-factor/set-up/send-link/"
LINK_NEEDED = "Set up your authenticator app from your email"
LINK_REFUSED = "This link can't be used"


def link_in(message) -> str:
    return re.search(r"https?://[^/\s]+(/\S+)", message.body).group(1)


def key_on(response) -> str:
    return re.search(r'id="secret-key">([A-Z2-7 ]+)<', response.text).group(1)


def log_in_with_password(client, user, next_url=""):
    response = client.post(
        f"/login/{next_url and '?next=' + next_url}", {"username": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    return response


@pytest.fixture
def remove_in_the_admin(clinic_admin, django_capture_on_commit_callbacks):
    """A clinic admin removes someone's authenticator on the admin's delete page."""

    def remove(device):
        admin = log_in_staff(Client(), clinic_admin)
        with django_capture_on_commit_callbacks(execute=True):
            response = admin.post(
                f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"}
            )
        assert response.status_code == 302
        assert not TOTPDevice.objects.filter(pk=device.pk).exists()

    return remove


@pytest.fixture
def ask_for_link(django_capture_on_commit_callbacks):
    def ask(client, data=None):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(SEND_LINK, data or {}, follow=True)

    return ask


# Removal ------------------------------------------------------------------------------------


def test_removing_a_colleagues_authenticator_is_audited_as_who_removed_whose(
    clinic_admin, physician, remove_in_the_admin
):
    remove_in_the_admin(authenticator_for(physician))
    event = AuditEvent.objects.get(action="two_factor.removed")
    assert event.actor == clinic_admin
    assert (event.object_type, event.object_id) == ("screening.User", str(physician.pk))
    assert physician.email in event.summary


def test_the_removal_emails_the_colleague_a_link_whose_token_no_path_carries(
    clinic_admin, physician, remove_in_the_admin
):
    remove_in_the_admin(authenticator_for(physician))
    (message,) = mail.outbox
    assert message.to == [physician.email]
    assert clinic_admin.full_name in message.body and "removed" in message.body
    link = urlsplit(link_in(message))
    # The documented access log records the path only: the token travels in the query.
    assert link.path == "/account/two-factor/set-up/link/"
    (token,) = parse_qs(link.query)["token"]
    # Only a hash is stored.
    stored = AuthenticatorSetupLink.objects.get(user=physician)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(AuthenticatorSetupLink.objects.filter(pk=stored.pk).values().get())
    assert AuditEvent.objects.filter(action="two_factor.link_sent", actor=clinic_admin).exists()


def test_after_a_removal_the_password_alone_cannot_set_up_a_new_app(
    client, physician, remove_in_the_admin
):
    remove_in_the_admin(authenticator_for(physician))
    log_in_with_password(client, physician)
    page = client.get("/staff/queue/", follow=True)
    assert page.redirect_chain[-1][0].startswith(SET_UP)
    assert LINK_NEEDED in page.text and "secret-key" not in page.text
    client.post(SET_UP, {"code": "123456"})
    assert not TOTPDevice.objects.filter(user=physician).exists()
    assert client.get("/staff/queue/").status_code == 302


def test_a_staff_account_that_never_had_an_app_needs_the_link_too(client, clinic_admin):
    log_in_with_password(client, clinic_admin)
    page = client.get(SET_UP)
    assert LINK_NEEDED in page.text and "secret-key" not in page.text
    assert client.get("/admin/").status_code == 302


# The link -----------------------------------------------------------------------------------


def test_the_link_then_the_password_set_up_the_new_app(physician, remove_in_the_admin):
    remove_in_the_admin(authenticator_for(physician))
    link = link_in(mail.outbox[0])
    token = parse_qs(urlsplit(link).query)["token"][0]
    browser = Client()

    # Opened before logging in: the token is swapped for the session at once.
    opened = browser.get(link)
    assert opened.status_code == 302 and opened["Location"] == SET_UP
    assert AuthenticatorSetupLink.objects.get(user=physician).opened_at is not None
    assert browser.get(SET_UP)["Location"].startswith("/login/")
    log_in_with_password(browser, physician, next_url=SET_UP)
    page = browser.get(SET_UP)
    assert token not in page.text
    key = key_on(page)
    response = browser.post(SET_UP, {"code": code_for_typed_key(key)})
    assert response.status_code == 302
    assert TOTPDevice.objects.get(user=physician).confirmed
    assert browser.get("/staff/queue/").status_code == 200
    assert AuthenticatorSetupLink.objects.get(user=physician).used_at is not None
    actions = list(
        AuditEvent.objects.filter(actor=physician)
        .exclude(action="queue.viewed")  # the queue read just above, audited like any read
        .values_list("action", flat=True)
    )
    assert actions == ["two_factor.enrolled"]
    # Opened before the login, by someone not yet known.
    assert AuditEvent.objects.get(action="two_factor.link_opened").actor is None


def test_a_link_works_once(physician, remove_in_the_admin):
    remove_in_the_admin(authenticator_for(physician))
    link = link_in(mail.outbox[0])
    assert Client().get(link).status_code == 302
    replay = Client().get(link)
    assert replay.status_code == 404 and LINK_REFUSED in replay.text


def test_an_expired_link_is_refused(physician, remove_in_the_admin):
    remove_in_the_admin(authenticator_for(physician))
    AuthenticatorSetupLink.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert Client().get(link_in(mail.outbox[0])).status_code == 404


def test_an_unknown_token_gets_the_same_page(client, db):
    for url in (
        "/account/two-factor/set-up/link/?token=made-up",
        "/account/two-factor/set-up/link/",
    ):
        response = client.get(url)
        assert response.status_code == 404 and LINK_REFUSED in response.text


def test_a_link_opened_in_a_session_stops_working_once_a_newer_one_is_sent(
    physician, remove_in_the_admin, ask_for_link
):
    remove_in_the_admin(authenticator_for(physician))
    first = link_in(mail.outbox[0])
    browser = Client()
    browser.get(first)
    log_in_with_password(browser, physician)
    assert "secret-key" in browser.get(SET_UP).text

    AuthenticatorSetupLink.objects.update(created_at=timezone.now() - timedelta(minutes=5))
    ask_for_link(browser)
    assert LINK_NEEDED in browser.get(SET_UP).text
    assert browser.post(SET_UP, {"code": "123456"}).status_code == 200
    assert not TOTPDevice.objects.filter(user=physician).exists()
    assert Client().get(first).status_code == 404


def test_a_link_sets_up_only_the_account_it_was_sent_to(physician, remove_in_the_admin):
    colleague = make_user("second.doctor@example.com", "Dr Second", PHYSICIAN_GROUP)
    remove_in_the_admin(authenticator_for(physician))
    browser = Client()
    browser.get(link_in(mail.outbox[0]))
    log_in_with_password(browser, colleague)
    page = browser.get(SET_UP)
    assert LINK_NEEDED in page.text and "secret-key" not in page.text


def test_a_used_link_cannot_set_up_a_second_app_from_another_tab(physician, remove_in_the_admin):
    remove_in_the_admin(authenticator_for(physician))
    browser = Client()
    browser.get(link_in(mail.outbox[0]))
    log_in_with_password(browser, physician)
    key = key_on(browser.get(SET_UP))
    browser.post(SET_UP, {"code": code_for_typed_key(key)})
    # The app is removed again; the old session's link is spent.
    TOTPDevice.objects.filter(user=physician).delete()
    browser.post("/logout/")
    log_in_with_password(browser, physician)
    assert LINK_NEEDED in browser.get(SET_UP).text


# Asking for a link --------------------------------------------------------------------------


def test_a_new_link_goes_to_the_accounts_own_address_only(client, physician, ask_for_link):
    log_in_with_password(client, physician)
    page = ask_for_link(client, {"email": "someone@elsewhere.example"})
    assert f"We emailed a set-up link to {physician.email}" in page.text
    (message,) = mail.outbox
    assert message.to == [physician.email]
    assert "You asked to set up an authenticator app" in message.body
    assert AuditEvent.objects.filter(action="two_factor.link_sent", actor=physician).exists()


def test_asking_again_at_once_sends_nothing_more(client, physician, ask_for_link):
    log_in_with_password(client, physician)
    ask_for_link(client)
    page = ask_for_link(client)
    assert "We emailed you a link a moment ago" in page.text
    assert len(mail.outbox) == 1
    assert AuthenticatorSetupLink.objects.filter(user=physician).count() == 1


def test_staff_with_an_app_and_patients_get_no_link(client, physician, patient, ask_for_link):
    authenticator_for(physician)
    log_in_with_password(client, physician)
    assert ask_for_link(client).redirect_chain[-1][0].startswith("/account/two-factor/")
    client.post("/logout/")
    log_in_with_password(client, patient)
    ask_for_link(client)
    assert mail.outbox == []
    assert not AuthenticatorSetupLink.objects.exists()
    assert Client().post(SEND_LINK)["Location"].startswith("/login/")


def test_after_set_up_the_person_lands_on_the_page_they_first_asked_for(
    client, clinic_admin, ask_for_link
):
    log_in_with_password(client, clinic_admin)
    page = client.get("/admin/", follow=True)
    assert page.redirect_chain[-1][0] == f"{SET_UP}?next=%2Fadmin%2F"
    ask_for_link(client, {"next": "/admin/"})
    client.get(link_in(mail.outbox[0]))
    key = key_on(client.get(SET_UP))
    assert client.post(SET_UP, {"code": code_for_typed_key(key)})["Location"] == "/admin/"
