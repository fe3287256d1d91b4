"""Walk the audit log's hash chain in order and say whether it is intact.

Exit status 0 with "Audit log intact: N events" and an anchor line, or 1 naming the first
broken event. An event is broken when its own fields no longer match its hash (it was
edited), or when it does not chain to the event before it (an event was deleted, inserted
or edited and re-hashed).

The chain alone cannot show that events were removed from its end: a log cut back to its
first 100 events, or emptied, is still a valid chain. So each run prints an anchor, "Anchor:
N HASH" (the number of events and the hash of the last one). The operator keeps anchors
away from the database server and hands them back (`--expect-count N --expect-head HASH`,
or a file of anchor lines with `--anchor-file`): the log must still hold at least N events
and its Nth event must still have that hash, or the command names what is missing. Events
written after the newest anchor are covered only by the next one.
"""

import re
import sys
from dataclasses import dataclass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ...audit import GENESIS_HASH, compute_row_hash
from ...models import AuditEvent

# "Anchor: 1234 <64 hex digits>", as printed below; the "Anchor:" label is optional.
ANCHOR_LINE = re.compile(r"^(?:Anchor:\s*)?(\d+)\s+([0-9a-f]{64})$")
USAGE_ERROR = 2


@dataclass(frozen=True)
class Anchor:
    count: int  # the log held this many events when the anchor was taken...
    head: str  # ...and the last of them had this row_hash
    source: str  # where the operator gave it, for messages

    def __str__(self) -> str:
        return f"{self.count} {self.head}"


def anchors_from_file(path: str) -> list[Anchor]:
    """Anchor lines from a file ("-" for standard input); blank lines and # comments skipped."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(
            f"Cannot read anchors from {path}: {error}", returncode=USAGE_ERROR
        ) from error
    name = "standard input" if path == "-" else path
    anchors = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = ANCHOR_LINE.match(line)
        if match is None:
            raise CommandError(
                f"{name}, line {number}: not an anchor. Expected the line verify_audit "
                f'prints, "Anchor: <number of events> <64 hex digits>".',
                returncode=USAGE_ERROR,
            )
        anchors.append(Anchor(int(match[1]), match[2], f"{name}, line {number}"))
    return anchors


class Command(BaseCommand):
    help = (
        "Check the audit log's hash chain and any anchors from earlier runs; exit non-zero "
        "naming the first broken or missing event."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--expect-count",
            type=int,
            metavar="N",
            help="an earlier run's event count: the log must still hold at least N events",
        )
        parser.add_argument(
            "--expect-head",
            metavar="HASH",
            help="that run's last hash: the log's Nth event must still have it",
        )
        parser.add_argument(
            "--anchor-file",
            metavar="PATH",
            help='a file of "Anchor: N HASH" lines from earlier runs ("-" reads standard input)',
        )

    def handle(self, *args, **options) -> None:
        anchors = self.anchors_given(options)
        # The row hash at each position an anchor names (1 is the first event).
        wanted = {anchor.count for anchor in anchors}
        hash_at: dict[int, tuple[int, str]] = {}

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
            if count in wanted:
                hash_at[count] = (event.pk, event.row_hash)

        for anchor in sorted(anchors, key=lambda anchor: anchor.count):
            self.check_anchor(anchor, count, hash_at)

        self.stdout.write(f"Audit log intact: {count} events")
        if anchors:
            self.stdout.write(f"It still holds all {len(anchors)} anchor(s) given.")
        if count:
            self.stdout.write(f"Last hash: {expected_previous}")
            # Keep this line away from the database server; give it back on later runs.
            self.stdout.write(f"Anchor: {count} {expected_previous}")

    def anchors_given(self, options) -> list[Anchor]:
        count, head = options["expect_count"], options["expect_head"]
        anchors = []
        if (count is None) != (head is None):
            raise CommandError(
                "Give --expect-count and --expect-head together (both from one earlier run).",
                returncode=USAGE_ERROR,
            )
        if count is not None:
            line = f"{count} {head.strip().lower()}"
            match = ANCHOR_LINE.match(line)
            if match is None or count < 1:
                raise CommandError(
                    "--expect-count must be a positive number of events and --expect-head "
                    "a hash of 64 hex digits, as an earlier run printed them.",
                    returncode=USAGE_ERROR,
                )
            anchors.append(Anchor(count, match[2], "--expect-count/--expect-head"))
        if options["anchor_file"]:
            anchors.extend(anchors_from_file(options["anchor_file"]))
        return anchors

    def check_anchor(self, anchor: Anchor, count: int, hash_at: dict[int, tuple[int, str]]) -> None:
        if anchor.count > count:
            raise CommandError(
                f"Audit log cut short: it holds {count} events, but the anchor from "
                f"{anchor.source} says it held {anchor.count} (last hash {anchor.head}). "
                f"Events were removed from its end (truncated or cut off).",
                returncode=1,
            )
        if anchor.count == 0:
            return
        pk, row_hash = hash_at[anchor.count]
        if row_hash != anchor.head:
            raise CommandError(
                f"Audit log rewritten: event {pk}, number {anchor.count} in the log, has hash "
                f"{row_hash}, but the anchor from {anchor.source} says {anchor.head}. The "
                f"events up to it were replaced (a re-hashed chain).",
                returncode=1,
            )
