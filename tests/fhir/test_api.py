"""The read-only FHIR API: tokens (valid, revoked, expired, wrong scope), every read audited,
search by patient and date, rate limits, OperationOutcome on every refusal, and the staff
download of a screening's Bundle."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from screening.fhir.tokens import hash_token, issue_token, revoke_token
from screening.models import ApiToken, AuditEvent, Screening, User
from tests.factories import make_patient, make_submitted_screening
from tests.fhir.validation import validated
from tests.logins import log_in_staff

FHIR_JSON = "application/fhir+json; charset=utf-8"


@pytest.fixture
def issuer(db, roles):
    """Someone allowed to issue tokens that read screenings (a named person, not a group)."""
    user = User.objects.create_user(email="it@example.com", password=None, full_name="Ivy Issuer")
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["add_apitoken", "issue_screening_token"])
    )
    return User.objects.get(pk=user.pk)


def make_token(issuer, scope=ApiToken.Scope.SCREENINGS_READ, **extra):
    _, secret = issue_token(
        client_name="EHR interface",
        scope=scope,
        expires_at=timezone.now() + timedelta(days=30),
        created_by=issuer,
        **extra,
    )
    return secret


@pytest.fixture
def token(issuer):
    return make_token(issuer)


def bearer(secret: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


@pytest.fixture
def screening(default_version):
    return make_submitted_screening(level="caution", flags=[("bp_elevated", "caution")])


def assert_outcome(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"] == FHIR_JSON
    body = response.json()
    validated(body)
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == code
    return body


# --- Authentication --------------------------------------------------------------------------


def test_metadata_is_a_capability_statement_anyone_can_read(client, default_version):
    response = client.get("/fhir/R4/metadata")
    assert response.status_code == 200 and response["Content-Type"] == FHIR_JSON
    statement = validated(response.json())
    assert statement.fhirVersion == "4.0.1"
    types = {resource.type for resource in statement.rest[0].resource}
    assert types == {"Questionnaire", "QuestionnaireResponse", "Bundle"}


def test_a_valid_token_reads_a_screenings_bundle(client, token, screening):
    response = client.get(f"/fhir/R4/Bundle/{screening.pk}", **bearer(token))
    assert response.status_code == 200
    assert response["Content-Type"] == FHIR_JSON
    assert "no-store" in response["Cache-Control"]
    bundle = validated(response.json())
    assert bundle.type == "collection" and bundle.id == str(screening.pk)
    fhir_base = "http://testserver/fhir/R4"
    [form] = [e.resource for e in bundle.entry if e.resource.get_resource_type() == "Questionnaire"]
    assert form.url == f"{fhir_base}/Questionnaire/ketamine-pretreatment"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "Token abc",
        "Bearer fhir_not-a-real-token",
    ],
    ids=["none", "empty", "scheme-only", "scheme-and-space", "basic", "other-scheme", "unknown"],
)
def test_no_token_or_an_unknown_one_is_401_with_an_operation_outcome(client, screening, header):
    extra = {} if header is None else {"HTTP_AUTHORIZATION": header}
    response = client.get(f"/fhir/R4/Bundle/{screening.pk}", **extra)
    assert_outcome(response, 401, "login")
    assert response["WWW-Authenticate"].startswith('Bearer realm="fhir"')
    assert not AuditEvent.objects.filter(action="fhir.read").exists()


def test_a_revoked_token_is_401(client, issuer, token, screening):
    revoke_token(token=ApiToken.objects.get(token_hash=hash_token(token)), revoked_by=issuer)
    body = assert_outcome(
        client.get(f"/fhir/R4/Bundle/{screening.pk}", **bearer(token)), 401, "login"
    )
    assert "revoked" in body["issue"][0]["diagnostics"]


def test_an_expired_token_is_401(client, token, screening):
    ApiToken.objects.filter(token_hash=hash_token(token)).update(
        created_at=timezone.now() - timedelta(days=2),
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    body = assert_outcome(
        client.get(f"/fhir/R4/Bundle/{screening.pk}", **bearer(token)), 401, "login"
    )
    assert "expired" in body["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    "path", ["Bundle/{id}", "QuestionnaireResponse/{id}", "QuestionnaireResponse"]
)
def test_a_question_set_token_reads_no_patient_data(client, issuer, screening, path):
    secret = make_token(issuer, scope=ApiToken.Scope.QUESTIONNAIRES_READ)
    response = client.get("/fhir/R4/" + path.format(id=screening.pk), **bearer(secret))
    assert_outcome(response, 403, "forbidden")
    assert 'error="insufficient_scope"' in response["WWW-Authenticate"]
    assert not AuditEvent.objects.filter(action="fhir.read").exists()


def test_a_question_set_token_reads_questionnaires(client, issuer, default_version):
    secret = make_token(issuer, scope=ApiToken.Scope.QUESTIONNAIRES_READ)
    response = client.get(f"/fhir/R4/Questionnaire/{default_version.pk}", **bearer(secret))
    assert response.status_code == 200
    assert validated(response.json()).id == str(default_version.pk)
    event = AuditEvent.objects.get(action="fhir.read")
    assert event.screening is None and "Questionnaire" in event.summary


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_the_api_is_read_only(client, token, screening, method):
    response = getattr(client, method)(f"/fhir/R4/Bundle/{screening.pk}", **bearer(token))
    assert_outcome(response, 405, "not-supported")
    assert response["Allow"] == "GET, HEAD"
    assert Screening.objects.filter(pk=screening.pk).exists()


def test_a_browser_session_is_not_a_token(client, physician, screening):
    """Even a physician who may read the screening on the staff pages needs a token here."""
    log_in_staff(client, physician)
    assert_outcome(client.get(f"/fhir/R4/Bundle/{screening.pk}"), 401, "login")


def test_the_token_is_stored_only_as_a_hash(issuer):
    secret = make_token(issuer)
    token = ApiToken.objects.get()
    assert token.token_hash == hash_token(secret) and secret not in token.token_hash
    assert secret.startswith(token.token_prefix) and len(secret) > len(token.token_prefix) + 30
    assert not ApiToken.objects.filter(token_hash=secret).exists()


def test_too_many_requests_get_429_until_the_next_minute(client, issuer, screening):
    secret = make_token(issuer, requests_per_minute=3)
    url = f"/fhir/R4/QuestionnaireResponse/{screening.pk}"
    for _ in range(3):
        assert client.get(url, **bearer(secret)).status_code == 200
    refused = client.get(url, **bearer(secret))
    assert_outcome(refused, 429, "throttled")
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert AuditEvent.objects.filter(action="fhir.read").count() == 3
    # A new minute starts a new window.
    ApiToken.objects.update(window_started_at=timezone.now() - timedelta(minutes=1))
    assert client.get(url, **bearer(secret)).status_code == 200


# --- Reads and their audit ----------------------------------------------------------------------


def test_every_read_writes_an_audit_event_naming_the_screening_and_the_client(
    client, issuer, token, screening
):
    client.get(f"/fhir/R4/Bundle/{screening.pk}", **bearer(token))
    client.get(f"/fhir/R4/QuestionnaireResponse/{screening.pk}", **bearer(token))
    events = list(AuditEvent.objects.filter(action="fhir.read").order_by("id"))
    assert len(events) == 2
    api_token = ApiToken.objects.get()
    for event, what in zip(events, ["Bundle", "QuestionnaireResponse"], strict=True):
        assert event.screening_id == screening.pk
        assert event.actor == issuer  # the person who answers for the client
        assert (event.object_type, event.object_id) == ("screening.ApiToken", str(api_token.pk))
        assert event.summary == f"FHIR API: {what} read by client 'EHR interface'"
        assert event.ip_address == "127.0.0.1"


def test_a_made_up_or_unsubmitted_screening_is_404_and_not_audited(
    client, token, default_version, patient
):
    open_one = Screening.objects.create(patient=patient, version=default_version)
    for identifier in (uuid.uuid4(), open_one.pk):
        for path in ("Bundle", "QuestionnaireResponse"):
            assert_outcome(
                client.get(f"/fhir/R4/{path}/{identifier}", **bearer(token)), 404, "not-found"
            )
    assert not AuditEvent.objects.filter(action="fhir.read").exists()


def test_a_draft_questionnaire_is_404(client, token, default_version):
    draft = default_version.question_set.versions.create(number=99)
    assert_outcome(
        client.get(f"/fhir/R4/Questionnaire/{draft.pk}", **bearer(token)), 404, "not-found"
    )
    assert_outcome(client.get("/fhir/R4/Patient/123", **bearer(token)), 404, "not-found")


def test_a_questionnaire_response_is_pinned_to_its_version(
    client, token, screening, default_version
):
    response = client.get(f"/fhir/R4/QuestionnaireResponse/{screening.pk}", **bearer(token))
    body = validated(response.json())
    assert (
        body.questionnaire
        == f"http://testserver/fhir/R4/Questionnaire/ketamine-pretreatment|{default_version.number}"
    )
    assert body.subject.reference == f"urn:uuid:{screening.patient_id}"


# --- Search ------------------------------------------------------------------------------------


@pytest.fixture
def three_screenings(default_version):
    alice, bob = make_patient("Alice Search"), make_patient("Bob Search")
    now = timezone.now()
    made = {
        "alice_old": make_submitted_screening(
            patient=alice, status="decided", minutes_ago=60 * 24 * 40
        ),
        "alice_new": make_submitted_screening(patient=alice),
        "bob": make_submitted_screening(patient=bob, minutes_ago=60 * 24 * 3),
    }
    return made, alice, bob, now


def found(client, token, **params):
    response = client.get("/fhir/R4/QuestionnaireResponse", params, **bearer(token))
    assert response.status_code == 200, response.content[:500]
    bundle = validated(response.json())
    assert bundle.type == "searchset"
    return bundle, [uuid.UUID(entry.resource.id) for entry in bundle.entry or []]


def test_search_by_patient(client, token, three_screenings):
    made, alice, bob, _ = three_screenings
    _, ids = found(client, token, patient=f"Patient/{alice.pk}")
    assert ids == [made["alice_new"].pk, made["alice_old"].pk]  # newest first
    _, ids = found(client, token, subject=str(bob.pk))
    assert ids == [made["bob"].pk]
    _, ids = found(client, token, patient=str(uuid.uuid4()))
    assert ids == []


def test_search_by_date_authored(client, token, three_screenings):
    made, alice, _, now = three_screenings
    today = timezone.localdate(now)
    _, ids = found(client, token, authored=f"ge{(today - timedelta(days=7)).isoformat()}")
    assert set(ids) == {made["alice_new"].pk, made["bob"].pk}
    _, ids = found(client, token, authored=f"lt{(today - timedelta(days=7)).isoformat()}")
    assert ids == [made["alice_old"].pk]
    bob_day = timezone.localdate(made["bob"].submitted_at).isoformat()
    _, ids = found(client, token, authored=bob_day)
    assert ids == [made["bob"].pk]
    # A range, and both filters together.
    _, ids = found(
        client,
        token,
        authored=[
            f"ge{(today - timedelta(days=60)).isoformat()}",
            f"le{(today - timedelta(days=1)).isoformat()}",
        ],
        patient=str(alice.pk),
    )
    assert ids == [made["alice_old"].pk]
    instant = made["bob"].submitted_at.replace(microsecond=0)
    _, ids = found(client, token, authored=f"eq{instant.isoformat()}")
    assert ids == [made["bob"].pk]


def test_each_search_result_is_an_audited_read(client, token, three_screenings):
    made, alice, _, _ = three_screenings
    found(client, token, patient=str(alice.pk))
    audited = set(
        AuditEvent.objects.filter(action="fhir.read").values_list("screening_id", flat=True)
    )
    assert audited == {made["alice_new"].pk, made["alice_old"].pk}


def test_search_pages(client, token, three_screenings):
    made, _, _, _ = three_screenings
    bundle, first = found(client, token, _count="2")
    assert bundle.total == 3 and len(first) == 2
    next_link = next(link.url for link in bundle.link if link.relation == "next")
    assert "_offset=2" in next_link and "_count=2" in next_link
    _, second = found(client, token, _count="2", _offset="2")
    assert len(second) == 1 and not set(first) & set(second)


@pytest.mark.parametrize(
    "params",
    [
        {"name": "Alice"},  # an unsupported filter is refused, never ignored
        {"patient": "Alice"},
        {"authored": "yesterday"},
        {"authored": "sa2026-01-01"},
        {"authored": "2026-02-30"},
        {"_count": "0"},
        {"_count": "1000"},
        {"_offset": "-1"},
    ],
)
def test_a_search_it_cannot_honour_is_400(client, token, three_screenings, params):
    response = client.get("/fhir/R4/QuestionnaireResponse", params, **bearer(token))
    assert_outcome(response, 400, "invalid")
    assert not AuditEvent.objects.filter(action="fhir.read").exists()


# --- The staff download ---------------------------------------------------------------------------


def test_a_physician_downloads_the_bundle_and_it_is_audited(client, physician, screening):
    log_in_staff(client, physician)
    page = client.get(f"/staff/screenings/{screening.pk}/")
    assert f'href="/staff/screenings/{screening.pk}/fhir/"' in page.content.decode()
    response = client.get(f"/staff/screenings/{screening.pk}/fhir/")
    assert response.status_code == 200
    assert (
        response["Content-Disposition"]
        == f'attachment; filename="screening-{screening.pk}.fhir.json"'
    )
    validated(response.json())
    event = AuditEvent.objects.get(action="screening.exported")
    assert event.actor == physician and event.screening_id == screening.pk


def test_a_clinic_admin_cannot_download_a_screening(client, clinic_admin, screening):
    log_in_staff(client, clinic_admin)
    assert client.get(f"/staff/screenings/{screening.pk}/fhir/").status_code == 403
    assert not AuditEvent.objects.filter(action="screening.exported").exists()
