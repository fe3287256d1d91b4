"""Production settings refuse to start without a secret key and allowed hosts, and pass check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_manage(*args, **env):
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for their own process; a deployment must not.
    unset = ("SECRET_KEY", "ALLOWED_HOSTS", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")
    environment = {k: v for k, v in os.environ.items() if k not in unset}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    "env, missing",
    [
        ({"DEBUG": "False", "ALLOWED_HOSTS": "clinic.example.org"}, "SECRET_KEY"),
        ({"DEBUG": "False", "SECRET_KEY": "x" * 60}, "ALLOWED_HOSTS"),
    ],
)
def test_production_mode_refuses_to_start_without_required_settings(env, missing):
    result = run_manage("check", **env)
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


def test_a_bad_boolean_fails_loudly():
    result = run_manage("check", DEBUG="perhaps")
    assert result.returncode != 0
    assert "DEBUG must be true or false" in result.stderr


def test_production_settings_pass_the_deploy_check():
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DEBUG="False",
        SECRET_KEY="k3y-" + "a8f9Qz7pL2xW" * 5,
        ALLOWED_HOSTS="clinic.example.org",
    )
    assert result.returncode == 0, result.stdout + result.stderr


def settings_value(name, **env) -> str:
    result = run_manage(
        "shell", "-c", f"from django.conf import settings; print(settings.{name})", **env
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


PRODUCTION = {"DEBUG": "False", "SECRET_KEY": "k" * 60}


def test_links_in_emails_point_at_the_first_allowed_host_over_https_by_default():
    value = settings_value("SITE_URL", **PRODUCTION, ALLOWED_HOSTS="clinic.example.org,other.org")
    assert value == "https://clinic.example.org"
    value = settings_value(
        "SITE_URL", **PRODUCTION, ALLOWED_HOSTS="clinic.example.org", SITE_URL="https://x.org/"
    )
    assert value == "https://x.org"


def test_a_host_pattern_needs_an_explicit_site_url():
    result = run_manage("check", **PRODUCTION, ALLOWED_HOSTS=".example.org")
    assert result.returncode != 0
    assert "SITE_URL must be set" in result.stderr


def test_bad_retry_delays_fail_loudly():
    result = run_manage("check", DEBUG="True", EMAIL_RETRY_DELAYS="60,soon")
    assert result.returncode != 0
    assert "EMAIL_RETRY_DELAYS must be whole numbers" in result.stderr
