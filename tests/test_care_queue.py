"""Nobody falls out of sight (issue 12, items 2-4).

A screening sent back for more information waits for the patient, visibly; an urgent
submission nobody opens alerts physicians again until someone does; patients who stop
answering are reminded, then staff are told; patients hear that there is news (and
nothing more) by email from the worker; their home page says where things stand.

Time is moved by patching the clock the app and the worker read (`django.utils.timezone
.now`), never by sleeping. The tests of timed jobs run the real database backend and the
real worker (`task_worker`), as production does.
"""

import importlib
import re
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from screening.intake.standing import WORDS
from screening.models import Answer, AuditAction, AuditEvent, Decision, ReviewClock, Screening
from screening.services.intake import start_screening, submit_screening
from screening.services.review import record_decision
from tests.factories import make_patient, make_submitted_screening
from tests.intake_helpers import fill_intake
from tests.logins import log_in_staff
from tests.mailboxes import no_mail_work
from tests.readability import sentences

pytestmark = pytest.mark.django_db

URGENT = {"phq9_9": "more_than_half_the_days"}
REAL_NOW = timezone.now


@pytest.fixture
def clock(monkeypatch):
    """Move the app's and the worker's clock on: `clock.move(minutes=61)`."""

    class Clock:
        offset = timedelta()

        def move(self, **delta):
            self.offset += timedelta(**delta)

    moved = Clock()
    monkeypatch.setattr("django.utils.timezone.now", lambda: REAL_NOW() + moved.offset)
    return moved


def physician_client(physician):
    return log_in_staff(Client(), physician)


def ask_for_more(screening, physician, message="Please add your blood pressure."):
    screening.refresh_from_db()
    return record_decision(
        screening=screening,
        physician=physician,
        outcome=Decision.Outcome.MORE_INFORMATION_NEEDED,
        seen_version=screening.lock_version,
        message_to_patient=message,
    )


def names_in(response):
    return [s.patient_full_name for s in response.context["page"]]


def submit_urgent(patient) -> Screening:
    client = Client()
    client.force_login(patient)
    screening = start_screening(patient=patient)
    fill_intake(client, screening, URGENT)
    response = client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    assert response.status_code == 302
    screening.refresh_from_db()
    assert screening.level == "urgent"
    return screening


# 1. Waiting for patient ----------------------------------------------------------------------


def test_a_screening_sent_back_for_more_information_waits_for_the_patient(
    physician, default_version
):
    screening = make_submitted_screening(level="caution")
    ask_for_more(screening, physician)
    screening.refresh_from_db()
    assert screening.status == Screening.Status.WAITING_FOR_PATIENT
    assert screening.is_editable
    assert screening.information_requested_at is not None


def test_an_urgent_screening_waiting_for_the_patient_stays_at_the_top_of_the_queue(
    physician, default_version
):
    make_submitted_screening(level="contraindicated", patient=make_patient("Connie Contra"))
    make_submitted_screening(level="caution", patient=make_patient("Cathy Caution"))
    urgent = make_submitted_screening(
        level="urgent", patient=make_patient("Ursula Urgent"), minutes_ago=600
    )
    quiet = make_submitted_screening(level="caution", patient=make_patient("Quentin Quiet"))
    ask_for_more(urgent, physician)
    ask_for_more(quiet, physician)
    response = physician_client(physician).get("/staff/queue/")
    # The urgent one is still in the default view, first; a waiting caution is not.
    assert names_in(response) == ["Ursula Urgent", "Connie Contra", "Cathy Caution"]
    assert "Waiting for patient" in response.text
    assert "Please add your blood pressure." in response.text


def test_the_waiting_filter_shows_the_age_of_the_request_and_the_message(
    physician, default_version, clock
):
    waiting = make_submitted_screening(level="caution", patient=make_patient("Wanda Waiting"))
    make_submitted_screening(level="caution", patient=make_patient("Sam Submitted"))
    ask_for_more(waiting, physician, "Which dose of sertraline do you take?")
    clock.move(days=2, hours=3)
    client = physician_client(physician)
    response = client.get("/staff/queue/?status=waiting_for_patient")
    assert names_in(response) == ["Wanda Waiting"]
    assert "Asked 2 days ago" in response.text
    assert "Which dose of sertraline do you take?" in response.text
    everything = client.get("/staff/queue/?status=all")
    assert set(names_in(everything)) == {"Wanda Waiting", "Sam Submitted"}


def test_the_patient_edits_and_resubmits_a_screening_waiting_for_them(
    patient, patient_client, physician, default_version
):
    screening = start_screening(patient=patient)
    fill_intake(patient_client, screening, {})
    assert submit_screening(screening=screening) is True
    ask_for_more(screening, physician)
    assert patient_client.get(f"/screenings/{screening.pk}/").status_code == 302
    page = patient_client.get(f"/screenings/{screening.pk}/review/")
    assert page.status_code == 200 and "Please add your blood pressure." in page.text
    patient_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    screening.refresh_from_db()
    assert screening.status == Screening.Status.SUBMITTED
    assert screening.clocks.count() == 2  # each submission has its own clock


def test_the_migration_turns_reopened_screenings_into_waiting_ones(physician, default_version):
    screening = make_submitted_screening(level="urgent")
    decision = ask_for_more(screening, physician)
    # As the old code left it: reopened as in progress.
    Screening.objects.filter(pk=screening.pk).update(
        status="in_progress", information_requested_at=None
    )
    untouched = start_screening(patient=make_patient())
    migration = importlib.import_module(
        "screening.migrations.0015_waiting_for_patient_review_clock_reminders"
    )
    migration.reopened_to_waiting(django_apps, None)
    screening.refresh_from_db()
    untouched.refresh_from_db()
    assert screening.status == "waiting_for_patient"
    assert screening.information_requested_at == decision.signed_at
    assert untouched.status == "in_progress"


# 2. Never a second questionnaire by the patient ------------------------------------------------


def test_a_patient_cannot_start_a_second_questionnaire_even_by_post(
    patient, patient_client, default_version
):
    make_submitted_screening(level="caution", patient=patient, status="decided")
    home = patient_client.get("/screenings/")
    assert "Start the questionnaire" not in home.text and "/screenings/start/" not in home.text
    response = patient_client.post("/screenings/start/")
    assert response.status_code == 302 and response["Location"] == "/screenings/"
    assert Screening.objects.filter(patient=patient).count() == 1


def test_more_information_after_the_patient_pressed_start_reopens_the_same_screening(
    patient, patient_client, physician, default_version
):
    """The walk-through's failure: "Start a new questionnaire", then the physician's request
    for more information failed ("ask them there instead")."""
    screening = make_submitted_screening(level="urgent", patient=patient)
    patient_client.post("/screenings/start/")
    ask_for_more(screening, physician)
    screening.refresh_from_db()
    assert screening.status == Screening.Status.WAITING_FOR_PATIENT
    assert Screening.objects.filter(patient=patient).count() == 1


def test_a_patient_with_no_questionnaire_starts_one(patient, patient_client, default_version):
    assert "Start the questionnaire" in patient_client.get("/screenings/").text
    patient_client.post("/screenings/start/")
    assert Screening.objects.filter(patient=patient, status="in_progress").count() == 1


# 3. Urgent escalation with a clock -------------------------------------------------------------


def test_an_unopened_urgent_screening_alerts_again_until_a_physician_opens_it(
    patient, physician, default_version, task_worker, clock, settings
):
    settings.URGENT_REVIEW_MINUTES = 60
    settings.URGENT_REALERT_MINUTES = 30
    settings.ON_CALL_EMAIL = "on-call@example.org"
    screening = submit_urgent(patient)
    task_worker()
    (first,) = mail.outbox
    assert first.to == [physician.email]  # the first alert goes to physicians only

    clock.move(minutes=59)
    task_worker()
    assert len(mail.outbox) == 1  # not yet due

    clock.move(minutes=2)
    task_worker()
    (_, again) = mail.outbox
    assert again.to == [physician.email, "on-call@example.org"]
    assert "has not been opened" in again.subject and "61 minutes" in again.subject
    assert str(screening.pk) in again.body

    clock.move(minutes=29)
    task_worker()
    assert len(mail.outbox) == 2
    clock.move(minutes=2)
    task_worker()
    assert len(mail.outbox) == 3

    # The queue shows the clock until a physician opens the page.
    client = physician_client(physician)
    assert "Submitted 1 h 32 min ago, not yet opened" in client.get("/staff/queue/").text
    page = client.get(f"/staff/screenings/{screening.pk}/")
    assert "first opened by Dr Dana Physician" in page.text
    assert "1 h 32 min later" in page.text
    assert "not yet opened" not in client.get("/staff/queue/").text

    clock.move(hours=5)
    task_worker()
    assert len(mail.outbox) == 3  # opening stopped it
    assert not DBTaskResult.objects.filter(
        status="READY", task_path__endswith="escalate_unopened_urgent_screening"
    ).exists()
    (row,) = ReviewClock.objects.all()
    assert (row.opened_by, row.realerts_sent) == (physician, 2)


def test_without_an_on_call_address_only_physicians_are_alerted_again(
    patient, physician, default_version, task_worker, clock, settings
):
    settings.ON_CALL_EMAIL = ""
    submit_urgent(patient)
    clock.move(minutes=settings.URGENT_REVIEW_MINUTES + 1)
    task_worker()
    assert [message.to for message in mail.outbox] == [[physician.email]] * 2


def test_the_alert_again_carries_no_more_than_the_first_alert(
    patient, physician, default_version, task_worker, clock
):
    screening = submit_urgent(patient)
    clock.move(minutes=61)
    task_worker()
    first, again = mail.outbox
    for private in (patient.full_name, patient.email, "suicide", "PHQ", "phq9"):
        assert private not in again.body and private not in again.subject
    assert "no health information" in again.body
    assert str(screening.pk) in first.body and str(screening.pk) in again.body


def test_time_to_first_review_is_listed_for_physicians_and_audited(physician, default_version):
    screening = make_submitted_screening(level="urgent")
    now = timezone.now()
    ReviewClock.objects.create(
        screening=screening,
        submitted_at=now - timedelta(minutes=200),
        urgent=True,
        opened_at=now - timedelta(minutes=190),
        opened_by=physician,
    )
    # The resubmission, urgent again: a row of its own.
    ReviewClock.objects.create(
        screening=screening,
        submitted_at=now - timedelta(minutes=100),
        urgent=True,
        opened_at=now - timedelta(minutes=55),
        opened_by=physician,
    )
    ReviewClock.objects.create(
        screening=screening, submitted_at=now - timedelta(minutes=30), urgent=True
    )
    ReviewClock.objects.create(  # not urgent: not listed
        screening=screening, submitted_at=now - timedelta(minutes=20), opened_at=now
    )
    response = physician_client(physician).get("/staff/urgent-response/")
    assert response.status_code == 200
    assert len(response.context["rows"]) == 3
    assert response.context["median"] == timedelta(minutes=27, seconds=30)
    assert response.context["longest"] == timedelta(minutes=45)
    assert "Not yet opened" in response.text and "30 min so far" in response.text
    assert "Dr Dana Physician" in response.text
    assert screening.patient.full_name not in response.text
    (event,) = AuditEvent.objects.filter(action="urgent_response.viewed")
    assert event.actor == physician


def test_time_to_first_review_is_refused_to_clinic_admins_and_patients(
    clinic_admin, patient_client, default_version
):
    assert log_in_staff(Client(), clinic_admin).get("/staff/urgent-response/").status_code == 403
    assert patient_client.get("/staff/urgent-response/").status_code == 403
    assert not AuditEvent.objects.filter(action="urgent_response.viewed").exists()


# 4. Reminders -----------------------------------------------------------------------------


def test_reminders_up_to_the_maximum_then_staff_are_told(
    patient, physician, default_version, task_worker, clock, settings
):
    settings.REMINDER_AFTER_DAYS = 3
    settings.REMINDER_MAX = 3
    start_screening(patient=patient)
    task_worker()
    assert mail.outbox == []
    for reminder in range(1, 4):
        clock.move(days=3, minutes=1)
        task_worker()
        assert len(mail.outbox) == reminder
        assert mail.outbox[-1].to == [patient.email]
    client = physician_client(physician)
    assert "not answered after" not in client.get("/staff/queue/").text
    clock.move(days=3, minutes=1)
    task_worker()
    assert len(mail.outbox) == 3  # no fourth reminder
    queue = physician_client(physician).get("/staff/queue/").text
    assert "1 patient has not answered after 3 reminders" in queue
    assert patient.full_name in queue and "questionnaire not finished" in queue
    clock.move(days=30)
    task_worker()
    assert len(mail.outbox) == 3
    assert not DBTaskResult.objects.filter(status="READY").exists()


def test_an_unanswered_request_for_more_information_is_reminded_too(
    physician, default_version, task_worker, clock, settings
):
    settings.REMINDER_MAX = 1
    screening = make_submitted_screening(level="caution", patient=make_patient("Wendy Waits"))
    ask_for_more(screening, physician)
    task_worker()
    mail.outbox.clear()  # the notice that there is news
    clock.move(days=settings.REMINDER_AFTER_DAYS, minutes=1)
    task_worker()
    (reminder,) = mail.outbox
    assert "waiting for you" in reminder.subject
    clock.move(days=settings.REMINDER_AFTER_DAYS, minutes=1)
    task_worker()
    queue = physician_client(physician).get("/staff/queue/").text
    assert "1 patient has not answered after 1 reminder" in queue
    assert "Wendy Waits" in queue and "more information not sent" in queue


def test_a_patient_who_keeps_working_is_not_reminded(
    patient, patient_client, default_version, task_worker, clock, settings
):
    screening = start_screening(patient=patient)
    clock.move(days=settings.REMINDER_AFTER_DAYS - 1)
    patient_client.force_login(patient)  # a new session: the old one timed out
    fill_intake(patient_client, screening, {})  # saves every page
    clock.move(days=2)
    task_worker()
    assert mail.outbox == []


# 5. Patient notifications without health data --------------------------------------------


@pytest.mark.parametrize(
    ("outcome", "extra"),
    [
        ("more_information_needed", {"message_to_patient": "QzAddYourBloodPressure"}),
        ("cleared", {"message_to_patient": "QzSeeYouTuesday"}),
        ("not_a_candidate", {"reason": "QzSecretReason"}),
    ],
)
def test_the_patient_is_told_there_is_news_by_the_worker_and_nothing_more(
    physician, default_version, task_worker, monkeypatch, outcome, extra
):
    screening = make_submitted_screening(level="caution", patient=make_patient("Pat Notify"))
    client = physician_client(physician)
    client.get(f"/staff/screenings/{screening.pk}/")
    if outcome == "cleared":
        flag = screening.flags.get()
        screening.refresh_from_db()
        client.post(
            f"/staff/screenings/{screening.pk}/flags/{flag.pk}/acknowledge/",
            {"lock_version": screening.lock_version},
        )
    screening.refresh_from_db()
    with no_mail_work(monkeypatch):
        response = client.post(
            f"/staff/screenings/{screening.pk}/decide/",
            {"outcome": outcome, "lock_version": screening.lock_version, **extra},
        )
    assert response.status_code == 302
    assert mail.outbox == []  # nothing sent inside the request
    task_worker()
    (notice,) = mail.outbox
    assert notice.to == [screening.patient.email]
    text = notice.subject + notice.body
    for private in (*extra.values(), "cleared", "candidate", "information", "caution", "Pat"):
        assert private.lower() not in text.lower()
    assert re.search(r"https?://\S+/login/", notice.body)


# 6. The patient home says where things stand --------------------------------------------------


def decided(patient, physician, outcome, **extra):
    screening = make_submitted_screening(patient=patient)
    record_decision(
        screening=screening,
        physician=physician,
        outcome=outcome,
        seen_version=screening.lock_version,
        **extra,
    )
    return screening


@pytest.mark.parametrize(
    ("state", "heading", "shown", "hidden"),
    [
        ("none", "You have not started yet", "Start the questionnaire", ""),
        ("in_progress", "Your questionnaire is not finished", "Continue your questionnaire", ""),
        ("submitted", "Thank you, your answers have been sent", "We will email you", "/start/"),
        ("waiting", "Your doctor needs more information", "QzAddBloodPressure", "/start/"),
        ("cleared", "You are cleared for treatment", "book your treatment sessions", "/start/"),
        ("conditions", "cleared for treatment, with conditions", "QzBringADriver", "QzStaffOnly"),
        ("not_a_candidate", "Please contact the clinic", "not be right for you", "QzReason"),
    ],
)
def test_the_patient_home_says_where_things_stand(
    patient, patient_client, physician, default_version, state, heading, shown, hidden
):
    if state == "in_progress":
        start_screening(patient=patient)
    elif state == "submitted":
        make_submitted_screening(patient=patient)
    elif state == "waiting":
        ask_for_more(make_submitted_screening(patient=patient), physician, "QzAddBloodPressure")
    elif state == "cleared":
        decided(patient, physician, Decision.Outcome.CLEARED)
    elif state == "conditions":
        decided(
            patient,
            physician,
            Decision.Outcome.CLEARED_WITH_CONDITIONS,
            conditions="QzStaffOnly",
            message_to_patient="QzBringADriver",
        )
    elif state == "not_a_candidate":
        decided(patient, physician, Decision.Outcome.NOT_A_CANDIDATE, reason="QzReason")
    home = patient_client.get("/screenings/").text
    assert heading in home and shown in home
    if hidden:
        assert hidden not in home
    assert "Start a new questionnaire" not in home


def test_the_confirmation_page_says_the_decision_not_that_someone_will_contact_you(
    patient, patient_client, physician, default_version
):
    screening = make_submitted_screening(patient=patient, flags=[("suicide_risk_high", "urgent")])
    before = patient_client.get(f"/screenings/{screening.pk}/submitted/").text
    assert "will contact you" in before and "will review them" in before
    record_decision(
        screening=screening,
        physician=physician,
        outcome=Decision.Outcome.NOT_A_CANDIDATE,
        seen_version=screening.lock_version,
        reason="QzNeedsAReviewFirst",
    )
    after = patient_client.get(f"/screenings/{screening.pk}/submitted/").text
    assert "will contact you" not in after and "will review them" not in after
    assert "Please contact the clinic" in after
    assert "QzNeedsAReviewFirst" not in after


def test_the_words_of_each_state_are_plain():
    for _heading, text in WORDS.values():
        for sentence in sentences(str(text)):
            if sentence.words >= 5:
                assert sentence.grade <= 8.0, sentence


# Found by a stranger's walk-through of the merged loop ----------------------------------------


def answer_shown(response, code: str):
    for group in response.context["sections"]:
        for row in group["rows"]:
            if row["question"].code == code:
                return row["answer"]
    raise AssertionError(f"{code} is not on the page")


def test_while_waiting_staff_read_the_answers_as_sent_not_the_patients_unsent_edits(
    patient, physician, default_version
):
    screening = submit_urgent(patient)
    ask_for_more(screening, physician, "Tell us more about how you feel.")
    # The patient saves a changed answer but has not sent the questionnaire again.
    Answer.objects.filter(screening=screening, question__code="phq9_9").update(value="not_at_all")
    page = physician_client(physician).get(f"/staff/screenings/{screening.pk}/")
    assert answer_shown(page, "phq9_9") == "More than half the days"
    assert "The answers below are the ones the patient sent on" in page.text
    # Once sent again, the page reads the new answers.
    Client().force_login(patient)
    assert submit_screening(screening=screening)
    page = physician_client(physician).get(f"/staff/screenings/{screening.pk}/")
    assert answer_shown(page, "phq9_9") == "Not at all"


def test_a_decision_posted_while_the_patient_is_answering_says_why_it_was_refused(
    physician, default_version
):
    screening = make_submitted_screening(level="caution")
    ask_for_more(screening, physician)
    screening.refresh_from_db()
    client = physician_client(physician)
    response = client.post(
        f"/staff/screenings/{screening.pk}/decide/",
        {"outcome": "cleared", "lock_version": screening.lock_version},
        follow=True,
    )
    assert "The patient is still answering" in response.text
    assert not screening.decisions.filter(outcome="cleared").exists()


def test_the_urgent_response_page_is_read_only_and_audited_under_a_named_action(
    physician, default_version
):
    client = physician_client(physician)
    assert client.post("/staff/urgent-response/").status_code == 405
    assert client.get("/staff/urgent-response/").status_code == 200
    event = AuditEvent.objects.filter(actor=physician).latest("id")
    # A named action: the audit log's filter offers it, and its rows read its label.
    assert event.action in AuditAction.values


def test_a_request_to_the_patient_cannot_turn_the_queue_text_around(physician, default_version):
    waiting = make_submitted_screening(level="urgent", patient=make_patient("Rita Reversed"))
    ask_for_more(waiting, physician, "Please call us \u202eevil")
    page = physician_client(physician).get("/staff/queue/")
    assert "<bdi>Please call us \u202eevil</bdi>" in page.text


def test_the_re_alert_counts_one_minute_as_one_minute():
    from screening import tasks  # the subject line's wording, "after 1 minute"

    minutes_in_words = tasks.minutes_in_words
    assert minutes_in_words(1) == "1 minute"
    assert minutes_in_words(61) == "61 minutes"
