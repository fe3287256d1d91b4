"""Mail for tests: a mail server that is down, and a guard that no mail is sent in a request."""

from contextlib import contextmanager
from smtplib import SMTPServerDisconnected

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend


class BrokenMailServer(BaseEmailBackend):
    """Every send fails, as with an SMTP server that hangs up (settings.EMAIL_BACKEND)."""

    attempts = 0

    def send_messages(self, email_messages):
        BrokenMailServer.attempts += 1
        raise SMTPServerDisconnected("Connection unexpectedly closed: alice@example.com")


@contextmanager
def no_mail_work(monkeypatch):
    """Fail the test if anything opens a mail connection (even fail_silently), renders and
    sends, or adds to the outbox while the block runs: mail belongs to the worker."""

    def refuse(*args, **kwargs):
        pytest.fail("mail was sent inside the request")

    before = len(mail.outbox)
    with monkeypatch.context() as patched:
        patched.setattr("django.core.mail.get_connection", refuse)
        patched.setattr("django.core.mail.message.EmailMessage.send", refuse)
        yield
    assert len(mail.outbox) == before, "mail was sent inside the request"
