"""Settings for the test suite: clinic.settings in development mode, whatever the shell says.

pytest-django loads this module (pyproject.toml), so `make test` and a bare
`python -m pytest` need nothing set by hand. A developer's .env is not read, so it cannot
change what the tests see; DATABASE_URL in the real environment still picks PostgreSQL.
Subprocesses that tests start inherit both variables; the tests of production mode
(tests/test_settings.py) remove them.
"""

import os

# Before clinic.settings reads them (the same pattern as bench/settings.py).
os.environ["DEBUG"] = "True"
os.environ["READ_ENV_FILE"] = "False"

from clinic.settings import *  # noqa: E402, F403
