"""Submitting evaluates the screening: flags with evidence, scores, medications, the urgent path."""

import io
import json
import sys

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError

from screening.models import Flag, RecognisedMedication, Screening
from screening.services.intake import start_screening, submit_screening

from .intake_helpers import fill_intake

pytestmark = pytest.mark.django_db


@pytest.fixture
def screening(default_version, patient):
    return start_screening(patient=patient)


def submit_with(client, screening, overrides):
    fill_intake(client, screening, overrides)
    response = client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    assert response.status_code == 302
    screening.refresh_from_db()
    return screening


def test_a_calm_screening_is_submitted_with_its_scores(patient_client, screening):
    submitted = submit_with(patient_client, screening, {})
    assert submitted.status == Screening.Status.SUBMITTED
    assert submitted.evaluated_at is not None
    scores = {score["code"]: score for score in submitted.scores}
    assert scores["phq9_total"]["value"] == 0
    assert scores["phq9_total"]["band"]
    assert not Flag.objects.filter(
        screening=submitted, severity__in=["urgent", "contraindicated"]
    ).exists()


def test_typed_medications_raise_flags_with_the_entries_as_evidence(patient_client, screening):
    overrides = {
        "medications-none": "",
        "medications-rows": "3",
        "medications-0-name": "Biaxin 500 mg bid",
        "medications-1-name": "Xanax",
        "medications-2-name": "zorblatrex",
    }
    submitted = submit_with(patient_client, screening, overrides)
    flags = {flag.code: flag for flag in submitted.flags.all()}
    assert flags["cyp3a4_strong_inhibitor"].severity == "caution"
    assert any(
        item.get("typed") == "Biaxin 500 mg bid"
        for item in flags["cyp3a4_strong_inhibitor"].evidence
    )
    assert "benzodiazepine" in flags
    assert flags["unrecognised_medication"].severity == "info"
    assert any(
        item.get("typed") == "zorblatrex" for item in flags["unrecognised_medication"].evidence
    )
    typed = list(
        RecognisedMedication.objects.filter(screening=submitted).values_list("typed", "matched")
    )
    assert ("Biaxin 500 mg bid", "clarithromycin") in typed
    assert ("zorblatrex", "") in typed


def test_a_spanish_generic_name_raises_the_flag_of_the_english_one(patient_client, screening):
    overrides = {
        "medications-none": "",
        "medications-rows": "2",
        "medications-0-name": "claritromicina 500 mg dos veces al día",
        "medications-1-name": "metilfenidato 10 mg por la mañana",
    }
    submitted = submit_with(patient_client, screening, overrides)
    flags = {flag.code: flag for flag in submitted.flags.all()}
    assert flags["cyp3a4_strong_inhibitor"].severity == "caution"
    assert [item.get("typed") for item in flags["cyp3a4_strong_inhibitor"].evidence] == [
        "claritromicina 500 mg dos veces al día"
    ]
    assert "psychostimulant" in flags
    assert "unrecognised_medication" not in flags
    typed = set(
        RecognisedMedication.objects.filter(screening=submitted).values_list("typed", "matched")
    )
    assert typed == {
        ("claritromicina 500 mg dos veces al día", "clarithromycin"),
        ("metilfenidato 10 mg por la mañana", "methylphenidate"),
    }


def test_an_urgent_answer_alerts_physicians_and_shows_crisis_resources(
    patient_client, screening, physician, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        submitted = submit_with(patient_client, screening, {"phq9_9": "more_than_half_the_days"})
    assert submitted.level == "urgent"
    assert Flag.objects.filter(screening=submitted, code="phq9_item9_positive").exists()
    assert [message.to for message in mail.outbox] == [[physician.email]]
    assert "same-day" in mail.outbox[0].subject
    confirmation = patient_client.get(f"/screenings/{submitted.pk}/submitted/").content.decode()
    assert "Please read this now" in confirmation
    assert "988" in confirmation


def test_a_calm_screening_sends_no_alert(
    patient_client, screening, physician, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        submit_with(patient_client, screening, {})
    assert mail.outbox == []


def test_re_evaluating_the_same_answers_gives_the_same_flags(patient_client, screening):
    from screening.services.evaluation import evaluate

    submitted = submit_with(patient_client, screening, {"bp_systolic": "185", "bp_diastolic": "95"})
    stored = sorted(submitted.flags.values_list("code", flat=True))
    again = sorted(flag.code for flag in evaluate(submitted).flags)
    assert stored == again
    assert {"bp_uncontrolled", "bp_crisis_range"} <= set(stored)


def test_a_second_submit_does_not_evaluate_again(patient_client, screening):
    submitted = submit_with(patient_client, screening, {})
    evaluated_at = submitted.evaluated_at
    assert submit_screening(screening=submitted) is False
    submitted.refresh_from_db()
    assert submitted.evaluated_at == evaluated_at


def write(tmp_path, data):
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return path


def test_the_evaluate_command_prints_flags_as_json(default_version, tmp_path, capsys):
    path = write(
        tmp_path,
        {
            "date_of_birth": "1950-01-01",
            "sex_at_birth": "male",
            "bp": "181/95",
            "medications": ["Biaxin 500 mg", "clarithromicin", "Xanax"],
            "phq9_9": 1,
        },
    )
    call_command("evaluate", str(path))
    output = json.loads(capsys.readouterr().out)
    codes = [flag["code"] for flag in output["flags"]]
    assert output["level"] == "urgent"
    assert codes.count("cyp3a4_strong_inhibitor") == 1
    assert {
        "bp_uncontrolled",
        "bp_crisis_range",
        "benzodiazepine",
        "age_65_or_over",
        "phq9_item9_positive",
    } <= set(codes)
    flag = next(f for f in output["flags"] if f["code"] == "cyp3a4_strong_inhibitor")
    assert {item["typed"] for item in flag["evidence"] if "typed" in item} == {
        "Biaxin 500 mg",
        "clarithromicin",
    }


def test_the_evaluate_command_reads_us_units_and_the_new_intake_questions(
    default_version, tmp_path, capsys
):
    path = write(
        tmp_path,
        {
            "height_cm": "5 ft 7 in",
            "weight_kg": "256 lb",
            "cv_conditions": ["high_blood_pressure"],
            "hypertension_control": "not_controlled",
            "bp_medicines": True,
            "cardiac_symptoms": ["chest_pain", "fainting"],
            "ketamine_before": False,
            "ketamine_nonmedical_ever": True,
            "ketamine_serious_reaction": True,
            "suicide_thoughts": True,
            "suicide_plan": True,
            "porphyria": "yes",
            "dissociation_history": "yes",
            "transport_home": True,
            "escort_name": "Sam Lee",
            "escort_phone": "555 201 4479",
        },
    )
    call_command("evaluate", str(path))
    output = json.loads(capsys.readouterr().out)
    flags = {flag["code"]: flag for flag in output["flags"]}
    assert {
        "bmi_40_or_more",
        "hypertension_not_controlled",
        "cardiac_symptoms",
        "prior_ketamine_serious_reaction",
        "ketamine_nonmedical_use_history",
        "suicide_risk_high",
    } <= set(flags)
    assert "hypertension_history" not in flags  # superseded by the caution
    assert {"value": "bmi", "answer": 40.1} in flags["bmi_40_or_more"]["evidence"]
    assert output["level"] == "urgent"
    # An urgent flag shows what the patient reads; other flags show the patient nothing.
    assert "{crisis_resources}" in flags["suicide_risk_high"]["patient_message"]
    assert "patient_message" not in flags["cardiac_symptoms"]


@pytest.mark.parametrize(
    "data, message",
    [
        (
            {"height_cm": 170, "weight_kg": 180},
            '"weight_kg": 180 kg with a height of 170 cm gives a BMI of 62.3',
        ),
        ({"height_cm": "tall"}, '"height_cm": expected a height'),
        ({"escort_phone": "call my sister"}, '"escort_phone": Enter a phone number'),
        ({"bp_sistolic": 120}, '"bp_sistolic"'),
        ({"bp": "400/20"}, '"bp": The top number'),
        ({"heart_rate": "fast"}, '"heart_rate"'),
        ({"cv_conditions": "aneurysm"}, '"cv_conditions": expected a list'),
        ({"sex_at_birth": "robot"}, '"sex_at_birth"'),
        ({"medications": "Xanax"}, '"medications": expected a list'),
        ("[1, 2", "Not valid JSON"),
        ([1, 2], "JSON object"),
    ],
)
def test_the_evaluate_command_names_the_bad_key_and_exits_2(
    default_version, tmp_path, data, message
):
    path = write(tmp_path, data)
    with pytest.raises(CommandError, match=message) as error:
        call_command("evaluate", str(path))
    assert error.value.returncode == 2


# Inputs that made the command print a traceback and exit 1 (issue 10, finding 12).
HOSTILE_ANSWER_FILES = {
    "deep-nesting": (b'{"medications": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested more"),
    "nesting-within-the-stack": (b'{"cv_conditions": ' + b"[" * 50 + b"]" * 50 + b"}", "nested"),
    "huge-integer": (b'{"heart_rate": ' + b"9" * 5000 + b"}", "5,000 characters long"),
    "huge-decimal": (b'{"weight_kg": 1e400}', "too large"),
    "nan": (b'{"weight_kg": NaN}', "NaN is not a number JSON allows"),
    "latin-1": ('{"questions_for_clinic": "caf\xe9"}'.encode("latin-1"), "not UTF-8 text"),
    "utf-16": ('{"sex_at_birth": "male"}'.encode("utf-16"), "not UTF-8 text"),
    "lone-surrogate": (b'{"drug_allergy_list": "\xed\xa0\x80"}', "not UTF-8 text"),
    # The same written as a JSON escape reads as a string no output can encode.
    "escaped-lone-surrogate": (b'{"medications": ["\\ud800 50 mg"]}', "lone surrogate"),
    "escaped-lone-surrogate-in-text": (b'{"questions_for_clinic": "\\udfff"}', "lone surrogate"),
    "escaped-lone-surrogate-in-a-key": (b'{"\\ud800": "yes"}', "lone surrogate"),
    "after-a-byte-order-mark": (b'\xef\xbb\xbf{"x": "\xff"}', "byte 0xff at position 10"),
    "medication-as-object": (b'{"medications": [{"name": {"a": [1]}}]}', "should be text"),
    "too-big": (b'{"questions_for_clinic": "' + b"x" * (1024 * 1024) + b'"}', "larger than"),
}


@pytest.mark.parametrize("name", list(HOSTILE_ANSWER_FILES))
def test_the_evaluate_command_refuses_hostile_files_with_a_message_and_exit_2(
    default_version, tmp_path, name
):
    raw, message = HOSTILE_ANSWER_FILES[name]
    path = tmp_path / "answers.json"
    path.write_bytes(raw)
    with pytest.raises(CommandError, match=message) as error:
        call_command("evaluate", str(path))
    assert error.value.returncode == 2
    assert str(error.value).startswith(f"{path}: ")


def test_the_evaluate_command_reads_standard_input_as_bytes(default_version, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"x": "\xff"}')))
    with pytest.raises(CommandError, match="not UTF-8 text: byte 0xff at position 7") as error:
        call_command("evaluate", "-")
    assert error.value.returncode == 2


def test_the_evaluate_command_accepts_a_byte_order_mark(default_version, tmp_path, capsys):
    """Windows editors save UTF-8 with a byte-order mark."""
    answers = json.dumps({"date_of_birth": "1950-01-01", "bp": "181/95"}).encode()
    plain, marked = tmp_path / "plain.json", tmp_path / "marked.json"
    plain.write_bytes(answers)
    marked.write_bytes(b"\xef\xbb\xbf" + answers)
    call_command("evaluate", str(plain))
    expected = json.loads(capsys.readouterr().out)
    call_command("evaluate", str(marked))
    assert json.loads(capsys.readouterr().out) == expected
    assert "bp_crisis_range" in {flag["code"] for flag in expected["flags"]}


def test_export_questionset_lists_codes_kinds_and_choices(default_version, capsys):
    call_command("export_questionset")
    output = json.loads(capsys.readouterr().out)
    questions = {q["code"]: q for s in output["sections"] for q in s["questions"]}
    assert questions["bp"]["kind"] == "blood_pressure"
    assert {c["value"] for c in questions["pregnant"]["choices"]} == {"yes", "no", "unsure"}
    assert questions["phq9_9"]["choices"][1]["score"] == 1


def test_repeated_medication_names_keep_their_own_doses(patient_client, patient, default_version):
    screening = start_screening(patient=patient)
    fill_intake(
        patient_client,
        screening,
        {
            "medications-none": "",
            "medications-rows": "2",
            "medications-0-name": "Quetiapine",
            "medications-0-dose": "25 mg",
            "medications-1-name": "Quetiapine",
            "medications-1-dose": "300 mg",
        },
    )
    patient_client.post(f"/screenings/{screening.pk}/review/", {"consent": "on"})
    assert list(screening.medications.values_list("dose", flat=True)) == ["25 mg", "300 mg"]
