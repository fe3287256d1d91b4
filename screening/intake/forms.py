"""The intake's forms: one wizard page built from its section's questions, and the submit.

Each question becomes the field its kind calls for (screening/answer_fields.py); forms
validate and normalise, and never save or evaluate rules.
"""

from django import forms
from django.utils.translation import gettext_lazy as _

from ..answer_fields import field_for, initial_value, stored_value
from ..engine.questionnaire import (
    QuestionDef,
)
from ..measurement_fields import check_weight_against_height


class SectionForm(forms.Form):
    """The questions of one wizard page that the patient's answers make relevant.

    `lenient` makes every field optional (used to read a page's answers before deciding
    which follow-ups apply). Questions outside `presented` were not on the page the
    patient saw, so they are not demanded yet: the page comes back with them shown.

    `built` hands over fields another form made for these very questions and has done
    with (the lenient reading of the same post): they are used again rather than made
    anew, `required` set as field_for sets it. A field keeps nothing of a post it cleaned.
    """

    suppress_errors = False

    def __init__(
        self,
        *args,
        questions: list[QuestionDef],
        lenient=False,
        presented=None,
        built: dict[str, forms.Field] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.questions = questions
        self.lenient = lenient
        for question in questions:
            field = built.pop(question.code, None) if built else None
            if field is None or field.question is not question:
                field = field_for(question)
            else:
                field.required = question.required
            if lenient or (presented is not None and question.code not in presented):
                field.required = False
            self.fields[question.code] = field

    def clean(self):
        cleaned = super().clean()
        if not self.lenient:
            # A weight in pounds typed into the kilograms box passes every range check.
            check_weight_against_height(self)
        return cleaned

    def stored_answers(self) -> dict[str, object]:
        """The cleaned answers in their stored JSON shape; None for a blank optional answer."""
        return {
            question.code: stored_value(question, self.cleaned_data.get(question.code))
            for question in self.questions
        }

    def valid_stored_answers(self) -> dict[str, object]:
        """Like stored_answers, but only for fields that validated (after is_valid())."""
        return {
            question.code: stored_value(question, self.cleaned_data[question.code])
            for question in self.questions
            if question.code in self.cleaned_data
        }


def build_section_form(
    questions: list[QuestionDef],
    *,
    stored: dict[str, object],
    data=None,
    presented=None,
    built: dict[str, forms.Field] | None = None,
) -> SectionForm:
    initial = {q.code: initial_value(q, stored.get(q.code)) for q in questions}
    return SectionForm(
        data=data, initial=initial, questions=questions, presented=presented, built=built
    )


class SubmitForm(forms.Form):
    consent = forms.BooleanField(
        label=_(
            "I have read the information about treatment, and my answers are complete and true "
            "to the best of my knowledge."
        ),
        error_messages={"required": _("Please check this box to confirm before you submit.")},
    )


class CheckInSubmitForm(forms.Form):
    """The check-in's confirmation: there is no consent information to have read again."""

    consent = forms.BooleanField(
        label=_("My answers are complete and true to the best of my knowledge."),
        error_messages={"required": _("Please check this box to confirm before you submit.")},
    )
