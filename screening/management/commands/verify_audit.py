"""Walk the audit log's hash chain in order and say whether it is intact.

Exit status 0 with "Audit log intact: N events", or 1 naming the first broken event.
An event is broken when its own fields no longer match its hash (it was edited), or
when it does not chain to the event before it (an event was deleted, inserted or
edited and re-hashed). The chain cannot show that the newest events were deleted:
keep the printed last hash somewhere else and compare it with a later run.
"""

from django.core.management.base import BaseCommand, CommandError

from screening.audit import GENESIS_HASH, compute_row_hash
from screening.models import AuditEvent


class Command(BaseCommand):
    help = "Check the audit log's hash chain; exit non-zero naming the first broken event."

    def handle(self, *args, **options):
        expected_previous = GENESIS_HASH
        count = 0
        for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
            problem = None
            if event.previous_hash != expected_previous:
                problem = (
                    "it does not follow the event before it "
                    "(an event was deleted or inserted before it, or edited and re-hashed)"
                )
            elif compute_row_hash(event, event.previous_hash) != event.row_hash:
                problem = "its content does not match its hash (it was edited)"
            if problem:
                raise CommandError(
                    f"Audit log broken at event {event.pk} ({event.at:%Y-%m-%d %H:%M:%S %Z}): "
                    f"{problem}. {count} events before it are intact.",
                    returncode=1,
                )
            expected_previous = event.row_hash
            count += 1
        self.stdout.write(f"Audit log intact: {count} events")
        if count:
            self.stdout.write(f"Last hash: {expected_previous}")
