"""Shared by the FHIR tests: the default rules straight from the data files (no database)."""

import pytest

from screening.engine.definitions import default_ruleset_from_files


@pytest.fixture(scope="session")
def default_rules():
    return default_ruleset_from_files()
