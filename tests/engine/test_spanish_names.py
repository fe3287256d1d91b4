"""Spanish generic names are recognised as the English ones, and the rules fire the same (issue 17).

The list (data/typed_medications_es.yaml) gives each drug's Spanish generic name (DCI) and the
formulary entry it stands for; it is judged as bench/recognition.py judges the English list.
"""

import datetime
from pathlib import Path

import pytest
import yaml

from bench.recognition import FORMULARY_FILE, measure, report, summary, typed_cases
from screening.engine.definitions import (
    DEFAULT_CHECK_IN_FILE,
    DEFAULT_CONTENT_FILE,
    DEFAULT_FORMULARY_FILE,
    default_ruleset_from_files,
)
from screening.engine.medications import Formulary, recognise_all
from screening.engine.resolver import shared_dictionary

from .test_default_rules import answers, codes, flag_named, shown_typed, typed_list

SPANISH_FILE = Path(__file__).resolve().parent / "data" / "typed_medications_es.yaml"
TODAY = datetime.date(2026, 11, 23)


def formulary_data():
    return yaml.safe_load(FORMULARY_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def dictionary():
    dictionary = shared_dictionary()
    assert dictionary is not None, "drug-named-entity-recognition is in requirements.txt"
    return dictionary


@pytest.fixture(scope="module")
def formulary(dictionary):
    """As the app builds it: the formulary, with the broad dictionary under it."""
    return Formulary.from_data(formulary_data(), dictionary)


@pytest.fixture(scope="module")
def formulary_alone():
    return Formulary.from_data(formulary_data())


# --- The whole list ----------------------------------------------------------------------------


def test_the_list_names_over_200_drugs_of_every_ketamine_relevant_group():
    cases = typed_cases(SPANISH_FILE)
    assert len(cases) >= 200
    groups = {group for group, _, _ in cases}
    assert {"cyp3a4_inhibitors", "cyp_inducers", "opioids", "maois", "as_typed"} <= groups
    assert len({typed for _, typed, _ in cases}) == len(cases)


def test_every_spanish_name_is_recognised_as_its_generic(formulary, dictionary):
    outcomes = measure(formulary, dictionary, SPANISH_FILE)
    assert summary(outcomes)["right"] == len(outcomes), report(outcomes)


def test_every_spanish_name_is_in_the_formulary_itself(formulary_alone):
    # Not left to the broad dictionary, which knows only some of them and sends "toronja" to
    # grapefruit oil (no class) and "fentanilo" to nothing.
    for group, typed, expected in typed_cases(SPANISH_FILE):
        if group == "as_typed":
            continue
        match = formulary_alone.recognise(typed)
        assert (match.drug, match.method) == (expected[0], "synonym"), typed


# --- The names the issue gives, each giving the classes of its English name -----------------

SPANISH_AND_ENGLISH = [
    ("paracetamol", "paracetamol"),
    ("ibuprofeno", "ibuprofen"),
    ("claritromicina 500 mg dos veces al día", "clarithromycin"),
    ("alprazolam", "alprazolam"),
    ("lorazepam", "lorazepam"),
    ("fenelzina", "phenelzine"),
    ("metilfenidato", "methylphenidate"),
    ("oxicodona", "oxycodone"),
    ("tramadol", "tramadol"),
    ("fluvoxamina", "fluvoxamine"),
    ("codeína", "codeine"),
]


def written_every_way(text):
    folded = text.translate(str.maketrans("áéíóúüñ", "aeiouun"))
    return [text, folded, text.upper(), folded.upper(), text.title()]


@pytest.mark.parametrize(("spanish", "english"), SPANISH_AND_ENGLISH)
def test_a_spanish_name_is_the_generic_with_its_classes_however_it_is_written(
    formulary, spanish, english
):
    expected = formulary.recognise(english)
    assert expected.drug == english
    for typed in written_every_way(spanish):
        [match] = recognise_all(formulary, [typed])
        assert (match.drug, match.classes) == (english, expected.classes), typed
        assert match.typed == typed


@pytest.mark.parametrize(
    ("typed", "drug"),
    [
        ("claritromicína", "clarithromycin"),
        ("CLARITROMICINA", "clarithromycin"),
        ("codeina", "codeine"),
        ("CODEINA", "codeine"),
        ("CODEÍNA", "codeine"),
        ("Fenitoína", "phenytoin"),
        ("ácido acetilsalicílico", "aspirin"),
        ("acido acetilsalicilico", "aspirin"),
    ],
)
def test_accents_and_case_do_not_matter(formulary, typed, drug):
    assert formulary.recognise(typed).drug == drug


def test_spanish_doses_and_frequencies_are_not_read_as_names(formulary):
    match = formulary.recognise("claritromicina 500 mg dos veces al día")
    assert (match.drug, match.normalised) == ("clarithromycin", "claritromicina")
    assert formulary.recognise("Codeína 30mg cada 6 horas por la noche").normalised == "codeina"
    # "3 veces al día" is how often, not Tylenol #3 (with codeine)
    assert formulary.recognise("Tylenol 3 veces al día").drug == "paracetamol"
    assert formulary.recognise("Tylenol #3").drug == "paracetamol/codeine"


def test_a_row_of_two_drugs_joined_by_y_names_both_and_reports_an_unknown_one(formulary):
    both = recognise_all(formulary, ["loratadina y pseudoefedrina"])
    assert {match.drug for match in both} == {"loratadine", "pseudoephedrine"}
    known, unknown = recognise_all(formulary, ["Xanax y Blorbex"])
    assert (known.drug, unknown.recognised) == ("alprazolam", False)
    # an instruction after a comma is not a drug
    assert [m.drug for m in recognise_all(formulary, ["alprazolam, para dormir"])] == ["alprazolam"]


@pytest.mark.parametrize(
    ("typed", "drug"),
    [
        ("ketoconazol 200 mg", "ketoconazole"),  # the tablet: a strong CYP3A4 inhibitor
        ("ketoconazol champú", "ketoconazole topical"),
        ("ketoconazol crema", "ketoconazole topical"),
        ("fluticasona spray nasal", "fluticasone nasal"),
        ("fluticasona inhalador", "fluticasone inhaler"),
        ("budesonida inhalada", "budesonide inhaler"),
        ("ciclosporina", "ciclosporin"),
        ("ciclosporina colirio", "ciclosporin eye drops"),
        ("fluticasona", None),  # a nasal spray or an inhaler: not guessed, as in English
    ],
)
def test_spanish_form_words_choose_the_form_as_english_ones_do(formulary, typed, drug):
    assert formulary.recognise(typed).drug == drug


@pytest.mark.parametrize(
    ("typed", "drug"),
    [
        ("toronja", "grapefruit"),  # the dictionary alone says "grapefruit oil", with no class
        ("jugo de toronja", "grapefruit"),
        ("zumo de pomelo", "grapefruit"),  # Spain's word for grapefruit
        ("pomelo", "pomelo"),  # English pomelo, still a CYP3A4 inhibitor
        ("noretisterona", "norethindrone"),  # the dictionary alone: elagolix/estradiol/...
        ("colecalciferol", "vitamin d"),
        ("dipirona", "metamizole"),
    ],
)
def test_names_the_dictionary_would_send_elsewhere_are_the_formularys(formulary, typed, drug):
    assert formulary.recognise(typed).drug == drug


# --- The rules fire as for the English name ------------------------------------------------


@pytest.fixture(scope="module")
def intake_rules():
    return default_ruleset_from_files()


@pytest.mark.parametrize(
    ("spanish", "english", "code"),
    [
        ("claritromicina", "clarithromycin", "cyp3a4_strong_inhibitor"),
        ("claritromicina 500 mg dos veces al día", "Biaxin 500 mg bid", "cyp3a4_strong_inhibitor"),
        ("fluvoxamina 100 mg", "fluvoxamine 100 mg", "cyp3a4_moderate_inhibitor"),
        ("oxicodona", "oxycodone", "opioid"),
        ("codeina 30 mg", "codeine 30 mg", "opioid"),
        ("fenelzina", "phenelzine", "maoi"),
        ("metilfenidato", "methylphenidate", "psychostimulant"),
        ("carbamazepina", "carbamazepine", "cyp_inducer"),
    ],
)
def test_an_intake_answer_in_spanish_raises_the_flag_of_the_english_one(
    intake_rules, spanish, english, code
):
    in_english = intake_rules.evaluate(answers(medications=typed_list(english)), TODAY)
    in_spanish = intake_rules.evaluate(answers(medications=typed_list(spanish)), TODAY)
    assert code in codes(in_english)
    assert codes(in_spanish) == codes(in_english)
    flag = flag_named(in_spanish, code)
    assert (flag.severity, flag.title) == (flag_named(in_english, code).severity, flag.title)
    assert shown_typed(flag) == [spanish]


def test_alprazolam_and_oxicodona_raise_the_combination_flag(intake_rules):
    result = intake_rules.evaluate(
        answers(medications=typed_list("alprazolam 0.5 mg en la noche", "oxicodona 5 mg")),
        TODAY,
    )
    assert {"benzodiazepine", "opioid", "multiple_cns_depressants"} <= set(codes(result))


def test_a_check_in_answer_claritromicina_raises_the_cyp3a4_flag(intake_rules):
    check_in = default_ruleset_from_files(
        DEFAULT_CHECK_IN_FILE, DEFAULT_FORMULARY_FILE, baseline_path=DEFAULT_CONTENT_FILE
    )
    calm = {
        "new_health_problem": "no",
        "hospital_stay": "no",
        "medicines_stopped": "no",
        "used_last_24h": "no",
        "grapefruit_last_24h": "no",
        "last_ate": "over_6_hours",
        "last_drank": "over_2_hours",
        **{f"phq9_{item}": "not_at_all" for item in range(1, 10)},
        "suicide_wish_dead": "no",
        "suicide_thoughts": "no",
        "suicide_behaviour_ever": "no",
        "transport_home": "yes",
        "pregnant": "no",
        "medicines_started": "yes",
    }
    baseline = {"sex_at_birth": "female", "can_be_pregnant": "yes", "pregnant": "no"}
    for typed in ("claritromicina 500 mg", "clarithromycin 500 mg"):
        started = {"rows": [{"name": typed, "dose": "", "frequency": ""}], "none": False}
        evaluation = check_in.evaluate(
            {**calm, "medications_started": started}, TODAY, baseline_answers=baseline
        )
        assert {flag.code for flag in evaluation.flags} == {"cyp3a4_strong_inhibitor"}, typed


@pytest.mark.parametrize(
    ("typed", "generic"),
    [
        ("bromuro de ipratropio", "ipratropium"),
        ("carbonato de calcio 500 mg", "calcium carbonate"),
        ("dinitrato de isosorbida", "isosorbide dinitrate"),
        ("peróxido de benzoilo", "benzoyl peroxide"),
        ("Klor-Con", "potassium"),
    ],
)
def test_a_dictionary_name_holding_a_dropped_spanish_word_is_kept_whole(formulary, typed, generic):
    # "de", "con" and "y" are dropped from "dos veces al día", but not from these names
    assert formulary.recognise(typed).drug == generic


def test_filler_words_and_numbers_are_never_read_as_a_dictionary_name(formulary):
    # the dictionary lists "Y-93" (nicardipine) and "POR-8" (ornipressin)
    for typed in ("paracetamol por 8", "ibuprofeno por 8 días y 93 mg"):
        assert [m.drug for m in recognise_all(formulary, [typed])] == [
            formulary.recognise(typed.split()[0]).drug
        ], typed
