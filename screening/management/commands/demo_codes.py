"""Print the demo staff accounts' current one-time codes. Refuses to run when DEBUG is off."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ...demo import current_codes
from ...models import User
from .create_demo_accounts import DEMO_ACCOUNTS


class Command(BaseCommand):
    help = (
        "Show the demo staff's (physician, clinic admin, nurse) current two-factor codes"
        " (development only)."
    )

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG:
            raise CommandError("Demo codes are never shown in production (DEBUG is off).")
        staff_emails = [email for email, _, group, _ in DEMO_ACCOUNTS if group]
        users = User.objects.filter(email__in=staff_emails).order_by("email")
        if not users:
            raise CommandError("No demo staff accounts yet: run create_demo_accounts first.")
        for email, code in current_codes(users).items():
            self.stdout.write(f"{email:28} {code}")
        self.stdout.write("Codes change every 30 seconds, and each works once.")
