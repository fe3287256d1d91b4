"""Importing a FHIR Questionnaire into a new draft: the round trip, a LOINC-style PHQ-9, the
report of what was not carried over, files that are refused, and the admin action."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from screening.engine.definitions import expression_problems
from screening.engine.questionnaire import work_out_visibility
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


def exported(version) -> bytes:
    return json.dumps(questionnaire(question_set_data(version), BASE)).encode()


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
    resource = read_questionnaire(json.dumps(PHQ9_STYLE).encode())
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
    ("raw", "message"),
    [
        (b"not json", "not JSON"),
        (
            json.dumps({"resourceType": "Patient"}).encode(),
            "holds a Patient, not a FHIR Questionnaire",
        ),
        (json.dumps([1, 2]).encode(), "holds a JSON value"),
        (
            json.dumps({"resourceType": "Questionnaire", "item": [{"type": "boolean"}]}).encode(),
            "not a valid FHIR Questionnaire",
        ),
        (b"[" * 100000 + b"]" * 100000, "not JSON"),
        (
            json.dumps(
                {
                    "resourceType": "Questionnaire",
                    "status": "draft",
                    "item": [{"linkId": str(i), "type": "boolean"} for i in range(2001)],
                }
            ).encode(),
            "more than 2000 items",
        ),
        (b" " * (2 * 1024 * 1024 + 1), "larger than 2 MB"),
    ],
    ids=["not-json", "patient", "list", "invalid", "deep", "too-many", "too-big"],
)
def test_a_file_that_is_not_a_questionnaire_is_refused_with_a_reason(raw, message):
    with pytest.raises(NotAQuestionnaire, match=message):
        read_questionnaire(raw)


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


def test_a_clinic_admin_imports_through_the_admin(client, clinic_admin, default_version):
    log_in_staff(client, clinic_admin)
    changelist = "/admin/screening/questionsetversion/"
    chosen = {"action": "import_fhir_questionnaire", "_selected_action": [str(default_version.pk)]}
    form = client.post(changelist, chosen)
    assert form.status_code == 200
    assert 'enctype="multipart/form-data"' in form.content.decode()
    upload = SimpleUploadedFile(
        "q.json", exported(default_version), content_type="application/fhir+json"
    )
    report = client.post(
        changelist, {**chosen, "import": "yes", "copy_rules": "on", "questionnaire_file": upload}
    )
    assert report.status_code == 200, report.content[:500]
    draft = QuestionSetVersion.objects.get(status="draft")
    assert report.context["draft"] == draft
    assert "Calculated item" in report.content.decode()
    assert draft.rules.count() == default_version.rules.count()


def test_a_bad_file_is_shown_beside_the_field_and_makes_no_draft(
    client, clinic_admin, default_version
):
    log_in_staff(client, clinic_admin)
    upload = SimpleUploadedFile("q.json", b'{"resourceType": "Patient"}')
    response = client.post(
        "/admin/screening/questionsetversion/",
        {
            "action": "import_fhir_questionnaire",
            "_selected_action": [str(default_version.pk)],
            "import": "yes",
            "questionnaire_file": upload,
        },
    )
    assert response.status_code == 200
    assert "holds a Patient, not a FHIR Questionnaire" in response.content.decode()
    assert not QuestionSetVersion.objects.filter(status="draft").exists()
