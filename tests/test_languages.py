"""Each person reads in their language (issue 17): patients choose it on any page (the
choice is kept on their account), visitors get their browser's or the one they picked, and
staff always read in the clinic's language. Patient emails are in the patient's language;
an invitation's in the language staff chose for it."""

import re
import time

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client
from django.utils import translation

from screening import tasks
from screening.models import Invitation, User
from screening.services.intake import start_screening
from tests.conftest import PASSWORD
from tests.logins import log_in_staff

pytestmark = pytest.mark.django_db

SWITCH = "/account/language/"
PATIENT_HOME = "/screenings/"


def html_lang(response) -> str:
    match = re.search(r'<html lang="([^"]*)"', response.content.decode())
    assert match, "no <html lang> on the page"
    return match[1]


def has_switcher(response) -> bool:
    return f'action="{SWITCH}"' in response.content.decode()


# The switcher -------------------------------------------------------------------------------


def test_the_switcher_saves_the_patients_language_and_the_next_page_is_in_spanish(
    patient_client, patient, default_version
):
    page = patient_client.get(PATIENT_HOME)
    assert html_lang(page) == "en-us" and "Log out" in page.text
    assert has_switcher(page)

    response = patient_client.post(SWITCH, {"language": "es", "next": PATIENT_HOME})

    assert response.status_code == 302 and response["Location"] == PATIENT_HOME
    patient.refresh_from_db()
    assert patient.preferred_language == "es"
    page = patient_client.get(PATIENT_HOME)
    assert html_lang(page) == "es"
    assert "Cerrar sesión" in page.text and "Log out" not in page.text
    # The switcher shows the language now in use.
    assert '<option value="es" lang="es" selected>' in page.text


def test_the_patients_language_follows_them_to_another_browser(client, patient, default_version):
    User.objects.filter(pk=patient.pk).update(preferred_language="es")
    client.force_login(patient)
    page = client.get(PATIENT_HOME, HTTP_ACCEPT_LANGUAGE="en-US")
    assert html_lang(page) == "es" and "Cerrar sesión" in page.text


@pytest.mark.parametrize("language", ["fr", "", "es-mx", "../../etc", "x" * 500])
def test_a_language_not_offered_is_refused_without_a_500(patient_client, patient, language):
    response = patient_client.post(SWITCH, {"language": language, "next": PATIENT_HOME})
    assert response.status_code == 400
    patient.refresh_from_db()
    assert patient.preferred_language == "en-us"
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


def test_a_missing_language_is_refused_and_a_get_is_not_allowed(patient_client):
    assert patient_client.post(SWITCH, {"next": PATIENT_HOME}).status_code == 400
    assert patient_client.get(SWITCH).status_code == 405


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/screenings/", "http://evil.example", "", None],
)
def test_an_off_site_or_missing_next_is_not_followed(patient_client, patient, next_url):
    data = {"language": "es"} if next_url is None else {"language": "es", "next": next_url}
    response = patient_client.post(SWITCH, data)
    assert response.status_code == 302 and response["Location"] == "/"
    patient.refresh_from_db()
    assert patient.preferred_language == "es"  # the choice itself is still saved


def test_a_visitor_s_choice_goes_into_the_language_cookie(client):
    response = client.post(SWITCH, {"language": "es", "next": "/login/"})
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    page = client.get("/login/")
    assert html_lang(page) == "es" and "Iniciar sesión" in page.text


def test_a_language_picked_on_the_login_page_is_kept_on_the_account(client, patient):
    client.post(SWITCH, {"language": "es", "next": "/login/"})
    response = client.post("/login/", {"username": patient.email, "password": PASSWORD})
    assert response.status_code == 302
    page = client.get(PATIENT_HOME)
    patient.refresh_from_db()
    assert patient.preferred_language == "es"
    assert html_lang(page) == "es"


def test_uk_english_has_uk_wording(client):
    client.post(SWITCH, {"language": "en-gb", "next": "/login/"})
    page = client.get("/login/")
    assert html_lang(page) == "en-gb"
    assert "Forgotten your password?" in page.text


# Visitors and staff -------------------------------------------------------------------------


def test_an_anonymous_visitor_gets_the_login_page_in_their_browser_s_language(client):
    page = client.get("/login/", HTTP_ACCEPT_LANGUAGE="es-US,es;q=0.9,en;q=0.5")
    assert html_lang(page) == "es"
    assert "Iniciar sesión" in page.text and "¿Olvidó su contraseña?" in page.text
    assert has_switcher(page)
    english = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en-US")
    assert html_lang(english) == "en-us" and "Forgot your password?" in english.text


def test_staff_read_in_the_clinic_s_language_whatever_their_browser_or_account_says(
    client, physician
):
    User.objects.filter(pk=physician.pk).update(preferred_language="es")
    log_in_staff(client, physician)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "es"
    page = client.get("/staff/queue/", HTTP_ACCEPT_LANGUAGE="es")
    assert page.status_code == 200
    assert html_lang(page) == settings.LANGUAGE_CODE == "en-us"
    assert "Log out" in page.text and "Cerrar sesión" not in page.text
    assert not has_switcher(page)


def test_staff_cannot_change_their_language(client, clinic_admin):
    log_in_staff(client, clinic_admin)
    response = client.post(SWITCH, {"language": "es", "next": "/staff/"})
    assert response.status_code == 403
    clinic_admin.refresh_from_db()
    assert clinic_admin.preferred_language == "en-us"


# Emails -------------------------------------------------------------------------------------


def test_the_invitation_email_is_in_the_invitation_s_language_and_so_is_the_account(
    client, physician
):
    log_in_staff(client, physician)
    form = client.get("/staff/invitations/").text
    assert 'name="language"' in form
    response = client.post(
        "/staff/invitations/",
        {"full_name": "Carla Nueva", "email": "carla@example.com", "language": "es"},
    )
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert invitation.language == "es"
    # Staff read the language's name in English.
    listed = client.get("/staff/invitations/").text
    assert "<td>Spanish</td>" in listed and "Español" not in listed
    (email,) = mail.outbox
    assert email.subject == f"{settings.CLINIC_NAME}: su cuestionario antes del tratamiento"
    assert email.body.startswith("Hola, Carla Nueva:")
    assert "le invita a llenar un cuestionario de salud" in email.body
    assert "Hello" not in email.body

    # The link opens the invitation page in Spanish, and the account starts in Spanish.
    link = next(line for line in email.body.splitlines() if "/invitation/" in line)
    visitor = Client()
    visitor.get(link.replace(settings.SITE_URL, ""))
    page = visitor.get("/invitation/")
    assert html_lang(page) == "es" and "Crear mi cuenta" in page.text
    password = "plum orchard lantern river"
    visitor.post("/invitation/", {"password1": password, "password2": password})
    assert User.objects.get(email="carla@example.com").preferred_language == "es"


def test_an_invitation_without_a_language_is_in_the_clinic_s(client, physician):
    log_in_staff(client, physician)
    client.post("/staff/invitations/", {"full_name": "Carol New", "email": "carol@example.com"})
    assert Invitation.objects.get().language == settings.LANGUAGE_CODE
    (email,) = mail.outbox
    assert email.body.startswith("Hello Carol New,")


def test_the_invitation_form_refuses_a_language_not_offered(client, physician):
    log_in_staff(client, physician)
    response = client.post(
        "/staff/invitations/",
        {"full_name": "Carol New", "email": "carol@example.com", "language": "fr"},
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.text
    assert not Invitation.objects.exists()


def test_patient_emails_are_in_the_patient_s_language(patient, default_version):
    User.objects.filter(pk=patient.pk).update(preferred_language="es")
    screening = start_screening(patient=patient)

    tasks.send_patient_reminder.enqueue(screening_id=str(screening.pk))
    tasks.notify_patient.enqueue(screening_id=str(screening.pk))
    tasks.send_password_reset.enqueue(email=patient.email)

    reminder, notice, reset = mail.outbox
    assert reminder.subject == f"{settings.CLINIC_NAME}: su cuestionario está pendiente"
    assert "Inicie sesión para continuar" in reminder.body
    assert notice.subject == f"{settings.CLINIC_NAME}: hay novedades sobre su cuestionario"
    assert "Hay novedades sobre su cuestionario" in notice.body
    assert reset.subject == f"Restablezca su contraseña de {settings.CLINIC_NAME}"
    assert "Alguien pidió restablecer la contraseña" in reset.body


def test_an_english_patient_s_email_stays_english_when_sent_from_a_spanish_request(
    patient, other_patient, default_version, client
):
    """The worker may run a task inside another patient's request (tests run tasks at once):
    the email is in its recipient's language, not the request's."""
    screening = start_screening(patient=patient)
    client.force_login(other_patient)
    client.post(SWITCH, {"language": "es", "next": PATIENT_HOME})
    with translation.override("es"):
        tasks.send_patient_reminder.enqueue(screening_id=str(screening.pk))
    (reminder,) = mail.outbox
    assert reminder.subject == f"{settings.CLINIC_NAME}: your questionnaire is waiting for you"
    assert "Please log in to continue" in reminder.body


@pytest.mark.parametrize(
    "next_url", ["/screenings/\r\nSet-Cookie: x=1", "\x00", "javascript:alert(1)"]
)
def test_a_hostile_next_never_gets_a_500_or_a_header_of_its_own(patient_client, next_url):
    response = patient_client.post(SWITCH, {"language": "es", "next": next_url})
    assert response.status_code == 302
    assert "\n" not in response["Location"] and not response["Location"].startswith("javascript")
    assert "x" not in response.cookies


# Signed out, still in the patient's language ------------------------------------------------


def test_the_login_page_after_logging_out_or_idling_is_in_the_patients_language(
    client, patient, default_version
):
    """A patient who chose Spanish on another device: this browser's cookie (or none) says
    English, the account says Spanish. Signed-in pages set the cookie, so the login page
    they see once signed out is in Spanish too."""
    User.objects.filter(pk=patient.pk).update(preferred_language="es")
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en-us"
    response = client.post(
        "/login/", {"username": patient.email, "password": PASSWORD}, HTTP_ACCEPT_LANGUAGE="en-US"
    )
    assert response.status_code == 302
    page = client.get(PATIENT_HOME, HTTP_ACCEPT_LANGUAGE="en-US")
    cookie = page.cookies[settings.LANGUAGE_COOKIE_NAME]
    assert cookie.value == "es"
    assert cookie["samesite"] == settings.LANGUAGE_COOKIE_SAMESITE
    assert cookie["path"] == settings.LANGUAGE_COOKIE_PATH
    # Set once: the next page, whose request carries it, does not set it again.
    assert settings.LANGUAGE_COOKIE_NAME not in client.get(PATIENT_HOME).cookies
    client.post("/logout/")
    login = client.get("/login/", HTTP_ACCEPT_LANGUAGE="en-US")
    assert html_lang(login) == "es" and "Iniciar sesión" in login.text

    # Signed out for idling.
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en-us"
    client.post("/login/", {"username": patient.email, "password": PASSWORD})
    client.get(PATIENT_HOME)
    session = client.session
    session["last_seen"] = int(time.time()) - 31 * 60
    session.save()
    response = client.get(PATIENT_HOME)
    assert response["Location"].startswith("/login/")
    login = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en-US")
    assert html_lang(login) == "es"


def test_staff_pages_leave_the_language_cookie_alone(client, physician):
    log_in_staff(client, physician)
    response = client.get("/staff/queue/")
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies
