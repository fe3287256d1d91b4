"""Every question kind's validation, good and bad input, without a database."""

from decimal import Decimal

import pytest
from crispy_forms.utils import render_crispy_form

from screening.engine.questionnaire import ChoiceDef, QuestionDef
from screening.intake.forms import SectionForm


def question(kind, **extra):
    return QuestionDef(code="q", kind=kind, text="Question?", **extra)


CHOICES = (
    ChoiceDef("a", "Apple"),
    ChoiceDef("b", "Banana"),
    ChoiceDef("none", "None of these", exclusive=True),
)
SCORED = (ChoiceDef("0", "Not at all", 0), ChoiceDef("1", "Several days", 1))


def clean(q, data):
    form = SectionForm(data, questions=[q])
    valid = form.is_valid()
    return valid, (form.stored_answers()["q"] if valid else None), form.errors.get("q", [])


@pytest.mark.parametrize(
    "q, data, stored",
    [
        (question("yes_no"), {"q": "yes"}, "yes"),
        (question("single_choice", choices=CHOICES), {"q": "b"}, "b"),
        (question("multiple_choice", choices=CHOICES), {"q": ["a", "b"]}, ["a", "b"]),
        (question("multiple_choice", choices=CHOICES), {"q": ["none"]}, ["none"]),
        (question("scale_item", choices=SCORED), {"q": "1"}, "1"),
        (question("integer", min_value=Decimal(30), max_value=Decimal(220)), {"q": "72"}, 72),
        (question("decimal", min_value=Decimal(25), max_value=Decimal(350)), {"q": "70.5"}, 70.5),
        (question("text"), {"q": "  some words  "}, "some words"),
        (question("date"), {"q": "1980-05-17"}, "1980-05-17"),
        (
            question("blood_pressure"),
            {"q_systolic": "128", "q_diastolic": "82"},
            {"systolic": 128, "diastolic": 82},
        ),
        (
            question("medication_list"),
            {"q-rows": "2", "q-0-name": " Xanax ", "q-0-dose": "0.5 mg", "q-1-name": ""},
            {"rows": [{"name": "Xanax", "dose": "0.5 mg", "frequency": ""}], "none": False},
        ),
        (question("medication_list"), {"q-rows": "2", "q-none": "on"}, {"rows": [], "none": True}),
        (question("blood_pressure", required=False), {"q_systolic": "", "q_diastolic": ""}, None),
        # A whole reading typed in one box (issue 15): the other box empty or repeating it.
        *[
            (question("blood_pressure"), data, {"systolic": 150, "diastolic": 95})
            for data in (
                {"q_systolic": "150 over 95", "q_diastolic": ""},
                {"q_systolic": "150/95", "q_diastolic": ""},
                {"q_systolic": "150 / 95", "q_diastolic": "95"},
                {"q_systolic": "", "q_diastolic": "150/95 mmHg"},
                {"q_systolic": "150", "q_diastolic": "150 over 95"},
            )
        ],
        (question("integer", required=False), {"q": ""}, None),
    ],
)
def test_valid_answers_are_stored_in_their_kinds_shape(q, data, stored):
    valid, value, errors = clean(q, data)
    assert valid, errors
    assert value == stored


@pytest.mark.parametrize(
    "q, data, message",
    [
        (question("yes_no"), {}, "Please answer this question."),
        (question("yes_no"), {"q": "maybe"}, "Select a valid choice"),
        (question("single_choice", choices=CHOICES), {"q": "cherry"}, "Select a valid choice"),
        (question("multiple_choice", choices=CHOICES), {}, "Please check at least one answer"),
        (
            question("multiple_choice", choices=CHOICES),
            {"q": ["a", "none"]},
            "can't be checked together",
        ),
        (question("multiple_choice", choices=CHOICES), {"q": ["zzz"]}, "Select a valid choice"),
        (question("scale_item", choices=SCORED), {"q": "7"}, "Select a valid choice"),
        (
            question("integer", min_value=Decimal(30), max_value=Decimal(220)),
            {"q": "abc"},
            "Enter a whole number between 30 and 220.",
        ),
        (
            question("integer", min_value=Decimal(30), max_value=Decimal(220)),
            {"q": "9999"},
            "Enter a whole number between 30 and 220.",
        ),
        (
            question("integer", min_value=Decimal(30), max_value=Decimal(220)),
            {"q": "-5"},
            "Enter a whole number between 30 and 220.",
        ),
        (
            question("integer", min_value=Decimal(30), max_value=Decimal(220)),
            {"q": "72.5"},
            "Enter a whole number between 30 and 220.",
        ),
        (
            question("decimal", min_value=Decimal(25), max_value=Decimal(350), unit="kg"),
            {"q": "1e9"},
            "Enter a number between 25 and 350 kg.",
        ),
        (
            question("decimal", min_value=Decimal(25), max_value=Decimal(350)),
            {"q": "NaN"},
            "Enter a number between 25 and 350.",
        ),
        (question("decimal"), {"q": "70.123"}, "Use at most two decimal places."),
        (question("text"), {"q": "x" * 2001}, "at most 2000 characters"),
        (question("date"), {"q": "17/05/80"}, "Enter a date like 1985-04-23"),
        (question("date"), {"q": "2999-01-01"}, "in the future"),
        (question("date"), {"q": "1850-01-01"}, "before 1900"),
        (
            question("blood_pressure"),
            {"q_systolic": "400", "q_diastolic": "20"},
            "between 60 and 260",
        ),
        (
            question("blood_pressure"),
            {"q_systolic": "400", "q_diastolic": "20"},
            "between 30 and 160",
        ),
        (
            question("blood_pressure"),
            {"q_systolic": "abc", "q_diastolic": "80"},
            "between 60 and 260",
        ),
        (
            question("blood_pressure"),
            {"q_systolic": "120", "q_diastolic": ""},
            "Enter both numbers",
        ),
        (
            question("blood_pressure"),
            {"q_systolic": "80", "q_diastolic": "120"},
            "should be higher",
        ),
        (
            question("blood_pressure"),
            {"q_systolic": "１２０", "q_diastolic": "80"},
            "between 60 and 260",
        ),
        # Two numbers in one box that are not one clear reading, or that disagree with the
        # other box: told how to use the two boxes (issue 15).
        *[
            (question("blood_pressure"), data, "Put the top number in the first box")
            for data in (
                {"q_systolic": "150-95", "q_diastolic": ""},
                {"q_systolic": "150 95", "q_diastolic": ""},
                {"q_systolic": "150/95", "q_diastolic": "90"},
                {"q_systolic": "140", "q_diastolic": "150/95"},
            )
        ],
        (
            question("blood_pressure"),
            {"q_systolic": "95 over 150", "q_diastolic": ""},
            "should be higher",
        ),
        (question("medication_list"), {"q-rows": "1"}, "or check the box if you take none"),
        (question("medication_list"), {"q-rows": "1", "q-0-dose": "5 mg"}, "Row 1: add the name"),
        (
            question("medication_list"),
            {"q-rows": "1", "q-0-name": "Xanax", "q-none": "on"},
            "also listed some",
        ),
        (
            question("medication_list"),
            {"q-rows": "1", "q-0-name": "x" * 201},
            "under 200 characters",
        ),
    ],
)
def test_bad_answers_are_refused_with_a_message_that_says_what_to_type(q, data, message):
    valid, _, errors = clean(q, data)
    assert not valid
    assert any(message in error for error in errors), errors


def test_a_medication_list_with_a_tampered_row_count_does_not_break():
    valid, value, _ = clean(question("medication_list"), {"q-rows": "abc", "q-none": "on"})
    assert valid
    assert value == {"rows": [], "none": True}


def test_a_refused_blood_pressure_is_shown_back_as_typed():
    form = SectionForm(
        {"q_systolic": "400", "q_diastolic": "20"}, questions=[question("blood_pressure")]
    )
    assert not form.is_valid()
    html = str(form["q"])
    assert 'value="400"' in html and 'value="20"' in html


def test_admin_written_help_text_is_inert_on_patient_pages():
    question = QuestionDef("q", "text", "Q?", help_text='<img src=x onerror="alert(1)">')
    html = str(SectionForm(questions=[question]).as_div())
    rendered = render_crispy_form(SectionForm(questions=[question]))
    assert "<img" not in rendered and "&lt;img" in rendered
    assert "<img" not in html


def test_a_null_character_in_a_medication_row_is_refused():
    form = SectionForm(
        {"q-rows": "1", "q-0-name": "Sertra\x00line"},
        questions=[QuestionDef("q", "medication_list", "Q?")],
    )
    assert not form.is_valid()
    assert "control character" in str(form.errors)


def test_an_empty_multiple_choice_names_its_none_choice_only_if_it_has_one():
    from django.utils import translation

    without_none = question("multiple_choice", choices=CHOICES[:2])
    _, _, errors = clean(without_none, {})
    assert errors == ["Please check at least one answer."]
    _, _, errors = clean(question("multiple_choice", choices=CHOICES), {})
    assert errors == ["Please check at least one answer (or “None of these”)."]
    with translation.override("es"):
        _, _, errors = clean(without_none, {})
        assert errors == ["Marque al menos una respuesta."]
        nothing = ChoiceDef("none", "Nada de esto", exclusive=True)
        _, _, errors = clean(question("multiple_choice", choices=(*CHOICES[:2], nothing)), {})
        assert errors == ["Marque al menos una respuesta (o “Nada de esto”)."]
