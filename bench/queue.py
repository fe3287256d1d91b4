"""Queue benchmark: first page of the review queue with 100,000 screenings on PostgreSQL."""

import statistics
import time
import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bench.sessions import signed_in_session

SCREENINGS = 100_000
LEVELS = [("urgent", 4), ("contraindicated", 3), ("caution", 2), ("info", 1), ("", 0)]


def _seed(version) -> None:
    from screening.models import Screening, User

    missing = SCREENINGS - Screening.objects.filter(status="submitted").count()
    if missing <= 0:
        return
    now = timezone.now()
    batch = 5000
    for start in range(0, missing, batch):
        size = min(batch, missing - start)
        users = [
            User(
                id=uuid.uuid4(),
                email=f"bench-{uuid.uuid4().hex}@example.com",
                full_name=f"Bench Patient {start + i}",
                password="!",
            )
            for i in range(size)
        ]
        User.objects.bulk_create(users)
        Screening.objects.bulk_create(
            Screening(
                patient=user,
                version=version,
                status="submitted",
                submitted_at=now - timedelta(minutes=(start + i) % 50_000),
                level=LEVELS[(start + i) % 5][0],
                level_rank=LEVELS[(start + i) % 5][1],
                flag_count=(start + i) % 7,
            )
            for i, user in enumerate(users)
        )
    with connection.cursor() as cursor:
        # VACUUM sets the visibility map, so COUNT(*) can use an index-only scan (autovacuum does this in production).
        cursor.execute("VACUUM ANALYZE")


def run() -> list[tuple[str, str, str, bool]]:
    from screening.models import PHYSICIAN_GROUP, User
    from screening.selectors import current_version
    from screening.services.roles import ensure_roles

    call_command("migrate", verbosity=0)
    call_command("load_default_content", verbosity=0)
    ensure_roles()
    version = current_version()
    _seed(version)
    physician, _ = User.objects.get_or_create(
        email="bench-physician@example.com", defaults={"full_name": "Bench Physician"}
    )
    physician.groups.add(Group.objects.get(name=PHYSICIAN_GROUP))
    client = Client()
    # Signed in and past the second factor, as a physician is when reading the queue.
    client.cookies[settings.SESSION_COOKIE_NAME] = signed_in_session(physician, staff=True)
    for _ in range(5):
        client.get("/staff/queue/")
    timings = []
    for _ in range(30):
        start = time.perf_counter()
        response = client.get("/staff/queue/")
        timings.append(time.perf_counter() - start)
        assert response.status_code == 200, (response.status_code, response.get("Location"))
    with CaptureQueriesContext(connection) as queries:
        client.get("/staff/queue/")
    median_ms = statistics.median(timings) * 1000
    return [
        (
            f"queue: first page of {SCREENINGS:,} screenings on PostgreSQL (server time, median)",
            f"{median_ms:.1f} ms",
            "< 50 ms",
            median_ms < 50,
        ),
        ("queue: SQL queries per page", f"{len(queries)}", "fixed", True),
    ]
