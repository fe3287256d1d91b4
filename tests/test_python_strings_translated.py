"""The interface's words that Python writes reach the patient in the patient's language:
a refused answer's message beside its boxes (with what was typed kept), the flash messages,
and the plain words of the "How you have been feeling" page. (Emails in the patient's
language: tests/test_languages.py.)

Spanish is the language under test (UK English only where its spelling differs); the
question set's own words are content, translated elsewhere (tests/test_content*.py)."""

import re

import pytest
from django.test import Client

from screening.services.intake import start_screening, submit_screening
from tests.factories import make_patient, make_sent_questionnaire

from .intake_helpers import fill_intake, page_post_data

pytestmark = pytest.mark.django_db


def in_language(client: Client, user, language: str) -> Client:
    """The patient reads in `language`: chosen on the account and remembered by the browser."""
    user.preferred_language = language
    user.save(update_fields=["preferred_language"])
    client.force_login(user)
    client.cookies["language"] = language
    return client


@pytest.fixture
def spanish_client(client, patient):
    return in_language(client, patient, "es")


@pytest.fixture
def screening(default_version, patient):
    return start_screening(patient=patient)


def page_url(screening, code):
    return f"/screenings/{screening.pk}/page/{code}/"


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def error_beside(html: str, code: str) -> str:
    """The error shown under a question's boxes (the lean templates' and crispy's ids)."""
    found = re.findall(rf'id="error_\d+_id_{code}"[^>]*>(.*?)</(?:p|span)>', html, re.S)
    assert found, f"no error beside {code}"
    return " ".join(text_of(one) for one in found)


def reach(client, screening, stop_at):
    """Answer pages plainly until the wizard asks for `stop_at`."""
    for _ in range(30):
        location = client.get(f"/screenings/{screening.pk}/")["Location"]
        if location == page_url(screening, stop_at):
            return client.get(location).content.decode()
        html = client.get(location).content.decode()
        client.post(location, page_post_data(html, screening, {"sex_at_birth": "female"}))
    raise AssertionError(f"never reached {stop_at}")


def post_page(client, screening, code, html, overrides):
    response = client.post(page_url(screening, code), page_post_data(html, screening, overrides))
    assert response.status_code == 200  # refused: the page comes back, nothing saved
    return response.content.decode()


# Refused answers: the message beside the field, in Spanish, with what was typed kept --------


def test_letters_in_a_number_box_are_refused_in_spanish_and_kept(spanish_client, screening):
    html = reach(spanish_client, screening, "vitals")
    body = post_page(spanish_client, screening, "vitals", html, {"heart_rate": "abc"})
    # The range is ours; its unit ("beats per minute") is the question's own, content.
    assert "Escriba un número entero entre 30 y 220" in error_beside(body, "heart_rate")
    assert 'value="abc"' in body
    assert "Enter a whole number" not in body


def test_an_impossible_date_is_refused_in_spanish_and_kept(spanish_client, screening):
    html = spanish_client.get(page_url(screening, "about_you")).content.decode()
    body = post_page(spanish_client, screening, "about_you", html, {"date_of_birth": "1985-02-30"})
    assert error_beside(body, "date_of_birth") == (
        "Escriba una fecha como 1985-04-23 (año, mes, día)."
    )
    assert 'value="1985-02-30"' in body
    assert not screening.answers.exists()


def test_a_date_in_the_future_is_refused_in_spanish(spanish_client, screening):
    html = spanish_client.get(page_url(screening, "about_you")).content.decode()
    body = post_page(spanish_client, screening, "about_you", html, {"date_of_birth": "2999-01-01"})
    assert error_beside(body, "date_of_birth") == "Esta fecha está en el futuro. Revise el año."


def test_a_blood_pressure_typed_wrong_is_refused_in_spanish_and_kept(spanish_client, screening):
    html = reach(spanish_client, screening, "vitals")
    body = post_page(
        spanish_client,
        screening,
        "vitals",
        html,
        {"bp_systolic": "150 sobre 95", "bp_diastolic": "80"},
    )
    assert error_beside(body, "bp") == (
        "Ponga el número de arriba en la primera casilla y el número de abajo en la segunda,"
        " por ejemplo 120 y 80."
    )
    assert 'value="150 sobre 95"' in body and 'value="80"' in body


def test_a_blood_pressure_out_of_range_names_both_numbers_in_spanish(spanish_client, screening):
    html = reach(spanish_client, screening, "vitals")
    body = post_page(
        spanish_client, screening, "vitals", html, {"bp_systolic": "600", "bp_diastolic": "20"}
    )
    errors = error_beside(body, "bp")
    assert "El número de arriba (sistólica) debe ser un número entero entre 60 y 260." in errors
    assert "El número de abajo (diastólica) debe ser un número entero entre 30 y 160." in errors


def test_a_weight_that_looks_like_the_wrong_unit_is_asked_about_in_spanish(
    spanish_client, screening
):
    html = spanish_client.get(page_url(screening, "about_you")).content.decode()
    body = post_page(
        spanish_client, screening, "about_you", html, {"height_cm": "168", "weight_kg": "180"}
    )
    assert error_beside(body, "weight_kg") == (
        "Revise su peso. 180 kg son unas 397 lb. Si se pesó en libras, mejor ponga el número "
        "en la casilla de libras. Si 180 kg es correcto, marque la casilla de arriba para "
        "confirmarlo."
    )
    assert "Sí, peso 180 kg" in body  # the box that confirms it
    assert 'value="180"' in body and 'value="168"' in body


def test_a_height_that_is_not_a_number_is_refused_in_spanish(spanish_client, screening):
    html = spanish_client.get(page_url(screening, "about_you")).content.decode()
    body = post_page(spanish_client, screening, "about_you", html, {"height_cm": "alto"})
    assert error_beside(body, "height_cm") == (
        "Escriba su estatura en centímetros como un número, por ejemplo 168."
    )
    assert 'value="alto"' in body


def test_a_yes_no_question_offers_si_and_no_in_spanish(spanish_client, screening):
    html = reach(spanish_client, screening, "pregnancy")
    # "Could you become pregnant?" is a yes/no question: its two answers are ours.
    labels = re.findall(
        r'for="id_can_be_pregnant_\d"[^>]*><span class="option-text">([^<]*)</span>', html
    )
    assert labels == ["Sí", "No"]


def test_uk_english_reads_centimetres_and_tick(client, patient, screening):
    in_language(client, patient, "en-gb")
    html = client.get(page_url(screening, "about_you")).content.decode()
    body = post_page(client, screening, "about_you", html, {"height_cm": "tall"})
    assert error_beside(body, "height_cm") == (
        "Enter your height in centimetres as a number, for example 168."
    )
    fill_intake(client, screening)
    review = client.post(f"/screenings/{screening.pk}/review/", {}).content.decode()
    assert "Please tick this box to confirm before you submit." in review


def test_us_english_reads_centimeters_and_check(patient_client, screening):
    html = patient_client.get(page_url(screening, "about_you")).content.decode()
    body = post_page(patient_client, screening, "about_you", html, {"height_cm": "tall"})
    assert error_beside(body, "height_cm") == (
        "Enter your height in centimeters as a number, for example 168."
    )


# Flash messages --------------------------------------------------------------------------


def test_the_follow_up_message_after_saving_a_page_is_spanish(spanish_client, screening):
    html = reach(spanish_client, screening, "pregnancy")
    response = spanish_client.post(
        page_url(screening, "pregnancy"),
        page_post_data(html, screening, {"can_be_pregnant": "yes"}),
        follow=True,
    )
    assert "Según sus respuestas, responda las preguntas extra de abajo." in text_of(
        response.content.decode()
    )


def test_after_submitting_the_messages_and_standing_are_spanish(spanish_client, screening):
    fill_intake(spanish_client, screening)
    submit_screening(screening=screening)
    done = text_of(spanish_client.get(f"/screenings/{screening.pk}/submitted/").content.decode())
    assert "llame o envíe un mensaje de texto al 988" in done  # the crisis lines
    home = text_of(spanish_client.get("/screenings/").content.decode())
    assert "Gracias, sus respuestas fueron enviadas" in home  # where things stand
    assert "Un médico las leerá antes de su tratamiento." in home
    again = spanish_client.post("/screenings/start/", follow=True).content.decode()
    assert "Ya envió su cuestionario. La clínica se comunicará con usted." in text_of(again)


def test_a_submitted_questionnaire_opened_to_edit_says_so_in_spanish(spanish_client, screening):
    fill_intake(spanish_client, screening)
    submit_screening(screening=screening)
    response = spanish_client.get(page_url(screening, "about_you"), follow=True)
    assert "Este cuestionario ya se envió y no se puede cambiar." in text_of(
        response.content.decode()
    )


# The answers as the patient reads them back, and the "How you have been feeling" page -------


def test_the_answers_read_back_are_spanish(spanish_client, screening):
    fill_intake(spanish_client, screening, overrides={"date_of_birth": "1980-05-17"})
    review = text_of(spanish_client.get(f"/screenings/{screening.pk}/review/").content.decode())
    assert "17 de mayo de 1980" in review
    assert "Sin responder" in review or "No anotó ninguno" in review
    assert "Not answered" not in review and "None listed" not in review


def test_an_empty_list_reads_plainly_in_spanish():
    """ "Ninguno en la lista" could read as "none is on the list": the patient wrote none."""
    from django.utils import translation

    from screening.presenters import NONE_LISTED

    with translation.override("es"):
        assert translation.gettext(NONE_LISTED) == "No anotó ninguno"


@pytest.fixture
def spanish_course_patient(default_version):
    patient = make_patient("Paz Curso")
    make_sent_questionnaire(patient=patient, phq9=18, gad7=12, days_ago=28)
    make_sent_questionnaire(patient=patient, phq9=8, gad7=6, item9=1, days_ago=7)
    return patient


def test_the_feeling_pages_plain_words_are_spanish(spanish_course_patient):
    client = in_language(Client(), spanish_course_patient, "es")
    text = text_of(client.get("/screenings/how-you-have-been-feeling/").content.decode())
    assert (
        "Su puntaje del cuestionario de depresión (PHQ-9) fue 18 en su primer cuestionario y 8 "
        "en el más reciente."
    ) in text
    assert "Su puntaje del cuestionario de ansiedad (GAD-7) fue 12" in text
    assert "6 menos que el primero" in text
    assert "Su primer puntaje" in text
    # The default question set's name, in the table's "Questionnaire" column.
    assert "Cuestionario antes del tratamiento con ketamina" in text
    # The latest PHQ-9 had thoughts of self-harm: the kind pointer to help, in Spanish.
    assert "Gracias por decírnoslo. Hable con su clínica sobre cómo se siente" in text
    assert re.search(r"\d+ de \w+ de \d{4}", text)  # the table's dates
    # The crisis lines, as on every patient page, in Spanish.
    assert "llame o envíe un mensaje de texto al 988" in text
    for english in ("Your first score", "lower than your first", "score was", "Thank you for"):
        assert english not in text, english


def test_the_spanish_crisis_lines_are_one_tap_away(spanish_course_patient):
    """The numbers the Spanish crisis text tells the reader to call or text are tel: links,
    as the English ones are ("llame al 911", "llame o envíe un mensaje de texto al 988")."""
    client = in_language(Client(), spanish_course_patient, "es")
    html = client.get("/screenings/how-you-have-been-feeling/").content.decode()
    assert 'llame al <a href="tel:911">911</a>' in html
    assert 'llame o envíe un mensaje de texto al <a href="tel:988">988</a>' in html


def test_the_feeling_pages_fall_is_said_in_spanish(spanish_course_patient):
    make_sent_questionnaire(patient=spanish_course_patient, phq9=7, gad7=5, item9=0, days_ago=1)
    client = in_language(Client(), spanish_course_patient, "es")
    text = text_of(client.get("/screenings/how-you-have-been-feeling/").content.decode())
    assert (
        "fue 18 en su primer cuestionario y 7 en el más reciente: bajó en la mitad o más." in text
    )


# No patient-facing literal outside a translation call ---------------------------------------

# The Python modules whose words reach patients (staff pages read the clinic's language).
PATIENT_FACING_MODULES = (
    "screening/answer_fields.py",
    "screening/measurement_fields.py",
    "screening/intake/forms.py",
    "screening/intake/views.py",
    "screening/intake/standing.py",
    "screening/intake/feeling.py",
    "screening/accounts/forms.py",
    "screening/accounts/views.py",
    "screening/accounts/middleware.py",
    "screening/patient_messages.py",
)
MESSAGE_CALLS = {"info", "success", "warning", "error", "add_message"}
WORDED_KEYWORDS = {"label", "help_text", "error_messages", "subject"}
# Module-level tables and sentences of words a patient reads.
WORDED_CONSTANTS = {
    "WORDS",
    "PRODUCT_WORDS",
    "EARLIER_URGENT_MESSAGE",
    "YES_NO_CHOICES",
    "NOT_ANSWERED",
    "NONE_LISTED",
    "NOT_ASKED",
    "PLAIN_NAMES",
    "PATIENT_ITEM9_MESSAGE",
}


def _is_words(node) -> bool:
    """A literal a person would read: a string with a space or a capital, an f-string, or
    strings joined with +."""
    import ast

    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return " " in node.value.strip() or node.value[:1].isupper()
    if isinstance(node, ast.JoinedStr):
        return any(
            isinstance(part, ast.Constant)
            and re.search(r"[A-Za-z]{2,} |\s[A-Za-z]{2,}", part.value)
            for part in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _is_words(node.left) or _is_words(node.right)
    if isinstance(node, ast.Dict):
        return any(_is_words(value) for value in node.values)
    if isinstance(node, ast.IfExp):
        return _is_words(node.body) or _is_words(node.orelse)
    return False


def untranslated_literals(path: str, functions: tuple[str, ...] = ()) -> list[str]:
    """Where `path` (only its `functions`, if named) shows a patient words outside a
    translation call."""
    import ast
    from pathlib import Path

    from django.conf import settings

    tree = ast.parse((Path(settings.BASE_DIR) / path).read_text())
    if functions:
        tree = ast.Module(
            body=[
                node
                for node in tree.body
                if isinstance(node, ast.FunctionDef) and node.name in functions
            ],
            type_ignores=[],
        )
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", ""))
        shown = []
        if name in MESSAGE_CALLS and len(node.args) >= 2:
            shown.append(node.args[1])  # messages.info(request, <words>)
        if name in ("ValidationError", "append") and node.args:
            shown.append(node.args[0])  # ValidationError(<words>), errors.append(<words>)
        if name == "JsonResponse" and node.args:
            shown.append(node.args[0])
        shown += [kw.value for kw in node.keywords if kw.arg in WORDED_KEYWORDS]
        for value in shown:
            if _is_words(value):
                found.append(f"{path}:{value.lineno}")
    for node in ast.walk(tree):
        # Words a function hands back, and the module's own tables of words.
        if isinstance(node, ast.Return) and node.value is not None and _is_words(node.value):
            found.append(f"{path}:{node.lineno}")
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id in WORDED_CONSTANTS
            for target in node.targets
        ):
            literals = [
                one
                for one in ast.walk(node.value)
                if isinstance(one, ast.Constant) and _is_words(one) and not _in_call(one, node)
            ]
            found += [f"{path}:{one.lineno}" for one in literals]
    return found


def _in_call(literal, assignment) -> bool:
    """Whether a literal sits inside a call (gettext_lazy(...)) within the assignment."""
    import ast

    return any(
        isinstance(call, ast.Call) and literal in list(ast.walk(call))
        for call in ast.walk(assignment.value)
    )


@pytest.mark.parametrize("path", PATIENT_FACING_MODULES)
def test_no_patient_facing_words_outside_a_translation_call(path):
    assert untranslated_literals(path) == []


def test_the_patients_chart_words_are_all_translated():
    """course_chart.py words the physician's page too (in the clinic's language); the
    patient's sentences and table words are translated."""
    assert (
        untranslated_literals("screening/course_chart.py", ("plain_change", "patient_sentence"))
        == []
    )
