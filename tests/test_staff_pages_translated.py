"""No English hard-coded in the staff pages (issue 17): a clinic whose language is Spanish
gets its staff interface in Spanish.

Staff always read in the clinic's language, settings.LANGUAGE_CODE (LanguageMiddleware), so
this crawl sets it to Spanish and walks the staff pages as a physician and a clinic admin:
the review queue, every demo screening (page and print view), a patient's course of
symptoms, the sessions board, a course, a session with its check-in sent and readings
recorded, and the other staff pages. Each page is searched with the patient crawl's checker
(tests/test_untranslated_strings.py) for English words Spanish never uses.

Left out, as on the patient pages: what people typed (the patient's answers and questions,
notes, reasons, names: marked data-patient-text, or wrapped in <bdi>, which the staff pages
use for typed text) and the question set's own words (questions, choices, flag titles and
messages: marked data-content), which staff read in the source language (US English).
"""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils import timezone

from screening.demo import seed_demo_screenings
from screening.models import QuestionSetVersion, Screening
from tests.check_in_helpers import (
    COULD_BE_PREGNANT,
    answer_check_in,
    later_today,
    make_cleared_course,
    make_session,
)
from tests.conftest import make_user
from tests.logins import log_in_staff
from tests.test_untranslated_strings import english_texts, report

pytestmark = pytest.mark.django_db

LANGUAGE = "es"


def typed_text_marked(html: str) -> str:
    """Staff pages wrap text typed by a person in <bdi> (names, notes, reasons, messages):
    read it as the patient crawl reads data-patient-text."""
    return re.sub(r"<bdi(?=[\s>])", "<bdi data-patient-text", html)


class Crawl:
    def __init__(self) -> None:
        self.pages: dict[str, str] = {}

    def get(self, client: Client, name: str, url: str) -> str:
        response = client.get(url)
        assert response.status_code == 200, (name, url, response.status_code)
        html = response.content.decode()
        self.pages[name] = html
        return html


def crawl_staff_pages(physician, clinic_admin) -> dict[str, str]:
    crawl = Crawl()
    seed_demo_screenings()  # the demo patients: urgent, caution and calm screenings

    # A cleared patient with a session whose check-in is sent, readings and the dose recorded.
    patient = make_user("mateo@example.com", "Mateo Paciente")
    course = make_cleared_course(patient=patient, physician=physician, baseline=COULD_BE_PREGNANT)
    session = make_session(course, hours_ahead=later_today())  # vitals: on its own day
    waiting = make_session(course, hours_ahead=24 * 7)  # its check-in not sent yet
    patient_client = Client()
    patient_client.force_login(patient)
    answer_check_in(patient_client, session, {"pregnant": "yes"})

    staff = log_in_staff(Client(), physician)
    session_url = f"/staff/sessions/{session.pk}/"
    recorded = staff.post(
        f"{session_url}vitals/before-dose/",
        {
            "pre_dose-blood_pressure_systolic": "150",
            "pre_dose-blood_pressure_diastolic": "95",
            "pre_dose-heart_rate": "72",
            "pre_dose-spo2": "98",
            "pre_dose-weight_kg": "70",
        },
    )
    assert recorded.status_code == 302
    # Not ready (a flag to acknowledge, a blood pressure to review): the dose is refused.
    dose = staff.post(f"{session_url}dose/", {"given_at": timezone.localtime().strftime("%H:%M")})
    assert dose.status_code == 200
    crawl.pages["session, dose refused"] = dose.content.decode()

    queue = crawl.get(staff, "review queue", "/staff/queue/")
    screening_ids = set(re.findall(r'href="/staff/screenings/([0-9a-f-]{36})/"', queue))
    assert len(screening_ids) >= 3, "the demo screenings are not in the queue"
    for number, screening_id in enumerate(sorted(screening_ids), start=1):
        crawl.get(staff, f"screening {number}", f"/staff/screenings/{screening_id}/")
        crawl.get(staff, f"screening {number}, printed", f"/staff/screenings/{screening_id}/print/")
    check_in = Screening.objects.get(pk=session.check_in_id)
    crawl.get(staff, "check-in screening", f"/staff/screenings/{check_in.pk}/")
    crawl.get(staff, "baseline screening", f"/staff/screenings/{course.clearance.screening_id}/")
    crawl.get(staff, "patient's course of symptoms", f"/staff/patients/{patient.pk}/")
    crawl.get(staff, "sessions", "/staff/sessions/")
    crawl.get(staff, "start a course", "/staff/sessions/courses/new/")
    crawl.get(staff, "course", f"/staff/sessions/courses/{course.pk}/")
    crawl.get(staff, "session with a check-in", session_url)
    crawl.get(staff, "session waiting for its check-in", f"/staff/sessions/{waiting.pk}/")
    crawl.get(staff, "urgent response times", "/staff/urgent-response/")
    crawl.get(staff, "drafts", "/staff/drafts/")

    admin = log_in_staff(Client(), clinic_admin)
    crawl.get(admin, "invitations", "/staff/invitations/")
    crawl.get(admin, "audit log", "/staff/audit/")
    version = QuestionSetVersion.objects.published().get(question_set__purpose="intake")
    translations = f"/admin/screening/questionsetversion/{version.pk}/translations/"
    crawl.get(admin, "content translations", translations)
    crawl.get(admin, "content translations, UK English", f"{translations}en-gb/")
    return crawl.pages


def interface_english(pages: dict[str, str]) -> dict[str, list[str]]:
    found = {}
    for name, html in pages.items():
        interface, _, _ = english_texts(typed_text_marked(html))
        if interface:
            found[name] = interface
    return found


PAGES: dict[str, str] = {}


@pytest.fixture
def pages(settings, physician, clinic_admin, default_version, check_in_version):
    settings.LANGUAGE_CODE = LANGUAGE  # the clinic's language: every staff page is in it
    if not PAGES:
        PAGES.update(crawl_staff_pages(physician, clinic_admin))
    return PAGES


def test_the_crawl_reaches_the_staff_pages_in_spanish(pages):
    assert len(pages) >= 20, sorted(pages)
    for name, html in pages.items():
        assert re.search(r'<html lang="es"', html), name
    session = pages["session with a check-in"]
    assert "¿Listo para la dosis?" in session and "Mediciones antes de la dosis" in session
    assert "Qué cambió desde la autorización inicial" in session
    assert "Lista de revisión" in pages["review queue"]


def test_the_engine_s_reasons_and_the_course_of_symptoms_read_in_spanish(pages):
    """Written by the engine as codes (screening/engine/, no Django), worded by
    screening/engine_words.py; the course's sentences by screening/course_chart.py."""
    session = pages["session with a check-in"]
    assert "En espera" in session and "On hold" not in session
    assert "Alerta del chequeo antes de la sesión sin lectura confirmada por un médico" in session
    assert "150/95 mmHg, está por encima de 140/90" in session
    assert "No se ha registrado que se dio la dosis." in session
    assert "Camina sin ayuda: no confirmado." in session
    waiting = pages["session waiting for its check-in"]
    assert "Todavía no se ha invitado al paciente al chequeo antes de la sesión" in waiting
    course = pages["patient's course of symptoms"]
    assert "Total inicial del PHQ-9" in course
    assert "Solo hay un total por ahora" in course
    assert "Remisión (PHQ-9 menor de 5)" in course


def test_no_staff_interface_text_in_english(pages):
    found = interface_english(pages)
    assert not found, "English interface text on the staff pages in Spanish:\n" + report(found)


def test_the_checker_reads_bdi_as_typed_text():
    html = '<html lang="es"><p>Nota: <bdi>the patient has flu</bdi></p><p>Save the page</p></html>'
    interface, _, _ = english_texts(typed_text_marked(html))
    assert interface == ["Save the page"]


def test_staff_pages_in_the_clinic_s_us_english_are_unchanged_but_for_us_spelling(
    physician, default_version
):
    """The source language: the words the templates always had, US spelling."""
    seed_demo_screenings()
    staff = log_in_staff(Client(), physician)
    queue = staff.get("/staff/queue/").content.decode()
    assert '<html lang="en-us"' in queue and "Review queue" in queue
    screening_id = re.search(r'href="/staff/screenings/([0-9a-f-]{36})/"', queue).group(1)
    page = staff.get(f"/staff/screenings/{screening_id}/").content.decode()
    assert "Medications and substances" in page and "Recognized as" in page
    assert "Recognised" not in page and "recognised" not in page


@pytest.mark.parametrize(
    ("template", "spanish"),
    [
        ("email/urgent_screening.txt", "con una alerta urgente de seguridad"),
        ("email/urgent_screening_not_opened.txt", "45 minutos después de su envío"),
        ("email/authenticator_setup_link.txt", "Abra este enlace"),
        ("email/two_factor_enrolled.txt", "alguien conoce su contraseña"),
    ],
)
def test_staff_emails_follow_the_clinic_s_language(template, spanish):
    """The emails to staff go through the catalogue too (sent in settings.LANGUAGE_CODE)."""
    from types import SimpleNamespace

    from django.template.loader import render_to_string
    from django.utils import translation

    context = {
        "clinic_name": "Clínica Norte",
        "screening": SimpleNamespace(purpose="intake", submitted_at=timezone.now(), pk="ref-1"),
        "waited": 45,
        "user": SimpleNamespace(full_name="Dra. Ana Ruiz", email="ana@example.com"),
        "removed_by": None,
        "valid_hours": 24,
        "url": "https://example.com/link",
    }
    with translation.override(LANGUAGE):
        body = render_to_string(template, context)
    assert spanish in body
    interface, _, _ = english_texts(f'<html lang="es"><pre>{body}</pre></html>')
    assert not interface, interface
    with translation.override("en-us"):
        assert "Clínica Norte" in render_to_string(template, context)
