"""No secret in any log line: invitation and password-reset tokens never reach a log.

A full invitation (a physician invites, the worker sends, the patient opens the link and
sets a password) and a full password reset (ask, the worker sends, open the link, choose a
new password) run with a DEBUG handler on every logger. Every request they make is also
written as an access-log line the way production writes it (gunicorn with
`clinic.gunicorn_conf`: its format and its logger class) and the way the development server
writes it (Django's runserver request handler, through settings.LOGGING). The tokens, taken
from the emails, appear in none of it, nor in any URL the browser is sent to.

Nor in the database (the retest after issue 10, finding G): django-axes records a failed
login's query string and form, and the session-timeout redirect used to send an idle staff
member who opened a set-up link to /login/?next=<the link, token and all>.
"""

import datetime
import logging
import re
import time
from types import SimpleNamespace
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import pytest
from axes import models as axes_models
from django.conf import settings as django_settings
from django.core import mail
from django.core.servers.basehttp import WSGIRequestHandler
from django.test import Client
from gunicorn.config import Config
from gunicorn.glogging import Logger as StockGunicornLogger

from clinic import gunicorn_conf
from screening.models import User
from tests.conftest import PASSWORD
from tests.logins import authenticator_for, log_in_staff

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "willow harbour copper 5821"
# What an operator who ignored the README might configure: gunicorn's default format, plus
# the query string, the cookie, the environ and a redirect's Location.
CARELESS_FORMAT = (
    '%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s" %(q)s '
    "%({cookie}i)s %({query_string}e)s %({raw_uri}e)s %({location}o)s"
)


class Everything(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(f"{record.name} {record.getMessage()} {record.args!r}")
        if record.exc_info and record.exc_info[1] is not None:
            self.lines.append(repr(record.exc_info[1].args))


# Loggers settings.LOGGING pins above DEBUG keep their level (they would write SQL).
PINNED = {
    name: config["level"]
    for name, config in django_settings.LOGGING["loggers"].items()
    if name != "django" and "level" in config
}


@pytest.fixture
def every_logger():
    handler = Everything()
    names = {"", "django", "django.server", "django.request", "django_tasks", "django_tasks_db"}
    names |= set(logging.Logger.manager.loggerDict)
    saved = []
    for name in names:
        logger = logging.getLogger(name)
        if not isinstance(logger, logging.Logger):
            continue
        saved.append((logger, logger.level, logger.disabled))
        logger.setLevel(PINNED.get(name, logging.DEBUG))
        logger.disabled = False
        logger.addHandler(handler)
    yield handler
    for logger, level, disabled in saved:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.disabled = disabled


class AccessLog:
    """gunicorn's real logger, configured as clinic.gunicorn_conf says, writing to a file."""

    def __init__(self, path, access_log_format=gunicorn_conf.access_log_format, logger_class=None):
        config = Config()
        config.set("accesslog", gunicorn_conf.accesslog)
        config.set("access_log_format", access_log_format)
        config.set("logger_class", logger_class or gunicorn_conf.logger_class)
        self.path = path
        self.logger = config.logger_class(config)
        # gunicorn's access logger is one shared "gunicorn.access": give each its own file.
        self.logger.access_log = logging.Logger(f"access.{path.name}")
        file_handler = logging.FileHandler(path)
        file_handler.setFormatter(logging.Formatter("%(message)s"))
        self.logger.access_log.addHandler(file_handler)

    def write(self, response) -> None:
        environ = dict(response.wsgi_request.META)
        query = environ.get("QUERY_STRING", "")
        environ["RAW_URI"] = environ["PATH_INFO"] + (f"?{query}" if query else "")
        request_headers = [
            (key[5:].replace("_", "-"), value)
            for key, value in environ.items()
            if key.startswith("HTTP_") and isinstance(value, str)
        ]
        sent = SimpleNamespace(
            status=f"{response.status_code} {response.reason_phrase}",
            sent=len(response.content),
            headers=list(response.items()),
        )
        self.logger.access(
            sent, SimpleNamespace(headers=request_headers), environ, datetime.timedelta(0, 0, 1234)
        )

    def text(self) -> str:
        for handler in self.logger.access_log.handlers:
            handler.flush()
        return self.path.read_text()


def development_server_line(response) -> None:
    """What `manage.py runserver` logs for the request, through Django's own handler code."""
    meta = response.wsgi_request.META
    query = meta.get("QUERY_STRING", "")
    request_line = (
        f"{meta['REQUEST_METHOD']} {meta['PATH_INFO']}{'?' + query if query else ''} HTTP/1.1"
    )
    handler = SimpleNamespace(request=None, log_date_time_string=lambda: "29/Nov/2026 12:00:00")
    WSGIRequestHandler.log_message(
        handler, '"%s" %s %s', request_line, str(response.status_code), "-"
    )


class Browser(Client):
    """A test client whose every request is written to the access logs, redirects included."""

    def __init__(self, access_logs, **kwargs):
        super().__init__(**kwargs)
        self.access_logs = access_logs
        self.sent_to: list[str] = []  # every redirect's Location

    def request(self, **request):
        response = super().request(**request)
        for log in self.access_logs:
            log.write(response)
        development_server_line(response)
        if response.has_header("Location"):
            self.sent_to.append(response["Location"])
        return response


def test_tokens_from_a_full_invitation_and_a_full_reset_appear_in_no_log_line(
    physician, task_worker, every_logger, capfd, tmp_path
):
    production = AccessLog(tmp_path / "access.log")
    careless = AccessLog(tmp_path / "careless.log", access_log_format=CARELESS_FORMAT)
    logs = [production, careless]

    # The invitation: the physician invites, the worker sends, the patient accepts.
    staff = log_in_staff(Browser(logs), physician)
    staff.post(
        "/staff/invitations/", {"full_name": "Nadia Newpatient", "email": "nadia@example.com"}
    )
    task_worker()
    (invitation_email,) = mail.outbox
    link = re.search(r"https?://[^/\s]+(/invitation/\?token=([\w-]+))", invitation_email.body)
    invitation_path, invitation_token = link.groups()
    patient = Browser(logs)
    opened = patient.get(invitation_path)
    assert opened.status_code == 302
    assert patient.get(opened["Location"]).status_code == 200
    accepted = patient.post(
        opened["Location"], {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert accepted["Location"] == "/screenings/"
    assert User.objects.filter(email="nadia@example.com").exists()
    patient.post("/logout/")

    # The reset: she forgets it, asks, the worker sends, she chooses a new one.
    patient.post("/account/password-reset/", {"email": "nadia@example.com"})
    task_worker()
    reset_email = mail.outbox[-1]
    link = re.search(
        r"https?://[^/\s]+(/account/password-reset/link/\?uid=[\w-]+&token=([\w-]+))",
        reset_email.body,
    )
    reset_path, reset_token = link.groups()
    opened = patient.get(reset_path)
    assert opened["Location"] == "/account/password-reset/new-password/"
    assert "Choose a new password" in patient.get(opened["Location"]).text
    done = patient.post(
        opened["Location"],
        {"new_password1": NEW_PASSWORD + "!", "new_password2": NEW_PASSWORD + "!"},
    )
    assert done["Location"] == "/account/password-reset/done/"

    tokens = {"invitation": invitation_token, "reset": reset_token}
    stdout, stderr = capfd.readouterr()
    written = {
        "the gunicorn access log": production.text(),
        "a careless gunicorn format": careless.text(),
        "every logger": "\n".join(every_logger.lines),
        "standard output and error": stdout + stderr,
        "the redirects the browser was sent": "\n".join(staff.sent_to + patient.sent_to),
    }
    for where, text in written.items():
        leaked = [name for name, token in tokens.items() if token in text]
        assert not leaked, f"the {' and '.join(leaked)} token is in {where}"
    # The logs did record the flow (so the check above was not vacuous).
    assert '"GET /invitation/" 302' in written["the gunicorn access log"]
    assert '"POST /account/password-reset/new-password/" 302' in written["the gunicorn access log"]
    assert '"GET /account/password-reset/link/ HTTP/1.1" 302' in written["every logger"]


def test_the_same_flow_through_gunicorns_stock_logger_would_have_leaked(physician, tmp_path):
    """The check above can fail: gunicorn's own logger with its default format writes the
    token, which is why clinic.gunicorn_conf replaces it."""
    stock = AccessLog(
        tmp_path / "stock.log", access_log_format=CARELESS_FORMAT, logger_class=StockGunicornLogger
    )
    browser = Browser([stock])
    browser.get("/invitation/", {"token": "Tok3nThatMustNotBeLogged"})
    assert "Tok3nThatMustNotBeLogged" in stock.text()


def test_the_documented_gunicorn_settings_are_the_ones_tested():
    readme = (django_settings.BASE_DIR / "README.md").read_text()
    assert "gunicorn -c python:clinic.gunicorn_conf" in readme
    assert gunicorn_conf.logger_class == "clinic.access_log.PathOnlyAccessLogger"
    assert "%(r)s" not in gunicorn_conf.access_log_format


# The login records django-axes keeps -----------------------------------------------------------


def login_records() -> str:
    """Every field of every row django-axes keeps about logins."""
    rows = []
    for model in (axes_models.AccessAttempt, axes_models.AccessLog, axes_models.AccessFailureLog):
        rows.extend(str(row) for row in model.objects.values())
    return "\n".join(rows)


def idle(client: Client) -> None:
    """Make the client's session older than any idle limit."""
    session = client.session
    session["last_seen"] = int(time.time()) - 24 * 3600
    session.save()


def test_an_idle_staff_member_opening_a_set_up_link_leaves_its_token_in_no_login_url(
    physician, clinic_admin, django_capture_on_commit_callbacks
):
    # The physician's app is removed; they are emailed a set-up link.
    device = authenticator_for(physician)
    admin = log_in_staff(Client(), clinic_admin)
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})
    link = re.search(r"https?://[^/\s]+(/\S+)", mail.outbox[-1].body).group(1)
    (token,) = parse_qs(urlsplit(link).query)["token"]

    # Signed in with their password earlier, idle since, they open the link.
    browser = Client()
    browser.post("/login/", {"username": physician.email, "password": PASSWORD})
    idle(browser)
    opened = browser.get(link)
    assert opened.status_code == 302
    assert token not in unquote(opened["Location"])
    assert opened["Location"] == "/account/two-factor/set-up/"  # the link was opened
    # Wherever they are sent to log in again, a mistyped password records no token.
    login = browser.get(opened["Location"])
    assert login.status_code == 302 and token not in unquote(login["Location"])
    browser.post(login["Location"], {"username": physician.email, "password": "wrong password"})
    assert axes_models.AccessAttempt.objects.exists()
    assert token not in login_records()


def test_a_failed_login_keeps_no_token_from_its_next_address(physician):
    token = "Tok3nThatMustNotBeStored"
    for next_url in (
        f"/account/two-factor/set-up/link/?token={token}",
        f"/account/password-reset/link/?uid=MQ&token={token}",
        f"/invitation/?token={token}",
    ):
        Client().post(
            "/login/?" + urlencode({"next": next_url}),
            {"username": physician.email, "password": "wrong password", "next": next_url},
        )
    attempts = axes_models.AccessAttempt.objects.all()
    assert attempts.exists() and token not in login_records()


@pytest.mark.parametrize(
    "link",
    [
        "/invitation/?token=Tok3nThatMustNotBeStored",
        "/account/password-reset/link/?uid=MQ&token=Tok3nThatMustNotBeStored",
    ],
)
def test_an_idle_patient_opening_a_link_is_sent_on_without_the_token(patient, link):
    browser = Client()
    browser.force_login(patient)
    idle(browser)
    opened = browser.get(link)
    assert opened.status_code == 302
    assert "Tok3nThatMustNotBeStored" not in unquote(opened["Location"])
    assert not opened["Location"].startswith("/login/")


def test_the_timeout_redirect_keeps_the_page_asked_for(physician):
    browser = log_in_staff(Client(), physician)
    idle(browser)
    response = browser.get("/staff/queue/?level=urgent&token=x")
    assert response.status_code == 302
    assert parse_qs(urlsplit(response["Location"]).query)["next"] == ["/staff/queue/?level=urgent"]
