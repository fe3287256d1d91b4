"""One page of the intake for one request: the wizard's step object.

Built once per request (`PageStep.load`), it reads the stored answers once and works out
once what the patient is asked, with a post's answers laid over the stored ones, so that
the questions on the page, the form that checks them and the save all agree. The view asks
it whether the page applies, for its form, to save it and whether it is then complete, and
for what the template draws. (pretix's checkout steps are the model: each says whether it
applies and whether it is complete.)
"""

from __future__ import annotations

from django import forms
from django.http import QueryDict
from django.utils.html import format_html

from ..answer_fields import BLANK_MEDICATION_ROWS
from ..content_language import shows_source_wording
from ..engine.questionnaire import (
    MEDICATION_LIST,
    SCALE_ITEM,
    QuestionDef,
    SectionDef,
    split_intro,
)
from ..models import Screening
from ..presenters import intro_blocks
from ..selectors import read_answers, visibility_for
from ..services.intake import save_page
from ..services.rescreening import is_prefilled
from ..snapshots import questionnaire_for
from .fields import DRAWN_BY_DJANGO, FieldView, field_views, specs_for
from .forms import SectionForm, build_section_form

# "Add more rows" offers this many more blank rows in every medication list on the page.
MORE_ROWS = 5
# This many scale items in a row with the same answers (the PHQ-9, GAD-7, PCL-5) make a grid:
# one card per item on a phone, a table (items as rows, answers as columns) on a desktop.
GRID_MIN_ITEMS = 3


def page_items(fields: list[FieldView], list_intro: list[dict]) -> list[dict]:
    """The page's questions in order, runs of like scale items gathered into grids. The
    list's introduction (the part of the intro after its marker line) goes with the first
    grid, so it is shown only above the list and only while the list is."""
    items: list[dict] = []
    for view in fields:
        labels = (
            tuple(option.label for option in view.spec.options)
            if view.spec.kind == SCALE_ITEM
            else None
        )
        last = items[-1] if items else None
        if labels and last is not None and last.get("labels") == labels:
            last["fields"].append(view)
        else:
            # Every key the template reads, so none is looked for in vain (a missing key
            # costs the template a failed lookup and a dir() of the dict).
            items.append({"labels": labels, "fields": [view], "intro": None, "english_note": False})
    for item in items:
        item["grid"] = item["labels"] is not None and len(item["fields"]) >= GRID_MIN_ITEMS
        item["shown"] = any(view.shown for view in item["fields"])
    grids = [item for item in items if item["grid"]]
    if grids:
        grids[0]["intro"] = list_intro
    elif list_intro:
        items.insert(
            0,
            {
                "grid": False,
                "fields": [],
                "intro": list_intro,
                "shown": True,
                "english_note": False,
            },
        )
    return items


class PageStep:
    """The section a patient opened, with their answers and what those make of the page."""

    def __init__(
        self,
        screening: Screening,
        section: SectionDef,
        data: QueryDict | None,
        *,
        restored: bool = False,
        language: str | None = None,
    ) -> None:
        self.screening = screening
        self.section = section
        # The patient's language: the page's texts are in it; answers and codes are not.
        self.language = language
        self.data = data
        # `data` is a kept draft (screening/services/drafts.py), drawn as typed, never saved.
        self.restored = restored
        # The one read of the stored answers; the save reuses it if nobody saved since.
        self.read = read_answers(screening)
        codes = {question.code for question in section.questions}
        posted = data.getlist("presented") if data is not None else []
        # Only questions of this page count; the patient saw them, so the post answers them.
        self.presented = {code for code in posted if code in codes}
        self.more_rows = data is not None and "more_rows" in data
        # The fields the lenient reading of the post made, for the checking form to reuse.
        self._probe_fields: dict[str, forms.Field] = {}
        self.changes = self._posted_answers() if self.presented else {}
        # The one working-out of what is asked: the stored answers with this post's on top.
        self.visibility = visibility_for(
            screening, {**self.read.answers, **self.changes}, language=language
        )
        self.is_complete: bool | None = None  # known once saved

    @classmethod
    def load(
        cls,
        screening: Screening,
        code: str,
        data: QueryDict | None,
        *,
        restored: bool = False,
        language: str | None = None,
    ) -> PageStep | None:
        """The step for the page `code` (None when the version has no such page), its texts
        in `language`."""
        section = questionnaire_for(screening.version, language).section(code)
        if section is None:
            return None
        return cls(screening, section, data, restored=restored, language=language)

    @property
    def applies(self) -> bool:
        """False when earlier answers make the page irrelevant (e.g. pregnancy questions)."""
        return self.section in self.visibility.sections

    @property
    def questions(self) -> list[QuestionDef]:
        """The page's questions that the answers make relevant, in order."""
        return self.visibility.visible_in(self.section)

    @property
    def is_save(self) -> bool:
        """A post of this page's form to be checked and saved. "Add more rows" only shows the
        page again; a post naming none of the page's questions would save nothing yet mark
        a finished page unfinished."""
        return bool(self.presented) and not self.more_rows and not self.restored

    def _posted_answers(self) -> dict[str, object]:
        """The post's answers to the questions the patient saw, read leniently (nothing
        required, refused answers left out): a follow-up hidden by a changed answer is then
        not demanded, and one revealed by it is shown next."""
        probe = SectionForm(
            self.data,
            questions=[q for q in self.section.questions if q.code in self.presented],
            lenient=True,
        )
        probe.is_valid()
        self._probe_fields = dict(probe.fields)
        return probe.valid_stored_answers()

    def form(self) -> SectionForm:
        """The form that checks the post: every relevant question, required only if seen.
        The first one made takes over the fields of the lenient reading (SectionForm
        `built`): the questions are the same, only what is required differs."""
        built, self._probe_fields = self._probe_fields, {}
        return build_section_form(
            self.questions,
            stored=self.read.answers,
            data=self.data,
            presented=self.presented,
            built=built,
        )

    def save(self, form: SectionForm) -> bool:
        """Store the page's checked answers; True when the page is complete.

        A follow-up revealed by this very post was not on the page: storing its blank would
        erase an answer given before the patient changed their mind, so only questions the
        patient saw are stored. The visibility worked out above is that of exactly these
        answers over the stored ones (hidden questions never change what is shown), so the
        save reuses it unless another save came in between.
        """
        answers = {
            code: value for code, value in form.stored_answers().items() if code in self.presented
        }
        saved = save_page(
            screening=self.screening,
            section=self.section,
            answers=answers,
            presented=self.presented,
            read=self.read,
            visibility=self.visibility,
            language=self.language,
        )
        self.is_complete = saved.complete
        return saved.complete

    @property
    def shown_codes(self) -> list[str]:
        """The codes of the page's questions that apply now (the page's script asks)."""
        return [question.code for question in self.questions]

    def page(self, form: SectionForm | None = None) -> dict:
        """What the section template draws: progress, the questions as stored or (after a
        refused save, "Add more rows", or a kept draft) as typed, each error beside its field.

        Every question of the page is drawn; those that do not apply now are `hidden`, and
        not presented (their "presented" input is disabled), so without JavaScript the page
        reads and posts exactly as if they were not there. The page's script shows one in
        place, and presents it, as soon as the server says an answer makes it apply."""
        sections = self.visibility.sections
        # Counted among the pages that can still apply, so "of 17" does not become "of 18"
        # when an answer shows a page; it only falls when answers rule a page out.
        possible = self.visibility.possible_sections
        number = possible.index(self.section) + 1
        previous = sections.index(self.section)
        fields = field_views(
            specs_for(self.screening.version, self.language),
            self.section.questions,
            stored=self.read.answers,
            data=self.data if (form is not None or self.more_rows or self.restored) else None,
            errors=form.errors if form is not None else None,
            extra_rows=BLANK_MEDICATION_ROWS + (MORE_ROWS if self.more_rows else 0),
        )
        top_intro, list_intro = split_intro(self.section.intro)
        shown = set(self.shown_codes)
        for view in fields:
            view.shown = view.spec.code in shown
        drawn_by_django = [view for view in fields if view.spec.kind in DRAWN_BY_DJANGO]
        if drawn_by_django:
            if form is None and self.data is None:
                # Nothing posted: each question drawn as required as it is (self.form()
                # requires only what a post presented, so it would mark none of them).
                bound_form = build_section_form(self.questions, stored=self.read.answers)
            else:
                bound_form = form if form is not None else self.form()
            hidden = [q for q in self.section.questions if q.code not in bound_form.fields]
            # Unbound: a question that does not apply is neither checked nor shows errors.
            drawing = build_section_form(hidden, stored=self.read.answers)
            for view in drawn_by_django:
                code = view.spec.code
                view.bound = (bound_form if code in bound_form.fields else drawing)[code]
                # The question set's words, marked as such (tests/test_untranslated_strings.py)
                view.bound.label = format_html("<span data-content>{}</span>", view.bound.label)
                if view.bound.help_text:
                    view.bound.help_text = format_html(
                        "<span data-content>{}</span>", view.bound.help_text
                    )
        # A re-screening: only a page with answers of the kind copied from the last
        # questionnaire says so (a page about the present starts empty and says nothing).
        copied = (
            [
                question
                for question in self.questions
                if question.code in self.read.answers and is_prefilled(self.section.code, question)
            ]
            if self.screening.previous_id is not None
            else []
        )
        items = page_items(fields, intro_blocks(list_intro))
        english_note = self._shows_english()
        if english_note and not shows_source_wording(self.section.title, self.section.intro):
            self._mark_first_item_in_english(items)
        return {
            "screening": self.screening,
            "section": self.section,
            "fields": fields,
            "errors": [field for field in fields if field.errors],
            "section_number": number,
            "section_count": len(possible),
            "previous_section": sections[previous - 1] if previous > 0 else None,
            "intro_blocks": intro_blocks(top_intro),
            "items": items,
            "restored_draft": self.restored,
            # Drawn from a post (a refused save, "Add more rows") and kept nowhere else (a
            # kept draft comes back by itself): the page's scripts keep it as if just typed.
            "drawn_as_typed": form is not None or self.more_rows,
            "from_last_questionnaire": bool(copied),
            "copied_medicines": any(q.kind == MEDICATION_LIST for q in copied),
            # Some wording on the page is the official English (no official translation):
            # the note says why, at the top or just above the first question in English.
            "english_wording_note": english_note,
            "english_note_at_top": english_note
            and not any(item.get("english_note") for item in items),
            "intro_in_english": shows_source_wording(self.section.intro),
            # The introduction to a list of scale items is the instrument's own instruction:
            # shown in English (the translation keeps it so) when the items are.
            "list_intro_in_english": shows_source_wording(
                self.section.intro,
                *(q.text for q in self.section.questions if q.kind == SCALE_ITEM),
            ),
        }

    def _mark_first_item_in_english(self, items: list[dict]) -> None:
        """Mark the first of the page's items whose questions are shown in English, so the
        note saying why stands just above them (the PCL-5 below its opening question, the
        AUDIT-C at the foot of its page) rather than at the top of a page in Spanish."""
        questions = {question.code: question for question in self.section.questions}
        for item in items:
            for view in item["fields"]:
                question = questions.get(view.spec.code)
                if question is not None and shows_source_wording(
                    question.text,
                    question.help_text,
                    question.unit,
                    *(choice.label for choice in question.choices),
                ):
                    item["english_note"] = True
                    return

    def _shows_english(self) -> bool:
        section = self.section
        return shows_source_wording(
            section.title,
            section.intro,
            *(
                text
                # Every question drawn, those hidden until an answer shows them too.
                for question in self.section.questions
                for text in (
                    question.text,
                    question.help_text,
                    question.unit,
                    *(choice.label for choice in question.choices),
                )
            ),
        )
