"""Evaluate a JSON file of answers against the published default rules and print the flags.

Admins use it to try a rule change; the acceptance suite uses it too. Answers are keyed by
question code (`export_questionset` lists them) and checked as the intake checks them:
yes/no as "yes"/"no" or true/false, choices by value, scale items by value or score, a
blood pressure as "120/80", a medication list as a list of typed entries, a height as
168, "168 cm", "5 ft 7 in" or {"feet": 5, "inches": 7}, a weight as 70, "70 kg", "154 lb"
or {"pounds": 154}. A weight that looks typed in the other unit for its height is refused
unless written {"kg": 120, "confirmed": true}, as a patient must confirm it. Exit status 2
on bad input, with a message that names the offending key.
"""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from ...answers_json import MAX_FILE_BYTES, AnswersError, answers_from_bytes
from ...selectors import NoPublishedQuestionSet, current_version
from ...snapshots import ruleset_for


class Command(BaseCommand):
    help = (
        "Evaluate ANSWERS.json (answers keyed by question code, as export_questionset lists "
        'them; heights in cm or "5 ft 7 in", weights in kg or "154 lb") and print the flags '
        "as JSON."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "answers_file", type=Path, help='JSON object, or "-" for standard input'
        )

    def handle(self, *args, answers_file: Path, **options) -> None:
        try:
            # Bytes, decoded by answers_from_bytes: a file that is not UTF-8 gets a message,
            # not a traceback. One byte past the size limit is enough to refuse it.
            limit = MAX_FILE_BYTES + 1
            if str(answers_file) == "-":
                raw = sys.stdin.buffer.read(limit)
            else:
                with answers_file.open("rb") as file:
                    raw = file.read(limit)
        except OSError as error:
            raise CommandError(
                f"Cannot read {answers_file}: {error.strerror}", returncode=2
            ) from error
        try:
            version = current_version()
        except NoPublishedQuestionSet as error:
            raise CommandError(
                "No published question set: run load_default_content first."
            ) from error
        ruleset = ruleset_for(version)
        try:
            answers = answers_from_bytes(raw, ruleset.questionnaire)
        except AnswersError as error:
            raise CommandError(f"{answers_file}: {error}", returncode=2) from error
        evaluation = ruleset.evaluate(answers, timezone.localdate())
        output = {
            "level": evaluation.level or None,
            "flags": [
                {
                    "code": flag.code,
                    "severity": flag.severity,
                    "message": flag.message,
                    "evidence": list(flag.evidence),
                    # Urgent flags: what the patient's confirmation page shows.
                    **({"patient_message": flag.patient_message} if flag.patient_message else {}),
                }
                for flag in evaluation.flags
            ],
            "scores": {s.code: {"value": s.value, "band": s.band} for s in evaluation.scores},
        }
        self.stdout.write(json.dumps(output, indent=2, ensure_ascii=False))
