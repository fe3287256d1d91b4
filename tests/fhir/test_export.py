"""Every resource the export produces validates against FHIR models, and says what it should.

Validated (tests/fhir/validation.py: fhir.resources' R4B models plus every required code):
the default question set as a Questionnaire; the Bundle of every demo screening, after
physicians acknowledge flags and sign (and amend) decisions; and the Bundle of each
default-rule case (tests/engine/test_default_rules.py), built without a database.
"""

from __future__ import annotations

import datetime
import json
import re
from dataclasses import replace

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from hypothesis import example, given, settings
from hypothesis import strategies as st

from screening.answer_fields import PHONE_MAX_LENGTH, PHONE_PATTERN, field_for
from screening.demo import seed_demo_screenings
from screening.engine.definitions import (
    DEFAULT_CONTENT_FILE,
    questionnaire_from_data,
    read_content,
    score_defs_from_data,
)
from screening.engine.questionnaire import (
    FREE_TEXT_KINDS,
    QuestionDef,
    QuestionnaireDef,
    SectionDef,
    work_out_visibility,
)
from screening.fhir.export import (
    VITALS_NOTE,
    FlagData,
    MedicationData,
    QuestionSetData,
    ScreeningData,
    questionnaire,
    screening_bundle,
)
from screening.fhir.records import question_set_data, screening_data, screenings_for_export
from screening.models import Decision, Screening
from screening.services.review import acknowledge_flag, record_decision
from tests.engine.test_default_rules import CASES, TODAY, answers
from tests.fhir.validation import every, validated

BASE = "https://clinic.example.org/fhir/R4"
NOW = datetime.datetime(2026, 11, 24, 9, 30, tzinfo=datetime.UTC)


def resources_of(bundle: dict, resource_type: str) -> list[dict]:
    return [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type
    ]


def assert_references_resolve(bundle: dict) -> None:
    """Every urn:uuid reference inside the Bundle names one of its entries."""
    full_urls = {entry["fullUrl"] for entry in bundle["entry"]}
    references = [r for r in every(bundle, "reference") if r.startswith("urn:uuid:")]
    assert references
    assert set(references) <= full_urls, set(references) - full_urls
    assert len(full_urls) == len(bundle["entry"])


# --- The default question set -------------------------------------------------------------------


def test_the_default_question_set_is_a_valid_questionnaire(default_version):
    resource = questionnaire(question_set_data(default_version), BASE)
    validated(resource)
    assert resource["url"] == f"{BASE}/Questionnaire/ketamine-pretreatment"
    assert resource["version"] == str(default_version.number)
    assert resource["status"] == "active"
    items = {item["linkId"]: item for item in every(resource, "item") for item in item}
    # Every question is an item under its own code.
    for question in default_version.questions.all():
        assert question.code in items, question.code
    assert items["date_of_birth"]["type"] == "date"
    assert items["can_be_pregnant"]["type"] == "boolean"
    assert items["cv_conditions"]["repeats"] is True
    assert items["heart_rate"]["type"] == "integer"
    assert items["questions_for_clinic"]["type"] == "text"
    assert items["questions_for_clinic"]["maxLength"] == 2000
    assert [i["linkId"] for i in items["bp"]["item"] if i["type"] == "quantity"] == [
        "bp_systolic",
        "bp_diastolic",
    ]
    assert items["medications"]["repeats"] is True and items["medications"]["type"] == "group"


def test_the_recreational_list_is_labelled_in_the_wizards_words(default_version):
    """Street drugs have no pack: the export asks what the wizard asks (issue 15)."""
    resource = questionnaire(question_set_data(default_version), BASE)
    items = {item["linkId"]: item for item in every(resource, "item") for item in item}
    assert items["recreational_substances.name"]["text"] == "Name"
    assert items["recreational_substances.dose"]["text"] == "How much"
    assert items["recreational_substances.none"]["text"] == "I don't use any"
    # The medicines list keeps its own wording.
    assert items["medications.name"]["text"] == "Name (as on the label)"
    assert items["medications.none"]["text"] == "I don't take any"


def test_scale_items_carry_their_scores_and_the_phq9_its_loinc_codes(default_version):
    resource = questionnaire(question_set_data(default_version), BASE)
    items = {item["linkId"]: item for item in every(resource, "item") for item in item}
    options = items["phq9_9"]["answerOption"]
    assert [o["extension"][0]["valueDecimal"] for o in options] == [0, 1, 2, 3]
    assert items["phq9_9"]["code"] == [
        {
            "system": "http://loinc.org",
            "code": "44260-8",
            "display": "Thoughts that you would be better off dead, or of hurting yourself in some way",
        }
    ]
    assert items["phq9_total"]["readOnly"] is True
    assert items["phq9_total"]["code"][0]["code"] == "44261-6"
    assert items["gad7_total"]["code"][0]["code"] == "70274-6"
    # Instruments whose codes we could not confirm carry none.
    assert "code" not in items["auditc_total"] and "code" not in items["pcl5_1"]
    loinc_codes = {
        c["code"]
        for c in every(resource, "coding")
        for c in c
        if c.get("system") == "http://loinc.org"
    }
    loinc_codes |= {c["code"] for item in items.values() for c in item.get("code", [])}
    assert loinc_codes <= {
        "44249-1", "44261-6", "69737-5", "70274-6", "85354-9", "8480-6", "8462-4",
        "44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5",
        "44253-3", "44260-8", "69722-7", "69725-0", "68509-9", "69733-4", "69734-2",
        "69735-9", "69689-8", "69736-7", "8302-2", "29463-7",
    }  # fmt: skip


# --- Demo screenings, with the physician's work --------------------------------------------------


@pytest.fixture
def demo_screenings(default_version, physician):
    seed_demo_screenings()
    screenings = list(screenings_for_export().order_by("submitted_at"))
    assert len(screenings) == 5
    urgent = next(s for s in screenings if s.level == "urgent")
    flag = urgent.flags.first()
    acknowledge_flag(
        flag=flag, physician=physician, note="Called her.", seen_version=urgent.lock_version
    )
    urgent.refresh_from_db()
    first = record_decision(
        screening=urgent,
        physician=physician,
        outcome=Decision.Outcome.MORE_INFORMATION_NEEDED,
        seen_version=urgent.lock_version,
        message_to_patient="Please tell us more about these thoughts.",
    )
    caution = next(s for s in screenings if s.level == "caution")
    for flag in caution.flags.all():
        caution.refresh_from_db()
        acknowledge_flag(flag=flag, physician=physician, note="", seen_version=caution.lock_version)
    caution.refresh_from_db()
    record_decision(
        screening=caution,
        physician=physician,
        outcome=Decision.Outcome.CLEARED_WITH_CONDITIONS,
        seen_version=caution.lock_version,
        conditions="Stop clarithromycin a week before.",
    )
    caution.refresh_from_db()
    record_decision(
        screening=caution,
        physician=physician,
        outcome=Decision.Outcome.NOT_A_CANDIDATE,
        seen_version=caution.lock_version,
        reason="Blood pressure too high on the day.",
    )  # a second decision amends the first
    assert first.pk
    return list(screenings_for_export().order_by("submitted_at"))


def test_every_demo_screening_is_a_valid_bundle_whose_references_resolve(demo_screenings):
    for screening in demo_screenings:
        bundle = screening_bundle(screening_data(screening), BASE, timezone.now())
        validated(bundle)
        assert_references_resolve(bundle)
        [response] = resources_of(bundle, "QuestionnaireResponse")
        [form] = resources_of(bundle, "Questionnaire")
        assert response["questionnaire"] == f"{form['url']}|{form['version']}"
        assert response["id"] == str(screening.pk)
        assert len(resources_of(bundle, "DetectedIssue")) == screening.flags.count()


def test_a_bundle_holds_the_decision_as_a_clinical_impression_and_amendments_chain(demo_screenings):
    caution = next(s for s in demo_screenings if s.level == "caution")
    bundle = screening_bundle(screening_data(caution), BASE, NOW)
    first, amended = resources_of(bundle, "ClinicalImpression")
    assert (
        first["summary"]
        == "Cleared with conditions. Conditions: Stop clarithromycin a week before."
    )
    assert amended["previous"]["reference"] == f"urn:uuid:{first['id']}"
    assert amended["finding"][0]["itemCodeableConcept"]["coding"][0]["code"] == "not_a_candidate"
    [doctor] = resources_of(bundle, "Practitioner")
    assert amended["assessor"]["reference"] == f"urn:uuid:{doctor['id']}"
    assert doctor["name"] == [{"text": "Dr Dana Physician"}]
    issue = resources_of(bundle, "DetectedIssue")[0]
    assert issue["mitigation"][0]["author"]["reference"] == f"urn:uuid:{doctor['id']}"


def test_medications_keep_the_text_as_typed_and_flags_point_at_them(demo_screenings):
    caution = next(s for s in demo_screenings if s.level == "caution")
    bundle = screening_bundle(screening_data(caution), BASE, NOW)
    statements = {
        s["medicationCodeableConcept"]["text"]: s
        for s in resources_of(bundle, "MedicationStatement")
    }
    assert (
        statements["Biaxin"]["medicationCodeableConcept"]["coding"][0]["code"] == "clarithromycin"
    )
    assert statements["Biaxin"]["dosage"] == [{"text": "500 mg twice a day"}]
    interaction = next(
        issue
        for issue in resources_of(bundle, "DetectedIssue")
        if any(
            ref["reference"] == f"urn:uuid:{statements['Biaxin']['id']}"
            for ref in issue.get("implicated", [])
        )
    )
    assert interaction["severity"] in ("high", "moderate")


def test_vital_signs_are_loinc_observations_in_ucum(demo_screenings):
    calm = next(s for s in demo_screenings if s.level == "")
    bundle = screening_bundle(screening_data(calm), BASE, NOW)
    vitals = {
        o["code"]["coding"][0]["code"]: o
        for o in resources_of(bundle, "Observation")
        if o["category"][0]["coding"][0]["code"] == "vital-signs"
    }
    assert set(vitals) == {"85354-9", "8867-4", "8302-2", "29463-7"}
    systolic, diastolic = vitals["85354-9"]["component"]
    assert systolic["code"]["coding"][0]["code"] == "8480-6"
    assert systolic["valueQuantity"] == {
        "value": 122,
        "unit": "mmHg",
        "system": "http://unitsofmeasure.org",
        "code": "mm[Hg]",
    }
    assert diastolic["code"]["coding"][0]["code"] == "8462-4"
    assert vitals["8867-4"]["valueQuantity"]["code"] == "/min"
    assert vitals["8302-2"]["valueQuantity"] == {
        "value": 168.0,
        "unit": "cm",
        "system": "http://unitsofmeasure.org",
        "code": "cm",
    }
    assert vitals["29463-7"]["valueQuantity"]["code"] == "kg"
    phq9 = next(
        o
        for o in resources_of(bundle, "Observation")
        if o["code"]["coding"][0]["code"] == "44261-6"
    )
    panel = next(
        o
        for o in resources_of(bundle, "Observation")
        if o["code"]["coding"][0]["code"] == "44249-1"
    )
    assert phq9["valueInteger"] == 8 and phq9["interpretation"] == [{"text": "Mild"}]
    assert panel["hasMember"] == [{"reference": f"urn:uuid:{phq9['id']}", "type": "Observation"}]


def test_the_patient_is_named_by_a_stable_identifier_and_nothing_but_name_and_birth_date(
    demo_screenings,
):
    screening = demo_screenings[0]
    bundle = screening_bundle(screening_data(screening), BASE, NOW)
    [patient] = resources_of(bundle, "Patient")
    assert patient == {
        "resourceType": "Patient",
        "id": str(screening.patient_id),
        "identifier": [
            {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{screening.patient_id}"}
        ],
        "name": [{"text": screening.patient.full_name}],
        "birthDate": "1986-03-14",
    }
    assert screening.patient.email not in json.dumps(bundle)


def test_a_hidden_questions_stale_answer_never_leaves(demo_screenings):
    """The answer to a question the patient was not shown stays out of the export."""
    calm = next(s for s in demo_screenings if s.level == "")
    question = calm.version.questions.get(code="psych_history_other")  # shown only for "other"
    calm.answers.create(question=question, value="STALE-ANSWER")
    bundle = json.dumps(screening_bundle(screening_data(calm), BASE, NOW))
    assert "STALE-ANSWER" not in bundle


def test_the_export_is_stable(demo_screenings):
    screening = demo_screenings[1]
    once = screening_bundle(screening_data(screening), BASE, NOW)
    again = screening_bundle(screening_data(Screening.objects.get(pk=screening.pk)), BASE, NOW)
    assert once == again


# --- The default-rule cases, without a database ------------------------------------------------------

DATA, _ = read_content(DEFAULT_CONTENT_FILE)
QUESTION_SET = QuestionSetData(
    version_id="00000000-0000-4000-8000-00000000000a",
    slug="ketamine-pretreatment",
    name="Ketamine pre-treatment screening",
    description="",
    number=1,
    status="published",
    published_at=NOW,
    questionnaire=questionnaire_from_data(DATA),
    scores=tuple(score_defs_from_data(DATA)),
)


def case_bundle(rules, stored: dict) -> dict:
    evaluation = rules.evaluate(stored, TODAY)
    visible = work_out_visibility(QUESTION_SET.questionnaire, stored, TODAY).answers
    medications = []
    for position, entry in enumerate(evaluation.medications):
        rows = (stored.get(entry.question) or {}).get("rows", [])
        row = rows[entry.row] if entry.row < len(rows) else {}
        medications.append(
            MedicationData(
                entry.question,
                entry.match.typed,
                row.get("dose", ""),
                row.get("frequency", ""),
                entry.match.drug or "",
                position,
            )
        )
    flags = [
        FlagData(
            f"00000000-0000-4000-9000-{index:012d}",
            f.code,
            f.severity,
            f.title,
            f.message,
            f.rationale,
            f.evidence,
        )
        for index, f in enumerate(evaluation.flags)
    ]
    data = ScreeningData(
        id="00000000-0000-4000-8000-00000000000b",
        status="submitted",
        submitted_at=NOW,
        evaluated_at=NOW,
        patient_id="00000000-0000-4000-8000-00000000000c",
        patient_name="Case Patient",
        question_set=QUESTION_SET,
        answers=visible,
        scores=[
            {"code": s.code, "name": s.name, "value": s.value, "band": s.band}
            for s in evaluation.scores
        ],
        medications=medications,
        flags=flags,
    )
    return screening_bundle(data, BASE, NOW)


@pytest.mark.parametrize("code", sorted(CASES))
def test_each_default_rule_case_is_a_valid_bundle_with_evidence(code, default_rules):
    bundle = case_bundle(default_rules, answers(**CASES[code].fire))
    validated(bundle)
    assert_references_resolve(bundle)
    issue = next(
        i for i in resources_of(bundle, "DetectedIssue") if i["code"]["coding"][0]["code"] == code
    )
    expected = {"urgent": "high", "contraindicated": "high", "caution": "moderate", "info": "low"}
    severity = DATA_RULES[code]["severity"]
    assert issue["severity"] == expected[severity]
    assert issue["extension"][0]["valueCode"] == severity
    # Evidence is named, and points at answers, observations or statements in the Bundle.
    assert issue.get("evidence"), code
    for evidence in issue["evidence"]:
        for ref in evidence["detail"]:
            assert ref["type"] in ("QuestionnaireResponse", "Observation", "MedicationStatement")


DATA_RULES = {rule["code"]: rule for rule in DATA["rules"]}


def test_an_answer_as_evidence_points_at_its_item(default_rules):
    bundle = case_bundle(default_rules, answers(**CASES["phq9_item9_positive"].fire))
    issue = next(
        i
        for i in resources_of(bundle, "DetectedIssue")
        if i["code"]["coding"][0]["code"] == "phq9_item9_positive"
    )
    [ref] = issue["evidence"][0]["detail"]
    assert ref["extension"] == [
        {"url": "http://hl7.org/fhir/StructureDefinition/targetElement", "valueUri": "item-phq9_9"}
    ]
    [response] = resources_of(bundle, "QuestionnaireResponse")
    assert "item-phq9_9" in set(every(response, "id"))


# --- Heights, weights, names and phone numbers -------------------------------------------------------

UCUM = "http://unitsofmeasure.org"


def default_items() -> dict[str, dict]:
    resource = questionnaire(QUESTION_SET, BASE)
    return {item["linkId"]: item for items in every(resource, "item") for item in items}


def extensions(item: dict, url: str) -> list:
    return [
        value
        for e in item.get("extension", [])
        if e["url"] == url
        for key, value in e.items()
        if key.startswith("value")
    ]


@pytest.mark.parametrize(
    ("code", "loinc", "units", "bounds"),
    [
        ("height_cm", "8302-2", ["cm", "[in_i]"], (100, 250)),
        ("weight_kg", "29463-7", ["kg", "[lb_av]"], (25, 350)),
    ],
)
def test_height_and_weight_are_quantity_items_in_ucum(code, loinc, units, bounds):
    item = default_items()[code]
    assert item["type"] == "quantity"
    assert item["code"][0]["code"] == loinc and item["code"][0]["system"] == "http://loinc.org"
    options = extensions(item, "http://hl7.org/fhir/StructureDefinition/questionnaire-unitOption")
    # The metric unit the answer is in comes first; the US unit the intake also takes after.
    assert [(o["system"], o["code"]) for o in options] == [(UCUM, unit) for unit in units]
    sdc = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-"
    [low] = extensions(item, sdc + "minQuantity")
    [high] = extensions(item, sdc + "maxQuantity")
    assert (low["value"], low["code"], high["value"], high["code"]) == (
        bounds[0],
        units[0],
        bounds[1],
        units[0],
    )
    assert "answerOption" not in item and "enableWhen" not in item


@pytest.mark.parametrize(
    ("code", "longest"),
    [
        ("prescriber_name", 200),
        ("emergency_contact_name", 200),
        ("escort_name", 200),
        ("treatment_reason_other", 200),
        ("prescriber_phone", 30),
        ("emergency_contact_phone", 30),
    ],
)
def test_names_and_phone_numbers_are_string_items_never_codes(code, longest):
    item = default_items()[code]
    assert item["type"] == "string" and item["maxLength"] == longest
    assert "code" not in item and "answerOption" not in item and "answerValueSet" not in item
    regex = extensions(item, "http://hl7.org/fhir/StructureDefinition/regex")
    assert regex == ([PHONE_PATTERN] if code.endswith("_phone") else [])


def test_no_condition_in_the_questionnaire_reads_free_text():
    resource = questionnaire(QUESTION_SET, BASE)
    free_text = {
        code
        for code, q in QUESTION_SET.questionnaire.questions_by_code.items()
        if q.kind in FREE_TEXT_KINDS
    }
    assert {"escort_name", "escort_phone", "questions_for_clinic"} <= free_text
    named = {c["question"] for conditions in every(resource, "enableWhen") for c in conditions}
    assert named and not named & free_text
    assert not any(
        code in json.dumps(expression)
        for expression in every(resource, "valueExpression")
        for code in free_text
    )


PHONES = st.text(alphabet="0123456789 +-().x/", max_size=PHONE_MAX_LENGTH)


@given(PHONES)
@example("555 201 4477")
@example("+44 20 7946 0000")
@example("(555) 201-4477")
@example("555.201.44")
@example("12345678901234567")
@example("+1 +555 201 4477")
@example("555 201 447x")
@settings(max_examples=400, deadline=None)
def test_the_exported_phone_pattern_accepts_what_the_intake_accepts(text):
    field = field_for(QuestionDef("p", "phone", "Phone?"))
    try:
        field.clean(text)
        intake_accepts = True
    except ValidationError:
        intake_accepts = False
    # The field strips spaces around the number, as a FHIR filler's own check may not.
    assert (re.fullmatch(PHONE_PATTERN, text.strip()) is not None) == intake_accepts, text


def measured_bundle(stored: dict) -> dict:
    return case_bundle_without_rules(answers(**stored))


def case_bundle_without_rules(stored: dict) -> dict:
    visible = work_out_visibility(QUESTION_SET.questionnaire, stored, TODAY).answers
    data = ScreeningData(
        id="00000000-0000-4000-8000-00000000000d",
        status="submitted",
        submitted_at=NOW,
        evaluated_at=NOW,
        patient_id="00000000-0000-4000-8000-00000000000e",
        patient_name="Measured Patient",
        question_set=QUESTION_SET,
        answers=visible,
    )
    return validated_bundle(screening_bundle(data, BASE, NOW))


def validated_bundle(bundle: dict) -> dict:
    validated(bundle)
    assert_references_resolve(bundle)
    return bundle


def response_items(bundle: dict) -> dict[str, dict]:
    [response] = resources_of(bundle, "QuestionnaireResponse")
    return {item["linkId"]: item for items in every(response, "item") for item in items}


def vital(bundle: dict, loinc: str) -> dict:
    return next(
        o for o in resources_of(bundle, "Observation") if o["code"]["coding"][0]["code"] == loinc
    )


def test_a_height_typed_in_feet_and_a_weight_in_pounds_leave_in_cm_and_kg():
    bundle = measured_bundle(
        {
            "height_cm": {"cm": 170.2, "feet": 5, "inches": 7},
            "weight_kg": {"kg": 116.1, "pounds": 256, "confirmed": True},
        }
    )
    answered = response_items(bundle)
    assert answered["height_cm"]["answer"] == [
        {"valueQuantity": {"value": 170.2, "unit": "cm", "system": UCUM, "code": "cm"}}
    ]
    assert answered["weight_kg"]["answer"] == [
        {"valueQuantity": {"value": 116.1, "unit": "kg", "system": UCUM, "code": "kg"}}
    ]
    height, weight = vital(bundle, "8302-2"), vital(bundle, "29463-7")
    assert height["valueQuantity"] == {"value": 170.2, "unit": "cm", "system": UCUM, "code": "cm"}
    assert weight["valueQuantity"]["value"] == 116.1 and weight["valueQuantity"]["code"] == "kg"
    assert height["category"][0]["coding"][0]["code"] == "vital-signs"
    assert height["note"][0]["text"].endswith("Typed as 5 ft 7 in.")
    assert "Typed as 256 lb." in weight["note"][0]["text"]
    assert "confirmed this weight" in weight["note"][0]["text"]


def test_a_metric_height_and_weight_say_nothing_of_other_units():
    bundle = measured_bundle({"height_cm": {"cm": 168}, "weight_kg": {"kg": 70}})
    assert vital(bundle, "8302-2")["valueQuantity"]["value"] == 168
    assert vital(bundle, "8302-2")["note"] == [{"text": VITALS_NOTE}]
    assert vital(bundle, "29463-7")["note"] == [{"text": VITALS_NOTE}]


def test_names_and_phone_numbers_are_answer_strings():
    answered = response_items(measured_bundle({}))
    assert answered["escort_name"]["answer"] == [{"valueString": "Sam Lee"}]
    assert answered["escort_phone"]["answer"] == [{"valueString": "555 201 4479"}]
    assert answered["prescriber_name"]["answer"] == [
        {"valueString": "Dr Rivera, Elm Street Clinic"}
    ]


def test_a_version_that_asked_height_as_a_decimal_still_exports_its_vital_signs():
    """Screenings keep the version they were answered on: before the height and weight
    kinds, height_cm and weight_kg were decimals holding a plain number."""
    legacy = QuestionnaireDef(
        (
            SectionDef(
                "about_you",
                "About you",
                questions=(
                    QuestionDef("height_cm", "decimal", "Height", unit="cm"),
                    QuestionDef("weight_kg", "decimal", "Weight", unit="kg"),
                ),
            ),
        )
    )
    data = ScreeningData(
        id="00000000-0000-4000-8000-00000000000f",
        status="submitted",
        submitted_at=NOW,
        evaluated_at=NOW,
        patient_id="00000000-0000-4000-8000-000000000010",
        patient_name="Earlier Patient",
        question_set=replace(QUESTION_SET, questionnaire=legacy, scores=()),
        answers={"height_cm": 181.5, "weight_kg": 77},
    )
    bundle = validated_bundle(screening_bundle(data, BASE, NOW))
    assert vital(bundle, "8302-2")["valueQuantity"]["value"] == 181.5
    assert vital(bundle, "29463-7")["valueQuantity"]["value"] == 77
    assert response_items(bundle)["height_cm"]["answer"] == [{"valueDecimal": 181.5}]


# --- The language the patient answered in ------------------------------------------------------


@pytest.mark.parametrize(("ours", "fhir"), [("es", "es"), ("en-gb", "en-GB"), ("en-us", "en-US")])
def test_the_response_says_which_language_the_patient_answered_in(demo_screenings, ours, fhir):
    screening = demo_screenings[0]
    Screening.objects.filter(pk=screening.pk).update(language=ours)
    screening.refresh_from_db()
    bundle = screening_bundle(screening_data(screening), BASE, NOW)
    validated(bundle)
    [response] = resources_of(bundle, "QuestionnaireResponse")
    assert response["language"] == fhir
