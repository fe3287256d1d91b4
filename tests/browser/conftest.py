"""Browser fixtures: headless Debian Chromium driven by Playwright against pytest-django's live server.

The tests skip when Chromium is not installed (``apt-get install chromium``), unless
REQUIRE_BROWSER_TESTS=1 is set (CI sets it), in which case a missing browser is an error.
Playwright's own browser downloads are never used: we launch the system Chromium.
"""

import contextlib
import os
import re
import shutil
from pathlib import Path

import pytest

# Playwright's sync API runs an asyncio event loop in this thread; without this Django
# refuses the ORM calls that fixtures and live_server make from it.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPO_ROOT / "screenshots"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps trying to reach Google services, which floods the
    # closed network of the test machines and slows every page down.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 1,
    "is_mobile": True,
    "has_touch": True,
}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
# Fixed locale and time zone: the date input's segments (mm/dd/yyyy) depend on the locale.
CONTEXT_DEFAULTS = {"locale": "en-US", "timezone_id": "UTC"}

# Every expect() waits at most this long: the live server is local, pages come back fast.
EXPECT_TIMEOUT_MS = 10_000


def find_chromium() -> str | None:
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    return shutil.which("chromium") or shutil.which("chromium-browser")


def browser_tests_required() -> bool:
    return os.environ.get("REQUIRE_BROWSER_TESTS", "").strip() == "1"


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = find_chromium()
    if path:
        return path
    if browser_tests_required():
        pytest.fail(
            "REQUIRE_BROWSER_TESTS=1 but Chromium was not found at /usr/bin/chromium or on "
            "PATH. Install it with `apt-get install -y chromium` (do not use `playwright "
            "install`).",
            pytrace=False,
        )
    pytest.skip("Chromium is not installed (apt-get install chromium); browser tests skipped.")


@pytest.fixture(scope="session")
def playwright_instance(chromium_path):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance, chromium_path):
    browser = playwright_instance.chromium.launch(
        executable_path=chromium_path, args=CHROMIUM_ARGS, headless=True
    )
    yield browser
    browser.close()


class ContextFactory:
    """Opens browser contexts (fresh cookie jars) for one test and closes them afterwards."""

    def __init__(self, browser, base_url: str):
        self.browser = browser
        self.base_url = base_url
        self._open = []

    def new(self, device: dict, **extra):
        context = self.browser.new_context(
            base_url=self.base_url, **CONTEXT_DEFAULTS, **device, **extra
        )
        context.set_default_timeout(EXPECT_TIMEOUT_MS)
        self._open.append(context)
        return context

    def new_page(self, device: dict, **extra):
        return self.new(device, **extra).new_page()

    def close_all(self):
        for context in self._open:
            with contextlib.suppress(Exception):  # already closed by the test
                context.close()
        self._open.clear()


@pytest.fixture
def contexts(browser, live_server):
    factory = ContextFactory(browser, live_server.url)
    yield factory
    factory.close_all()


@pytest.fixture
def phone_page(contexts):
    return contexts.new_page(PHONE)


@pytest.fixture
def desktop_page(contexts):
    return contexts.new_page(DESKTOP)


def shoot(page, name: str) -> Path:
    """Save a full-page PNG as screenshots/<name>.png and return its path."""
    SCREENSHOT_DIR.mkdir(exist_ok=True)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")
    path = SCREENSHOT_DIR / f"{safe}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


_axe = None
BLOCKING_IMPACTS = {"serious", "critical"}


def axe_violations(page) -> list[dict]:
    """The serious and critical axe-core violations on the page as it is now."""
    global _axe
    if _axe is None:
        from axe_playwright_python.sync_playwright import Axe

        _axe = Axe()
    results = _axe.run(page)
    return [v for v in results.response["violations"] if v.get("impact") in BLOCKING_IMPACTS]


def format_violations(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(
            f"- {violation['id']} ({violation['impact']}): {violation['help']} "
            f"<{violation.get('helpUrl', '')}>"
        )
        for node in violation.get("nodes", [])[:10]:
            target = " ".join(str(t) for t in node.get("target", []))
            lines.append(f"    at {target}: {node.get('html', '')[:200]}")
            summary = (node.get("failureSummary") or "").replace("\n", " ")
            if summary:
                lines.append(f"      {summary[:300]}")
    return "\n".join(lines)


def assert_accessible(page, where: str = "") -> None:
    """Fail if axe-core finds serious or critical accessibility violations on the page."""
    violations = axe_violations(page)
    label = where or page.url
    assert not violations, (
        f"axe found {len(violations)} serious/critical violation(s) on {label}:\n"
        + format_violations(violations)
    )


class AxeAudit:
    """Runs axe on page after page and reports every page's problems at once at the end.

    A journey test keeps going past a page with violations (so one template problem does
    not hide the rest); `assert_clean()` then fails with the whole list.
    """

    def __init__(self):
        self.problems: dict[str, list[dict]] = {}
        self.pages_checked: list[str] = []

    def check(self, page, where: str) -> None:
        self.pages_checked.append(where)
        violations = axe_violations(page)
        if violations:
            self.problems[where] = violations

    def report(self) -> str:
        """One entry per rule and element, with the pages it was found on."""
        found: dict[tuple[str, str], dict] = {}
        for where, violations in self.problems.items():
            for violation in violations:
                for node in violation.get("nodes", []):
                    target = " ".join(str(t) for t in node.get("target", []))
                    html = " ".join(node.get("html", "").split())
                    entry = found.setdefault(
                        (violation["id"], html),
                        {"violation": violation, "node": node, "pages": []},
                    )
                    entry["pages"].append(where)
        lines = [
            f"axe found serious/critical violations on {len(self.problems)} of "
            f"{len(self.pages_checked)} pages checked:"
        ]
        for (rule, html), entry in found.items():
            violation, node = entry["violation"], entry["node"]
            target = " ".join(str(t) for t in node.get("target", []))
            summary = " ".join((node.get("failureSummary") or "").split())
            lines += [
                f"- {rule} ({violation['impact']}): {violation['help']}",
                f"    element: {target}  {html[:200]}",
                f"    why: {summary[:300]}",
                f"    pages ({len(entry['pages'])}): {', '.join(entry['pages'])}",
            ]
        return "\n".join(lines)

    def assert_clean(self) -> None:
        assert not self.problems, self.report()


@pytest.fixture
def axe_audit():
    return AxeAudit()
