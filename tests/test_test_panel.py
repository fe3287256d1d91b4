"""The test panel: synthetic cases that ship with the default content, copied into drafts,
edited in the admin, run before publishing. Publishing is one service that refuses a draft
whose cases fail, with the reasons."""

import datetime
import json
import re

import pytest
from django.contrib.admin.sites import site

from screening.answers_json import clean_answers
from screening.engine.definitions import (
    ContentError,
    default_ruleset_from_files,
    panel_cases_from_data,
    read_content,
)
from screening.engine.panel import PanelCaseDef, run_panel
from screening.models import AuditEvent, PanelCase, QuestionSetVersion, Rule
from screening.services.content import (
    DEFAULT_CONTENT_FILE,
    DEFAULT_PANEL_FILE,
    PublishRefused,
    VersionNotEditable,
    make_draft,
    publish_version,
    run_test_panel,
)
from screening.services.content import load_question_set as load
from tests.factories import without_translations
from tests.logins import log_in_staff

pytestmark = pytest.mark.django_db

VERSIONS = "/admin/screening/questionsetversion/"


@pytest.fixture
def draft(default_version, clinic_admin, client):
    log_in_staff(client, clinic_admin)
    client.post(
        VERSIONS, {"action": "make_draft_copy", "_selected_action": [str(default_version.pk)]}
    )
    return QuestionSetVersion.objects.get(status=QuestionSetVersion.Status.DRAFT)


def case_form(draft, **changes):
    data = {
        "version": draft.pk,
        "position": 500,
        "name": "Man with crisis blood pressure",
        "answers": json.dumps({"sex_at_birth": "male", "bp": "190/100", "heart_rate": 80}),
        "must_raise": "bp_crisis_range, bp_uncontrolled",
        "must_not_raise": "bp_elevated",
        "as_of": "2026-11-23",
        "note": "",
    }
    data.update(changes)
    return data


# Shipped with the default content ------------------------------------------------------


def test_the_default_version_has_its_panel_and_every_case_passes(default_version):
    result = run_test_panel(default_version)
    assert len(result.cases) == default_version.panel_cases.count() > 80
    assert result.passed, result.reasons()
    expected = {code for case in default_version.panel_cases.all() for code in case.must_raise}
    assert expected == set(default_version.rules.values_list("code", flat=True))


def test_a_case_is_stored_as_the_intake_stores_answers(default_version):
    case = default_version.panel_cases.get(name="Blood pressure in the hypertensive crisis range")
    assert case.answers["bp"] == {"systolic": 181, "diastolic": 95}
    assert case.answers["medications"] == {
        "rows": [{"name": "Sertraline", "dose": "", "frequency": ""}],
        "none": False,
    }


def test_a_changed_panel_file_publishes_a_new_version_and_the_same_files_change_nothing(
    tmp_path, default_version
):
    assert load() == (default_version, False)
    changed = tmp_path / "panel.yaml"
    changed.write_text(
        DEFAULT_PANEL_FILE.read_text().replace(
            "name: 'Calm woman who is 18 today: no flag'", "name: 'Calm woman, 18 today'", 1
        )
    )
    version, created = load(DEFAULT_CONTENT_FILE, changed)
    assert created and version != default_version
    assert version.panel_cases.filter(name="Calm woman, 18 today").exists()
    assert load(DEFAULT_CONTENT_FILE, changed) == (version, False)


def test_the_loader_refuses_content_whose_panel_fails_naming_the_case(tmp_path, default_version):
    # A rule loosened in the content file: the panel's boundary case catches it.
    content = tmp_path / "content.yaml"
    content.write_text(
        without_translations(DEFAULT_CONTENT_FILE.read_text()).replace(
            "when: 'bp_systolic > 180 or bp_diastolic > 120'",
            "when: 'bp_systolic > 170 or bp_diastolic > 120'",
            1,
        )
    )
    with pytest.raises(ContentError) as error:
        load(content)
    message = str(error.value)
    assert "test panel fails" in message
    assert "Blood pressure 180/120: uncontrolled, not a crisis" in message
    assert "Unexpected flag bp_crisis_range was raised." in message
    assert (
        QuestionSetVersion.objects.published().filter(question_set__purpose="intake").get()
        == default_version
    )


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "    heart_rate: 70\n",
            "    heart_rate: 70\n    pulse: 70\n",
            '"pulse": not a question code',
        ),
        (
            "    sex_at_birth: female\n",
            "    sex_at_birth: femme\n",
            '"sex_at_birth": Select a valid',
        ),
        (
            "must_raise: [opioid]",
            "must_raise: [opiod]",
            "No rule of this version has the code opiod",
        ),
    ],
    ids=["unknown question", "unknown choice", "unknown rule"],
)
def test_the_loader_refuses_a_malformed_case_with_its_name(
    tmp_path, default_version, old, new, message
):
    panel = tmp_path / "panel.yaml"
    text = DEFAULT_PANEL_FILE.read_text()
    assert old in text
    panel.write_text(text.replace(old, new, 1))
    with pytest.raises(ContentError, match="test panel case") as error:
        load(DEFAULT_CONTENT_FILE, panel)
    assert message in str(error.value)
    assert (
        QuestionSetVersion.objects.published().filter(question_set__purpose="intake").get()
        == default_version
    )


# Drafts ---------------------------------------------------------------------------------


def test_a_new_draft_copies_the_panel(draft, default_version):
    names = list(draft.panel_cases.values_list("name", "answers", "must_raise"))
    assert names == list(default_version.panel_cases.values_list("name", "answers", "must_raise"))


def test_a_published_versions_cases_are_read_only(default_version, clinic_admin, client, rf):
    case = default_version.panel_cases.first()
    request = rf.get("/")
    request.user = clinic_admin
    model_admin = site._registry[PanelCase]
    assert not model_admin.has_change_permission(request, case)
    assert not model_admin.has_delete_permission(request, case)
    log_in_staff(client, clinic_admin)
    response = client.post(
        f"/admin/screening/panelcase/{case.pk}/change/", case_form(default_version)
    )
    assert response.status_code == 403
    assert PanelCase.objects.get(pk=case.pk).name == case.name


def test_a_case_added_in_the_admin_is_checked_and_stored_as_the_intake_would(draft, client):
    response = client.post("/admin/screening/panelcase/add/", case_form(draft))
    assert response.status_code == 302, response.content.decode()[:3000]
    case = draft.panel_cases.get(name="Man with crisis blood pressure")
    assert case.answers["bp"] == {"systolic": 190, "diastolic": 100}
    assert case.must_raise == ["bp_crisis_range", "bp_uncontrolled"]
    assert AuditEvent.objects.filter(action="content.added", object_id=str(case.pk)).exists()
    page = client.get(f"/admin/screening/panelcase/{case.pk}/change/").content.decode()
    assert "Passes. Raises:" in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"answers": '{"pulse": 80}'},
            "answers",
            "&quot;pulse&quot;: not a question code of this version",
        ),
        ({"answers": '{"sex_at_birth": "maybe"}'}, "answers", "Select a valid choice"),
        ({"answers": '{"bp": "190"}'}, "answers", "expected &quot;120/80&quot;"),
        ({"answers": '{"heart_rate": 9000}'}, "answers", "heart_rate"),
        (
            {"answers": '["not", "an", "object"]'},
            "answers",
            "must be an object keyed by question code",
        ),
        # Read like every admin JSON box (screening/json_input.py), with its messages.
        ({"answers": "{not json"}, "answers", "Not valid JSON: Expecting property name"),
        ({"answers": "[" * 5000 + "]" * 5000}, "answers", "nested more than 20 levels deep"),
        ({"answers": '{"heart_rate": 1' + "0" * 5000 + "}"}, "answers", "5,001 characters long"),
        ({"answers": '{"cv_conditions": [["none"]]}'}, "answers", "cv_conditions"),
        (
            {"must_raise": "bp_crisis, opioid"},
            "must_raise",
            "No rule of this version has the code bp_crisis",
        ),
        (
            {"must_not_raise": "bp_crisis_range"},
            "must_not_raise",
            "cannot be both raised and not raised",
        ),
        ({"must_raise": "", "must_not_raise": ""}, None, "Say what the case checks"),
    ],
)
def test_a_bad_case_is_a_clear_form_error_and_nothing_typed_is_lost(
    draft, client, changes, field, message
):
    data = case_form(draft, **changes)
    response = client.post("/admin/screening/panelcase/add/", data)
    assert response.status_code == 200
    body = response.content.decode()
    assert message in body, body[body.find("errorlist") - 200 : body.find("errorlist") + 800]
    assert not draft.panel_cases.filter(name=data["name"]).exists()
    if field:
        form = response.context["adminform"].form
        assert form.errors.get(field), form.errors
        assert form["name"].value() == data["name"]


# Before publishing ----------------------------------------------------------------------


def add_rule(draft, code, when, severity="urgent"):
    return Rule.objects.create(
        version=draft,
        code=code,
        title=f"Rule {code}",
        severity=severity,
        when=when,
        message="m",
        source="s",
        # An urgent rule names what the patient reads (a database constraint).
        patient_message="Please call the clinic." if severity == "urgent" else "",
        position=999,
    )


def test_the_publish_page_names_each_failing_case_and_the_flag_and_offers_no_confirm(draft, client):
    add_rule(draft, "oracle_plan", "suicide_plan = yes")
    draft.rules.filter(code="bp_elevated").update(when="bp_systolic > 145")
    response = client.post(VERSIONS, {"action": "publish", "_selected_action": [str(draft.pk)]})
    assert response.status_code == 200
    body = response.content.decode()
    cases = {case["name"]: case for case in response.context["cases"]}
    crisis = cases["Blood pressure 140/91: elevated only"]
    assert not crisis["passed"]
    assert crisis["missing"] == [("bp_elevated", "Blood pressure above 140/90")]
    # the oracle rule fires on the synthetic cases that answer suicide_plan = yes, if any,
    # and nowhere else: it can only ever show what the made-up patients answered
    for case in cases.values():
        assert all(code != "oracle_plan" for code, _ in case["missing"])
    assert "Expected flag missing: <code>bp_elevated</code>" in body
    assert "cannot be published until" in body
    assert "Yes, publish" not in body


def test_publishing_a_failing_draft_is_refused_with_the_reasons(draft, client):
    add_rule(draft, "anyone_with_a_bp", "bp_systolic > 0", severity="info")
    response = client.post(
        VERSIONS, {"action": "publish", "_selected_action": [str(draft.pk)], "confirm": "yes"}
    )
    assert response.status_code == 200
    assert response.context["refused"]
    assert "was not published" in response.content.decode()
    assert "Unexpected flag raised: <code>anyone_with_a_bp</code>" in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == QuestionSetVersion.Status.DRAFT
    assert not AuditEvent.objects.filter(action="content.published").exists()


def test_the_panel_can_be_run_on_any_version_without_publishing(
    default_version, clinic_admin, client
):
    log_in_staff(client, clinic_admin)
    response = client.post(
        VERSIONS, {"action": "run_test_panel", "_selected_action": [str(default_version.pk)]}
    )
    assert response.status_code == 200
    assert "All " in response.content.decode() and "Yes, publish" not in response.content.decode()


# The publish service ----------------------------------------------------------------------


def test_publish_version_publishes_retires_and_audits_in_one_go(default_version, clinic_admin):
    draft = make_draft(source=default_version, actor=clinic_admin, ip_address="192.0.2.7")
    published = publish_version(version=draft, actor=clinic_admin, ip_address="192.0.2.7")
    default_version.refresh_from_db()
    assert published.status == QuestionSetVersion.Status.PUBLISHED
    assert default_version.status == QuestionSetVersion.Status.RETIRED
    event = AuditEvent.objects.get(action="content.published")
    assert (event.actor, event.ip_address, event.object_id) == (
        clinic_admin,
        "192.0.2.7",
        str(draft.pk),
    )
    assert "test panel" in event.summary


def test_publish_version_refuses_a_failing_panel_and_writes_nothing(default_version, clinic_admin):
    draft = make_draft(source=default_version, actor=clinic_admin, ip_address=None)
    draft.panel_cases.filter(name__startswith="Calm woman on sertraline").update(
        must_raise=["opioid"]
    )
    with pytest.raises(PublishRefused) as refused:
        publish_version(version=draft, actor=clinic_admin, ip_address=None)
    assert refused.value.reasons == [
        "Test case Calm woman on sertraline: no flag at all: Expected flag opioid was not raised."
    ]
    draft.refresh_from_db()
    default_version.refresh_from_db()
    assert draft.status == QuestionSetVersion.Status.DRAFT
    assert default_version.status == QuestionSetVersion.Status.PUBLISHED
    assert not AuditEvent.objects.filter(action="content.published").exists()


def test_publish_version_refuses_a_version_that_is_not_a_draft(default_version, clinic_admin):
    with pytest.raises(VersionNotEditable):
        publish_version(version=default_version, actor=clinic_admin, ip_address=None)


def test_a_case_left_broken_by_a_later_edit_fails_with_the_reason(default_version, clinic_admin):
    draft = make_draft(source=default_version, actor=clinic_admin, ip_address=None)
    draft.rules.filter(code="opioid").delete()
    result = run_test_panel(draft)
    assert result.failing
    for case in result.failing:
        assert "No rule of this version has the code opioid." in case.reasons(), case


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just a list", "must hold a mapping"),
        ("cases: {a: 1}", "cases must be a list"),
        ("patients: {calm: [1, 2]}", "patients must map"),
        ("cases: [{note: no name}]", "test panel case 1: needs a name"),
        ("cases: [{name: A}, {name: A}]", "test panel case 2 (A): another case has the same name"),
        ("cases: [{name: A, start_from: nobody}]", "no patient called 'nobody'"),
        ("cases: [{name: A, answers: [1]}]", "answers must map question codes"),
        ("cases: [{name: A, must_raise: opioid}]", "must_raise must be a list of rule codes"),
        ("cases: [{name: A, as_of: someday}]", "'someday' is not a date like 2026-11-23"),
    ],
)
def test_a_malformed_panel_file_is_refused_with_its_place(tmp_path, default_version, text, message):
    panel = tmp_path / "panel.yaml"
    panel.write_text(text)
    with pytest.raises(ContentError, match=re.escape(message)):
        load(DEFAULT_CONTENT_FILE, panel)


def test_the_default_panel_passes_on_the_default_rules_and_fires_every_rule():
    """The shipped panel, its answers cleaned as the intake cleans a patient's, passes on the
    shipped rules and fires every one of them (tests/engine/test_panel.py checks the runner
    itself, without Django)."""
    ruleset = default_ruleset_from_files()
    cases = []
    for raw in panel_cases_from_data(read_content(DEFAULT_PANEL_FILE)[0]):
        answers, problems = clean_answers(raw["answers"], ruleset.questionnaire)
        assert not problems, (raw["name"], problems)
        cases.append(
            PanelCaseDef(
                raw["name"],
                answers,
                tuple(raw["must_raise"]),
                tuple(raw["must_not_raise"]),
                raw["nothing_else"],
                raw["as_of"],
            )
        )
    result = run_panel(ruleset, cases, datetime.date(2026, 11, 23))
    assert result.passed, result.reasons()
    rules = {rule["code"] for rule in read_content(DEFAULT_CONTENT_FILE)[0]["rules"]}
    fired = {code for case in result.cases for code in case.raised}
    assert fired == rules
    clean = [case for case in result.cases if not case.raised]
    assert len(clean) >= 3  # realistic patients who raise no flag at all
