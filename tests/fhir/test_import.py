"""Importing a FHIR Questionnaire into a new draft: the round trip, a LOINC-style PHQ-9, the
report of what was not carried over, pasted text that is refused, and the admin action."""

from __future__ import annotations

import html
import json
import re
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from screening.answer_fields import PHONE_PATTERN
from screening.engine.definitions import expression_problems
from screening.engine.questionnaire import QUESTION_KINDS, work_out_visibility
from screening.fhir.export import questionnaire
from screening.fhir.importer import (
    NotAQuestionnaire,
    import_as_draft,
    questionnaire_from_fhir,
    read_questionnaire,
)
from screening.fhir.records import question_set_data
from screening.models import AuditEvent, QuestionSet, QuestionSetVersion
from screening.services.content import rule_problems
from screening.snapshots import questionnaire_for
from tests.engine.test_default_rules import TODAY
from tests.fhir.test_conditions import ANSWER_SETS
from tests.logins import log_in_staff

BASE = "https://other-clinic.example.org/fhir/R4"
LOINC = "http://loinc.org"
ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"


def exported(version) -> str:
    return json.dumps(questionnaire(question_set_data(version), BASE))


# --- The round trip ---------------------------------------------------------------------------


@pytest.fixture
def round_trip(default_version, clinic_admin):
    resource = read_questionnaire(exported(default_version))
    draft, report = import_as_draft(
        question_set=default_version.question_set,
        resource=resource,
        rules_from=default_version,
        actor=clinic_admin,
    )
    return default_version, draft, report


def test_the_round_trip_keeps_codes_kinds_and_choices(round_trip):
    original, draft, _ = round_trip
    assert draft.status == QuestionSetVersion.Status.DRAFT
    assert draft.number == original.number + 1
    before, after = questionnaire_for(original), questionnaire_for(draft)
    assert [s.code for s in after.sections] == [s.code for s in before.sections]
    assert [s.title for s in after.sections] == [s.title for s in before.sections]
    assert [s.intro for s in after.sections] == [s.intro for s in before.sections]
    assert list(after.questions_by_code) == list(before.questions_by_code)
    # Every kind of question travels, the measured and the typed ones included.
    kinds = {question.kind for question in before.questions_by_code.values()}
    assert kinds == set(QUESTION_KINDS) - {"decimal"}  # the default set asks no decimal
    for code, question in before.questions_by_code.items():
        imported = after.questions_by_code[code]
        assert imported.kind == question.kind, code
        assert imported.choices == question.choices, code
        assert imported.text == question.text and imported.help_text == question.help_text, code
        assert (imported.min_value, imported.max_value, imported.unit) == (
            question.min_value,
            question.max_value,
            question.unit,
        ), code


def test_the_round_trip_keeps_what_show_when_means(round_trip):
    original, draft, _ = round_trip
    before, after = questionnaire_for(original), questionnaire_for(draft)
    conditioned = [code for code, q in before.questions_by_code.items() if q.show_when]
    assert all(after.questions_by_code[code].show_when for code in conditioned)
    assert expression_problems(after) == []
    for stored in ANSWER_SETS:
        asked_before = work_out_visibility(before, stored, TODAY)
        asked_after = work_out_visibility(after, stored, TODAY)
        assert list(asked_after.questions) == list(asked_before.questions)
        assert [s.code for s in asked_after.sections] == [s.code for s in asked_before.sections]


def test_the_round_trip_draft_can_be_published_with_the_copied_rules(round_trip):
    _, draft, report = round_trip
    assert rule_problems(draft) == []
    # Only the calculated totals are reported: scores are score definitions here, copied.
    assert len(report.not_carried_over) == 4
    assert all(line.startswith("Calculated item") for line in report.not_carried_over)
    assert report.notes == []  # no linkId had to be renamed
    assert draft.score_definitions.count() == 4 and draft.rules.count() > 70
    event = AuditEvent.objects.get(action="content.imported")
    assert event.object_id == str(draft.pk)


# --- A LOINC-style PHQ-9 ---------------------------------------------------------------------------

FREQUENCY = [
    ("LA6568-5", "Not at all"),
    ("LA6569-3", "Several days"),
    ("LA6570-1", "More than half the days"),
    ("LA6571-9", "Nearly every day"),
]


def scale(link_id: str, code: str, text: str) -> dict:
    return {
        "linkId": link_id,
        "code": [{"system": LOINC, "code": code}],
        "text": text,
        "type": "choice",
        "required": True,
        "answerOption": [
            {
                "valueCoding": {"system": LOINC, "code": la, "display": label},
                "extension": [{"url": ORDINAL, "valueDecimal": score}],
            }
            for score, (la, label) in enumerate(FREQUENCY)
        ],
    }


PHQ9_STYLE = {
    "resourceType": "Questionnaire",
    "status": "draft",
    "title": "PHQ-9 quick depression assessment panel",
    "code": [{"system": LOINC, "code": "44249-1"}],
    "item": [
        {
            "linkId": "intro",
            "type": "display",
            "text": "Over the last 2 weeks, how often have you been bothered by the following problems?",
        },
        scale("/44250-9", "44250-9", "Little interest or pleasure in doing things"),
        scale("/44255-8", "44255-8", "Feeling down, depressed, or hopeless"),
        {
            "linkId": "/39156-5",
            "code": [{"system": LOINC, "code": "44261-6"}],
            "text": "Patient health questionnaire 9 item total score",
            "type": "decimal",
            "readOnly": True,
        },
        {
            "linkId": "/69722-7",
            "text": "How difficult have these problems made it for you?",
            "type": "choice",
            "answerOption": [
                {"valueCoding": {"code": "LA6572-7", "display": "Not difficult at all"}},
                {"valueCoding": {"code": "LA6573-5", "display": "Somewhat difficult"}},
            ],
            "enableBehavior": "any",
            "enableWhen": [
                {
                    "question": "/44250-9",
                    "operator": "=",
                    "answerCoding": {"system": LOINC, "code": "LA6569-3"},
                },
                {
                    "question": "/44255-8",
                    "operator": "!=",
                    "answerCoding": {"system": LOINC, "code": "LA6568-5"},
                },
            ],
        },
        {
            "linkId": "later",
            "text": "Depends on something unknown",
            "type": "boolean",
            "enableWhen": [{"question": "nowhere", "operator": "exists", "answerBoolean": True}],
        },
        {
            "linkId": "fhirpath",
            "text": "Depends on FHIRPath",
            "type": "string",
            "extension": [
                {
                    "url": "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-enableWhenExpression",
                    "valueExpression": {
                        "language": "text/fhirpath",
                        "expression": "%resource.item.count() > 2",
                    },
                }
            ],
        },
        {
            "linkId": "valueset",
            "text": "Pick from a value set",
            "type": "choice",
            "answerValueSet": "http://example.org/ValueSet/x",
        },
        {"linkId": "photo", "text": "Attach a photo", "type": "attachment"},
    ],
}


@pytest.fixture
def phq9_import(default_version, clinic_admin):
    question_set = QuestionSet.objects.create(slug="phq9", name="PHQ-9 only")
    resource = read_questionnaire(json.dumps(PHQ9_STYLE))
    return import_as_draft(
        question_set=question_set, resource=resource, rules_from=None, actor=clinic_admin
    )


def test_a_loinc_style_phq9_becomes_scale_items_with_their_scores(phq9_import):
    draft, report = phq9_import
    imported = questionnaire_for(draft)
    [section] = imported.sections
    assert section.code == "questions"
    first = imported.questions_by_code["q_44250_9"]
    assert first.kind == "scale_item"
    assert [(c.value, c.label, c.score) for c in first.choices] == [
        ("LA6568-5", "Not at all", 0),
        ("LA6569-3", "Several days", 1),
        ("LA6570-1", "More than half the days", 2),
        ("LA6571-9", "Nearly every day", 3),
    ]
    assert 'linkId "/44250-9" is the question code "q_44250_9"' in report.notes
    # enableWhen on a scale item: its answer's score; != keeps "answered".
    difficulty = imported.questions_by_code["q_69722_7"]
    assert difficulty.kind == "single_choice"
    assert difficulty.show_when == "q_44250_9 = 1 or q_44255_8 != 0"
    assert report.title == "PHQ-9 quick depression assessment panel"


def test_what_cannot_be_carried_over_is_reported(phq9_import):
    _, report = phq9_import
    text = "\n".join(report.not_carried_over)
    assert 'Display text "Over the last 2 weeks' in text
    assert 'Calculated item "Patient health questionnaire 9 item total score"' in text
    assert 'enableWhen names "nowhere", which is not an earlier question' in text
    assert (
        'The condition of "Depends on FHIRPath" (text/fhirpath expression): it is always asked'
        in text
    )
    assert '"Pick from a value set" takes its answers from a value set: asked as free text' in text
    assert '"Attach a photo" asks for a attachment: not asked here' in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "Not valid JSON: Expecting value (line 1, column 1)"),
        ('{"resourceType": "Questionnaire",\n "item": [}', "line 2, column 11"),
        ("", "Paste the Questionnaire's JSON"),
        (json.dumps({"resourceType": "Patient"}), "holds a Patient, not a FHIR Questionnaire"),
        (json.dumps([1, 2]), "holds a JSON value"),
        (
            json.dumps({"resourceType": "Questionnaire", "item": [{"type": "boolean"}]}),
            "not a valid FHIR Questionnaire",
        ),
        ("[" * 100000 + "]" * 100000, "nested more than 20 levels deep"),
        ('{"resourceType": "Questionnaire", "version": ' + "9" * 5000 + "}", "5,000 characters"),
        ('{"resourceType": "Questionnaire", "x": NaN}', "NaN is not a number JSON allows"),
        (
            json.dumps(
                {
                    "resourceType": "Questionnaire",
                    "status": "draft",
                    "item": [{"linkId": str(i), "type": "boolean"} for i in range(2001)],
                }
            ),
            "more than 2000 items",
        ),
        (" " * (1024 * 1024 + 1), "at most 1,048,576 can be imported"),
    ],
    ids=[
        "not-json",
        "broken",
        "empty",
        "patient",
        "list",
        "invalid",
        "deep",
        "long-number",
        "nan",
        "too-many",
        "too-big",
    ],
)
def test_text_that_is_not_a_questionnaire_is_refused_with_a_reason(text, message):
    with pytest.raises(NotAQuestionnaire, match=re.escape(message)):
        read_questionnaire(text)


def test_a_questionnaire_without_questions_makes_no_draft(default_version, clinic_admin):
    resource = {
        "resourceType": "Questionnaire",
        "status": "draft",
        "item": [{"linkId": "x", "type": "display", "text": "Hi"}],
    }
    with pytest.raises(NotAQuestionnaire, match="no question"):
        import_as_draft(
            question_set=default_version.question_set,
            resource=resource,
            rules_from=None,
            actor=clinic_admin,
        )
    assert not QuestionSetVersion.objects.filter(status="draft").exists()


UCUM = "http://unitsofmeasure.org"
UNIT_OPTION = "http://hl7.org/fhir/StructureDefinition/questionnaire-unitOption"
SDC = "http://hl7.org/fhir/uv/sdc/StructureDefinition/sdc-questionnaire-"


def unit_option(code: str) -> dict:
    return {"url": UNIT_OPTION, "valueCoding": {"system": UCUM, "code": code}}


MEASURED_ELSEWHERE = {
    "resourceType": "Questionnaire",
    "status": "draft",
    "item": [
        {
            "linkId": "tall",
            "text": "Height",
            "type": "quantity",
            "extension": [
                unit_option("cm"),
                unit_option("[in_i]"),
                {"url": SDC + "minQuantity", "valueQuantity": {"value": 48, "code": "[in_i]"}},
                {"url": SDC + "maxQuantity", "valueQuantity": {"value": 230.0, "code": "cm"}},
            ],
        },
        {
            "linkId": "heavy",
            "text": "Weight",
            "type": "quantity",
            "code": [{"system": LOINC, "code": "29463-7"}],
            "extension": [unit_option("[lb_av]")],
        },
        {
            "linkId": "waist",
            "text": "Waist",
            "type": "quantity",
            "code": [{"system": LOINC, "code": "8280-0"}],
            "extension": [unit_option("cm")],
        },
        {
            "linkId": "short",
            "text": "Anything for short people?",
            "type": "boolean",
            "enableWhen": [
                {
                    "question": "tall",
                    "operator": "<",
                    "answerQuantity": {"value": 60, "system": UCUM, "code": "[in_i]"},
                }
            ],
        },
        {
            "linkId": "light",
            "text": "Anything for light people?",
            "type": "boolean",
            "enableWhen": [
                {"question": "heavy", "operator": "<=", "answerQuantity": {"value": 50}}
            ],
        },
        {
            "linkId": "odd",
            "text": "Measured oddly",
            "type": "boolean",
            "enableWhen": [
                {"question": "tall", "operator": ">", "answerQuantity": {"value": 2, "code": "m"}}
            ],
        },
        {"linkId": "name", "text": "Your name", "type": "string"},
        {
            "linkId": "phone",
            "text": "Your phone",
            "type": "string",
            "extension": [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/regex",
                    "valueString": PHONE_PATTERN,
                }
            ],
        },
        {
            "linkId": "zip",
            "text": "ZIP code",
            "type": "string",
            "extension": [
                {"url": "http://hl7.org/fhir/StructureDefinition/regex", "valueString": "[0-9]{5}"}
            ],
        },
        {"linkId": "story", "text": "Tell us", "type": "string", "maxLength": 1000},
        {"linkId": "notes", "text": "Notes", "type": "text"},
        {
            "linkId": "named_sam",
            "text": "Asked when the name is Sam",
            "type": "boolean",
            "enableWhen": [{"question": "name", "operator": "=", "answerString": "Sam"}],
        },
        {
            "linkId": "has_phone",
            "text": "Asked when a phone was given",
            "type": "boolean",
            "enableWhen": [{"question": "phone", "operator": "exists", "answerBoolean": True}],
        },
    ],
}


def test_heights_weights_names_and_phone_numbers_from_elsewhere():
    imported, report = questionnaire_from_fhir(read_questionnaire(json.dumps(MEASURED_ELSEWHERE)))
    by_code = imported.questions_by_code
    kinds = {code: question.kind for code, question in by_code.items()}
    assert kinds == {
        "tall": "height",
        "heavy": "weight",
        "waist": "decimal",  # a LOINC code that is not a body height keeps it a number
        "short": "yes_no",
        "light": "yes_no",
        "odd": "yes_no",
        "name": "short_text",
        "phone": "phone",
        "zip": "short_text",
        "story": "text",
        "notes": "text",
        "named_sam": "yes_no",
        "has_phone": "yes_no",
    }
    # Bounds in cm and kg whatever unit they came in (48 inches is 121.92 cm).
    assert (by_code["tall"].min_value, by_code["tall"].max_value) == (
        Decimal("121.92"),
        Decimal("230"),
    )
    assert str(by_code["tall"].max_value) == "230"  # not 1E+2-style
    assert by_code["tall"].unit == "" and by_code["waist"].unit == "cm"
    # Conditions on a height or weight compare cm and kg.
    assert by_code["short"].show_when == "tall < 152.4"
    assert by_code["light"].show_when == "heavy <= 50"
    assert by_code["odd"].show_when == ""
    # Free text is never a condition: those questions are always asked, and it is said.
    assert by_code["named_sam"].show_when == "" and by_code["has_phone"].show_when == ""
    text = "\n".join(report.not_carried_over)
    assert 'enableWhen on "tall" compares with a quantity in an unknown unit' in text
    assert 'The condition of "Asked when the name is Sam"' in text
    assert 'The condition of "Asked when a phone was given"' in text
    assert '"ZIP code": the pattern its answer must match' in text
    assert '"Height" (a quantity in cm) is asked as a height, in metric or US units' in report.notes
    assert '"Tell us" takes answers of up to 1000 characters: asked as a text' in report.notes


def test_codes_that_clash_with_the_expression_language_are_renamed():
    resource = {
        "resourceType": "Questionnaire",
        "status": "draft",
        "item": [
            {"linkId": "age", "text": "Age", "type": "integer"},
            {"linkId": "and", "text": "And", "type": "boolean"},
            {"linkId": "x", "text": "X", "type": "boolean"},
            {"linkId": "X", "text": "Another X", "type": "boolean"},
        ],
    }
    imported, report = questionnaire_from_fhir(resource)
    assert list(imported.questions_by_code) == ["age_2", "and_2", "x", "x_2"]
    assert len(report.notes) == 4  # three renames and the section


# --- The admin action -----------------------------------------------------------------------------


CHANGELIST = "/admin/screening/questionsetversion/"


def chosen(version) -> dict:
    return {"action": "import_fhir_questionnaire", "_selected_action": [str(version.pk)]}


def post_form(client, data: dict):
    """Post as a browser posts this form: URL-encoded, the way its page declares."""
    return client.post(
        CHANGELIST, urlencode(data, doseq=True), content_type="application/x-www-form-urlencoded"
    )


def test_a_clinic_admin_imports_through_the_admin(client, clinic_admin, default_version):
    log_in_staff(client, clinic_admin)
    form = client.post(CHANGELIST, chosen(default_version))
    assert form.status_code == 200
    page = form.content.decode()
    assert "multipart/form-data" not in page and 'type="file"' not in page
    assert '<textarea name="questionnaire_json"' in page
    # The help the box points at (aria-describedby) is there to be read.
    assert 'aria-describedby="id_questionnaire_json_helptext"' in page
    assert 'id="id_questionnaire_json_helptext"' in page
    data = {
        **chosen(default_version),
        "import": "yes",
        "copy_rules": "on",
        "questionnaire_json": exported(default_version),
    }
    # The default question set, pasted, fits the request body limit with room to spare.
    assert len(urlencode(data, doseq=True)) < settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 2
    report = post_form(client, data)
    assert report.status_code == 200, report.content[:500]
    draft = QuestionSetVersion.objects.get(status="draft")
    assert report.context["draft"] == draft
    assert "Calculated item" in report.content.decode()
    assert draft.rules.count() == default_version.rules.count()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"resourceType": "Patient"}', "holds a Patient, not a FHIR Questionnaire"),
        ('{"resourceType": "Questionnaire", "item": [', "Not valid JSON"),
        ("[" * 50 + "]" * 50, "nested more than 20 levels deep"),
        ("", "Paste the Questionnaire&#x27;s JSON into the box."),
    ],
    ids=["patient", "broken", "deep", "empty"],
)
def test_bad_json_is_shown_beside_the_box_as_typed_and_makes_no_draft(
    client, clinic_admin, default_version, text, message
):
    log_in_staff(client, clinic_admin)
    response = post_form(
        client, {**chosen(default_version), "import": "yes", "questionnaire_json": text}
    )
    assert response.status_code == 200
    page = response.content.decode()
    errors = response.context["form"].errors["questionnaire_json"]
    assert any(html.unescape(message) in error for error in errors), errors
    assert message in page
    # What was pasted comes back in the box, to be fixed rather than pasted again.
    assert f">\n{html.escape(text)}</textarea>" in page
    assert not QuestionSetVersion.objects.filter(status="draft").exists()


def test_a_file_is_refused_before_the_import_reads_anything(client, clinic_admin, default_version):
    """No page takes files (screening/request_limits.py): not even this one, which once did."""
    log_in_staff(client, clinic_admin)
    upload = SimpleUploadedFile("q.json", exported(default_version).encode())
    response = client.post(
        CHANGELIST, {**chosen(default_version), "import": "yes", "questionnaire_file": upload}
    )
    assert response.status_code == 400
    assert not QuestionSetVersion.objects.filter(status="draft").exists()


def test_a_questionnaire_naming_its_language_imports(default_version, clinic_admin):
    """Resource.language (our QuestionnaireResponse carries one; others' Questionnaires may):
    accepted, the texts read as they are."""
    data = json.loads(exported(default_version))
    data["language"] = "es"
    draft, _report = import_as_draft(
        question_set=default_version.question_set,
        resource=read_questionnaire(json.dumps(data)),
        rules_from=default_version,
        actor=clinic_admin,
    )
    assert draft.questions.count() == default_version.questions.count()
