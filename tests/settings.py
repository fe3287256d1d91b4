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

# A fast hash for the suite: Argon2 costs a few hundred milliseconds per password here, and
# fixtures create users (and tests log in through the forms) thousands of times. The
# production hashers stay listed, so their hashes still verify; tests/test_invitations.py
# checks with the production list that a new password is stored with Argon2.
PRODUCTION_PASSWORD_HASHERS = PASSWORD_HASHERS  # noqa: F405
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    *PRODUCTION_PASSWORD_HASHERS,
]
