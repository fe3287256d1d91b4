"""Ready to dose, table-style and without Django: one status per session with its reasons
(screening/engine/readiness.py; the limits are clinical-reference-sessions.md §2's defaults)."""

from dataclasses import replace
from datetime import datetime, timedelta

import pytest

from screening.engine.readiness import (
    CheckIn,
    CheckInFlag,
    DischargeFacts,
    Limits,
    Reading,
    SessionFacts,
    Status,
    discharge_check,
    readiness,
)

NORMAL = Reading(128, 82)


def facts(**changes: object) -> SessionFacts:
    base = {"check_in": CheckIn.SUBMITTED, "pre_dose": NORMAL}
    return SessionFacts(**{**base, **changes})


def test_a_clean_check_in_with_normal_vitals_is_ready():
    result = readiness(facts())
    assert result.status == Status.READY
    assert result.reasons == ()


@pytest.mark.parametrize(
    ("reading", "status"),
    [
        (Reading(140, 90), Status.READY),  # at the review limit: not above it
        (Reading(141, 80), Status.NEEDS_REVIEW),
        (Reading(130, 91), Status.NEEDS_REVIEW),
        (Reading(180, 100), Status.NEEDS_REVIEW),  # at the hold limit: review, not hold
        (Reading(181, 80), Status.ON_HOLD),
        (Reading(150, 101), Status.ON_HOLD),
    ],
)
def test_pre_dose_blood_pressure_against_the_limits(reading, status):
    result = readiness(facts(pre_dose=reading))
    assert result.status == status
    if status != Status.READY:
        assert f"{reading.systolic}/{reading.diastolic}" in result.reasons[0].text


def test_a_blood_pressure_over_the_hold_limit_says_so_and_cannot_be_reviewed_away():
    result = readiness(facts(pre_dose=Reading(190, 105), pre_dose_reviewed=True))
    assert result.status == Status.ON_HOLD
    assert "above the hold limit (180/100)" in result.reasons[0].text


def test_a_physicians_review_clears_a_reading_between_the_limits():
    assert readiness(facts(pre_dose=Reading(150, 95), pre_dose_reviewed=True)).status == (
        Status.READY
    )


def test_the_limits_are_settings():
    strict = Limits(hold_systolic=160, hold_diastolic=100, review_systolic=130, review_diastolic=85)
    assert readiness(facts(pre_dose=Reading(165, 80)), strict).status == Status.ON_HOLD
    assert readiness(facts(pre_dose=Reading(135, 80)), strict).status == Status.NEEDS_REVIEW


@pytest.mark.parametrize(
    ("check_in", "words"),
    [
        (CheckIn.MISSING, "has not been invited to the check-in yet, nor opened it"),
        (CheckIn.INVITED, "invited to answer the check-in but has not started it"),
        (CheckIn.NOT_SUBMITTED, "has not sent the check-in yet (started"),
    ],
)
def test_a_missing_or_unsent_check_in_holds_the_session(check_in, words):
    result = readiness(facts(check_in=check_in))
    assert result.status == Status.ON_HOLD
    assert words in result.reasons[0].text


@pytest.mark.parametrize(
    ("severity", "until_acknowledged"),
    [
        ("caution", Status.NEEDS_REVIEW),
        ("contraindicated", Status.ON_HOLD),
        ("urgent", Status.ON_HOLD),
        ("info", Status.READY),
    ],
)
def test_check_in_flags_wait_for_a_physicians_acknowledgement(severity, until_acknowledged):
    flag = CheckInFlag(title="Clarithromycin started", severity=severity, acknowledged=False)
    result = readiness(facts(check_in_flags=(flag,)))
    assert result.status == until_acknowledged
    if until_acknowledged != Status.READY:
        assert "Clarithromycin started" in result.reasons[0].text
    acknowledged = CheckInFlag(title="Clarithromycin started", severity=severity, acknowledged=True)
    assert readiness(facts(check_in_flags=(acknowledged,))).status == Status.READY


def test_no_pre_dose_reading_is_not_ready():
    result = readiness(facts(pre_dose=None))
    assert result.status == Status.ON_HOLD
    assert "not recorded" in result.reasons[0].text


def test_an_invalid_clearance_holds_the_session_with_its_reason():
    result = readiness(facts(clearance_valid=False, clearance_problem="Clearance expired."))
    assert result.status == Status.ON_HOLD
    assert result.reasons[0].text == "Clearance expired."


def test_the_status_is_the_most_serious_reason_and_every_reason_is_listed():
    flag = CheckInFlag(title="New medicine", severity="caution", acknowledged=False)
    result = readiness(facts(check_in_flags=(flag,), pre_dose=Reading(185, 90)))
    assert result.status == Status.ON_HOLD
    assert [r.status for r in result.reasons] == [Status.ON_HOLD, Status.NEEDS_REVIEW]


# Discharge ------------------------------------------------------------------------------

DOSE = datetime(2026, 12, 1, 10, 0)


def discharge(**changes: object) -> DischargeFacts:
    base = {
        "dose_given_at": DOSE,
        "now": DOSE + timedelta(minutes=121),
        "observation_minutes": 120,
        "latest_post_dose": Reading(135, 85),
        "alert_and_oriented": True,
        "walks_unaided": True,
        "escort_present": True,
    }
    return DischargeFacts(**{**base, **changes})


def test_discharge_is_allowed_when_every_criterion_is_met():
    assert discharge_check(discharge()).allowed


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"now": DOSE + timedelta(minutes=119)}, "observation period"),
        ({"dose_given_at": None}, "dose has not been recorded"),
        ({"latest_post_dose": None}, "No blood pressure"),
        ({"latest_post_dose": Reading(185, 90)}, "above the limit"),
        ({"alert_and_oriented": False}, "Alert and oriented"),
        ({"walks_unaided": False}, "Walks unaided"),
        ({"escort_present": False}, "Escort present"),
    ],
)
def test_discharge_waits_for_each_criterion(changes, words):
    result = discharge_check(discharge(**changes))
    assert not result.allowed
    assert any(words in item.text for item in result.unmet), result.unmet


def test_once_the_dose_is_given_the_status_is_dosed_then_discharged_not_ready():
    given = datetime(2026, 11, 30, 2, 21)
    facts = SessionFacts(
        check_in=CheckIn.SUBMITTED,
        pre_dose=Reading(120, 80),
        dose_given_at=given,
        observation_minutes=120,
        now=given + timedelta(minutes=10),
    )
    dosed = readiness(facts)
    assert dosed.status == Status.DOSED
    assert [r.text for r in dosed.reasons] == [
        "Dose given at 02:21 (30 Nov): in observation until 04:21."
    ]
    later = readiness(replace(facts, now=given + timedelta(minutes=130)))
    assert later.status == Status.DOSED
    assert "the observation period ended at 04:21" in later.reasons[0].text
    left = readiness(replace(facts, discharged_at=datetime(2026, 11, 30, 4, 40)))
    assert left.status == Status.DISCHARGED
    assert [r.text for r in left.reasons] == ["Discharged at 04:40 (30 Nov)."]
