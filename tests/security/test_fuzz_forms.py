"""Property-based fuzzing of every form that accepts input, and oversized requests.

Hypothesis sends generated and malformed submissions (wrong types, missing and duplicated
fields, 100,000-character strings, NUL, right-to-left marks, emoji, unknown choices, tampered
hidden fields and ids, huge and negative numbers, integers past Python's 4,300-digit limit,
superscript, Arabic-Indic and other Unicode digits, deeply nested brackets, bytes that are
not UTF-8 in urlencoded and multipart bodies, "NaN", impossible dates, broken bodies) to
every wizard page of the default question set, the review page, login, invitation
acceptance, the password-reset request and set-new-password forms, the two-factor
verification and set-up forms, the staff invitation form, the queue's filters, the
acknowledge and decide forms, the admin's JSON boxes (score definitions, rules, test cases)
and the admin's list filters (every registered list, with declared and undeclared lookups);
and answer files of the same shapes to the `evaluate` command. Each example must:

- never answer 500 (requests run with ``raise_request_exception = False``; a 500 is sent
  again with exceptions raised so the failure shows the traceback; the command must print
  flags or exit with status 2 and a message, never a traceback), and
- change nothing it should not: every example runs in a savepoint that is rolled back, so
  each one starts from the same saved state and is compared with it afterwards. A refused
  submission changes nothing at all; an accepted one changes only what it was allowed to
  (the posted page's shown questions, with well-formed values; one acknowledgement; one
  decision; the account's password; one authenticator, announced by email; a reset email
  only to the owner of the address typed), checked against the form as the oracle for what
  is valid.

Reproducible by default: ``derandomize=True`` runs the same examples on every machine, so a
CI failure is never a fluke of the seed and a red build can always be reproduced locally.
To explore new inputs, run with ``FUZZ_EXPLORE=1`` (a random seed, printed, and reusable
with ``FUZZ_SEED=<seed>``).
"""

from __future__ import annotations

import copy
import datetime
import json
import math
import os
import random
import re
import unicodedata
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from io import BytesIO
from urllib.parse import quote, quote_plus, urlencode, urlsplit

import pytest
from axes.models import AccessAttempt
from django.conf import settings as django_settings
from django.contrib.auth.forms import PasswordResetForm, _unicode_ci_compare
from django.contrib.auth.forms import SetPasswordForm as NewPasswordForm
from django.core import mail
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.http import QueryDict
from django.http.multipartparser import MultiPartParser
from django.test import Client, TestCase
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import resolve, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from hypothesis import HealthCheck, example, given, seed
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from screening.accounts.forms import OneTimeCodeForm, SetPasswordForm
from screening.answer_fields import (
    BLANK_MEDICATION_ROWS,
    DIASTOLIC_RANGE,
    EARLIEST_DATE,
    MEDICATION_FIELD_MAX_LENGTH,
    MEDICATION_MAX_ROWS,
    PHONE_CHARACTERS,
    PHONE_MAX_LENGTH,
    SHORT_TEXT_MAX_LENGTH,
    SYSTOLIC_RANGE,
    TEXT_MAX_LENGTH,
)
from screening.engine.questionnaire import (
    BLOOD_PRESSURE,
    DATE,
    DECIMAL,
    HEIGHT,
    INTEGER,
    MEDICATION_LIST,
    MULTIPLE_CHOICE,
    PHONE,
    SCALE_ITEM,
    SHORT_TEXT,
    SINGLE_CHOICE,
    TEXT,
    WEIGHT,
    YES_NO,
    QuestionDef,
)
from screening.intake.forms import SubmitForm
from screening.models import (
    AuditEvent,
    CompletedSection,
    Decision,
    Flag,
    FlagAcknowledgement,
    Invitation,
    PageDraft,
    PanelCase,
    Rule,
    ScoreDefinition,
    Screening,
    User,
)
from screening.presenters import plain_number
from screening.review.forms import AcknowledgeForm, DecisionForm, InvitationForm, QueueFilterForm
from screening.selectors import (
    completed_codes,
    first_incomplete_section,
    stored_answers,
    visibility_for,
)
from screening.services.intake import save_page, start_screening, submit_screening
from screening.services.invitations import create_invitation
from screening.services.two_factor import PENDING_KEY_SESSION_KEY, code_shown
from screening.snapshots import questionnaire_for
from tests.admin_forms import rule_form_data
from tests.conftest import PASSWORD
from tests.factories import make_patient, make_submitted_screening
from tests.logins import authenticator_for, log_in_staff

# One process runs every target (under pytest-xdist too): the last test checks the total.
pytestmark = [pytest.mark.django_db, pytest.mark.xdist_group("fuzz")]

# How many generated submissions each test sends. Every section of the default question set
# gets its share; the medication lists, blood pressure and dates get more.
SECTION_BUDGETS = {
    "about_you": 160,
    "treatment_history": 40,
    "care_team": 60,
    "pregnancy": 50,
    "heart": 45,
    "brain_eyes": 45,
    "liver_kidney": 40,
    "lungs_sleep": 40,
    "hormones": 40,
    "psychiatric_history": 60,
    "substances": 130,
    "medicines": 210,
    "ketamine_allergies": 60,
    "mood": 45,
    "safety": 45,
    "anxiety": 40,
    "stressful_experiences": 40,
    "vitals": 170,
    "consent": 50,
}
BUDGETS = {
    **{f"wizard:{code}": n for code, n in SECTION_BUDGETS.items()},
    "page_draft": 80,
    "review": 70,
    "login": 130,
    "accept_invitation": 100,
    "staff_invitation": 110,
    "queue": 130,
    "acknowledge": 110,
    "decide": 150,
    "password_reset": 90,
    "set_new_password": 90,
    "two_factor_verify": 110,
    "two_factor_setup": 90,
    "admin_score_json": 60,
    "admin_rule_json": 40,
    "admin_panel_json": 60,
    "admin_filters": 150,
    "evaluate": 120,
}
MINIMUM_TOTAL = 2000
EXAMPLES_RUN: Counter[str] = Counter()

EXPLORE = os.environ.get("FUZZ_EXPLORE") == "1"
SEED = int(os.environ.get("FUZZ_SEED") or random.randrange(2**32)) if EXPLORE else None

FAST_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def fuzz(name: str, explicit=()):
    """Hypothesis settings for one fuzz target, with the example count its budget says.

    `explicit` cases run first, every time: each hostile value of SWEEP in every field, so
    they never depend on what the generator happens to draw.
    """

    def decorate(test):
        for case in explicit:
            test = example(**case)(test)
        configured = hypothesis_settings(
            max_examples=BUDGETS[name],
            deadline=None,
            derandomize=not EXPLORE,
            database=None,
            print_blob=True,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )(test)
        if EXPLORE:
            print(f"hypothesis seed for {name}: FUZZ_EXPLORE=1 FUZZ_SEED={SEED}")
            configured = seed(SEED)(configured)
        return configured

    return decorate


ACCEPTED: Counter[str] = Counter()


def ran(name: str, accepted: bool | None = None) -> None:
    """Count one example; `accepted` says whether the server took it as a valid change."""
    EXAMPLES_RUN[name] += 1
    ACCEPTED[name] += bool(accepted)


def assert_budget_ran(name: str, explicit=(), both_ways: bool = True) -> None:
    """Every example ran, and (for forms that change data) some were accepted and some
    refused: otherwise the checks of one of the two paths were never exercised."""
    assert EXAMPLES_RUN[name] >= BUDGETS[name] + len(explicit), (
        f"{name}: only {EXAMPLES_RUN[name]} of {BUDGETS[name]} examples ran"
    )
    if both_ways:
        assert 0 < ACCEPTED[name] < EXAMPLES_RUN[name], (
            f"{name}: {ACCEPTED[name]} of {EXAMPLES_RUN[name]} examples were accepted"
        )


# Running one example -----------------------------------------------------------------------


class _RollBack(Exception):
    pass


@contextmanager
def rolled_back():
    """One example in a savepoint that is always rolled back: the next starts from the same state."""
    try:
        with transaction.atomic():
            yield
            raise _RollBack
    except _RollBack:
        pass


MULTIPART = "multipart/form-data"
URLENCODED = "application/x-www-form-urlencoded"
# Multipart bodies the test writes byte by byte (the client would encode every value as UTF-8).
RAW_BOUNDARY = "fuzz-raw-boundary"
RAW_MULTIPART = f"{MULTIPART}; boundary={RAW_BOUNDARY}"


def multipart_bytes(fields: list[tuple[bytes, bytes]]) -> bytes:
    """A well-formed multipart body of (name, value) pairs, as bytes of any encoding."""
    body = b"".join(
        b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
        % (RAW_BOUNDARY.encode(), name, value)
        for name, value in fields
    )
    return body + b"--%s--\r\n" % RAW_BOUNDARY.encode()


@dataclass
class Submission:
    """A POST body: a dict the test client encodes as multipart, or raw bytes sent as they are."""

    data: dict | None = None
    raw: bytes | None = None
    content_type: str = MULTIPART

    def send(self, client: Client, url: str):
        if self.data is not None:
            return client.post(url, self.data)
        # generic() sends the bytes untouched; post() would re-encode them by the charset.
        return client.generic("POST", url, self.raw, content_type=self.content_type)

    def query_dict(self) -> QueryDict | None:
        """What the server reads from this body; None when it cannot be read at all."""
        if self.data is not None:
            parsed = QueryDict(mutable=True)
            for key, value in self.data.items():
                values = value if isinstance(value, list) else [value]
                if values:
                    parsed.setlist(key, [str(v) for v in values])
            return parsed
        if self.content_type.startswith(URLENCODED):
            return QueryDict(self.raw)
        if self.content_type == RAW_MULTIPART:
            # Parsed as the server parses it: bytes that are not UTF-8 become U+FFFD.
            meta = {"CONTENT_TYPE": self.content_type, "CONTENT_LENGTH": str(len(self.raw))}
            try:
                return MultiPartParser(meta, BytesIO(self.raw), [], "utf-8").parse()[0]
            except SuspiciousOperation:
                return None  # too many fields: the server refuses it too
        return None


def send(client: Client, url: str, submission: Submission | None = None):
    """POST (or GET without a submission) and require an answer below 500.

    A 500 is rolled back and sent again with exceptions raised, so the test fails with the
    traceback of what broke rather than just a status code.
    """
    client.raise_request_exception = False
    savepoint = transaction.savepoint()
    response = client.get(url) if submission is None else submission.send(client, url)
    if response.status_code >= 500:
        transaction.savepoint_rollback(savepoint)
        client.raise_request_exception = True
        try:
            client.get(url) if submission is None else submission.send(client, url)
        finally:
            client.raise_request_exception = False
        pytest.fail(f"{url} answered {response.status_code} without raising an exception")
    transaction.savepoint_commit(savepoint)
    return response


# Generated values --------------------------------------------------------------------------

TODAY = timezone.localdate()
NASTY_STRINGS = [
    "",
    " ",
    "\x00",
    "1\x00",
    "yes\x00",
    "NaN",
    "nan",
    "-NaN",
    "sNaN",
    "inf",
    "-inf",
    "Infinity",
    "1e309",
    "-1e309",
    "1e-400",
    "-1",
    "0",
    "-0",
    "+1",
    "1_000",
    "0x1F",
    "1e3",
    "12e1",
    "٣",
    "١٢٠",
    "１２０",
    "𝟙𝟚𝟘",
    "Ⅻ",
    "½",
    "\u202e120",
    "120\u200f",
    "\u200f",
    "\u202e",
    "\ufeff",
    "\u2028",
    "😀",
    "👨‍👩‍👧‍👦",
    "e\u0301",
    "\r\n",
    "\t",
    "true",
    "false",
    "None",
    "null",
    "[]",
    "{}",
    '{"rows": []}',
    "{{ request }}",
    "{% debug %}",
    "<script>alert(1)</script>",
    "' OR '1'='1",
    "%00",
    "%s%n",
    "../../etc/passwd",
    "9" * 30,
    "-" + "9" * 30,
    "1" * 5000,
    # Past Python's 4,300-digit limit for int(str): a ValueError wherever int() is not guarded.
    "9" * 4301,
    "-" + "9" * 5000,
    "1e99999",
    "9" * 5000 + ".5",
    # Unicode digits: str.isdigit() is True for superscripts, but int() refuses them; int()
    # reads Arabic-Indic, Persian, Devanagari and full-width digits.
    "²²²²²²",
    "¹²³⁴⁵⁶",
    "₁₂₃",
    "①②③④⑤⑥",
    "٠١٢٣٤٥",
    "۱۲۳۴۵۶",
    "१२३४५६",
    "１２３４５６",
    # Deep nesting, for anything that parses JSON.
    "[" * 5000 + "]" * 5000,
    '{"a": ' * 2000 + "1" + "}" * 2000,
    "[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]",
    "9999-12-31",
    "0001-01-01",
    "10000-01-01",
    "1900-01-01",
    "1899-12-31",
    "2024-02-30",
    "1980-13-01",
    "1980-00-10",
    "-1980-01-01",
    "+1980-01-01",
    "1980-05-17T10:00:00",
    "17/05/1980",
    "05/17/1980",
    "1980/05/17",
    "19800517",
    "1980-5-7",
    TODAY.isoformat(),
    (TODAY + datetime.timedelta(days=1)).isoformat(),
]
# 100,000 characters, built from a short piece so Hypothesis need not generate them.
HUGE = st.sampled_from(["x", "9", "😀", "\u202e", "a\x00", "漢", "\u200f1", " "]).map(
    lambda piece: (piece * 100_000)[:100_000]
)
ANY_TEXT = st.one_of(
    st.sampled_from(NASTY_STRINGS),
    st.text(max_size=30),
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.floats().map(str),
    st.dates().map(datetime.date.isoformat),
    HUGE,
)
# Every field of every form gets each of these at least once (explicit examples).
SWEEP = [
    "\x00",
    "NaN",
    "-inf",
    "-1",
    "9" * 30,
    "9" * 5000,
    "١٢٠",
    "²²²²²²",
    "\u202e120\u200f",
    "👨‍👩‍👧‍👦",
    "9999-12-31",
    "[" * 50_000 + "]" * 50_000,
    "x" * 100_000,
]


def sweep(base: dict, keys, values=SWEEP) -> list[Submission]:
    """One submission per value, with every one of `keys` set to it and the rest left valid."""
    return [Submission(data={**base, **dict.fromkeys(keys, value)}) for value in values]


# Field names for the server to ignore; quotes and line breaks would break multipart headers.
JUNK_KEYS = st.one_of(
    st.sampled_from(
        [
            "lock_version",
            "section",
            "section_code",
            "screening",
            "screening_id",
            "id",
            "pk",
            "patient",
            "status",
            "submitted_at",
            "level",
            "physician",
            "csrfmiddlewaretoken",
            "next",
            "from",
            "is_staff",
            "is_superuser",
            "__proto__",
            "a" * 300,
        ]
    ),
    st.text(
        alphabet=st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters='"\\'),
        min_size=1,
        max_size=20,
    ),
)


def valued(strategy):
    """A field's value: one string, or a list of them (the field repeated, or sent empty)."""
    return st.one_of(strategy, strategy, strategy, st.lists(strategy, min_size=0, max_size=4))


@st.composite
def mutated(draw, base: dict, strategies: dict, junk_values=ANY_TEXT, max_changes=6):
    """The base POST data with some fields replaced, deleted, repeated or added."""
    data = {key: (list(v) if isinstance(v, list) else v) for key, v in base.items()}
    if draw(st.integers(0, 19)) == 0:
        data = {}
    keys = sorted(strategies)
    for _ in range(draw(st.integers(1, max_changes))):
        if draw(st.integers(0, 9)) == 0:
            data[draw(JUNK_KEYS)] = draw(valued(junk_values))
            continue
        key = draw(st.sampled_from(keys))
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "repeat"]))
        if action == "delete":
            data.pop(key, None)
        elif action == "replace":
            data[key] = draw(valued(strategies[key]))
        else:
            current = data.get(key, [])
            current = current if isinstance(current, list) else [current]
            data[key] = [*current, draw(strategies[key])]
    return data


JUNK_BYTES = [
    b"%FF",
    b"%00",
    b"%",
    b"%G1",
    b"&&",
    b"==",
    b";",
    b"+",
    b"%C3%28",
    b"\xff\xfe",
    b"&=&",
    # Not UTF-8, raw and escaped: Latin-1, an overlong "/", a lone surrogate, a code point past
    # U+10FFFF, a truncated sequence.
    b"\xe9",
    b"%E9",
    b"\xc0\xaf",
    b"%C0%AF",
    b"\xed\xa0\x80",
    b"%ED%A0%80",
    b"\xf4\x90\x80\x80",
    b"%E2%82",
]
# Bytes spliced into multipart field values and names, which the client would encode as UTF-8.
NON_UTF8 = [
    b"\xff",
    b"\xfe\xff",
    b"caf\xe9",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\x80",
    b"\xf4\x90\x80\x80",
    b"\xe2\x82",
]


@st.composite
def submissions(draw, base: dict, strategies: dict, junk_values=ANY_TEXT, valid=None):
    """A malformed POST body: mostly multipart from mutated data, sometimes raw bytes.

    With `valid` (field groups to the strategies of their valid values), three in ten are
    valid changes instead, so the checks of what an accepted post may change get exercised.
    """
    if valid and draw(st.integers(0, 9)) < 3:
        data = {key: (list(v) if isinstance(v, list) else v) for key, v in base.items()}
        for group in draw(st.lists(st.sampled_from(sorted(valid)), min_size=1, max_size=3)):
            data.update(draw(valid[group]))
        if draw(st.booleans()):
            data[draw(JUNK_KEYS)] = draw(ANY_TEXT)
        if draw(st.booleans()):
            return Submission(data=data)
        return Submission(raw=urlencode(data, doseq=True).encode(), content_type=URLENCODED)
    data = draw(mutated(base, strategies, junk_values))
    how = draw(st.integers(0, 10))
    if how < 7:
        return Submission(data=data)
    if how == 10:
        return draw(non_utf8_multipart(data))
    encoded = urlencode(data, doseq=True).encode()
    if how < 9:
        # Urlencoded, as browsers send forms, with broken escapes and separators spliced in.
        for _ in range(draw(st.integers(0, 3))):
            at = draw(st.integers(0, len(encoded)))
            encoded = encoded[:at] + draw(st.sampled_from(JUNK_BYTES)) + encoded[at:]
        return Submission(raw=encoded, content_type=URLENCODED)
    # A body that does not match its declared type.
    content_type = draw(
        st.sampled_from(
            [
                "multipart/form-data; boundary=nothing-like-this",
                "multipart/form-data",
                "multipart/form-data; boundary=",
                "application/json",
                "text/plain; charset=utf-16",
                "application/x-www-form-urlencoded; charset=klingon",
            ]
        )
    )
    return Submission(
        raw=draw(st.one_of(st.just(encoded), st.binary(max_size=200))), content_type=content_type
    )


@st.composite
def non_utf8_multipart(draw, data: dict) -> Submission:
    """The data as a multipart body with bytes that are not UTF-8 in some values or names."""
    fields = [
        (key.encode(), str(value).encode())
        for key, values in data.items()
        for value in (values if isinstance(values, list) else [values])
    ]
    for _ in range(draw(st.integers(1, 3))):
        junk = draw(st.sampled_from(NON_UTF8))
        if not fields or draw(st.integers(0, 4)) == 0:
            fields.append((draw(st.sampled_from([b"", b"x"])) + junk, junk))
            continue
        index = draw(st.integers(0, len(fields) - 1))
        name, value = fields[index]
        at = draw(st.integers(0, len(value)))
        if draw(st.integers(0, 5)) == 0:
            name = name + junk
        else:
            value = value[:at] + junk + value[at:]
        fields[index] = (name, value)
    return Submission(raw=multipart_bytes(fields), content_type=RAW_MULTIPART)


def number_strings(low, high):
    low = int(low) if low is not None else -1000
    high = int(high) if high is not None else 1000
    edges = [low - 1, low, high, high + 1, (low + high) // 2]
    return st.one_of(
        st.sampled_from([str(v) for v in edges] + ["70.5", "70,5", "70.123", " 80 ", "8e1"]),
        st.integers(min_value=low - 50, max_value=high + 50).map(str),
        st.decimals(allow_nan=True, allow_infinity=True).map(str),
        ANY_TEXT,
    )


DATE_STRINGS = st.one_of(
    st.dates().map(datetime.date.isoformat),
    st.dates(
        min_value=datetime.date(1890, 1, 1), max_value=TODAY + datetime.timedelta(days=30)
    ).map(datetime.date.isoformat),
    ANY_TEXT,
)
BP_PARTS = st.one_of(
    st.integers(min_value=-10, max_value=400).map(str),
    st.sampled_from(["0120", "00080", "١٢٠", "１２０", "120.0", " 120 ", "+120", "12e1", "0x78"]),
    ANY_TEXT,
)
MEDICATION_TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [
            "a" * MEDICATION_FIELD_MAX_LENGTH,
            "a" * (MEDICATION_FIELD_MAX_LENGTH + 1),
            "😀" * MEDICATION_FIELD_MAX_LENGTH,
            "Sertraline",
            "  Xanax  ",
            "Biaxin 500 mg bid",
        ]
    ),
    ANY_TEXT,
)
ROW_COUNTS = st.one_of(
    st.integers(min_value=-5, max_value=MEDICATION_MAX_ROWS + 20).map(str),
    st.sampled_from(["999999999999999999999", "1e3", "3.0", " 3", "٣", "", "-0", "1" * 5000]),
    ANY_TEXT,
)


def choice_strings(question: QuestionDef, all_values: list[str]):
    valid = [c.value for c in question.choices] or ["yes", "no"]
    near = [v.upper() for v in valid] + [f" {v}" for v in valid] + [f"{v}\x00" for v in valid]
    return st.one_of(st.sampled_from(valid), st.sampled_from(near + all_values), ANY_TEXT)


# The intake --------------------------------------------------------------------------------

# Answers that show every section and every follow-up of the default question set.
BASELINE_ANSWERS = {
    "date_of_birth": "1980-05-17",
    "sex_at_birth": "female",
    "height_cm": {"cm": 170.2, "feet": 5, "inches": 7},
    "weight_kg": {"kg": 70.5},
    "treatment_reason": ["depression", "other"],
    "treatment_reason_other": "Sleep",
    "has_prescriber": "yes",
    "prescriber_name": "Dr Rivera",
    "has_therapist": "yes",
    "therapist_name": "J. Okafor",
    "can_be_pregnant": "yes",
    "pregnant": "no",
    "contraception": "yes",
    "cv_conditions": ["high_blood_pressure"],
    "psych_history": ["depression", "other"],
    "psych_history_other": "Seasonal low mood",
    "family_psychosis": "unsure",
    "recreational_substances": {
        "rows": [{"name": "cannabis", "dose": "one joint", "frequency": "weekly"}],
        "none": False,
    },
    "auditc_1": "monthly_or_less",
    "medications": {
        "rows": [
            {"name": "Sertraline", "dose": "50 mg", "frequency": "daily"},
            {"name": "Ibuprofen", "dose": "", "frequency": "as needed"},
        ],
        "none": False,
    },
    "ketamine_before": "yes",
    "ketamine_route": ["iv", "nasal"],
    "drug_allergies": "yes",
    "drug_allergy_list": "Penicillin: rash",
    "phq9_1": "several_days",
    "suicide_thoughts": "yes",
    "suicide_behaviour_ever": "yes",
    "trauma_exposure": "yes",
    "pcl5_3": "moderately",
    "bp": {"systolic": 130, "diastolic": 85},
    "heart_rate": 72,
    "transport_home": "yes",
    "escort_name": "Sam Lee",
    "questions_for_clinic": "Can I drive the next day?",
}


def plain_stored_value(question: QuestionDef):
    kind = question.kind
    if kind == YES_NO:
        return "no"
    if kind in (SINGLE_CHOICE, SCALE_ITEM):
        return question.choices[0].value
    if kind == MULTIPLE_CHOICE:
        exclusive = [c.value for c in question.choices if c.exclusive]
        return [exclusive[0] if exclusive else question.choices[0].value]
    if kind == INTEGER:
        return int(question.min_value or 0) + 10
    if kind == DECIMAL:
        return float(question.min_value or 0) + 10
    if kind == DATE:
        return "1980-05-17"
    if kind == BLOOD_PRESSURE:
        return {"systolic": 120, "diastolic": 80}
    if kind == MEDICATION_LIST:
        return {"rows": [], "none": True}
    if kind == HEIGHT:
        return {"cm": 168}
    if kind == WEIGHT:
        return {"kg": 70}
    if kind == PHONE:
        return "555 201 4477" if question.required else None
    return "Nothing else" if question.required else None


def answer_everything(screening: Screening, overrides: dict | None = None) -> None:
    """Save every page of the intake through the service the wizard uses."""
    questionnaire = questionnaire_for(screening.version)
    answers = {**BASELINE_ANSWERS, **(overrides or {})}
    for section in questionnaire.sections:
        codes = {q.code for q in section.questions}
        page = {
            q.code: answers[q.code] if q.code in answers else plain_stored_value(q)
            for q in section.questions
        }
        save_page(screening=screening, section=section, answers=page, presented=codes)
    assert first_incomplete_section(screening) is None


def post_fields(question: QuestionDef, stored) -> dict:
    """The POST fields a browser sends for a stored answer (what the page shows, unchanged)."""
    code = question.code
    if question.kind == BLOOD_PRESSURE:
        stored = stored or {}
        return {
            f"{code}_systolic": str(stored.get("systolic") or ""),
            f"{code}_diastolic": str(stored.get("diastolic") or ""),
        }
    if question.kind == MEDICATION_LIST:
        stored = stored or {"rows": [], "none": False}
        rows = stored["rows"] + [{"name": "", "dose": "", "frequency": ""}] * BLANK_MEDICATION_ROWS
        fields = {f"{code}-rows": str(len(rows))}
        for index, row in enumerate(rows):
            for part in ("name", "dose", "frequency"):
                fields[f"{code}-{index}-{part}"] = row[part]
        if stored["none"]:
            fields[f"{code}-none"] = "on"
        return fields
    if question.kind == HEIGHT:
        stored = stored or {}
        if "feet" in stored:
            return {
                code: "",
                f"{code}_feet": str(stored["feet"]),
                f"{code}_inches": str(stored["inches"]),
            }
        return {
            code: plain_number(stored["cm"]) if stored else "",
            f"{code}_feet": "",
            f"{code}_inches": "",
        }
    if question.kind == WEIGHT:
        stored = stored or {}
        kg = plain_number(stored["kg"]) if stored and "pounds" not in stored else ""
        pounds = plain_number(stored["pounds"]) if "pounds" in stored else ""
        confirm = (pounds or kg) if stored.get("confirmed") else ""
        return {code: kg, f"{code}_lb": pounds, f"{code}_confirm": confirm}
    if stored is None:
        return {code: ""}
    if question.kind == MULTIPLE_CHOICE:
        return {code: list(stored)}
    if question.kind == DECIMAL:
        return {code: plain_number(stored)}
    return {code: str(stored)}


PLAIN_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), min_size=1, max_size=60
).filter(str.strip)


def valid_field_strategies(section) -> dict:
    """For every question of the page, the POST fields of a valid answer."""
    strategies = {}
    for question in section.questions:
        code, kind = question.code, question.kind
        values = [c.value for c in question.choices]
        low = question.min_value if question.min_value is not None else Decimal(0)
        high = question.max_value if question.max_value is not None else Decimal(1000)
        if kind == YES_NO:
            strategy = st.sampled_from(["yes", "no"]).map(lambda v, c=code: {c: v})
        elif kind in (SINGLE_CHOICE, SCALE_ITEM):
            strategy = st.sampled_from(values).map(lambda v, c=code: {c: v})
        elif kind == MULTIPLE_CHOICE:
            exclusive = [c.value for c in question.choices if c.exclusive]
            others = [v for v in values if v not in exclusive]
            strategy = st.one_of(
                st.lists(st.sampled_from(others), min_size=1, unique=True),
                *([st.just(exclusive[:1])] if exclusive else []),
            ).map(lambda v, c=code: {c: v})
        elif kind == INTEGER:
            strategy = st.integers(int(low), int(high)).map(lambda v, c=code: {c: str(v)})
        elif kind == DECIMAL:
            strategy = st.decimals(low, high, places=1).map(lambda v, c=code: {c: str(v)})
        elif kind == DATE:
            strategy = st.dates(EARLIEST_DATE, TODAY).map(lambda v, c=code: {c: v.isoformat()})
        elif kind == BLOOD_PRESSURE:
            strategy = st.tuples(st.integers(100, 220), st.integers(40, 99)).map(
                lambda v, c=code: {f"{c}_systolic": str(v[0]), f"{c}_diastolic": str(v[1])}
            )
        elif kind == HEIGHT:
            # 150-195 cm or 5 ft 0 in to 6 ft 3 in: with the weights below, never a BMI the
            # page asks the patient to confirm (a valid save needs no confirmation).
            strategy = st.one_of(
                st.decimals(150, 195, places=1).map(lambda v, c=code: {c: str(v)}),
                st.tuples(st.just(5), st.integers(0, 11)).map(
                    lambda v, c=code: {f"{c}_feet": str(v[0]), f"{c}_inches": str(v[1])}
                ),
                st.integers(0, 3).map(lambda v, c=code: {f"{c}_feet": "6", f"{c}_inches": str(v)}),
            )
        elif kind == WEIGHT:
            strategy = st.one_of(
                st.decimals(50, 85, places=1).map(lambda v, c=code: {c: str(v)}),
                st.integers(140, 180).map(lambda v, c=code: {f"{c}_lb": str(v)}),
            )
        elif kind == PHONE:
            strategy = st.from_regex(r"\A\+?[0-9]{3} [0-9]{3}-[0-9]{4}\Z").map(
                lambda v, c=code: {c: v}
            )
        elif kind == MEDICATION_LIST:
            row = st.tuples(PLAIN_TEXT, PLAIN_TEXT | st.just(""), PLAIN_TEXT | st.just(""))
            strategy = st.lists(row, max_size=6).map(
                lambda rows, c=code: post_fields(
                    question_of(section, c),
                    {
                        "rows": [
                            dict(zip(("name", "dose", "frequency"), r, strict=True)) for r in rows
                        ],
                        "none": not rows,
                    },
                )
            )
        else:
            strategy = PLAIN_TEXT.map(lambda v, c=code: {c: v})
        strategies[code] = strategy
    return strategies


def question_of(section, code: str) -> QuestionDef:
    return next(q for q in section.questions if q.code == code)


def field_strategies(section, all_codes: list[str], all_values: list[str]) -> dict:
    """For every field the page's questions read, values from near-valid to hostile."""
    strategies: dict = {
        "presented": st.one_of(
            st.sampled_from(all_codes + [q.code for q in section.questions] * 3), ANY_TEXT
        ),
        "more_rows": st.one_of(
            st.sampled_from([q.code for q in section.questions] + ["", "1"]), ANY_TEXT
        ),
    }
    for question in section.questions:
        code, kind = question.code, question.kind
        if kind == BLOOD_PRESSURE:
            strategies[f"{code}_systolic"] = BP_PARTS
            strategies[f"{code}_diastolic"] = BP_PARTS
        elif kind == MEDICATION_LIST:
            strategies[f"{code}-rows"] = ROW_COUNTS
            strategies[f"{code}-none"] = st.one_of(
                st.sampled_from(["on", "true", "1", "yes", "off", "false", "", "ON"]), ANY_TEXT
            )
            for index in [0, 1, 2, 3, 4, 5, 59, 60, 69, 70, -1]:
                for part in ("name", "dose", "frequency"):
                    strategies[f"{code}-{index}-{part}"] = MEDICATION_TEXT
        elif kind in (YES_NO, SINGLE_CHOICE, SCALE_ITEM, MULTIPLE_CHOICE):
            strategies[code] = choice_strings(question, all_values)
        elif kind in (INTEGER, DECIMAL):
            strategies[code] = number_strings(question.min_value, question.max_value)
        elif kind == HEIGHT:
            strategies[code] = number_strings(question.min_value, question.max_value)
            strategies[f"{code}_feet"] = number_strings(0, 12)
            strategies[f"{code}_inches"] = number_strings(0, 15)
        elif kind == WEIGHT:
            strategies[code] = number_strings(question.min_value, question.max_value)
            strategies[f"{code}_lb"] = number_strings(30, 800)
            strategies[f"{code}_confirm"] = number_strings(30, 800)
        elif kind == DATE:
            strategies[code] = DATE_STRINGS
        else:
            strategies[code] = st.one_of(
                st.text(max_size=60),
                st.sampled_from(["x" * TEXT_MAX_LENGTH, "x" * (TEXT_MAX_LENGTH + 1)]),
                ANY_TEXT,
            )
    return strategies


def assert_well_formed(question: QuestionDef, value) -> None:
    """A stored answer has the shape and range its kind promises, and no NUL anywhere."""
    assert "\\u0000" not in repr(value) and "\x00" not in repr(value), (question.code, value)
    if value is None:
        assert not question.required, f"{question.code}: required answer stored blank"
        return
    kind = question.kind
    values = {c.value for c in question.choices}
    if kind == YES_NO:
        assert value in ("yes", "no")
    elif kind in (SINGLE_CHOICE, SCALE_ITEM):
        assert value in values
    elif kind == MULTIPLE_CHOICE:
        assert isinstance(value, list) and value and set(value) <= values
        exclusive = {c.value for c in question.choices if c.exclusive}
        assert len(value) == 1 or not (exclusive & set(value))
    elif kind in (INTEGER, DECIMAL):
        assert isinstance(value, int | float) and not isinstance(value, bool)
        assert math.isfinite(value)
        if question.min_value is not None:
            assert Decimal(str(value)) >= question.min_value
        if question.max_value is not None:
            assert Decimal(str(value)) <= question.max_value
        if kind == INTEGER:
            assert isinstance(value, int)
    elif kind == DATE:
        parsed = datetime.date.fromisoformat(value)
        assert EARLIEST_DATE <= parsed <= TODAY
    elif kind == BLOOD_PRESSURE:
        assert set(value) == {"systolic", "diastolic"}
        systolic, diastolic = value["systolic"], value["diastolic"]
        assert type(systolic) is int and type(diastolic) is int
        assert SYSTOLIC_RANGE[0] <= systolic <= SYSTOLIC_RANGE[1]
        assert DIASTOLIC_RANGE[0] <= diastolic <= DIASTOLIC_RANGE[1]
        assert diastolic < systolic
    elif kind == MEDICATION_LIST:
        assert set(value) == {"rows", "none"} and isinstance(value["none"], bool)
        rows = value["rows"]
        assert len(rows) <= MEDICATION_MAX_ROWS
        assert not (rows and value["none"])
        for row in rows:
            assert set(row) == {"name", "dose", "frequency"}
            assert row["name"], row
            for text in row.values():
                assert text == text.strip() and len(text) <= MEDICATION_FIELD_MAX_LENGTH
    elif kind == TEXT:
        assert isinstance(value, str) and len(value) <= TEXT_MAX_LENGTH
    elif kind == SHORT_TEXT:
        assert isinstance(value, str) and value and len(value) <= SHORT_TEXT_MAX_LENGTH
    elif kind == PHONE:
        assert isinstance(value, str) and len(value) <= PHONE_MAX_LENGTH
        assert set(value) <= set(PHONE_CHARACTERS)
    elif kind in (HEIGHT, WEIGHT):
        metric, typed = ("cm", {"feet", "inches"}) if kind == HEIGHT else ("kg", {"pounds"})
        assert set(value) <= {metric, *typed, "confirmed"} and metric in value
        number = value[metric]
        assert isinstance(number, int | float) and not isinstance(number, bool)
        assert math.isfinite(number)
        assert question.min_value <= Decimal(str(number)) <= question.max_value
        assert value.get("confirmed", True) is True
    else:  # pragma: no cover
        raise AssertionError(kind)


def intake_state(screening: Screening) -> tuple[dict, set]:
    return stored_answers(screening), completed_codes(screening)


@pytest.fixture
def intake(client, default_version):
    """A patient whose every page is saved, and another patient's screening beside it."""
    # Patients without a password: hashing one with Argon2 costs more than 50 examples.
    patient = make_patient("Alice Patient")
    screening = start_screening(patient=patient)
    answer_everything(screening)
    others = start_screening(patient=make_patient("Bob Otherpatient"))
    answer_everything(others, {"sex_at_birth": "male", "questions_for_clinic": "Other patient"})
    client.force_login(patient)
    return screening, others


@pytest.mark.parametrize("section_code", list(SECTION_BUDGETS))
def test_wizard_pages_survive_malformed_posts_and_keep_saved_answers(client, intake, section_code):
    screening, others = intake
    questionnaire = questionnaire_for(screening.version)
    section = questionnaire.section(section_code)
    assert section is not None, f"{section_code} is no longer in the default question set"
    all_codes = list(questionnaire.questions_by_code)
    all_values = sorted(
        {c.value for q in questionnaire.questions_by_code.values() for c in q.choices}
    )
    baseline, baseline_completed = intake_state(screening)
    others_baseline = intake_state(others)
    shown = visibility_for(screening).visible_in(section)
    base = {"presented": [q.code for q in shown]}
    for question in shown:
        base.update(post_fields(question, baseline.get(question.code)))
    strategies = field_strategies(section, all_codes, all_values)
    own_url = f"/screenings/{screening.pk}/page/{section_code}/"
    urls = st.one_of(
        st.just(own_url),
        st.just(own_url),
        st.just(own_url),
        st.just(own_url),
        st.just(own_url + "?from=review"),
        st.sampled_from(
            [
                f"/screenings/{others.pk}/page/{section_code}/",
                f"/screenings/{uuid.uuid4()}/page/{section_code}/",
                f"/screenings/{screening.pk}/page/not-a-section/",
                f"/screenings/{screening.pk}/page/{section_code}/?from=%00%FF",
            ]
        ),
        st.sampled_from(list(SECTION_BUDGETS)).map(
            lambda code: f"/screenings/{screening.pk}/page/{code}/"
        ),
    )
    name = f"wizard:{section_code}"
    fields = [key for key in strategies if key not in ("presented", "more_rows")]
    hostile = sweep(base, [key for key in fields if not key.endswith("-rows")])
    row_counts = ["-1", "71", "99999999999999999999", "1" * 5000, "٣", "3.5"]
    for key in [key for key in strategies if key.endswith("-rows")]:
        hostile += sweep(base, [key], row_counts)
    explicit = [{"url": own_url, "submission": submission} for submission in hostile]

    @fuzz(name, explicit)
    @given(
        url=urls, submission=submissions(base, strategies, valid=valid_field_strategies(section))
    )
    def post_malformed_page(url, submission):
        with rolled_back():
            response = send(client, url, submission)
            assert response.status_code in (200, 302, 400, 404), response.status_code
            answers, completed = intake_state(screening)
            assert intake_state(others) == others_baseline, "another patient's answers changed"
            target = questionnaire.section(url.split("/page/")[1].split("/")[0])
            target_codes = {q.code for q in target.questions} if target else set()
            for code, value in baseline.items():
                if code not in target_codes:
                    assert answers.get(code) == value, f"{code} on another page changed"
            target_page = {target.code} if target else set()
            assert completed - target_page == baseline_completed - target_page
            if response.status_code != 302:
                assert answers == baseline, "a refused post changed saved answers"
                assert completed == baseline_completed
            else:
                parsed = submission.query_dict() or QueryDict()
                posted = set(parsed.getlist("presented"))
                if not posted & target_codes:
                    # Not this page's form at all: nothing may change.
                    assert answers == baseline and completed == baseline_completed
                for code in target_codes:
                    if answers.get(code) != baseline.get(code):
                        assert code in posted, f"{code} changed but was not on the page"
                        assert_well_formed(questionnaire.questions_by_code[code], answers[code])
            ran(name, accepted=response.status_code == 302)

    post_malformed_page()
    assert_budget_ran(name, explicit)


def test_page_drafts_survive_malformed_posts_and_never_change_answers(client, intake):
    """The idle warning's draft of a wizard page (screening/services/drafts.py): kept raw,
    whatever was sent, for the patient's own open screening only; never an answer changed;
    and the page drawn from it afterwards is never a 500."""
    screening, others = intake
    section_code = "medicines"
    questionnaire = questionnaire_for(screening.version)
    section = questionnaire.section(section_code)
    all_codes = list(questionnaire.questions_by_code)
    all_values = sorted(
        {c.value for q in questionnaire.questions_by_code.values() for c in q.choices}
    )
    baseline = intake_state(screening)
    others_baseline = intake_state(others)
    shown = visibility_for(screening).visible_in(section)
    base = {"presented": [q.code for q in shown]}
    for question in shown:
        base.update(post_fields(question, baseline[0].get(question.code)))
    strategies = field_strategies(section, all_codes, all_values)
    own_url = f"/screenings/{screening.pk}/page/{section_code}/draft/"
    urls = st.one_of(
        st.just(own_url),
        st.just(own_url),
        st.just(own_url),
        st.sampled_from(
            [
                f"/screenings/{others.pk}/page/{section_code}/draft/",
                f"/screenings/{uuid.uuid4()}/page/{section_code}/draft/",
                f"/screenings/{screening.pk}/page/not-a-section/draft/",
                f"/screenings/{screening.pk}/page/about_you/draft/",
            ]
        ),
    )
    fields = [key for key in strategies if key not in ("presented", "more_rows")]
    explicit = [
        {"url": own_url, "submission": submission} for submission in sweep(base, fields[:2])
    ]

    @fuzz("page_draft", explicit)
    @given(url=urls, submission=submissions(base, strategies))
    def post_draft(url, submission):
        with rolled_back():
            response = send(client, url, submission)
            assert response.status_code in (200, 400, 404), response.status_code
            assert intake_state(screening) == baseline, "a draft changed the answers"
            assert intake_state(others) == others_baseline, "another patient's answers changed"
            assert not PageDraft.objects.filter(screening=others).exists()
            kept = response.status_code == 200 and response.json()["kept"]
            if kept:
                # The page is drawn from what was kept, as typed, and saves nothing.
                page_url = url.removesuffix("draft/")
                shown_page = send(client, page_url)
                assert shown_page.status_code in (200, 302), shown_page.status_code
                assert intake_state(screening) == baseline, "showing a draft changed answers"
            else:
                assert not PageDraft.objects.exists()
            ran("page_draft", accepted=kept)

    post_draft()
    assert_budget_ran("page_draft", explicit)


def test_review_page_submits_only_a_complete_screening_with_consent(client, intake):
    screening, others = intake
    baseline = stored_answers(screening)
    strategies = {
        "consent": st.one_of(
            st.sampled_from(["on", "true", "1", "off", "false", "0", "", "no"]), ANY_TEXT
        )
    }
    urls = st.sampled_from(
        [f"/screenings/{screening.pk}/review/"] * 4
        + [f"/screenings/{others.pk}/review/", f"/screenings/{uuid.uuid4()}/review/"]
    )

    own_review = f"/screenings/{screening.pk}/review/"
    explicit = [
        {"url": own_review, "submission": submission, "unfinished": None}
        for submission in sweep({"consent": "on"}, ["consent"])
    ]

    @fuzz("review", explicit)
    @given(
        url=urls,
        submission=submissions({"consent": "on"}, strategies),
        unfinished=st.sampled_from([None, None, "medicines", "vitals", "consent"]),
    )
    def post_review(url, submission, unfinished):
        with rolled_back():
            if unfinished:
                CompletedSection.objects.filter(
                    screening=screening, section__code=unfinished
                ).delete()
            response = send(client, url, submission)
            assert response.status_code in (200, 302, 400, 404)
            parsed = submission.query_dict()
            expected = (
                url.startswith(f"/screenings/{screening.pk}/")
                and not unfinished
                and parsed is not None
                and SubmitForm(parsed).is_valid()
            )
            screening.refresh_from_db()
            assert (screening.status == Screening.Status.SUBMITTED) == expected
            others.refresh_from_db()
            assert others.status == Screening.Status.IN_PROGRESS
            assert stored_answers(screening) == baseline
            ran("review", accepted=expected)

    post_review()
    assert_budget_ran("review", explicit)


# Accounts ----------------------------------------------------------------------------------


def nfkc_email(value: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKC", value.strip()).strip().lower()


def test_login_survives_malformed_posts_and_lets_in_only_the_right_password(patient, settings):
    # Argon2 costs a third of a second per attempt; the form, not the hash, is under test.
    settings.PASSWORD_HASHERS = FAST_HASHERS
    patient.set_password(PASSWORD)
    patient.save()
    client = Client()
    nexts = st.one_of(
        st.sampled_from(
            [
                "/screenings/",
                "//evil.example.com/",
                "https://evil.example.com/",
                "http://testserver/staff/",
                "\\\\evil.example.com",
                "/\\evil.example.com",
                "javascript:alert(1)",
                "\x00/",
                " /x",
                "https:/evil.example.com",
            ]
        ),
        ANY_TEXT,
    )
    strategies = {
        "username": st.one_of(
            st.sampled_from(
                [
                    patient.email,
                    patient.email.upper(),
                    f"  {patient.email} ",
                    "ａｌｉｃｅ@example.com",
                    patient.email + "\x00",
                    "nobody@example.com",
                ]
            ),
            ANY_TEXT,
        ),
        "password": st.one_of(
            st.sampled_from([PASSWORD, PASSWORD + " ", PASSWORD.upper(), "", "\x00"]), ANY_TEXT
        ),
        "next": nexts,
    }
    base = {"username": patient.email, "password": PASSWORD}

    explicit = [
        {"submission": submission, "next_in_url": None}
        for key in ("username", "password", "next")
        for submission in sweep(base, [key])
    ]

    @fuzz("login", explicit)
    @given(submission=submissions(base, strategies), next_in_url=st.one_of(st.none(), nexts))
    def post_login(submission, next_in_url):
        client.cookies.clear()
        url = "/login/" if next_in_url is None else "/login/?" + urlencode({"next": next_in_url})
        with rolled_back():
            response = send(client, url, submission)
            assert response.status_code in (200, 302, 400, 403, 429)
            parsed = submission.query_dict()
            expected = (
                parsed is not None
                and nfkc_email(parsed.get("username", "")) == patient.email
                and parsed.get("password") == PASSWORD
                and response.status_code != 400
            )
            logged_in = "_auth_user_id" in client.session
            assert logged_in == expected, (parsed, response.status_code)
            if logged_in:
                location = response["Location"]
                assert url_has_allowed_host_and_scheme(location, {"testserver"}), location
            # django-axes records failures in 255-character columns: PostgreSQL refuses a
            # longer name (a 500); SQLite would store it, so check here on both.
            for name in AccessAttempt.objects.values_list("username", flat=True):
                assert name is None or len(name) <= 255
        ran("login", accepted=expected)

    post_login()
    assert_budget_ran("login", explicit)


def test_accepting_an_invitation_survives_malformed_posts(db, physician, settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    invitation, token = create_invitation(
        full_name="Nora Newpatient", email="nora@example.com", created_by=physician
    )
    used, used_token = create_invitation(
        full_name="Used Link", email="used@example.com", created_by=physician
    )
    used.accepted_at = timezone.now()
    used.save()
    client = Client()
    good = "quiet orchard lantern 1987"
    strategies = {
        "password1": st.one_of(
            st.sampled_from([good, "short", "password1234", "nora@example.com"]), ANY_TEXT
        ),
        "password2": st.one_of(st.sampled_from([good, good + " ", ""]), ANY_TEXT),
    }
    tokens = st.one_of(
        st.just(token),
        st.just(token),
        st.just(token),
        st.sampled_from([token[:-1], token + "x", token.upper(), used_token, "", "%00", "\u202e"]),
        st.text(min_size=1, max_size=50),
        HUGE.map(lambda s: s[:5000]),
    )

    base = {"password1": good, "password2": good}
    explicit = [
        {"submission": submission, "url_token": token}
        for submission in sweep(base, ["password1", "password2"])
    ] + [{"submission": Submission(data=base), "url_token": value} for value in SWEEP]

    @fuzz("accept_invitation", explicit)
    @given(submission=submissions(base, strategies), url_token=tokens)
    def post_acceptance(submission, url_token):
        client.cookies.clear()
        link = f"/invitation/?token={quote(url_token, safe='')}"
        with rolled_back():
            # The emailed link moves the token into the session; the form is at /invitation/.
            opened = client.get(link)
            assert opened.status_code == 302 and opened["Location"] == "/invitation/"
            response = send(client, "/invitation/", submission)
            assert response.status_code in (200, 302, 400, 404)
            parsed = submission.query_dict()
            provisional = User(email=invitation.email, full_name=invitation.full_name)
            expected = (
                url_token == token
                and parsed is not None
                and SetPasswordForm(parsed, user=provisional).is_valid()
            )
            invitation.refresh_from_db()
            assert (invitation.accepted_at is not None) == expected
            assert User.objects.filter(email=invitation.email).exists() == expected
            assert not User.objects.filter(email=used.email).exists()
        ran("accept_invitation", accepted=expected)

    post_acceptance()
    assert_budget_ran("accept_invitation", explicit)


# Password reset and the second factor ---------------------------------------------------------
#
# Driven through URL names and form field names, and the reset link as the email gives it,
# so they keep working when the reset flow changes shape (a token exchanged for a session,
# mail sent after the response or by a task queue).


@contextmanager
def kept_cookies(client: Client):
    """Give the client its cookies back after an example: an accepted code or password gives
    the session a new key, whose row the rollback then removes."""
    saved = copy.deepcopy(client.cookies)
    try:
        yield
    finally:
        client.cookies = saved


def form_class_of(path: str, default):
    """The form the view at `path` validates with, as the oracle for what it must accept."""
    view = resolve(urlsplit(path).path).func
    return getattr(getattr(view, "view_class", None), "form_class", None) or default


@contextmanager
def mail_sent_by_the_request():
    """Mail is in mail.outbox when the block ends, also if it is sent once the transaction
    commits (on_commit, or a task enqueued then): the example's savepoint never commits."""
    mail.outbox.clear()
    with TestCase.captureOnCommitCallbacks(execute=True):
        yield


def emailed_link() -> str:
    (message,) = mail.outbox
    return re.search(r"https?://[^/\s]+(/\S+)", message.body).group(1)


RESET_MAILS: Counter[str] = Counter()


def test_password_reset_request_survives_malformed_posts(patient, other_patient):
    client = Client()
    url = reverse("password_reset")
    form_class = form_class_of(url, PasswordResetForm)
    strategies = {
        "email": st.one_of(
            st.sampled_from(
                [
                    patient.email,
                    patient.email.upper(),
                    f"  {patient.email} ",
                    "ａｌｉｃｅ@example.com",
                    "alice@ＥＸＡＭＰＬＥ.com",
                    patient.email + "\x00",
                    patient.email + "\n",
                    "ALİCE@example.com",
                    "nobody@example.com",
                    "a" * 250 + "@example.com",
                ]
            ),
            st.sampled_from(INTERNATIONAL_EMAILS),
            st.emails().map(str),
            ANY_TEXT,
        )
    }
    base = {"email": patient.email}
    accounts = [patient, other_patient]
    state = {user.pk: (user.password, user.email, user.is_active) for user in accounts}
    # Whatever the address, an accepted request answers the same: found once, then required.
    with rolled_back(), mail_sent_by_the_request():
        accepted_answer = client.post(url, base)["Location"]
        assert client.post(url, {"email": "nobody@example.com"})["Location"] == accepted_answer
    explicit = [{"submission": submission} for submission in sweep(base, ["email"])]

    @fuzz("password_reset", explicit)
    @given(submission=submissions(base, strategies))
    def post_reset_request(submission):
        # Limits kept in the cache start afresh for each example, like the rolled-back database.
        cache.clear()
        with rolled_back():
            with mail_sent_by_the_request():
                response = send(client, url, submission)
            assert response.status_code in (200, 302, 400)
            parsed = submission.query_dict()
            form = form_class(parsed) if parsed is not None else None
            expected = form is not None and form.is_valid() and response.status_code != 400
            assert (response.status_code == 302) == expected
            if expected:
                assert response["Location"] == accepted_answer
            # One email at most, only to the account holder, only for their own address.
            assert len(mail.outbox) <= 1
            for message in mail.outbox:
                assert message.to == [patient.email]
                assert _unicode_ci_compare(form.cleaned_data["email"], patient.email)
            for user in accounts:
                user.refresh_from_db()
                assert (user.password, user.email, user.is_active) == state[user.pk]
            RESET_MAILS["request"] += len(mail.outbox)
        ran("password_reset", accepted=expected)

    post_reset_request()
    assert_budget_ran("password_reset", explicit)
    assert RESET_MAILS["request"] > 0, (
        "No reset email was seen: if mail now goes through the task queue, run its tasks "
        "inside mail_sent_by_the_request() so the fuzzer still checks who is emailed."
    )


def test_setting_a_new_password_survives_malformed_posts(patient, settings):
    settings.PASSWORD_HASHERS = FAST_HASHERS
    client = Client()
    with mail_sent_by_the_request():
        client.post(reverse("password_reset"), {"email": patient.email})
    page = client.get(emailed_link(), follow=True)
    assert 'name="new_password1"' in page.text, "the emailed link did not lead to the form"
    set_url = page.redirect_chain[-1][0] if page.redirect_chain else emailed_link()
    form_class = form_class_of(set_url, NewPasswordForm)
    good = "quiet orchard lantern 1987"
    strategies = {
        "new_password1": st.one_of(
            st.sampled_from([good, "short", "password1234", patient.email, "Alice Patient1"]),
            ANY_TEXT,
        ),
        "new_password2": st.one_of(st.sampled_from([good, good + " ", ""]), ANY_TEXT),
    }
    base = {"new_password1": good, "new_password2": good}
    old_hash = patient.password
    explicit = [
        {"submission": submission, "with_the_link": True}
        for submission in sweep(base, ["new_password1", "new_password2"])
    ]

    @fuzz("set_new_password", explicit)
    @given(
        submission=submissions(base, strategies),
        with_the_link=st.sampled_from([True, True, True, True, False]),
    )
    def post_new_password(submission, with_the_link):
        # Without the link's session, the page must refuse whatever is posted.
        poster = client if with_the_link else Client()
        with kept_cookies(client), rolled_back():
            response = send(poster, set_url, submission)
            assert response.status_code in (200, 302, 400)
            parsed = submission.query_dict()
            expected = (
                with_the_link
                and parsed is not None
                and form_class(patient, parsed).is_valid()
                and response.status_code != 400
            )
            assert (response.status_code == 302) == expected
            patient.refresh_from_db()
            assert (patient.password != old_hash) == expected
            if expected:
                assert patient.check_password(parsed["new_password1"])
        ran("set_new_password", accepted=expected)

    post_new_password()
    assert_budget_ran("set_new_password", explicit)


def digits_of(text: str) -> str | None:
    """The oracle's reading of a typed code: spaces dropped, decimal digits of any script
    read as 0-9 (int() reads them too); anything else, superscripts included, is no code."""
    text = "".join(text.split())
    if not all(unicodedata.category(c) == "Nd" for c in text):
        return None
    return "".join(str(unicodedata.decimal(c)) for c in text)


def codes_accepted_now(device: TOTPDevice) -> set[str]:
    """The codes the server accepts this moment: one period either side (django-otp)."""
    return {code_shown(device, steps) for steps in (-1, 0, 1)}


ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def code_placeholders(device: TOTPDevice) -> dict[str, str]:
    """The codes an example may type, known only when it runs: right now, in Arabic-Indic
    digits, spaced, in superscripts, from five periods ago (refused), and the next one."""
    now = code_shown(device)
    return {
        "CODE_NOW": now,
        "CODE_ARABIC": now.translate(ARABIC_INDIC),
        "CODE_SPACED": f" {now[:3]} {now[3:]} ",
        "CODE_SUPERSCRIPT": now.translate(SUPERSCRIPT),
        "CODE_STALE": code_shown(device, -5),
        "CODE_NEXT": code_shown(device, 1),
    }


CODES = st.one_of(
    st.sampled_from(
        ["CODE_NOW"] * 3
        + ["CODE_ARABIC", "CODE_SPACED", "CODE_SUPERSCRIPT", "CODE_STALE", "CODE_NEXT"]
    ),
    st.sampled_from(["²²²²²²", "000000", "123456", "12345", "1234567", "１２３４５６", "٠١٢٣٤٥"]),
    st.integers(0, 999_999).map(lambda n: f"{n:06d}"),
    st.text(alphabet=st.characters(categories=["Nd", "No", "Nl"]), min_size=1, max_size=8),
    ANY_TEXT,
)
NEXT_URLS = st.one_of(
    st.sampled_from(["/staff/queue/", "//evil.example.com/", "https://evil.example.com/", ""]),
    ANY_TEXT,
)


def assert_code_oracle(response, typed: str | None, before: set, after: set, verified: bool):
    """Accepted only a code the server could accept at that moment; refused one it could not
    have missed (codes move on every 30 s, so the sets from either side of the request)."""
    assert response.status_code in (200, 302, 400)
    if verified:
        assert response.status_code == 302
        assert typed in before | after, typed
        assert url_has_allowed_host_and_scheme(response["Location"], {"testserver"})
    else:
        assert response.status_code != 302 or "two-factor" in response["Location"]
        assert typed not in before & after, f"the right code {typed} was refused"


def test_two_factor_verification_survives_malformed_posts(physician):
    device = authenticator_for(physician)
    client = Client()
    client.force_login(physician)
    url = reverse("two_factor_verify")
    base = {"code": "CODE_NOW", "next": "/staff/queue/"}
    strategies = {"code": CODES, "next": NEXT_URLS}
    explicit = [{"submission": submission} for submission in sweep(base, ["code", "next"])]

    @fuzz("two_factor_verify", explicit)
    @given(submission=submissions(base, strategies))
    def post_code(submission):
        with kept_cookies(client), rolled_back():
            device.refresh_from_db()
            before = codes_accepted_now(device)
            concrete = with_placeholders(submission, code_placeholders(device))
            response = send(client, url, concrete)
            after = codes_accepted_now(device)
            parsed = concrete.query_dict()
            form = OneTimeCodeForm(parsed) if parsed is not None else None
            typed = digits_of(form.cleaned_data["code"]) if form and form.is_valid() else None
            verified = DEVICE_ID_SESSION_KEY in client.session
            assert_code_oracle(response, typed, before, after, verified)
        ran("two_factor_verify", accepted=verified)

    post_code()
    assert_budget_ran("two_factor_verify", explicit)


def test_two_factor_set_up_survives_malformed_posts(physician):
    client = Client()
    client.force_login(physician)
    url = reverse("two_factor_setup")
    # No trust on first use: the set-up page takes a code only after the emailed link.
    with mail_sent_by_the_request():
        client.post(reverse("two_factor_send_link"))
    assert client.get(emailed_link()).status_code == 302
    assert client.get(url).status_code == 200
    device = TOTPDevice(key=client.session[PENDING_KEY_SESSION_KEY])
    base = {"code": "CODE_NOW", "next": "/staff/queue/"}
    strategies = {"code": CODES, "next": NEXT_URLS}
    explicit = [{"submission": submission} for submission in sweep(base, ["code", "next"])]

    @fuzz("two_factor_setup", explicit)
    @given(submission=submissions(base, strategies))
    def post_code(submission):
        with kept_cookies(client), rolled_back():
            before = codes_accepted_now(device)
            concrete = with_placeholders(submission, code_placeholders(device))
            with mail_sent_by_the_request():
                response = send(client, url, concrete)
            after = codes_accepted_now(device)
            parsed = concrete.query_dict()
            form = OneTimeCodeForm(parsed) if parsed is not None else None
            typed = digits_of(form.cleaned_data["code"]) if form and form.is_valid() else None
            enrolled = TOTPDevice.objects.filter(user=physician, confirmed=True).exists()
            assert enrolled == (DEVICE_ID_SESSION_KEY in client.session)
            assert_code_oracle(response, typed, before, after, enrolled)
            # The person is told of every enrolment, and of nothing else.
            assert [m.to for m in mail.outbox] == ([[physician.email]] if enrolled else [])
        ran("two_factor_setup", accepted=enrolled)

    post_code()
    assert_budget_ran("two_factor_setup", explicit)


# Staff -------------------------------------------------------------------------------------


# Internationalised domains: valid to Django's EmailValidator, but can mail encode them?
INTERNATIONAL_EMAILS = [
    "nora@exämple.com",
    "nora@\u3002.com",
    "nora@b\u3002\u3002c.com",
    "nora@\ufffd.com",
    "nora@⒈.com",
    "nora@" + "ä" * 62 + ".com",
    "nora@ß.de",
    "nora@\u0660.com",
]


def test_staff_invitation_form_survives_malformed_posts(client, physician):
    log_in_staff(client, physician)
    safe_values = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=40)
    strategies = {
        "full_name": st.one_of(
            st.sampled_from(["Nora Newpatient", "  ", "x" * 200, "x" * 201, "Zoë \u202eReversed"]),
            ANY_TEXT,
        ),
        "email": st.one_of(
            st.sampled_from(
                [
                    "nora@example.com",
                    "NORA@EXAMPLE.COM",
                    " nora@example.com ",
                    "nora@example.com\x00",
                    "nora@@example.com",
                    "nora@example",
                    '"nora jones"@example.com',
                    "a" * 250 + "@example.com",
                ]
            ),
            st.sampled_from(INTERNATIONAL_EMAILS),
            st.emails().map(str),
            ANY_TEXT,
            safe_values.map(lambda s: f"{s}@example.com"),
            safe_values.map(lambda s: f"nora@{s}.com"),
        ),
    }
    base = {"full_name": "Nora Newpatient", "email": "nora@example.com"}

    explicit = [
        {"submission": submission}
        for submission in sweep(base, ["full_name"])
        + sweep(base, ["email"])
        + sweep(base, ["email"], INTERNATIONAL_EMAILS)
    ]

    @fuzz("staff_invitation", explicit)
    @given(submission=submissions(base, strategies))
    def post_invitation(submission):
        client.cookies.pop("messages", None)
        mail.outbox.clear()
        with rolled_back():
            before = Invitation.objects.count()
            response = send(client, "/staff/invitations/", submission)
            assert response.status_code in (200, 302, 400)
            parsed = submission.query_dict()
            form = InvitationForm(parsed) if parsed is not None else None
            expected = form is not None and form.is_valid()
            assert Invitation.objects.count() == before + int(expected)
            assert len(mail.outbox) == int(expected)
            if expected:
                invitation = Invitation.objects.order_by("-created_at").first()
                assert invitation.email == form.cleaned_data["email"]
                assert invitation.full_name == form.cleaned_data["full_name"].strip()
                assert mail.outbox[0].to == [invitation.email]
        ran("staff_invitation", accepted=expected)

    post_invitation()
    assert_budget_ran("staff_invitation", explicit)


@pytest.fixture
def submitted(client, patient, other_patient, physician, default_version):
    """A real submitted screening with flags (urgent and contraindicated), and others beside it."""
    screening = start_screening(patient=patient)
    answer_everything(screening, {"pregnant": "yes", "suicide_intent": "yes"})
    assert submit_screening(screening=screening)
    screening.refresh_from_db()
    assert screening.flags.filter(severity="contraindicated").exists()
    other = make_submitted_screening(level="caution", minutes_ago=30)
    log_in_staff(client, physician)
    return screening, other


def staff_state(screening: Screening) -> dict:
    return {
        "answers": stored_answers(screening),
        "flags": sorted(
            (str(f[0]), *f[1:])
            for f in Flag.objects.filter(screening=screening).values_list(
                "id", "code", "severity", "title", "message", "position"
            )
        ),
        "evidence": sorted(
            (str(pk), repr(evidence))
            for pk, evidence in Flag.objects.filter(screening=screening).values_list(
                "id", "evidence"
            )
        ),
        "acknowledgements": sorted(
            (str(flag), str(who), note)
            for flag, who, note in FlagAcknowledgement.objects.filter(
                flag__screening=screening
            ).values_list("flag_id", "physician_id", "note")
        ),
        "decisions": sorted(
            (str(d[0]), *d[1:])
            for d in Decision.objects.filter(screening=screening).values_list(
                "id", "outcome", "conditions", "reason", "message_to_patient", "override_reason"
            )
        ),
        "medications": list(
            screening.medications.order_by("position").values_list(
                "typed", "dose", "frequency", "matched"
            )
        ),
        "screening": Screening.objects.filter(pk=screening.pk)
        .values("status", "lock_version", "message_to_patient", "level", "flag_count", "scores")
        .get(),
    }


LOCK_VERSIONS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["-1", "0", "1", "2", "1.0", " 1 ", "+1", "١", "NaN", "inf", "", "9" * 5000]),
    ANY_TEXT,
)
NOTES = st.one_of(
    st.sampled_from(["Seen, will discuss", "  ", "x" * 2000, "x" * 2001, "x" * 4001]),
    st.text(max_size=60),
    ANY_TEXT,
)


def test_acknowledge_survives_malformed_posts(client, physician, submitted):
    screening, other = submitted
    flag_ids = [str(pk) for pk in screening.flags.values_list("id", flat=True)]
    other_flag = str(other.flags.values_list("id", flat=True).first())
    version = screening.lock_version
    baseline = staff_state(screening)
    strategies = {"note": NOTES, "lock_version": LOCK_VERSIONS}
    base = {"note": "Seen, will discuss", "lock_version": str(version)}
    urls = st.one_of(
        st.sampled_from(flag_ids).map(lambda f: (screening.pk, f)),
        st.sampled_from(
            [(screening.pk, other_flag), (other.pk, flag_ids[0]), (screening.pk, str(uuid.uuid4()))]
        ),
    )

    explicit = [
        {"target": (screening.pk, flag_ids[0]), "submission": submission}
        for submission in sweep(base, ["note"]) + sweep(base, ["lock_version"])
    ]

    @fuzz("acknowledge", explicit)
    @given(target=urls, submission=submissions(base, strategies))
    def post_acknowledgement(target, submission):
        screening_id, flag_id = target
        client.cookies.pop("messages", None)
        with rolled_back():
            response = send(
                client, f"/staff/screenings/{screening_id}/flags/{flag_id}/acknowledge/", submission
            )
            assert response.status_code in (302, 400, 404)
            parsed = submission.query_dict()
            form = AcknowledgeForm(parsed) if parsed is not None else None
            expected = (
                screening_id == screening.pk
                and flag_id in flag_ids
                and form is not None
                and form.is_valid()
                and form.cleaned_data["lock_version"] == version
            )
            after = staff_state(screening)
            if not expected:
                assert after == baseline, "a refused acknowledgement changed the screening"
            else:
                changed = {key for key in after if after[key] != baseline[key]}
                assert changed == {"acknowledgements", "screening"}
                assert after["acknowledgements"] == [
                    (flag_id, str(physician.pk), form.cleaned_data["note"].strip())
                ]
                assert after["screening"] == {**baseline["screening"], "lock_version": version + 1}
        ran("acknowledge", accepted=expected)

    post_acknowledgement()
    assert_budget_ran("acknowledge", explicit)


def test_decide_survives_malformed_posts(client, physician, submitted):
    screening, other = submitted
    outcomes = [value for value, _ in Decision.Outcome.choices]
    strategies = {
        "outcome": st.one_of(
            st.sampled_from(outcomes + ["CLEARED", "cleared ", "approved", "", "decided"]), ANY_TEXT
        ),
        "conditions": NOTES,
        "reason": NOTES,
        "message_to_patient": NOTES,
        "override_reason": NOTES,
        "lock_version": LOCK_VERSIONS,
    }

    @st.composite
    def decision_posts(draw):
        acknowledge_first = draw(st.booleans())
        outcome = draw(st.sampled_from(outcomes))
        base = {
            "outcome": outcome,
            "conditions": "No driving for 24 hours",
            "reason": "Uncontrolled blood pressure",
            "message_to_patient": "Please tell us your usual blood pressure",
            "override_reason": "Discussed with obstetrics",
            "lock_version": "LOCK",
        }
        return acknowledge_first, draw(submissions(base, strategies))

    urls = st.sampled_from([screening.pk] * 6 + [other.pk, uuid.uuid4()])
    clearing = {
        "outcome": Decision.Outcome.CLEARED_WITH_CONDITIONS,
        "conditions": "No driving for 24 hours",
        "override_reason": "Discussed with obstetrics",
        "lock_version": "LOCK",
    }
    texts = ["conditions", "reason", "message_to_patient", "override_reason"]
    explicit = [
        {"target": screening.pk, "post": (True, submission)}
        for submission in sweep(clearing, texts)
        + sweep(clearing, ["lock_version"])
        + sweep(clearing, ["outcome"])
    ]

    @fuzz("decide", explicit)
    @given(target=urls, post=decision_posts())
    def post_decision(target, post):
        acknowledge_first, submission = post
        client.cookies.pop("messages", None)
        with rolled_back():
            if acknowledge_first:
                for flag in screening.flags.all():
                    FlagAcknowledgement.objects.create(flag=flag, physician=physician, note="ok")
                Screening.objects.filter(pk=screening.pk).update(lock_version=10)
            version = Screening.objects.get(pk=screening.pk).lock_version
            submission = with_lock_version(submission, version)
            baseline = staff_state(screening)
            other_baseline = staff_state(other)
            reads = AuditEvent.objects.filter(action="screening.viewed").count()
            response = send(client, f"/staff/screenings/{target}/decide/", submission)
            assert response.status_code in (200, 302, 400, 404)
            if response.status_code == 200:
                # The form came back with the whole screening: an audited read of it.
                assert AuditEvent.objects.filter(action="screening.viewed").count() == reads + 1
            parsed = submission.query_dict()
            form = DecisionForm(parsed, has_contraindication=True) if parsed is not None else None
            valid = form is not None and form.is_valid()
            clearing = valid and form.cleaned_data["outcome"] in (
                Decision.Outcome.CLEARED,
                Decision.Outcome.CLEARED_WITH_CONDITIONS,
            )
            expected = (
                target == screening.pk
                and valid
                and form.cleaned_data["lock_version"] == version
                and (acknowledge_first or not clearing)
            )
            after = staff_state(screening)
            assert staff_state(other) == other_baseline
            if not expected:
                assert after == baseline, "a refused decision changed the screening"
            else:
                data = form.cleaned_data
                changed = {key for key in after if after[key] != baseline[key]}
                assert changed == {"decisions", "screening"}
                (decision,) = Decision.objects.filter(screening=screening)
                assert decision.outcome == data["outcome"]
                assert decision.physician_id == physician.pk
                for field in ("conditions", "reason", "message_to_patient", "override_reason"):
                    assert getattr(decision, field) == data[field].strip()
                reopened = data["outcome"] == Decision.Outcome.MORE_INFORMATION_NEEDED
                assert after["screening"]["status"] == (
                    Screening.Status.WAITING_FOR_PATIENT if reopened else Screening.Status.DECIDED
                )
                assert after["screening"]["lock_version"] == version + 1
        ran("decide", accepted=expected)

    post_decision()
    assert_budget_ran("decide", explicit)


def with_lock_version(submission: Submission, version: int) -> Submission:
    """Put the screening's current lock_version where the base data holds the placeholder."""
    return with_placeholders(submission, {"LOCK": str(version)})


def with_placeholders(submission: Submission, values: dict[str, str]) -> Submission:
    """Put values known only when the example runs (a lock version, the code an authenticator
    shows now) where the generated data holds their placeholder names."""
    if submission.data is not None:
        data = {
            key: (
                [values.get(v, v) if isinstance(v, str) else v for v in value]
                if isinstance(value, list)
                else (values.get(value, value) if isinstance(value, str) else value)
            )
            for key, value in submission.data.items()
        }
        return Submission(data=data)
    raw = submission.raw
    # Longest first, so a placeholder that starts another is not replaced inside it.
    for name in sorted(values, key=len, reverse=True):
        value = values[name]
        encoded = (
            quote_plus(value).encode()
            if submission.content_type.startswith(URLENCODED)
            else value.encode()
        )
        raw = raw.replace(name.encode(), encoded)
    return Submission(raw=raw, content_type=submission.content_type)


def test_queue_filters_survive_malformed_queries(client, physician, submitted):
    screening, other = submitted
    make_submitted_screening(level="info", minutes_ago=60 * 24 * 400)
    make_submitted_screening(status="decided", minutes_ago=5)
    hidden = start_screening(patient=make_patient("Ingrid Inprogress"))
    answer_everything(hidden)
    queryset = Screening.objects.select_related("patient")
    audit_count = _audit_count()
    strategies = {
        "status": st.one_of(
            st.sampled_from(["submitted", "decided", "all", "in_progress", "SUBMITTED", ""]),
            ANY_TEXT,
        ),
        "level": st.one_of(
            st.sampled_from(["", "urgent", "contraindicated", "caution", "info", "none", "Urgent"]),
            ANY_TEXT,
        ),
        "submitted_from": DATE_STRINGS,
        "submitted_to": DATE_STRINGS,
        "q": st.one_of(
            st.sampled_from(
                [
                    "Alice",
                    "alice@example.com",
                    "Patient",
                    "%",
                    "_",
                    "\\",
                    "Ingrid",
                    "x" * 100,
                    "x" * 101,
                ]
            ),
            ANY_TEXT,
        ),
        "page": st.one_of(
            st.sampled_from(["1", "2", "0", "-1", "last", "NaN", "1e3", "9" * 50]), ANY_TEXT
        ),
    }
    base = {"status": "all", "level": "", "submitted_from": "", "submitted_to": "", "q": ""}

    explicit = [
        {"data": {**base, **dict.fromkeys(strategies, value)}, "junk": []} for value in SWEEP
    ]

    @fuzz("queue", explicit)
    @given(data=mutated(base, strategies), junk=st.lists(st.sampled_from(JUNK_BYTES), max_size=2))
    def get_queue(data, junk):
        query_string = (urlencode(data, doseq=True).encode() + b"".join(junk)).decode("latin-1")
        with rolled_back():
            response = send(client, "/staff/queue/?" + query_string)
            assert response.status_code in (200, 400)
            if response.status_code == 200:
                html = response.content.decode()
                expected = (
                    QueueFilterForm(QueryDict(query_string) or None)
                    .filter(queryset)
                    .in_queue_order()
                )
                listed = set(re.findall(r'href="/staff/screenings/([0-9a-f-]{36})/"', html))
                assert listed == {str(pk) for pk in expected.values_list("pk", flat=True)[:50]}
                assert str(hidden.pk) not in html and "Ingrid Inprogress" not in html
            # A page shown is one audited read of the queue; a refused request writes nothing.
            shown = 1 if response.status_code == 200 else 0
            assert _audit_count() == audit_count + shown
        ran("queue")

    get_queue()
    assert_budget_ran("queue", explicit, both_ways=False)


def _audit_count() -> int:
    from screening.models import AuditEvent

    return AuditEvent.objects.count()


# JSON that people write: the admin's JSON boxes and the evaluate command --------------------

DEEP_JSON = [
    "[" * 100_000 + "]" * 100_000,
    '{"a": ' * 30_000 + "1" + "}" * 30_000,
    "[" * 21 + "]" * 21,
]
# PostgreSQL's jsonb cannot store NUL: saved, these would be a DataError there.
NUL_JSON = ['[{"min": 0, "max": 4, "label": "Minimal\\u0000"}]', '["suicide_risk_high\\u0000"]']
# Half a UTF-16 pair, escaped: no character, so nothing can encode it (saved or shown, a 500).
LONE_SURROGATE_JSON = [
    '["\\ud800"]',
    '["phq9_1\\udfff"]',
    '[{"min": 0, "max": 4, "label": "\\ud800"}]',
    '[{"min": 0, "max": 4, "label": "M", "\\udc00": 1}]',
    '"\\ud83d"',
]
HOSTILE_JSON = st.one_of(
    st.sampled_from(
        DEEP_JSON
        + NUL_JSON
        + LONE_SURROGATE_JSON
        + [
            "[" + "9" * 5000 + "]",
            "[-" + "9" * 4301 + "]",
            "[1e400]",
            "[" + "1" * 200 + ".5]",
            "[NaN]",
            "[Infinity]",
            "[-Infinity]",
            '["phq9_1"',
            "[[]]",
            '[["phq9_1"]]',
            '[{"code": "phq9_1"}]',
            '[{"min": 0, "max": 4, "label": ["Minimal"]}]',
            '[{"min": [[0]], "max": 4, "label": "Minimal"}]',
            '[{"min": true, "max": 4, "label": "Minimal"}]',
            "\ufeff[]",
            "[]",
            "null",
            '""',
            '"phq9_1"',
            "{}",
            "7",
        ]
    ),
    ANY_TEXT,
)
JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["phq9_1", "suicide_risk_high", "min", "max", "label"]),
)
JSON_TREES = st.recursive(
    JSON_LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(["min", "max", "label", "x"]), children, max_size=4),
    ),
    max_leaves=12,
).map(lambda value: json.dumps(value, ensure_ascii=False))


def json_texts(valid):
    return st.one_of(valid, JSON_TREES, HOSTILE_JSON)


def valid_bands_json():
    band = st.tuples(
        st.integers(0, 30), st.integers(0, 30), PLAIN_TEXT.filter(lambda s: s.strip())
    ).map(lambda b: {"min": min(b[:2]), "max": max(b[:2]), "label": b[2]})
    return st.lists(band, max_size=4).map(json.dumps)


def stored_bands_are_valid(bands) -> bool:
    def number(value) -> bool:
        return isinstance(value, int | float) and not isinstance(value, bool)

    return isinstance(bands, list) and all(
        isinstance(b, dict)
        and number(b.get("min"))
        and number(b.get("max"))
        and b["min"] <= b["max"]
        and isinstance(b.get("label"), str)
        and b["label"].strip()
        for b in bands
    )


@pytest.fixture
def draft_in_admin(client, clinic_admin, default_version):
    """A draft copy of the default content, and a clinic admin in the admin."""
    log_in_staff(client, clinic_admin)
    client.post(
        reverse("admin:screening_questionsetversion_changelist"),
        {"action": "make_draft_copy", "_selected_action": [str(default_version.pk)]},
    )
    return default_version.question_set.versions.get(status="draft")


def test_admin_score_definition_json_survives_malformed_posts(client, draft_in_admin):
    score = draft_in_admin.score_definitions.get(code="phq9_total")
    scale_items = list(
        draft_in_admin.questions.filter(kind=SCALE_ITEM).values_list("code", flat=True)
    )
    url = reverse("admin:screening_scoredefinition_change", args=[score.pk])
    fields = ("version_id", "position", "code", "name", "items", "bands", "source")
    baseline = ScoreDefinition.objects.filter(pk=score.pk).values(*fields).get()
    base = {
        "version": str(score.version_id),
        "position": str(score.position),
        "code": score.code,
        "name": score.name,
        "items": json.dumps(score.items),
        "bands": json.dumps(score.bands),
        "source": score.source,
    }
    valid_items = st.lists(st.sampled_from(scale_items), min_size=1, max_size=9, unique=True).map(
        json.dumps
    )
    strategies = {"items": json_texts(valid_items), "bands": json_texts(valid_bands_json())}
    valid = {
        "items": valid_items.map(lambda v: {"items": v}),
        "bands": valid_bands_json().map(lambda v: {"bands": v}),
    }
    explicit = [
        {"submission": Submission(data={**base, field: text})}
        for field in ("items", "bands")
        for text in DEEP_JSON + NUL_JSON + LONE_SURROGATE_JSON
    ]

    @fuzz("admin_score_json", explicit)
    @given(submission=submissions(base, strategies, valid=valid))
    def post_score(submission):
        with rolled_back():
            response = send(client, url, submission)
            assert response.status_code in (200, 302, 400)
            after = ScoreDefinition.objects.filter(pk=score.pk).values(*fields).get()
            saved = response.status_code == 302
            if not saved:
                assert after == baseline, "a refused post changed the score definition"
            else:
                items = after["items"]
                assert isinstance(items, list) and items and set(items) <= set(scale_items)
                assert all(isinstance(item, str) for item in items)
                assert stored_bands_are_valid(after["bands"]), after["bands"]
        ran("admin_score_json", accepted=saved)

    post_score()
    assert_budget_ran("admin_score_json", explicit)


def test_admin_rule_superseded_by_survives_malformed_posts(client, draft_in_admin):
    rule = draft_in_admin.rules.get(code="suicide_risk_low")
    codes = list(draft_in_admin.rules.values_list("code", flat=True))
    url = reverse("admin:screening_rule_change", args=[rule.pk])
    baseline = Rule.objects.filter(pk=rule.pk).values().get()
    base = {name: str(value) for name, value in rule_form_data(rule, active="on").items()}
    valid_codes = st.lists(st.sampled_from(codes), max_size=3, unique=True).map(json.dumps)
    strategies = {"superseded_by": json_texts(valid_codes)}
    valid = {"superseded_by": valid_codes.map(lambda v: {"superseded_by": v})}
    explicit = [
        {"submission": Submission(data={**base, "superseded_by": text})}
        for text in DEEP_JSON + NUL_JSON + LONE_SURROGATE_JSON
    ]

    @fuzz("admin_rule_json", explicit)
    @given(submission=submissions(base, strategies, valid=valid))
    def post_rule(submission):
        with rolled_back():
            response = send(client, url, submission)
            assert response.status_code in (200, 302, 400)
            after = Rule.objects.filter(pk=rule.pk).values().get()
            saved = response.status_code == 302
            if not saved:
                assert after == baseline, "a refused post changed the rule"
            else:
                # The rest of the form may change too (junk spliced into the title is saved).
                superseded_by = after["superseded_by"]
                assert isinstance(superseded_by, list) and set(superseded_by) <= set(codes)
                assert all(isinstance(code, str) for code in superseded_by)
        ran("admin_rule_json", accepted=saved)

    post_rule()
    assert_budget_ran("admin_rule_json", explicit)


def storable(value) -> bool:
    """Text any column and any page can hold: no NUL, no lone surrogate, at any depth."""
    text = json.dumps(value, ensure_ascii=False)
    return "\\u0000" not in text and not re.search("[\ud800-\udfff]", text)


# Answers for a test case, as the JSON box takes them, sometimes with a hostile value inside.
PANEL_ANSWERS = st.dictionaries(
    st.sampled_from(
        ["medications", "questions_for_clinic", "bp_systolic", "suicide_plan", "date_of_birth"]
    )
    | st.text(max_size=10),
    JSON_LEAVES | st.lists(st.text(max_size=20), max_size=3) | st.sampled_from(NASTY_STRINGS),
    max_size=5,
).map(lambda value: json.dumps(value, ensure_ascii=False))
ESCAPED_HOSTILE_ANSWERS = [
    '{"medications": ["\\ud800"]}',
    '{"questions_for_clinic": "\\ud800"}',
    '{"questions_for_clinic": "ok \\udfff"}',
    '{"\\ud800": "yes"}',
    '{"medications": ["Sertraline\\u0000"]}',
    '{"questions_for_clinic": "\\ud83d\\ude00"}',
]


def test_admin_test_case_answers_survive_malformed_posts(client, draft_in_admin):
    url = reverse("admin:screening_panelcase_add")
    before = PanelCase.objects.filter(version=draft_in_admin).count()
    base = {
        "version": str(draft_in_admin.pk),
        "position": "999",
        "name": "Fuzzed case",
        "answers": '{"bp_systolic": 120}',
        "must_raise": "",
        "must_not_raise": "",
        "nothing_else": "on",
        "as_of": "2026-01-01",
        "note": "",
    }
    answers = st.one_of(
        st.sampled_from(ESCAPED_HOSTILE_ANSWERS), PANEL_ANSWERS, JSON_TREES, HOSTILE_JSON
    )
    valid = {"answers": st.just({"answers": '{"bp_systolic": 120, "suicide_plan": "no"}'})}
    explicit = [
        {"submission": Submission(data={**base, "answers": text})}
        for text in ESCAPED_HOSTILE_ANSWERS + LONE_SURROGATE_JSON + NUL_JSON + DEEP_JSON
    ]

    @fuzz("admin_panel_json", explicit)
    @given(submission=submissions(base, {"answers": answers}, valid=valid))
    def post_case(submission):
        with rolled_back():
            response = send(client, url, submission)
            assert response.status_code in (200, 302, 400)
            cases = PanelCase.objects.filter(version=draft_in_admin)
            saved = response.status_code == 302
            if not saved:
                assert cases.count() == before, "a refused post added a test case"
            else:
                case = cases.order_by("-pk").first()
                assert isinstance(case.answers, dict) and storable(case.answers)
                # The list and the case's page show what was saved.
                changelist = send(client, reverse("admin:screening_panelcase_changelist"))
                assert changelist.status_code == 200
                page = send(client, reverse("admin:screening_panelcase_change", args=[case.pk]))
                assert page.status_code == 200
        ran("admin_panel_json", accepted=saved)

    post_case()
    assert_budget_ran("admin_panel_json", explicit)


# The admin's lists: URL lookups ------------------------------------------------------------

# Parameters the change list reads itself (search, order, page...), not lookups.
CHANGELIST_PARAMETERS = ["q", "o", "p", "all", "e", "_facets", "_popup", "_to_field"]
# An admin list's filter values: as ANY_TEXT, but at most the 4,000 characters gunicorn's
# request line lets through (see test_admin_list_filters_survive_malformed_queries).
FILTER_VALUES = st.one_of(
    st.sampled_from(["\x00", "a\x00", "zz", "1", "0", "-1", "True", "False", "", "9" * 30]),
    st.sampled_from(["2026-01-01", "9999999999-01-01", "[", "(a+)+$", "%00", "urgent"]),
    ANY_TEXT.map(lambda text: text[:4_000]),
)


def test_admin_list_filters_survive_malformed_queries(client, default_version, db):
    """Every registered list, with its declared filters given odd values (a NUL was a 500 on
    PostgreSQL), undeclared lookups (always a 400) and the list's own parameters."""
    from django.contrib.admin import site
    from django.test import RequestFactory

    superuser = User.objects.create_superuser(
        email="fuzz-root@example.com", password=PASSWORD, full_name="Root"
    )
    log_in_staff(client, superuser)
    request = RequestFactory().get("/")
    request.user = superuser
    lists = []
    for model, model_admin in sorted(site._registry.items(), key=lambda i: i[0]._meta.label):
        declared = sorted(model_admin.declared_filter_parameters(request))
        fields = sorted({f.name for f in model._meta.get_fields()} | {"pk"})
        undeclared = sorted(
            {f"{name}{suffix}" for name in fields for suffix in ("", "__isnull", "__gt")}
            - set(declared)
        )
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        lists.append((url, declared, undeclared))

    @st.composite
    def queries(draw):
        url, declared, undeclared = draw(st.sampled_from(lists))
        keys = st.sampled_from(declared) if declared else st.sampled_from(CHANGELIST_PARAMETERS)
        chosen = draw(
            st.lists(
                st.one_of(keys, keys, st.sampled_from(undeclared + CHANGELIST_PARAMETERS)),
                min_size=1,
                max_size=3,
            )
        )
        return url, declared, [(key, draw(FILTER_VALUES)) for key in chosen]

    explicit = [
        {"query": (url, declared, [(key, value)])}
        for url, declared, _ in lists
        for key in declared
        # The longest value a filter can carry through gunicorn, whose request line stops at
        # 4,094 bytes (limit_request_line): 100,000 characters cannot reach the app in
        # production, and cost minutes here (the admin re-encodes the query for every row).
        for value in ("\x00", "zz", "x" * 4_000)
    ]

    @fuzz("admin_filters", explicit)
    @given(query=queries())
    def get_list(query):
        url, declared, pairs = query
        with rolled_back():
            response = send(client, f"{url}?{urlencode(pairs)}")
            assert response.status_code in (200, 302, 400, 404)
            lookups = [(k, v) for k, v in pairs if k not in CHANGELIST_PARAMETERS]
            if any(key not in declared or "\x00" in value for key, value in lookups):
                assert response.status_code == 400, pairs
        ran("admin_filters")

    get_list()
    assert_budget_ran("admin_filters", explicit, both_ways=False)


@st.composite
def answer_files(draw, codes: list[str]) -> bytes:
    """An answers file: JSON of question codes to generated or hostile values, sometimes with
    bytes that are not UTF-8, or bytes that are not JSON at all."""
    how = draw(st.integers(0, 9))
    if how == 0:
        return draw(st.sampled_from(DEEP_JSON).map(str.encode) | st.binary(max_size=200))
    answers = draw(
        st.dictionaries(
            st.sampled_from(codes) | st.text(max_size=10),
            JSON_TREES.map(json.loads) | st.sampled_from(NASTY_STRINGS),
            max_size=6,
        )
    )
    text = json.dumps(answers, ensure_ascii=draw(st.booleans()))
    for _ in range(draw(st.integers(0, 2))):
        # A hostile shape where a value goes.
        at = text.rfind("}")
        value = draw(HOSTILE_JSON)
        if at > 0:
            text = (
                text[:at]
                + ("," if len(text) > 2 else "")
                + f'"{draw(st.sampled_from(codes))}": {value}'
                + text[at:]
            )
    raw = text.encode("utf-8", "surrogatepass")
    if how == 1:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from(NON_UTF8)) + raw[at:]
    elif how == 2:
        raw = text.encode("utf-16")
    elif how == 3:
        raw = b"\xef\xbb\xbf" + raw
    return raw


def test_the_evaluate_command_survives_malformed_answer_files(default_version, tmp_path, capsys):
    """Flags as JSON, or exit status 2 with a message naming the file; never a traceback."""
    codes = sorted(questionnaire_for(default_version).questions_by_code)
    path = tmp_path / "answers.json"

    @fuzz("evaluate")
    @given(raw=answer_files(codes))
    def evaluate(raw):
        path.write_bytes(raw)
        capsys.readouterr()
        try:
            call_command("evaluate", str(path))
        except CommandError as error:
            assert error.returncode == 2, error
            assert str(error).startswith(f"{path}: ")
            accepted = False
        else:
            output = json.loads(capsys.readouterr().out)
            assert set(output) == {"level", "flags", "scores"}
            accepted = True
        ran("evaluate", accepted=accepted)

    evaluate()
    assert_budget_ran("evaluate")


# Oversized requests -------------------------------------------------------------------------

REFUSED_PAGE = "The page could not be read"


def assert_clean_400(response) -> None:
    assert response.status_code == 400
    body = response.content.decode()
    assert REFUSED_PAGE in body and "nothing was saved" in body
    assert "Traceback" not in body and "RequestDataTooBig" not in body
    assert "TooManyFieldsSent" not in body


def test_the_biggest_legitimate_page_fits_well_within_the_limits(client, intake):
    """The medicines page at its longest: 60 medicines saved, then "Add more rows" pressed,
    every box filled to its 200-character limit with three-byte characters, urlencoded as
    browsers send forms. It must take less than half of each limit."""
    screening, _ = intake
    questionnaire = questionnaire_for(screening.version)
    rows = [
        {"name": f"Medicine {i}", "dose": "", "frequency": ""} for i in range(MEDICATION_MAX_ROWS)
    ]
    save_page(
        screening=screening,
        section=questionnaire.section("medicines"),
        answers={"medications": {"rows": rows, "none": False}},
        presented={"medications"},
    )
    url = f"/screenings/{screening.pk}/page/medicines/"
    html = client.get(url).content.decode()
    longest = client.post(url, {**page_fields(html), "more_rows": "medications"})
    html = longest.content.decode()
    fields = page_fields(html)
    boxes = [
        name for name in fields if re.fullmatch(r"medications-\d+-(name|dose|frequency)", name)
    ]
    assert len(boxes) >= 3 * (MEDICATION_MAX_ROWS + BLANK_MEDICATION_ROWS)
    data = {**fields, **dict.fromkeys(boxes, "漢" * MEDICATION_FIELD_MAX_LENGTH)}
    body = urlencode(data, doseq=True).encode()
    field_count = sum(len(v) if isinstance(v, list) else 1 for v in data.values())
    print(f"longest medicines page: {len(body)} bytes, {field_count} fields")
    assert 2 * len(body) <= django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE, len(body)
    assert 2 * field_count <= django_settings.DATA_UPLOAD_MAX_NUMBER_FIELDS, field_count
    response = client.post(url, body, content_type=URLENCODED)
    assert response.status_code == 200  # read, and refused with field errors (too many rows)
    assert "Please list at most" in response.content.decode()
    # As multipart too: the whole body, framing included, is what the request limit counts.
    multipart = encode_multipart(BOUNDARY, data)
    print(f"the same as multipart: {len(multipart)} bytes")
    assert 2 * len(multipart) <= django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE, len(multipart)
    response = client.generic("POST", url, multipart, content_type=MULTIPART_CONTENT)
    assert response.status_code == 200
    assert "Please list at most" in response.content.decode()


def page_fields(html: str) -> dict:
    """The fields a browser submits from a rendered wizard page, as shown."""
    data: dict = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        if not name or 'type="submit"' in tag:
            continue
        value = re.search(r'value="([^"]*)"', tag)
        if ('type="checkbox"' in tag or 'type="radio"' in tag) and "checked" not in tag:
            continue
        data.setdefault(name.group(1), []).append(value.group(1) if value else "")
    return {key: values if len(values) > 1 else values[0] for key, values in data.items()}


def oversized(how: str) -> Submission:
    limit = django_settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    fields = django_settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    if how == "too big, multipart":
        return Submission(data={"presented": "height_cm", "height_cm": "9" * (limit + 1)})
    if how == "too big, urlencoded":
        return Submission(
            raw=b"presented=height_cm&height_cm=" + b"9" * (limit + 1), content_type=URLENCODED
        )
    if how == "too many fields, multipart":
        return Submission(data={f"field{i}": "x" for i in range(fields + 1)})
    assert how == "too many fields, urlencoded"
    return Submission(
        raw="&".join(f"presented=q{i}" for i in range(fields + 1)).encode(), content_type=URLENCODED
    )


OVERSIZED = [
    "too big, multipart",
    "too big, urlencoded",
    "too many fields, multipart",
    "too many fields, urlencoded",
]


@pytest.mark.parametrize("how", OVERSIZED)
@pytest.mark.parametrize("csrf_checks", [False, True], ids=["test-client", "csrf-enforced"])
def test_an_oversized_wizard_post_is_refused_cleanly_and_changes_nothing(intake, how, csrf_checks):
    screening, _ = intake
    client = Client(enforce_csrf_checks=csrf_checks)
    client.force_login(screening.patient)
    url = f"/screenings/{screening.pk}/page/about_you/"
    client.get(url)  # the CSRF cookie, as a browser has it
    before = intake_state(screening)
    submission = oversized(how)
    if csrf_checks and submission.data is not None:
        submission.data["csrfmiddlewaretoken"] = client.cookies["csrftoken"].value
    assert_clean_400(send(client, url, submission))
    assert intake_state(screening) == before


@pytest.mark.parametrize("how", OVERSIZED)
def test_an_oversized_login_is_refused_cleanly(patient, how):
    client = Client()
    submission = oversized(how)
    if submission.data is not None:
        submission.data.update({"username": patient.email, "password": PASSWORD})
    else:
        submission.raw += f"&username={patient.email}&password={PASSWORD}".encode()
    assert_clean_400(send(client, "/login/", submission))
    assert "_auth_user_id" not in client.session


def test_a_queue_query_with_too_many_fields_is_refused_cleanly(client, physician):
    log_in_staff(client, physician)
    fields = django_settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    query = "&".join(f"q={i}" for i in range(fields + 1))
    assert_clean_400(send(client, f"/staff/queue/?{query}"))


def test_at_least_2000_malformed_submissions_were_sent():
    assert sum(BUDGETS.values()) >= MINIMUM_TOTAL
    if set(EXAMPLES_RUN) != set(BUDGETS):
        pytest.skip("only some fuzz targets ran in this session")
    total = sum(EXAMPLES_RUN.values())
    print(f"{total} submissions (accepted as valid): ")
    for name, count in sorted(EXAMPLES_RUN.items()):
        print(f"  {name}: {count} ({ACCEPTED[name]})")
    assert total >= MINIMUM_TOTAL
