"""Load the default ketamine pre-treatment question set, the session check-in and their test
panels from content/; idempotent."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ...engine.definitions import DEFAULT_CHECK_IN_FILE, DEFAULT_CHECK_IN_PANEL_FILE, ContentError
from ...services.content import (
    DEFAULT_CONTENT_FILE,
    DEFAULT_FORMULARY_FILE,
    DEFAULT_PANEL_FILE,
    load_formulary,
    load_question_set,
)


class Command(BaseCommand):
    help = (
        "Load the formulary and publish the default question set, rules and test panel "
        "(idempotent; the panel must pass on the rules)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--file", type=Path, default=DEFAULT_CONTENT_FILE)
        parser.add_argument("--formulary", type=Path, default=DEFAULT_FORMULARY_FILE)
        parser.add_argument("--panel", type=Path, default=DEFAULT_PANEL_FILE)
        parser.add_argument("--check-in-file", type=Path, default=DEFAULT_CHECK_IN_FILE)
        parser.add_argument("--check-in-panel", type=Path, default=DEFAULT_CHECK_IN_PANEL_FILE)

    def handle(
        self,
        *args,
        file: Path,
        formulary: Path,
        panel: Path,
        check_in_file: Path,
        check_in_panel: Path,
        **options,
    ) -> None:
        try:
            drugs_created, drugs_updated = load_formulary(formulary)
            # The intake first: the check-in's rules read its answers.
            loaded = [load_question_set(file, panel)]
            loaded.append(load_question_set(check_in_file, check_in_panel))
        except (ContentError, OSError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(f"Formulary: {drugs_created} entries added, {drugs_updated} updated.")
        for version, created in loaded:
            if created:
                self.stdout.write(self.style.SUCCESS(f"Published {version}."))
            else:
                self.stdout.write(f"{version} is already live; nothing changed.")
