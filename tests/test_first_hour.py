"""Issue 15, item 4: a first hour without stumbles, from the README to a running app."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core import mail
from django.core.management import call_command

REPO_ROOT = Path(__file__).resolve().parents[1]


# --- `make run PORT=...` --------------------------------------------------------------------


def make_run_commands(*args: str, **env: str) -> list[str]:
    """What `make run` would run (make -n: printed, not run)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    result = subprocess.run(
        ["make", "-n", "--no-print-directory", "run", *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", **env},
    )
    return result.stdout.splitlines()


@pytest.mark.parametrize(
    "args, env, address",
    [
        ((), {}, "127.0.0.1:8000"),
        (("PORT=8001",), {}, "127.0.0.1:8001"),
        ((), {"RUN_ADDRESS": "0.0.0.0:9000"}, "0.0.0.0:9000"),
    ],
)
def test_make_run_serves_on_the_port_asked_for_and_links_to_it(args, env, address):
    commands = make_run_commands(*args, **env)
    assert f"manage.py create_demo_accounts --base-url http://{address}" in "\n".join(commands)
    assert commands[-1] == (
        f"RUN_ADDRESS={address} SITE_URL=http://{address} bash scripts/run_dev.sh"
    )


def test_the_dev_script_serves_on_the_address_it_is_given():
    script = (REPO_ROOT / "scripts" / "run_dev.sh").read_text()
    assert 'ADDRESS="${RUN_ADDRESS:-127.0.0.1:8000}"' in script
    assert 'manage.py runserver "$ADDRESS"' in script


# --- The demo accounts' output --------------------------------------------------------------


def test_the_demo_accounts_box_comes_first_with_no_email_and_the_port_served(
    capsys, settings, db, default_version
):
    settings.DEBUG = True
    # As `make run` prints email: to the terminal. Tasks here run as they are queued.
    settings.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    call_command("create_demo_accounts", "--base-url", "http://127.0.0.1:8001")
    out = capsys.readouterr().out
    assert out.lstrip().startswith("-" * 72 + "\nDemo accounts")
    assert "Subject:" not in out and "Content-Type" not in out and "same-day review" not in out
    urls = re.findall(r"https?://[^\s,)]+", out)
    assert len(urls) >= 5
    assert all(url.startswith("http://127.0.0.1:8001/") for url in urls), urls


def test_the_demo_queue_emails_no_one(settings, db, default_version):
    settings.DEBUG = True
    call_command("create_demo_accounts")
    assert mail.outbox == []


def test_the_demo_accounts_link_to_the_site_url_by_default(capsys, settings, db, default_version):
    settings.DEBUG = True
    settings.SITE_URL = "http://localhost:8123"
    call_command("create_demo_accounts")
    out = capsys.readouterr().out
    assert "http://localhost:8123/login/" in out and ":8000" not in out


# --- No document outside the repository -----------------------------------------------------

# What the README, the docs and the content files must not send a reader to: the design
# and reference documents the app was first written from, which are not in the repository.
OUTSIDE = re.compile(
    r"DESIGN\.md|STYLE\.md|clinical-reference|\.\./shared|/work/|shared/", re.IGNORECASE
)


def readers_files() -> list[Path]:
    return [
        REPO_ROOT / "README.md",
        *sorted((REPO_ROOT / "docs").glob("**/*.md")),
        *sorted((REPO_ROOT / "content").glob("*.yaml")),
    ]


def test_no_reader_is_sent_to_a_document_outside_the_repository():
    found = [
        f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()}"
        for path in readers_files()
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if OUTSIDE.search(line)
    ]
    assert not found, "\n".join(found)


def test_every_document_and_image_the_readme_and_docs_link_to_is_in_the_repository():
    missing = []
    for path in [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("**/*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)", path.read_text()):
            if re.match(r"[a-z]+:", target):  # a web address
                continue
            if not (path.parent / target).exists():
                missing.append(f"{path.relative_to(REPO_ROOT)}: {target}")
    assert not missing, "\n".join(missing)


def test_the_readme_says_how_long_the_suite_takes():
    readme = (REPO_ROOT / "README.md").read_text()
    assert re.search(r"The whole suite takes about \d+", readme)
