"""HTTP benchmark: the app under gunicorn on PostgreSQL, loaded by wrk from a second process.

What runs is production's configuration: DEBUG off, a SECRET_KEY and ALLOWED_HOSTS for the
run, persistent database connections, gunicorn sync workers, manifest static files, every
middleware (CSRF, session time limits, the staff second factor, CSP, axes). bench.settings
adds only /bench/ok/, a bare view that gives the framework's own ceiling on this machine.
Requests carry `X-Forwarded-Proto: https`, as from the TLS proxy production sits behind.

Scenarios, each a warm-up, then 10 s at full load (wrk -t1 -c8: peak requests/s, p50, p99),
then 10 s paced to about 80% of that peak (p99 there; see Wrk.paced for how and what it
leaves out):

- bare: GET /bench/ok/, no session (the ceiling).
- wizard GET: the PHQ-9 page of a screening in progress, 16 signed-in patients in turn.
- wizard POST: a valid save of that page (session cookie, CSRF cookie and token, every
  question answered); each answer must be a 302 to the screening's resume URL.
- queue: the physician's review queue, first page of 50 rows, by a physician whose
  session has passed the second factor.

Then one worker alone serves mixed wizard GET/POST and queue requests; its resident memory
(VmRSS) is read after 1,000 and 5,000 requests (BENCH_MEMORY_REQUESTS=10000,50000 for the
targets' full span, about half an hour here).

Any response other than the expected one (a 403 for a bad CSRF token, a redirect to the
login or two-factor page, a 500) or any socket error stops the benchmark with the counts.
"""

import http.client
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.test.utils import override_settings

from bench.sessions import signed_in_session

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
LUA_SCRIPT = BENCH_DIR / "wrk" / "requests.lua"

# The server and wrk share this machine's CPUs (2 on the CI machine): one wrk thread with 8
# connections saturates the sync workers without taking more than it needs of a core.
WRK_THREADS = 1
WRK_CONNECTIONS = 8
WARMUP_SECONDS = 2
RUN_SECONDS = 10
CALIBRATION_SECONDS = 3
PACED_SHARE = 0.80
# Sync workers: one per CPU. 2, 3 and 4 workers were tried on the 2-CPU machine; 2 gave the
# best peaks (more workers only add context switches while wrk and PostgreSQL need the
# same CPUs). BENCH_HTTP_WORKERS overrides it.
WORKERS = int(os.environ.get("BENCH_HTTP_WORKERS") or os.cpu_count() or 2)

PATIENTS = 16  # sessions taken in turn, so concurrent saves rarely wait for the same row lock
WIZARD_SECTION = "mood"  # PHQ-9: ten questions and a follow-up revealed by the answers
QUEUE_ROWS = 50
PHYSICIAN_EMAIL = "bench-physician@example.com"
# Resident memory is read after each of these request counts. One worker serves about 35
# mixed requests a second here, so the targets' 10,000 and 50,000 take half an hour:
# `make bench` reads 1,000 and 5,000 (the same 1:5 span) and stays within a few minutes;
# BENCH_MEMORY_REQUESTS=10000,50000 make bench takes the full measurement.
MEMORY_CHECKPOINTS = tuple(
    int(count) for count in os.environ.get("BENCH_MEMORY_REQUESTS", "1000,5000").split(",")
)
MEMORY_CONNECTIONS = 4

Row = tuple[str, str, str, object]

# Lines printed under the table (how the figures were taken).
NOTES: list[str] = []


class BenchFailure(Exception):
    """The HTTP benchmark could not measure what it should (wrong responses, a dead server)."""


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: str = ""


@dataclass
class Scenario:
    key: str
    label: str
    requests: list[Request]
    expect: str  # statuses allowed, e.g. "200"
    redirect: str = ""  # Lua pattern every redirect's Location must match
    target_share: float | None = None  # of the bare view's peak


@dataclass
class WrkResult:
    requests: int
    seconds: float
    mean_ms: float
    p50_ms: float
    p99_ms: float
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


# The database ---------------------------------------------------------------------------


def _prepare_database():
    """Migrate, load the default content and the roles (all idempotent); returns the version."""
    from screening.selectors import current_version
    from screening.services.roles import ensure_roles

    call_command("migrate", verbosity=0, stdout=StringIO())
    call_command("load_default_content", verbosity=0, stdout=StringIO())
    ensure_roles()
    return current_version()


def _answer_pages(screening, *, stop_before: str | None = None) -> None:
    """Save page after page with the demo's calm answers, as the wizard would, through
    services.save_page; stop at `stop_before` or any page after it (or when all are done)."""
    from screening.demo import CALM_ANSWERS
    from screening.selectors import first_incomplete_section, visibility_for
    from screening.services.intake import save_page
    from screening.snapshots import questionnaire_for

    codes = [section.code for section in questionnaire_for(screening.version).sections]
    stop_at = set(codes[codes.index(stop_before) :]) if stop_before else set()
    for _ in range(60):
        section = first_incomplete_section(screening)
        if section is None or section.code in stop_at:
            return
        shown = visibility_for(screening).visible_in(section)
        missing = [q.code for q in shown if q.required and q.code not in CALM_ANSWERS]
        if missing:
            raise BenchFailure(f"no bench answer for required questions {missing}")
        save_page(
            screening=screening,
            section=section,
            answers={q.code: CALM_ANSWERS[q.code] for q in shown if q.code in CALM_ANSWERS},
            presented={q.code for q in shown},
        )
    raise BenchFailure(f"the intake did not reach {stop_before or 'the end'}")


def _patients_in_progress(count: int) -> list:
    """Patients whose open screening has every page before the PHQ-9 page saved."""
    from screening.models import User
    from screening.services.intake import start_screening

    screenings = []
    for index in range(count):
        email = f"bench-wizard-{index}@example.com"
        patient = User.objects.filter(email=email).first() or User.objects.create_user(
            email=email, password=None, full_name=f"Bench Wizard Patient {index}"
        )
        screening = start_screening(patient=patient)
        _answer_pages(screening, stop_before=WIZARD_SECTION)
        screenings.append(screening)
    return screenings


def _ensure_submitted(count: int) -> None:
    """At least `count` submitted screenings, so the queue's first page is full (the queue
    benchmark's 100,000 usually are there already)."""
    from screening.models import Screening, User
    from screening.services.intake import start_screening, submit_screening

    missing = count - Screening.objects.filter(status="submitted").count()
    for index in range(max(missing, 0)):
        patient = User.objects.create_user(
            email=f"bench-submitted-{secrets.token_hex(6)}@example.com",
            password=None,
            full_name=f"Bench Submitted Patient {index}",
        )
        screening = start_screening(patient=patient)
        _answer_pages(screening)
        submit_screening(screening=screening)


def _physician():
    from screening.models import PHYSICIAN_GROUP, User

    physician, _ = User.objects.get_or_create(
        email=PHYSICIAN_EMAIL, defaults={"full_name": "Bench Physician"}
    )
    physician.groups.add(Group.objects.get(name=PHYSICIAN_GROUP))
    return physician


# gunicorn -------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _server_environment(secret_key: str, static_root: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DEBUG", None)  # bench.settings turns it off
    env.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        SECRET_KEY=secret_key,
        ALLOWED_HOSTS="127.0.0.1",
        BENCH_DATABASE_URL=os.environ.get("BENCH_DATABASE_URL") or os.environ["DATABASE_URL"],
        BENCH_STATIC_ROOT=static_root,
        PYTHONUNBUFFERED="1",
    )
    return env


class Gunicorn:
    """gunicorn on a free loopback port; stopped on leaving the block, whatever happened."""

    def __init__(self, env: dict[str, str], workers: int, log_path: Path, port: int = 0):
        self.env = env
        self.workers = workers
        self.log_path = log_path
        # The same port for every server of a run: the POST bodies' Origin header names it.
        self.port = port or _free_port()
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> "Gunicorn":
        self.log = open(self.log_path, "ab")  # noqa: SIM115 (closed in stop)
        self.process = subprocess.Popen(  # noqa: S603 (fixed arguments, no shell)
            [
                sys.executable,
                "-m",
                "gunicorn",
                "clinic.wsgi:application",
                f"--bind=127.0.0.1:{self.port}",
                f"--workers={self.workers}",
                "--worker-class=sync",
                "--backlog=2048",
                "--timeout=60",
                "--graceful-timeout=10",
                "--log-level=warning",
            ],
            cwd=PROJECT_DIR,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _wait_until_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchFailure(
                    f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            try:
                status, _, _ = fetch(self.port, "GET", "/bench/ok/")
                if status == 200 and len(self.worker_pids()) == self.workers:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise BenchFailure(f"gunicorn did not answer within {timeout:.0f} s:\n{self.log_tail()}")

    def worker_pids(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: gunicorn's graceful shutdown
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self.log.closed:
            self.log.close()

    def log_tail(self) -> str:
        self.log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise BenchFailure(f"no VmRSS for process {pid}")


# Talking to the server before wrk does ---------------------------------------------------

PROXY_HEADERS = {"X-Forwarded-Proto": "https"}


def fetch(port: int, method: str, path: str, headers=None, body: str = ""):
    """One request, redirects not followed: (status, headers as a list of pairs, text)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(
            method, path, body=body or None, headers={**PROXY_HEADERS, **(headers or {})}
        )
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read().decode()
    finally:
        connection.close()


def _header(headers, name: str) -> str:
    return next((value for key, value in headers if key.lower() == name.lower()), "")


def _set_cookie(headers, name: str) -> str | None:
    for key, value in headers:
        if key.lower() == "set-cookie" and value.startswith(f"{name}="):
            return value.split(";", 1)[0].split("=", 1)[1]
    return None


def _form_pairs(question, stored) -> list[tuple[str, str]]:
    """The POST fields a browser sends for one stored answer (the kinds this page uses)."""
    if isinstance(stored, list):
        return [(question.code, str(item)) for item in stored]
    if isinstance(stored, dict) and "systolic" in stored:
        return [
            (f"{question.code}_systolic", str(stored["systolic"])),
            (f"{question.code}_diastolic", str(stored["diastolic"])),
        ]
    if isinstance(stored, dict):
        raise BenchFailure(f"the bench cannot post {question.code} ({question.kind})")
    return [(question.code, str(stored))]


def _wizard_requests(port: int, screening, session_key: str) -> tuple[Request, Request]:
    """A patient's GET and a valid POST of the PHQ-9 page, taken from the served page.

    Saves the page the way a patient does (the first save reveals a follow-up question and
    comes back to the page), until the save redirects to the resume URL, which is what
    every POST under load must answer.
    """
    from screening.demo import CALM_ANSWERS
    from screening.snapshots import questionnaire_for

    questions = questionnaire_for(screening.version).questions_by_code
    path = f"/screenings/{screening.pk}/page/{WIZARD_SECTION}/"
    resume = f"/screenings/{screening.pk}/"
    cookie = f"{settings.SESSION_COOKIE_NAME}={session_key}"
    csrf_cookie = None
    origin = f"https://127.0.0.1:{port}"
    for _ in range(3):
        status, headers, html = fetch(port, "GET", path, {"Cookie": cookie})
        if status != 200:
            raise BenchFailure(f"wizard page GET answered {status} {_header(headers, 'Location')}")
        if csrf_cookie is None:
            csrf_cookie = _set_cookie(headers, settings.CSRF_COOKIE_NAME)
            if csrf_cookie is None:
                raise BenchFailure("the wizard page set no CSRF cookie")
            cookie += f"; {settings.CSRF_COOKIE_NAME}={csrf_cookie}"
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)
        pairs = [("csrfmiddlewaretoken", token)]
        for code in re.findall(r'name="presented" value="([^"]+)"', html):
            pairs.append(("presented", code))
            pairs += _form_pairs(questions[code], CALM_ANSWERS[code])
        body = urlencode(pairs)
        post_headers = {
            "Cookie": cookie,
            "Content-Type": "application/x-www-form-urlencoded",
            "Origin": origin,
        }
        status, headers, html = fetch(port, "POST", path, post_headers, body)
        location = _header(headers, "Location")
        if status == 302 and location == resume:
            get = Request("GET", path, {**PROXY_HEADERS, "Cookie": cookie})
            return get, Request("POST", path, {**PROXY_HEADERS, **post_headers}, body)
        if status != 302 or location != path:
            raise BenchFailure(f"wizard page POST answered {status} {location}: {html[:500]}")
    raise BenchFailure("the wizard page was never complete after three saves")


def _queue_request(port: int, session_key: str) -> Request:
    cookie = f"{settings.SESSION_COOKIE_NAME}={session_key}"
    status, headers, html = fetch(port, "GET", "/staff/queue/", {"Cookie": cookie})
    if status != 200:
        raise BenchFailure(
            f"the physician's queue answered {status} {_header(headers, 'Location')} "
            "(is the session's second factor still accepted?)"
        )
    rows = len(re.findall(r'href="/staff/screenings/[0-9a-f-]+/"', html))
    if rows != QUEUE_ROWS:
        raise BenchFailure(f"the queue showed {rows} rows, not {QUEUE_ROWS}")
    return Request("GET", "/staff/queue/", {**PROXY_HEADERS, "Cookie": cookie})


# wrk ------------------------------------------------------------------------------------


def find_wrk() -> str | None:
    """wrk's path; installed with apt-get when missing and running as root."""
    wrk = shutil.which("wrk")
    apt_get = shutil.which("apt-get")
    if wrk is None and os.geteuid() == 0 and apt_get:
        print("wrk is missing: apt-get install -y wrk", flush=True)
        install = [apt_get, "install", "-y", "-q", "wrk"]
        if subprocess.run(install, check=False).returncode != 0:  # noqa: S603 (fixed arguments)
            subprocess.run([apt_get, "update", "-q"], check=False)  # noqa: S603
            subprocess.run(install, check=False)  # noqa: S603
        wrk = shutil.which("wrk")
    return wrk


def _lua_string(text: str) -> str:
    return (
        '"'
        + "".join(
            chr(byte) if 32 <= byte < 127 and byte not in (34, 92) else f"\\{byte:03d}"
            for byte in text.encode()
        )
        + '"'
    )


def _write_requests(path: Path, requests: list[Request]) -> None:
    lines = ["return {"]
    for request in requests:
        headers = ", ".join(
            f"[{_lua_string(name)}] = {_lua_string(value)}"
            for name, value in request.headers.items()
        )
        body = f", body = {_lua_string(request.body)}" if request.body else ""
        lines.append(
            f"  {{method = {_lua_string(request.method)}, path = {_lua_string(request.path)}, "
            f"headers = {{{headers}}}{body}}},"
        )
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")


class Wrk:
    def __init__(self, binary: str, workdir: Path):
        self.binary = binary
        self.workdir = workdir

    def run(
        self,
        port: int,
        scenario: Scenario,
        *,
        seconds: int,
        connections: int = WRK_CONNECTIONS,
        delay_ms: float = 0.0,
        stop_after: int = 0,
    ) -> WrkResult:
        requests_file = self.workdir / f"{scenario.key}.lua"
        _write_requests(requests_file, scenario.requests)
        env = {
            **os.environ,
            "BENCH_WRK_REQUESTS": str(requests_file),
            "BENCH_WRK_EXPECT": scenario.expect,
            "BENCH_WRK_REDIRECT": scenario.redirect,
            "BENCH_WRK_DELAY_MS": f"{delay_ms:.3f}",
            "BENCH_WRK_STOP_AFTER": str(stop_after),
        }
        command = [
            self.binary,
            f"--threads={WRK_THREADS}",
            f"--connections={connections}",
            f"--duration={seconds}s",
            "--timeout=5s",
            "--latency",
            f"--script={LUA_SCRIPT}",
            f"http://127.0.0.1:{port}/",
        ]
        done = subprocess.run(  # noqa: S603 (fixed arguments, no shell)
            command, env=env, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
        line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_JSON ")), None)
        if done.returncode != 0 or line is None:
            raise BenchFailure(
                f"wrk failed ({done.returncode}) on {scenario.label}:\n{done.stdout}{done.stderr}"
            )
        data = json.loads(line.removeprefix("BENCH_JSON "))
        errors = {name: count for name, count in data["socket_errors"].items() if count}
        if data["unexpected"] or data["non_2xx_3xx"] or errors or not data["responses"]:
            raise BenchFailure(
                f"{scenario.label}: a response other than the expected {scenario.expect} "
                f"({data['first_unexpected'] or '-'}); wrk stopped there. Statuses: "
                f"{data['statuses']} in {data['responses']} responses; wrk's non-2xx/3xx "
                f"count {data['non_2xx_3xx']}; socket errors {errors or 'none'}"
            )
        latency = data["latency_us"]
        return WrkResult(
            requests=data["requests"],
            seconds=data["duration_us"] / 1e6,
            mean_ms=latency["mean"] / 1000,
            p50_ms=latency["p50"] / 1000,
            p99_ms=latency["p99"] / 1000,
            statuses=data["statuses"],
        )

    def paced(self, port: int, scenario: Scenario, peak: WrkResult) -> WrkResult:
        """A run at about PACED_SHARE of `peak`: one connection per worker, each pausing
        before each request (bench/wrk/requests.lua).

        wrk cannot hold a request rate (wrk2 can, but it is not packaged in Debian), and
        more connections than workers cannot be paced: wrk opens the connection and then
        pauses, and a sync worker that has accepted it sits idle until the request comes
        (the reason production puts a buffering proxy in front). With one connection per
        worker no request waits for a worker, so this p99 is the response time with the
        CPUs at about 80% load (wrk and PostgreSQL included), without the queueing that
        random arrivals in an open loop would add.

        With c connections, a mean pause d and a mean response time r, the rate is
        c / (d + r). The first guess takes r from the peak run (c8 / rate at peak is the
        time a worker spends per request); short calibration runs then correct d from the
        cycle time they observe.
        """
        connections = WORKERS
        target = PACED_SHARE * peak.rate
        cycle_ms = connections * 1000 / target
        delay_ms = max(cycle_ms - connections * 1000 / peak.rate, 0.05)
        for _ in range(3):
            probe = self.run(
                port,
                scenario,
                seconds=CALIBRATION_SECONDS,
                connections=connections,
                delay_ms=delay_ms,
            )
            if abs(probe.rate / target - 1) < 0.03:
                break
            response_ms = connections * 1000 / probe.rate - delay_ms
            delay_ms = max(cycle_ms - response_ms, 0.05)
        return self.run(
            port, scenario, seconds=RUN_SECONDS, connections=connections, delay_ms=delay_ms
        )


# The run --------------------------------------------------------------------------------


def _skipped(reason: str) -> list[Row]:
    return [("http: wizard, queue and bare view under gunicorn + wrk", reason, "-", "SKIP")]


def _collectstatic(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity=0"],
        cwd=PROJECT_DIR,
        env=env,
        check=True,
    )


def run() -> list[Row]:
    wrk_binary = find_wrk()
    if wrk_binary is None:
        print(
            "\nHTTP benchmark skipped: wrk is not installed. Install it with "
            "`sudo apt-get install wrk` (Debian/Ubuntu) and run `make bench` again.\n",
            file=sys.stderr,
        )
        return _skipped("skipped: wrk not installed (apt-get install wrk)")

    _prepare_database()
    screenings = _patients_in_progress(PATIENTS)
    _ensure_submitted(QUEUE_ROWS)
    physician = _physician()
    secret_key = secrets.token_urlsafe(50)
    with override_settings(SECRET_KEY=secret_key):  # the server's key signs the sessions
        patient_sessions = [signed_in_session(s.patient, staff=False) for s in screenings]
        staff_session = signed_in_session(physician, staff=True)
    try:
        with tempfile.TemporaryDirectory(prefix="screening-bench-") as tmp:
            results, memory, mixed_rate = _serve_and_load(
                wrk_binary, Path(tmp), secret_key, screenings, patient_sessions, staff_session
            )
    finally:
        Session.objects.filter(session_key__in=[*patient_sessions, staff_session]).delete()
    NOTES.extend(_notes(wrk_binary, mixed_rate, memory))
    return _rows(results, memory)


def _serve_and_load(wrk_binary, workdir, secret_key, screenings, patient_sessions, staff_session):
    env = _server_environment(secret_key, str(workdir / "static"))
    _collectstatic(env)
    wrk = Wrk(wrk_binary, workdir)
    port = _free_port()
    with Gunicorn(env, WORKERS, workdir / "gunicorn.log", port) as server:
        scenarios = _scenarios(server.port, screenings, patient_sessions, staff_session)
        results = {}
        for scenario in scenarios.values():
            print(f"  http: {scenario.label} ...", flush=True)
            wrk.run(server.port, scenario, seconds=WARMUP_SECONDS)
            peak = wrk.run(server.port, scenario, seconds=RUN_SECONDS)
            paced = wrk.paced(server.port, scenario, peak)
            results[scenario.key] = (scenario, peak, paced)
            print(
                f"    peak {peak.rate:,.0f} req/s (p50 {_ms(peak.p50_ms)}, p99 "
                f"{_ms(peak.p99_ms)}); paced {paced.rate:,.0f} req/s (p99 {_ms(paced.p99_ms)})",
                flush=True,
            )
    print("  http: one worker's memory, mixed requests ...", flush=True)
    with Gunicorn(env, 1, workdir / "gunicorn-memory.log", port) as server:
        memory, mixed_rate = _memory(server, wrk, scenarios)
    return results, memory, mixed_rate


def _scenarios(port, screenings, patient_sessions, staff_session) -> dict[str, Scenario]:
    gets, posts = [], []
    for screening, session_key in zip(screenings, patient_sessions, strict=True):
        get, post = _wizard_requests(port, screening, session_key)
        gets.append(get)
        posts.append(post)
    queue = _queue_request(port, staff_session)
    bare = Request("GET", "/bench/ok/", dict(PROXY_HEADERS))
    return {
        "bare": Scenario("bare", "bare Django view /bench/ok/ (ceiling)", [bare], "200"),
        "get": Scenario(
            "get", "wizard page GET (PHQ-9, screening in progress)", gets, "200", "", 0.15
        ),
        "post": Scenario(
            "post",
            "wizard page POST (save PHQ-9, CSRF, 302)",
            posts,
            "302",
            "^/screenings/[%x%-]+/$",
            0.10,
        ),
        "queue": Scenario(
            "queue", f"physician queue, {QUEUE_ROWS} rows (2FA session)", [queue], "200", "", 0.08
        ),
    }


def _memory(server: Gunicorn, wrk: Wrk, scenarios: dict[str, Scenario]):
    """VmRSS of the only worker after each MEMORY_CHECKPOINTS count of mixed requests
    (wizard GET, wizard POST, queue in turn); returns the readings and the request rate."""
    mixed = []
    for get, post in zip(scenarios["get"].requests, scenarios["post"].requests, strict=True):
        mixed += [get, post, scenarios["queue"].requests[0]]
    scenario = Scenario(
        "mixed", "mixed wizard GET/POST and queue", mixed, "200,302", "^/screenings/[%x%-]+/$"
    )
    (worker,) = server.worker_pids()
    served, readings, seconds = 0, [], 0.0
    for checkpoint in MEMORY_CHECKPOINTS:
        result = wrk.run(
            server.port,
            scenario,
            seconds=max(120, (checkpoint - served) // 5),  # a bound; it stops at the count
            connections=MEMORY_CONNECTIONS,
            stop_after=checkpoint - served,
        )
        served += result.requests
        seconds += result.seconds
        if server.worker_pids() != [worker]:
            raise BenchFailure("the gunicorn worker was replaced during the memory run")
        readings.append((served, rss_kib(worker)))
        print(
            f"    {served:,} requests ({result.rate:,.0f} req/s): RSS {readings[-1][1] / 1024:.1f} MB",
            flush=True,
        )
    return readings, served / seconds


def _ms(value: float) -> str:
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _rows(results, memory) -> list[Row]:
    bare_rate = results["bare"][1].rate
    rows: list[Row] = []
    for scenario, peak, _ in results.values():
        figure = f"{peak.rate:,.0f} req/s, p50 {_ms(peak.p50_ms)}, p99 {_ms(peak.p99_ms)}"
        if scenario.target_share is None:
            rows.append((f"http: {scenario.label}, peak", figure, "the ceiling", None))
            continue
        share = peak.rate / bare_rate
        rows.append(
            (
                f"http: {scenario.label}, peak",
                f"{figure} = {share:.0%} of bare",
                f">= {scenario.target_share:.0%} of bare",
                share >= scenario.target_share,
            )
        )
    for scenario, peak, paced in results.values():
        rows.append(
            (
                f"http: {scenario.label}, p99 at ~80% of peak",
                f"{_ms(paced.p99_ms)} at {paced.rate:,.0f} req/s ({paced.rate / peak.rate:.0%})",
                "p99 < 100 ms",
                paced.p99_ms < 100,
            )
        )
    (first_count, first_kib), (last_count, last_kib) = memory[0], memory[-1]
    growth = last_kib / first_kib - 1
    rows.append(
        (
            f"http: one worker's RSS after {first_count:,} / {last_count:,} mixed requests",
            f"{first_kib / 1024:.0f} MB / {last_kib / 1024:.0f} MB",
            "< 150 MB",
            max(kib for _, kib in memory) < 150 * 1024,
        )
    )
    rows.append(
        (
            f"http: RSS growth from {first_count:,} to {last_count:,} requests",
            f"{growth:+.1%}",
            "< 10%",
            growth < 0.10,
        )
    )
    return rows


def _notes(wrk_binary: str, mixed_rate: float, memory) -> list[str]:
    import gunicorn

    from screening.models import Screening

    submitted = Screening.objects.filter(status="submitted").count()
    wrk_version = subprocess.run(  # noqa: S603 (fixed arguments, no shell)
        [wrk_binary, "--version"], capture_output=True, text=True, check=False
    ).stdout.split(" [")[0]
    return [
        f"HTTP: gunicorn {gunicorn.__version__}, {WORKERS} sync workers, DEBUG off, "
        f"CONN_MAX_AGE 600, 127.0.0.1; {wrk_version}, -t{WRK_THREADS} -c{WRK_CONNECTIONS}, "
        f"{RUN_SECONDS} s per run after {WARMUP_SECONDS} s of warm-up.",
        f"wrk, gunicorn and PostgreSQL share the same {os.cpu_count()} CPUs, so every HTTP "
        "figure is lower than the server alone would reach; the bare view's most, as wrk's "
        "share of the CPUs grows with the request rate.",
        f"~80% of peak: wrk cannot hold a rate (wrk2 can; not in Debian), so {WORKERS} "
        "connections, one per worker, pause before each request (pauses calibrated to the "
        "peak; the achieved rate is shown). No request waits for a worker, so that p99 is the "
        "response time at ~80% load without the queueing random arrivals would add. More "
        "connections cannot be paced: wrk connects, then pauses, and a sync worker waits on "
        "the idle connection.",
        f"The queue's first page is read from {submitted:,} submitted screenings (the queue "
        "benchmark's); pages are found by keyset, so nothing counts them.",
        f"Memory: one sync worker alone serving wizard GET, wizard POST and queue in turn "
        f"({mixed_rate:,.0f} req/s); VmRSS after "
        + ", ".join(f"{count:,} requests {kib / 1024:.1f} MB" for count, kib in memory)
        + "."
        + (
            ""
            if MEMORY_CHECKPOINTS == (10_000, 50_000)
            else " The targets name 10,000 and 50,000 requests, which take about half an hour "
            "here: BENCH_MEMORY_REQUESTS=10000,50000 make bench."
        ),
    ]
