"""Staff need a one-time code from an authenticator app after their password, before any
patient data; patients do not. A code works once."""

import datetime
import re

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from screening.models import AuditEvent, User
from tests.conftest import PASSWORD
from tests.factories import make_submitted_screening
from tests.logins import authenticator_for, code_for_typed_key, current_code, log_in_staff

PATIENT_MARKER = "Quentin Markerson"


def log_in_with_password(client, user):
    response = client.post("/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302
    return response


@pytest.fixture
def submitted(default_version, other_patient):
    other_patient.full_name = PATIENT_MARKER
    other_patient.save()
    return make_submitted_screening(patient=other_patient, level="urgent")


@pytest.mark.parametrize(
    "url",
    ["/staff/queue/", "/staff/", "/staff/audit/", "/staff/invitations/", "/admin/"],
)
@pytest.mark.parametrize("who", ["physician", "clinic_admin"])
def test_staff_with_only_a_password_see_no_staff_page(client, request, who, url, submitted):
    user = request.getfixturevalue(who)
    authenticator_for(user)
    log_in_with_password(client, user)
    response = client.get(url, follow=True)
    assert response.redirect_chain[-1][0].startswith("/account/two-factor/")
    assert "Enter your code" in response.text
    assert PATIENT_MARKER not in response.text


def test_a_screening_page_needs_the_code_too(client, physician, submitted):
    authenticator_for(physician)
    log_in_with_password(client, physician)
    response = client.get(f"/staff/screenings/{submitted.pk}/")
    assert response.status_code == 302
    assert PATIENT_MARKER not in response.text
    assert not AuditEvent.objects.filter(action="screening.viewed").exists()


def test_a_post_without_the_code_changes_nothing(client, physician, submitted):
    authenticator_for(physician)
    log_in_with_password(client, physician)
    response = client.post(
        f"/staff/screenings/{submitted.pk}/decide/",
        {"outcome": "not_candidate", "reason": "x", "lock_version": submitted.lock_version},
    )
    assert response.status_code == 302
    assert response["Location"].startswith("/account/two-factor/")
    assert not submitted.decisions.exists()


def test_the_right_code_opens_the_page_first_asked_for(client, physician, submitted):
    device = authenticator_for(physician)
    log_in_with_password(client, physician)
    response = client.get("/staff/queue/")
    verify_url = response["Location"]
    response = client.post(verify_url, {"code": current_code(device)})
    assert response["Location"] == "/staff/queue/"
    page = client.get("/staff/queue/")
    assert page.status_code == 200 and PATIENT_MARKER in page.text
    assert AuditEvent.objects.filter(action="two_factor.verified", actor=physician).exists()


def test_a_wrong_code_is_refused_beside_the_field(client, physician):
    device = authenticator_for(physician)
    log_in_with_password(client, physician)
    wrong = f"{(int(current_code(device)) + 1) % 1_000_000:06d}"
    response = client.post("/account/two-factor/", {"code": wrong})
    assert response.status_code == 200
    assert "That code is not right" in response.text
    assert 'aria-invalid="true"' in response.text
    assert client.get("/staff/queue/").status_code == 302
    assert AuditEvent.objects.filter(action="two_factor.failed", actor=physician).exists()


@pytest.mark.parametrize("code", ["", "abcdef", "12345", "1234567", "１２３４５６", "0" * 500])
def test_malformed_codes_get_a_clear_message(client, physician, code):
    authenticator_for(physician)
    log_in_with_password(client, physician)
    response = client.post("/account/two-factor/", {"code": code})
    assert response.status_code == 200
    assert "invalid-feedback" in response.text
    assert client.get("/staff/queue/").status_code == 302


def test_a_replayed_code_is_refused(client, physician):
    """Someone who watched a code being typed cannot use it again in another session."""
    device = authenticator_for(physician)
    code = current_code(device)
    log_in_with_password(client, physician)
    assert client.post("/account/two-factor/", {"code": code}).status_code == 302
    client.post("/logout/")

    log_in_with_password(client, physician)
    response = client.post("/account/two-factor/", {"code": code})
    assert response.status_code == 200
    assert "already used" in response.text
    assert client.get("/staff/queue/").status_code == 302


def test_guessing_is_slowed_down(client, physician, settings):
    """After a wrong code the next try waits (1 s, 2 s, 4 s... with the default factor of 1;
    a minute here so the test does not depend on how fast it runs)."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 60
    device = authenticator_for(physician)
    log_in_with_password(client, physician)
    wrong = f"{(int(current_code(device)) + 5) % 1_000_000:06d}"
    client.post("/account/two-factor/", {"code": wrong})
    response = client.post("/account/two-factor/", {"code": current_code(device)})
    assert "Too many wrong codes" in response.text
    assert client.get("/staff/queue/").status_code == 302


def key_on_set_up_page(response) -> str:
    return re.search(r'id="secret-key">([A-Z2-7 ]+)<', response.text).group(1)


def emailed_setup_link(client, capture_on_commit) -> str:
    """Ask for a set-up link on the page a staff member without an app sees, and return the
    link from the email (the only place it exists) as a path on the test server."""
    with capture_on_commit(execute=True):
        client.post("/account/two-factor/set-up/send-link/")
    return re.search(r"https?://[^/\s]+(/\S+)", mail.outbox[-1].body).group(1)


def test_first_login_sets_up_the_authenticator_from_the_emailed_link(
    client, physician, django_capture_on_commit_callbacks
):
    log_in_with_password(client, physician)
    response = client.get("/staff/queue/", follow=True)
    assert response.redirect_chain[-1][0].startswith("/account/two-factor/set-up/")
    assert "Set up your authenticator app from your email" in response.text
    assert "secret-key" not in response.text  # the password alone shows no key

    link = emailed_setup_link(client, django_capture_on_commit_callbacks)
    assert client.get(link)["Location"] == "/account/two-factor/set-up/"
    response = client.get("/account/two-factor/set-up/")
    assert "Set up your authenticator app" in response.text
    assert "<svg" in response.text  # the QR code, inline: no request to anyone else
    key = key_on_set_up_page(response)
    # The same secret on reload, so a person who scanned it is not left with a dead entry;
    # nothing is saved until the first code is confirmed.
    assert key_on_set_up_page(client.get("/account/two-factor/set-up/")) == key
    assert not TOTPDevice.objects.filter(user=physician).exists()

    refused = client.post("/account/two-factor/set-up/", {"code": "000000"})
    assert "That code is not right" in refused.text
    response = client.post(
        "/account/two-factor/set-up/?next=/staff/queue/", {"code": code_for_typed_key(key)}
    )
    assert response["Location"] == "/staff/queue/"
    assert TOTPDevice.objects.get(user=physician).confirmed
    assert client.get("/staff/queue/").status_code == 200
    assert AuditEvent.objects.filter(action="two_factor.enrolled", actor=physician).exists()
    # The person hears of it, in case it was not them.
    notice = mail.outbox[-1]
    assert notice.to == [physician.email] and "If this was not you" in notice.body


def test_the_set_up_code_cannot_then_be_used_to_log_in(
    client, physician, django_capture_on_commit_callbacks
):
    log_in_with_password(client, physician)
    client.get(emailed_setup_link(client, django_capture_on_commit_callbacks))
    key = key_on_set_up_page(client.get("/account/two-factor/set-up/"))
    code = code_for_typed_key(key)
    client.post("/account/two-factor/set-up/", {"code": code})
    client.post("/logout/")
    log_in_with_password(client, physician)
    assert "already used" in client.post("/account/two-factor/", {"code": code}).text


def test_a_second_login_with_the_password_sees_no_key_and_cannot_enrol(
    client, physician, django_capture_on_commit_callbacks
):
    """Someone else who knows the password cannot see the key being set up, nor set up
    their own, before or after the real person has confirmed theirs."""
    other = Client()
    log_in_with_password(client, physician)
    log_in_with_password(other, physician)
    client.get(emailed_setup_link(client, django_capture_on_commit_callbacks))
    mine = key_on_set_up_page(client.get("/account/two-factor/set-up/"))
    theirs = other.get("/account/two-factor/set-up/")
    assert "secret-key" not in theirs.text and mine not in theirs.text
    assert other.post("/account/two-factor/set-up/", {"code": "123456"}).status_code == 200

    client.post("/account/two-factor/set-up/", {"code": code_for_typed_key(mine)})
    late = other.post("/account/two-factor/set-up/", {"code": "123456"})
    assert late.status_code == 302 and "set-up" not in late["Location"]
    assert TOTPDevice.objects.filter(user=physician).count() == 1
    assert other.get("/staff/queue/").status_code == 302


def test_the_session_gets_a_new_key_once_the_code_is_accepted(client, physician):
    """A session cookie planted before the code was typed must not become a verified one."""
    device = authenticator_for(physician)
    log_in_with_password(client, physician)
    planted = client.cookies["sessionid"].value
    client.post("/account/two-factor/", {"code": current_code(device)})
    assert client.cookies["sessionid"].value != planted
    attacker = Client()
    attacker.cookies["sessionid"] = planted
    assert attacker.get("/staff/queue/").status_code == 302


def test_the_wait_after_many_wrong_codes_is_capped(client, physician):
    """Someone with only the password cannot lock the real person out for days."""
    device = authenticator_for(physician)
    device.throttling_failure_count = 40
    device.throttling_failure_timestamp = timezone.now()
    device.save()
    log_in_with_password(client, physician)
    response = client.post("/account/two-factor/", {"code": current_code(device)})
    until = re.search(r"Wait until (\d\d:\d\d:\d\d) UTC", response.text).group(1)
    wait = (
        datetime.datetime.combine(
            timezone.now().date(), datetime.time.fromisoformat(until), tzinfo=datetime.UTC
        )
        - timezone.now()
    )
    assert wait.total_seconds() % 86400 < 10 * 60


def test_a_password_alone_cannot_set_up_a_second_device(client, physician):
    """A stolen password must not let the thief enrol their own phone."""
    authenticator_for(physician)
    log_in_with_password(client, physician)
    response = client.get("/account/two-factor/set-up/")
    assert response["Location"].startswith("/account/two-factor/")
    assert "set-up" not in response["Location"]
    assert client.post("/account/two-factor/set-up/", {"code": "123456"}).status_code == 302
    assert TOTPDevice.objects.filter(user=physician).count() == 1


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/x"])
def test_the_next_address_cannot_leave_the_site(client, physician, next_url):
    device = authenticator_for(physician)
    log_in_with_password(client, physician)
    response = client.post("/account/two-factor/", {"code": current_code(device), "next": next_url})
    assert response.status_code == 302
    assert "evil" not in response["Location"]


@pytest.mark.parametrize("next_url", ["1 ", "queue", "staff", "x.y"])
@pytest.mark.parametrize("page", ["verify", "set-up"])
def test_a_next_address_that_is_not_a_path_goes_home(client, physician, page, next_url):
    """Found by the fuzzer: redirect() took "1 " for the name of a URL and answered 500."""
    url, right_code = start_code_page(client, physician, page)
    response = client.post(url, {"code": right_code(), "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_patients_are_never_asked_for_a_code(client, patient):
    log_in_with_password(client, patient)
    assert client.get("/screenings/").status_code == 200
    assert client.get("/account/two-factor/")["Location"] == "/"


def test_staff_can_log_out_before_entering_a_code(client, physician):
    authenticator_for(physician)
    log_in_with_password(client, physician)
    client.post("/logout/")
    assert client.get("/staff/queue/")["Location"].startswith("/login/")


def test_the_code_pages_need_a_password_login_first(client):
    assert client.get("/account/two-factor/")["Location"].startswith("/login/")
    assert client.get("/account/two-factor/set-up/")["Location"].startswith("/login/")


def test_a_clinic_admin_removes_a_lost_device_without_seeing_its_key(
    client, clinic_admin, physician
):

    lost = authenticator_for(physician)
    log_in_staff(client, clinic_admin)
    change_page = client.get(f"/admin/otp_totp/totpdevice/{lost.pk}/change/")
    assert change_page.status_code == 200
    assert lost.key not in change_page.text
    # django-otp's own page showing the key as a QR code is not served here.
    config_page = client.get(f"/admin/otp_totp/totpdevice/{lost.pk}/config/", follow=True)
    assert lost.key not in config_page.text and "qrcode" not in config_page.text
    # Filters on the key would reveal it a character at a time: refused.
    probe = client.get(f"/admin/otp_totp/totpdevice/?key__startswith={lost.key[:1]}")
    assert probe.status_code == 400
    client.post(f"/admin/otp_totp/totpdevice/{lost.pk}/delete/", {"post": "yes"})
    assert not TOTPDevice.objects.filter(pk=lost.pk).exists()

    client.post("/logout/")
    log_in_with_password(client, physician)
    assert (
        client.get("/staff/queue/", follow=True)
        .redirect_chain[-1][0]
        .startswith("/account/two-factor/set-up/")
    )


def test_physicians_cannot_touch_devices_in_the_admin(client, physician):

    device = authenticator_for(physician)
    log_in_staff(client, physician)
    response = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_clinic_admin_cannot_remove_a_superusers_device(client, clinic_admin):

    owner = User.objects.create_superuser(email="root@example.com", password=PASSWORD)
    device = authenticator_for(owner)
    log_in_staff(client, clinic_admin)
    client.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


# Codes typed in other digits (issue 10, finding 12) -----------------------------------------

# str.isdigit() is True for these, but int() refuses them: set-up answered 500.
NOT_DIGITS = {
    "superscript": "⁰¹²³⁴⁵⁶⁷⁸⁹",
    "subscript": "₀₁₂₃₄₅₆₇₈₉",
    "circled": "⓪①②③④⑤⑥⑦⑧⑨",
    "roman": "ⅩⅠⅡⅢⅣⅤⅥⅦⅧⅨ",
}
# Decimal digits of other scripts: a phone set to Arabic, Persian or Hindi types these.
OTHER_SCRIPTS = {
    "ascii-with-space": "0123456789",
    "arabic-indic": "٠١٢٣٤٥٦٧٨٩",
    "persian": "۰۱۲۳۴۵۶۷۸۹",
    "devanagari": "०१२३४५६७८९",
    "fullwidth": "０１２３４５６７８９",
}


def typed_in(digits: str, code: str) -> str:
    typed = code.translate(str.maketrans("0123456789", digits))
    return f"{typed[:3]} {typed[3:]}"


def start_code_page(client, user, page: str):
    """Open the verify or set-up page; returns its URL and the code the app shows now."""
    if page == "verify":
        device = authenticator_for(user)
        log_in_with_password(client, user)
        return "/account/two-factor/", lambda: current_code(device)
    log_in_with_password(client, user)
    # No trust on first use: the set-up page shows a key only after the emailed link.
    client.post("/account/two-factor/set-up/send-link/")
    link = re.search(r"https?://[^/\s]+(/\S+)", mail.outbox[-1].body).group(1)
    client.get(link)
    key = key_on_set_up_page(client.get("/account/two-factor/set-up/"))
    return "/account/two-factor/set-up/", lambda: code_for_typed_key(key)


@pytest.mark.parametrize("page", ["verify", "set-up"])
@pytest.mark.parametrize("kind", ["²²²²²²", *NOT_DIGITS])
def test_a_code_of_superscripts_and_the_like_is_not_right(client, physician, page, kind):
    url, right_code = start_code_page(client, physician, page)
    code = kind if kind == "²²²²²²" else typed_in(NOT_DIGITS[kind], right_code())
    response = client.post(url, {"code": code})
    assert response.status_code == 200
    assert "That code is not right" in response.text
    assert client.get("/staff/queue/").status_code == 302
    assert TOTPDevice.objects.filter(user=physician, confirmed=True).count() == (
        1 if page == "verify" else 0
    )


@pytest.mark.parametrize("page", ["verify", "set-up"])
@pytest.mark.parametrize("script", list(OTHER_SCRIPTS))
def test_the_right_code_in_another_scripts_digits_is_accepted(client, physician, page, script):
    url, right_code = start_code_page(client, physician, page)
    response = client.post(url, {"code": typed_in(OTHER_SCRIPTS[script], right_code())})
    assert response.status_code == 302
    assert client.get("/staff/queue/").status_code == 200


def _session_naming_device(client, user, persistent_id: str) -> None:
    from django_otp import DEVICE_ID_SESSION_KEY

    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = persistent_id
    session.save()


def test_a_session_verified_with_an_authenticator_opens_staff_pages(client, physician, submitted):
    _session_naming_device(client, physician, authenticator_for(physician).persistent_id)
    assert client.get(f"/staff/screenings/{submitted.pk}/").status_code == 200


@pytest.mark.parametrize(
    "device",
    ["another physician's", "unconfirmed", "missing", "too large", "not a number", "not a device"],
)
def test_a_session_naming_a_device_that_is_not_the_staff_members_own_confirmed_one_is_unverified(
    client, physician, submitted, device
):
    """The session names the authenticator that verified it: one that is someone else's, not
    set up, gone or garbled verifies nobody (and is dropped from the session)."""
    from django_otp import DEVICE_ID_SESSION_KEY

    other = User.objects.create_user(email="other@example.com", password=PASSWORD)
    unconfirmed = TOTPDevice.objects.create(user=physician, name="half set up", confirmed=False)
    persistent_id = {
        "another physician's": authenticator_for(other).persistent_id,
        "unconfirmed": unconfirmed.persistent_id,
        "missing": "otp_totp.totpdevice/999999",
        "too large": "otp_totp.totpdevice/99999999999999999999",
        "not a number": "otp_totp.totpdevice/1;DROP TABLE x",
        "not a device": "screening.user/1",
    }[device]
    _session_naming_device(client, physician, persistent_id)
    response = client.get(f"/staff/screenings/{submitted.pk}/")
    assert response.status_code == 302 and "/account/two-factor/" in response["Location"]
    assert DEVICE_ID_SESSION_KEY not in client.session
