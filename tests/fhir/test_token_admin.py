"""Issuing and revoking API tokens in the admin: who may issue which, shown once, audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from screening.fhir.tokens import TokenNotAllowed, hash_token, issue_token
from screening.models import ApiToken, AuditEvent, User
from tests.logins import log_in_staff

ADD_URL = "/admin/screening/apitoken/add/"


def form_data(scope: str, **changes) -> dict:
    expires = timezone.localtime() + timedelta(days=30)
    return {
        "client_name": "Epic interface engine",
        "scope": scope,
        "expires_at_0": expires.date().isoformat(),
        "expires_at_1": expires.strftime("%H:%M:%S"),
        "requests_per_minute": "120",
        **changes,
    }


@pytest.fixture
def superuser(db, roles):
    return User.objects.create_superuser(
        email="root@example.com", password=None, full_name="Sue Super"
    )


def test_a_clinic_admin_is_offered_only_question_set_tokens(client, clinic_admin):
    log_in_staff(client, clinic_admin)
    page = client.get(ADD_URL)
    assert page.status_code == 200
    choices = [value for value, _ in page.context["adminform"].form.fields["scope"].choices]
    assert choices == ["", ApiToken.Scope.QUESTIONNAIRES_READ]


def test_a_clinic_admin_cannot_issue_a_token_that_reads_screenings(client, clinic_admin):
    log_in_staff(client, clinic_admin)
    response = client.post(ADD_URL, form_data(ApiToken.Scope.SCREENINGS_READ))
    assert response.status_code == 200
    assert "scope" in response.context["adminform"].form.errors
    assert not ApiToken.objects.exists()
    with pytest.raises(TokenNotAllowed):
        issue_token(
            client_name="x",
            scope=ApiToken.Scope.SCREENINGS_READ,
            expires_at=timezone.now() + timedelta(days=1),
            created_by=clinic_admin,
        )


def test_a_clinic_admin_issues_a_question_set_token_shown_once(client, clinic_admin):
    log_in_staff(client, clinic_admin)
    response = client.post(ADD_URL, form_data(ApiToken.Scope.QUESTIONNAIRES_READ))
    assert response.status_code == 200
    secret = response.context["secret"]
    token = ApiToken.objects.get()
    assert token.token_hash == hash_token(secret)
    assert secret in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert token.created_by == clinic_admin
    event = AuditEvent.objects.get(action="fhir.token_issued")
    assert event.actor == clinic_admin and secret not in event.summary
    # Never again: the token's own page shows its prefix, never the secret.
    page = client.get(f"/admin/screening/apitoken/{token.pk}/change/").content.decode()
    assert token.token_prefix in page and secret not in page


def test_someone_granted_the_permission_issues_a_screening_token(client, clinic_admin):
    clinic_admin.user_permissions.add(Permission.objects.get(codename="issue_screening_token"))
    log_in_staff(client, clinic_admin)
    response = client.post(ADD_URL, form_data(ApiToken.Scope.SCREENINGS_READ))
    assert response.status_code == 200 and "secret" in response.context
    assert ApiToken.objects.get().scope == ApiToken.Scope.SCREENINGS_READ


def test_a_superuser_may_issue_a_screening_token(client, superuser):
    log_in_staff(client, superuser)
    response = client.post(ADD_URL, form_data(ApiToken.Scope.SCREENINGS_READ))
    assert "secret" in response.context


@pytest.mark.parametrize("days", [-1, 366])
def test_a_token_expires_in_the_future_and_within_a_year(client, superuser, days):
    log_in_staff(client, superuser)
    expires = timezone.localtime() + timedelta(days=days)
    data = form_data(
        ApiToken.Scope.QUESTIONNAIRES_READ,
        expires_at_0=expires.date().isoformat(),
        expires_at_1=expires.strftime("%H:%M:%S"),
    )
    response = client.post(ADD_URL, data)
    assert "expires_at" in response.context["adminform"].form.errors
    assert not ApiToken.objects.exists()


def test_a_clinic_admin_revokes_any_token_and_it_is_audited(client, clinic_admin, superuser):
    _, secret = issue_token(
        client_name="Reporting job",
        scope=ApiToken.Scope.SCREENINGS_READ,
        expires_at=timezone.now() + timedelta(days=10),
        created_by=superuser,
    )
    token = ApiToken.objects.get()
    log_in_staff(client, clinic_admin)
    response = client.post(
        "/admin/screening/apitoken/",
        {"action": "revoke", "_selected_action": [str(token.pk)]},
    )
    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None and token.revoked_by == clinic_admin
    assert AuditEvent.objects.filter(action="fhir.token_revoked", actor=clinic_admin).count() == 1
    api = client.get("/fhir/R4/metadata")  # public
    assert api.status_code == 200
    assert (
        client.get(
            "/fhir/R4/QuestionnaireResponse", HTTP_AUTHORIZATION=f"Bearer {secret}"
        ).status_code
        == 401
    )


def test_tokens_are_never_edited_or_deleted_in_the_admin(client, superuser):
    issue_token(
        client_name="x",
        scope=ApiToken.Scope.QUESTIONNAIRES_READ,
        expires_at=timezone.now() + timedelta(days=10),
        created_by=superuser,
    )
    token = ApiToken.objects.get()
    log_in_staff(client, superuser)
    assert (
        client.post(
            f"/admin/screening/apitoken/{token.pk}/change/", {"client_name": "y"}
        ).status_code
        == 403
    )
    assert (
        client.post(f"/admin/screening/apitoken/{token.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    token.refresh_from_db()
    assert token.client_name == "x"


def test_a_physician_has_no_token_admin(client, physician):
    log_in_staff(client, physician)
    response = client.get(ADD_URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
