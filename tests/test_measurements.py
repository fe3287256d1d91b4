"""Height and weight boxes in metric or US units: conversion, refusals beside the field, and the
check that keeps a weight typed in pounds into the kilograms box from raising "BMI 40 or more"."""

import re
from decimal import Decimal

import pytest

from screening.answers_json import AnswersError, answers_from_json
from screening.engine.questionnaire import HEIGHT, WEIGHT, QuestionDef, QuestionnaireDef, SectionDef
from screening.intake.forms import SectionForm, build_section_form
from screening.models import Flag
from screening.presenters import display_answer
from screening.selectors import stored_answers
from screening.services.intake import start_screening, submit_screening

from .intake_helpers import fill_intake, page_post_data

HEIGHT_Q = QuestionDef(
    code="height_cm",
    kind=HEIGHT,
    text="How tall are you?",
    min_value=Decimal(100),
    max_value=Decimal(250),
)
WEIGHT_Q = QuestionDef(
    code="weight_kg",
    kind=WEIGHT,
    text="How much do you weigh?",
    min_value=Decimal(25),
    max_value=Decimal(350),
)
QUESTIONS = [HEIGHT_Q, WEIGHT_Q]


def post(**fields):
    """The about-you boxes as a browser sends them: every box, blank unless given."""
    data = {
        "height_cm": "",
        "height_cm_feet": "",
        "height_cm_inches": "",
        "weight_kg": "",
        "weight_kg_lb": "",
    }
    data.update(fields)
    return data


def saved(data):
    form = SectionForm(data, questions=QUESTIONS)
    assert form.is_valid(), form.errors
    return form.stored_answers()


def refused(data):
    form = SectionForm(data, questions=QUESTIONS)
    assert not form.is_valid()
    return form


# --- Conversion ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "height", "weight"),
    [
        ({"height_cm": "168", "weight_kg": "70"}, {"cm": 168}, {"kg": 70}),
        ({"height_cm": "168,5", "weight_kg": "70.25"}, {"cm": 168.5}, {"kg": 70.2}),
        (
            {"height_cm_feet": "5", "height_cm_inches": "7", "weight_kg_lb": "180"},
            {"cm": 170.2, "feet": 5, "inches": 7},
            {"kg": 81.6, "pounds": 180},
        ),
        (
            {"height_cm_feet": "6", "weight_kg_lb": "154.5"},
            {"cm": 182.9, "feet": 6, "inches": 0},
            {"kg": 70.1, "pounds": 154.5},
        ),
    ],
)
def test_metric_and_us_units_are_stored_in_cm_and_kg_beside_what_was_typed(fields, height, weight):
    assert saved(post(**fields)) == {"height_cm": height, "weight_kg": weight}


def test_a_stored_answer_comes_back_in_the_unit_it_was_typed_in():
    stored = {
        "height_cm": {"cm": 170.2, "feet": 5, "inches": 7},
        "weight_kg": {"kg": 81.6, "pounds": 180},
    }
    html = build_section_form(QUESTIONS, stored=stored).as_p()
    assert 'name="height_cm_feet" id="id_height_cm_feet" value="5"' in html
    assert 'name="height_cm_inches" id="id_height_cm_inches" value="7"' in html
    assert 'name="height_cm" id="id_height_cm_cm" value=""' in html
    assert 'name="weight_kg_lb" id="id_weight_kg_lb" value="180"' in html
    assert 'name="weight_kg" id="id_weight_kg_kg" value=""' in html


def test_the_review_shows_what_was_typed_and_the_metric_value():
    assert display_answer(HEIGHT_Q, {"cm": 170.2, "feet": 5, "inches": 7}) == "5 ft 7 in (170.2 cm)"
    assert display_answer(WEIGHT_Q, {"kg": 81.6, "pounds": 180}) == "180 lb (81.6 kg)"
    assert display_answer(HEIGHT_Q, {"cm": 168}) == "168 cm"
    assert display_answer(WEIGHT_Q, {"kg": 120, "confirmed": True}) == (
        "120 kg, confirmed as right"
    )


# --- Refusals, each with a message that says what to do -------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"height_cm": "tall"}, "height_cm", "Enter your height in centimeters as a number"),
        ({"height_cm": "5.7"}, "height_cm", "5.7 cm looks like feet"),
        ({"height_cm": "67"}, "height_cm", "between 100 and 250 cm, or between 3 ft 3 in"),
        (
            {"height_cm": "170", "height_cm_feet": "5", "height_cm_inches": "7"},
            "height_cm",
            "Fill in centimeters, or feet and inches, but not both.",
        ),
        ({"height_cm_feet": "5", "height_cm_inches": "12"}, "height_cm", "inches from 0 to 11"),
        ({"height_cm_feet": "5.5"}, "height_cm", "feet as a whole number from 3 to 8"),
        ({"height_cm_inches": "67"}, "height_cm", "feet as a whole number"),
        ({"weight_kg": "9000"}, "weight_kg", "Enter a weight between 25 and 350 kg"),
        ({"weight_kg_lb": "40"}, "weight_kg", "Enter a weight between 56 and 771 lb"),
        ({"weight_kg_lb": "772"}, "weight_kg", "Enter a weight between 56 and 771 lb"),
        ({"weight_kg": "70", "weight_kg_lb": "154"}, "weight_kg", "kilograms or pounds, but not"),
        ({"weight_kg": "seventy"}, "weight_kg", "Enter your weight in kilograms as a number"),
        ({"weight_kg": "NaN"}, "weight_kg", "Enter your weight in kilograms as a number"),
        ({"weight_kg": "-70"}, "weight_kg", "Enter your weight in kilograms as a number"),
        ({"weight_kg": "1e2"}, "weight_kg", "Enter your weight in kilograms as a number"),
        ({"weight_kg_lb": "١٥٠"}, "weight_kg", "Enter your weight in pounds as a number"),
    ],
)
def test_a_bad_height_or_weight_is_refused_with_a_message_saying_what_to_type(
    fields, field, message
):
    valid = {"height_cm": "170", "weight_kg": "70"}
    for key in fields:
        valid.pop("height_cm" if key.startswith("height") else "weight_kg", None)
    form = refused(post(**{**valid, **fields}))
    assert any(message in error for error in form.errors[field]), form.errors


def test_a_refused_height_is_shown_back_as_typed_beside_its_boxes():
    form = refused(post(height_cm="5.7", weight_kg="70"))
    html = form.as_p()
    assert 'value="5.7"' in html
    assert 'value="70"' in html
    assert "5.7 cm looks like feet" in html


# --- The check for a weight typed in the other unit ------------------------------------------


def test_pounds_typed_into_the_kilograms_box_are_refused_until_moved_or_confirmed():
    """180 lb is a usual weight at 170 cm; 180 kg there is BMI 62: the page asks."""
    form = refused(post(height_cm="170", weight_kg="180"))
    [message] = form.errors["weight_kg"]
    assert message == (
        "Please check your weight. 180 kg is about 397 lb. If you weighed yourself in "
        "pounds, put the number in the pounds box instead. If 180 kg is right, check the box "
        "above to say so."
    )
    html = form.as_p()
    assert 'value="180"' in html  # kept as typed
    assert 'name="weight_kg_confirm" id="id_weight_kg_confirm" value="180">' in html
    assert "Yes, I weigh 180 kg" in html
    # The box holding the number is marked, not the empty pounds box it suggests.
    assert 'id="id_weight_kg_kg" value="180" aria-invalid="true"' in html
    assert 'id="id_weight_kg_lb" value="" aria-describedby' in html
    assert form.errors.keys() == {"weight_kg"}


def test_the_same_number_in_the_pounds_box_is_saved_in_kilograms():
    assert saved(post(height_cm="170", weight_kg_lb="180"))["weight_kg"] == {
        "kg": 81.6,
        "pounds": 180,
    }


def test_a_real_weight_of_180_kg_is_saved_once_the_patient_confirms_it():
    answers = saved(post(height_cm="170", weight_kg="180", weight_kg_confirm="180"))
    assert answers["weight_kg"] == {"kg": 180, "confirmed": True}


def test_a_confirmation_of_another_number_does_not_count():
    """Ticked for 180, then changed to 250: the new number is asked about afresh."""
    form = refused(post(height_cm="170", weight_kg="250", weight_kg_confirm="180"))
    assert "250 kg is about 551 lb" in form.errors["weight_kg"][0]
    assert "Yes, I weigh 250 kg" in form.as_p()


def test_a_confirmed_weight_comes_back_ticked_for_the_same_number():
    stored = {"height_cm": {"cm": 170}, "weight_kg": {"kg": 180, "confirmed": True}}
    html = build_section_form(QUESTIONS, stored=stored).as_p()
    assert 'name="weight_kg_confirm" id="id_weight_kg_confirm" value="180" checked>' in html


def test_kilograms_typed_into_the_pounds_box_are_refused_until_moved_or_confirmed():
    form = refused(post(height_cm="170", weight_kg_lb="80"))
    assert form.errors["weight_kg"] == [
        "Please check your weight. 80 lb is only 36.3 kg, which is very light for your "
        "height. If you weighed yourself in kilograms, put the number in the kilograms box "
        "instead. If 80 lb is right, check the box above to say so."
    ]
    assert saved(post(height_cm="170", weight_kg_lb="80", weight_kg_confirm="80"))["weight_kg"] == {
        "kg": 36.3,
        "pounds": 80,
        "confirmed": True,
    }


@pytest.mark.parametrize("weight", ["70", "115.3"])
def test_a_usual_weight_in_kilograms_needs_no_confirmation(weight):
    assert "confirmed" not in saved(post(height_cm="170", weight_kg=weight))["weight_kg"]


def test_a_confirmation_that_is_no_longer_needed_is_not_recorded():
    """Confirmed 120 kg at 170 cm, then the height corrected to 190 cm (BMI 33)."""
    answers = saved(post(height_cm="190", weight_kg="120", weight_kg_confirm="120"))
    assert answers["weight_kg"] == {"kg": 120}


def test_without_a_height_on_the_page_the_weight_is_not_checked():
    form = SectionForm({"weight_kg": "180", "weight_kg_lb": ""}, questions=[WEIGHT_Q])
    assert form.is_valid(), form.errors


# --- Through the wizard and the evaluation ---------------------------------------------------


@pytest.mark.django_db
def test_the_wizard_refuses_pounds_in_the_kilograms_box_so_no_false_bmi_flag_is_raised(
    patient_client, patient, default_version
):
    screening = start_screening(patient=patient)
    url = f"/screenings/{screening.pk}/page/about_you/"
    html = patient_client.get(url).content.decode()
    data = page_post_data(html, screening, {"height_cm": "170", "weight_kg": "180"})
    response = patient_client.post(url, data)

    assert response.status_code == 200
    body = response.content.decode()
    assert "Please check your weight. 180 kg is about 397 lb." in body
    assert 'value="180"' in body
    assert not screening.answers.exists()

    # Moved to the pounds box, it is saved as 81.6 kg; the screening raises no BMI flag.
    data.update({"weight_kg": "", "weight_kg_lb": "180"})
    assert patient_client.post(url, data).status_code == 302
    assert stored_answers(screening)["weight_kg"] == {"kg": 81.6, "pounds": 180}
    fill_intake(patient_client, screening)
    patient_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    screening.refresh_from_db()
    assert screening.submitted_at is not None
    assert not Flag.objects.filter(screening=screening, code="bmi_40_or_more").exists()


def measurement_label(html: str, code: str) -> str:
    """The label of a height or weight question, as the page draws it."""
    match = re.search(rf'<label\s+for="id_{code}_[a-z]+" class="[^"]*">.*?</label>', html, re.S)
    assert match, code
    return " ".join(match.group().split())


@pytest.mark.django_db
def test_height_and_weight_say_they_need_an_answer_on_the_first_look(
    patient_client, patient, default_version
):
    screening = start_screening(patient=patient)
    url = f"/screenings/{screening.pk}/page/about_you/"
    first_look = patient_client.get(url).content.decode()
    refused_save = patient_client.post(url, {"presented": ["height_cm", "weight_kg"]})
    assert refused_save.status_code == 200

    for code in ("height_cm", "weight_kg"):
        label = measurement_label(first_look, code)
        assert "requiredField" in label
        assert '<span class="asteriskField">*</span>' in label
        # The same as after a refused save, where it always showed.
        assert label == measurement_label(refused_save.content.decode(), code)


@pytest.mark.django_db
def test_a_confirmed_high_weight_raises_the_bmi_flag(patient_client, patient, default_version):
    screening = start_screening(patient=patient)
    fill_intake(
        patient_client,
        screening,
        {"height_cm": "170", "weight_kg": "120", "weight_kg_confirm": "120"},
    )
    assert submit_screening(screening=screening)
    flag = Flag.objects.get(screening=screening, code="bmi_40_or_more")
    assert {"value": "bmi", "answer": 41.5} in flag.evidence


# --- The answers file of the evaluate command -----------------------------------------------

FILE_QUESTIONS = QuestionnaireDef(
    (SectionDef("about_you", "About you", questions=tuple(QUESTIONS)),)
)


@pytest.mark.parametrize(
    ("answers", "height", "weight"),
    [
        ('{"height_cm": 168, "weight_kg": 70}', {"cm": 168}, {"kg": 70}),
        ('{"height_cm": "168 cm", "weight_kg": "70 kg"}', {"cm": 168}, {"kg": 70}),
        (
            '{"height_cm": "5 ft 7 in", "weight_kg": "180 lb"}',
            {"cm": 170.2, "feet": 5, "inches": 7},
            {"kg": 81.6, "pounds": 180},
        ),
        (
            """{"height_cm": "5'7\\"", "weight_kg": {"pounds": 180}}""",
            {"cm": 170.2, "feet": 5, "inches": 7},
            {"kg": 81.6, "pounds": 180},
        ),
        (
            '{"height_cm": {"feet": 5, "inches": 7}, "weight_kg": {"kg": 120, "confirmed": true}}',
            {"cm": 170.2, "feet": 5, "inches": 7},
            {"kg": 120, "confirmed": True},
        ),
    ],
)
def test_an_answers_file_gives_heights_and_weights_in_either_unit(answers, height, weight):
    assert answers_from_json(answers, FILE_QUESTIONS) == {"height_cm": height, "weight_kg": weight}


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        (
            '{"height_cm": 170, "weight_kg": 180}',
            '"weight_kg": 180 kg with a height of 170 cm gives a BMI of 62.3',
        ),
        ('{"height_cm": "tall"}', '"height_cm": expected a height such as'),
        ('{"weight_kg": "70 stone"}', '"weight_kg": expected a weight such as'),
        ('{"weight_kg": {"grams": 70000}}', '"weight_kg": expected a weight such as'),
        ('{"height_cm": 5.7}', '"height_cm": 5.7 cm looks like feet'),
    ],
)
def test_an_answers_file_with_a_doubtful_height_or_weight_names_the_key(answers, message):
    with pytest.raises(AnswersError, match=message.replace("(", r"\(")):
        answers_from_json(answers, FILE_QUESTIONS)
