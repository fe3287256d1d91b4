"""Create demo accounts for trying the app locally. Refuses to run when DEBUG is off."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError, CommandParser

from ...demo import DEMO_PASSWORD, demo_authenticator, seed_demo_screenings
from ...models import CLINIC_ADMIN_GROUP, NURSE_GROUP, PHYSICIAN_GROUP, User
from ...selectors import NoPublishedQuestionSet
from ...services.roles import ensure_roles
from ...services.two_factor import secret_for_typing

DEMO_ACCOUNTS = [
    ("patient@example.com", "Pat Demo", None, False),
    ("physician@example.com", "Dr Phil Demo", PHYSICIAN_GROUP, False),
    ("admin@example.com", "Ada Admin", CLINIC_ADMIN_GROUP, True),
    ("nurse@example.com", "Nell Demo-Nurse", NURSE_GROUP, False),
]


class Command(BaseCommand):
    help = "Create a demo patient, physician, clinic admin and nurse (development only)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--base-url",
            default=None,
            help="Where the app is served, for the links shown (default: SITE_URL; `make run`"
            " passes the address it serves on).",
        )

    def handle(self, *args, base_url: str | None, **options) -> None:
        base_url = (base_url or settings.SITE_URL).rstrip("/")
        if not settings.DEBUG:
            raise CommandError("Demo accounts are never created in production (DEBUG is off).")
        ensure_roles()
        for email, name, group_name, is_staff in DEMO_ACCOUNTS:
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(email=email, password=DEMO_PASSWORD, full_name=name)
            user.is_staff = is_staff
            user.save(update_fields=["is_staff"])
            if group_name:
                user.groups.add(Group.objects.get(name=group_name))
        keys = {
            email: secret_for_typing(demo_authenticator(User.objects.get(email=email)))
            for email, _, group_name, _ in DEMO_ACCOUNTS
            if group_name
        }
        try:
            seeded = seed_demo_screenings()
        except NoPublishedQuestionSet:
            seeded = 0
        line = "-" * 72
        self.stdout.write(
            f"""
{line}
Demo accounts (development only). Open {base_url}/login/ and sign in as:

  Patient     patient@example.com     password: {DEMO_PASSWORD}
              -> fill in and submit the pre-treatment questionnaire
  Physician   physician@example.com   password: {DEMO_PASSWORD}
              -> review the queue at {base_url}/staff/queue/ ({seeded} demo screenings added now),
                 and invite patients at {base_url}/staff/invitations/
  Clinic admin admin@example.com      password: {DEMO_PASSWORD}
              -> edit questions, rules and the formulary at {base_url}/admin/,
                 read the audit log at {base_url}/staff/audit/
  Nurse       nurse@example.com       password: {DEMO_PASSWORD}
              -> treatment sessions at {base_url}/staff/sessions/ (vitals, dose, discharge)

Staff also enter a one-time code after the password. Either add the key to an authenticator
app, or print the current codes with:  DEBUG=True .venv/bin/python manage.py demo_codes
  physician@example.com  key: {keys["physician@example.com"]}
  admin@example.com      key: {keys["admin@example.com"]}
  nurse@example.com      key: {keys["nurse@example.com"]}
{line}
"""
        )
