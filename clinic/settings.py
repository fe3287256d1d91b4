"""Settings for the clinic screening app, read from the environment.

Production is the default: with nothing set, DEBUG is off and start-up refuses to run
without SECRET_KEY and ALLOWED_HOSTS. Development says so (DEBUG=True): `make run` and
`make test` do it themselves, the test suite's own settings module (tests/settings.py) too.
Every variable is listed in .env.example; a `.env` file beside manage.py is read, and a
real environment variable always wins over it.
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_noop
from dotenv import load_dotenv

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool) -> bool:
    """Read a yes/no variable; an unrecognised value fails loudly rather than guessing."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}") from error


# Only the project's own .env (never one found by searching upwards from the working
# directory), and never over a variable the environment already has. READ_ENV_FILE=False, as a
# real environment variable, skips it: the tests do, so a developer's .env cannot change them.
if env_bool("READ_ENV_FILE", True):
    load_dotenv(BASE_DIR / ".env", override=False, interpolate=False)

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
if DEBUG:
    SECRET_KEY = SECRET_KEY or "development-only-secret-key-never-use-in-production"
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["127.0.0.1", "localhost", "testserver"]
else:
    # Refuse to start rather than run a clinical system with a guessable key or open hosts.
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off.")

CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # Django's admin on our own site: lists filter only by the filters their admins declare.
    "screening.apps.ClinicAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.forms",
    "crispy_forms",
    "crispy_bootstrap5",
    "bootstrap",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_tasks",
    "django_tasks_db",
    "screening",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Early, so redirects sent by later middleware (session expiry, two-factor) carry the policy.
    "csp.middleware.CSPMiddleware",
    # Before anything reads a body (CSRF reads the form): oversized and chunked bodies are
    # refused on their headers, unread, with the 400 page carrying the headers above.
    "screening.request_limits.RequestBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions, before common (as Django asks): picks the language of each request.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, with the user read in the same statement as the session when it can be.
    "screening.accounts.middleware.ClinicAuthenticationMiddleware",
    # django-otp's OTPMiddleware, reading the staff member's authenticator prepared.
    "screening.accounts.middleware.ClinicOTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "screening.accounts.middleware.NoStoreForSignedInUsersMiddleware",
    "screening.accounts.middleware.SessionTimeoutMiddleware",
    # Once the user is known: a patient's language from their account, staff the clinic's.
    "screening.accounts.middleware.LanguageMiddleware",
    # Staff enter a one-time code (TOTP) after their password before seeing any patient data.
    "screening.accounts.middleware.StaffTwoFactorMiddleware",
    # Last, as django-axes asks: it turns a lockout into a response.
    "axes.middleware.AxesMiddleware",
]

# Login throttling with django-axes: after 5 failures for one email from one address, that
# pair is locked for an hour; every attempt is recorded (AccessAttempt, AccessLog). Per pair,
# so someone failing from another address never locks the real person out.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    # Django's ModelBackend, with each request's user read together with their staff role.
    "screening.accounts.backends.ClinicModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = 1  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_USERNAME_CALLABLE = "screening.accounts.forms.login_username"
# The address axes counts against is the one the audit log records (screening/client_address.py).
# That callable is axes' first choice, before django-ipware (not installed: its proxy count
# expects the proxies' own addresses in the header, so behind one nginx it finds no client).
AXES_CLIENT_IP_CALLABLE = "screening.client_address.client_ip"
# axes keeps a failed login's query string and form (AccessAttempt.get_data, post_data),
# masking only these. `next` can hold the page an emailed link opened, token and all; no
# secret belongs in the database. "username" and "ip_address" are axes' own defaults: they
# keep emails (patient data) and addresses out of its log lines.
AXES_SENSITIVE_PARAMETERS = [
    "username",
    "ip_address",
    "next",
    "token",
    "uid",
    "csrfmiddlewaretoken",
]

# How many proxies of ours stand in front of the app, each appending to X-Forwarded-For
# (nginx alone: 1; a load balancer and nginx: 2). 0, the default, ignores the header: only
# a deployment behind proxies may trust it, or anyone could claim any address.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
if TRUSTED_PROXY_COUNT < 0:
    raise ImproperlyConfigured("TRUSTED_PROXY_COUNT must be 0 or more.")

# Content Security Policy (django-csp): nothing inline, nothing from elsewhere; Bootstrap's
# icons are data: SVGs inside its stylesheet.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    }
}

# Sessions end on the server after inactivity, and for staff after an absolute limit too.
STAFF_IDLE_TIMEOUT_SECONDS = env_int("STAFF_IDLE_TIMEOUT_SECONDS", 15 * 60)
STAFF_ABSOLUTE_TIMEOUT_SECONDS = env_int("STAFF_ABSOLUTE_TIMEOUT_SECONDS", 12 * 60 * 60)
PATIENT_IDLE_TIMEOUT_SECONDS = env_int("PATIENT_IDLE_TIMEOUT_SECONDS", 30 * 60)
SESSION_COOKIE_AGE = STAFF_ABSOLUTE_TIMEOUT_SECONDS
# Django's database sessions, each request's read written as plain SQL (the module says why).
SESSION_ENGINE = "screening.accounts.session_store"

ROOT_URLCONF = "clinic.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "screening.context_processors.clinic",
                "screening.context_processors.session_clock_context",
            ],
        },
    },
]

# Lets the project's templates/ override and add form widget templates.
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

WSGI_APPLICATION = "clinic.wsgi.application"

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("CONN_MAX_AGE", 0 if DEBUG else 60),
        conn_health_checks=True,
    )
}
# On PostgreSQL the reads every request starts with are prepared once per connection
# (screening/prepared.py). Turn off behind a pooler that hands out server connections per
# transaction (PgBouncer's transaction mode): SQL-level PREPARE needs the same connection.
PREPARED_STATEMENTS = env_bool("PREPARED_STATEMENTS", True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Under `make run` the web server and the task worker (db_worker) write the same SQLite
    # file. By default SQLite starts a transaction as a reader and upgrades to a writer on
    # its first write; two such upgrades at once fail at once with "database is locked"
    # (a 500), whatever the timeout. IMMEDIATE takes the write lock when the transaction
    # begins, so the second writer waits, up to `timeout` seconds, instead of failing.
    # WAL lets pages be read while the other process writes (the file keeps this mode; an
    # in-memory test database ignores it). Durability stays SQLite's default (synchronous
    # FULL): these are patients' answers. See Django's SQLite notes, "Database is locked
    # errors" and "Enabling JSON1 / transaction behaviour" (Django 5.1+).
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL;",
        **DATABASES["default"].get("OPTIONS", {}),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "screening.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Argon2 first: the recommended hash for new passwords; the others only verify old hashes.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# US English is the source language of the interface and of the default content; the
# others are translations (locale/ for the interface, per question-set version for content).
LANGUAGE_CODE = "en-us"
LANGUAGES = [
    ("en-us", "English (US)"),
    ("es", "Español"),
    ("en-gb", "English (UK)"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Remembered for a visitor who is not signed in (a signed-in patient's choice is on the account).
LANGUAGE_COOKIE_NAME = "language"
LANGUAGE_COOKIE_SAMESITE = "Lax"
# No script reads it: the server sets it (the switcher, and each signed-in patient page).
LANGUAGE_COOKIE_HTTPONLY = True
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
# Seconds before a silent mail server counts as a failed send (then retried), so it cannot
# hold the worker forever.
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "screening@localhost")

# Every email is sent by a background worker, never inside a request (screening/tasks.py):
# a request only adds a row to the task table, so no page waits on a mail server and no
# response time tells whether an address has an account. django-tasks with its database
# backend: no extra server, and any number of `manage.py db_worker` processes on any machine
# that reaches the database. `make run` starts one next to the development server.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# Seconds to wait before each new attempt at a failed send; after the last, the email is
# recorded as undelivered (screening.UndeliveredEmail) for staff and logged without content.
try:
    EMAIL_RETRY_DELAYS = [
        int(delay) for delay in env_list("EMAIL_RETRY_DELAYS", "60,300,1800,7200")
    ]
except ValueError as error:
    raise ImproperlyConfigured(
        "EMAIL_RETRY_DELAYS must be whole numbers of seconds separated by commas, "
        f"not {os.environ['EMAIL_RETRY_DELAYS']!r}"
    ) from error

# Urgent screenings: when no physician has opened one this many minutes after it was
# submitted, the worker alerts every physician again, and ON_CALL_EMAIL if set, then again
# every URGENT_REALERT_MINUTES until one opens it. 30 by default: an urgent flag asks for
# same-day review, so a missed alert must come back well within the hour, yet not so often
# (every few minutes) that physicians learn to ignore it.
URGENT_REVIEW_MINUTES = env_int("URGENT_REVIEW_MINUTES", 60)
URGENT_REALERT_MINUTES = env_int("URGENT_REALERT_MINUTES", 30)
ON_CALL_EMAIL = os.environ.get("ON_CALL_EMAIL", "").strip()
# Patients who have not finished their intake, or not answered a request for more
# information, are reminded after this many days without activity, at most REMINDER_MAX
# times (REMINDER_AFTER_DAYS apart); after the last, staff see them listed in the queue.
REMINDER_AFTER_DAYS = env_int("REMINDER_AFTER_DAYS", 3)
REMINDER_MAX = env_int("REMINDER_MAX", 3)
# A physician's clearance holds this many days from its signature, to the second: signed at
# 10:00, it is valid until 09:59:59 on the 180th day after and expired from 10:00 that day
# (screening.selectors.current_clearance); then the patient repeats the full intake. No
# guideline sets an interval: a product decision (clinical-reference-sessions.md section 5).
CLEARANCE_VALID_DAYS = env_int("CLEARANCE_VALID_DAYS", 180)
# Product decision (not a clinical fact): a patient is emailed the link to a session's
# check-in this many hours before the session, or at once when it is booked closer.
CHECK_IN_OPENS_HOURS_BEFORE = env_int("CHECK_IN_OPENS_HOURS_BEFORE", 48)
for _name in (
    "URGENT_REVIEW_MINUTES",
    "URGENT_REALERT_MINUTES",
    "REMINDER_AFTER_DAYS",
    "CLEARANCE_VALID_DAYS",
    "CHECK_IN_OPENS_HOURS_BEFORE",
):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be at least 1.")

# The address patients and staff reach the app at, for links in emails (the worker has no
# request to take it from). Production defaults to https:// and the first ALLOWED_HOSTS entry.
SITE_URL = os.environ.get("SITE_URL", "").rstrip("/")
if not SITE_URL:
    if DEBUG:
        SITE_URL = "http://127.0.0.1:8000"
    elif ALLOWED_HOSTS[0].startswith(".") or "*" in ALLOWED_HOSTS[0]:
        raise ImproperlyConfigured("SITE_URL must be set when ALLOWED_HOSTS starts with a pattern.")
    else:
        SITE_URL = f"https://{ALLOWED_HOSTS[0]}"

# Password-reset emails, at most this many per account and per client address in the window
# (counted in the database, so the limit holds across every gunicorn worker and machine).
# Over the limit the page says the same as always; no email is sent.
PASSWORD_RESET_LIMIT_PER_ACCOUNT = env_int("PASSWORD_RESET_LIMIT_PER_ACCOUNT", 3)
PASSWORD_RESET_LIMIT_PER_ADDRESS = env_int("PASSWORD_RESET_LIMIT_PER_ADDRESS", 10)
PASSWORD_RESET_LIMIT_WINDOW_MINUTES = env_int("PASSWORD_RESET_LIMIT_WINDOW_MINUTES", 60)

# Treatment sessions (issue 14; docs/sessions.md). Pre-dose blood pressure above the hold
# limit holds the session; above the review limit a physician reviews it before the dose
# (clinical-reference-sessions.md §2: product decisions with the reference's defaults, the
# hold limit being the intake's uncontrolled-hypertension threshold). Post-dose readings are
# due this many minutes after the dose, and the patient is observed for at least
# OBSERVATION_MINUTES (§3: Spravato PI, about 40 minutes and at least 2 hours).
PRE_DOSE_HOLD_SYSTOLIC = env_int("PRE_DOSE_HOLD_SYSTOLIC", 180)
PRE_DOSE_HOLD_DIASTOLIC = env_int("PRE_DOSE_HOLD_DIASTOLIC", 100)
PRE_DOSE_REVIEW_SYSTOLIC = env_int("PRE_DOSE_REVIEW_SYSTOLIC", 140)
PRE_DOSE_REVIEW_DIASTOLIC = env_int("PRE_DOSE_REVIEW_DIASTOLIC", 90)
try:
    POST_DOSE_READING_MINUTES = tuple(
        int(item) for item in env_list("POST_DOSE_READING_MINUTES", "40,120")
    )
except ValueError as _error:
    raise ImproperlyConfigured(
        "POST_DOSE_READING_MINUTES must be whole numbers separated by commas, e.g. 40,120."
    ) from _error
OBSERVATION_MINUTES = env_int("OBSERVATION_MINUTES", 120)
if (
    PRE_DOSE_REVIEW_SYSTOLIC > PRE_DOSE_HOLD_SYSTOLIC
    or PRE_DOSE_REVIEW_DIASTOLIC > PRE_DOSE_HOLD_DIASTOLIC
):
    raise ImproperlyConfigured("The pre-dose review limits must not be above the hold limits.")

# What the clinic calls itself on every page, and how long an invitation link stays valid.
CLINIC_NAME = os.environ.get("CLINIC_NAME", "Ketamine Clinic")
INVITATION_VALID_DAYS = env_int("INVITATION_VALID_DAYS", 14)
# Staff second factor (django-otp TOTP): the name authenticator apps show for the account.
OTP_TOTP_ISSUER = CLINIC_NAME
# The admin lists staff devices (to remove a lost phone's) but never shows their secret keys.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
# A password-reset link works for this long (Django's default is three days).
PASSWORD_RESET_TIMEOUT = 60 * 60 * 2
# Shown to a patient whose answers signal acute risk, and in the safety section.
# The default is marked for translation and shown in the patient's language (gettext at
# each use); a clinic's own text from the environment is shown as written.
CRISIS_RESOURCES_TEXT = os.environ.get(
    "CRISIS_RESOURCES_TEXT",
    gettext_noop(
        "If you are in danger now, call 911 or your local emergency number. "
        "In the US you can call or text 988, the Suicide & Crisis Lifeline, at any time."
    ),
)

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# Request bodies. The biggest legitimate post, the medicines page with 68 rows of three
# 200-character boxes of non-Latin text, is under 400 KB and 220 fields; anything much bigger
# is refused with the 400 page (templates/400.html) before a view reads it.
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 500
# That limit covers only form fields, so screening.request_limits refuses any body (file parts
# and multipart framing included) declared larger, or sent without a length, unread.
# No page takes a file: the first file part of a multipart body is refused with the same page,
# and should one ever get past, the only upload handler keeps files in memory up to 0 bytes,
# so it is dropped, never written to a temporary file.
DATA_UPLOAD_MAX_NUMBER_FILES = 0
FILE_UPLOAD_HANDLERS = ["django.core.files.uploadhandler.MemoryFileUploadHandler"]
FILE_UPLOAD_MAX_MEMORY_SIZE = 0

# Patient data must never reach the logs: only warnings and errors, no request bodies, no SQL.
LOG_LEVEL = os.environ.get("LOG_LEVEL", "WARNING")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "filters": {"no_query_string": {"()": "screening.log_filters.DropQueryString"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server"},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # The development server's request lines, without their query strings: links carry
        # their invitation and password-reset tokens there, and the queue's search a name.
        # On the logger, so that every handler (one added later too) gets the cut line.
        "django.server": {
            "handlers": ["django.server"],
            "filters": ["no_query_string"],
            "level": "INFO",
            "propagate": False,
        },
        # No handlers of its own: Django's defaults include mail_admins, whose error emails
        # carry the request's POST data (patients' answers). Its records go to the root.
        "django": {"handlers": [], "level": LOG_LEVEL},
        # These two write patients' answers at DEBUG: with DEBUG on, every SQL statement with
        # its parameters; and a template variable that does not resolve, with the whole
        # page context. Never, whatever LOG_LEVEL says.
        "django.db.backends": {"level": "INFO"},
        "django.template": {"level": "INFO"},
    },
}
