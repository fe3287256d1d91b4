"""The queue's 100,000 submitted screenings on PostgreSQL, for the page benchmarks
(bench/pages.py times the queue's first page over them; bench/http.py serves it)."""

import uuid
from datetime import timedelta

from django.core.management import call_command
from django.db import connection
from django.utils import timezone

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
        # Fresh statistics and visibility map for the planner (autovacuum does this in production).
        cursor.execute("VACUUM ANALYZE")


def seed() -> None:
    """The database the page benchmarks read: migrated, the default content, the roles, and
    SCREENINGS submitted screenings (made once; later runs find them there)."""
    from screening.selectors import current_version
    from screening.services.roles import ensure_roles

    call_command("migrate", verbosity=0)
    call_command("load_default_content", verbosity=0)
    ensure_roles()
    _seed(current_version())
