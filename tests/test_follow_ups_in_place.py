"""Follow-up questions in place (issue 15, item 2): every question of a page is drawn, those
that do not apply hidden and not presented; the page's script asks the server which apply
as answers change. The server decides, only for the patient's own screening, and a save
never stores an answer to a question that does not apply."""

import re

import pytest
from django.test import Client
from django.utils import timezone

from screening.models import Answer, Screening
from screening.services.intake import start_screening
from tests.logins import log_in_staff

from .intake_helpers import page_post_data, presented_codes
from .test_intake_wizard import fill_intake_until, page_url

pytestmark = pytest.mark.django_db


@pytest.fixture
def screening(default_version, patient):
    return start_screening(patient=patient)


def shown_url(screening, code="pregnancy"):
    return f"/screenings/{screening.pk}/page/{code}/shown/"


@pytest.fixture
def on_pregnancy(patient_client, screening):
    fill_intake_until(patient_client, screening, "pregnancy")
    return patient_client.get(page_url(screening, "pregnancy")).content.decode()


def wrapper_of(html, code):
    return re.search(rf'<div class="question" data-question="{code}"[^>]*>', html).group(0)


def test_a_follow_up_is_on_the_page_hidden_and_not_presented(on_pregnancy):
    assert "hidden" in wrapper_of(on_pregnancy, "pregnant")
    assert '<input type="hidden" name="presented" value="pregnant" disabled>' in on_pregnancy
    assert "pregnant" not in presented_codes(on_pregnancy)
    assert "hidden" not in wrapper_of(on_pregnancy, "can_be_pregnant")
    assert 'data-shown-url="/screenings/' in on_pregnancy
    assert "screening/follow_ups" in on_pregnancy  # the script, from a file (the CSP)


def test_the_server_says_which_questions_apply_given_the_page_as_it_is(
    patient_client, screening, on_pregnancy
):
    data = page_post_data(on_pregnancy, screening, {"can_be_pregnant": "yes"})
    response = patient_client.post(shown_url(screening), data)
    assert response.status_code == 200
    assert "pregnant" in response.json()["shown"]
    data = page_post_data(on_pregnancy, screening, {"can_be_pregnant": "no"})
    assert "pregnant" not in patient_client.post(shown_url(screening), data).json()["shown"]
    # Asking saves nothing.
    assert not Answer.objects.filter(screening=screening, question__code="can_be_pregnant")


def test_nonsense_on_the_page_is_read_leniently_and_no_questions_at_all_is_a_400(
    patient_client, screening, on_pregnancy
):
    data = page_post_data(on_pregnancy, screening, {"can_be_pregnant": "maybe\x00<b>"})
    response = patient_client.post(shown_url(screening), data)
    assert response.status_code == 200 and "pregnant" not in response.json()["shown"]
    response = patient_client.post(shown_url(screening), {"can_be_pregnant": "yes"})
    assert response.status_code == 400
    assert (
        patient_client.post(shown_url(screening), {"presented": "not_a_question"}).status_code
        == 400
    )
    assert patient_client.get(shown_url(screening)).status_code == 405
    assert patient_client.post(shown_url(screening, "no_such_page"), data).status_code == 404


def test_only_the_patients_own_open_screening_answers(
    patient_client, other_patient, physician, screening, on_pregnancy
):
    data = page_post_data(on_pregnancy, screening, {"can_be_pregnant": "yes"})
    assert Client().post(shown_url(screening), data).status_code == 401  # not signed in
    other = Client()
    other.force_login(other_patient)
    assert other.post(shown_url(screening), data).status_code == 404
    staff = Client()
    log_in_staff(staff, physician)
    assert staff.post(shown_url(screening), data).status_code == 404
    Screening.objects.filter(pk=screening.pk).update(
        status=Screening.Status.SUBMITTED, submitted_at=timezone.now()
    )
    assert patient_client.post(shown_url(screening), data).status_code == 409


def test_an_answer_to_a_question_that_does_not_apply_is_never_checked_nor_saved(
    patient_client, screening, on_pregnancy
):
    # A page whose script showed "pregnant" (presented), then the patient went back to "no":
    # the follow-up no longer applies after this post, so its answer is not stored.
    data = page_post_data(on_pregnancy, screening, {"can_be_pregnant": "no"})
    data["presented"] = [*data["presented"], "pregnant"]
    data["pregnant"] = "not one of its answers"
    response = patient_client.post(page_url(screening, "pregnancy"), data)
    assert response.status_code == 302  # not checked either: no error, the page moves on
    stored = set(screening.answers.values_list("question__code", flat=True))
    assert "can_be_pregnant" in stored and "pregnant" not in stored
    # Nor one posted for a hidden question the page did not present (no script at all).
    html = patient_client.get(page_url(screening, "pregnancy")).content.decode()
    data = page_post_data(html, screening, {"can_be_pregnant": "no"})
    data["pregnant"] = "yes"
    patient_client.post(page_url(screening, "pregnancy"), data)
    assert not screening.answers.filter(question__code="pregnant").exists()
