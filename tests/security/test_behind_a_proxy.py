"""Behind the documented proxy, the client's address comes from X-Forwarded-For, and only then.

Everyone reaches gunicorn from the proxy's socket (127.0.0.1 here). Without
TRUSTED_PROXY_COUNT the header is ignored, whatever a client writes in it; with it, the
entry our outermost proxy wrote is the address, for login throttling and the audit log alike.
"""

import pytest
from axes.models import AccessAttempt
from django.test import Client, RequestFactory

from screening.client_address import client_ip
from screening.models import AuditEvent
from tests.conftest import PASSWORD
from tests.factories import make_submitted_screening
from tests.logins import log_in_staff

PROXY = "127.0.0.1"
ATTACKER = "203.0.113.66"
REAL_PERSON = "198.51.100.7"


@pytest.mark.parametrize(
    "proxies, forwarded_for, expected",
    [
        # No trusted proxy configured: the header is anyone's to write, so it is ignored.
        (0, f"{ATTACKER}", PROXY),
        (0, f"{ATTACKER}, {REAL_PERSON}", PROXY),
        # nginx alone appends the address it was connected from: the right-most entry.
        (1, REAL_PERSON, REAL_PERSON),
        (1, f"{ATTACKER}, {REAL_PERSON}", REAL_PERSON),
        (1, f"{ATTACKER},{REAL_PERSON}", REAL_PERSON),
        # A load balancer, then nginx, which appends the balancer's address.
        (2, f"{ATTACKER}, {REAL_PERSON}, 10.0.0.2", REAL_PERSON),
        # Through fewer proxies than configured: every entry is one of ours; the farthest.
        (2, REAL_PERSON, REAL_PERSON),
        # Straight to the app (a health check from the host): the socket address.
        (1, None, PROXY),
        (1, "2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        # Something that is not an address is never stored or locked on.
        (1, "unix:", None),
        (1, f"{REAL_PERSON}, <script>", None),
    ],
)
def test_the_client_address_is_the_entry_our_outermost_proxy_wrote(
    settings, proxies, forwarded_for, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    headers = {"HTTP_X_FORWARDED_FOR": forwarded_for} if forwarded_for is not None else {}
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, **headers)
    assert client_ip(request) == expected


def through_the_proxy(client_address: str) -> Client:
    """A browser somewhere, as gunicorn sees it behind nginx."""
    return Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=client_address)


def test_failures_from_one_address_do_not_lock_the_real_person_out_from_another(settings, patient):
    settings.TRUSTED_PROXY_COUNT = 1
    attacker = through_the_proxy(ATTACKER)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        attacker.post("/login/", {"username": patient.email, "password": "not the password"})
    assert (
        attacker.post("/login/", {"username": patient.email, "password": PASSWORD}).status_code
        == 429
    )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {ATTACKER}

    real_person = through_the_proxy(REAL_PERSON)
    response = real_person.post("/login/", {"username": patient.email, "password": PASSWORD})
    assert response.status_code == 302
    assert real_person.session["_auth_user_id"] == str(patient.pk)


def test_the_lock_is_per_account_and_address(settings, patient, other_patient):
    settings.TRUSTED_PROXY_COUNT = 1
    shared = through_the_proxy(ATTACKER)
    for _ in range(settings.AXES_FAILURE_LIMIT):
        shared.post("/login/", {"username": patient.email, "password": "not the password"})
    response = shared.post("/login/", {"username": other_patient.email, "password": PASSWORD})
    assert response.status_code == 302


def test_without_the_setting_a_forged_header_does_not_escape_the_lock(settings, patient):
    """Someone writing a new address in X-Forwarded-For for each try is still one address."""
    settings.TRUSTED_PROXY_COUNT = 0
    for attempt in range(settings.AXES_FAILURE_LIMIT):
        forger = Client(REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR=f"198.51.100.{attempt}")
        forger.post("/login/", {"username": patient.email, "password": "not the password"})
    forger = Client(REMOTE_ADDR="192.0.2.10", HTTP_X_FORWARDED_FOR=REAL_PERSON)
    assert (
        forger.post("/login/", {"username": patient.email, "password": PASSWORD}).status_code == 429
    )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"192.0.2.10"}


@pytest.mark.parametrize(
    "proxies, expected",
    [(0, PROXY), (1, REAL_PERSON)],
    ids=["without the setting: the socket", "with it: the client"],
)
def test_the_audit_log_records_the_same_address_as_the_lockout(
    settings, physician, other_patient, default_version, proxies, expected
):
    settings.TRUSTED_PROXY_COUNT = proxies
    screening = make_submitted_screening(patient=other_patient)
    client = log_in_staff(Client(REMOTE_ADDR=PROXY), physician)
    response = client.get(
        f"/staff/screenings/{screening.pk}/", HTTP_X_FORWARDED_FOR=f"{ATTACKER}, {REAL_PERSON}"
    )
    assert response.status_code == 200
    event = AuditEvent.objects.get(action="screening.viewed")
    assert event.ip_address == expected
