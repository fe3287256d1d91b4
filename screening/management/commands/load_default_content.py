"""Load the default ketamine pre-treatment question set from content/; idempotent."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from screening.content import DEFAULT_CONTENT_FILE, ContentError, load_question_set


class Command(BaseCommand):
    help = "Publish the default question set from its data file (nothing changes if it is already live)."

    def add_arguments(self, parser):
        parser.add_argument("--file", type=Path, default=DEFAULT_CONTENT_FILE)

    def handle(self, *args, file: Path, **options):
        try:
            version, created = load_question_set(file)
        except (ContentError, OSError) as error:
            raise CommandError(str(error)) from error
        if created:
            self.stdout.write(self.style.SUCCESS(f"Published {version}."))
        else:
            self.stdout.write(f"{version} is already live; nothing changed.")
