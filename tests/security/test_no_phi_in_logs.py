"""No patient data in logs, in emails to staff, or on error pages.

A patient is invited, accepts, logs in and fills in the whole intake with a unique marker
string in every free-text answer (name, email, medication names, doses and frequencies,
recreational substances, allergies, "other" answers, questions to the clinic); a physician
works the screening (queue, search by name, screening page, print view, acknowledgements,
a decision asking for more information, the patient's resubmission, a clearing decision and
an amendment, with markers in every note); a clinic admin reads the audit log. Along the way
come a refused page, an oversized body, a 403, 404s and an unexpected 500, with markers in
their query strings and bodies.

Everything logged (a DEBUG-level handler on the root logger and on every logger that exists,
plus pytest's caplog and the captured stdout/stderr), every email and every error page is
then searched for every marker.

SQL: with DEBUG off, as in production and in these tests, Django logs no SQL at all. With
DEBUG on it logs every statement with its parameters (patients' answers) at DEBUG on
"django.db.backends"; settings.LOGGING caps that logger at INFO, which the last test checks
with DEBUG on and the root logger at DEBUG.
"""

import copy
import io
import logging
import logging.config
import re
import uuid

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.template import Context, Template
from django.test import Client
from django.utils.log import AdminEmailHandler, configure_logging

from screening.models import Flag, Screening, User
from screening.services.intake import start_screening
from tests.intake_helpers import fill_intake, page_post_data
from tests.logins import log_in_staff

pytestmark = pytest.mark.django_db

PASSWORD = "amber meadow lantern 2471"


def marker(label: str) -> str:
    return f"Mk{label}{uuid.uuid4().hex[:10]}"


# Who the patient is: may appear in the invitation email sent to the patient, nowhere else.
IDENTITY = {"name": f"Nadia {marker('Surname')}", "email": f"{marker('mail').lower()}@example.com"}
# What the patient told the clinic: may appear on the pages made to show it, nowhere else.
HEALTH = {
    label: marker(label)
    for label in (
        "PsychOther",
        "RecName",
        "RecDose",
        "RecFreq",
        "MedName",
        "MedDose",
        "MedFreq",
        "Med2Dose",
        "Allergy",
        "Question",
        "QuestionAgain",
        "BadHeight",
        "HugeBody",
        "AckNote",
        "RefusedOverride",
        "StaleReason",
        "MessageToPatient",
        "Conditions",
        "Override",
        "AmendReason",
        "AuditWho",
        "QueryString",
        "ForbiddenQuery",
        "Crash",
    )
}
ALL_MARKERS = {**IDENTITY, **HEALTH}
TYPED_IN_PATH = marker("TypedPath")

INTAKE_ANSWERS = {
    "sex_at_birth": "female",
    "can_be_pregnant": "yes",
    "pregnant": "yes",
    "psych_history": ["depression", "other"],
    "psych_history_other": HEALTH["PsychOther"],
    "recreational_substances-rows": "1",
    "recreational_substances-none": "",
    "recreational_substances-0-name": HEALTH["RecName"],
    "recreational_substances-0-dose": HEALTH["RecDose"],
    "recreational_substances-0-frequency": HEALTH["RecFreq"],
    "medications-rows": "2",
    "medications-none": "",
    "medications-0-name": HEALTH["MedName"],
    "medications-0-dose": HEALTH["MedDose"],
    "medications-0-frequency": HEALTH["MedFreq"],
    "medications-1-name": "Sertraline",
    "medications-1-dose": HEALTH["Med2Dose"],
    "medications-1-frequency": "daily",
    "drug_allergies": "yes",
    "drug_allergy_list": HEALTH["Allergy"],
    "suicide_thoughts": "yes",
    "suicide_intent": "yes",
    "questions_for_clinic": HEALTH["Question"],
}

WATCHED_LOGGERS = [
    "",
    "django",
    "django.request",
    "django.security",
    "django.security.csrf",
    "django.security.RequestDataTooBig",
    "django.security.TooManyFieldsSent",
    "django.server",
    "django.template",
    "django.db.backends",
    "django.utils.autoreload",
    "axes",
    "axes.watch_login",
    "django_otp",
    "csp",
    "screening",
    "screening.evaluation",
    "py.warnings",
]


class Everything(logging.Handler):
    """Keeps every record, formatted the way a verbose log file would write it."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s %(name)s %(pathname)s:%(lineno)d %(funcName)s "
                "%(message)s"
            )
        )
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))
        self.lines.append(repr(record.args))
        if record.exc_info and record.exc_info[1] is not None:
            self.lines.append(repr(record.exc_info[1].args))


# Loggers that settings.LOGGING pins above DEBUG because at DEBUG they write patient data
# (SQL parameters, template contexts) keep that level; test_*_even_with_debug_on checks it.
PINNED = {
    name: logging.getLevelName(config["level"])
    for name, config in django_settings.LOGGING["loggers"].items()
    if name != "django" and "level" in config
}


@pytest.fixture
def everything_logged():
    """A DEBUG handler on the root logger and on every logger that exists now."""
    handler = Everything()
    names = set(WATCHED_LOGGERS) | set(logging.Logger.manager.loggerDict)
    saved = []
    for name in names:
        logger = logging.getLogger(name)
        if not isinstance(logger, logging.Logger):  # a PlaceHolder
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


def assert_no_markers(where: str, text: str, markers: dict) -> None:
    leaked = {label: value for label, value in markers.items() if value in text}
    assert not leaked, f"patient data in {where}: {sorted(leaked)}"


def test_a_whole_screening_leaves_no_patient_data_in_logs_emails_or_error_pages(
    physician,
    clinic_admin,
    default_version,
    everything_logged,
    caplog,
    capfd,
    settings,
    django_capture_on_commit_callbacks,
    monkeypatch,
):
    caplog.set_level(logging.DEBUG)
    # Error emails, if ADMINS were ever set, must not carry request bodies either.
    settings.ADMINS = [("Operations", "ops@example.com")]
    error_pages: list[str] = []

    # A physician invites the patient; the link reaches only the patient's inbox.
    staff = Client()
    log_in_staff(staff, physician)
    response = staff.post(
        "/staff/invitations/", {"full_name": IDENTITY["name"], "email": IDENTITY["email"]}
    )
    assert response.status_code == 302
    (invitation_email,) = mail.outbox
    link = re.search(r"https?://[^/\s]+(/invitation/\?token=[\w-]+)", invitation_email.body)[1]

    # The patient accepts, logs out, gets the password wrong once, then logs in.
    patient_client = Client()
    assert patient_client.get(link, follow=True).status_code == 200
    response = patient_client.post("/invitation/", {"password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 302
    patient_client.post("/logout/")
    response = patient_client.post(
        "/login/", {"username": IDENTITY["email"], "password": HEALTH["Crash"]}
    )
    assert response.status_code == 200
    response = patient_client.post(
        "/login/", {"username": IDENTITY["email"].upper(), "password": PASSWORD}
    )
    assert response.status_code == 302
    patient = User.objects.get(email=IDENTITY["email"])
    assert patient.full_name == IDENTITY["name"]

    # The intake, with a refused page and an oversized body on the way.
    patient_client.post("/screenings/start/")
    screening = Screening.objects.get(patient=patient)
    about_you = f"/screenings/{screening.pk}/page/about_you/"
    html = patient_client.get(about_you).content.decode()
    refused = patient_client.post(
        about_you, page_post_data(html, screening, {"height_cm": HEALTH["BadHeight"]})
    )
    assert refused.status_code == 200
    too_big = patient_client.post(
        about_you, {"height_cm": HEALTH["HugeBody"] * 200_000, "presented": "height_cm"}
    )
    assert too_big.status_code == 400
    error_pages.append(too_big.content.decode())
    fill_intake(patient_client, screening, INTAKE_ANSWERS)
    with django_capture_on_commit_callbacks(execute=True):
        response = patient_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    assert response.status_code == 302
    screening.refresh_from_db()
    assert screening.level == "urgent"

    # The physician works the screening.
    assert staff.get("/staff/queue/").status_code == 200
    found = staff.get("/staff/queue/", {"q": IDENTITY["name"]})
    assert IDENTITY["name"] in found.content.decode()
    page = staff.get(f"/staff/screenings/{screening.pk}/")
    assert HEALTH["MedName"] in page.content.decode()
    assert staff.get(f"/staff/screenings/{screening.pk}/print/").status_code == 200
    acknowledge_all(staff, screening)
    screening.refresh_from_db()
    refused_decision = staff.post(
        f"/staff/screenings/{screening.pk}/decide/",
        {
            "outcome": "cleared_with_conditions",
            "override_reason": HEALTH["RefusedOverride"],
            "lock_version": screening.lock_version,
        },
    )
    assert refused_decision.status_code == 200
    stale = staff.post(
        f"/staff/screenings/{screening.pk}/decide/",
        {
            "outcome": "not_a_candidate",
            "reason": HEALTH["StaleReason"],
            "lock_version": screening.lock_version - 1,
        },
    )
    assert stale.status_code == 302
    asked = staff.post(
        f"/staff/screenings/{screening.pk}/decide/",
        {
            "outcome": "more_information_needed",
            "message_to_patient": HEALTH["MessageToPatient"],
            "lock_version": screening.lock_version,
        },
    )
    assert asked.status_code == 302

    # The patient reads the message, changes an answer and resubmits.
    home = patient_client.get("/screenings/")
    assert HEALTH["MessageToPatient"] in home.content.decode()
    fill_intake(patient_client, screening, INTAKE_ANSWERS)
    consent = f"/screenings/{screening.pk}/page/consent/"
    html = patient_client.get(consent).content.decode()
    patient_client.post(
        consent, page_post_data(html, screening, {"questions_for_clinic": HEALTH["QuestionAgain"]})
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = patient_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    assert response.status_code == 302

    # Cleared with conditions, then amended.
    acknowledge_all(staff, screening)
    screening.refresh_from_db()
    cleared = staff.post(
        f"/staff/screenings/{screening.pk}/decide/",
        {
            "outcome": "cleared_with_conditions",
            "conditions": HEALTH["Conditions"],
            "override_reason": HEALTH["Override"],
            "lock_version": screening.lock_version,
        },
    )
    assert cleared.status_code == 302, cleared.content.decode()[:2000]
    screening.refresh_from_db()
    amended = staff.post(
        f"/staff/screenings/{screening.pk}/decide/",
        {
            "outcome": "not_a_candidate",
            "reason": HEALTH["AmendReason"],
            "lock_version": screening.lock_version,
        },
    )
    assert amended.status_code == 302
    assert screening.decisions.count() == 3

    # The clinic admin reads the audit log.
    admin = Client()
    log_in_staff(admin, clinic_admin)
    assert admin.get("/staff/audit/").status_code == 200
    assert admin.get("/staff/audit/", {"who": HEALTH["AuditWho"]}).status_code == 200
    assert admin.get("/staff/audit/", {"who": IDENTITY["email"]}).status_code == 200

    # Error pages with patient data in the query string.
    forbidden = patient_client.get("/staff/queue/", {"q": HEALTH["ForbiddenQuery"]})
    assert forbidden.status_code == 403
    missing = staff.get(f"/staff/screenings/{uuid.uuid4()}/", {"q": HEALTH["QueryString"]})
    assert missing.status_code == 404
    other_patients = patient_client.get(
        f"/screenings/{uuid.uuid4()}/review/", {"name": IDENTITY["name"]}
    )
    assert other_patients.status_code == 404
    error_pages += [r.content.decode() for r in (forbidden, missing, other_patients)]
    # A path is logged with a 4xx ("Not Found: /path/"), so patient data must never be put in
    # one: every URL of this app is made of UUIDs and fixed words, and free text travels in
    # bodies and query strings. A typed-in path is at least not echoed on the error page.
    typed = patient_client.get(f"/screenings/{TYPED_IN_PATH}/")
    assert typed.status_code == 404
    assert TYPED_IN_PATH not in typed.content.decode()

    # An unexpected error while saving a page full of answers.
    def broken_save_page(**kwargs):
        raise RuntimeError("simulated failure while saving a page")

    monkeypatch.setattr("screening.intake.wizard.save_page", broken_save_page)
    Screening.objects.filter(pk=screening.pk).update(status=Screening.Status.IN_PROGRESS)
    patient_client.raise_request_exception = False
    crashed = patient_client.post(
        consent,
        {"presented": "questions_for_clinic", "questions_for_clinic": HEALTH["Crash"]},
    )
    assert crashed.status_code == 500
    error_pages.append(crashed.content.decode())

    # Now search everything that was written down or sent.
    logged = "\n".join(everything_logged.lines)
    assert "simulated failure" in logged, "the handler did not see the 500 being logged"
    assert "Not Found" in logged
    assert_no_markers("the logs", logged, ALL_MARKERS)
    assert_no_markers("caplog", caplog.text, ALL_MARKERS)
    assert_no_markers(
        "caplog records", "\n".join(repr(r.args) for r in caplog.records), ALL_MARKERS
    )
    captured = capfd.readouterr()
    assert_no_markers("stdout", captured.out, ALL_MARKERS)
    assert_no_markers("stderr", captured.err, ALL_MARKERS)
    for page in error_pages:
        # The header of a page shows the signed-in person their own name, as every page does.
        assert_no_markers("an error page", page, HEALTH)

    invitations = [m for m in mail.outbox if m.subject.endswith("your pre-treatment questionnaire")]
    # The patient is told there is news (a request for more information, a decision): to
    # their own address, and nothing else of theirs, not even their name.
    notices = [
        m for m in mail.outbox if m.subject.endswith("there is news about your questionnaire")
    ]
    others = [m for m in mail.outbox if m not in invitations and m not in notices]
    assert [m.to for m in invitations] == [[IDENTITY["email"]]]
    assert_no_markers("the invitation email", email_text(invitations[0]), HEALTH)
    assert notices and all(m.to == [IDENTITY["email"]] for m in notices)
    for message in notices:
        assert_no_markers("the notice to the patient", message.subject + message.body, ALL_MARKERS)
    urgent = [m for m in others if "same-day review" in m.subject]
    assert len(urgent) == 2, [m.subject for m in mail.outbox]
    assert all(m.to == [physician.email] for m in urgent)
    for message in others:
        assert_no_markers(f"the email {message.subject!r}", email_text(message), ALL_MARKERS)
    assert not [m for m in others if "ops@example.com" in m.to], "an error email was sent"


def acknowledge_all(client, screening):
    for flag in Flag.objects.filter(screening=screening, acknowledgement__isnull=True):
        screening.refresh_from_db()
        response = client.post(
            f"/staff/screenings/{screening.pk}/flags/{flag.pk}/acknowledge/",
            {"note": HEALTH["AckNote"], "lock_version": screening.lock_version},
        )
        assert response.status_code == 302
    assert not Flag.objects.filter(screening=screening, acknowledgement__isnull=True).exists()
    # The note was stored, so its absence from the logs below means something.
    assert Flag.objects.filter(
        screening=screening, acknowledgement__note=HEALTH["AckNote"]
    ).exists()


def email_text(message) -> str:
    parts = [message.subject, message.body, " ".join(message.to), " ".join(message.cc)]
    parts += [str(content) for content, _ in getattr(message, "alternatives", [])]
    return "\n".join(parts)


def test_production_logging_sends_no_error_emails_and_caps_sql_logging():
    django_logger = logging.getLogger("django")
    assert not [h for h in django_logger.handlers if isinstance(h, AdminEmailHandler)]
    loggers = django_settings.LOGGING["loggers"]
    assert loggers["django"]["handlers"] == []
    assert logging.getLevelName(loggers["django.db.backends"]["level"]) > logging.DEBUG


def test_sql_and_template_contexts_stay_out_of_the_log_even_with_debug_on(
    client, patient, settings, default_version
):
    """DEBUG on and LOG_LEVEL=DEBUG, as someone chasing a bug might run it. Django would then
    log every SQL statement with its parameters, and every template variable that does not
    resolve with the page's whole context (the signed-in user, the answers)."""
    settings.DEBUG = True
    stream = io.StringIO()
    config = copy.deepcopy(django_settings.LOGGING)
    config["handlers"]["console"]["stream"] = stream
    config["root"]["level"] = "DEBUG"
    config["loggers"]["django"]["level"] = "DEBUG"
    secret = marker("DebugName")
    try:
        logging.config.dictConfig(config)
        patient.full_name = secret
        patient.save()
        client.force_login(patient)
        screening = start_screening(patient=patient)
        page = client.get(f"/screenings/{screening.pk}/page/about_you/")
        assert secret in page.content.decode()
        assert User.objects.filter(full_name=secret).exists()
        # A variable that does not resolve, on a page whose context holds patient data.
        Template("{{ answers.missing }}").render(Context({"answers": {"name": secret}}))
        logging.getLogger("django.request").debug("the handler works")
    finally:
        configure_logging(django_settings.LOGGING_CONFIG, django_settings.LOGGING)
    output = stream.getvalue()
    assert "the handler works" in output
    assert secret not in output
