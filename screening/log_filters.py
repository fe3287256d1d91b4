"""Logging filters that keep secrets and patient data out of request lines.

Links in emails carry their tokens (invitation, password reset) in the query string, and
the review queue's search puts a patient's name there, so no log line the app writes may
carry a query string. Django's own loggers log only the path; the development server's
lines ("django.server") carry the whole request line, so this filter cuts the query from
them. Production's gunicorn access log is kept the same way by `clinic.access_log`.
"""

import logging
import re

# From a "?" to the end of the URL: the next space or quote (request lines are quoted).
QUERY_STRING = re.compile(r"\?[^\s'\"]*")


def without_query(text: str) -> str:
    """'GET /invitation/?token=abc HTTP/1.1' -> 'GET /invitation/ HTTP/1.1'."""
    return QUERY_STRING.sub("", text)


class DropQueryString(logging.Filter):
    """Cut query strings from the message and every text argument of a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = without_query(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                without_query(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True
