"""In-process page benchmark: each page's median server time beside the bare view's.

The same pages as the HTTP benchmark (the PHQ-9 wizard page GET, its save, the physician's
queue over the queue benchmark's 100,000 screenings) and bench/urls.py's bare view, each
through Django's whole handler and middleware with the test client, in this process, on
PostgreSQL: no network, no gunicorn, no wrk sharing the CPUs. Timing the bare view in the
same run makes the figures comparable from one run (and one machine) to the next, and
the SQL queries of each page are counted. CSRF is checked as in production (the client
posts the token it was given); query logging is off while timing (DEBUG off).
"""

import re
import statistics
import time

from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from bench import queue
from bench.sessions import signed_in_session

# Each page's query budget (the tests assert the same: tests/test_intake_wizard.py,
# tests/test_review_queue.py, tests/test_physician_summary.py, tests/test_sessions_staff.py).
QUERY_BUDGETS = {"get": 6, "post": 12, "queue": 8, "screening": 20}
# Issue 14: a check-in page and the session page stay within the wizard's and the screening
# page's budgets. Each is measured beside the page it is held to, in the same run: its queries
# within that page's budget and its median time within that page's median (timed in turn with
# it, request after request), plus this margin for the noise of a median of SAMPLES.
HELD_TO = {"check_in": "get", "session": "screening"}
TIME_MARGIN = 0.10
# Reading the queue is audited: one statement on PostgreSQL (screening/audit.py), counted
# within the queue's budget, a fixed cost whatever the number of screenings.
AUDIT_WRITE_QUERIES = {"queue": 1}
WARMUP = 10
SAMPLES = 60

Row = tuple[str, str, str, object]
# As from production's TLS proxy (the HTTP benchmark sends the same header).
HEADERS = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_HOST": "testserver"}


class PageClient:
    """A test client signed in as one user, through the bench's URLconf."""

    def __init__(self, session_key: str):
        self.client = Client(enforce_csrf_checks=True, **HEADERS)
        self.client.cookies[settings.SESSION_COOKIE_NAME] = session_key

    def get(self, path: str):
        return self.client.get(path)

    def post(self, path: str, data: str):
        # A browser's Origin header: CSRF checks it against the request's own scheme and host.
        scheme = "https" if settings.SECURE_PROXY_SSL_HEADER else "http"
        return self.client.post(
            path,
            data,
            content_type="application/x-www-form-urlencoded",
            HTTP_ORIGIN=f"{scheme}://testserver",
        )


def _wizard_post_body(client: PageClient, screening) -> str:
    """A valid save of the PHQ-9 page, read from the served page; the page is saved the way
    a patient does until a save redirects to the resume URL (as every timed save must)."""
    from urllib.parse import urlencode

    from bench.http import WIZARD_SECTION, BenchFailure, _form_pairs
    from screening.demo import CALM_ANSWERS
    from screening.snapshots import questionnaire_for

    questions = questionnaire_for(screening.version).questions_by_code
    path = f"/screenings/{screening.pk}/page/{WIZARD_SECTION}/"
    for _ in range(3):
        html = client.get(path).content.decode()
        token = client.client.cookies[settings.CSRF_COOKIE_NAME].value
        pairs = [("csrfmiddlewaretoken", token)]
        for code in re.findall(r'name="presented" value="([^"]+)"', html):
            pairs.append(("presented", code))
            pairs += _form_pairs(questions[code], CALM_ANSWERS[code])
        body = urlencode(pairs)
        response = client.post(path, body)
        if response.status_code == 302 and response["Location"] == f"/screenings/{screening.pk}/":
            return body
    raise BenchFailure("the PHQ-9 page was never complete after three saves")


SESSION_PATIENT = "bench-session@example.com"


def _session_on_the_day(physician) -> str:
    """A cleared patient's treatment session as a physician reads it on the day: a sent
    check-in with a caution flag, two pre-dose readings (one corrected), the dose and a
    post-dose reading. Made once; returns the session page's path."""
    from datetime import timedelta

    from django.utils import timezone

    from screening.models import (
        Decision,
        DoseRecord,
        Flag,
        Screening,
        TreatmentCourse,
        TreatmentSession,
        User,
    )
    from screening.selectors import current_version
    from screening.services.sessions import record_reading

    session = TreatmentSession.objects.filter(course__patient__email=SESSION_PATIENT).first()
    if session is not None:
        _with_submissions(session)
        return f"/staff/sessions/{session.pk}/"
    patient = User.objects.create_user(
        email=SESSION_PATIENT, password=None, full_name="Bench Session Patient"
    )
    version = current_version()
    now = timezone.now()
    baseline = Screening.objects.create(
        patient=patient, version=version, status="decided", submitted_at=now
    )
    decision = Decision.objects.create(
        screening=baseline, physician=physician, outcome="cleared", signed_name="Bench"
    )
    course = TreatmentCourse.objects.create(
        patient=patient, product="iv_ketamine", clearance=decision, created_by=physician
    )
    check_in = Screening.objects.create(
        patient=patient,
        version=version,
        purpose=Screening.Purpose.CHECK_IN,
        status="decided",
        submitted_at=now,
    )
    Flag.objects.create(
        screening=check_in,
        code="new_medicine",
        severity="caution",
        title="New medicine",
        message="Check it before dosing.",
    )
    session = TreatmentSession.objects.create(
        course=course, scheduled_for=now, check_in=check_in, created_by=physician
    )
    _with_submissions(session)
    vitals = {"heart_rate": 72, "actor": physician, "ip_address": None}
    wrong = record_reading(session=session, timing="pre_dose", systolic=210, diastolic=80, **vitals)
    record_reading(
        session=session,
        timing="pre_dose",
        systolic=120,
        diastolic=80,
        supersedes=wrong,
        correction_reason="typo",
        **vitals,
    )
    # Written straight to the table: the service gives a dose only once the session is ready
    # (its flag acknowledged), and the page is measured with the flag still open beside a
    # dose, the fullest the page gets.
    DoseRecord.objects.create(
        session=session, given_at=now - timedelta(minutes=45), recorded_by=physician
    )
    record_reading(
        session=session,
        timing="post_dose",
        systolic=130,
        diastolic=85,
        planned_minutes=40,
        **vitals,
    )
    return f"/staff/sessions/{session.pk}/"


SCREENING_PATIENT = "cal.caution@example.com"  # the demo's caution screening (medicines, BP)
CHECK_IN_PATIENT = "bench-check-in@example.com"
# A calm check-in up to its PHQ-9 page: "no" to every yes/no question before it.
CHECK_IN_CALM = {
    "new_health_problem": "no",
    "hospital_stay": "no",
    "medicines_started": "no",
    "medicines_stopped": "no",
    "pregnant": "no",
    "used_last_24h": "no",
    "grapefruit_last_24h": "no",
    "last_ate": "over_6_hours",
    "last_drank": "over_2_hours",
}


def _screening_page() -> str:
    """The physician's page of a submitted intake with caution flags and a medicine list (the
    demo's Cal Caution, made once): the page the session page is compared with."""
    from screening.demo import seed_demo_screenings
    from screening.models import Screening

    seed_demo_screenings()
    screening = Screening.objects.filter(patient__email=SCREENING_PATIENT).first()
    return f"/staff/screenings/{screening.pk}/"


def _check_in_in_progress(physician):
    """A cleared patient's check-in, open with every page before the PHQ-9 saved (as the
    wizard benchmark's intakes are): returns the check-in screening and its patient."""
    from datetime import timedelta

    from django.utils import timezone

    from bench.http import WIZARD_SECTION, BenchFailure
    from screening.models import Decision, Screening, Submission, TreatmentCourse, User
    from screening.selectors import first_incomplete_section, visibility_for
    from screening.services.check_ins import open_check_in
    from screening.services.intake import save_page
    from screening.services.sessions import schedule_session

    patient = User.objects.filter(email=CHECK_IN_PATIENT).first()
    if patient is None:
        patient = User.objects.create_user(
            email=CHECK_IN_PATIENT, password=None, full_name="Bench Check-in Patient"
        )
        from screening.selectors import current_version

        now = timezone.now()
        baseline = Screening.objects.create(
            patient=patient,
            version=current_version(),
            status="decided",
            submitted_at=now,
            submission_count=1,
        )
        Submission.objects.create(
            screening=baseline,
            number=1,
            submitted_at=now,
            answers={"sex_at_birth": "female", "can_be_pregnant": "yes", "pregnant": "no"},
        )
        decision = Decision.objects.create(
            screening=baseline, physician=physician, outcome="cleared", signed_name="Bench"
        )
        course = TreatmentCourse.objects.create(
            patient=patient, product="iv_ketamine", clearance=decision, created_by=physician
        )
        schedule_session(
            course=course,
            scheduled_for=now + timedelta(days=300),
            actor=physician,
            ip_address=None,
        )
    session = patient.treatment_courses.get().sessions.get()
    check_in = open_check_in(session=session)
    for _ in range(20):
        section = first_incomplete_section(check_in)
        if section is None or section.code == WIZARD_SECTION:
            return check_in
        shown = visibility_for(check_in).visible_in(section)
        missing = [q.code for q in shown if q.required and q.code not in CHECK_IN_CALM]
        if missing:
            raise BenchFailure(f"no bench answer for check-in questions {missing}")
        save_page(
            screening=check_in,
            section=section,
            answers={q.code: CHECK_IN_CALM[q.code] for q in shown if q.code in CHECK_IN_CALM},
            presented={q.code for q in shown},
        )
    raise BenchFailure("the check-in never reached its PHQ-9 page")


def _with_submissions(session) -> None:
    """Every sent intake and check-in has its submission on file (services.evaluation writes
    it with the submit): the baseline and the check-in of the bench's session too."""
    from screening.models import Submission

    for screening in (session.course.clearance.screening, session.check_in):
        if not Submission.objects.filter(screening=screening).exists():
            Submission.objects.create(
                screening=screening,
                number=1,
                submitted_at=screening.submitted_at,
                answers=dict(screening.answers.values_list("question__code", "value")),
            )


def _median_ms(call, expect: int) -> tuple[float, int]:
    """Median milliseconds of `call()` over SAMPLES calls after WARMUP, and the queries of one."""
    for _ in range(WARMUP):
        call()
    timings = []
    for _ in range(SAMPLES):
        start = time.perf_counter()
        response = call()
        timings.append(time.perf_counter() - start)
        if response.status_code != expect:
            raise AssertionError(f"expected {expect}, got {response.status_code}")
    with CaptureQueriesContext(connection) as queries:
        call()
    return statistics.median(timings) * 1000, len(queries)


def _paired_median_ms(call_a, call_b, expect: int = 200):
    """`_median_ms` of two pages timed in turn, one request of each after the other, so a
    burst of load on the shared machine falls on both (a page is compared with the other)."""
    for _ in range(WARMUP):
        call_a()
        call_b()
    timings: tuple[list, list] = ([], [])
    for _ in range(SAMPLES):
        for call, samples in ((call_a, timings[0]), (call_b, timings[1])):
            start = time.perf_counter()
            response = call()
            samples.append(time.perf_counter() - start)
            if response.status_code != expect:
                raise AssertionError(f"expected {expect}, got {response.status_code}")
    counts = []
    for call in (call_a, call_b):
        with CaptureQueriesContext(connection) as queries:
            call()
        counts.append(len(queries))
    return tuple(
        (statistics.median(samples) * 1000, count)
        for samples, count in zip(timings, counts, strict=True)
    )


def measure() -> dict[str, tuple[float, int]]:
    """Median ms and queries of the bare view (anonymous and signed in), the wizard GET and
    POST, the queue and a treatment session's page."""
    from bench.http import PATIENTS, WIZARD_SECTION, _patients_in_progress, _physician

    screenings = _patients_in_progress(PATIENTS)
    patients = [PageClient(signed_in_session(s.patient, staff=False)) for s in screenings]
    physician = PageClient(signed_in_session(_physician(), staff=True))
    session_page = _session_on_the_day(_physician())
    screening_page = _screening_page()
    check_in = _check_in_in_progress(_physician())
    check_in_client = PageClient(signed_in_session(check_in.patient, staff=False))
    check_in_page = f"/screenings/{check_in.pk}/page/{WIZARD_SECTION}/"
    paths = [f"/screenings/{s.pk}/page/{WIZARD_SECTION}/" for s in screenings]
    bodies = [_wizard_post_body(c, s) for c, s in zip(patients, screenings, strict=True)]
    turn = {"get": 0, "post": 0}

    def next_of(kind: str) -> int:
        turn[kind] = (turn[kind] + 1) % len(patients)
        return turn[kind]

    def wizard_get():
        index = next_of("get")
        return patients[index].get(paths[index])

    def wizard_post():
        index = next_of("post")
        return patients[index].post(paths[index], bodies[index])

    anonymous = Client(**HEADERS)
    with override_settings(ROOT_URLCONF="bench.urls", DEBUG=False):
        results = {
            "bare": _median_ms(lambda: anonymous.get("/bench/ok/"), 200),
            # What any signed-in page pays first: the session and its user (one statement
            # once the worker has read the session) and the middleware's checks.
            "signed_in": _median_ms(lambda: patients[0].get("/bench/ok/"), 200),
            "post": _median_ms(wizard_post, 302),
            "queue": _median_ms(lambda: physician.get("/staff/queue/"), 200),
        }
        results["get"], results["check_in"] = _paired_median_ms(
            wizard_get, lambda: check_in_client.get(check_in_page)
        )
        results["screening"], results["session"] = _paired_median_ms(
            lambda: physician.get(screening_page), lambda: physician.get(session_page)
        )
        return results


LABELS = {
    "get": "wizard page GET (PHQ-9)",
    "post": "wizard page POST (save PHQ-9, 302)",
    "queue": f"physician queue, first page of {queue.SCREENINGS:,}",
    "screening": "physician's screening page (caution flags, medicines)",
}
HELD_LABELS = {
    "check_in": ("check-in page GET (PHQ-9)", "the wizard page"),
    "session": (
        "treatment session page (physician: readiness, vitals, what changed)",
        "the screening page",
    ),
}


def _queries(count: int) -> str:
    return f"{count} query" if count == 1 else f"{count} queries"


def run() -> list[Row]:
    queue.seed()
    results = measure()
    bare_ms, bare_queries = results["bare"]
    rows: list[Row] = [
        (
            "page: bare Django view /bench/ok/, in process, median",
            f"{bare_ms:.2f} ms, {_queries(bare_queries)}",
            "the floor",
            None,
        )
    ]
    ms, queries = results["signed_in"]
    rows.append(
        (
            "page: the same bare view, signed in as a patient, in process, median",
            f"{ms:.2f} ms = {ms / bare_ms:.0f}x bare, {_queries(queries)}",
            "the signed-in floor",
            None,
        )
    )
    for key, label in LABELS.items():
        ms, queries = results[key]
        audit = AUDIT_WRITE_QUERIES.get(key, 0)
        rows.append(
            (
                f"page: {label}, in process, median",
                f"{ms:.1f} ms = {ms / bare_ms:.0f}x bare, {_queries(queries)}"
                + (f" ({audit} of them the audit record)" if audit else ""),
                f"<= {QUERY_BUDGETS[key]} queries",
                queries <= QUERY_BUDGETS[key],
            )
        )
    for key, (label, other) in HELD_LABELS.items():
        ms, queries = results[key]
        their_key = HELD_TO[key]
        their_ms, _ = results[their_key]
        budget = QUERY_BUDGETS[their_key]
        ceiling = their_ms * (1 + TIME_MARGIN)
        rows.append(
            (
                f"page: {label}, in process, median",
                f"{ms:.1f} ms = {ms / their_ms:.2f}x {other}, {_queries(queries)}",
                f"<= {budget} queries, <= {ceiling:.1f} ms ({other} +{TIME_MARGIN:.0%})",
                queries <= budget and ms <= ceiling,
            )
        )
    return rows
