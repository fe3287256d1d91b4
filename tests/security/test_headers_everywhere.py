"""Every page, as every kind of visitor, in production mode, carries the security headers.

The pages come from the same discovery as the access matrix (tests/security/
test_access_matrix.py): every URL pattern of the project, the admin's included, filled in
with patient B's real objects. Production mode is the project's own settings file read
with DEBUG=False (so a change there is what is tested); requests are HTTPS, as behind the
TLS-terminating proxy.
"""

from __future__ import annotations

import os
import re
import runpy
import uuid
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from screening.fhir.tokens import issue_token
from screening.models import ApiToken, User
from tests.logins import log_in_staff

from .test_access_matrix import PASSWORD, ROLES, ROUTES, build_url, built_world, route_kwargs

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "clinic" / "settings.py"
ONE_YEAR = 31536000


def _production_settings() -> dict:
    """The security settings clinic/settings.py produces when DEBUG is off."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SECURE_", "SESSION_", "CSRF_"))
    }
    environment.update(
        {"DEBUG": "False", "SECRET_KEY": "p" * 64, "ALLOWED_HOSTS": "clinic.example.org"}
    )
    with mock.patch.dict(os.environ, environment, clear=True):
        values = runpy.run_path(str(SETTINGS_FILE))
    return {
        name: value
        for name, value in values.items()
        if name.isupper()
        and (
            name.startswith(("SECURE_", "SESSION_COOKIE_", "CSRF_COOKIE_", "LANGUAGE_COOKIE_"))
            or name in ("DEBUG", "X_FRAME_OPTIONS", "CONTENT_SECURITY_POLICY")
        )
    }


PRODUCTION = _production_settings()


@pytest.fixture
def production(settings):
    for name, value in PRODUCTION.items():
        setattr(settings, name, value)
    # The test client's host; the static files stay unhashed (no collectstatic here).
    settings.ALLOWED_HOSTS = ["testserver"]
    return settings


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with built_world(django_db_blocker) as built:
        yield built


def _client(role, world) -> Client:
    # Made after the settings change: the middleware reads some settings when it is built.
    client = Client()
    user = world.user(role)
    if role in ("physician", "clinic_admin", "nurse"):
        log_in_staff(client, user)
    elif user is not None:
        client.force_login(user)
    return client


def csp_directives(header: str) -> dict[str, list[str]]:
    directives = {}
    for part in header.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def _is_deletion(morsel) -> bool:
    if morsel["max-age"] in (0, "0"):
        return True
    expires = morsel["expires"]
    return bool(expires) and parsedate_to_datetime(expires).year < 2000


INLINE_SCRIPT = re.compile(
    r"<script\b(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I
)


def header_problems(response, *, authenticated: bool, settings) -> list[str]:
    """Everything wrong with one response's security headers and cookies."""
    problems = []
    headers = response.headers
    csp = headers.get("Content-Security-Policy")
    if not csp:
        problems.append("no Content-Security-Policy header")
    else:
        directives = csp_directives(csp)
        script = directives.get("script-src", directives.get("default-src"))
        if script is None:
            problems.append("CSP sets neither script-src nor default-src")
        else:
            unsafe = [s for s in script if s in ("'unsafe-inline'", "'unsafe-eval'", "*", "data:")]
            if unsafe:
                problems.append(f"CSP script-src allows {unsafe}")
        style = directives.get("style-src", directives.get("default-src", []))
        if "'unsafe-inline'" in style:
            problems.append("CSP style-src allows 'unsafe-inline'")
        for directive in ("object-src", "base-uri", "frame-ancestors"):
            if directives.get(directive) != ["'none'"]:
                problems.append(f"CSP {directive} is {directives.get(directive)}, not 'none'")
    if "Content-Security-Policy-Report-Only" in headers and not csp:
        problems.append("CSP only in report-only mode")
    if headers.get("X-Content-Type-Options") != "nosniff":
        problems.append(f"X-Content-Type-Options is {headers.get('X-Content-Type-Options')}")
    if headers.get("Referrer-Policy") not in ("same-origin", "no-referrer", "strict-origin"):
        problems.append(f"Referrer-Policy is {headers.get('Referrer-Policy')}")
    if headers.get("X-Frame-Options") != "DENY":
        problems.append(f"X-Frame-Options is {headers.get('X-Frame-Options')}")
    hsts = headers.get("Strict-Transport-Security", "")
    if f"max-age={ONE_YEAR}" not in hsts or "includeSubDomains" not in hsts:
        problems.append(f"Strict-Transport-Security is {hsts!r}")
    if authenticated and "no-store" not in headers.get("Cache-Control", ""):
        problems.append(f"signed in, but Cache-Control is {headers.get('Cache-Control')!r}")
    for name, morsel in response.cookies.items():
        if _is_deletion(morsel):
            continue
        if not morsel["secure"]:
            problems.append(f"cookie {name} is not Secure")
        wants_httponly = (
            settings.CSRF_COOKIE_HTTPONLY if name == settings.CSRF_COOKIE_NAME else True
        )
        if wants_httponly and not morsel["httponly"]:
            problems.append(f"cookie {name} is not HttpOnly")
        if str(morsel["samesite"]).lower() not in ("lax", "strict"):
            problems.append(f"cookie {name} has SameSite={morsel['samesite']!r}")
    if "text/html" in headers.get("Content-Type", "") and response.content:
        inline = INLINE_SCRIPT.findall(response.content.decode("utf-8", errors="replace"))
        if inline:
            problems.append(f"inline scripts the CSP would block: {inline[:3]}")
    return problems


PAGES = [pytest.param(route, role, id=f"{route.key} {role}") for route in ROUTES for role in ROLES]


@pytest.mark.parametrize(("route", "role"), PAGES)
def test_every_page_carries_the_security_headers(route, role, world, production, db):
    url = build_url(route, route_kwargs(route, world))
    response = _client(role, world).get(url, secure=True)
    assert response.status_code < 500
    problems = header_problems(response, authenticated=role != "anonymous", settings=production)
    assert not problems, f"GET {url} as {role} ({response.status_code}): {problems}"


@pytest.mark.parametrize("route", [pytest.param(route, id=route.key) for route in ROUTES])
def test_staff_with_only_a_password_get_the_headers_too(route, world, production, db):
    """The state in which the authenticator's secret is shown (two-factor set-up)."""
    client = Client()
    client.force_login(world.user("physician"))  # no second factor yet
    url = build_url(route, route_kwargs(route, world))
    response = client.get(url, secure=True)
    problems = header_problems(response, authenticated=True, settings=production)
    if response.status_code == 302 and "/account/two-factor/" in response["Location"]:
        # Reported, see the next test: the two-factor middleware answers before the CSP one.
        problems = [p for p in problems if p != "no Content-Security-Policy header"]
    assert not problems, f"GET {url} ({response.status_code}): {problems}"


def test_the_redirect_to_the_second_factor_carries_the_csp(world, production, db):
    client = Client()
    client.force_login(world.user("physician"))
    response = client.get("/staff/queue/", secure=True)
    assert response.status_code == 302
    assert response.has_header("Content-Security-Policy")


def test_the_fhir_api_read_with_a_token_carries_the_headers_and_is_never_cached(
    world, production, db
):
    """API clients have no session, so no-store must come from the API itself."""
    _, secret = issue_token(
        client_name="Header check",
        scope=ApiToken.Scope.SCREENINGS_READ,
        expires_at=timezone.now() + timedelta(days=1),
        created_by=User.objects.get(email="root.m@example.com"),
    )
    urls = [
        f"/fhir/R4/Bundle/{world.b_screening}",
        f"/fhir/R4/QuestionnaireResponse/{world.b_screening}",
        "/fhir/R4/QuestionnaireResponse",
        f"/fhir/R4/Questionnaire/{world.version}",
        f"/fhir/R4/Bundle/{uuid.uuid4()}",  # 404
    ]
    for url in urls:
        response = Client().get(url, secure=True, HTTP_AUTHORIZATION=f"Bearer {secret}")
        assert response.status_code in (200, 404), url
        problems = header_problems(response, authenticated=True, settings=production)
        assert not problems, f"GET {url} with a token: {problems}"
    refused = Client().get(urls[0], secure=True, HTTP_AUTHORIZATION="Bearer wrong")
    assert refused.status_code == 401
    assert not header_problems(refused, authenticated=True, settings=production)


def test_plain_http_is_redirected_to_https_without_hsts(production, db):
    response = Client().get("/login/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/login/"
    assert "Strict-Transport-Security" not in response.headers
    behind_proxy = Client().get("/login/", headers={"X-Forwarded-Proto": "https"})
    assert behind_proxy.status_code == 200
    assert f"max-age={ONE_YEAR}" in behind_proxy["Strict-Transport-Security"]


def test_logging_in_sets_secure_httponly_samesite_cookies(production, patient):
    client = Client()
    form = client.get("/login/", secure=True)
    csrf = form.cookies[production.CSRF_COOKIE_NAME]
    assert csrf["secure"] and str(csrf["samesite"]).lower() in ("lax", "strict")
    assert bool(csrf["httponly"]) == production.CSRF_COOKIE_HTTPONLY
    response = client.post(
        "/login/", {"username": patient.email, "password": PASSWORD}, secure=True
    )
    assert response.status_code == 302
    session = response.cookies[production.SESSION_COOKIE_NAME]
    assert session["secure"] and session["httponly"]
    assert str(session["samesite"]).lower() in ("lax", "strict")
    assert header_problems(response, authenticated=True, settings=production) == []


def test_production_mode_is_what_the_settings_file_says():
    assert PRODUCTION["DEBUG"] is False
    assert PRODUCTION["SECURE_HSTS_SECONDS"] == ONE_YEAR
    assert PRODUCTION["SESSION_COOKIE_SECURE"] and PRODUCTION["CSRF_COOKIE_SECURE"]
    assert PRODUCTION["SECURE_SSL_REDIRECT"]
