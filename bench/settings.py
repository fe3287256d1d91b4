"""Settings for the HTTP benchmark only: production settings plus a bench-only URLconf.

`python -m bench` starts gunicorn with DJANGO_SETTINGS_MODULE=bench.settings and sets
SECRET_KEY (random for each run) and ALLOWED_HOSTS=127.0.0.1 in its environment. Everything
else is clinic.settings with DEBUG off, so the benchmark measures what production runs:
the same middleware, CSRF, session time limits, second factor, WhiteNoise and manifest
static files. Never point a real deployment at this module.
"""

import os
import tempfile

import dj_database_url

os.environ["DEBUG"] = "False"  # before clinic.settings reads it

from clinic.settings import *  # noqa: E402, F403

DEBUG = False

# clinic.urls plus /bench/ok/, the bare view that gives the framework's own ceiling.
ROOT_URLCONF = "bench.urls"

# Persistent connections, as production runs (clinic.settings defaults to 60 s with DEBUG off).
CONN_MAX_AGE = 600
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/screening_bench"),
        conn_max_age=CONN_MAX_AGE,
        conn_health_checks=True,
    )
}

# collectstatic for the run writes here, not to the project's staticfiles/.
STATIC_ROOT = os.environ.get(
    "BENCH_STATIC_ROOT", os.path.join(tempfile.gettempdir(), "screening-bench-static")
)

# Invitations are not sent during a run; nothing must try to reach an SMTP server.
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
