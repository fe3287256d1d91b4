"""Free-text answers never feed rules or show-when: refused when a rule or show-when is saved
in the admin and when a content file is loaded, with a message saying why."""

import pytest

from screening.admin import QuestionAdminForm, RuleAdminForm, SectionAdminForm
from screening.engine.definitions import ContentError
from screening.engine.expressions import validate
from screening.engine.questionnaire import (
    FREE_TEXT_KINDS,
    QUESTION_KINDS,
    ChoiceDef,
    QuestionDef,
    QuestionnaireDef,
    SectionDef,
    variable_types,
)
from screening.engine.rules import RuleDef, RuleSet
from screening.models import QuestionSetVersion, Rule
from screening.services.content import DEFAULT_CONTENT_FILE, load_question_set, make_draft
from screening.snapshots import validator_for
from tests.factories import without_translations
from tests.test_admin import form_data

# For each kind: is the answer free text (the patient's own words)? "text", "short_text"
# (a name) and "phone" are; the medication list is typed too but reaches expressions only
# through takes() and unrecognised_medication(), and a list can never be compared. A height
# and a weight are numbers (cm, kg) whatever unit was typed.
FREE_TEXT = {
    "yes_no": False,
    "single_choice": False,
    "multiple_choice": False,
    "integer": False,
    "decimal": False,
    "text": True,
    "date": False,
    "blood_pressure": False,
    "medication_list": False,
    "scale_item": False,
    "height": False,
    "weight": False,
    "short_text": True,
    "phone": True,
}


def test_every_question_kind_is_decided():
    assert set(FREE_TEXT) == set(QUESTION_KINDS)
    assert {kind for kind, free in FREE_TEXT.items() if free} == FREE_TEXT_KINDS


def questionnaire_with(kind: str) -> QuestionnaireDef:
    choices = (ChoiceDef("a", "A", 0), ChoiceDef("b", "B", 1))
    question = QuestionDef(code="q", kind=kind, text="Q?", choices=choices)
    return QuestionnaireDef((SectionDef(code="s", title="S", questions=(question,)),))


@pytest.mark.parametrize("kind", QUESTION_KINDS)
def test_a_rule_may_use_any_kind_but_free_text(kind):
    ruleset = RuleSet(questionnaire_with(kind), [], [], current_formulary_from_files())
    names = list(ruleset.questionnaire.questions_by_code["q"].expression_names)
    refused = [
        problem.message
        for name in names
        for problem in ruleset.problems(RuleDef("r", "R", "info", f'{name} = "x"', "m"))
        if "free-text answer" in problem.message
    ]
    assert bool(refused) == FREE_TEXT[kind], refused
    answered = ruleset.problems(RuleDef("r", "R", "info", 'answered("q")', "m"))
    assert bool(answered) == FREE_TEXT[kind], answered


def current_formulary_from_files():
    from screening.engine.definitions import read_content
    from screening.engine.medications import Formulary
    from screening.services.content import DEFAULT_FORMULARY_FILE

    return Formulary.from_data(read_content(DEFAULT_FORMULARY_FILE)[0])


@pytest.mark.parametrize(
    "expression",
    [
        'questions_for_clinic = "I am HIV positive"',
        'questions_for_clinic != ""',
        'questions_for_clinic in ("yes", "no")',
        'answered("questions_for_clinic")',
        'bp_systolic > 180 or drug_allergy_list = "penicillin"',
        'not answered("psych_history_other")',
        # Names and phone numbers are the patient's own words too.
        'escort_phone = "555 201 4479"',
        'answered("escort_name")',
        'emergency_contact_name != "Sam Lee, my sister" and transport_home = yes',
    ],
)
def test_the_rule_validator_refuses_free_text_with_the_reason(default_version, expression):
    messages = [
        problem.message
        for problem in validator_for(default_version).problems(
            RuleDef("oracle", "Oracle", "info", expression, "m")
        )
    ]
    assert any("free-text answer" in message for message in messages), messages


def test_a_show_when_on_free_text_is_refused_too():
    questionnaire = QuestionnaireDef(
        (
            SectionDef(
                code="s",
                title="S",
                questions=(
                    QuestionDef(code="notes", kind="text", text="Anything else?"),
                    QuestionDef(code="later", kind="yes_no", text="Later?"),
                ),
            ),
        )
    )
    names = variable_types(questionnaire, before_question="later")
    problems = validate('notes = "HIV"', names)
    assert problems and "free-text answer" in problems[0].message
    assert "column 1" in problems[0].message


@pytest.fixture
def draft(default_version, clinic_admin):
    return make_draft(source=default_version, actor=clinic_admin, ip_address=None)


def rule_form_data(draft, **changes):
    data = {
        "version": draft.pk,
        "position": 999,
        "code": "oracle",
        "title": "Oracle",
        "severity": "info",
        "when": 'questions_for_clinic = "I am HIV positive"',
        "message": "m",
        "rationale": "r",
        "source": "s",
        "superseded_by": "[]",
        "active": "on",
    }
    data.update(changes)
    return data


def test_the_admin_refuses_a_rule_on_free_text_beside_the_field(draft):
    form = RuleAdminForm(data=rule_form_data(draft))
    assert not form.is_valid()
    assert any("free-text answer" in error for error in form.errors["when"]), form.errors
    assert not Rule.objects.filter(code="oracle").exists()


def test_the_admin_refuses_a_show_when_on_free_text(draft):
    question = draft.questions.get(code="transport_home")
    form = QuestionAdminForm(
        data=form_data(question, show_when='psych_history_other = "x"'), instance=question
    )
    assert not form.is_valid()
    assert any("free-text answer" in error for error in form.errors["show_when"])
    section = draft.sections.order_by("position").last()
    form = SectionAdminForm(
        data={
            "version": draft.pk,
            "position": section.position + 1,
            "code": "extra",
            "title": "Extra",
            "intro": "",
            "show_when": 'psych_history_other = "x"',
        }
    )
    assert not form.is_valid()
    assert any("free-text answer" in error for error in form.errors["show_when"])


def test_the_loader_refuses_a_rule_on_free_text(tmp_path, default_version):
    text = without_translations(DEFAULT_CONTENT_FILE.read_text()).replace(
        "when: 'ketamine_allergy = yes'", "when: 'drug_allergy_list = \"ketamine\"'", 1
    )
    changed = tmp_path / "changed.yaml"
    changed.write_text(text)
    with pytest.raises(ContentError, match="rule ketamine_allergy: Cannot use .drug_allergy_list"):
        load_question_set(changed)
    assert (
        QuestionSetVersion.objects.published().filter(question_set__purpose="intake").get()
        == default_version
    )
