"""Races, with real threads on PostgreSQL: double submits, many patients at once, two
physicians on one screening, a page save against a submit (one revealing required
follow-up questions while the submit checks the pages), and a submit that fails halfway.

Each test runs its callables in threads released together by a barrier (`run_together`).
Django gives every thread its own database connection, so these are real concurrent
transactions; each thread closes its connection when it ends. Where an order must be
forced, `Pause` stops the first call of a function while its caller holds the screening's
row lock, and `wait_for_lock_waiters` waits until PostgreSQL shows the other side blocked.

The tests are transactional (the database is flushed after each one), so every test
creates its own users and uses `default_version`, which reloads the default content.
"""

import threading
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta
from importlib import import_module

import pytest
from django.conf import settings
from django.core import mail
from django.db import connection
from django.test import Client
from django.utils import timezone

from screening.models import (
    PHYSICIAN_GROUP,
    Answer,
    AuditEvent,
    CompletedSection,
    Decision,
    Flag,
    FlagAcknowledgement,
    RecognisedMedication,
    Screening,
)
from screening.selectors import first_incomplete_section, visibility_for
from screening.services.evaluation import evaluate
from screening.services.intake import ScreeningLocked, save_page, start_screening, submit_screening
from screening.services.review import StaleScreening, acknowledge_flag, record_decision
from screening.services.roles import ensure_roles
from screening.snapshots import questionnaire_for
from tests.check_in_helpers import MAN, make_cleared_course, make_session
from tests.conftest import DATABASE_TASKS, make_user
from tests.factories import make_patient, make_submitted_screening
from tests.intake_helpers import fill_intake, page_post_data
from tests.logins import log_in_staff

if connection.vendor != "postgresql":
    pytest.skip(
        "Race tests need PostgreSQL: SQLite serialises writers, so nothing can race there. "
        "Set DATABASE_URL=postgres://... to run them (CI does).",
        allow_module_level=True,
    )

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 60  # seconds; a thread still running after this is a deadlock or a lost wake-up

URGENT_ANSWERS = {"phq9_9": "more_than_half_the_days"}  # raises phq9_item9_positive (urgent)
CRISIS_BP = {"bp_systolic": "185", "bp_diastolic": "95"}  # raises bp_crisis_range (urgent)
TYPED_MEDICATIONS = {
    "medications-none": "",
    "medications-rows": "3",
    "medications-0-name": "Biaxin 500 mg bid",
    "medications-1-name": "Xanax",
    "medications-2-name": "zorblatrex",
}


# Running things at the same moment ------------------------------------------------------


@dataclass
class Outcome:
    value: object = None
    error: BaseException | None = None
    traceback: str = ""


class Running:
    """One callable in its own thread (and so on its own database connection)."""

    def __init__(self, call, barrier: threading.Barrier | None = None, name: str = "race"):
        self.outcome = Outcome()
        self.thread = threading.Thread(target=self._run, args=(call, barrier), name=name)
        self.thread.start()

    def _run(self, call, barrier):
        try:
            if barrier is not None:
                barrier.wait(TIMEOUT)
            self.outcome.value = call()
        except BaseException as error:  # collected, then judged by the test
            self.outcome.error = error
            self.outcome.traceback = traceback.format_exc()
        finally:
            connection.close()  # `connection` resolves per thread: this thread's own

    def result(self) -> Outcome:
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive(), f"{self.thread.name} did not finish: a deadlock?"
        return self.outcome


def run_together(*calls) -> list[Outcome]:
    """Start every callable in its own thread, release them all at once, collect outcomes."""
    barrier = threading.Barrier(len(calls))
    running = [Running(call, barrier, name=f"race-{i}") for i, call in enumerate(calls)]
    return [each.result() for each in running]


def values(outcomes: list[Outcome]) -> list:
    """The return values, after checking that no thread raised (with its traceback if one did)."""
    failures = [outcome.traceback for outcome in outcomes if outcome.error is not None]
    assert not failures, f"{len(failures)} thread(s) raised:\n" + "\n".join(failures)
    return [outcome.value for outcome in outcomes]


class Pause:
    """Replace a function so that its first call waits (its caller's locks held) until released.

    The wait is before the real call, or with `after=True` between the real call's return
    and the caller getting its value. Use it as a context manager: leaving the block
    releases the paused call, even on failure.
    """

    def __init__(self, monkeypatch, target: str, *, after: bool = False):
        module, name = target.rsplit(".", 1)
        self.real = getattr(import_module(module), name)
        self.after = after
        self.reached = threading.Event()
        self.released = threading.Event()
        self._first = threading.Lock()
        monkeypatch.setattr(target, self)

    def __call__(self, *args, **kwargs):
        if not self._first.acquire(blocking=False):
            return self.real(*args, **kwargs)
        value = self.real(*args, **kwargs) if self.after else None
        self.reached.set()
        assert self.released.wait(TIMEOUT), "never released"
        return value if self.after else self.real(*args, **kwargs)

    def wait_until_reached(self):
        assert self.reached.wait(TIMEOUT), f"{self.real.__name__} was never called"

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.released.set()


def wait_for_lock_waiters(count: int = 1):
    """Wait until `count` other sessions are blocked on a lock (seen from the main thread)."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0] >= count:
                return
        time.sleep(0.01)
    raise AssertionError(f"{count} session(s) never blocked on a lock")


def wait_until_blocked_or_done(running: Running):
    """Wait until `running` is blocked on a lock, or has finished because nothing blocked it.

    For tests where the lock under test is what should block it: without the lock the
    thread runs to its end, and the test's assertions then say what went wrong.
    """
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if not running.thread.is_alive():
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            if cursor.fetchone()[0]:
                return
        time.sleep(0.01)
    raise AssertionError(f"{running.thread.name} neither blocked nor finished")


class Calls:
    """Wrap a function and record what each call returned (list.append is thread-safe)."""

    def __init__(self, monkeypatch, target: str):
        module, name = target.rsplit(".", 1)
        self.real = getattr(import_module(module), name)
        self.returned: list = []
        monkeypatch.setattr(target, self)

    def __call__(self, *args, **kwargs):
        value = self.real(*args, **kwargs)
        self.returned.append(value)
        return value


# The cast and their screenings ------------------------------------------------------------


def new_physician(name="Dana"):
    ensure_roles()  # the flush after the previous transactional test removed the groups
    return make_user(f"dr.{name.lower()}@example.com", f"Dr {name} Physician", PHYSICIAN_GROUP)


def patient_client(patient) -> Client:
    client = Client()
    client.force_login(patient)
    return client


def staff_client(physician) -> Client:
    return log_in_staff(Client(), physician)


def tabs(patient, count: int) -> list[Client]:
    """`count` browser tabs of one logged-in patient: separate clients sharing one session."""
    first = patient_client(patient)
    cookie = first.cookies[settings.SESSION_COOKIE_NAME].value
    others = [Client() for _ in range(count - 1)]
    for client in others:
        client.cookies[settings.SESSION_COOKIE_NAME] = cookie
    return [first, *others]


def filled_screening(patient, overrides=None) -> Screening:
    """A screening the patient has answered page by page through the wizard, ready to submit."""
    screening = start_screening(patient=patient)
    client = patient_client(patient)
    fill_intake(client, screening, overrides or {})
    assert client.get(review_url(screening)).status_code == 200  # the review page, as seen
    return screening


def copy_of_intake(template: Screening, patient) -> Screening:
    """The same answers and completed pages as `template`, for another patient (fast setup)."""
    screening = start_screening(patient=patient)
    Answer.objects.bulk_create(
        Answer(screening=screening, question_id=question_id, value=value)
        for question_id, value in template.answers.values_list("question_id", "value")
    )
    CompletedSection.objects.bulk_create(
        CompletedSection(screening=screening, section_id=section_id)
        for section_id in template.completed_sections.values_list("section_id", flat=True)
    )
    return screening


def review_url(screening):
    return f"/screenings/{screening.pk}/review/"


def done_url(screening):
    return f"/screenings/{screening.pk}/submitted/"


def answers_of(screening) -> dict:
    return dict(screening.answers.values_list("question__code", "value"))


def intake_state(screening) -> dict:
    """Everything the patient wrote and where they are: must survive a refused or failed write."""
    return {
        "answers": sorted(screening.answers.values_list("question__code", "value", "updated_at")),
        "completed": sorted(screening.completed_sections.values_list("section__code", flat=True)),
    }


def assert_flags_match_answers(screening):
    """Stored flags, level and medications are exactly what the stored answers evaluate to."""
    screening.refresh_from_db()
    assert screening.status == Screening.Status.SUBMITTED
    assert screening.submitted_at is not None
    assert screening.evaluated_at is not None
    stored = list(screening.flags.values_list("code", flat=True))
    assert len(stored) == len(set(stored)), f"duplicate flags: {sorted(stored)}"
    evaluation = evaluate(screening)
    assert sorted(stored) == sorted(flag.code for flag in evaluation.flags)
    assert screening.level == evaluation.level
    assert screening.flag_count == len(stored)
    assert screening.medications.count() == len(evaluation.medications)
    return evaluation


def assert_no_submitted_screening_lacks_its_evaluation():
    unevaluated = Screening.objects.exclude(status=Screening.Status.IN_PROGRESS).filter(
        evaluated_at__isnull=True
    )
    assert not unevaluated.exists()


def assert_untouched_in_progress(screening, before: dict, lock_version: int):
    """Still being filled in, nothing evaluated, answers and completed pages as they were."""
    screening.refresh_from_db()
    assert screening.status == Screening.Status.IN_PROGRESS
    assert screening.submitted_at is None
    assert screening.consent_acknowledged_at is None
    assert screening.evaluated_at is None
    assert (screening.level, screening.level_rank, screening.flag_count) == ("", 0, 0)
    assert screening.scores == []
    assert screening.lock_version == lock_version
    assert not Flag.objects.filter(screening=screening).exists()
    assert not RecognisedMedication.objects.filter(screening=screening).exists()
    assert intake_state(screening) == before


def urgent_alerts() -> list:
    return [message for message in mail.outbox if "same-day" in message.subject]


# 1. Ten identical submits --------------------------------------------------------------


def test_the_database_allows_one_flag_per_topic():
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, Flag._meta.db_table)
    assert any(
        spec["unique"] and spec["columns"] == ["screening_id", "code"]
        for spec in constraints.values()
    ), "missing UNIQUE (screening_id, code) on screening_flag"


def test_ten_tabs_submitting_at_once_make_one_submission_one_set_of_flags_one_alert(
    default_version, monkeypatch
):
    physician = new_physician()
    patient = make_user("alice@example.com", "Alice Patient")
    screening = filled_screening(patient, URGENT_ANSWERS)
    submits = Calls(monkeypatch, "screening.intake.views.submit_screening")
    evaluations = Calls(monkeypatch, "screening.services.intake.store_evaluation")

    responses = values(
        run_together(
            *(
                lambda client=client: client.post(review_url(screening), {"consent": "on"})
                for client in tabs(patient, 10)
            )
        )
    )

    # Every tab lands on the confirmation page: no error, no 500, no "already submitted" page.
    assert [(r.status_code, r["Location"]) for r in responses] == [(302, done_url(screening))] * 10
    # The service changed the row once; tabs that still saw it open were told "already".
    assert submits.returned.count(True) == 1
    assert set(submits.returned) <= {True, False}
    assert len(evaluations.returned) == 1
    assert Screening.objects.filter(patient=patient).count() == 1
    evaluation = assert_flags_match_answers(screening)
    assert evaluation.level == "urgent"
    assert screening.consent_acknowledged_at == screening.submitted_at  # set once, together
    assert screening.lock_version == 1
    assert [message.to for message in urgent_alerts()] == [[physician.email]]
    assert_no_submitted_screening_lacks_its_evaluation()


def test_ten_submits_through_the_service_return_true_exactly_once(default_version):
    patient = make_user("alice@example.com", "Alice Patient")
    screening = filled_screening(patient)

    results = values(
        run_together(
            *(lambda: submit_screening(screening=Screening.objects.get(pk=screening.pk)),) * 10
        )
    )

    assert sorted(results) == [False] * 9 + [True]
    assert_flags_match_answers(screening)


def test_ten_tabs_starting_the_questionnaire_at_once_share_one_screening(default_version):
    patient = make_user("alice@example.com", "Alice Patient")

    responses = values(
        run_together(
            *(
                lambda client=client: client.post("/screenings/start/")
                for client in tabs(patient, 10)
            )
        )
    )

    screening = Screening.objects.get(patient=patient)
    assert {(r.status_code, r["Location"]) for r in responses} == {
        (302, f"/screenings/{screening.pk}/")
    }


def test_ten_tabs_starting_a_re_screening_at_once_share_one_pre_filled_screening(
    default_version,
):
    """The re-screening's create and its copied answers are one transaction: of ten tabs,
    one creates it and the other nine find it whole (never a second one, never half-filled)."""
    patient = make_user("alice@example.com", "Alice Patient")
    physician = new_physician()
    questions = {q.code: q for q in default_version.questions.all()}
    cleared = Screening.objects.create(
        patient=patient,
        version=default_version,
        status=Screening.Status.DECIDED,
        submitted_at=timezone.now(),
    )
    Answer.objects.create(
        screening=cleared, question=questions["date_of_birth"], value="1980-05-17"
    )
    Answer.objects.create(screening=cleared, question=questions["sex_at_birth"], value="male")
    Decision.objects.create(
        screening=cleared,
        physician=physician,
        outcome=Decision.Outcome.CLEARED,
        signed_name="Dr Dana Physician",
        signed_at=timezone.now() - timedelta(days=200),  # expired
    )

    responses = values(
        run_together(
            *(
                lambda client=client: client.post("/screenings/start/")
                for client in tabs(patient, 10)
            )
        )
    )

    again = Screening.objects.get(patient=patient, previous=cleared)
    assert {(r.status_code, r["Location"]) for r in responses} == {
        (302, f"/screenings/{again.pk}/")
    }
    assert dict(again.answers.values_list("question__code", "value")) == {
        "date_of_birth": "1980-05-17",
        "sex_at_birth": "male",
    }
    assert cleared.answers.count() == 2


def test_ten_tabs_opening_a_session_check_in_at_once_share_one(default_version, check_in_version):
    patient = make_user("alice@example.com", "Alice Patient")
    physician = make_user("doctor@example.com", "Dr Dana Physician")
    course = make_cleared_course(patient=patient, physician=physician, baseline=MAN)
    session = make_session(course)

    responses = values(
        run_together(
            *(
                lambda client=client: client.post(f"/screenings/sessions/{session.pk}/check-in/")
                for client in tabs(patient, 10)
            )
        )
    )

    check_in = Screening.objects.check_ins().get(patient=patient)
    session.refresh_from_db()
    assert session.check_in == check_in
    assert {(r.status_code, r["Location"]) for r in responses} == {
        (302, f"/screenings/{check_in.pk}/")
    }


# 2. Fifty patients at once -------------------------------------------------------------


def test_fifty_patients_submitting_at_once_each_get_their_own_flags_and_level(default_version):
    physician = new_physician()
    kinds = {
        "calm": {},
        "suicidal thoughts": URGENT_ANSWERS,
        "crisis blood pressure": CRISIS_BP,
        "typed medications": TYPED_MEDICATIONS,
    }
    templates = {kind: filled_screening(make_patient(), answers) for kind, answers in kinds.items()}
    expected = {
        kind: sorted(flag.code for flag in evaluate(template).flags)
        for kind, template in templates.items()
    }
    screenings = []
    for number in range(50):
        kind = list(kinds)[number % len(kinds)]
        screenings.append((kind, copy_of_intake(templates[kind], make_patient())))
    clients = [patient_client(screening.patient) for _, screening in screenings]

    responses = values(
        run_together(
            *(
                lambda client=client, screening=screening: client.post(
                    review_url(screening), {"consent": "on"}
                )
                for client, (_, screening) in zip(clients, screenings, strict=True)
            )
        )
    )

    for response, (kind, screening) in zip(responses, screenings, strict=True):
        assert (response.status_code, response["Location"]) == (302, done_url(screening)), kind
        evaluation = assert_flags_match_answers(screening)
        assert sorted(screening.flags.values_list("code", flat=True)) == expected[kind], kind
        assert screening.level == evaluation.level, kind
    urgent = [s for _, s in screenings if s.level == "urgent"]
    assert len(urgent) == 25  # the suicidal-thoughts and crisis-blood-pressure patients
    assert len(urgent_alerts()) == len(urgent)
    assert all(message.to == [physician.email] for message in urgent_alerts())
    assert Screening.objects.filter(status=Screening.Status.SUBMITTED).count() == 50
    assert_no_submitted_screening_lacks_its_evaluation()


# 3. Two physicians on one screening -----------------------------------------------------


def test_two_physicians_deciding_at_once_make_one_decision_and_the_other_is_told(
    default_version,
):
    dana, lee = new_physician("Dana"), new_physician("Lee")
    screening = make_submitted_screening(flags=[("opioid", "caution")])
    acknowledge_flag(flag=screening.flags.get(), physician=dana, note="", seen_version=0)
    clients = {dana: staff_client(dana), lee: staff_client(lee)}
    # Both open the screening page: the decision form carries the version they saw.
    seen = {
        physician: client.get(f"/staff/screenings/{screening.pk}/")
        .context["decision_form"]
        .initial["lock_version"]
        for physician, client in clients.items()
    }
    assert seen[dana] == seen[lee] == 1
    posts = {
        dana: {"outcome": "cleared", "lock_version": seen[dana]},
        lee: {"outcome": "not_a_candidate", "reason": "Opioid use", "lock_version": seen[lee]},
    }

    def decide(physician):
        decide_url = f"/staff/screenings/{screening.pk}/decide/"
        return lambda: clients[physician].post(decide_url, posts[physician], follow=True)

    responses = dict(zip((dana, lee), values(run_together(decide(dana), decide(lee))), strict=True))

    decision = Decision.objects.get()  # exactly one
    winner = decision.physician
    loser = lee if winner == dana else dana
    assert decision.outcome == posts[winner]["outcome"]
    won, lost = responses[winner], responses[loser]
    assert won.status_code == lost.status_code == 200
    assert won.redirect_chain[-1][0] == "/staff/queue/"
    assert "Decision signed." in won.content.decode()
    assert lost.redirect_chain[-1][0] == f"/staff/screenings/{screening.pk}/"
    body = lost.content.decode()
    assert body.count("Another physician changed this screening") == 1
    assert decision.get_outcome_display() in body  # shown what changed
    screening.refresh_from_db()
    assert screening.status == Screening.Status.DECIDED
    assert screening.lock_version == seen[dana] + 1
    assert AuditEvent.objects.filter(action__startswith="decision.").count() == 1


def test_two_physicians_acknowledging_one_flag_at_once_make_one_acknowledgement(
    default_version,
):
    dana, lee = new_physician("Dana"), new_physician("Lee")
    screening = make_submitted_screening(flags=[("opioid", "caution")])
    flag = screening.flags.get()

    outcomes = run_together(
        *(
            lambda physician=physician: acknowledge_flag(
                flag=flag, physician=physician, note=f"Seen by {physician}", seen_version=0
            )
            for physician in (dana, lee)
        )
    )

    errors = [outcome.error for outcome in outcomes]
    assert errors.count(None) == 1
    assert all(isinstance(error, StaleScreening) for error in errors if error is not None)
    acknowledgement = FlagAcknowledgement.objects.get()
    assert acknowledgement.note == f"Seen by {acknowledgement.physician}"
    screening.refresh_from_db()
    assert screening.lock_version == 1


def test_many_physicians_deciding_at_once_through_the_service_make_one_decision(
    default_version,
):
    physicians = [new_physician(f"Number{n}") for n in range(6)]
    screening = make_submitted_screening(flags=[("opioid", "caution")])

    outcomes = run_together(
        *(
            lambda physician=physician: record_decision(
                screening=screening,
                physician=physician,
                outcome=Decision.Outcome.NOT_A_CANDIDATE,
                reason=f"Decided by {physician}",
                seen_version=0,
            )
            for physician in physicians
        )
    )

    winners = [o for o in outcomes if o.error is None]
    assert len(winners) == 1
    assert all(isinstance(o.error, StaleScreening) for o in outcomes if o is not winners[0])
    assert Decision.objects.get() == winners[0].value
    assert Decision.objects.get().amends is None


# 4. A page save against the submit ------------------------------------------------------


def save_crisis_bp(screening):
    """Save the vitals page with a crisis-range blood pressure, as the view calls the service."""
    return save_page(
        screening=screening,
        section=questionnaire_for(screening.version).section("vitals"),
        answers={"bp": {"systolic": 185, "diastolic": 95}},
        presented={"bp", "heart_rate"},
    )


def test_a_page_save_after_submit_is_refused_and_changes_nothing(default_version):
    patient = make_user("alice@example.com", "Alice Patient")
    screening = filled_screening(patient)
    client = patient_client(patient)
    page = f"/screenings/{screening.pk}/page/vitals/?from=review"
    late_post = page_post_data(client.get(page).content.decode(), screening, CRISIS_BP)
    assert client.post(review_url(screening), {"consent": "on"})["Location"] == done_url(screening)
    screening.refresh_from_db()
    before, updated_at = intake_state(screening), screening.updated_at

    # Through the page (an old tab posting its form) and straight to the service.
    assert client.post(page, late_post)["Location"] == done_url(screening)
    with pytest.raises(ScreeningLocked):
        save_crisis_bp(screening)

    assert intake_state(screening) == before
    screening.refresh_from_db()
    assert screening.updated_at == updated_at
    assert not screening.flags.filter(code="bp_crisis_range").exists()
    assert_flags_match_answers(screening)


def test_a_page_save_racing_the_submit_either_lands_before_it_or_is_refused(default_version):
    """Whichever wins, the submitted flags are the evaluation of the final answers.

    Which one wins is up to the scheduler; the two tests below force each order.
    """
    template = filled_screening(make_patient())
    rounds = [copy_of_intake(template, make_patient()) for _ in range(6)]
    for screening in rounds:
        saver, submitter = patient_client(screening.patient), patient_client(screening.patient)
        page = f"/screenings/{screening.pk}/page/vitals/?from=review"
        post = page_post_data(saver.get(page).content.decode(), screening, CRISIS_BP)

        saved, submitted = values(
            run_together(
                lambda saver=saver, page=page, post=post: saver.post(page, post),
                lambda submitter=submitter, screening=screening: submitter.post(
                    review_url(screening), {"consent": "on"}
                ),
            )
        )

        assert (submitted.status_code, submitted["Location"]) == (302, done_url(screening))
        bp = answers_of(screening)["bp"]
        flags = set(screening.flags.values_list("code", flat=True))
        if saved["Location"] == done_url(screening):  # the submit won: the save was refused
            assert bp == {"systolic": 120, "diastolic": 80}
            assert "bp_crisis_range" not in flags
        else:  # the save won: the submit evaluated the saved answers
            assert saved["Location"] == review_url(screening)
            assert bp == {"systolic": 185, "diastolic": 95}
            assert "bp_crisis_range" in flags
        assert_flags_match_answers(screening)


def test_a_save_arriving_while_the_submit_holds_the_screening_waits_and_is_refused(
    default_version, monkeypatch
):
    screening = filled_screening(make_patient())
    before = intake_state(screening)
    # The submit stops after its status update, before evaluating, holding the row lock.
    with Pause(monkeypatch, "screening.services.intake.evaluate") as pause:
        submit = Running(lambda: submit_screening(screening=screening), name="submit")
        pause.wait_until_reached()
        save = Running(lambda: save_crisis_bp(screening), name="save")
        wait_for_lock_waiters(1)  # the save is queued behind the submit's row lock

    assert submit.result().value is True
    assert isinstance(save.result().error, ScreeningLocked)
    assert intake_state(screening) == before
    assert "bp_crisis_range" not in set(screening.flags.values_list("code", flat=True))
    assert_flags_match_answers(screening)


def test_a_submit_arriving_while_a_save_holds_the_screening_evaluates_the_saved_answers(
    default_version, monkeypatch
):
    screening = filled_screening(make_patient())
    # The save stops just after taking the row lock (its first read of the stored answers).
    with Pause(monkeypatch, "screening.services.intake.stored_answers") as pause:
        save = Running(lambda: save_crisis_bp(screening), name="save")
        pause.wait_until_reached()
        submit = Running(lambda: submit_screening(screening=screening), name="submit")
        wait_for_lock_waiters(1)  # the submit is queued behind the save's row lock

    assert save.result().value.complete is True
    assert submit.result().value is True
    assert answers_of(screening)["bp"] == {"systolic": 185, "diastolic": 95}
    assert "bp_crisis_range" in set(screening.flags.values_list("code", flat=True))
    assert_flags_match_answers(screening)


def test_a_save_revealing_required_follow_ups_while_the_submit_checks_the_pages_is_refused(
    default_version, monkeypatch
):
    """The submit's row lock is what keeps an incomplete screening from being submitted.

    The submit finds every page complete; before it marks the screening submitted, the
    patient's other tab saves "yes" to thoughts of suicide, which shows three required
    follow-ups (a method, intent, a plan) and makes the page incomplete again. The save must
    wait for the submit and be refused. Without the lock it lands in between, and the
    screening goes to the physician with the suicide follow-ups never asked.
    """
    screening = filled_screening(make_patient())
    safety = questionnaire_for(screening.version).section("safety")
    shown = {question.code for question in visibility_for(screening).visible_in(safety)}
    assert {"suicide_method", "suicide_intent", "suicide_plan"}.isdisjoint(shown)

    def reveal_follow_ups():
        return save_page(
            screening=screening,
            section=safety,
            answers={"suicide_thoughts": "yes"},
            presented=shown,
        )

    # The submit stops just after finding every page complete, before its status update.
    with Pause(
        monkeypatch, "screening.services.intake.first_incomplete_section", after=True
    ) as pause:
        submit = Running(lambda: submit_screening(screening=screening), name="submit")
        pause.wait_until_reached()
        save = Running(reveal_follow_ups, name="save")
        wait_until_blocked_or_done(save)  # blocked behind the submit's row lock, if it has one

    assert submit.result().value is True
    screening.refresh_from_db()
    missing = first_incomplete_section(screening)
    assert missing is None, (
        f"submitted with required questions unanswered on the {missing.code} page; "
        f"the save returned {save.result().value}"
    )
    assert isinstance(save.result().error, ScreeningLocked), save.result()
    assert answers_of(screening)["suicide_thoughts"] == "no"
    assert_flags_match_answers(screening)


# 5. Evaluation failing halfway through a submit -----------------------------------------


def test_a_failed_evaluation_rolls_the_submit_back_and_the_patients_retry_succeeds(
    default_version, monkeypatch
):
    physician = new_physician()
    patient = make_user("alice@example.com", "Alice Patient")
    screening = filled_screening(patient, {**URGENT_ANSWERS, **TYPED_MEDICATIONS})
    before = intake_state(screening)
    client = patient_client(patient)

    def broken_engine(*args, **kwargs):
        raise RuntimeError("the rule engine fell over")

    with monkeypatch.context() as patched:
        patched.setattr("screening.services.intake.evaluate", broken_engine)
        failed = client.post(review_url(screening), {"consent": "on"})

    # No error page: back to the review page, told to try again, with crisis resources.
    assert failed["Location"] == review_url(screening)
    shown = client.get(review_url(screening)).text
    assert "your questionnaire was not sent" in shown and "Your answers are saved" in shown
    assert "988" in shown
    assert_untouched_in_progress(screening, before, lock_version=0)
    assert mail.outbox == []

    retried = client.post(review_url(screening), {"consent": "on"})

    assert retried["Location"] == done_url(screening)
    evaluation = assert_flags_match_answers(screening)
    assert evaluation.level == "urgent"
    assert screening.medications.filter(typed="Biaxin 500 mg bid").exists()
    assert [message.to for message in urgent_alerts()] == [[physician.email]]
    assert_no_submitted_screening_lacks_its_evaluation()


def test_a_failure_after_the_flags_are_written_rolls_them_back_too(default_version, monkeypatch):
    new_physician()
    screening = filled_screening(make_patient(), {**URGENT_ANSWERS, **TYPED_MEDICATIONS})
    before = intake_state(screening)
    real_store = import_module("screening.services.intake").store_evaluation

    def store_then_fail(screening, evaluation):
        real_store(screening, evaluation)
        assert Flag.objects.filter(screening=screening).exists()  # written, not yet committed
        raise RuntimeError("the database connection dropped")

    with monkeypatch.context() as patched:
        patched.setattr("screening.services.intake.store_evaluation", store_then_fail)
        with pytest.raises(RuntimeError):
            submit_screening(screening=screening)

    assert_untouched_in_progress(screening, before, lock_version=0)
    assert mail.outbox == []  # the urgent alert is queued in the submit's own transaction
    assert submit_screening(screening=screening) is True
    assert_flags_match_answers(screening)
    assert len(urgent_alerts()) == 1


def test_nobody_sees_a_submitted_screening_before_its_flags(default_version, monkeypatch):
    physician = new_physician()
    screening = filled_screening(make_patient(), URGENT_ANSWERS)
    staff = staff_client(physician)
    # The submit stops with its status set to "submitted" but no flags written yet.
    with Pause(monkeypatch, "screening.services.intake.store_evaluation") as pause:
        submit = Running(lambda: submit_screening(screening=screening), name="submit")
        pause.wait_until_reached()
        screening.refresh_from_db()
        assert screening.status == Screening.Status.IN_PROGRESS
        assert not Screening.objects.exclude(status=Screening.Status.IN_PROGRESS).exists()
        assert [s.pk for s in staff.get("/staff/queue/").context["page"]] == []
        assert staff.get(f"/staff/screenings/{screening.pk}/").status_code == 404

    assert submit.result().value is True
    assert_flags_match_answers(screening)
    assert [s.pk for s in staff.get("/staff/queue/").context["page"]] == [screening.pk]


# 6. Password-reset emails counted across app servers --------------------------------------


def test_reset_requests_from_many_app_servers_at_once_let_only_the_limit_through(
    monkeypatch, settings
):
    """Each thread is an app server with its own connection; all count before any records.
    The advisory lock makes them take turns, so exactly three emails are queued."""
    from django_tasks_db.models import DBTaskResult

    from screening.models import PasswordResetRequest
    from screening.services import password_reset

    settings.TASKS = DATABASE_TASKS
    real_limit_reached = password_reset.limit_reached

    def slow_limit_reached(**counts):
        time.sleep(0.2)  # widen the gap between counting and recording
        return real_limit_reached(**counts)

    monkeypatch.setattr(password_reset, "limit_reached", slow_limit_reached)
    outcomes = run_together(
        *[
            lambda: password_reset.request_password_reset(
                email="alice@example.com", ip_address="203.0.113.9"
            )
            for _ in range(8)
        ]
    )
    assert sorted(values(outcomes)) == [False] * 5 + [True] * 3
    assert PasswordResetRequest.objects.count() == 3
    assert DBTaskResult.objects.filter(task_path="screening.tasks.send_password_reset").count() == 3
