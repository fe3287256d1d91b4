"""Every email goes through the task queue: the request queues it, the worker sends it.

These tests run the real database backend and the real worker (`manage.py db_worker
--batch`, through the `task_worker` fixture). For each email the app sends, the request
that causes it opens no mail connection and sends nothing; the worker then sends it. A
failed send is tried again later, with back-off; after the last attempt it is recorded for
staff and logged without addresses or content. Time is moved by making queued tasks due,
never by sleeping.
"""

import logging
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from screening.models import Screening, UndeliveredEmail
from screening.services.intake import start_screening
from tests.intake_helpers import fill_intake
from tests.logins import code_for_typed_key, log_in_staff
from tests.mailboxes import BrokenMailServer, no_mail_work

pytestmark = pytest.mark.django_db

URGENT = {"phq9_9": "more_than_half_the_days"}


def queued() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(status="READY").order_by("enqueued_at"))


def make_due() -> None:
    """Move time on: every waiting task (a retry scheduled for later) is due now."""
    DBTaskResult.objects.filter(status="READY").update(run_after=timezone.now())


def invite(client, email: str):
    return client.post("/staff/invitations/", {"full_name": "Carol New", "email": email})


# No email inside a request, for every email the app sends ----------------------------------


def test_an_invitation_is_queued_by_the_request_and_sent_by_the_worker(
    client, physician, task_worker, monkeypatch
):
    log_in_staff(client, physician)
    with no_mail_work(monkeypatch):
        response = invite(client, "carol@example.com")
    assert response.status_code == 302
    (task,) = queued()
    assert task.task_path == "screening.tasks.send_invitation"

    task_worker()

    (message,) = mail.outbox
    assert message.to == ["carol@example.com"]
    assert re.search(r"/invitation/\?token=[\w-]{40,}", message.body)
    assert DBTaskResult.objects.get(pk=task.pk).status == "SUCCESSFUL"


def test_inviting_someone_with_an_account_is_queued_the_same_way(
    client, physician, patient, task_worker, monkeypatch
):
    log_in_staff(client, physician)
    with no_mail_work(monkeypatch):
        invite(client, patient.email)
    task_worker()
    (message,) = mail.outbox
    assert "already have an account" in message.body and "/invitation/" not in message.body


def test_a_password_reset_is_queued_by_the_request_and_sent_by_the_worker(
    client, patient, task_worker, monkeypatch
):
    with no_mail_work(monkeypatch):
        response = client.post("/account/password-reset/", {"email": patient.email})
    assert response.status_code == 302
    assert [task.task_path for task in queued()] == ["screening.tasks.send_password_reset"]
    task_worker()
    (message,) = mail.outbox
    assert message.to == [patient.email]
    assert "/account/password-reset/link/?uid=" in message.body


def test_a_reset_for_an_unknown_address_is_queued_too_and_sends_nothing(
    client, db, task_worker, monkeypatch
):
    with no_mail_work(monkeypatch):
        client.post("/account/password-reset/", {"email": "nobody@example.com"})
    assert len(queued()) == 1
    task_worker()
    assert mail.outbox == []
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"


def test_an_urgent_submission_queues_the_physicians_alert(
    patient_client, patient, physician, default_version, task_worker, monkeypatch
):
    screening = start_screening(patient=patient)
    fill_intake(patient_client, screening, URGENT)
    with no_mail_work(monkeypatch):
        response = patient_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    assert response.status_code == 302
    screening.refresh_from_db()
    assert screening.level == "urgent"
    # Beside it wait the timed jobs (the re-alert if nobody opens it, the reminders).
    (task,) = [t for t in queued() if t.task_path.endswith(".alert_physicians_of_urgent_screening")]
    assert task.args_kwargs["kwargs"] == {"screening_id": str(screening.pk)}
    task_worker()
    (alert,) = mail.outbox
    assert alert.to == [physician.email] and "same-day" in alert.subject


def test_enrolling_an_authenticator_queues_the_notice(client, physician, task_worker, monkeypatch):
    client.post(
        "/login/", {"username": physician.email, "password": "correct horse battery staple"}
    )
    # No trust on first use: the set-up link comes by email, from the worker too.
    with no_mail_work(monkeypatch):
        client.post("/account/two-factor/set-up/send-link/")
    task_worker()
    (link_email,) = mail.outbox
    link = re.search(r"https?://[^/\s]+(/\S+)", link_email.body).group(1)
    assert client.get(link).status_code == 302
    page = client.get("/account/two-factor/set-up/").text
    typed = re.search(r'id="secret-key">([A-Z2-7 ]+)<', page).group(1)
    with no_mail_work(monkeypatch):
        response = client.post("/account/two-factor/set-up/", {"code": code_for_typed_key(typed)})
    assert response.status_code == 302
    task_worker()
    notice = mail.outbox[-1]
    assert notice.to == [physician.email] and "If this was not you" in notice.body


def test_the_set_up_link_is_minted_by_the_worker_never_queued(client, physician, task_worker):
    client.post(
        "/login/", {"username": physician.email, "password": "correct horse battery staple"}
    )
    client.post("/account/two-factor/set-up/send-link/")
    stored = " ".join(str(task.args_kwargs) for task in DBTaskResult.objects.all())
    task_worker()
    (link_email,) = mail.outbox
    token = re.search(r"token=([\w-]+)", link_email.body).group(1)
    assert token not in stored


def test_the_task_table_holds_ids_and_addresses_never_a_link_or_an_answer(
    client, physician, patient, default_version, task_worker
):
    log_in_staff(client, physician)
    invite(client, "carol@example.com")
    Client().post("/account/password-reset/", {"email": patient.email})
    patient_client = Client()
    patient_client.force_login(patient)
    screening = start_screening(patient=patient)
    fill_intake(patient_client, screening, {**URGENT, "questions_for_clinic": "QzSecretWorry"})
    patient_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    stored = " ".join(str(task.args_kwargs) for task in DBTaskResult.objects.all())
    task_worker()
    tokens = re.findall(r"token=([\w-]+)", " ".join(message.body for message in mail.outbox))
    assert len(tokens) == 2  # the invitation's and the reset link's
    assert not any(token in stored for token in tokens)
    assert "QzSecretWorry" not in stored
    assert Screening.objects.get().level == "urgent"


# Retries and failures ---------------------------------------------------------------------


def test_a_failed_send_is_tried_again_later_with_growing_delays(
    client, physician, task_worker, settings
):
    settings.EMAIL_BACKEND = "tests.mailboxes.BrokenMailServer"
    log_in_staff(client, physician)
    invite(client, "carol@example.com")
    delays = []
    for attempt in range(1, 5):
        before = timezone.now()
        task_worker()
        (retry,) = queued()
        assert retry.args_kwargs["kwargs"]["attempt"] == attempt + 1
        delays.append(round((retry.run_after - before).total_seconds()))
        task_worker()  # not due yet: nothing happens
        assert queued() == [retry]
        make_due()
    assert delays == [60, 300, 1800, 7200]
    assert not UndeliveredEmail.objects.exists()


def test_a_send_that_works_on_a_later_attempt_is_delivered_once(
    client, physician, task_worker, settings
):
    settings.EMAIL_BACKEND = "tests.mailboxes.BrokenMailServer"
    log_in_staff(client, physician)
    invite(client, "carol@example.com")
    task_worker()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    make_due()
    task_worker()
    (message,) = mail.outbox
    assert message.to == ["carol@example.com"]
    assert queued() == []
    # The link in the email is the one that works (a new token was minted for the attempt).
    link = re.search(r"(/invitation/\?token=[\w-]+)", message.body).group(1)
    opened = Client()
    opened.get(link)
    assert opened.get("/invitation/").status_code == 200


def test_an_email_that_still_fails_is_recorded_for_staff_and_logged_without_its_content(
    client, physician, clinic_admin, task_worker, settings, caplog
):
    settings.EMAIL_BACKEND = "tests.mailboxes.BrokenMailServer"
    caplog.set_level(logging.DEBUG)
    log_in_staff(client, physician)
    invite(client, "carol@example.com")
    BrokenMailServer.attempts = 0
    for _ in range(5):
        task_worker()
        make_due()
    assert BrokenMailServer.attempts == 5
    assert queued() == []
    (undelivered,) = UndeliveredEmail.objects.unresolved()
    assert undelivered.kind == "invitation"
    assert undelivered.object_type == "screening.invitation"
    assert undelivered.attempts == 5
    assert undelivered.error == "SMTPServerDisconnected"
    last = DBTaskResult.objects.order_by("-enqueued_at").first()
    assert last.status == "FAILED"
    assert last.exception_class_path == "screening.tasks.EmailNotDelivered"
    # Neither the log nor the task table's traceback carries the address, the name, or
    # the mail server's message (which quoted an address).
    logged = caplog.text + last.traceback
    assert "Gave up sending the invitation email" in caplog.text
    for private in ("carol@example.com", "Carol New", "alice@example.com", "Connection unexpect"):
        assert private not in logged

    admin = log_in_staff(Client(), clinic_admin)
    listing = admin.get("/admin/screening/undeliveredemail/")
    assert listing.status_code == 200
    assert "Invitation to a patient" in listing.text and str(undelivered.object_id) in listing.text


def test_an_urgent_alert_that_cannot_be_sent_is_recorded_too(
    patient_client, patient, physician, default_version, task_worker, settings
):
    settings.EMAIL_BACKEND = "tests.mailboxes.BrokenMailServer"
    screening = start_screening(patient=patient)
    fill_intake(patient_client, screening, URGENT)
    response = patient_client.post(
        f"/screenings/{screening.pk}/review/", {"consent": "on"}, follow=True
    )
    assert "Please read this now" in response.text
    for _ in range(5):
        task_worker()
        make_due()
    (undelivered,) = UndeliveredEmail.objects.all()
    assert (undelivered.kind, undelivered.object_id) == ("urgent_alert", str(screening.pk))


def test_without_a_queue_that_can_wait_retries_happen_at_once(client, physician, settings):
    """The immediate backend (these tests' default) cannot schedule: it retries straight away."""
    settings.EMAIL_BACKEND = "tests.mailboxes.BrokenMailServer"
    BrokenMailServer.attempts = 0
    log_in_staff(client, physician)
    assert invite(client, "carol@example.com").status_code == 302
    assert BrokenMailServer.attempts == 5
    assert UndeliveredEmail.objects.get().kind == "invitation"


def test_an_invitation_accepted_before_its_email_goes_out_sends_nothing(
    client, physician, task_worker
):
    log_in_staff(client, physician)
    invite(client, "carol@example.com")
    from screening.models import Invitation

    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    task_worker()
    assert mail.outbox == []


@pytest.mark.django_db(transaction=True)
def test_the_worker_sends_committed_mail_outside_any_test_transaction(task_worker, roles):
    """End to end with real commits: the request's transaction commits the task, and the
    worker (untouched, connection recycling included) picks it up and sends it."""
    from tests.conftest import make_user

    physician = make_user("doctor@example.com", "Dr Dana Physician", "Physician")
    client = log_in_staff(Client(), physician)
    invite(client, "carol@example.com")
    assert mail.outbox == []
    task_worker()
    (message,) = mail.outbox
    assert message.to == ["carol@example.com"]
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"


def test_a_failing_mail_server_never_hides_the_crisis_page(
    patient_client, patient, physician, default_version, settings, task_worker
):
    settings.EMAIL_BACKEND = "tests.mailboxes.BrokenMailServer"
    screening = start_screening(patient=patient)
    fill_intake(patient_client, screening, {"phq9_9": "nearly_every_day"})
    response = patient_client.post(
        f"/screenings/{screening.pk}/review/", {"consent": "on"}, follow=True
    )
    # The alert waits in the queue; the worker's failure is retried later (tests/test_task_queue.py).
    task_worker()
    assert response.status_code == 200
    assert "Please read this now" in response.content.decode()
