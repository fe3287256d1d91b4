"""Refusing request bodies the app has no use for, before anything reads them.

Django caps form fields (DATA_UPLOAD_MAX_MEMORY_SIZE), but a multipart body's file parts are
streamed to memory and then to a temporary file whatever their size, and no page of this app
takes a file. This middleware looks only at the request's headers: a body declared larger
than the limit, or sent without a declared length, gets the plain 400 page (templates/400.html)
that other unreadable bodies get, and not one byte of it is read. File parts inside a body that
fits are refused by settings (DATA_UPLOAD_MAX_NUMBER_FILES = 0), and no upload handler would
keep one (see clinic/settings.py).
"""

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse


class RequestBodyRefused(RequestDataTooBig):
    """A body refused on its headers alone.

    A subclass of Django's own "too big" error, so Django answers it exactly as it answers
    an oversized form: the 400 page, logged to django.security, the body never parsed.
    """


class RequestBodyLimitMiddleware:
    """Refuse a body longer than DATA_UPLOAD_MAX_MEMORY_SIZE, or of undeclared length."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        refusal = body_refusal(request.META)
        if refusal:
            raise RequestBodyRefused(refusal)
        return self.get_response(request)


def body_refusal(meta: dict) -> str | None:
    """Why a request's body must not be read, from its headers; None when it may be."""
    if meta.get("HTTP_TRANSFER_ENCODING"):
        # Chunked: the length is unknown until it has all been read. Browsers always declare
        # the length of a form; and a body that carries both headers is a request-smuggling
        # shape (RFC 9112, section 6.3), so it is refused too.
        return "A request body without a declared length (Transfer-Encoding) was refused."
    declared = meta.get("CONTENT_LENGTH") or ""
    if not declared:
        return None
    if not (declared.isascii() and declared.isdigit()):
        return "A request body of unreadable length was refused."
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    digits = declared.lstrip("0")
    # Compared by length first: int() refuses strings of more than 4,300 digits.
    if limit is not None and (len(digits) > len(str(limit)) or int(digits or 0) > limit):
        # The whole body, file parts and multipart framing included, not only form fields.
        return "Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE."
    return None
