"""The default question set loads from its data file, idempotently, with valid expressions."""

import re

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from screening.engine.definitions import (
    DEFAULT_CHECK_IN_FILE,
    DEFAULT_CONTENT_FILE,
    ContentError,
    questionnaire_from_data,
    read_content,
)
from screening.models import RULE_TEXT_LIMITS, Drug, Question, QuestionSetVersion, Rule, User
from screening.services.content import load_question_set, rule_text_limits
from screening.services.intake import start_screening
from tests.factories import without_translations

pytestmark = pytest.mark.django_db


def test_loading_the_default_content_twice_changes_nothing(capsys):
    call_command("load_default_content")
    counts = (
        QuestionSetVersion.objects.count(),
        Question.objects.count(),
        Rule.objects.count(),
        Drug.objects.count(),
    )
    call_command("load_default_content")
    assert (
        QuestionSetVersion.objects.count(),
        Question.objects.count(),
        Rule.objects.count(),
        Drug.objects.count(),
    ) == counts
    output = capsys.readouterr().out
    assert "nothing changed" in output
    assert "0 entries added, 0 updated" in output


def test_the_default_content_covers_the_reference_question_codes(default_version):
    codes = set(default_version.questions.values_list("code", flat=True))
    expected = {
        "date_of_birth",
        "sex_at_birth",
        "height_cm",
        "weight_kg",
        "can_be_pregnant",
        "pregnant",
        "breastfeeding",
        "contraception",
        "cv_conditions",
        "neuro_conditions",
        "eye_conditions",
        "liver_kidney_conditions",
        "lung_sleep_conditions",
        "thyroid_overactive",
        "psych_history",
        "psychotic_symptoms_now",
        "elevated_mood_now",
        "family_psychosis",
        "sud_status",
        "ketamine_nonmedical_ever",
        "used_last_24h",
        "recreational_substances",
        "medications",
        "grapefruit",
        "ketamine_before",
        "ketamine_allergy",
        "ketamine_serious_reaction",
        "bp",
        "heart_rate",
        "transport_home",
        "trauma_exposure",
    }
    expected |= {f"phq9_{n}" for n in range(1, 10)} | {f"gad7_{n}" for n in range(1, 8)}
    expected |= {f"auditc_{n}" for n in range(1, 4)} | {f"pcl5_{n}" for n in range(1, 21)}
    assert expected <= codes


def test_scale_items_carry_their_scores(default_version):
    phq9_9 = default_version.questions.get(code="phq9_9")
    assert sorted(phq9_9.choices.values_list("score", flat=True)) == [0, 1, 2, 3]
    pcl5 = default_version.questions.get(code="pcl5_1")
    assert sorted(pcl5.choices.values_list("score", flat=True)) == [0, 1, 2, 3, 4]


def test_a_changed_file_publishes_a_new_version_and_old_screenings_keep_theirs(
    tmp_path, default_version, patient
):
    screening = start_screening(patient=patient)
    changed = tmp_path / "changed.yaml"
    changed.write_text(
        without_translations(DEFAULT_CONTENT_FILE.read_text()).replace(
            "What is your date of birth?", "Your date of birth?", 1
        )
    )
    new_version, created = load_question_set(changed)
    assert created
    default_version.refresh_from_db()
    assert default_version.status == QuestionSetVersion.Status.RETIRED
    assert new_version.status == QuestionSetVersion.Status.PUBLISHED
    screening.refresh_from_db()
    assert screening.version == default_version
    assert default_version.questions.get(code="date_of_birth").text == "What is your date of birth?"


@pytest.mark.parametrize(
    "questions, message",
    [
        (
            [
                {"code": "a", "kind": "yes_no", "text": "A?", "show_when": "b = yes"},
                {"code": "b", "kind": "yes_no", "text": "B?"},
            ],
            'Unknown question code "b"',
        ),
        ([{"code": "a", "kind": "colour", "text": "A?"}], "unknown kind"),
        ([{"code": "a", "kind": "single_choice", "text": "A?"}], "needs choices"),
        (
            [
                {
                    "code": "a",
                    "kind": "scale_item",
                    "text": "A?",
                    "choices": [{"value": "x", "label": "X"}],
                }
            ],
            "needs a score",
        ),
        (
            [
                {"code": "a", "kind": "yes_no", "text": "A?"},
                {"code": "a", "kind": "yes_no", "text": "A?"},
            ],
            "duplicate code",
        ),
    ],
)
def test_a_malformed_content_file_is_refused_with_its_place(questions, message):
    data = {
        "question_set": {"slug": "x", "name": "X"},
        "sections": [{"code": "s", "title": "S", "questions": questions}],
    }
    with pytest.raises(ContentError, match=message):
        questionnaire_from_data(data)


def test_demo_accounts_are_never_created_in_production(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="never created in production"):
        call_command("create_demo_accounts")
    assert not User.objects.exists()


def test_demo_accounts_print_how_to_log_in(capsys, settings):
    settings.DEBUG = True
    call_command("create_demo_accounts")
    out = capsys.readouterr().out
    for email in (
        "patient@example.com",
        "physician@example.com",
        "admin@example.com",
        "nurse@example.com",
    ):
        assert email in out


def test_demo_accounts_seed_a_queue_with_one_screening_of_each_level(settings):
    from screening.models import Screening

    settings.DEBUG = True
    call_command("create_demo_accounts")
    levels = list(
        Screening.objects.awaiting_review().in_queue_order().values_list("level", flat=True)
    )
    assert levels == ["urgent", "contraindicated", "caution", "info", ""]
    call_command("create_demo_accounts")  # idempotent
    assert Screening.objects.count() == 5


def test_demo_staff_can_log_in_with_the_printed_code(client, capsys, settings):
    from screening.demo import DEMO_PASSWORD

    settings.DEBUG = True
    call_command("create_demo_accounts")
    capsys.readouterr()
    call_command("demo_codes")
    codes = dict(line.split() for line in capsys.readouterr().out.splitlines()[:3])
    client.post("/login/", {"username": "physician@example.com", "password": DEMO_PASSWORD})
    client.post("/account/two-factor/", {"code": codes["physician@example.com"]})
    assert client.get("/staff/queue/").status_code == 200
    nurse = Client()
    nurse.post("/login/", {"username": "nurse@example.com", "password": DEMO_PASSWORD})
    assert nurse.get("/staff/sessions/")["Location"].startswith("/account/two-factor/")
    nurse.post("/account/two-factor/", {"code": codes["nurse@example.com"]})
    assert nurse.get("/staff/sessions/").status_code == 200
    assert nurse.get("/staff/queue/").status_code == 403


def test_demo_codes_are_never_shown_in_production(settings):
    from django.core.management.base import CommandError

    settings.DEBUG = False
    with pytest.raises(CommandError, match="never shown in production"):
        call_command("demo_codes")


def test_the_formulary_loader_refuses_combinations_nested_too_deep(tmp_path):
    # Issue 10, finding 7: the loader checks nesting as the admin does, before writing anything.
    from screening.services.content import load_formulary

    drugs = [{"name": "level0", "classes": ["none"]}]
    drugs += [{"name": f"level{n}", "components": [f"level{n - 1}"]} for n in range(1, 21)]
    path = tmp_path / "formulary.yaml"
    path.write_text(yaml.safe_dump({"classes": {"none": "no interaction"}, "drugs": drugs}))
    with pytest.raises(ContentError, match="nests combinations 4 deep"):
        load_formulary(path)
    assert not Drug.objects.filter(name__startswith="level").exists()


# Hostile content files (issue 10, finding 11) -------------------------------------------------

# The attack's shape: 414 bytes whose aliases expand to 9**9 (387 million) strings. Loading
# its 426-byte original took 10.7 s and 349 MB.
BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
"""


@pytest.mark.parametrize(
    "text, message",
    [
        (BILLION_LAUGHS, r"bomb\.yaml was refused: aliases \(\*name\) expand it to more than"),
        # Nested deeper than Python's stack: the composer recursed until RecursionError.
        ("x: " + "[" * 50_000 + "]" * 50_000, r"bomb\.yaml was refused: nested more than"),
        ("x: " + "{a: " * 30 + "1" + "}" * 30, r"bomb\.yaml was refused: nested more than"),
        # Shallow anchors that nest deep only once their aliases are expanded.
        (
            "a0: &a0 [1]\n"
            + "".join(f"a{n}: &a{n} [*a{n - 1}]\n" for n in range(1, 40))
            + "x: *a39\n",
            r"bomb\.yaml was refused: aliases \(\*name\) nest values more than",
        ),
        # An alias inside the value it names: the digest's json.dumps raised ValueError.
        ("x: &x [1, *x]\n", r"bomb\.yaml was refused: an alias \(\*name\) repeats a value"),
        ("x: " + "9" * 5000 + "\n", r"bomb\.yaml holds a value that cannot be read"),
        ("x: 2024-02-30\n", r"bomb\.yaml holds a value that cannot be read"),
        ("- just\n- a list\n", r"bomb\.yaml must hold a mapping"),
        ("x: [1, 2\n", r"bomb\.yaml is not valid YAML"),
    ],
    ids=[
        "billion-laughs",
        "deep-lists",
        "deep-mappings",
        "deep-through-aliases",
        "alias-inside-itself",
        "huge-integer",
        "impossible-date",
        "not-a-mapping",
        "broken",
    ],
)
def test_a_hostile_content_file_is_refused_quickly_naming_the_file(tmp_path, text, message):
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    with pytest.raises(ContentError, match=message):
        read_content(path)


def test_a_content_file_over_a_megabyte_is_refused_unparsed(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"x: '" + b"a" * (1024 * 1024) + b"'\n")
    with pytest.raises(ContentError, match=r"big\.yaml was refused: larger than 1,024 KB"):
        read_content(path)


def test_a_non_utf8_content_file_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("x: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ContentError, match=r"latin1\.yaml is not valid YAML"):
        read_content(path)


def test_aliases_within_the_bounds_still_load(tmp_path):
    """The default question set shares one list of choices between the PHQ-9 items."""
    path = tmp_path / "shared.yaml"
    path.write_text("a: &choices [{value: x, label: X}]\nb: *choices\nc: *choices\n")
    data, _ = read_content(path)
    assert data["b"] == data["c"] == [{"value": "x", "label": "X"}]


def test_load_default_content_refuses_the_attack_file_with_a_message(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(BILLION_LAUGHS)
    with pytest.raises(CommandError, match=r"bomb\.yaml was refused"):
        call_command("load_default_content", "--file", str(path))
    with pytest.raises(CommandError, match=r"bomb\.yaml was refused"):
        call_command("load_default_content", "--formulary", str(path))


# --- Clean clinical text (issue 13, item 4) -------------------------------------------------

CONTENT = read_content(DEFAULT_CONTENT_FILE)[0]
# The intake and the session check-in: every text of both is held to the same standard.
CONTENTS = (CONTENT, read_content(DEFAULT_CHECK_IN_FILE)[0])
# Words that only make sense to whoever wrote the file: section signs pointing into our own
# reference document, the design notes, reminders to check something.
INTERNAL_NOTES = re.compile(
    r"§|DESIGN\.md|verif|reference section|product decision|\bTODO\b|"
    r"clinical-reference",
    re.IGNORECASE,
)
# A bare short key of the reference's citation list ("SPR 7.1", "FDA-DDI", "CSSRS") instead
# of the full name of the label, guideline or paper.
BARE_KEY = re.compile(r"^[A-Z][A-Z0-9-]*(?:\s+[0-9][0-9.,\s]*)?$")


def physician_texts():
    for content in CONTENTS:
        for rule in content["rules"]:
            for field in ("title", "message", "rationale", "source"):
                yield f"rule {rule['code']} {field}", str(rule[field])
        for score in content["scores"]:
            yield f"score {score['code']} source", str(score["source"])
            for band in score["bands"]:
                yield f"score {score['code']} band", str(band["label"])


def patient_texts():
    for content in CONTENTS:
        for section in content["sections"]:
            yield f"section {section['code']}", f"{section['title']} {section.get('intro', '')}"
            for question in section["questions"]:
                text = f"{question['text']} {question.get('help', '')}"
                yield f"question {question['code']}", text
                for choice in question.get("choices") or []:
                    yield f"question {question['code']} choice", choice["label"]
        for rule in content["rules"]:
            if rule.get("patient_message"):
                yield f"rule {rule['code']} patient message", rule["patient_message"]


def test_nothing_a_physician_or_patient_reads_holds_an_internal_note():
    found = [
        f"{where}: {text}"
        for where, text in [*physician_texts(), *patient_texts()]
        if INTERNAL_NOTES.search(text)
    ]
    assert not found, "\n".join(found)


def test_rule_texts_name_other_rules_by_title_not_by_code():
    codes = {
        rule["code"] for content in CONTENTS for rule in content["rules"] if "_" in rule["code"]
    }
    found = [
        f"{where}: {code}"
        for where, text in physician_texts()
        for code in codes
        if re.search(rf"\b{code}\b", text)
    ]
    assert not found, "\n".join(found)


def test_every_source_cites_a_label_guideline_or_paper_by_its_full_name():
    bare = [
        f"{where}: {part.strip()!r}"
        for where, text in physician_texts()
        if where.endswith("source")
        for part in re.split(r";\s+(?=[A-Z])", text)
        if BARE_KEY.match(part.strip()) or len(part.split()) < 4
    ]
    assert not bare, "\n".join(bare)


def test_a_label_is_cited_with_its_section():
    labels = (
        "Spravato (esketamine) nasal spray, US prescribing information",
        "Ketalar (ketamine) injection, US prescribing information",
        "Ketalar, UK summary of product characteristics",
    )
    missing = [
        f"{where}: {part.strip()}"
        for where, text in physician_texts()
        if where.endswith("source")
        for part in re.split(r";\s+(?=[A-Z])", text)
        if part.strip().startswith(labels) and not re.search(r"section|boxed warning", part)
    ]
    assert not missing, "\n".join(missing)


def test_every_suicide_risk_question_about_thoughts_names_the_past_month():
    """A plan from years ago is not a plan now: the screener asks about the past month."""
    questions = {
        question["code"]: question["text"]
        for section in CONTENT["sections"]
        for question in section["questions"]
    }
    for code in (
        "suicide_wish_dead",
        "suicide_thoughts",
        "suicide_method",
        "suicide_intent",
        "suicide_plan",
    ):
        assert questions[code].startswith("In the past month,"), code
    assert "past 3 months" in questions["suicide_behaviour_3m"]


def test_the_consent_page_explains_the_esketamine_safety_program_in_short_sentences():
    consent = next(s for s in CONTENT["sections"] if s["code"] == "consent")["intro"]
    assert "You can only get it through a safety program called the REMS." in consent
    assert "you are enrolled before your first dose" not in consent


# Rule texts have limits (the retest after issue 10, finding F) ---------------------------


def test_the_limits_on_rule_texts_are_well_above_every_default_text():
    data, _ = read_content(DEFAULT_CONTENT_FILE)
    limits = rule_text_limits()
    for name, limit in limits.items():
        longest = max(len(str(rule.get(name) or "").strip()) for rule in data["rules"])
        assert 0 < longest * 1.5 <= limit, (name, longest, limit)


@pytest.mark.parametrize("field", ["message", "rationale", "source", "title"])
def test_the_content_loader_refuses_a_rule_text_over_its_limit(tmp_path, field):
    data, _ = read_content(DEFAULT_CONTENT_FILE)
    data["rules"][0][field] = "x" * 5000
    data["question_set"].pop("languages")  # its texts changed: no translations offered
    path = tmp_path / "long.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    code = data["rules"][0]["code"]
    limit = rule_text_limits()[field]
    with pytest.raises(
        ContentError, match=rf"rule {code}: {field} is 5,000 characters long; at most {limit:,}"
    ):
        load_question_set(path)


def test_the_database_refuses_a_rule_text_over_its_limit(default_version):
    from django.db import IntegrityError, transaction

    rule = default_version.rules.first()
    for name, limit in RULE_TEXT_LIMITS.items():
        with pytest.raises(IntegrityError), transaction.atomic():
            Rule.objects.filter(pk=rule.pk).update(**{name: "x" * (limit + 1)})


def test_question_kinds_and_severities_are_written_once_in_the_engine():
    from screening.engine.questionnaire import QuestionKind
    from screening.engine.severity import Severity
    from screening.models import Flag, Question, Rule

    assert Question._meta.get_field("kind").choices == QuestionKind.choices()
    assert Rule._meta.get_field("severity").choices == Severity.choices()
    assert Flag._meta.get_field("severity").choices == Severity.choices()


@pytest.mark.django_db
def test_a_new_version_is_numbered_one_past_the_highest():
    from screening.models import QuestionSet, QuestionSetVersion

    question_set = QuestionSet.objects.create(slug="numbers", name="Numbers")
    assert question_set.next_version_number() == 1
    QuestionSetVersion.objects.create(question_set=question_set, number=3)
    QuestionSetVersion.objects.create(question_set=question_set, number=1)
    assert question_set.next_version_number() == 4
