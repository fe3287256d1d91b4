"""Print the published question set's codes, kinds and choices as JSON (for writing answer files)."""

import json

from django.core.management.base import BaseCommand, CommandError

from ...selectors import NoPublishedQuestionSet, current_version
from ...snapshots import ruleset_for


class Command(BaseCommand):
    help = "Print the published version's sections, question codes, kinds and choices as JSON."

    def handle(self, *args, **options) -> None:
        try:
            version = current_version()
        except NoPublishedQuestionSet as error:
            raise CommandError(
                "No published question set: run load_default_content first."
            ) from error
        ruleset = ruleset_for(version)
        output = {
            "question_set": version.question_set.slug,
            "version": version.number,
            "sections": [
                {
                    "code": section.code,
                    "title": section.title,
                    "show_when": section.show_when or None,
                    "questions": [
                        {
                            "code": q.code,
                            "kind": q.kind,
                            "text": q.text,
                            "required": q.required,
                            "show_when": q.show_when or None,
                            **({"min": float(q.min_value)} if q.min_value is not None else {}),
                            **({"max": float(q.max_value)} if q.max_value is not None else {}),
                            **(
                                {
                                    "choices": [
                                        {
                                            "value": c.value,
                                            "label": c.label,
                                            **({"score": c.score} if c.score is not None else {}),
                                        }
                                        for c in q.choices
                                    ]
                                }
                                if q.choices
                                else {}
                            ),
                        }
                        for q in section.questions
                    ],
                }
                for section in ruleset.questionnaire.sections
            ],
            "scores": [{"code": s.code, "items": list(s.items)} for s in ruleset.scores],
            "derived": ["age", "bmi", "bp_systolic", "bp_diastolic"],
        }
        self.stdout.write(json.dumps(output, indent=2, ensure_ascii=False))
