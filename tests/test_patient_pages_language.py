"""The patient's pages follow the language of the request (issue 17): the fields' own words
("Yes", "I don't take any", "Add more rows") and the review page's answers."""

import pytest

from screening.models import Screening
from tests.intake_helpers import fill_intake

pytestmark = pytest.mark.django_db


def in_language(client, language):
    """The signed-in patient's language is the one on their account (the switcher saves it)."""
    response = client.post("/account/language/", {"language": language, "next": "/"})
    assert response.status_code == 302
    return client


@pytest.fixture
def screening(patient_client, patient, default_version):
    patient_client.post("/screenings/start/")
    return Screening.objects.get(patient=patient)


def page(client, screening, code, language):
    response = in_language(client, language).get(f"/screenings/{screening.pk}/page/{code}/")
    assert response.status_code == 200
    return response.text


def test_a_yes_no_question_says_yes_in_each_language_whichever_was_drawn_first(
    patient_client, screening
):
    """The yes/no field is drawn once per version and kept: once per language too."""
    english = page(patient_client, screening, "care_team", "en-us")
    spanish = page(patient_client, screening, "care_team", "es")
    english_again = page(patient_client, screening, "care_team", "en-us")
    assert '<span class="option-text">Yes</span>' in english
    assert '<span class="option-text">Sí</span>' in spanish
    assert '<span class="option-text">Yes</span>' not in spanish
    assert '<span class="option-text">Yes</span>' in english_again
    assert "Sí</span>" not in english_again


def test_the_medication_list_speaks_spanish_after_english_and_english_after_spanish(
    patient_client, screening
):
    none_box = 'for="id_medications-none">'
    english = page(patient_client, screening, "medicines", "en-us")
    spanish = page(patient_client, screening, "medicines", "es")
    english_again = page(patient_client, screening, "medicines", "en-us")
    assert f"{none_box}I don't take any<" in english and "Add more rows" in english
    assert f"{none_box}No tomo ninguno<" in spanish and "Agregar más filas" in spanish
    assert "Add more rows" not in spanish
    assert f"{none_box}I don't take any<" in english_again
    assert "Agregar más filas" not in english_again


def test_the_review_page_shows_answers_in_the_patients_language(patient_client, screening):
    fill_intake(patient_client, screening)
    spanish = in_language(patient_client, "es").get(f"/screenings/{screening.pk}/review/").text
    assert "17 de mayo de 1980" in spanish
    assert "<dd>No</dd>" in spanish and "Sin responder" not in spanish.split("<dl")[0]
    english = in_language(patient_client, "en-us").get(f"/screenings/{screening.pk}/review/").text
    assert "17 May 1980" in english


def test_uk_english_reads_uk_spelling_where_it_differs(patient_client, screening):
    us = page(patient_client, screening, "about_you", "en-us")
    uk = page(patient_client, screening, "about_you", "en-gb")
    assert ">Centimeters<" in us and ">Centimetres<" in uk
    assert "Save and continue" in uk  # the same words where US and UK agree
    medicines = page(patient_client, screening, "medicines", "en-gb")
    assert "Name (as on the pack)" in medicines
