"""The right message for the right urgent flag: each urgent rule names what the patient reads.

Crisis lines for suicide risk; for a blood pressure in the crisis range, call the clinic, or
emergency services if unwell. The message is a field of the rule, required for urgent rules
(admin form, content loader and a database constraint), and the confirmation page shows the
messages of the urgent flags actually raised.
"""

import re

import pytest
import yaml
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.html import strip_tags

from screening.admin import RuleAdminForm
from screening.engine.definitions import DEFAULT_CONTENT_FILE, ContentError, read_content
from screening.models import Flag, Rule
from screening.patient_messages import (
    EARLIER_URGENT_MESSAGE,
    placeholder_problems,
    render_patient_message,
    urgent_messages,
)
from screening.services.content import load_question_set
from screening.services.intake import start_screening
from tests.admin_forms import draft_made_in_admin, rule_form_data
from tests.factories import without_translations
from tests.logins import log_in_staff

from .intake_helpers import fill_intake

RULES = {rule["code"]: rule for rule in read_content(DEFAULT_CONTENT_FILE)[0]["rules"]}
SUICIDE_RISK_URGENT = ("phq9_item9_positive", "suicide_risk_high")
CRISIS = "If you are in danger now, call 911 or your local emergency number."
BP_MESSAGE = "The blood pressure you entered is very high."
HARD_TIME = "going through a very hard time"


# --- The default content ---------------------------------------------------------------------


def test_every_urgent_default_rule_names_a_patient_message_and_no_other_rule_does():
    urgent = {code for code, rule in RULES.items() if rule["severity"] == "urgent"}
    assert urgent == {*SUICIDE_RISK_URGENT, "bp_crisis_range"}
    with_message = {code for code, rule in RULES.items() if rule.get("patient_message")}
    assert with_message == urgent


@pytest.mark.parametrize("code", SUICIDE_RISK_URGENT)
def test_suicide_risk_flags_show_the_crisis_lines(code):
    assert "{crisis_resources}" in RULES[code]["patient_message"]


def test_a_blood_pressure_crisis_tells_the_patient_to_call_the_clinic_or_emergency_services():
    message = RULES["bp_crisis_range"]["patient_message"]
    assert "{crisis_resources}" not in message
    assert HARD_TIME not in message
    assert "call {clinic_name} today" in message
    assert "If you feel unwell now, call 911 or your local emergency number." in message


# --- Rendering --------------------------------------------------------------------------------


def test_placeholders_are_filled_in_from_the_settings():
    text = render_patient_message(
        "Call {clinic_name}. {crisis_resources}", clinic_name="Elm Clinic", crisis_resources="988"
    )
    assert text == "Call Elm Clinic. 988"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Call {clinik_name}.", "Unknown placeholder {clinik_name}"),
        ("Call {clinic_name.", "A curly bracket is not closed"),
        ("Call {0}.", "Unknown placeholder {0}"),
    ],
)
def test_a_broken_placeholder_is_reported(text, problem):
    [found] = placeholder_problems(text)
    assert problem in found


def test_each_urgent_message_is_shown_once_and_flags_stored_before_keep_the_earlier_text():
    shown = urgent_messages(
        [
            ("urgent", "Crisis. {crisis_resources}"),
            ("urgent", "Crisis. {crisis_resources}"),
            ("caution", "Never shown."),
            ("urgent", ""),
        ],
        clinic_name="Elm Clinic",
        crisis_resources="Call 988.",
    )
    assert shown == [
        "Crisis. Call 988.",
        render_patient_message(
            EARLIER_URGENT_MESSAGE, clinic_name="Elm Clinic", crisis_resources="Call 988."
        ),
    ]


# --- The confirmation page --------------------------------------------------------------------


def submitted(client, patient, overrides):
    screening = start_screening(patient=patient)
    fill_intake(client, screening, overrides)
    client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    screening.refresh_from_db()
    assert screening.submitted_at is not None
    page = client.get(f"/screenings/{screening.pk}/submitted/").content.decode()
    # As read: the numbers to call are links (tel:), which the texts here do not show.
    return screening, strip_tags(page)


@pytest.mark.django_db
def test_a_blood_pressure_crisis_shows_the_blood_pressure_message_not_the_suicide_one(
    patient_client, patient, default_version
):
    screening, page = submitted(
        patient_client, patient, {"bp_systolic": "190", "bp_diastolic": "95"}
    )
    assert screening.level == "urgent"
    assert "Please read this now" in page
    assert BP_MESSAGE in page
    assert f"Please call {settings.CLINIC_NAME} today so they can check it." in page
    assert HARD_TIME not in page
    # The crisis lines stay on the page, once, in the usual note.
    assert page.count(CRISIS) == 1
    assert "If you feel unsafe or have thoughts of harming yourself" in page


@pytest.mark.django_db
def test_thoughts_of_self_harm_show_the_crisis_lines_once(patient_client, patient, default_version):
    _, page = submitted(patient_client, patient, {"phq9_9": "several_days"})
    assert HARD_TIME in page
    assert page.count(CRISIS) == 1
    assert "If you feel unsafe or have thoughts of harming yourself" not in page
    assert BP_MESSAGE not in page


@pytest.mark.django_db
def test_both_kinds_of_urgent_flag_show_both_messages(patient_client, patient, default_version):
    _, page = submitted(
        patient_client,
        patient,
        {"phq9_9": "several_days", "bp_systolic": "190", "bp_diastolic": "95"},
    )
    assert HARD_TIME in page and BP_MESSAGE in page
    assert page.count(CRISIS) == 1


@pytest.mark.django_db
def test_a_screening_without_urgent_flags_shows_only_the_usual_crisis_note(
    patient_client, patient, default_version
):
    _, page = submitted(patient_client, patient, {})
    assert "Please read this now" not in page
    assert page.count(CRISIS) == 1


@pytest.mark.django_db
def test_the_flag_keeps_the_message_of_the_rule_as_it_was_when_raised(
    patient_client, patient, default_version
):
    screening, _ = submitted(patient_client, patient, {"bp_systolic": "190", "bp_diastolic": "95"})
    flag = Flag.objects.get(screening=screening, code="bp_crisis_range")
    assert flag.patient_message == RULES["bp_crisis_range"]["patient_message"].strip()
    # An admin edits the rule in a later version: the page this patient saw does not change.
    Rule.objects.filter(version=default_version, code="bp_crisis_range").update(
        patient_message="Changed later."
    )
    page = patient_client.get(f"/screenings/{screening.pk}/submitted/").content.decode()
    assert BP_MESSAGE in page and "Changed later." not in page


# --- Required for urgent rules: admin form, content file, database ----------------------------


@pytest.fixture
def draft(default_version, clinic_admin, client):
    log_in_staff(client, clinic_admin)
    return draft_made_in_admin(client, default_version)


def rule_form(rule, **changes):
    return RuleAdminForm(data=rule_form_data(rule, **changes), instance=rule)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("code", "changes", "message"),
    [
        ("bp_crisis_range", {"patient_message": "  "}, "An urgent rule needs a patient message"),
        ("tachycardia", {"severity": "urgent"}, "An urgent rule needs a patient message"),
        ("tachycardia", {"patient_message": "Call us."}, "Only urgent flags show a message"),
        ("bp_crisis_range", {"patient_message": "Call {clinic}."}, "Unknown placeholder {clinic}"),
    ],
)
def test_the_admin_refuses_a_patient_message_that_cannot_be_right(draft, code, changes, message):
    form = rule_form(draft.rules.get(code=code), **changes)
    assert not form.is_valid()
    assert any(message in error for error in form.errors["patient_message"]), form.errors


@pytest.mark.django_db
def test_the_admin_saves_an_urgent_rule_with_its_message(draft):
    rule = draft.rules.get(code="tachycardia")
    form = rule_form(rule, severity="urgent", patient_message="Please call {clinic_name} today.")
    assert form.is_valid(), form.errors
    form.save()
    assert Rule.objects.get(pk=rule.pk).patient_message == "Please call {clinic_name} today."


@pytest.mark.django_db
def test_the_database_refuses_an_urgent_rule_without_a_patient_message(draft):
    with pytest.raises(IntegrityError), transaction.atomic():
        draft.rules.filter(code="bp_crisis_range").update(patient_message="")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"patient_message": ""}, "missing patient_message (required for an urgent rule)"),
        ({"patient_message": "Call {nobody}."}, "Unknown placeholder {nobody}"),
    ],
)
def test_a_content_file_with_a_bad_urgent_rule_is_refused(
    tmp_path, default_version, change, message
):
    data = yaml.safe_load(without_translations(DEFAULT_CONTENT_FILE.read_text()))
    rule = next(rule for rule in data["rules"] if rule["code"] == "bp_crisis_range")
    rule.update(change)
    path = tmp_path / "content.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ContentError, match=re.escape(message)):
        load_question_set(path)
