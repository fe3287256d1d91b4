"""Clinic admins edit drafts in the Django admin; published versions are read-only."""

import json
import re

import pytest
from django.contrib.admin.sites import site

from screening.admin import QuestionAdminForm, ScoreDefinitionAdminForm
from screening.models import DrugClass, Question, QuestionSetVersion, Rule
from screening.services.content import make_draft
from tests.admin_forms import draft_made_in_admin, rule_form_data
from tests.logins import log_in_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def draft(default_version, clinic_admin, client):
    log_in_staff(client, clinic_admin)
    return draft_made_in_admin(client, default_version)


def form_data(question, **changes):
    data = {
        "version": question.version_id,
        "section": question.section_id,
        "position": question.position,
        "code": question.code,
        "text": question.text,
        "help_text": question.help_text,
        "kind": question.kind,
        "required": question.required,
        "min_value": question.min_value or "",
        "max_value": question.max_value or "",
        "unit": question.unit,
        "show_when": question.show_when,
    }
    data.update(changes)
    return data


def test_a_draft_copy_has_every_question_of_the_published_version(draft, default_version):
    assert draft.questions.count() == default_version.questions.count()
    assert draft.number == default_version.number + 1


@pytest.mark.parametrize(
    "show_when, message",
    [
        ("can_be_pregnant = yess", "Unknown question code"),
        ("pregnant = maybe", "Unknown question code"),
        ('pregnant = "maybe"', "maybe"),
        ("can_be_pregnant = ", "at column"),
        ('__import__("os")', "Unknown function"),
        ("phq9_9 >= 1", 'Unknown question code "phq9_9"'),
    ],
)
def test_an_invalid_show_when_is_a_form_error_beside_the_field(draft, show_when, message):
    question = draft.questions.get(code="contraception")
    form = QuestionAdminForm(data=form_data(question, show_when=show_when), instance=question)
    assert not form.is_valid()
    assert any(message in error for error in form.errors["show_when"]), form.errors


def test_a_valid_show_when_saves(draft):
    question = draft.questions.get(code="contraception")
    form = QuestionAdminForm(
        data=form_data(question, show_when='pregnant = "no"'), instance=question
    )
    assert form.is_valid(), form.errors
    form.save()
    assert Question.objects.get(pk=question.pk).show_when == 'pregnant = "no"'


def test_the_admin_change_page_shows_the_show_when_error(draft, client):
    question = draft.questions.get(code="contraception")
    data = form_data(question, show_when="pregnant = yess")
    data.update({"choices-TOTAL_FORMS": "0", "choices-INITIAL_FORMS": "0"})
    response = client.post(f"/admin/screening/question/{question.pk}/change/", data)
    assert response.status_code == 200
    assert b"Unknown question code" in response.content


def test_a_published_version_cannot_be_edited(default_version, clinic_admin, rf):
    question = default_version.questions.first()
    request = rf.get("/")
    request.user = clinic_admin
    model_admin = site._registry[Question]
    assert not model_admin.has_change_permission(request, question)
    assert not model_admin.has_delete_permission(request, question)


def test_publishing_first_shows_the_test_panel_and_publishes_only_on_confirmation(
    draft, default_version, client
):
    preview = client.post(
        "/admin/screening/questionsetversion/",
        {"action": "publish", "_selected_action": [str(draft.pk)]},
    )
    assert preview.status_code == 200
    cases = draft.panel_cases.count()
    assert cases > 80
    assert f"All {cases} pass." in preview.content.decode()
    assert b"Yes, publish" in preview.content
    draft.refresh_from_db()
    assert draft.status == QuestionSetVersion.Status.DRAFT
    client.post(
        "/admin/screening/questionsetversion/",
        {"action": "publish", "_selected_action": [str(draft.pk)], "confirm": "yes"},
    )
    draft.refresh_from_db()
    default_version.refresh_from_db()
    assert draft.status == QuestionSetVersion.Status.PUBLISHED
    assert default_version.status == QuestionSetVersion.Status.RETIRED


def test_a_patient_cannot_reach_the_admin(patient_client):
    response = patient_client.get("/admin/screening/question/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def drug_form_data(**changes):
    data = {
        "name": "zuranolone",
        "classes": "sedative_hypnotic",
        "components": "",
        "brands": "Zurzuvae",
        "synonyms": "zuranolon",
        "slang": "",
        "sources": "SPR 7.1",
        "form": "",
        "note": "new drug",
        "grade": "major",
    }
    data.update(changes)
    return data


def test_an_admin_adds_a_drug_with_comma_separated_names_and_it_is_recognised(clinic_admin, client):
    from screening.models import Drug
    from screening.snapshots import current_formulary

    log_in_staff(client, clinic_admin)
    response = client.post("/admin/screening/drug/add/", drug_form_data())
    assert response.status_code == 302, response.content.decode()[:2000]
    drug = Drug.objects.get(name="zuranolone")
    assert drug.brands == ["Zurzuvae"]
    match = current_formulary().recognise("Zurzuvae 50 mg")
    assert match.drug == "zuranolone"
    assert "sedative_hypnotic" in match.classes
    from screening.models import AuditEvent

    event = AuditEvent.objects.get(action="content.added")
    assert event.actor == clinic_admin and event.object_id == str(drug.pk)


def test_a_drug_with_an_unknown_class_is_refused_with_a_message(clinic_admin, client):
    from screening.models import Drug

    log_in_staff(client, clinic_admin)
    response = client.post("/admin/screening/drug/add/", drug_form_data(classes="sleepy_pills"))
    assert response.status_code == 200
    assert b"sleepy_pills" in response.content
    assert not Drug.objects.filter(name="zuranolone").exists()


def test_a_question_edited_in_the_admin_is_audited(draft, clinic_admin, client):
    from screening.models import AuditEvent

    question = draft.questions.get(code="contraception")
    data = form_data(question, text="Do you use contraception?")
    data.update({"choices-TOTAL_FORMS": "0", "choices-INITIAL_FORMS": "0"})
    response = client.post(f"/admin/screening/question/{question.pk}/change/", data)
    assert response.status_code == 302
    event = AuditEvent.objects.get(action="content.changed")
    assert event.actor == clinic_admin and event.object_type == "screening.Question"


def test_nothing_can_be_added_to_a_published_version(default_version, clinic_admin, client):
    from screening.models import Rule

    log_in_staff(client, clinic_admin)
    before = Rule.objects.filter(version=default_version).count()
    response = client.post(
        "/admin/screening/rule/add/",
        {
            "version": default_version.pk,
            "position": 999,
            "code": "sneaky",
            "title": "Sneaky",
            "severity": "info",
            "when": "bp_systolic > 100",
            "message": "m",
            "rationale": "r",
            "source": "s",
            "superseded_by": "[]",
            "active": "on",
        },
    )
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    assert Rule.objects.filter(version=default_version).count() == before


def test_a_combination_nested_too_deep_is_refused_with_a_message(clinic_admin, client):
    # Issue 10, finding 7: nesting 20 deep used to be saved, and stalled every submit.
    from screening.models import Drug

    Drug.objects.create(name="level0", classes=["none"])
    for level in range(1, 4):
        Drug.objects.create(name=f"level{level}", components=[f"level{level - 1}"])
    log_in_staff(client, clinic_admin)
    response = client.post(
        "/admin/screening/drug/add/",
        drug_form_data(name="level4", classes="", components="level3", brands="", synonyms=""),
    )
    assert response.status_code == 200
    assert b"nests combinations 4 deep; at most 3 levels" in response.content
    assert not Drug.objects.filter(name="level4").exists()


def test_a_combination_listing_a_component_twice_is_refused(clinic_admin, client):
    from screening.models import Drug

    Drug.objects.create(name="level0", classes=["none"])
    log_in_staff(client, clinic_admin)
    response = client.post(
        "/admin/screening/drug/add/",
        drug_form_data(name="double", classes="", components="level0, level0", brands=""),
    )
    assert response.status_code == 200
    assert b"is listed twice" in response.content
    assert not Drug.objects.filter(name="double").exists()


# JSON boxes: bad JSON of any shape is a form error beside the box (issue 10, finding 12) -------

DEEP = "[" * 100_000 + "]" * 100_000
HOSTILE_JSON = {
    # Each of these was a 500: a list or object where a code belongs is unhashable...
    "list-in-list": ('[["phq9_1"]]', "Give a list"),
    "object-in-list": ('[{"code": "phq9_1"}]', "Give a list"),
    # ... and Django's JSON field lets RecursionError and the 4,300-digit ValueError through.
    "deep-nesting": (DEEP, "nested more than 20 levels deep"),
    "nesting-within-the-stack": ("[" * 60 + "]" * 60, "nested more than 20 levels deep"),
    "huge-integer": ("[" + "9" * 5000 + "]", "5,000 characters long"),
    "huge-decimal": ("[1e400]", "too large"),
    "nan": ("[NaN]", "NaN is not a number JSON allows"),
    "broken": ('["phq9_1"', "Not valid JSON"),
    # PostgreSQL's jsonb cannot store NUL (a DataError, so a 500 there).
    "nul": ('["phq9_1\\u0000"]', "NUL character"),
    "nul-in-a-label": ('[{"min": 0, "max": 4, "label": "Minimal\\u0000"}]', "NUL character"),
    "nul-in-a-key": ('[{"min": 0, "max": 4, "label": "Minimal", "\\u0000": 1}]', "NUL character"),
    # Half a UTF-16 pair is no character: nothing can encode it, so saving it, or showing it
    # back in an error message, was a 500 (the retest after issue 10, finding E).
    "lone-surrogate": ('["\\ud800"]', "lone surrogate"),
    "lone-low-surrogate": ('["phq9_1\\udfff"]', "lone surrogate"),
    "lone-surrogate-in-a-label": ('[{"min": 0, "max": 4, "label": "\\ud800"}]', "lone surrogate"),
    "lone-surrogate-in-a-key": (
        '[{"min": 0, "max": 4, "label": "M", "\\udc00": 1}]',
        "lone surrogate",
    ),
}


@pytest.fixture
def score_in_draft(draft):
    return draft.score_definitions.get(code="phq9_total")


def score_form_data(score, **changes):
    data = {
        "version": score.version_id,
        "position": score.position,
        "code": score.code,
        "name": score.name,
        "items": json.dumps(score.items),
        "bands": json.dumps(score.bands),
        "source": score.source,
    }
    return {**data, **changes}


def error_beside(html: str, field: str) -> str:
    """The error list in the admin's row for `field` ("" when the row shows none)."""
    row = re.search(
        rf'<div class="form-row errors field-{field}">(.*?)<div class="form-row', html, re.S
    )
    return row.group(1) if row else ""


@pytest.mark.parametrize("name", list(HOSTILE_JSON))
@pytest.mark.parametrize("field", ["items", "bands"])
def test_bad_json_in_a_score_definition_is_an_error_beside_the_box(
    client, score_in_draft, field, name
):
    text, message = HOSTILE_JSON[name]
    if field == "bands" and message == "Give a list":
        message = "Give a list like"
    before = (score_in_draft.items, score_in_draft.bands)
    response = client.post(
        f"/admin/screening/scoredefinition/{score_in_draft.pk}/change/",
        score_form_data(score_in_draft, **{field: text}),
    )
    assert response.status_code == 200
    assert message in error_beside(response.text, field)
    score_in_draft.refresh_from_db()
    assert (score_in_draft.items, score_in_draft.bands) == before


@pytest.mark.parametrize("name", list(HOSTILE_JSON))
def test_bad_json_in_a_rules_superseded_by_is_an_error_beside_the_box(client, draft, name):
    text, message = HOSTILE_JSON[name]
    rule = draft.rules.get(code="suicide_risk_low")
    before = rule.superseded_by
    response = client.post(
        f"/admin/screening/rule/{rule.pk}/change/", rule_form_data(rule, superseded_by=text)
    )
    assert response.status_code == 200
    assert message in error_beside(response.text, "superseded_by")
    rule.refresh_from_db()
    assert rule.superseded_by == before


@pytest.mark.parametrize(
    "bands",
    [
        '[{"min": 0, "max": 4, "label": ["Minimal"]}]',
        '[{"min": "0", "max": 4, "label": "Minimal"}]',
        '[{"min": true, "max": 4, "label": "Minimal"}]',
        '[{"min": 5, "max": 4, "label": "Minimal"}]',
        '[{"min": 0, "max": 4, "label": " "}]',
        '{"min": 0, "max": 4, "label": "Minimal"}',
        '"Minimal"',
        "4",
    ],
)
def test_bands_must_be_numbers_with_a_label(client, score_in_draft, bands):
    response = client.post(
        f"/admin/screening/scoredefinition/{score_in_draft.pk}/change/",
        score_form_data(score_in_draft, bands=bands),
    )
    assert response.status_code == 200
    assert "Give a list like" in error_beside(response.text, "bands")


def test_valid_lists_still_save(client, score_in_draft, draft):
    items = json.dumps(score_in_draft.items[:3])
    bands = '[{"min": 0, "max": 4.5, "label": "Low"}, {"min": 5, "max": 9, "label": "High"}]'
    response = client.post(
        f"/admin/screening/scoredefinition/{score_in_draft.pk}/change/",
        score_form_data(score_in_draft, items=items, bands=bands),
    )
    assert response.status_code == 302, error_beside(response.text, "items")
    score_in_draft.refresh_from_db()
    assert score_in_draft.items == json.loads(items)
    assert score_in_draft.bands[0] == {"min": 0, "max": 4.5, "label": "Low"}
    rule = draft.rules.get(code="suicide_risk_low")
    response = client.post(
        f"/admin/screening/rule/{rule.pk}/change/",
        rule_form_data(rule, superseded_by='["suicide_risk_high"]'),
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.superseded_by == ["suicide_risk_high"]


@pytest.mark.parametrize("text", ["", "null", "  "])
def test_an_empty_list_box_saves_an_empty_list(client, score_in_draft, draft, text):
    """Found by the fuzzer: an empty box or null was saved as NULL, an IntegrityError (500)."""
    response = client.post(
        f"/admin/screening/scoredefinition/{score_in_draft.pk}/change/",
        score_form_data(score_in_draft, bands=text),
    )
    assert response.status_code == 302
    score_in_draft.refresh_from_db()
    assert score_in_draft.bands == []
    rule = draft.rules.get(code="suicide_risk_low")
    response = client.post(
        f"/admin/screening/rule/{rule.pk}/change/", rule_form_data(rule, superseded_by=text)
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.superseded_by == []


@pytest.mark.parametrize("text", ["false", "0", "{}", '""', '{"suicide_risk_high": 1}'])
def test_superseded_by_must_be_a_list_even_when_falsy(client, draft, text):
    """Found by the fuzzer: false, 0, {} and "" passed as "no list given" and were stored,
    which the engine cannot read."""
    rule = draft.rules.get(code="suicide_risk_low")
    before = rule.superseded_by
    response = client.post(
        f"/admin/screening/rule/{rule.pk}/change/", rule_form_data(rule, superseded_by=text)
    )
    assert response.status_code == 200
    assert "Give a list of rule codes" in error_beside(response.text, "superseded_by")
    rule.refresh_from_db()
    assert rule.superseded_by == before


@pytest.fixture
def panel_case_data(draft):
    return {
        "version": draft.pk,
        "position": 999,
        "name": "Lone surrogate",
        "must_raise": "",
        "must_not_raise": "",
        "nothing_else": "on",
        "as_of": "2026-01-01",
        "note": "",
    }


@pytest.mark.parametrize(
    "answers",
    [
        '{"medications": ["\\ud800"]}',
        '{"questions_for_clinic": "\\ud800"}',
        '{"questions_for_clinic": "I feel \\udfff fine"}',
        '{"\\ud800": "yes"}',
        '{"medications": ["Sertraline\\u0000"]}',
        "[" * 100_000 + "]" * 100_000,
    ],
    ids=["medication", "free-text", "low-half", "key", "nul", "deep-nesting"],
)
def test_bad_json_in_a_test_cases_answers_is_an_error_beside_the_box(
    client, draft, panel_case_data, answers
):
    before = draft.panel_cases.count()
    response = client.post(
        "/admin/screening/panelcase/add/", {**panel_case_data, "answers": answers}
    )
    assert response.status_code == 200
    assert error_beside(response.text, "answers")
    assert draft.panel_cases.count() == before


def test_a_whole_character_written_as_two_escapes_is_read_as_that_character(
    client, draft, panel_case_data
):
    answers = '{"questions_for_clinic": "Thanks \\ud83d\\ude00"}'
    response = client.post(
        "/admin/screening/panelcase/add/", {**panel_case_data, "answers": answers}
    )
    assert response.status_code == 302
    assert draft.panel_cases.get(name="Lone surrogate").answers == {
        "questions_for_clinic": "Thanks 😀"
    }


# Rule texts have limits (the retest after issue 10, finding F): each flag copies them, and
# 450 KB each fitted under the 1 MB body limit.
@pytest.mark.parametrize(
    ("field", "limit"),
    [("title", 200), ("message", 1000), ("rationale", 2000), ("source", 2000)],
)
def test_a_rule_text_over_its_limit_is_an_error_beside_the_field(client, draft, field, limit):
    rule = draft.rules.get(code="suicide_risk_low")
    before = Rule.objects.filter(pk=rule.pk).values().get()
    response = client.post(
        f"/admin/screening/rule/{rule.pk}/change/", rule_form_data(rule, **{field: "M" * 450_000})
    )
    assert response.status_code == 200
    error = error_beside(response.text, field)
    assert f"At most {limit} characters" in error and "this has 450000" in error
    assert Rule.objects.filter(pk=rule.pk).values().get() == before


def test_an_urgent_rules_patient_message_has_a_limit_too(client, draft):
    rule = draft.rules.filter(severity="urgent").first()
    data = rule_form_data(rule, patient_message="Call us. " * 200)
    response = client.post(f"/admin/screening/rule/{rule.pk}/change/", data)
    assert response.status_code == 200
    assert "At most 1000 characters" in error_beside(response.text, "patient_message")


def test_a_rule_text_at_its_limit_saves(client, draft):
    rule = draft.rules.get(code="suicide_risk_low")
    response = client.post(
        f"/admin/screening/rule/{rule.pk}/change/",
        rule_form_data(rule, message="M" * 1000, rationale="R" * 2000, source="S" * 2000),
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert len(rule.message) == 1000


def test_a_published_rules_page_shows_it_read_only(client, clinic_admin, default_version):
    log_in_staff(client, clinic_admin)
    rule = default_version.rules.first()
    response = client.get(f"/admin/screening/rule/{rule.pk}/change/")
    assert response.status_code == 200
    assert rule.message in response.content.decode()


def test_a_drug_class_in_use_cannot_be_deleted_or_renamed(clinic_admin, client, default_version):
    log_in_staff(client, clinic_admin)
    maoi = DrugClass.objects.get(name="maoi")
    assert (
        client.post(f"/admin/screening/drugclass/{maoi.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    assert DrugClass.objects.filter(name="maoi").exists()


@pytest.mark.parametrize(
    "items, bands, field",
    [
        ('["phq9_one"]', "[]", "items"),
        ('["phq9_1"]', '[{"min": "low"}]', "bands"),
        ('["phq9_1"]', '[{"min": 5, "max": 1, "label": "x"}]', "bands"),
    ],
)
def test_a_score_definition_is_checked_before_it_is_saved(
    clinic_admin, client, default_version, items, bands, field
):
    draft = make_draft(source=default_version, actor=clinic_admin, ip_address=None)
    form = ScoreDefinitionAdminForm(
        data={
            "version": draft.pk,
            "position": 9,
            "code": "x_total",
            "name": "X",
            "items": items,
            "bands": bands,
            "source": "",
        }
    )
    assert not form.is_valid()
    assert field in form.errors
