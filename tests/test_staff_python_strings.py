"""The staff interface's words that Python writes can be translated: a clinic could read its
staff pages in Spanish. Staff pages are shown in the clinic's language (settings.LANGUAGE_CODE,
US English), so these tests switch Spanish on themselves (translation.override) and check the
words come out translated: a refused booking, a decision form's error, an admin action's
message, a refused session record and the queue's severity words.

And a scan of the staff modules: no words a nurse or physician reads outside a translation
call (the patient modules' scan is tests/test_python_strings_translated.py)."""

import ast
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory
from django.utils import timezone, translation

from screening.models import Decision, QuestionSetVersion, TreatmentCourse
from screening.presenters import how_long_ago, level_badge
from screening.review.forms import DecisionForm
from screening.review.session_forms import ScheduleForm, VitalsForm
from screening.services.sessions import SessionNotAllowed, cancel_session, schedule_session
from tests.session_helpers import make_course, make_session
from tests.test_python_strings_translated import _is_words

pytestmark = pytest.mark.django_db


# With Spanish active, the staff's words come out in Spanish ---------------------------------


def test_a_refused_booking_is_said_in_spanish(physician):
    course = make_course(physician)
    with translation.override("es"), pytest.raises(SessionNotAllowed) as refused:
        schedule_session(
            course=course,
            scheduled_for=timezone.now() - timedelta(hours=1),
            actor=physician,
            ip_address=None,
        )
    assert str(refused.value) == "Esa hora ya pasó: elija una hora en el futuro."
    assert refused.value.field == "time"


def test_a_second_cancel_is_refused_in_spanish_and_in_us_english(physician):
    session = make_session(physician, hours_from_now=24)
    cancel_session(session=session, reason="Flu.", actor=physician, ip_address=None)
    with translation.override("es"), pytest.raises(SessionNotAllowed) as refused:
        cancel_session(session=session, reason="Again.", actor=physician, ip_address=None)
    assert str(refused.value) == "Esta sesión ya se canceló."
    with pytest.raises(SessionNotAllowed) as refused:
        cancel_session(session=session, reason="Again.", actor=physician, ip_address=None)
    assert str(refused.value) == "This session was canceled already."  # US spelling


def test_a_decision_form_error_is_said_in_spanish():
    with translation.override("es"):
        form = DecisionForm(
            {"outcome": Decision.Outcome.NOT_A_CANDIDATE, "reason": " ", "lock_version": "0"}
        )
        assert not form.is_valid()
        assert form.errors["reason"] == ["Escriba el motivo."]
        # The choices' labels (model TextChoices) and the field's label too.
        labels = dict(form.fields["outcome"].choices)
        assert str(labels[Decision.Outcome.NOT_A_CANDIDATE]) == "No es candidato"
        assert str(form.fields["outcome"].label) == "Decisión"


def test_the_session_forms_words_are_said_in_spanish():
    with translation.override("es"):
        form = ScheduleForm({"date": "not a date", "time": ""})
        assert not form.is_valid()
        assert form.errors["date"] == ["Escriba una fecha real, por ejemplo 2026-12-03."]
        assert form.errors["time"] == ["Escriba la hora de la sesión."]
        vitals = VitalsForm({"pre_dose-heart_rate": "900"}, timing="pre_dose")
        assert not vitals.is_valid()
        assert vitals.errors["heart_rate"] == ["Pulso debe ser un número entero entre 30 y 220."]
        assert str(TreatmentCourse.Product.IV_KETAMINE.label) == "Ketamina, infusión intravenosa"


def test_an_admin_actions_message_is_said_in_spanish(clinic_admin, default_version):
    request = RequestFactory().post("/admin/screening/questionsetversion/")
    request.user = clinic_admin
    request.session = SessionStore()
    request._messages = FallbackStorage(request)
    model_admin = admin.site._registry[QuestionSetVersion]
    with translation.override("es"):
        model_admin.run_test_panel(request, QuestionSetVersion.objects.none())
        model_admin.publish(request, QuestionSetVersion.objects.none())
    assert [str(message) for message in get_messages(request)] == [
        "Elija exactamente una versión.",
        "Elija exactamente un borrador para publicar.",
    ]


def test_the_queues_words_are_said_in_spanish():
    now = timezone.now()
    with translation.override("es"):
        assert ">Urgente<" in level_badge("urgent")
        assert ">Sin alertas<" in level_badge("")
        assert how_long_ago(now - timedelta(days=3), now) == "3 días"
    # The clinic's language, as staff read it.
    assert ">Urgent<" in level_badge("urgent")
    assert how_long_ago(now - timedelta(days=3), now) == "3 days"


def test_staff_pages_stay_in_the_clinics_language():
    assert settings.LANGUAGE_CODE == "en-us"
    assert str(DecisionForm().fields["outcome"].label) == "Decision"


# No staff-facing literal outside a translation call -----------------------------------------

STAFF_MODULES = (
    "screening/review/drafts.py",
    "screening/review/forms.py",
    "screening/review/invitations.py",
    "screening/review/patients.py",
    "screening/review/session_forms.py",
    "screening/review/sessions.py",
    "screening/review/views.py",
    "screening/admin/__init__.py",
    "screening/admin/translations.py",
    "screening/admin_site.py",
    "screening/audit_display.py",
    "screening/services/locks.py",
    "screening/services/rescreening.py",
    "screening/services/review.py",
    "screening/services/sessions.py",
    "screening/services/translations.py",
    "screening/services/two_factor.py",
    "screening/session_records.py",
    "screening/fhir/admin.py",
)
# Calls whose first argument a person reads: flash messages take it second.
SHOWN_FIRST = {"ValidationError", "append", "message_user", "success", "error"}
SHOWN_SECOND = {"info", "success", "warning", "error", "add_message", "message_user", "add_error"}
SHOWN_KEYWORDS = {"label", "help_text", "error_messages", "description", "title"}
SHOWN_ATTRIBUTES = {"site_header", "site_title", "label"}


def _raised_words(node: ast.Call) -> bool:
    """A refusal's message: SessionNotAllowed("..."), DecisionNotAllowed("...") (not a
    programmer's ValueError, which a form stops before it)."""
    name = getattr(node.func, "id", getattr(node.func, "attr", ""))
    refusal = name.endswith(("NotAllowed", "NeedsNote", "NotEditable", "Refused"))
    return refusal and bool(node.args) and _is_words(node.args[0])


def staff_words_outside_translation(path: str) -> list[str]:
    tree = ast.parse((Path(settings.BASE_DIR) / path).read_text())
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            shown = []
            if name in SHOWN_SECOND and len(node.args) >= 2:
                shown.append(node.args[1])
            if name in ("ValidationError", "append") and node.args:
                shown.append(node.args[0])
            shown += [kw.value for kw in node.keywords if kw.arg in SHOWN_KEYWORDS]
            found += [f"{path}:{value.lineno}" for value in shown if _is_words(value)]
            if _raised_words(node):
                found.append(f"{path}:{node.lineno}")
        if isinstance(node, ast.Return) and node.value is not None and _is_words(node.value):
            found.append(f"{path}:{node.lineno}")
        if isinstance(node, ast.Assign) and _is_words(node.value):
            for target in node.targets:
                name = getattr(target, "id", getattr(target, "attr", ""))
                if name in SHOWN_ATTRIBUTES:
                    found.append(f"{path}:{node.lineno}")
    return found


@pytest.mark.parametrize("path", STAFF_MODULES)
def test_no_staff_facing_words_outside_a_translation_call(path):
    assert staff_words_outside_translation(path) == []


def choice_labels_outside_translation(path: str) -> list[str]:
    """TextChoices members (CODE = "value", "Label") whose label is a bare string."""
    tree = ast.parse((Path(settings.BASE_DIR) / path).read_text())
    found = []
    for cls in ast.walk(tree):
        if not isinstance(cls, ast.ClassDef):
            continue
        if not any(getattr(base, "attr", "").endswith("Choices") for base in cls.bases):
            continue
        for node in cls.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Tuple):
                label = node.value.elts[-1]
                if isinstance(label, ast.Constant) and isinstance(label.value, str):
                    found.append(f"{path}:{node.lineno}")
    return found


def test_every_choice_label_of_the_models_is_translatable():
    assert choice_labels_outside_translation("screening/models.py") == []


def test_the_scan_finds_an_untranslated_message(tmp_path, settings):
    """The scan itself: a bare message, label, refusal and returned sentence are found; the
    same words inside gettext are not."""
    (tmp_path / "bare.py").write_text(
        "def view(request):\n"
        '    messages.success(request, "Session booked.")\n'
        '    raise SessionNotAllowed("Say why the course ends.")\n'
        "class F:\n"
        '    note = forms.CharField(label="Why it is corrected")\n'
        'site_header = "Clinic admin"\n'
        "def words():\n"
        '    return "Not asked"\n'
    )
    (tmp_path / "wrapped.py").write_text(
        "def view(request):\n"
        '    messages.success(request, gettext("Session booked."))\n'
        '    raise SessionNotAllowed(gettext("Say why the course ends."))\n'
        "class F:\n"
        '    note = forms.CharField(label=_("Why it is corrected"))\n'
        'site_header = _("Clinic admin")\n'
        "def words():\n"
        '    return gettext("Not asked")\n'
    )
    settings.BASE_DIR = tmp_path
    assert len(staff_words_outside_translation("bare.py")) == 5
    assert staff_words_outside_translation("wrapped.py") == []
