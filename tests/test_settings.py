"""Production is the default: with nothing set the app refuses to start without a secret key
and allowed hosts, and production settings pass check --deploy. The .env file is read from
the project only, under the real environment, and .env.example lists every variable."""

import ast
import os
import runpy
import shutil
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = ROOT / "clinic" / "settings.py"
ENV_EXAMPLE = ROOT / ".env.example"


def run_manage(*args, **env):
    """manage.py as a deployment runs it: clinic.settings (not the tests' settings module) and
    none of the variables under test. READ_ENV_FILE=False stays, so a developer's .env cannot
    change the outcome."""
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for their own process; a deployment must not.
    unset = (
        "SECRET_KEY",
        "ALLOWED_HOSTS",
        "DEBUG",
        "DJANGO_ALLOW_ASYNC_UNSAFE",
        "DJANGO_SETTINGS_MODULE",
    )
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


def test_with_nothing_set_the_app_runs_in_production_mode_and_refuses_to_start():
    result = run_manage("check")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_development_mode_is_asked_for_explicitly():
    assert run_manage("check", DEBUG="True").returncode == 0


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


# .env --------------------------------------------------------------------------------------


def settings_of_a_project_at(project: Path, environment: dict[str, str], cwd: Path) -> dict:
    """Run a copy of clinic/settings.py that lives in `project` (so its .env is
    project/.env), in exactly `environment`, from the working directory `cwd`."""
    (project / "clinic").mkdir(parents=True)
    shutil.copy(SETTINGS_FILE, project / "clinic" / "settings.py")
    before = os.getcwd()
    os.chdir(cwd)
    try:
        with mock.patch.dict(os.environ, environment, clear=True):
            return runpy.run_path(str(project / "clinic" / "settings.py"))
    finally:
        os.chdir(before)


def test_the_projects_env_file_is_read_and_the_real_environment_wins(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text(
        "DEBUG=True\nCLINIC_NAME=Clinic From The File   # a comment\nINVITATION_VALID_DAYS=3\n"
        "SECRET_KEY=abc$def${HOME}\n"
    )
    values = settings_of_a_project_at(project, {"INVITATION_VALID_DAYS": "9"}, cwd=project)
    assert values["DEBUG"] is True
    assert values["CLINIC_NAME"] == "Clinic From The File"
    assert values["INVITATION_VALID_DAYS"] == 9  # the real environment, not the file's 3
    assert values["SECRET_KEY"] == "abc$def${HOME}"  # taken as written, never expanded
    assert "CLINIC_NAME" not in os.environ  # the test's environment is back as it was


def test_an_env_file_elsewhere_is_never_read(tmp_path):
    """Not one in the working directory, nor one above the project (python-dotenv's own
    search would find both)."""
    project = tmp_path / "project"
    project.mkdir()
    (tmp_path / ".env").write_text("DEBUG=True\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".env").write_text("DEBUG=True\n")
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY must be set"):
        settings_of_a_project_at(project, {}, cwd=elsewhere)


def test_read_env_file_false_skips_the_file(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    (project / ".env").write_text("DEBUG=True\nCLINIC_NAME=Clinic From The File\n")
    values = settings_of_a_project_at(
        project, {"READ_ENV_FILE": "False", "DEBUG": "True"}, cwd=project
    )
    assert values["CLINIC_NAME"] == "Ketamine Clinic"


READERS = {"env_bool", "env_int", "env_list"}


def variables_settings_reads() -> set[str]:
    """Every name clinic/settings.py reads from the environment: os.environ.get("X"),
    os.environ["X"], os.getenv("X"), its env_* helpers, and DATABASE_URL (dj-database-url)."""
    names = {"DATABASE_URL"}
    for node in ast.walk(ast.parse(SETTINGS_FILE.read_text())):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            function = ast.unparse(node.func)
            if function in READERS | {"os.environ.get", "os.getenv"}:
                names.add(node.args[0].value)
        elif (
            isinstance(node, ast.Subscript)
            and ast.unparse(node.value) == "os.environ"
            and isinstance(node.slice, ast.Constant)
        ):
            names.add(node.slice.value)
    return names


def variables_in_env_example() -> set[str]:
    names = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        line = line.removeprefix("#").strip()
        name, equals, _ = line.partition("=")
        if equals and name.isidentifier() and name.isupper():
            names.add(name)
    return names


def test_env_example_lists_every_variable_settings_reads_and_no_other():
    read = variables_settings_reads()
    assert {"DEBUG", "SECRET_KEY", "STAFF_IDLE_TIMEOUT_SECONDS"} <= read  # the parser works
    listed = variables_in_env_example()
    assert read - listed == set(), "read by settings.py but missing from .env.example"
    assert listed - read == set(), "in .env.example but read by nothing"


def test_env_example_is_a_valid_env_file_for_production():
    values = dotenv_values(ENV_EXAMPLE, interpolate=False)
    assert values["DEBUG"] == "False"  # the comment after the value is not part of it
    assert values["ALLOWED_HOSTS"] == "screening.example.org"


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


# SQLite --------------------------------------------------------------------------------------


def test_sqlite_waits_for_the_other_writer_instead_of_failing_with_database_is_locked(tmp_path):
    """The web server and the task worker write one SQLite file under `make run`: each
    transaction takes the write lock when it begins and waits up to 20 seconds for it."""
    values = settings_of_a_project_at(
        tmp_path / "project",
        {"DEBUG": "True", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"},
        cwd=tmp_path,
    )
    options = values["DATABASES"]["default"]["OPTIONS"]
    assert options["timeout"] == 20
    assert options["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in options["init_command"]


def test_postgresql_gets_no_sqlite_options(tmp_path):
    values = settings_of_a_project_at(
        tmp_path / "project",
        {"DEBUG": "True", "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x"},
        cwd=tmp_path,
    )
    options = values["DATABASES"]["default"].get("OPTIONS", {})
    assert "transaction_mode" not in options
    assert "init_command" not in options
