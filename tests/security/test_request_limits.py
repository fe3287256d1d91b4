"""Request bodies no page needs are refused on their headers, before a byte is read.

The attack: an anonymous 40 MB multipart upload to the login page was read to the end and
written to a temporary file, because Django's 1 MB limit counts form fields, not file parts.
These tests stream a real 40 MB body into the app through the WSGI handler, from a file-like
input that makes its bytes on demand and counts every one the app reads, and spy on Django's
upload handlers to see that no file is ever opened, in memory or on disk.
"""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.files.uploadhandler import MemoryFileUploadHandler, TemporaryFileUploadHandler
from django.test import Client, RequestFactory

from screening.request_limits import body_refusal
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db

FORTY_MB = 40 * 1024 * 1024
BOUNDARY = "attack-boundary"
REFUSED_PAGE = "The page could not be read"


class StreamedBody:
    """A WSGI input of `head`, then `size` bytes of filler, then `tail`, made as they are
    read (the test never holds 40 MB) and counted."""

    def __init__(self, head: bytes, size: int, tail: bytes = b""):
        self.head, self.size, self.tail = head, size, tail
        self.length = len(head) + size + len(tail)
        self.bytes_read = 0

    def _slice(self, start: int, end: int) -> bytes:
        parts = []
        filler_end = len(self.head) + self.size
        if start < len(self.head):
            parts.append(self.head[start : min(end, len(self.head))])
        if end > len(self.head) and start < filler_end:
            parts.append(b"x" * (min(end, filler_end) - max(start, len(self.head))))
        if end > filler_end:
            parts.append(self.tail[max(start, filler_end) - filler_end : end - filler_end])
        return b"".join(parts)

    def read(self, size: int = -1) -> bytes:
        start = self.bytes_read
        end = self.length if size is None or size < 0 else min(self.length, start + size)
        self.bytes_read = end
        return self._slice(start, end)

    def readline(self, size: int = -1) -> bytes:
        start = self.bytes_read
        end = self.length if size is None or size < 0 else min(self.length, start + size)
        chunk = self._slice(start, min(end, start + 64 * 1024))
        cut = chunk.find(b"\n")
        line = chunk if cut < 0 else chunk[: cut + 1]
        self.bytes_read = start + len(line)
        return line


def file_upload_body(size: int) -> StreamedBody:
    """A well-formed multipart login form whose second part is a `size`-byte file."""
    head = (
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="username"\r\n\r\n'
        "alice@example.com\r\n"
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="password"\r\n\r\n'
        f"{PASSWORD}\r\n"
        f"--{BOUNDARY}\r\n"
        'Content-Disposition: form-data; name="avatar"; filename="huge.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    return StreamedBody(head, size, f"\r\n--{BOUNDARY}--\r\n".encode())


@pytest.fixture
def files_opened(monkeypatch, settings, tmp_path):
    """Every file an upload handler was asked to keep, in memory or in a temporary file."""
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path)
    opened = []
    for handler in (MemoryFileUploadHandler, TemporaryFileUploadHandler):
        original = handler.new_file

        def spy(self, *args, original=original, **kwargs):
            # Memory handler: only a file it has activated for is kept.
            if not isinstance(self, MemoryFileUploadHandler) or self.activated:
                opened.append((type(self).__name__, args[1]))
            return original(self, *args, **kwargs)

        monkeypatch.setattr(handler, "new_file", spy)
    return opened


def post_streamed(body: StreamedBody, *, declare_length: bool = True, path: str = "/login/"):
    """POST the body through Django's WSGI handler (the test client), as a server would."""
    environ = {
        "CONTENT_TYPE": f"multipart/form-data; boundary={BOUNDARY}",
        "wsgi.input": body,
    }
    if declare_length:
        environ["CONTENT_LENGTH"] = str(body.length)
    else:
        # What gunicorn hands the app for a chunked upload: no CONTENT_LENGTH at all.
        environ["HTTP_TRANSFER_ENCODING"] = "chunked"
    client = Client()
    response = client.generic("POST", path, **environ)
    return client, response


def assert_refused_page(response) -> None:
    assert response.status_code == 400
    text = response.content.decode()
    assert REFUSED_PAGE in text and "nothing was saved" in text
    # The 400 page passes back through the security middleware like any other page.
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


@pytest.mark.parametrize("path", ["/login/", "/account/password-reset/", "/no-such-page/"])
def test_a_40_mb_file_upload_is_refused_without_reading_it(patient, files_opened, path):
    body = file_upload_body(FORTY_MB)
    client, response = post_streamed(body, path=path)
    assert body.bytes_read == 0, f"the app read {body.bytes_read:,} bytes of the upload"
    assert files_opened == []
    assert_refused_page(response)
    assert "_auth_user_id" not in client.session


def test_a_40_mb_chunked_upload_without_a_length_is_refused_without_reading_it(
    patient, files_opened
):
    body = file_upload_body(FORTY_MB)
    _, response = post_streamed(body, declare_length=False)
    assert body.bytes_read == 0
    assert files_opened == []
    assert_refused_page(response)


def test_a_small_file_part_is_refused_too_and_logs_nobody_in(patient, files_opened):
    body = file_upload_body(10)
    client, response = post_streamed(body)
    assert files_opened == []
    assert_refused_page(response)
    assert "_auth_user_id" not in client.session


def test_the_same_form_without_the_file_still_logs_in(patient, settings):
    """The refusal is about the file, not multipart: the test client and some browsers post
    forms as multipart."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    patient.set_password(PASSWORD)
    patient.save()
    client = Client()
    response = client.post("/login/", {"username": patient.email, "password": PASSWORD})
    assert response.status_code == 302
    assert "_auth_user_id" in client.session


def test_a_file_part_that_got_past_the_count_limit_would_still_be_dropped(settings, files_opened):
    """Defence in depth: were DATA_UPLOAD_MAX_NUMBER_FILES ever lifted, the only upload handler
    keeps files of at most 0 bytes, so nothing reaches memory, disk or request.FILES."""
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = None
    upload = SimpleUploadedFile("notes.txt", b"x" * 900_000)
    request = RequestFactory().post("/login/", {"username": "a@example.com", "avatar": upload})
    assert request.POST["username"] == "a@example.com"
    assert not request.FILES
    assert files_opened == []


@pytest.mark.parametrize(
    "meta, refused",
    [
        ({}, False),
        ({"CONTENT_LENGTH": ""}, False),
        ({"CONTENT_LENGTH": "0"}, False),
        ({"CONTENT_LENGTH": str(1024 * 1024)}, False),
        ({"CONTENT_LENGTH": "000000000000000000000001"}, False),
        ({"CONTENT_LENGTH": str(1024 * 1024 + 1)}, True),
        ({"CONTENT_LENGTH": str(FORTY_MB)}, True),
        # More digits than int() will convert (Python's 4,300-digit limit): no crash.
        ({"CONTENT_LENGTH": "9" * 5000}, True),
        ({"CONTENT_LENGTH": "-1"}, True),
        ({"CONTENT_LENGTH": "12abc"}, True),
        ({"CONTENT_LENGTH": "١٢"}, True),
        ({"HTTP_TRANSFER_ENCODING": "chunked"}, True),
        ({"HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_LENGTH": "10"}, True),
    ],
)
def test_which_bodies_are_refused_on_their_headers(settings, meta, refused):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    assert (body_refusal(meta) is not None) == refused
