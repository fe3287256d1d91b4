"""Ready to dose: one status per treatment session, with its reasons, and whether the patient
may leave after the dose. Pure Python (no Django): the session page, the sessions board, the
print view and the benchmarks all ask this one function.

Sources (docs/sessions.md says more): blood pressure before every dose, with physician review
above 140/90 and a hold above the intake's uncontrolled-hypertension limit (180/100), are in
clinical-reference-sessions.md §2 (Spravato PI; product decision for the limits, both
settings); the discharge criteria and the observation period are §3 (Spravato PI: monitor
at least 2 hours; product decision for the list). Flag severities are DESIGN.md's:
`caution` asks for the physician's judgement, `contraindicated` and `urgent` stop until a
physician has acknowledged them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from .severity import Severity


class Status(StrEnum):
    READY = "ready"
    NEEDS_REVIEW = "needs_review"
    ON_HOLD = "on_hold"
    # Once the dose is recorded the question "ready to dose?" is answered: the session says
    # the dose was given (and when observation ends), then that the patient was discharged.
    DOSED = "dosed"
    DISCHARGED = "discharged"

    @property
    def label(self) -> str:
        return {
            Status.READY: "Ready to dose",
            Status.NEEDS_REVIEW: "Needs physician review",
            Status.ON_HOLD: "On hold",
            Status.DOSED: "Dose given",
            Status.DISCHARGED: "Discharged",
        }[self]

    @property
    def rank(self) -> int:
        return {
            Status.READY: 0,
            Status.NEEDS_REVIEW: 1,
            Status.ON_HOLD: 2,
            Status.DOSED: 3,
            Status.DISCHARGED: 4,
        }[self]


class CheckIn(StrEnum):
    MISSING = "missing"  # no check-in was opened for the session, nor the patient invited
    INVITED = "invited"  # the invitation was emailed; the patient has not opened it yet
    NOT_SUBMITTED = "not_submitted"  # opened, not sent yet (or sent back to the patient)
    SUBMITTED = "submitted"


@dataclass(frozen=True)
class Limits:
    """Blood pressure limits in mmHg: above hold -> on hold, above review -> physician review."""

    hold_systolic: int = 180
    hold_diastolic: int = 100
    review_systolic: int = 140
    review_diastolic: int = 90

    def above_hold(self, systolic: int, diastolic: int) -> bool:
        return systolic > self.hold_systolic or diastolic > self.hold_diastolic

    def above_review(self, systolic: int, diastolic: int) -> bool:
        return systolic > self.review_systolic or diastolic > self.review_diastolic


@dataclass(frozen=True)
class CheckInFlag:
    title: str
    severity: str
    acknowledged: bool


@dataclass(frozen=True)
class Reading:
    systolic: int
    diastolic: int


@dataclass(frozen=True)
class SessionFacts:
    """What the status is computed from, gathered by the caller from the database."""

    check_in: CheckIn
    check_in_flags: tuple[CheckInFlag, ...] = ()
    pre_dose: Reading | None = None
    # A physician looked at this pre-dose reading (above the review limit) and said go ahead.
    pre_dose_reviewed: bool = False
    # The hook for re-screening (current_clearance): an expired clearance, or one a physician
    # asked to repeat, holds every session of the course.
    clearance_valid: bool = True
    clearance_problem: str = ""
    # After the dose: when it was given (local time), how long the patient is observed, the
    # time now, and when the patient was discharged.
    dose_given_at: datetime | None = None
    observation_minutes: int = 0
    now: datetime | None = None
    discharged_at: datetime | None = None


# The engine's sentences, by a stable code, in US English with named placeholders. The app
# shows each in the reader's language from its own catalogue (screening/engine_words.py, outside
# the engine: the engine has no Django); `Words.text` is the English, for the engine's tests
# and anything without Django. Times are datetimes (shown as HH:MM), the rest numbers or text.
ENGLISH = {
    "clearance_problem": "{problem}",
    "clearance_invalid": (
        "The patient's clearance is no longer valid: they need to be screened again."
    ),
    "check_in_missing": "The patient has not been invited to the check-in yet, nor opened it.",
    "check_in_invited": (
        "The patient was invited to answer the check-in but has not started it yet."
    ),
    "check_in_not_submitted": (
        "The patient has not sent the check-in yet (started, or sent back to them "
        "to change, and not sent since)."
    ),
    "check_in_flag": "Check-in flag not yet acknowledged by a physician ({severity}): {title}.",
    "pre_dose_missing": "Pre-dose blood pressure not recorded yet.",
    "pre_dose_above_hold": (
        "Pre-dose blood pressure {systolic}/{diastolic} mmHg is above the hold limit "
        "({limit_systolic}/{limit_diastolic}): do not dose; a new reading at or below the "
        "limit is needed."
    ),
    "pre_dose_above_review": (
        "Pre-dose blood pressure {systolic}/{diastolic} mmHg is above "
        "{limit_systolic}/{limit_diastolic}: a physician reviews it before dosing."
    ),
    "dose_given_observing": ("Dose given at {given} ({given_day}): in observation until {ends}."),
    "dose_given_observed": (
        "Dose given at {given} ({given_day}); the observation period ended at {ends}: "
        "discharge once every criterion is met."
    ),
    "discharged": "Discharged at {at} ({at_day}).",
    "dose_missing": "The dose has not been recorded as given.",
    "observation_running": (
        "The observation period ({minutes} minutes after the dose) ends at {ends}."
    ),
    "reading_due": (
        "The reading due {minutes} minutes after the dose (at {due}) has not been recorded."
    ),
    "post_dose_missing": "No blood pressure has been recorded after the dose.",
    "post_dose_above_hold": (
        "The latest blood pressure ({systolic}/{diastolic} mmHg) is above the limit "
        "({limit_systolic}/{limit_diastolic})."
    ),
    "not_alert": "Alert and oriented: not confirmed.",
    "not_walking": "Walks unaided: not confirmed.",
    "no_escort": (
        "Escort present: not confirmed (no driving until the next day after a restful sleep)."
    ),
}


def _english(value: object) -> str:
    if isinstance(value, datetime):
        return f"{value:%H:%M}"
    if isinstance(value, date):
        return f"{value.day} {value:%b}"  # "30 Nov"
    return str(value)


@dataclass(frozen=True)
class Words:
    """One of the engine's sentences: its code (a key of ENGLISH) and the values it names."""

    code: str
    params: Mapping[str, object] = field(default_factory=dict, hash=False)

    @property
    def text(self) -> str:
        """The sentence in US English."""
        return ENGLISH[self.code].format(
            **{name: _english(value) for name, value in self.params.items()}
        )

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Reason:
    status: Status
    words: Words

    @property
    def text(self) -> str:
        return self.words.text


@dataclass(frozen=True)
class Readiness:
    status: Status
    reasons: tuple[Reason, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        return self.status.label


BLOCKING_UNTIL_ACKNOWLEDGED = {
    Severity.URGENT: Status.ON_HOLD,
    Severity.CONTRAINDICATED: Status.ON_HOLD,
    Severity.CAUTION: Status.NEEDS_REVIEW,
}


def readiness(facts: SessionFacts, limits: Limits = Limits()) -> Readiness:
    """The session's one status: the most serious of its reasons; ready when there are none.
    Once the dose is recorded: dosed (in observation until ...), then discharged."""
    if facts.discharged_at is not None:
        at = facts.discharged_at
        words = Words("discharged", {"at": at, "at_day": at.date()})
        return Readiness(Status.DISCHARGED, (Reason(Status.DISCHARGED, words),))
    if facts.dose_given_at is not None:
        given = facts.dose_given_at
        ends = given + timedelta(minutes=facts.observation_minutes)
        observing = facts.now is None or facts.now < ends
        words = Words(
            "dose_given_observing" if observing else "dose_given_observed",
            {"given": given, "given_day": given.date(), "ends": ends},
        )
        return Readiness(Status.DOSED, (Reason(Status.DOSED, words),))
    reasons: list[Reason] = []
    if not facts.clearance_valid:
        reasons.append(
            Reason(
                Status.ON_HOLD,
                Words("clearance_problem", {"problem": facts.clearance_problem})
                if facts.clearance_problem
                else Words("clearance_invalid"),
            )
        )
    # The check-in's screening is created when the patient opens it (services/check_ins.py):
    # MISSING means neither invited (the email goes out before the session) nor opened.
    if facts.check_in == CheckIn.MISSING:
        reasons.append(Reason(Status.ON_HOLD, Words("check_in_missing")))
    elif facts.check_in == CheckIn.INVITED:
        reasons.append(Reason(Status.ON_HOLD, Words("check_in_invited")))
    elif facts.check_in == CheckIn.NOT_SUBMITTED:
        reasons.append(Reason(Status.ON_HOLD, Words("check_in_not_submitted")))
    for flag in facts.check_in_flags:
        # A StrEnum key matches its plain string ("caution"); info flags never block.
        status = BLOCKING_UNTIL_ACKNOWLEDGED.get(flag.severity)
        if status is None or flag.acknowledged:
            continue
        reasons.append(
            Reason(
                status,
                Words("check_in_flag", {"severity": str(flag.severity), "title": flag.title}),
            )
        )
    reading = facts.pre_dose
    if reading is None:
        reasons.append(Reason(Status.ON_HOLD, Words("pre_dose_missing")))
    elif limits.above_hold(reading.systolic, reading.diastolic):
        reasons.append(
            Reason(
                Status.ON_HOLD,
                Words(
                    "pre_dose_above_hold",
                    {
                        "systolic": reading.systolic,
                        "diastolic": reading.diastolic,
                        "limit_systolic": limits.hold_systolic,
                        "limit_diastolic": limits.hold_diastolic,
                    },
                ),
            )
        )
    elif limits.above_review(reading.systolic, reading.diastolic) and not facts.pre_dose_reviewed:
        reasons.append(
            Reason(
                Status.NEEDS_REVIEW,
                Words(
                    "pre_dose_above_review",
                    {
                        "systolic": reading.systolic,
                        "diastolic": reading.diastolic,
                        "limit_systolic": limits.review_systolic,
                        "limit_diastolic": limits.review_diastolic,
                    },
                ),
            )
        )
    status = max((reason.status for reason in reasons), key=lambda s: s.rank, default=Status.READY)
    ordered = sorted(reasons, key=lambda reason: -reason.status.rank)
    return Readiness(status=status, reasons=tuple(ordered))


# Discharge -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DischargeFacts:
    dose_given_at: datetime | None
    now: datetime
    observation_minutes: int
    # The latest post-dose reading taken after the dose, if any.
    latest_post_dose: Reading | None
    alert_and_oriented: bool
    walks_unaided: bool
    escort_present: bool
    # The post-dose readings due (minutes after the dose, POST_DOSE_READING_MINUTES) and when
    # each current post-dose reading was taken: a due reading is done by one taken at or
    # after its due time.
    due_minutes: tuple[int, ...] = ()
    post_dose_times: tuple[datetime, ...] = ()


def missing_due_readings(facts: DischargeFacts) -> list[tuple[int, datetime]]:
    """The due post-dose readings with no reading taken at or after their due time, each as
    (minutes, due at)."""
    if facts.dose_given_at is None:
        return []
    missing = []
    for minutes in facts.due_minutes:
        due = facts.dose_given_at + timedelta(minutes=minutes)
        if not any(taken >= due for taken in facts.post_dose_times):
            missing.append((minutes, due))
    return missing


@dataclass(frozen=True)
class Discharge:
    allowed: bool
    unmet: tuple[Words, ...]


def discharge_check(facts: DischargeFacts, limits: Limits = Limits()) -> Discharge:
    """Whether the patient may leave: every criterion met, else the ones still unmet."""
    unmet: list[Words] = []
    if facts.dose_given_at is None:
        unmet.append(Words("dose_missing"))
    elif facts.now < facts.dose_given_at + timedelta(minutes=facts.observation_minutes):
        ends = facts.dose_given_at + timedelta(minutes=facts.observation_minutes)
        unmet.append(
            Words("observation_running", {"minutes": facts.observation_minutes, "ends": ends})
        )
    for minutes, due in missing_due_readings(facts):
        unmet.append(Words("reading_due", {"minutes": minutes, "due": due}))
    reading = facts.latest_post_dose
    if reading is None:
        unmet.append(Words("post_dose_missing"))
    elif limits.above_hold(reading.systolic, reading.diastolic):
        unmet.append(
            Words(
                "post_dose_above_hold",
                {
                    "systolic": reading.systolic,
                    "diastolic": reading.diastolic,
                    "limit_systolic": limits.hold_systolic,
                    "limit_diastolic": limits.hold_diastolic,
                },
            )
        )
    if not facts.alert_and_oriented:
        unmet.append(Words("not_alert"))
    if not facts.walks_unaided:
        unmet.append(Words("not_walking"))
    if not facts.escort_present:
        unmet.append(Words("no_escort"))
    return Discharge(allowed=not unmet, unmet=tuple(unmet))
