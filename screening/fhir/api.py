"""The read-only FHIR R4 API under /fhir/R4/: who may call it, and what each read returns.

Every request but ``metadata`` needs a per-client API token (``Authorization: Bearer``),
never a browser session: a missing, unknown, revoked or expired token gets 401, a token
whose scope does not cover the resource 403, too many requests 429, and every refusal is
an ``OperationOutcome``. Every read of patient data writes one audit event per screening
read, as a physician's read does; reads of question sets are audited too.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from datetime import datetime, time, timedelta
from functools import wraps
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from .. import audit
from ..models import ApiToken, AuditAction, QuestionSetVersion, Screening
from .export import (
    capability_statement,
    operation_outcome,
    questionnaire,
    questionnaire_response,
    screening_bundle,
    searchset,
)
from .records import question_set_data, responses_data, screening_data, screenings_for_export
from .tokens import Refusal, authenticate, take_request
from .vocabulary import FHIR_JSON

READ_METHODS = ("GET", "HEAD")
ANY_SCOPE = (ApiToken.Scope.SCREENINGS_READ, ApiToken.Scope.QUESTIONNAIRES_READ)
SCREENINGS = (ApiToken.Scope.SCREENINGS_READ,)
DEFAULT_PAGE = 50
MAX_PAGE = 100


def fhir_response(resource: dict, status: int = 200, **headers: str) -> HttpResponse:
    response = HttpResponse(
        json.dumps(resource, ensure_ascii=False),
        status=status,
        content_type=f"{FHIR_JSON}; charset=utf-8",
    )
    # Patient data: never in a shared or browser cache.
    response["Cache-Control"] = "no-store, private"
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def outcome(status: int, code: str, message: str, **headers: str) -> HttpResponse:
    return fhir_response(operation_outcome(code, message), status, **headers)


def base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("fhir:metadata")).rsplit("/metadata", 1)[0]


def _refused(refusal: Refusal) -> HttpResponse:
    code = "login" if refusal.status == 401 else "forbidden"
    challenge = f'Bearer realm="fhir", error="{refusal.error}"'
    return outcome(refusal.status, code, refusal.message, WWW_Authenticate=challenge)


def token_required(
    scopes: tuple[str, ...],
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A read that needs a token with one of these scopes; the view gets the token."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt  # no cookies are used: a token in a header cannot be forged cross-site
        @wraps(view)
        def wrapped(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
            found = authenticate(request.headers.get("Authorization", ""))
            if isinstance(found, Refusal):
                return _refused(found)
            if found.scope not in scopes:
                return _refused(
                    Refusal(
                        403,
                        "insufficient_scope",
                        f"This token's scope ({found.scope}) does not cover this resource.",
                    )
                )
            if request.method not in READ_METHODS:
                return outcome(
                    405, "not-supported", "This API is read-only.", Allow=", ".join(READ_METHODS)
                )
            wait = take_request(found)
            if wait:
                return outcome(
                    429,
                    "throttled",
                    f"Too many requests: at most {found.requests_per_minute} a minute.",
                    Retry_After=str(wait),
                )
            return view(request, found, *args, **kwargs)

        return wrapped

    return decorator


def _audit_read(
    request: HttpRequest, token: ApiToken, what: str, screening: Screening | None = None
) -> None:
    # The audit log's actor is a person: the one who issued the token answers for its use.
    audit.record(
        request=request,
        actor=token.created_by,
        action=AuditAction.FHIR_READ,
        screening=screening,
        obj=token,
        summary=f"FHIR API: {what} read by client '{token.client_name}'",
    )


@csrf_exempt
def metadata(request: HttpRequest) -> HttpResponse:
    """The CapabilityStatement: public, as FHIR clients expect, and free of patient data."""
    if request.method not in READ_METHODS:
        return outcome(405, "not-supported", "This API is read-only.", Allow="GET, HEAD")
    published = QuestionSetVersion.objects.published().order_by("-published_at").first()
    moment = published.published_at if published and published.published_at else timezone.now()
    return fhir_response(capability_statement(base_url(request), moment))


@csrf_exempt
def unknown(request: HttpRequest, url: str) -> HttpResponse:
    return outcome(404, "not-found", "No such resource type or operation here.")


def _not_found(kind: str) -> HttpResponse:
    return outcome(404, "not-found", f"{kind} not found.")


@token_required(ANY_SCOPE)
def questionnaire_read(
    request: HttpRequest, token: ApiToken, version_id: uuid.UUID
) -> HttpResponse:
    # Drafts are being edited and no screening pins them.
    version = (
        QuestionSetVersion.objects.select_related("question_set")
        .exclude(status=QuestionSetVersion.Status.DRAFT)
        .filter(pk=version_id)
        .first()
    )
    if version is None:
        return _not_found("Questionnaire")
    _audit_read(request, token, f"Questionnaire {version}")
    return fhir_response(questionnaire(question_set_data(version), base_url(request)))


def _screening(screening_id: uuid.UUID) -> Screening | None:
    return screenings_for_export().filter(pk=screening_id).first()


@token_required(SCREENINGS)
def response_read(request: HttpRequest, token: ApiToken, screening_id: uuid.UUID) -> HttpResponse:
    screening = _screening(screening_id)
    if screening is None:
        return _not_found("QuestionnaireResponse")
    _audit_read(request, token, "QuestionnaireResponse", screening)
    return fhir_response(questionnaire_response(screening_data(screening), base_url(request)))


@token_required(SCREENINGS)
def bundle_read(request: HttpRequest, token: ApiToken, screening_id: uuid.UUID) -> HttpResponse:
    screening = _screening(screening_id)
    if screening is None:
        return _not_found("Bundle")
    _audit_read(request, token, "Bundle", screening)
    bundle = screening_bundle(screening_data(screening), base_url(request), timezone.now())
    return fhir_response(bundle)


# --- Search ------------------------------------------------------------------------------------

SEARCH_PARAMETERS = {"patient", "subject", "authored", "_count", "_offset", "_format"}
_DATE = re.compile(
    r"^(?P<prefix>eq|ne|gt|lt|ge|le|sa|eb|ap)?"
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?P<time>T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2}))?)?)?$"
)


class BadSearch(ValueError):
    """A search parameter the API cannot honour; the message says which and why."""


def _patient_id(value: str) -> uuid.UUID:
    text = value.strip()
    for prefix in ("Patient/", "urn:uuid:"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    try:
        return uuid.UUID(text)
    except ValueError:
        raise BadSearch(f"patient must be Patient/<id> (a UUID), not {value[:80]!r}") from None


def _date_range(value: str) -> tuple[str, datetime, datetime]:
    """(prefix, start, end) of a FHIR date search value, at its own precision."""
    match = _DATE.match(value.strip())
    if not match:
        raise BadSearch(f"authored must be a FHIR date such as ge2026-01-31, not {value[:80]!r}")
    prefix = match["prefix"] or "eq"
    if prefix not in ("eq", "gt", "lt", "ge", "le"):
        raise BadSearch(f"authored supports the prefixes eq, gt, lt, ge and le, not {prefix}")
    try:
        if match["time"]:
            start = datetime.fromisoformat(
                value.strip()[len(match["prefix"] or "") :].replace("Z", "+00:00")
            )
            # At the precision of seconds, as the value is written.
            return prefix, start, start + timedelta(seconds=1)
        year, month, day = int(match["year"]), int(match["month"] or 1), int(match["day"] or 1)
        start = datetime(year, month, day)
    except ValueError:
        raise BadSearch(f"authored is not a real date: {value[:80]!r}") from None
    if match["day"]:
        end = start + timedelta(days=1)
    elif match["month"]:
        end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
    else:
        end = start.replace(year=year + 1)
    zone = timezone.get_current_timezone()
    return (
        prefix,
        timezone.make_aware(datetime.combine(start.date(), time()), zone),
        timezone.make_aware(datetime.combine(end.date(), time()), zone),
    )


def _authored(prefix: str, start: datetime, end: datetime) -> Q:
    """Submitted within, after or before the range [start, end) the value stands for."""
    return {
        "eq": Q(submitted_at__gte=start, submitted_at__lt=end),
        "gt": Q(submitted_at__gte=end),
        "ge": Q(submitted_at__gte=start),
        "lt": Q(submitted_at__lt=start),
        "le": Q(submitted_at__lt=end),
    }[prefix]


def _filter(request: HttpRequest, screenings: QuerySet[Screening]) -> HttpResponse:
    unknown = sorted(set(request.GET) - SEARCH_PARAMETERS)
    if unknown:
        # Ignoring a filter the client believes it applied would hand it everyone's data.
        raise BadSearch(f"Unsupported search parameter(s): {', '.join(unknown)}")
    for name in ("patient", "subject"):
        for value in request.GET.getlist(name):
            screenings = screenings.filter(patient_id=_patient_id(value))
    for value in request.GET.getlist("authored"):
        screenings = screenings.filter(_authored(*_date_range(value)))
    return screenings


def _whole_number(request: HttpRequest, name: str, default: int, low: int, high: int) -> int:
    raw = request.GET.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise BadSearch(f"{name} must be a whole number from {low} to {high}")
    return int(raw)


@token_required(SCREENINGS)
def response_search(request: HttpRequest, token: ApiToken) -> HttpResponse:
    """QuestionnaireResponses by patient and by date authored (submitted), newest first."""
    try:
        screenings = _filter(request, screenings_for_export())
        count = _whole_number(request, "_count", DEFAULT_PAGE, 1, MAX_PAGE)
        offset = _whole_number(request, "_offset", 0, 0, 10**9)
    except BadSearch as error:
        return outcome(400, "invalid", str(error))
    screenings = screenings.order_by("-submitted_at", "id")
    total = screenings.count()
    page = list(screenings[offset : offset + count])
    base = base_url(request)
    resources = []
    for screening, data in zip(page, responses_data(page), strict=True):
        _audit_read(request, token, "QuestionnaireResponse (search)", screening)
        resources.append(questionnaire_response(data, base))
    query = [(k, v) for k, v in request.GET.lists() for v in v if k not in ("_offset",)]
    here = f"{base}/QuestionnaireResponse"
    links = {"self": f"{here}?{urlencode([*query, ('_offset', offset)])}"}
    if offset + count < total:
        links["next"] = f"{here}?{urlencode([*query, ('_offset', offset + count)])}"
    return fhir_response(searchset(base, resources, total, links))
