"""The layout holds: the engine is pure, the core never reaches up into an audience, and no
two modules import each other.

The shared core (engine, models, snapshots, selectors, services, presenters, audit, tasks
and the small input helpers) serves four audiences: intake/ (patients), review/ (staff),
accounts/ (everyone) and admin/ (clinic admins), plus fhir/ (other systems). An arrow from
the core to an audience, or a circle, is how a flat package grows back.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "screening"
AUDIENCES = {"intake", "review", "accounts", "admin", "fhir"}


def module_name(path: Path) -> str:
    dotted = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return dotted.removesuffix(".__init__")


def imported_modules(path: Path, *, top_level_only: bool) -> set[str]:
    """The screening modules `path` imports (a name imported from a package counts as its
    submodule when there is one)."""
    here = module_name(path)
    package = here.split(".") if path.name == "__init__.py" else here.split(".")[:-1]
    tree = ast.parse(path.read_text())
    typing_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
        for inner in ast.walk(node)
    }
    nodes = tree.body if top_level_only else [n for n in ast.walk(tree) if id(n) not in typing_only]
    found = set()
    for node in nodes:
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            base = package[: len(package) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        if not target.startswith("screening"):
            continue
        for alias in node.names:
            candidate = f"{target}.{alias.name}"
            found.add(candidate if candidate in MODULES else target)
    return found


SOURCES = [p for p in PACKAGE.rglob("*.py") if "migrations" not in p.parts]
MODULES = {module_name(p) for p in SOURCES}


def is_core(module: str) -> bool:
    parts = module.split(".")
    return len(parts) < 2 or parts[1] not in AUDIENCES | {"management", "urls", "apps"}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_the_core_never_imports_an_audience_package(path):
    if not is_core(module_name(path)):
        return
    upward = {
        target
        for target in imported_modules(path, top_level_only=False)
        if len(target.split(".")) > 1 and target.split(".")[1] in AUDIENCES
    }
    assert upward == set(), f"{module_name(path)} reaches up into {sorted(upward)}"


def test_no_import_circle_not_even_through_an_import_inside_a_function():
    graph = {module_name(p): imported_modules(p, top_level_only=False) for p in SOURCES}
    circles = []

    def visit(module, trail):
        for target in sorted(graph.get(module, ())):
            if target in trail:
                circles.append(trail[trail.index(target) :] + [target])
            elif target in graph and target not in done:
                visit(target, trail + [target])
        done.add(module)

    done: set[str] = set()
    for module in sorted(graph):
        if module not in done:
            visit(module, [module])
    assert circles == []


# Run first in each script below: from here on, importing Django (or pytest-django) fails.
WITHOUT_DJANGO = """
import builtins
real_import = builtins.__import__
def no_django(name, *args, **kwargs):
    if name == "django" or name.startswith(("django.", "pytest_django")):
        raise ImportError("Django is not available here")
    return real_import(name, *args, **kwargs)
builtins.__import__ = no_django
"""


def run_without_django(script: str, timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_DJANGO + script],
        capture_output=True,
        text=True,
        cwd=PACKAGE.parent,
        timeout=timeout,
    )


def test_the_engine_and_the_clinical_rules_run_without_django():
    """In a fresh interpreter where importing Django fails: every engine module loads, the
    default rules build from the content files, and a patient is evaluated."""
    script = """
import datetime, importlib, pkgutil
import screening.engine as engine
for info in pkgutil.iter_modules(engine.__path__):
    importlib.import_module(f"screening.engine.{info.name}")
from screening.engine.definitions import default_ruleset_from_files
evaluation = default_ruleset_from_files().evaluate(
    {"bp": {"systolic": 181, "diastolic": 90}}, datetime.date(2026, 11, 29)
)
print(sorted(flag.code for flag in evaluation.flags))
"""
    result = run_without_django(script, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "bp_uncontrolled" in result.stdout  # 181 systolic: over the limit of 180


def test_the_engine_tests_and_the_clinical_rule_contract_run_without_django():
    """tests/engine/ (the clinical contract of the default rules among them) passes in an
    interpreter where importing Django fails, with neither pytest-django nor the conftest."""
    script = """
import sys
import pytest
sys.exit(pytest.main(["tests/engine", "-q", "-p", "no:django", "-p", "no:cacheprovider",
                      "--noconftest", "-W", "ignore::pytest.PytestConfigWarning"]))
"""
    result = run_without_django(script, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout
