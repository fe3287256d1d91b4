"""The admin's lists filter only by the filters their admins declare (the retest after issue 10, finding A).

Django accepts any URL lookup up to one relation deep, reverse relations included, so a
clinic admin could list the questions patients had answered (?answers__isnull=False), map
answer ids to questions (?answers=<n>) and walk them (?answers__gt=N). Every registered
ModelAdmin, Django's, django-axes', django-otp's and ours, is checked here: every field and
relation of its model that is not a declared filter, in the three shapes of the attack, is
refused with a 400 for a superuser and for a clinic admin (403 for a list they cannot open),
and every declared filter still works.
"""

from __future__ import annotations

import re
from html import unescape

import pytest
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.admin import site
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from screening import audit
from screening.admin_site import DeclaredFiltersOnly
from screening.models import QuestionSetVersion, UndeliveredEmail, User
from tests.factories import make_submitted_screening
from tests.logins import log_in_staff

pytestmark = pytest.mark.django_db

REGISTERED = sorted(site._registry.items(), key=lambda item: item[0]._meta.label)
HOSTILE_SHAPES = ["{}__isnull=False", "{}=1", "{}__gt=0"]


def changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def declared_fields(model_admin) -> set[str]:
    """The fields the admin's own filters are about (the first step of each filter's path)."""
    names = set()
    for item in model_admin.list_filter:
        if isinstance(item, list | tuple):
            item = item[0]
        if isinstance(item, str):
            names.add(item.split("__")[0])
    if model_admin.date_hierarchy:
        names.add(model_admin.date_hierarchy.split("__")[0])
    return names


def hostile_names(model, model_admin) -> list[str]:
    """Every field and relation of the model, forward and reverse, and pk, less the filters."""
    names = {field.name for field in model._meta.get_fields()} | {"pk"}
    return sorted(names - declared_fields(model_admin))


# Deeper lookups the attack tried, through relations and on secrets.
ATTACKED_PATHS = [
    "/admin/screening/question/?answers__isnull=False",
    "/admin/screening/question/?answers__value__icontains=yes",
    "/admin/screening/question/?version__screenings__answers__value__contains=x",
    "/admin/screening/questionsetversion/?screenings__patient__email=a@example.com",
    "/admin/screening/questionsetversion/?screenings__isnull=False",
    "/admin/screening/invitation/?patient__screenings__flags__code=suicide_risk_high",
    "/admin/screening/invitation/?patient__email=a@example.com",
    "/admin/screening/invitation/?created_by__password__startswith=a",
    "/admin/screening/auditevent/?screening__level=urgent",
    "/admin/screening/auditevent/?screening__patient__email=a@example.com",
    "/admin/screening/auditevent/?actor__password__startswith=argon",
    "/admin/screening/auditevent/?ip_address=zz",
    "/admin/screening/auditevent/?summary__regex=(a%2B)%2B%24",
    "/admin/screening/undeliveredemail/?object_id=%00",
    "/admin/screening/panelcase/?version__screenings__answers__value__contains=x",
    "/admin/screening/rule/?version__screenings__isnull=False",
    "/admin/screening/drug/?name__regex=[",
    "/admin/otp_totp/totpdevice/?key__startswith=a",
    "/admin/otp_totp/totpdevice/?user__password__startswith=a",
    "/admin/axes/accessattempt/?get_data__contains=token",
]


@pytest.fixture
def superuser(db):
    return User.objects.create_superuser(
        email="root@example.com", password="correct horse battery staple", full_name="Root"
    )


@pytest.fixture
def every_list_has_rows(default_version, clinic_admin, physician, superuser):
    """Something in each list, so each declared filter offers choices to follow."""
    # A second (empty) version, so the version filters have a choice to offer.
    QuestionSetVersion.objects.create(
        question_set=default_version.question_set, number=default_version.number + 1
    )
    screening = make_submitted_screening(level="urgent")
    audit.record(actor=physician, action="screening.viewed", screening=screening, obj=screening)
    UndeliveredEmail.objects.create(
        kind=UndeliveredEmail.Kind.URGENT_ALERT,
        object_type="screening.screening",
        object_id=str(screening.pk),
        attempts=4,
        error="SMTPException",
    )
    now = timezone.now()
    common = {
        "user_agent": "test",
        "ip_address": "127.0.0.1",
        "username": "someone@example.com",
        "http_accept": "text/html",
        "path_info": "/login/",
    }
    AccessAttempt.objects.create(**common, get_data="", post_data="", failures_since_start=1)
    AccessLog.objects.create(**common, logout_time=now)
    AccessFailureLog.objects.create(**common, locked_out=False)


def client_as(user) -> Client:
    return log_in_staff(Client(), user)


@pytest.mark.parametrize("role", ["superuser", "clinic_admin"])
@pytest.mark.parametrize(
    ("model", "model_admin"), REGISTERED, ids=[m._meta.label for m, _ in REGISTERED]
)
def test_every_undeclared_lookup_is_refused(request, role, model, model_admin):
    client = client_as(request.getfixturevalue(role))
    url = changelist(model)
    opens = client.get(url).status_code
    assert opens in (200, 403), f"{url} answered {opens}"
    expected = 400 if opens == 200 else 403
    answered = {}
    for name in hostile_names(model, model_admin):
        for shape in HOSTILE_SHAPES:
            query = shape.format(name)
            answered[query] = client.get(f"{url}?{query}").status_code
    wrong = {query: status for query, status in answered.items() if status != expected}
    assert wrong == {}, f"{url}: expected {expected} for every undeclared lookup"


@pytest.mark.parametrize("path", ATTACKED_PATHS)
def test_the_attacks_lookups_are_refused(superuser, path):
    assert client_as(superuser).get(path).status_code == 400


def test_every_registered_admin_allows_only_declared_filters():
    """Django's own admins and other apps' are registered on the same site, mixin and all."""
    assert all(isinstance(model_admin, DeclaredFiltersOnly) for _, model_admin in REGISTERED)
    assert {m._meta.label for m, _ in REGISTERED} >= {
        "auth.Group",
        "axes.AccessAttempt",
        "axes.AccessLog",
        "axes.AccessFailureLog",
        "otp_totp.TOTPDevice",
        "screening.ApiToken",
        "screening.AuditEvent",
        "screening.UndeliveredEmail",
        "screening.Question",
    }


def filter_links(html: str) -> list[str]:
    """The query strings of the links Django's filter sidebar and date hierarchy offer."""
    parts = re.findall(r'<nav id="changelist-filter".*?</nav>', html, re.S)
    parts += re.findall(r'<nav class="toplinks".*?</nav>', html, re.S)
    return sorted(
        {unescape(link) for part in parts for link in re.findall(r'href="(\?[^"]*)"', part)}
    )


FILTERED = [(m, a) for m, a in REGISTERED if a.list_filter or a.date_hierarchy]


@pytest.mark.parametrize("role", ["superuser", "clinic_admin"])
@pytest.mark.parametrize(
    ("model", "model_admin"), FILTERED, ids=[m._meta.label for m, _ in FILTERED]
)
def test_the_declared_filters_still_work(request, every_list_has_rows, role, model, model_admin):
    client = client_as(request.getfixturevalue(role))
    url = changelist(model)
    page = client.get(url)
    if page.status_code == 403:
        assert role == "clinic_admin"
        return
    links = filter_links(page.content.decode())
    assert links, f"{url} offers no filter"
    for link in links:
        assert client.get(url + link).status_code == 200, link
    # Each parameter a declared filter reads is accepted, whatever its value (an unreadable
    # one sends Django's "?e=1" back, never a 400 or a 500).
    parameters = model_admin.declared_filter_parameters(page.wsgi_request)
    assert parameters
    for parameter in parameters:
        for value in ("1", "True", "zz"):
            response = client.get(f"{url}?{parameter}={value}")
            assert response.status_code in (200, 302), (parameter, value)


BAD_VALUES_IN_DECLARED_FILTERS = [
    # NUL: PostgreSQL cannot compare text with it (each was a 500 there).
    "/admin/screening/auditevent/?action=%00",
    "/admin/screening/auditevent/?action=deleted%00",
    "/admin/screening/auditevent/?action__isnull=%00",
    "/admin/screening/undeliveredemail/?kind=%00",
    "/admin/screening/undeliveredemail/?kind__exact=%00",
    "/admin/screening/question/?kind__exact=%00",
    "/admin/screening/drug/?grade=%00",
    "/admin/axes/accessattempt/?path_info=%00",
    "/admin/screening/rule/?version__id__exact=%00",
]


@pytest.mark.parametrize("path", BAD_VALUES_IN_DECLARED_FILTERS)
def test_a_nul_in_a_declared_filter_is_a_400(superuser, path):
    client = client_as(superuser)
    client.raise_request_exception = False
    assert client.get(path).status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/admin/screening/rule/?version__id__exact=zz",
        "/admin/otp_totp/totpdevice/?confirmed__exact=maybe",
        "/admin/axes/accessattempt/?attempt_time__gte=9999999999-01-01",
        "/admin/axes/accessattempt/?attempt_time__year=99999",
        "/admin/screening/user/?groups__id__exact=99999999999999999999999",
    ],
)
def test_an_unreadable_value_in_a_declared_filter_is_never_a_500(superuser, path):
    client = client_as(superuser)
    client.raise_request_exception = False
    assert client.get(path).status_code in (200, 302, 400)
