"""The counts the README's Security section quotes are the suite's own.

Each figure is read from the test module that produces it, so adding a URL, a rule or a
payload field without updating the README fails here, naming the figure to write. The same
figures are printed under "figures the README quotes" at the end of every test run
(tests/conftest.py).
"""

import re
from pathlib import Path

import pytest

from tests.engine.test_default_rules import CASES, RULES
from tests.security.test_access_matrix import CELLS, METHODS, ROUTES
from tests.security.test_output_safety import PAGE_LABELS, SHOWN_ON

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def quoted(pattern: str) -> list[int]:
    """Every number the README writes where `pattern`'s group is."""
    return [int(number.replace(",", "")) for number in re.findall(pattern, README)]


# (the figure, where the README writes it, the suite's own count)
FIGURES = [
    ("access-matrix cells", r"GET and POST: ([\d,]+) cells", len(CELLS)),
    (
        "password-only staff cells",
        r"([\d,]+) cells as staff who gave only their password",
        len(ROUTES) * len(METHODS) * 3,  # as a physician, a clinic admin and a nurse
    ),
    ("default rules", r"against ([\d,]+) default clinical rules", len(RULES)),
    ("default rules with cases", r"each of the ([\d,]+) default rules", len(CASES)),
    (
        "default-rule tests",
        r"one near miss that does not: ([\d,]+) tests",
        2 * len(CASES),
    ),
    ("output-safety fields", r"payloads in ([\d,]+) free-text fields", len(SHOWN_ON)),
    ("output-safety pages", r"render inert on ([\d,]+) pages", len(PAGE_LABELS)),
]


@pytest.mark.parametrize(
    ("figure", "pattern", "actual"), FIGURES, ids=[figure for figure, _, _ in FIGURES]
)
def test_the_readme_quotes_the_suites_own_count(figure, pattern, actual):
    found = quoted(pattern)
    assert found, f"README.md no longer quotes the {figure} (looked for {pattern!r})"
    assert set(found) == {actual}, (
        f"README.md says {', '.join(f'{n:,}' for n in found)} {figure}; the suite has "
        f"{actual:,}: update the README"
    )
