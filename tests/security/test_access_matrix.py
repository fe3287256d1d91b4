"""Who may reach what: every URL the app serves, for every kind of visitor, GET and POST.

The URLs are discovered from the URL configuration (the admin's included), not listed by
hand, so a new page cannot escape the matrix: `test_every_url_pattern_has_a_row_in_the_matrix`
fails naming any pattern without a row. Each route is built with real identifiers of
patient B's objects (B's screening, one of B's flags, B's invitation...) and requested as
an anonymous visitor, another patient (A), B, a physician and a clinic admin.

Patient B's data carries recognisable markers (name, free-text answers, typed medication
names) and so do a physician's acknowledgement note and decision; every refused response
must be free of them, and people not entitled to them never see them.

The other modules of this package (headers, output safety) reuse the discovery and the
world built here.
"""

from __future__ import annotations

import re
import secrets
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from axes.models import AccessFailureLog
from django.contrib import admin
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.urls.resolvers import RegexPattern
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from screening import audit
from screening.engine.questionnaire import QuestionDef
from screening.fhir.tokens import issue_token
from screening.models import (
    CLINIC_ADMIN_GROUP,
    NURSE_GROUP,
    PHYSICIAN_GROUP,
    Answer,
    ApiToken,
    AuditEvent,
    BloodPressureReview,
    CompletedSection,
    Decision,
    DischargeRecord,
    DoseRecord,
    Drug,
    DrugClass,
    Flag,
    FlagAcknowledgement,
    Invitation,
    PageDraft,
    QuestionSetVersion,
    RecognisedMedication,
    Screening,
    TreatmentCourse,
    TreatmentSession,
    User,
    VitalReading,
)
from screening.review.forms import QueueFilterForm
from screening.selectors import visibility_for
from screening.services.content import make_draft
from screening.services.intake import start_screening
from screening.services.invitations import create_invitation
from screening.services.review import acknowledge_flag, record_decision
from screening.services.roles import ensure_roles
from screening.snapshots import questionnaire_for
from tests.check_in_helpers import later_today
from tests.factories import make_patient, make_submitted_screening
from tests.intake_helpers import fill_intake, page_post_data, plausible_post_value
from tests.logins import authenticator_for, log_in_staff

PASSWORD = "correct horse battery staple"

# Markers planted in patient B's data and in the staff's notes about B. Each kind has its
# own suffix so a failure says what leaked.
MARKER = "ZZ-MARKER-B-7f3a"
NAME_MARKER = f"{MARKER}-NAME"  # B's full name
ANSWER_MARKER = f"{MARKER}-ANSWER"  # B's free-text answers and typed medication names
STAFF_MARKER = f"{MARKER}-STAFF"  # a physician's acknowledgement note and decision texts

ROLES = ("anonymous", "patient_a", "patient_b", "physician", "clinic_admin", "nurse")
METHODS = ("GET", "POST")

# Which markers each role may ever read in a 2xx response. A refusal shows none of them
# (only B's own name, in the page header of B's own 403 page).
# Clinic admins see who was invited (staff invitation list, Invitation admin), never
# answers or clinical notes; a patient never sees what staff wrote about them.
MAY_READ = {
    "anonymous": set(),
    "patient_a": set(),
    "patient_b": {NAME_MARKER, ANSWER_MARKER},
    "physician": {NAME_MARKER, ANSWER_MARKER, STAFF_MARKER},
    "clinic_admin": {NAME_MARKER},
    # A nurse reads the session pages: the patient's name, the clearance's conditions and the
    # physicians' notes on the check-in's flags; never the answers (docs/sessions.md).
    "nurse": {NAME_MARKER, STAFF_MARKER},
}


# Discovery ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One URL pattern as served, with everything needed to build a real URL for it."""

    key: str  # the URL name ("staff:decide"); the route text for unnamed patterns
    route: str  # the full route, as Django's ResolverMatch.route spells it
    pieces: tuple  # the pattern objects from the root down
    converters: dict = field(default_factory=dict, compare=False, hash=False)
    model: str | None = None  # "screening.question" for a ModelAdmin's URLs
    action: str | None = None  # changelist, add, change, history, delete, object, ...

    def __str__(self) -> str:
        return self.key


def _join(route: str, piece) -> str:
    text = str(piece)
    if route and text.startswith("^"):
        text = text[1:]
    return route + text


def discover() -> list[Route]:
    """Every URL pattern of the project, depth first, the admin's per-model URLs tagged."""
    model_prefixes = {
        f"{model._meta.app_label}/{model._meta.model_name}/": model._meta.label_lower
        for model in admin.site._registry
    }
    routes: list[Route] = []

    def walk(patterns, pieces, route, namespace, converters, model):
        for pattern in patterns:
            text = _join(route, pattern.pattern)
            merged = {
                **converters,
                **{k: type(v).__name__ for k, v in pattern.pattern.converters.items()},
            }
            if isinstance(pattern.pattern, RegexPattern):
                merged.update({name: "regex" for name in pattern.pattern.regex.groupindex})
            if isinstance(pattern, URLResolver):
                inner_ns = namespace
                if pattern.namespace:
                    inner_ns = (
                        f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
                    )
                inner_model = model
                if inner_ns == "admin" and str(pattern.pattern) in model_prefixes:
                    inner_model = model_prefixes[str(pattern.pattern)]
                walk(
                    pattern.url_patterns,
                    (*pieces, pattern.pattern),
                    text,
                    inner_ns,
                    merged,
                    inner_model,
                )
            elif isinstance(pattern, URLPattern):
                name = f"{namespace}:{pattern.name}" if namespace and pattern.name else pattern.name
                action = None
                if model:
                    app_label, model_name = model.split(".")
                    prefix = f"{app_label}_{model_name}_"
                    if pattern.name is None:
                        action = "object"  # <object_id>/ redirects to the change page
                    elif pattern.name.startswith(prefix):
                        action = pattern.name[len(prefix) :]
                    else:
                        action = pattern.name
                routes.append(
                    Route(
                        key=name or text,
                        route=text,
                        pieces=(*pieces, pattern.pattern),
                        converters=merged,
                        model=model,
                        action=action,
                    )
                )

    walk(get_resolver().url_patterns, (), "", None, {}, None)
    return routes


ROUTES = discover()


def build_url(route: Route, kwargs: dict) -> str:
    """The concrete path for a route, every converter filled in from `kwargs`."""
    parts = []
    for piece in route.pieces:
        if isinstance(piece, RegexPattern):
            text = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(kwargs[m[1]]), piece.regex.pattern)
            parts.append(text.lstrip("^").rstrip("$"))
        else:
            text = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(kwargs[m[1]]), str(piece))
            parts.append(text)
    url = "/" + "".join(parts)
    match = resolve(url)
    assert match.route == route.route, f"{url} resolves to {match.route}, not {route.route}"
    return url


# The world: patients A and B, a physician, a clinic admin, and B's data -----------------


@dataclass
class World:
    users: dict  # role -> user id
    b_screening: uuid.UUID  # submitted, flagged, acknowledged and decided
    b_open: uuid.UUID  # B's screening in progress (one page answered)
    b_flag: uuid.UUID  # one of B's flags, not yet acknowledged
    b_invitation: uuid.UUID
    invitation_token: str  # a usable invitation (for someone new)
    b_uidb64: str
    admin_objects: dict  # model label -> pk of a real object of that model
    draft_version: uuid.UUID  # a clinic admin's draft of the question set
    version: uuid.UUID  # the published question-set version B answered
    b_course: uuid.UUID  # B's treatment course
    b_session: uuid.UUID  # a session of it, with a sent check-in
    b_upcoming_session: uuid.UUID  # B's session tomorrow, whose check-in B may open
    b_check_in_flag: uuid.UUID  # the check-in's flag, not yet acknowledged

    @property
    def b_reset_token(self) -> str:
        """Made when asked: a reset token dies when B logs in (it hashes B's last login)."""
        return default_token_generator.make_token(self.user("patient_b"))

    @property
    def b_patient(self) -> uuid.UUID:
        return self.users["patient_b"]

    def user(self, role) -> User | None:
        return User.objects.get(pk=self.users[role]) if role in self.users else None


def _make_user(email, name, group=None, **extra):
    user = User.objects.create_user(email=email, password=PASSWORD, full_name=name, **extra)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def build_world() -> World:
    ensure_roles()
    a = _make_user("alice.a@example.com", "Alice Patient")
    b = _make_user("bob.b@example.com", f"Bob {NAME_MARKER}")
    physician = _make_user("doctor.m@example.com", "Dr Dana Physician", PHYSICIAN_GROUP)
    clinic_admin = _make_user(
        "admin.m@example.com", "Ada Clinicadmin", CLINIC_ADMIN_GROUP, is_staff=True
    )
    nurse = _make_user("nurse.m@example.com", "Nell Nurse", NURSE_GROUP)

    b_invitation, _ = create_invitation(full_name=b.full_name, email=b.email, created_by=physician)
    Invitation.objects.filter(pk=b_invitation.pk).update(accepted_at=timezone.now(), patient=b)
    _, token = create_invitation(
        full_name="Carol Newpatient", email="carol.n@example.com", created_by=physician
    )

    # B answers every page through the real forms, with markers in every free-text field.
    b_client = Client()
    b_client.force_login(b)
    screening = start_screening(patient=b)
    fill_intake(
        b_client,
        screening,
        {
            "psych_history": ["other"],
            "psych_history_other": f"{ANSWER_MARKER}-other",
            "drug_allergies": "yes",
            "drug_allergy_list": f"{ANSWER_MARKER}-allergy",
            "questions_for_clinic": f"{ANSWER_MARKER}-question",
            "medications-none": "",
            "medications-rows": "1",
            "medications-0-name": f"{ANSWER_MARKER}-med",
            "medications-0-dose": "10 mg",
            "recreational_substances-none": "",
            "recreational_substances-rows": "1",
            "recreational_substances-0-name": f"{ANSWER_MARKER}-street",
            "bp_systolic": "150",
            "bp_diastolic": "85",
        },
    )
    submitted = b_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    assert submitted.status_code == 302, submitted.content.decode()[:2000]
    screening.refresh_from_db()
    assert screening.status == Screening.Status.SUBMITTED
    flags = list(screening.flags.order_by("position"))
    assert len(flags) >= 2, [f.code for f in flags]
    assert screening.medications.filter(typed__contains=ANSWER_MARKER).exists()

    # A physician reads it, acknowledges one flag with a note and signs a decision.
    audit.record(actor=physician, action="screening.viewed", screening=screening, obj=screening)
    acknowledge_flag(
        flag=flags[0],
        physician=physician,
        note=f"{STAFF_MARKER}-note",
        seen_version=screening.lock_version,
    )
    screening.refresh_from_db()
    record_decision(
        screening=screening,
        physician=physician,
        outcome=Decision.Outcome.NOT_A_CANDIDATE,
        seen_version=screening.lock_version,
        reason=f"{STAFF_MARKER}-reason",
        conditions=f"{STAFF_MARKER}-conditions",
    )
    viewed = AuditEvent.objects.filter(screening=screening, action="screening.viewed").first()

    # A treatment session of B's tomorrow, whose check-in B may open (issue 14). The course
    # names B's decision: scheduling checks that it cleared B, the ORM does not.
    b_course = TreatmentCourse.objects.create(
        patient=b,
        product=TreatmentCourse.Product.IV_KETAMINE,
        clearance=screening.decisions.get(),
        created_by=physician,
    )
    b_session = TreatmentSession.objects.create(
        course=b_course, scheduled_for=timezone.now() + timedelta(hours=20), created_by=physician
    )

    # B has started again and answered the medicines page.
    b_open = start_screening(patient=b)
    page = f"/screenings/{b_open.pk}/page/medicines/"
    html = b_client.get(page).content.decode()
    saved = b_client.post(
        page,
        page_post_data(
            html,
            b_open,
            {
                "medications-none": "",
                "medications-rows": "1",
                "medications-0-name": f"{ANSWER_MARKER}-open-med",
            },
        ),
    )
    assert saved.status_code == 302, saved.content.decode()[:2000]

    # B's login history (django-axes): a good password, then a wrong one (a success would
    # clear the failure).
    Client().post("/login/", {"username": b.email, "password": PASSWORD})
    Client().post("/login/", {"username": b.email, "password": "not the password"})
    AccessFailureLog.objects.create(  # kept only when AXES_ENABLE_ACCESS_FAILURE_LOG is on
        username=b.email, ip_address="127.0.0.1", user_agent="", http_accept="", path_info="/login/"
    )

    b.refresh_from_db()  # the login above changed last_login, which reset tokens depend on
    version = screening.version
    draft = make_draft(source=version, actor=clinic_admin, ip_address=None)
    # A FHIR API token (issued by a superuser: it reads screenings), for its admin pages.
    issuer = User.objects.create_superuser(
        email="root.m@example.com", password=None, full_name="Sue Superuser"
    )
    issue_token(
        client_name="EHR interface",
        scope=ApiToken.Scope.SCREENINGS_READ,
        expires_at=timezone.now() + timedelta(days=30),
        created_by=issuer,
    )
    # B's course (started under B's decision, for the pages' sake) and a session whose
    # check-in B has sent, with a flag a physician has not acknowledged yet.
    course = TreatmentCourse.objects.create(
        patient=b,
        product=TreatmentCourse.Product.IV_KETAMINE,
        clearance=screening.decisions.get(),
        created_by=nurse,
    )
    check_in = Screening.objects.create(
        patient=b,
        version=version,
        purpose=Screening.Purpose.CHECK_IN,
        # Sent and closed: whether a sent check-in also waits in the review queue is the
        # check-in branch's to decide, and the queue tests below count the queue exactly.
        status=Screening.Status.DECIDED,
        submitted_at=timezone.now(),
        level="caution",
        level_rank=2,
        flag_count=1,
    )
    check_in_flag = Flag.objects.create(
        screening=check_in,
        code="new_medicine",
        severity="caution",
        title="A medicine started since the last session",
        message="Check the new medicine before dosing.",
    )
    session = TreatmentSession.objects.create(
        course=course,
        # Later today, whatever the hour: vitals are recorded only on the session's own day.
        scheduled_for=timezone.now() + timedelta(hours=later_today()),
        check_in=check_in,
        created_by=nurse,
    )
    components = {name for drug in Drug.objects.all() for name in (drug.components or [])}
    classes_in_use = {name for drug in Drug.objects.all() for name in (drug.classes or [])}
    admin_objects = {
        "screening.user": b.pk,
        "screening.invitation": b_invitation.pk,
        "screening.auditevent": viewed.pk,
        "screening.question": version.questions.get(code="medications").pk,
        "screening.section": version.sections.get(code="medicines").pk,
        "screening.questionsetversion": version.pk,
        "screening.questionset": version.question_set_id,
        "screening.rule": version.rules.order_by("position").first().pk,
        "screening.scoredefinition": version.score_definitions.order_by("position").first().pk,
        "screening.panelcase": version.panel_cases.order_by("position").first().pk,
        "screening.drug": Drug.objects.exclude(name__in=components).order_by("name").first().pk,
        "screening.drugclass": DrugClass.objects.filter(name__in=classes_in_use)
        .order_by("name")
        .first()
        .pk,
        "auth.group": Group.objects.get(name=PHYSICIAN_GROUP).pk,
        "screening.apitoken": ApiToken.objects.get().pk,
        # The physician's authenticator (a real row: ids differ between databases).
        "otp_totp.totpdevice": authenticator_for(physician).pk,
    }
    for model in admin.site._registry:
        label = model._meta.label_lower
        if label not in admin_objects:
            first = model._default_manager.order_by("pk").first()
            admin_objects[label] = first.pk if first else 1

    return World(
        users={
            "patient_a": a.pk,
            "patient_b": b.pk,
            "physician": physician.pk,
            "clinic_admin": clinic_admin.pk,
            "nurse": nurse.pk,
        },
        b_screening=screening.pk,
        b_open=b_open.pk,
        b_flag=flags[-1].pk,
        b_invitation=b_invitation.pk,
        invitation_token=token,
        b_uidb64=urlsafe_base64_encode(force_bytes(b.pk)),
        admin_objects=admin_objects,
        draft_version=draft.pk,
        version=version.pk,
        b_course=course.pk,
        b_session=session.pk,
        b_upcoming_session=b_session.pk,
        b_check_in_flag=check_in_flag.pk,
    )


FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@contextmanager
def built_world(django_db_blocker, build=build_world):
    """Build test data once for a module, inside a transaction rolled back at the end.

    Each test still runs in its own savepoint (pytest-django's `db`), so what one cell
    changes (a POST that acknowledges a flag, a logout) never reaches the next."""
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            # A fast hasher while building: Argon2 costs most of a second per password here.
            with override_settings(PASSWORD_HASHERS=FAST_HASHERS):
                built = build()
            yield built
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with built_world(django_db_blocker) as built:
        yield built


def client_for(role: str, world: World) -> Client:
    client = Client()
    user = world.user(role)
    if role in ("physician", "clinic_admin", "nurse"):
        log_in_staff(client, user)
    elif user is not None:
        client.force_login(user)
    return client


# Filling a route's converters with B's objects ------------------------------------------

# Per route, which of B's objects fills which converter (world attribute or literal).
KWARGS_BY_ROUTE = {
    "patient:resume": {"screening_id": "b_open"},
    "patient:section": {"screening_id": "b_open", "section_code": "=medicines"},
    "patient:section_shown": {"screening_id": "b_open", "section_code": "=medicines"},
    "patient:review": {"screening_id": "b_open"},
    "patient:done": {"screening_id": "b_screening"},
    "patient:check_in": {"session_id": "b_upcoming_session"},
    "old_invitation_link": {"token": "invitation_token"},
    "old_password_reset_link": {"uidb64": "b_uidb64", "token": "b_reset_token"},
    "staff:draft_impact": {"version_id": "draft_version"},
    "staff:session_acknowledge": {"session_id": "b_session", "flag_id": "b_check_in_flag"},
}
# Otherwise, by converter name.
KWARGS_BY_NAME = {
    "screening_id": "b_screening",
    "patient_id": "b_patient",
    "flag_id": "b_flag",
    "version_id": "version",
    "token": "invitation_token",
    "uidb64": "b_uidb64",
    "section_code": "=medicines",
    "app_label": "=screening",
    "url": "=no-such-page/",
    "course_id": "b_course",
    "session_id": "b_session",
    "language": "=es",
    "file_format": "=po",
}
# Converters that name an object: swapped for made-up values to check for existence oracles.
IDENTIFIER_KWARGS = {
    "screening_id",
    "patient_id",
    "course_id",
    "session_id",
    "flag_id",
    "version_id",
    "token",
    "object_id",
    "id",
    "pk",
    "uidb64",
}


def route_kwargs(route: Route, world: World, made_up: bool = False) -> dict:
    values = {}
    for name, converter in route.converters.items():
        source = KWARGS_BY_ROUTE.get(route.key, {}).get(name) or KWARGS_BY_NAME.get(name)
        if route.model and name in ("object_id", "id", "pk"):
            value = world.admin_objects[route.model]
        elif name == "content_type_id":
            value = ContentType.objects.get_for_model(Screening).pk
        elif name == "object_id":  # admin:view_on_site
            value = world.b_screening
        elif source and source.startswith("="):
            value = source[1:]
        elif source:
            value = getattr(world, source)
        elif converter == "UUIDConverter":
            value = uuid.uuid4()
        elif converter == "IntConverter":
            value = 1
        else:
            value = "x"
        if made_up and name in IDENTIFIER_KWARGS:
            if isinstance(value, uuid.UUID) or converter == "UUIDConverter":
                value = uuid.uuid4()
            elif isinstance(value, int):
                value = 987654321
            elif route.model and _pk_is_uuid(route.model):
                value = uuid.uuid4()
            else:
                value = secrets.token_urlsafe(32)
        values[name] = value
    return values


def _pk_is_uuid(label: str) -> bool:
    app_label, model_name = label.split(".")
    for model in admin.site._registry:
        if model._meta.app_label == app_label and model._meta.model_name == model_name:
            return isinstance(model._meta.pk, models.UUIDField)
    return False


# POST bodies: minimal valid ones where a POST is an action; otherwise empty.
def _section_body(world: World) -> dict:
    screening = Screening.objects.get(pk=world.b_open)
    questionnaire = questionnaire_for(screening.version)
    section = questionnaire.section("medicines")
    shown: list[QuestionDef] = visibility_for(screening).visible_in(section)
    data: dict = {"presented": [q.code for q in shown]}
    for question in shown:
        data.update(plausible_post_value(question))
    return data


def _check_in_version(world: World) -> int:
    return TreatmentSession.objects.get(pk=world.b_session).check_in.lock_version


def _tomorrow() -> str:
    return (timezone.localdate() + timedelta(days=1)).isoformat()


def _free_day() -> str:
    """A day with no session of B's course (one per course a day; B's is tomorrow)."""
    return (timezone.localdate() + timedelta(days=5)).isoformat()


def _lock_version(world: World) -> int:
    return Screening.objects.get(pk=world.b_screening).lock_version


POST_BODIES = {
    "patient:section": _section_body,
    "patient:page_draft": _section_body,
    "patient:section_shown": _section_body,
    "patient:review": lambda world: {"consent": "on"},
    "set_language": lambda world: {"language": "es"},
    "staff:invitations": lambda world: {"full_name": "Dan Newpatient", "email": "dan@example.com"},
    "staff:acknowledge": lambda world: {"lock_version": _lock_version(world), "note": ""},
    "staff:schedule": lambda world: {"date": _free_day(), "time": "10:00"},
    "staff:record_pre_dose": lambda world: {
        "pre_dose-blood_pressure_systolic": "120",
        "pre_dose-blood_pressure_diastolic": "80",
        "pre_dose-heart_rate": "70",
    },
    "staff:record_dose": lambda world: {"dose-given_at": "00:00"},
    "staff:cancel_session": lambda world: {"cancel-reason": "The patient called to cancel."},
    "staff:reschedule_session": lambda world: {"move-date": _free_day(), "move-time": "11:00"},
    "staff:end_course": lambda world: {"end-reason": "Course completed."},
    "staff:session_acknowledge": lambda world: {
        "lock_version": _check_in_version(world),
        "note": "",
    },
    "staff:rescreen": lambda world: {"rescreen-reason": "Asked for again after a phone call."},
    "staff:decide": lambda world: {
        "outcome": "not_a_candidate",
        "reason": "Amended after a phone call.",
        "lock_version": _lock_version(world),
    },
}


# The policy -----------------------------------------------------------------------------

OK = "200"
UNAUTHORIZED = "401"  # the FHIR API: no token (a browser session is not one)
DENIED = "403"
MISSING = "404"
NOT_ALLOWED = "405"
LOGIN = "302 → /login/?next=<this page>"
ADMIN_LOGIN = "302 → /admin/login/?next=<this page>"
SAME = "302 → this page again"
CHANGE_PAGE = "302 → this object's admin change page"


def to(url_name: str) -> str:
    """A redirect to the named page."""
    return f"302 → {url_name}"


HOME, PATIENT_HOME, STAFF_HOME = to("home"), to("patient:home"), to("staff:home")

# The app's pages. Each row: GET and POST, for
#   (anonymous, patient A, patient B who owns the objects in the URL, physician, clinic admin).
# POST bodies are empty except where POST_BODIES gives a minimal valid one.
# fmt: off
APP_MATRIX = {
    #                        anonymous    patient A       patient B (owner)       physician                clinic admin              nurse
    "login": {
        "GET":              (OK,          HOME,           HOME,                   HOME,                    HOME,                     HOME),
        "POST":             (OK,          HOME,           HOME,                   HOME,                    HOME,                     HOME),
    },
    "logout": {  # only a POST logs out
        "GET":              (NOT_ALLOWED, NOT_ALLOWED,    NOT_ALLOWED,            NOT_ALLOWED,             NOT_ALLOWED,              NOT_ALLOWED),
        "POST":             (to("login"), to("login"),    to("login"),            to("login"),             to("login"),              to("login")),
    },
    "session_status": {  # the idle warning's script asks how long is left (never activity)
        "GET":              (UNAUTHORIZED, OK,            OK,                     OK,                      OK,                       OK),
        "POST":             (NOT_ALLOWED,) * 6,
    },
    "stay_signed_in": {  # the warning's button: starts the idle clock again
        "GET":              (NOT_ALLOWED,) * 6,
        "POST":             (UNAUTHORIZED, OK,            OK,                     OK,                      OK,                       OK),
    },
    "set_language": {  # the switcher on patient pages: visitors and patients; staff read in the clinic's
        "GET":              (NOT_ALLOWED,) * 6,
        "POST":             (HOME,        HOME,           HOME,                   DENIED,                  DENIED,                   DENIED),
    },
    "two_factor_verify": {  # everyone here has passed it already (or never needs it)
        "GET":              (LOGIN,       HOME,           HOME,                   HOME,                    HOME,                     HOME),
        "POST":             (LOGIN,       HOME,           HOME,                   HOME,                    HOME,                     HOME),
    },
    "two_factor_setup": {
        "GET":              (LOGIN,       HOME,           HOME,                   HOME,                    HOME,                     HOME),
        "POST":             (LOGIN,       HOME,           HOME,                   HOME,                    HOME,                     HOME),
    },
    "two_factor_open_link": {  # no token here: the "link can't be used" page, for everyone
        "GET":              (MISSING,     MISSING,        MISSING,                MISSING,                 MISSING,                  MISSING),
        "POST":             (NOT_ALLOWED, NOT_ALLOWED,    NOT_ALLOWED,            NOT_ALLOWED,             NOT_ALLOWED,              NOT_ALLOWED),
    },
    "two_factor_send_link": {  # only staff without an app get a link; everyone here has one or needs none
        "GET":              (LOGIN,       NOT_ALLOWED,    NOT_ALLOWED,            NOT_ALLOWED,             NOT_ALLOWED,              NOT_ALLOWED),
        "POST":             (LOGIN,       HOME,           HOME,                   HOME,                    HOME,                     HOME),
    },
    "password_reset": {  # an empty POST is a form error
        "GET":              (OK,          OK,             OK,                     OK,                      OK,                       OK),
        "POST":             (OK,          OK,             OK,                     OK,                      OK,                       OK),
    },
    "password_reset_done": {
        "GET":              (OK,          OK,             OK,                     OK,                      OK,                       OK),
        "POST":             (NOT_ALLOWED, NOT_ALLOWED,    NOT_ALLOWED,            NOT_ALLOWED,             NOT_ALLOWED,              NOT_ALLOWED),
    },
    "password_reset_link": {  # the emailed link: its token goes into the session, then away
        "GET":              (to("password_reset_confirm"),) * 6,
        "POST":             (NOT_ALLOWED,) * 6,
    },
    "password_reset_confirm": {  # without a link opened in this session: "no longer works"
        "GET":              (OK,) * 6,
        "POST":             (OK,) * 6,
    },
    "old_password_reset_link": {  # a token in the path (from before): "no longer works"
        "GET":              (MISSING,) * 6,
        "POST":             (MISSING,) * 6,
    },
    "password_reset_complete": {
        "GET":              (OK,          OK,             OK,                     OK,                      OK,                       OK),
        "POST":             (NOT_ALLOWED, NOT_ALLOWED,    NOT_ALLOWED,            NOT_ALLOWED,             NOT_ALLOWED,              NOT_ALLOWED),
    },
    "home": {
        "GET":              (LOGIN,       PATIENT_HOME,   PATIENT_HOME,           STAFF_HOME,              STAFF_HOME,               STAFF_HOME),
        "POST":             (LOGIN,       PATIENT_HOME,   PATIENT_HOME,           STAFF_HOME,              STAFF_HOME,               STAFF_HOME),
    },
    "accept_invitation": {  # only in a session that opened the link (tests/test_invitations.py)
        "GET":              (MISSING,) * 6,
        "POST":             (MISSING,) * 6,
    },
    "old_invitation_link": {  # a token in the path (from before): "ask for a new link"
        "GET":              (MISSING,) * 6,
        "POST":             (MISSING,) * 6,
    },
    "patient:home": {  # a POST reads like a GET
        "GET":              (LOGIN,       OK,             OK,                     STAFF_HOME,              STAFF_HOME,               STAFF_HOME),
        "POST":             (LOGIN,       OK,             OK,                     STAFF_HOME,              STAFF_HOME,               STAFF_HOME),
    },
    "patient:start": {  # staff do not start questionnaires
        "GET":              (LOGIN,       NOT_ALLOWED,    NOT_ALLOWED,            NOT_ALLOWED,             NOT_ALLOWED,              NOT_ALLOWED),
        "POST":             (LOGIN,       to("patient:resume"), to("patient:resume"), STAFF_HOME,          STAFF_HOME,               STAFF_HOME),
    },
    "patient:feeling": {  # the patient's own scores over time; no identifier, own data only
        "GET":              (LOGIN,       OK,             OK,                     STAFF_HOME,              STAFF_HOME,  STAFF_HOME),
        "POST":             (LOGIN,       NOT_ALLOWED,    NOT_ALLOWED,            NOT_ALLOWED,             NOT_ALLOWED,  NOT_ALLOWED),
    },
    "patient:check_in": {  # B's session tomorrow: B opens its check-in; A finds nothing
        "GET":              (LOGIN,       NOT_ALLOWED,    NOT_ALLOWED,            NOT_ALLOWED,             NOT_ALLOWED,  NOT_ALLOWED),
        "POST":             (LOGIN,       MISSING,        to("patient:resume"),   STAFF_HOME,              STAFF_HOME,  STAFF_HOME),
    },
    "patient:resume": {  # B's screening in progress: anyone else's is "not found"
        "GET":              (LOGIN,       MISSING,        to("patient:section"),  MISSING,                 MISSING,                  MISSING),
        "POST":             (LOGIN,       MISSING,        to("patient:section"),  MISSING,                 MISSING,                  MISSING),
    },
    "patient:section": {
        "GET":              (LOGIN,       MISSING,        OK,                     MISSING,                 MISSING,                  MISSING),
        "POST":             (LOGIN,       MISSING,        to("patient:resume"),   MISSING,                 MISSING,                  MISSING),
    },
    "patient:page_draft": {  # what B typed, kept before the idle limit: B's own pages only
        "GET":              (NOT_ALLOWED,) * 6,
        "POST":             (UNAUTHORIZED, MISSING,       OK,                     MISSING,                 MISSING,                  MISSING),
    },
    "patient:section_shown": {  # which of B's page's questions apply (the page's script asks)
        "GET":              (NOT_ALLOWED,) * 6,
        "POST":             (UNAUTHORIZED, MISSING,       OK,                     MISSING,                 MISSING,                  MISSING),
    },
    "patient:review": {  # B's screening is incomplete: submitting shows the page again
        "GET":              (LOGIN,       MISSING,        OK,                     MISSING,                 MISSING,                  MISSING),
        "POST":             (LOGIN,       MISSING,        OK,                     MISSING,                 MISSING,                  MISSING),
    },
    "patient:done": {  # B's decided screening
        "GET":              (LOGIN,       MISSING,        OK,                     MISSING,                 MISSING,                  MISSING),
        "POST":             (LOGIN,       MISSING,        OK,                     MISSING,                 MISSING,                  MISSING),
    },
    "staff:home": {
        "GET":              (LOGIN,       DENIED,         DENIED,                 to("staff:queue"),       to("staff:invitations"),  to("staff:sessions")),
        "POST":             (LOGIN,       DENIED,         DENIED,                 to("staff:queue"),       to("staff:invitations"),  to("staff:sessions")),
    },
    "staff:invitations": {
        "GET":              (LOGIN,       DENIED,         DENIED,                 OK,                      OK,                       DENIED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 SAME,                    SAME,                     DENIED),
    },
    "staff:queue": {
        "GET":              (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,                   DENIED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,                   DENIED),
    },
    "staff:screening": {  # B's decided screening; a POST reads like a GET
        "GET":              (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,                   DENIED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,                   DENIED),
    },
    "staff:print": {
        "GET":              (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,                   DENIED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,                   DENIED),
    },
    "staff:patient": {  # B's questionnaires and course of symptoms: physicians only
        "GET":              (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,  DENIED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 NOT_ALLOWED,             DENIED,  DENIED),
    },
    "staff:acknowledge": {  # the permission is checked before the method
        "GET":              (LOGIN,       DENIED,         DENIED,                 NOT_ALLOWED,             DENIED,                   DENIED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 to("staff:screening"),   DENIED,                   DENIED),
    },
    "staff:decide": {
        "GET":              (LOGIN,       DENIED,         DENIED,                 NOT_ALLOWED,             DENIED,                   DENIED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 to("staff:queue"),       DENIED,                   DENIED),
    },
    "staff:rescreen": {  # B was not cleared: the physician is told why, nothing changes
        "GET":              (LOGIN,       DENIED,         DENIED,                 NOT_ALLOWED,             DENIED,  DENIED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 to("staff:screening"),   DENIED,  DENIED),
    },
    "staff:audit": {
        "GET":              (LOGIN,       DENIED,         DENIED,                 DENIED,                  OK,                       DENIED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 DENIED,                  OK,                       DENIED),
    },
    "staff:urgent_response": {  # response times of urgent submissions: physicians only
        "GET":              (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,                   DENIED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 NOT_ALLOWED,             DENIED,                   DENIED),
    },
    "staff:drafts": {  # the drafts a physician may run over screenings on file
        "GET":              (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,                   DENIED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 NOT_ALLOWED,             DENIED,                   DENIED),
    },
    "staff:draft_impact": {  # reads every screening awaiting review: never a clinic admin
        "GET":              (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,                   DENIED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,                   DENIED),
    },
    "staff:fhir_bundle": {  # B's screening as a FHIR Bundle file, as the physician reads it
        "GET":              (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,                   DENIED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,                   DENIED),
    },
    # Treatment sessions (B's course and session; its check-in has an unacknowledged flag):
    # nurses and physicians; acknowledging and the blood-pressure go-ahead are physicians'.
    "staff:sessions": {
        "GET":              (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,                   OK),
        "POST":             (LOGIN,       DENIED,         DENIED,                 NOT_ALLOWED,             DENIED,                   NOT_ALLOWED),
    },
    "staff:start_course": {  # an empty POST is a form error
        "GET":              (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,                   OK),
        "POST":             (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,                   OK),
    },
    "staff:course": {
        "GET":              (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,                   OK),
        "POST":             (LOGIN,       DENIED,         DENIED,                 NOT_ALLOWED,             DENIED,                   NOT_ALLOWED),
    },
    "staff:schedule": {  # B's clearance no longer stands in this world: the form says so
        "GET":              (LOGIN,       DENIED,         DENIED,                 NOT_ALLOWED,             DENIED,                   NOT_ALLOWED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,                   OK),
    },
    "staff:session": {
        "GET":              (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,                   OK),
        "POST":             (LOGIN,       DENIED,         DENIED,                 NOT_ALLOWED,             DENIED,                   NOT_ALLOWED),
    },
    "staff:record_pre_dose": {
        "GET":              (LOGIN,       DENIED,         DENIED,                 NOT_ALLOWED,             DENIED,                   NOT_ALLOWED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 to("staff:session"),     DENIED,                   to("staff:session")),
    },
    "staff:record_post_dose": {  # no dose given yet: the form comes back with its message
        "GET":              (LOGIN,       DENIED,         DENIED,                 NOT_ALLOWED,             DENIED,                   NOT_ALLOWED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,                   OK),
    },
    "staff:record_dose": {  # the session is not ready to dose: the form comes back saying why
        "GET":              (LOGIN,       DENIED,         DENIED,                 NOT_ALLOWED,             DENIED,                   NOT_ALLOWED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,                   OK),
    },
    "staff:record_discharge": {  # criteria unmet: the form comes back saying which
        "GET":              (LOGIN,       DENIED,         DENIED,                 NOT_ALLOWED,             DENIED,                   NOT_ALLOWED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,                   OK),
    },
    "staff:review_blood_pressure": {  # nothing to review: back to the session with a message
        "GET":              (LOGIN,       DENIED,         DENIED,                 NOT_ALLOWED,             DENIED,                   DENIED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 to("staff:session"),     DENIED,                   DENIED),
    },
    "staff:session_acknowledge": {
        "GET":              (LOGIN,       DENIED,         DENIED,                 NOT_ALLOWED,             DENIED,                   DENIED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 to("staff:session"),     DENIED,                   DENIED),
    },
    # Changing a booking: whoever books (physicians and nurses); ending a course: physicians.
    "staff:cancel_session": {  # B's session has no dose yet: cancelled, back to the session
        "GET":              (LOGIN,       DENIED,         DENIED,                 NOT_ALLOWED,             DENIED,                   NOT_ALLOWED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 to("staff:session"),     DENIED,                   to("staff:session")),
    },
    "staff:reschedule_session": {  # B's clearance no longer stands: the form says so
        "GET":              (LOGIN,       DENIED,         DENIED,                 NOT_ALLOWED,             DENIED,                   NOT_ALLOWED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 OK,                      DENIED,                   OK),
    },
    "staff:end_course": {
        "GET":              (LOGIN,       DENIED,         DENIED,                 NOT_ALLOWED,             DENIED,                   DENIED),
        "POST":             (LOGIN,       DENIED,         DENIED,                 to("staff:course"),      DENIED,                   DENIED),
    },
    # The FHIR API answers API tokens only (tests/fhir/test_api.py tries every kind of token):
    # a session, even a physician's, gets 401. Its CapabilityStatement is public.
    "fhir:metadata": {
        "GET":              (OK,)*6,
        "POST":             (NOT_ALLOWED,)*6,
    },
    "fhir:questionnaire":     {"GET": (UNAUTHORIZED,)*6, "POST": (UNAUTHORIZED,)*6},
    "fhir:response_search":   {"GET": (UNAUTHORIZED,)*6, "POST": (UNAUTHORIZED,)*6},
    "fhir:response":          {"GET": (UNAUTHORIZED,)*6, "POST": (UNAUTHORIZED,)*6},
    "fhir:bundle":            {"GET": (UNAUTHORIZED,)*6, "POST": (UNAUTHORIZED,)*6},
    "fhir:unknown":           {"GET": (MISSING,)*6,      "POST": (MISSING,)*6},
}

# The admin site. Anyone who is not an active is_staff user (visitors, patients, physicians)
# is sent to the admin's login page from every admin URL, except the login page itself and
# logout (which sends them to the admin index, and from there to the login page).
NOT_ADMIN = {"anonymous", "patient_a", "patient_b", "physician", "nurse"}
ADMIN_SITE = {
    #                         GET for non-admins   POST for non-admins   GET clinic admin   POST clinic admin
    "admin:index":           (ADMIN_LOGIN,         ADMIN_LOGIN,          OK,                OK),
    "admin:login":           (OK,                  OK,                   to("admin:index"), OK),
    "admin:logout":          (to("admin:index"),   to("admin:index"),    NOT_ALLOWED,       to("login")),
    "admin:password_change": (ADMIN_LOGIN,         ADMIN_LOGIN,          OK,                OK),
    "admin:password_change_done": (ADMIN_LOGIN,    ADMIN_LOGIN,          OK,                NOT_ALLOWED),
    "admin:autocomplete":    (ADMIN_LOGIN,         ADMIN_LOGIN,          DENIED,            NOT_ALLOWED),
    "admin:jsi18n":          (ADMIN_LOGIN,         ADMIN_LOGIN,          OK,                NOT_ALLOWED),
    "admin:view_on_site":    (ADMIN_LOGIN,         ADMIN_LOGIN,          MISSING,           MISSING),  # no model has a public URL
    "admin:app_list":        (ADMIN_LOGIN,         ADMIN_LOGIN,          OK,                OK),
    "admin/(?P<url>.*)$":    (ADMIN_LOGIN,         ADMIN_LOGIN,          MISSING,           MISSING),  # the catch-all
}

# A clinic admin in the ModelAdmin pages, per model: (GET, POST) for each URL of the model.
# The objects are B's (user, invitation, audit event) or the published version's content,
# which is read-only (a new draft is edited instead). Empty POSTs: a changelist without an
# action shows the list again, an add or change form shows its errors, a delete confirmation
# without "yes" shows itself again.
NO_ACCESS = {
    "changelist": (DENIED, DENIED), "add": (DENIED, DENIED), "change": (DENIED, DENIED),
    "history": (DENIED, DENIED), "delete": (DENIED, DENIED), "object": (CHANGE_PAGE, CHANGE_PAGE),
}
PUBLISHED_CONTENT = {  # view, add, change, delete permissions; published objects are read-only
    "changelist": (OK, OK), "add": (OK, OK), "change": (OK, DENIED),
    "history": (OK, OK), "delete": (DENIED, DENIED), "object": (CHANGE_PAGE, CHANGE_PAGE),
}
READ_ONLY = {  # view permission only
    "changelist": (OK, OK), "add": (DENIED, DENIED), "change": (OK, DENIED),
    "history": (OK, OK), "delete": (DENIED, DENIED), "object": (CHANGE_PAGE, CHANGE_PAGE),
}
CLINIC_ADMIN_IN_ADMIN = {
    "screening.question":           PUBLISHED_CONTENT,
    "screening.section":            PUBLISHED_CONTENT,
    "screening.rule":               PUBLISHED_CONTENT,
    "screening.scoredefinition":    PUBLISHED_CONTENT,
    "screening.panelcase":          PUBLISHED_CONTENT,
    "screening.questionsetversion": {  # no delete permission either
        **PUBLISHED_CONTENT,
        # Its translations: read-only once published (a POST is refused with a message on
        # the same page); the files to download; the page to load one.
        "translations": (OK, NOT_ALLOWED), "translation_edit": (OK, SAME),
        "translation_upload": (OK, SAME), "translation_download": (OK, NOT_ALLOWED),
    },
    "screening.questionset":        {**PUBLISHED_CONTENT, "change": (OK, OK)},  # no delete permission
    "screening.drug":               {**PUBLISHED_CONTENT, "change": (OK, OK), "delete": (OK, OK)},
    "screening.drugclass":          {**PUBLISHED_CONTENT, "change": (OK, OK)},  # a class in use is kept
    "screening.invitation":         READ_ONLY,  # invitations are made on the staff page
    "screening.apitoken":           PUBLISHED_CONTENT,  # issued and revoked, never edited or deleted
    "screening.auditevent":         {"changelist": (OK, OK)},  # append-only; the list is all there is
    "screening.undeliveredemail":   {"changelist": (OK, OK)},  # read-only; the list is all there is
    "otp_totp.totpdevice":          {  # view and delete only: remove a colleague's lost phone
        "changelist": (OK, OK), "add": (DENIED, DENIED), "change": (OK, DENIED), "history": (OK, OK),
        "delete": (OK, OK), "object": (CHANGE_PAGE, CHANGE_PAGE),
    },
    "screening.user":               {**NO_ACCESS, "auth_user_password_change": (DENIED, DENIED)},
    "auth.group":                   NO_ACCESS,
    "axes.accessattempt":           NO_ACCESS,
    "axes.accesslog":               NO_ACCESS,
    "axes.accessfailurelog":        NO_ACCESS,
}
# fmt: on


def expected(route: Route, role: str, method: str) -> str | None:
    """The policy's answer for one cell, or None when the matrix has no row for the route."""
    if route.key in APP_MATRIX:
        return APP_MATRIX[route.key][method][ROLES.index(role)]
    if route.key in ADMIN_SITE:
        row = ADMIN_SITE[route.key]
        column = (0 if method == "GET" else 1) + (0 if role in NOT_ADMIN else 2)
        return row[column]
    if route.model:
        per_model = CLINIC_ADMIN_IN_ADMIN.get(route.model, {})
        if route.action not in per_model:
            return None
        if role in NOT_ADMIN:
            return ADMIN_LOGIN
        return per_model[route.action][0 if method == "GET" else 1]
    return None


def outcome_of(response, url: str, route: Route) -> str:
    """Describe a response in the matrix's vocabulary, as precisely as the policy needs."""
    status = response.status_code
    if status not in (301, 302):
        return str(status)
    location = response["Location"]
    parts = urlsplit(location)
    next_url = parse_qs(parts.query).get("next", [None])[0]
    if parts.path == "/login/" and next_url == url:
        return LOGIN
    if parts.path == "/admin/login/" and next_url == url:
        return ADMIN_LOGIN
    if parts.path == url and status == 302:
        return SAME
    try:
        match = resolve(parts.path)
    except Exception:
        return f"{status} → {location}"
    if route.model and match.url_name == f"{route.model.replace('.', '_')}_change":
        return CHANGE_PAGE
    return f"{status} → {match.view_name}" if status == 302 else f"{status} → {location}"


def markers_in(body: bytes) -> set[str]:
    text = body.decode("utf-8", errors="replace")
    return {marker for marker in (NAME_MARKER, ANSWER_MARKER, STAFF_MARKER) if marker in text}


# The tests ------------------------------------------------------------------------------


def test_every_url_pattern_has_a_row_in_the_matrix():
    missing = sorted(
        {
            f"{route.key}  ({route.route})"
            for route in ROUTES
            for role in ROLES
            for method in METHODS
            if expected(route, role, method) is None
        }
    )
    assert not missing, (
        "These URL patterns have no row in tests/security/test_access_matrix.py; say who may "
        "reach them (APP_MATRIX, ADMIN_SITE or CLINIC_ADMIN_IN_ADMIN):\n  " + "\n  ".join(missing)
    )


def test_the_matrix_has_no_rows_for_urls_that_no_longer_exist():
    keys = {route.key for route in ROUTES}
    models_in_admin = {route.model for route in ROUTES if route.model}
    stale = (set(APP_MATRIX) | set(ADMIN_SITE)) - keys
    stale |= set(CLINIC_ADMIN_IN_ADMIN) - models_in_admin
    assert not stale, f"Rows for URLs the app no longer serves: {sorted(stale)}"


CELLS = [
    pytest.param(route, role, method, id=f"{route.key} {method} {role}")
    for route in ROUTES
    for method in METHODS
    for role in ROLES
    if expected(route, role, method) is not None
]
DENIALS = {LOGIN, ADMIN_LOGIN, UNAUTHORIZED, DENIED, MISSING, NOT_ALLOWED}


def tries_a_made_up_identifier(route: Route, role: str, want: str) -> bool:
    """Whether a cell's refusal is checked again with a made-up identifier in the URL.

    Django's admin looks an object up before it checks the history and delete permissions
    (and the change permission on POST), so a signed-in admin user can tell whether an id
    exists; ids of patient data are random UUIDs. Everyone else is checked.
    """
    admin_lookup_first = route.model and role == "clinic_admin"
    return (
        want in DENIALS
        and not admin_lookup_first
        and any(name in IDENTIFIER_KWARGS for name in route.converters)
    )


# Pages that take an identifier but refuse no one. None today: invitation and reset links
# carry their tokens in the query string, and the old links with a token in the path
# (old_invitation_link, old_password_reset_link) refuse everyone with the same page.
NO_REFUSAL_TO_TRY: set[str] = set()


@pytest.mark.parametrize(("route", "role", "method"), CELLS)
def test_access_matrix(route, role, method, world, db):
    want = expected(route, role, method)
    client = client_for(role, world)  # first: logging in changes what a reset token hashes
    url = build_url(route, route_kwargs(route, world))
    body = POST_BODIES[route.key](world) if method == "POST" and route.key in POST_BODIES else {}
    response = client.get(url) if method == "GET" else client.post(url, body)
    got = outcome_of(response, url, route)
    assert got == want, f"{method} {url} as {role}: expected {want}, got {got}"

    seen = markers_in(response.content)
    if not 200 <= response.status_code < 300:
        # A refusal shows nothing of B's data. (B's own name in the header of B's own 403
        # page is B's account, not what was asked for.)
        own = {NAME_MARKER} if role == "patient_b" else set()
        assert seen <= own, f"{method} {url} as {role} refused with {seen - own} in the body"
    assert seen <= MAY_READ[role], f"{method} {url} as {role} shows {seen - MAY_READ[role]}"

    if tries_a_made_up_identifier(route, role, want):
        # A made-up identifier gets the same answer: a refusal confirms nothing exists.
        other_url = build_url(route, route_kwargs(route, world, made_up=True))
        client = client_for(role, world)
        other = client.get(other_url) if method == "GET" else client.post(other_url, body)
        assert outcome_of(other, other_url, route) == want, (
            f"{method} {other_url} (made-up identifier) as {role}: expected {want}, "
            f"got {outcome_of(other, other_url, route)}"
        )


def test_every_refused_route_naming_an_object_is_tried_with_a_made_up_identifier():
    """The made-up identifier check above is conditional: prove it runs wherever it can."""
    # Independent of IDENTIFIER_KWARGS, so a converter missing from it shows up here.
    naming = {
        route.key
        for route in ROUTES
        if any(name not in NOT_IDENTIFIERS for name in route.converters)
    }
    tried = {
        route.key
        for route in ROUTES
        for role in ROLES
        for method in METHODS
        if tries_a_made_up_identifier(route, role, expected(route, role, method))
    }
    assert len(naming) > 50  # the app's screening pages and the admin's object pages
    assert naming - tried == NO_REFUSAL_TO_TRY
    assert tried <= naming


def test_staff_never_start_a_questionnaire_for_themselves(client, physician, default_version):
    log_in_staff(client, physician)
    assert client.post("/screenings/start/")["Location"] == "/staff/"
    assert not Screening.objects.filter(patient=physician).exists()


# Staff who have given their password but not yet their second factor ------------------

# The only pages they may open (everything else sends them to enter a code).
SECOND_FACTOR_PAGES = {
    "two_factor_verify",
    "two_factor_setup",
    "two_factor_open_link",
    "two_factor_send_link",
    "logout",
    "admin:logout",
}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("role", ["physician", "clinic_admin", "nurse"])
@pytest.mark.parametrize("route", [pytest.param(route, id=route.key) for route in ROUTES])
def test_staff_with_only_a_password_reach_nothing_but_the_second_factor(
    route, role, method, world, db
):
    client = Client()
    client.force_login(world.user(role))  # the password, and no code yet
    url = build_url(route, route_kwargs(route, world))
    body = POST_BODIES[route.key](world) if method == "POST" and route.key in POST_BODIES else {}
    response = client.get(url) if method == "GET" else client.post(url, body)
    if route.key not in SECOND_FACTOR_PAGES:
        assert response.status_code == 302, f"{method} {url}: {response.status_code}"
        assert urlsplit(response["Location"]).path == reverse("two_factor_verify"), (
            f"{method} {url} sends a password-only {role} to {response['Location']}"
        )
    assert not markers_in(response.content), f"{method} {url} shows B's data"
    assert Decision.objects.filter(screening_id=world.b_screening).count() == 1


# Identifiers in URLs ----------------------------------------------------------------------

# Converters that may carry something other than an object identifier.
NOT_IDENTIFIERS = {"section_code", "app_label", "url"}
# Unguessable tokens: invitation tokens are secrets.token_urlsafe(32); a password-reset link
# carries the user's UUID (base64) and an HMAC token.
TOKENS = {"token", "uidb64"}


def test_no_url_takes_a_sequential_number():
    offenders = sorted(
        f"{route.key} ({route.route})"
        for route in ROUTES
        if "IntConverter" in route.converters.values()
    )
    assert not offenders, f"URL patterns with an <int:...> converter: {offenders}"


def test_every_identifier_outside_the_admin_is_a_uuid_or_an_unguessable_token():
    offenders = []
    for route in ROUTES:
        if route.model or route.key == "admin:view_on_site":
            continue  # ModelAdmin object URLs: see the next test; view_on_site 404s for all
        for name, converter in route.converters.items():
            if name in NOT_IDENTIFIERS:
                continue
            if name in TOKENS and converter == "StringConverter":
                continue
            if converter != "UUIDConverter":
                offenders.append(f"{route.key}: <{name}> is {converter}")
    assert not offenders, offenders


# Which model's primary key each identifier outside the admin carries (uidb64 is the
# password-reset link's base64 of the user's key; invitation tokens are not keys).
KEY_IN_URL = {
    "screening_id": Screening,
    "session_id": TreatmentSession,
    "flag_id": Flag,
    "uidb64": User,
    "patient_id": User,  # the physician's page about one patient
    # A draft's impact preview (physicians): content, not patient data.
    "version_id": QuestionSetVersion,
    "course_id": TreatmentCourse,
}

# Every model holding patient data, and whether any URL names one of its rows (an app page,
# or a page per object in the admin). A row named in a URL needs a random key; the others
# may keep a sequential one (the audit log's order is its hash chain's, and its admin has
# only the list). Exposing one of them in a URL means changing this table, and its key.
PATIENT_DATA_IN_URLS = {
    Screening: True,
    TreatmentSession: True,  # the patient's "Answer your check-in" button
    Flag: True,
    Invitation: True,  # the admin's read-only pages
    User: True,  # the admin's pages and the password-reset link
    Answer: False,
    CompletedSection: False,
    FlagAcknowledgement: False,
    RecognisedMedication: False,
    Decision: False,
    AuditEvent: False,
    PageDraft: False,
    TreatmentCourse: True,
    VitalReading: False,
    DoseRecord: False,
    DischargeRecord: False,
    BloodPressureReview: False,
}


def routes_naming_rows_of(model) -> list[str]:
    """The URL patterns whose converters carry a primary key of `model`."""
    label = model._meta.label_lower
    named = []
    for route in ROUTES:
        if route.model:  # a ModelAdmin's pages: object_id (or id, for a user's password)
            if route.model == label and {"object_id", "id", "pk"} & set(route.converters):
                named.append(route.key)
        elif any(KEY_IN_URL.get(name) is model for name in route.converters):
            named.append(route.key)
    return named


def test_every_identifier_outside_the_admin_says_which_model_it_names():
    names = {
        name
        for route in ROUTES
        if not route.model and route.key != "admin:view_on_site"  # 404s for every model
        for name, converter in route.converters.items()
        if name not in NOT_IDENTIFIERS and name != "token"
    }
    assert names == set(KEY_IN_URL), "add the new identifier to KEY_IN_URL"


@pytest.mark.parametrize(
    ("model", "in_urls"),
    PATIENT_DATA_IN_URLS.items(),
    ids=[model.__name__ for model in PATIENT_DATA_IN_URLS],
)
def test_patient_data_reachable_by_url_has_a_random_key(model, in_urls):
    named = routes_naming_rows_of(model)
    assert bool(named) is in_urls, (
        f"{model.__name__} rows are named by {named or 'no URL'}; PATIENT_DATA_IN_URLS says "
        f"{'some' if in_urls else 'none'}"
    )
    if in_urls:
        assert isinstance(model._meta.pk, models.UUIDField), (
            f"{model.__name__} is named in {named} by a {type(model._meta.pk).__name__} key"
        )


# Queue and audit-log parameters -----------------------------------------------------------

HOSTILE_VALUES = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' OR 1=1 --",
    "../../../etc/passwd",
    "nul\x00byte",
    "%_%",
    "x" * 5000,
    "-1",
    "99999999999999999999999",
    "2024-13-45",
    "submitted; DROP TABLE screening_screening",
    "ünïcödé ✓",
]
QUEUE_PARAMETERS = [
    "status",
    "level",
    "submitted_from",
    "submitted_to",
    "page",
    "after",
    "before",
    "sort",
    "order",
]
AUDIT_PARAMETERS = ["action", "page", "sort", "o"]


def _reflected_raw(value: str, body: str) -> bool:
    """Markup-significant text echoed unescaped (a NUL byte is echoed in input values, inert)."""
    return any(marker in value and value in body for marker in ("<script>", "<img", "' OR 1=1"))


@pytest.mark.parametrize("parameter", QUEUE_PARAMETERS)
def test_unknown_queue_parameters_are_ignored(client, physician, default_version, parameter):
    urgent = make_submitted_screening(level="urgent", patient=make_patient("Ursula Urgent"))
    calm = make_submitted_screening(level="", patient=make_patient("Nina Nothing"))
    make_submitted_screening(level="info", patient=make_patient("Dora Decided"), status="decided")
    log_in_staff(client, physician)
    default = [s.pk for s in client.get("/staff/queue/").context["page"]]
    assert default == [urgent.pk, calm.pk]
    for value in HOSTILE_VALUES:
        response = client.get("/staff/queue/", {parameter: value})
        assert response.status_code == 200, (parameter, value)
        assert [s.pk for s in response.context["page"]] == default, (parameter, value)
        assert not _reflected_raw(value, response.content.decode()), (parameter, value)


def test_a_hostile_queue_search_finds_nothing_or_is_ignored_and_is_shown_escaped(
    client, physician, default_version
):
    urgent = make_submitted_screening(level="urgent", patient=make_patient("Ursula Urgent"))
    log_in_staff(client, physician)
    # The search works, so finding nothing below means something.
    assert [s.pk for s in client.get("/staff/queue/", {"q": "ursula"}).context["page"]] == [
        urgent.pk
    ]
    searched = 0
    for value in HOSTILE_VALUES:
        response = client.get("/staff/queue/", {"q": value})
        assert response.status_code == 200, value
        body = response.content.decode()
        assert not _reflected_raw(value, body), value
        # A valid search matches none of Ursula's name or email ("%_%" would, as LIKE
        # wildcards); an invalid one (a NUL byte, over 100 characters) is ignored.
        if QueueFilterForm({"q": value}).is_valid():
            searched += 1
            assert [s.pk for s in response.context["page"]] == [], value
        else:
            assert [s.pk for s in response.context["page"]] == [urgent.pk], value
    assert searched == len(HOSTILE_VALUES) - 2
    shown = client.get("/staff/queue/", {"q": '"><img src=x onerror=alert(1)>'}).content.decode()
    assert 'value="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"' in shown


@pytest.mark.parametrize("parameter", [*AUDIT_PARAMETERS, "who"])
def test_unknown_audit_log_parameters_are_ignored(
    client, clinic_admin, physician, default_version, parameter
):
    screening = make_submitted_screening(level="info")
    audit.record(actor=physician, action="screening.viewed", screening=screening, obj=screening)
    audit.record(actor=physician, action="screening.printed", screening=screening, obj=screening)
    log_in_staff(client, clinic_admin)
    default = [e.pk for e in client.get("/staff/audit/").context["page"]]
    assert AuditEvent.objects.filter(screening=screening).count() == 2
    assert set(AuditEvent.objects.filter(screening=screening).values_list("pk", flat=True)) <= set(
        default
    )
    for value in HOSTILE_VALUES:
        response = client.get("/staff/audit/", {parameter: value})
        assert response.status_code == 200, (parameter, value)
        shown = [e.pk for e in response.context["page"]]
        if parameter == "who":  # a search over actors' emails: finds nobody
            assert shown == [], value
        else:
            assert shown == default, (parameter, value)
        assert not _reflected_raw(value, response.content.decode()), (parameter, value)
