"""Recognising what patients type against the real formulary (content/formulary.yaml)."""

import dataclasses
import re
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from rapidfuzz.distance import OSA

from screening.engine import medications
from screening.engine.expressions import parse, validate
from screening.engine.medications import (
    FUZZY_THRESHOLD,
    Drug,
    Formulary,
    make_takes_spec,
    make_unrecognised_spec,
    matches_for,
    recognise_all,
    tokenize,
)

FORMULARY_FILE = Path(__file__).resolve().parents[2] / "content" / "formulary.yaml"


@pytest.fixture(scope="module")
def formulary():
    return Formulary.from_data(yaml.safe_load(FORMULARY_FILE.read_text(encoding="utf-8")))


def words(text):
    return text.split()


def drug_of(formulary, typed, **options):
    return formulary.recognise(typed, **options).drug


# --- The brief's examples -------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, drug, method",
    [
        ("Biaxin 500 mg bid", "clarithromycin", "brand"),
        ("clarithromicin", "clarithromycin", "synonym"),
        ("Xanax", "alprazolam", "brand"),
        ("st john's wort", "st johns wort", "exact"),
        ("grapefruit juice daily", "grapefruit", "synonym"),
        ("Tylenol PM", "paracetamol/diphenhydramine", "brand"),
        ("ketoconazole shampoo", "ketoconazole topical", "synonym"),
        ("Flonase", "fluticasone nasal", "brand"),
        ("fluticasone inhaler", "fluticasone inhaler", "exact"),
        ("Percocet 5/325 q6h prn", "oxycodone/paracetamol", "brand"),
        ("fentanyl patch", "fentanyl", "synonym"),
        ("Emsam patch", "selegiline", "synonym"),
    ],
)
def test_the_examples_patients_type_are_recognised(formulary, typed, drug, method):
    match = formulary.recognise(typed)
    assert (match.drug, match.method, match.score) == (drug, method, 100.0)
    assert match.typed == typed


def test_coke_in_the_medication_list_is_not_guessed(formulary):
    match = formulary.recognise("coke")
    assert (match.drug, match.method, match.score) == (None, "none", 0.0)


# --- Brands, misspellings, doses, punctuation -------------------------------------------------


@pytest.mark.parametrize(
    "typed, drug",
    [
        ("Biaxin", "clarithromycin"),
        ("Biaxin XL", "clarithromycin"),
        ("Xanax XR", "alprazolam"),
        ("Klonopin", "clonazepam"),
        ("Adderall", "amphetamine"),
        ("Vyvanse", "lisdexamfetamine"),
        ("Nardil", "phenelzine"),
        ("Plavix", "clopidogrel"),
        ("Synthroid", "levothyroxine"),
        ("Lamictal", "lamotrigine"),
        ("Spravato", "esketamine"),
        ("Ambien", "zolpidem"),
        ("Seroquel XR", "quetiapine"),
        ("Wellbutrin XL", "bupropion"),
        ("Lexapro", "escitalopram"),
        ("Sudafed", "pseudoephedrine"),
        ("Sudafed PE", "phenylephrine"),
        ("Toprol XL", "metoprolol succinate"),
    ],
)
def test_brand_names_map_to_their_generic(formulary, typed, drug):
    match = formulary.recognise(typed)
    assert (match.drug, match.method) == (drug, "brand")


@pytest.mark.parametrize(
    "typed, drug",
    [
        ("clarithromicin", "clarithromycin"),
        ("xanex", "alprazolam"),
        ("alprazalam", "alprazolam"),
        ("aderall", "amphetamine"),
        ("tramadole", "tramadol"),
        ("lorazapam", "lorazepam"),
        ("gabapentine", "gabapentin"),
        ("seroquil", "quetiapine"),
        ("klonipin", "clonazepam"),
        ("vyvance", "lisdexamfetamine"),
        ("percoset", "oxycodone/paracetamol"),
    ],
)
def test_misspellings_listed_in_the_formulary_match_exactly(formulary, typed, drug):
    match = formulary.recognise(typed)
    assert (match.drug, match.method, match.score) == (drug, "synonym", 100.0)


@pytest.mark.parametrize(
    "typed, drug",
    [
        ("sertaline", "sertraline"),  # letter left out
        ("clarithromicyn", "clarithromycin"),  # two slips in a 14-letter name
        ("alprazolan", "alprazolam"),  # letter changed
        ("Zolof", "sertraline"),  # a 6-letter brand with a letter left out
        ("Ativam", "lorazepam"),  # a 6-letter brand with a letter changed: 83.3
        ("Lexipro", "escitalopram"),
        ("welbutrin", "bupropion"),
        ("klonopine", "clonazepam"),
        ("lamotrigin", "lamotrigine"),
        ("quetiapin", "quetiapine"),
        ("lisinipril", "lisinopril"),
        ("metfromin", "metformin"),  # two letters swapped count as one slip
        ("Welbutrin XR 150", "bupropion"),  # fuzzy on the word, release suffix dropped
        ("ketokonazole gel", "ketoconazole topical"),  # fuzzy, and the form still applies
        ("fishoil", "fish oil"),
        ("I take welbutrin for depression", "bupropion"),
    ],
)
def test_slips_of_the_pen_are_recognised_by_fuzzy_matching(formulary, typed, drug):
    match = formulary.recognise(typed)
    assert (match.drug, match.method) == (drug, "fuzzy")
    assert FUZZY_THRESHOLD <= match.score < 100


@pytest.mark.parametrize(
    "typed, drug",
    [
        ("Biaxin 500mg twice a day", "clarithromycin"),
        ("xanax 0.5mg prn", "alprazolam"),
        ("Percocet 5/325 q6h", "oxycodone/paracetamol"),
        ("Lexapro 10 mg once a day", "escitalopram"),
        ("I take Xanax at night", "alprazolam"),
        ("lisinopril 20mg qam", "lisinopril"),
        ("Adderall XR 20 mg every morning", "amphetamine"),
        ("clarithromycin 500 mg x 14 days", "clarithromycin"),
        ("melatonin 3 mg at bedtime", "melatonin"),
        ("Vitamin D3 2000 IU daily", "vitamin d"),
        ("Fish oil 1,000 mg", "fish oil"),
        ("levothyroxine 50 µg", "levothyroxine"),
        ("gabapentin 300 mg three times a day as needed", "gabapentin"),
        ("Tylenol 4 times a day", "paracetamol"),  # a frequency, not Tylenol #4
        ("tylenol at 9 pm", "paracetamol"),  # a time, not Tylenol PM
        ("Tylenol 500mg PM", "paracetamol/diphenhydramine"),
        ("Flovent HFA 2 puffs bid", "fluticasone inhaler"),
    ],
)
def test_doses_and_frequencies_never_get_in_the_way(formulary, typed, drug):
    assert drug_of(formulary, typed) == drug


@pytest.mark.parametrize(
    "typed, normalised",
    [
        ("Biaxin 500 mg bid", "biaxin"),
        ("grapefruit juice daily", "grapefruit juice"),
        ("Tylenol #3", "tylenol 3"),
        ("I take Xanax at night", "xanax"),
        ("ST. JOHN'S WORT", "st johns wort"),
        ("xanax 0.5mg prn", "xanax"),
        ("Percocet 5/325 q6h prn", "percocet"),
        ("orange juice", "orange"),
        ("500 mg", ""),
    ],
)
def test_normalisation_keeps_only_what_names_the_drug(formulary, typed, normalised):
    assert formulary.recognise(typed).normalised == normalised


@pytest.mark.parametrize(
    "typed, drug",
    [
        ("ST. JOHN'S WORT", "st johns wort"),
        ("St Johns Wort", "st johns wort"),
        ("st john\u2019s wort", "st johns wort"),
        ("Saint John's-wort", "st johns wort"),
        ("XANAX!!!", "alprazolam"),
        ("  xanax  ", "alprazolam"),
        ("Xanax (alprazolam)", "alprazolam"),
        ("Claritin-D", "loratadine/pseudoephedrine"),
        ("claritin d 12 hour", "loratadine/pseudoephedrine"),
        ("E.E.S.", "erythromycin"),
        ("Tylenol #3", "paracetamol/codeine"),
        ("tylenol 3", "paracetamol/codeine"),
        ("Tylenol #3 3 times daily", "paracetamol/codeine"),
        ("Tylenol with Codeine", "paracetamol/codeine"),
        ("Tylenol w/ codeine", "paracetamol/codeine"),
        ("tylenol and codeine", "paracetamol/codeine"),
        ("Advil Cold and Sinus", "ibuprofen/pseudoephedrine"),
        ("Théo-24", "theophylline"),
    ],
)
def test_punctuation_case_and_accents_do_not_matter(formulary, typed, drug):
    assert drug_of(formulary, typed) == drug


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("St. John's Wort", ["st", "johns", "wort"]),
        ("Percocet 5/325mg", ["percocet", "5", "325", "mg"]),
        ("xanax 0.5mg", ["xanax", "0.5", "mg"]),
        ("Tylenol #3", ["tylenol", "3"]),
        ("ketoconazole 2%", ["ketoconazole", "2", "%"]),
        ("Fish oil 1,000 mg", ["fish", "oil", "1,000", "mg"]),
    ],
)
def test_tokens_are_words_and_whole_numbers(text, tokens):
    assert tokenize(text) == tokens


# --- Combinations ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, components",
    [
        ("Percocet", {"oxycodone", "paracetamol"}),
        ("Tylenol PM", {"diphenhydramine", "paracetamol"}),
        ("Robitussin DM", {"dextromethorphan", "guaifenesin"}),
        ("Auvelity", {"dextromethorphan", "bupropion"}),
        ("Contrave", {"naltrexone", "bupropion"}),
        ("Suboxone", {"buprenorphine", "naloxone"}),
        ("Qsymia", {"phentermine", "topiramate"}),
        ("Paxlovid", {"nirmatrelvir", "ritonavir"}),
        ("Fioricet", {"butalbital", "caffeine", "paracetamol"}),
        ("Claritin-D", {"loratadine", "pseudoephedrine"}),
        ("Tylenol #3", {"paracetamol", "codeine"}),
    ],
)
def test_combination_brands_stand_for_every_component(formulary, typed, components):
    match = formulary.recognise(typed)
    assert set(match.components) == components
    assert match.classes == frozenset().union(*(formulary.classes_of(c) for c in components))


@pytest.mark.parametrize(
    "typed, drug_class",
    [
        ("Percocet", "opioid"),
        ("Tylenol PM", "sedating_other"),
        ("Robitussin DM", "nmda_antagonist"),
        ("Auvelity", "nmda_antagonist"),
        ("Contrave", "opioid_antagonist"),
        ("Suboxone", "opioid"),
        ("Qsymia", "sympathomimetic"),
        ("Paxlovid", "cyp3a4_strong_inhibitor"),
        ("Fioricet", "sedative_hypnotic"),
        ("Claritin-D", "sympathomimetic"),
    ],
)
def test_a_combination_carries_its_components_classes(formulary, typed, drug_class):
    assert drug_class in formulary.recognise(typed).classes


def test_a_single_drug_stands_for_itself(formulary):
    match = formulary.recognise("Xanax")
    assert match.components == ("alprazolam",)
    assert formulary.components_of("alprazolam") == ("alprazolam",)


# --- Forms: topical vs oral, nasal vs inhaled -------------------------------------------------


@pytest.mark.parametrize(
    "typed, drug",
    [
        ("ketoconazole shampoo", "ketoconazole topical"),
        ("ketoconazole cream", "ketoconazole topical"),
        ("ketoconazole 2% gel", "ketoconazole topical"),
        ("ketoconazole 2%", "ketoconazole topical"),
        ("shampoo with ketoconazole", "ketoconazole topical"),
        ("Nizoral shampoo", "ketoconazole topical"),
        ("Nizoral A-D", "ketoconazole topical"),
        ("triamcinolone 0.1% cream", "triamcinolone topical"),
    ],
)
def test_topical_ketoconazole_is_never_the_oral_inhibitor(formulary, typed, drug):
    match = formulary.recognise(typed)
    assert match.drug == drug
    assert "cyp3a4_strong_inhibitor" not in match.classes


@pytest.mark.parametrize(
    "typed",
    [
        "Nizoral tablets",
        "ketoconazole 200 mg",
        "ketoconazole",
        "Nizoral 200mg",
        "oral ketoconazole",
    ],
)
def test_oral_ketoconazole_is_a_strong_cyp3a4_inhibitor(formulary, typed):
    match = formulary.recognise(typed)
    assert match.drug == "ketoconazole"
    assert "cyp3a4_strong_inhibitor" in match.classes


@pytest.mark.parametrize(
    "typed, drug, nasal",
    [
        ("Flonase", "fluticasone nasal", True),
        ("Flonase nasal spray 2 sprays daily", "fluticasone nasal", True),
        ("fluticasone nasal spray", "fluticasone nasal", True),
        ("fluticasone spray", "fluticasone nasal", True),
        ("Nasacort", "triamcinolone nasal", True),
        ("budesonide nose spray", "budesonide nasal", True),
        ("Afrin", "oxymetazoline", True),
        ("fluticasone inhaler", "fluticasone inhaler", False),
        ("Flovent", "fluticasone inhaler", False),
        ("fluticasone inhaled 2 puffs", "fluticasone inhaler", False),
        ("budesonide inhaler", "budesonide inhaler", False),
        ("Pulmicort", "budesonide inhaler", False),
    ],
)
def test_nasal_sprays_are_told_apart_from_inhalers(formulary, typed, drug, nasal):
    match = formulary.recognise(typed)
    assert match.drug == drug
    assert ("nasal_spray" in match.classes) is nasal


@pytest.mark.parametrize(
    "typed", ["fluticasone", "budesonide", "mometasone", "triamcinolone", "Nizoral", "steroid"]
)
def test_a_name_that_could_be_a_nasal_spray_or_an_inhaler_is_left_to_the_physician(
    formulary, typed
):
    # Safer than a guess: unrecognised_medication asks a physician to check what it is.
    match = formulary.recognise(typed)
    assert (match.drug, match.method) == (None, "none")


# --- Slang, only in the recreational list ---------------------------------------------------


@pytest.mark.parametrize(
    "typed, drug, drug_class",
    [
        ("coke", "cocaine", "psychostimulant"),
        ("coke", "cocaine", "illicit"),
        ("coke on weekends", "cocaine", "illicit"),
        ("weed", "cannabis", "cannabis"),
        ("smoke weed", "cannabis", "cannabis"),
        ("molly", "mdma", "sympathomimetic"),
        ("E", "mdma", "hallucinogen"),
        ("special K", "ketamine", "ketamine_product"),
        ("crystal meth", "methamphetamine", "psychostimulant"),
        ("shrooms", "psilocybin", "hallucinogen"),
    ],
)
def test_street_names_count_in_the_recreational_list(formulary, typed, drug, drug_class):
    [match] = recognise_all(formulary, [], [typed])
    assert (match.drug, match.method) == (drug, "slang")
    assert drug_class in match.classes


@pytest.mark.parametrize("typed", ["coke", "weed", "molly", "E", "meth", "pot", "special K"])
def test_street_names_mean_nothing_in_the_medication_list(formulary, typed):
    [match] = recognise_all(formulary, [typed])
    assert match.drug is None


@pytest.mark.parametrize(
    "typed, drug",
    [("cocaine", "cocaine"), ("marijuana", "cannabis"), ("a few beers on weekends", "alcohol")],
)
def test_the_recreational_list_also_knows_proper_names(formulary, typed, drug):
    [match] = recognise_all(formulary, [], [typed])
    assert match.drug == drug


def test_a_one_letter_street_name_must_be_the_whole_entry(formulary):
    [match] = recognise_all(formulary, [], ["vitamin E"])
    assert match.drug is None


# --- Common medicines with no interaction ---------------------------------------------------


@pytest.mark.parametrize(
    "typed, drug",
    [
        ("Lexapro", "escitalopram"),
        ("sertraline", "sertraline"),
        ("lisinopril", "lisinopril"),
        ("metformin", "metformin"),
        ("vitamin D", "vitamin d"),
        ("fish oil", "fish oil"),
        ("omega-3", "fish oil"),
        ("melatonin", "melatonin"),
        ("the pill", "combined oral contraceptive"),
        ("birth control pills", "combined oral contraceptive"),
    ],
)
def test_common_medicines_are_recognised_as_no_interaction(formulary, typed, drug):
    match = formulary.recognise(typed)
    assert (match.drug, match.classes) == (drug, frozenset({"none"}))


# --- Unrecognised --------------------------------------------------------------------------

UNRECOGNISED = [
    "coke",
    "my blue pill",
    "asdfgh",
    "water pill",
    "vitamins",
    "meth",
    "pot",
    "E",
    "Vitamin C",  # one letter from "vitamin d", but a different vitamin
    "omega 6",
    "lozapine",  # one slip from loxapine and one from clozapine: do not guess
    "epixol",  # one slip from Epitol (carbamazepine) and one from Depixol (flupentixol)
    "azithromycin",  # two edits from erythromycin, at the start: a different drug
    "esomeprazole",
    "lansoprazole",
    "birth control",
    "500 mg",
]


@pytest.mark.parametrize("typed", UNRECOGNISED)
def test_unknown_entries_are_kept_and_reported_unrecognised(formulary, typed):
    match = formulary.recognise(typed)
    assert match.typed == typed
    assert (match.drug, match.components, match.classes) == (None, (), frozenset())
    assert (match.method, match.score) == ("none", 0.0)
    assert match.score < FUZZY_THRESHOLD
    assert not match.recognised


# Common words and real drugs the formulary does not list: none may be fuzzy-matched to a drug.
NOT_IN_FORMULARY = words("""
    coke pot meth vitamins water blood sleep allergy painkiller nothing coffee tea therapy
    ashwagandha turmeric kratom collagen probiotic insulin ozempic prednisone hydrocortisone
    estradiol testosterone clozapine risperidone haloperidol amitriptyline nortriptyline
    fluvoxamine hydralazine atenolol carvedilol valsartan enalapril fosinopril simvastatin
    pravastatin lovastatin warfarin apixaban levetiracetam valacyclovir doxycycline
    ciprofloxacin famotidine esomeprazole lansoprazole rabeprazole loperamide meloxicam
    celecoxib rizatriptan terbinafine clotrimazole hydroxychloroquine triazolam midazolam
    clobazam flurazepam estazolam oxcarbazepine eslicarbazepine azithromycin clindamycin
    nifedipine propofol epinephrine glucagon olopatadine rufinamide felodipine
""")


@pytest.mark.parametrize("typed", NOT_IN_FORMULARY)
def test_unrelated_words_and_unlisted_drugs_are_never_fuzzy_matched(formulary, typed):
    assert formulary.recognise(typed).method in {"none", "exact", "brand", "synonym"}


def test_the_threshold_takes_one_slip_in_six_letters_but_not_two_in_eleven():
    one_in_six = 100 * OSA.normalized_similarity("ativam", "ativan")
    two_in_eleven = 100 * OSA.normalized_similarity("olopatadine", "loratadine")
    assert two_in_eleven < FUZZY_THRESHOLD <= one_in_six


def _one_letter_slips(word):
    slips = set()
    for i in range(len(word)):
        slips.add(word[:i] + word[i + 1 :])  # left out
        slips.add(word[:i] + word[i] + word[i:])  # doubled
        slips.add(word[:i] + ("x" if word[i] != "x" else "z") + word[i + 1 :])  # changed
        if i + 1 < len(word):
            slips.add(word[:i] + word[i + 1] + word[i] + word[i + 2 :])  # swapped
    slips.discard(word)
    return slips


def test_one_letter_slips_of_names_of_six_letters_or_more_are_never_another_drug(formulary):
    recognised = refused = 0
    wrong = []
    for drug in formulary.drugs.values():
        for name in (drug.name, *drug.brands):
            if not (name.isalpha() and len(name) >= 6):
                continue
            for slip in _one_letter_slips(name.lower()):
                match = formulary.recognise(slip)
                if match.drug == drug.name:
                    recognised += 1
                elif match.drug is None:
                    refused += 1  # e.g. "oiazepam": as close to oxazepam as to diazepam
                else:
                    wrong.append((slip, match.drug))
    assert wrong == []
    assert recognised > 5000
    assert refused <= recognised / 500


# --- Several drugs typed in one row -----------------------------------------------------------


@pytest.mark.parametrize(
    "typed, drugs",
    [
        ("Xanax and Ambien", ["alprazolam", "zolpidem"]),
        ("Claritin + Sudafed", ["loratadine", "pseudoephedrine"]),
        ("Percocet (oxycodone)", ["oxycodone/paracetamol"]),
        ("Xanax, Xanax XR", ["alprazolam"]),
        ("Lexapro escitalopram 10mg", ["escitalopram"]),
    ],
)
def test_a_row_naming_several_drugs_gives_one_match_each(formulary, typed, drugs):
    matches = recognise_all(formulary, [{"name": typed, "dose": "", "frequency": ""}])
    assert [match.drug for match in matches] == drugs
    assert all(match.typed == typed for match in matches)


# --- recognise_all --------------------------------------------------------------------------


def test_recognise_all_keeps_every_typed_row_in_order(formulary):
    matches = recognise_all(
        formulary,
        [
            {"name": "Xanax", "dose": "0.5 mg", "frequency": "prn"},
            {"name": "", "dose": "Biaxin", "frequency": "bid"},
            {"name": "   ", "dose": "", "frequency": ""},
            {"dose": "10 mg"},
            "asdfgh",
            {"name": "coke", "dose": "", "frequency": ""},
        ],
        [{"name": "coke", "dose": "", "frequency": "weekends"}, ""],
    )
    assert [(m.typed, m.drug) for m in matches] == [
        ("Xanax", "alprazolam"),
        ("asdfgh", None),
        ("coke", None),
        ("coke", "cocaine"),
    ]


def test_the_dose_column_is_never_matched(formulary):
    [match] = recognise_all(formulary, [{"name": "blue pill", "dose": "Xanax 1 mg"}])
    assert match.drug is None


def test_recognising_the_same_text_again_comes_from_the_cache(formulary):
    first = formulary.recognise_each("Klonopin 1mg at night")
    assert formulary.recognise_each("Klonopin 1mg at night") is first


def test_the_cache_is_bounded(monkeypatch):
    small = Formulary(
        {"none": "no interaction"}, [Drug("melatonin", frozenset({"none"}), brands=("Circadin",))]
    )
    monkeypatch.setattr(medications, "CACHE_SIZE", 3)
    for typed in ("a", "b", "c", "d", "e", "melatonin"):
        small.recognise(typed)
    assert len(small._cache) == 3
    assert small.recognise("Circadin").drug == "melatonin"


def test_a_very_long_entry_is_recognised_but_not_cached(formulary):
    typed = "Xanax " + "and then some more words " * 40
    assert drug_of(formulary, typed) == "alprazolam"
    assert (typed, False) not in formulary._cache


# --- takes(), unrecognised_medication(), matches_for ------------------------------------------


def context_for(formulary, typed, recreational=()):
    return SimpleNamespace(matches=recognise_all(formulary, list(typed), list(recreational)))


@pytest.mark.parametrize(
    "typed, word, expected",
    [
        (["Xanax"], "benzodiazepine", True),
        (["Lexapro"], "benzodiazepine", False),
        (["Lexapro", "Xanax 1mg"], "benzodiazepine", True),
        (["Biaxin 500 mg bid"], "clarithromycin", True),
        (["Biaxin 500 mg bid"], "cyp3a4_strong_inhibitor", True),
        (["Paxlovid"], "ritonavir", True),
        (["Paxlovid"], "nirmatrelvir/ritonavir", True),
        (["Paxlovid"], "cyp3a4_strong_inhibitor", True),
        (["ketoconazole shampoo"], "cyp3a4_strong_inhibitor", False),
        (["ketoconazole shampoo"], "ketoconazole", False),
        (["Percocet"], "paracetamol", True),
        (["Flonase"], "nasal_spray", True),
        (["fluticasone inhaler"], "nasal_spray", False),
        (["coke"], "illicit", False),
        ([], "benzodiazepine", False),
    ],
)
def test_takes_is_true_when_an_entry_stands_for_the_class_or_drug(formulary, typed, word, expected):
    spec = make_takes_spec(formulary)
    assert spec.arg_kinds == ("string",)
    assert spec.implementation(context_for(formulary, typed), word) is expected


def test_takes_answers_each_screening_from_its_own_list(formulary):
    spec = make_takes_spec(formulary)
    xanax, lexapro = context_for(formulary, ["Xanax"]), context_for(formulary, ["Lexapro"])
    assert spec.implementation(xanax, "benzodiazepine") is True
    assert spec.implementation(lexapro, "benzodiazepine") is False
    assert spec.implementation(xanax, "benzodiazepine") is True
    assert spec.implementation(lexapro, "benzodiazepine") is False
    lexapro.matches.extend(recognise_all(formulary, ["Klonopin"]))
    assert spec.implementation(lexapro, "benzodiazepine") is True


def test_matches_compare_by_value(formulary):
    xanax = formulary.recognise("Xanax")
    copy = dataclasses.replace(xanax)
    assert copy is not xanax
    assert copy == xanax and hash(copy) == hash(xanax)
    assert xanax != formulary.recognise("xanax")  # typed differently
    assert xanax != dataclasses.replace(xanax, classes=frozenset())
    assert xanax != "Xanax"


def test_takes_sees_street_names_from_the_recreational_list(formulary):
    spec = make_takes_spec(formulary)
    assert spec.implementation(context_for(formulary, [], ["coke"]), "illicit") is True


def test_takes_works_inside_a_rule_expression(formulary):
    functions = {"takes": make_takes_spec(formulary)}
    expression = parse('takes("benzodiazepine") and takes("opioid")')
    assert expression.is_true({}, functions, context_for(formulary, ["Xanax", "Percocet"]))
    assert not expression.is_true({}, functions, context_for(formulary, ["Xanax"]))


@pytest.mark.parametrize(
    "word", ["benzodiazepine", "none", "clarithromycin", "oxycodone/paracetamol"]
)
def test_takes_accepts_declared_classes_and_drug_names(formulary, word):
    assert make_takes_spec(formulary).describe_args((word,)) == []


@pytest.mark.parametrize(
    "word, message",
    [
        ("benzo", 'Unknown medication class or drug "benzo". Did you mean "benzodiazepine"?'),
        ("Xanax", 'Unknown medication class or drug "Xanax". Did you mean "alprazolam"?'),
        ("Opioid", 'Unknown medication class or drug "Opioid". Did you mean "opioid"?'),
        ("opiate", 'Unknown medication class or drug "opiate". Did you mean "opioid"?'),
        (
            "stimulant",
            'Unknown medication class or drug "stimulant". Did you mean "psychostimulant"?',
        ),
        (
            "maoi inhibitor",
            'Unknown medication class or drug "maoi inhibitor". Did you mean "maoi"?',
        ),
        ("qqqqqq", 'Unknown medication class or drug "qqqqqq".'),
    ],
)
def test_takes_rejects_an_unknown_word_with_a_suggestion(formulary, word, message):
    [problem] = make_takes_spec(formulary).describe_args((word,))
    assert (problem.message, problem.position) == (message, 0)


def test_an_unknown_takes_word_is_reported_by_rule_validation(formulary):
    [problem] = validate('takes("benzo")', {}, {"takes": make_takes_spec(formulary)})
    assert 'Did you mean "benzodiazepine"?' in problem.message


@pytest.mark.parametrize(
    "typed, recreational, expected",
    [
        (["Xanax", "Lexapro"], [], False),
        (["Xanax", "my blue pill"], [], True),
        (["coke"], [], True),
        ([], ["coke"], False),
        (["fluticasone"], [], True),
        ([], [], False),
    ],
)
def test_unrecognised_medication_is_true_when_any_entry_is_unknown(
    formulary, typed, recreational, expected
):
    spec = make_unrecognised_spec()
    assert spec.arg_kinds == ()
    assert spec.implementation(context_for(formulary, typed, recreational)) is expected


def test_matches_for_returns_exactly_the_evidence(formulary):
    matches = recognise_all(formulary, ["Xanax", "Lexapro", "Klonopin 1mg", "asdfgh", "Percocet"])
    evidence = matches_for("benzodiazepine", matches, formulary)
    assert [m.typed for m in evidence] == ["Xanax", "Klonopin 1mg"]
    assert [m.typed for m in matches_for("paracetamol", matches, formulary)] == ["Percocet"]
    assert matches_for("maoi", matches, formulary) == []


# --- The formulary itself -------------------------------------------------------------------

# Names, brands and synonyms that may not recognise as their own entry, with the reason.
# Empty today; an entry added here must say why it is genuinely ambiguous.
EXPECTED_SELF_MISMATCHES: dict[tuple[str, str], str] = {}


def test_every_name_brand_and_synonym_recognises_as_its_own_entry(formulary):
    mismatches = {}
    for drug in formulary.drugs.values():
        for text in (drug.name, *drug.brands, *drug.synonyms):
            found = [match.drug for match in formulary.recognise_each(text)]
            if found != [drug.name]:
                mismatches[(drug.name, text)] = found
        for text in drug.slang:
            found = [m.drug for m in formulary.recognise_each(text, allow_slang=True)]
            if found != [drug.name]:
                mismatches[(drug.name, text)] = found
    assert mismatches.keys() == EXPECTED_SELF_MISMATCHES.keys(), mismatches


def test_every_exact_hit_scores_100_and_says_how_it_matched(formulary):
    def normal(text):
        return " ".join(tokenize(text))

    checked = 0
    for drug in formulary.drugs.values():
        brands = {normal(text) for text in drug.brands}
        for kind, texts in (("brand", drug.brands), ("synonym", drug.synonyms)):
            for text in texts:
                expected = kind
                if normal(text) == normal(drug.name):
                    expected = "exact"  # "St John's wort" is how the name itself is written
                elif normal(text) in brands:
                    expected = "brand"
                match = formulary.recognise(text)
                assert (match.method, match.score) == (expected, 100.0), text
                checked += 1
    assert checked > 500


def test_is_known_class_or_drug(formulary):
    assert formulary.is_known_class_or_drug("benzodiazepine")
    assert formulary.is_known_class_or_drug("alprazolam")
    assert not formulary.is_known_class_or_drug("Xanax")
    assert not formulary.is_known_class_or_drug("benzo")


def test_the_formulary_keeps_every_field_of_an_entry(formulary):
    drug = formulary.drugs["clarithromycin"]
    assert drug.classes == frozenset({"cyp3a4_strong_inhibitor"})
    assert drug.brands[:2] == ("Biaxin", "Biaxin XL")
    assert drug.grade == "moderate"
    assert "HAG10" in drug.sources
    assert formulary.drugs["fluticasone nasal"].form == "nasal"
    assert formulary.drugs["cocaine"].slang == ("coke", "blow", "crack")
    assert "benzodiazepine" in formulary.classes


def small_data(*drugs, classes=("opioid", "none")):
    return {"classes": {name: name for name in classes}, "drugs": list(drugs)}


def test_nested_combinations_take_every_leaf_component_and_class():
    data = small_data(
        {"name": "oxycodone", "classes": ["opioid"]},
        {"name": "paracetamol", "classes": ["none"]},
        {"name": "caffeine", "classes": ["none"]},
        {"name": "oxycodone/paracetamol", "components": ["oxycodone", "paracetamol"]},
        {"name": "kitchen sink", "components": ["oxycodone/paracetamol", "caffeine"]},
    )
    formulary = Formulary.from_data(data)
    assert formulary.components_of("kitchen sink") == ("oxycodone", "paracetamol", "caffeine")
    assert formulary.classes_of("kitchen sink") == frozenset({"opioid", "none"})
    assert formulary.recognise("kitchen sink").components == (
        "oxycodone",
        "paracetamol",
        "caffeine",
    )


@pytest.mark.parametrize(
    "drugs, error",
    [
        (
            [{"name": "x/y", "components": ["x", "y"]}, {"name": "x", "classes": ["none"]}],
            'component "y" is not a formulary entry',
        ),
        ([{"name": "x", "classes": ["benzo"]}], 'class "benzo" is not declared'),
        ([{"name": "x", "classes": []}], "needs classes"),
        ([{"name": "x", "classes": ["none"]}] * 2, '"x" appears twice'),
        (
            [
                {"name": "x", "classes": ["none"]},
                {"name": "y", "classes": ["none"], "brands": ["X"]},
            ],
            'both read as "x"',
        ),
        (
            [
                {"name": "x", "classes": ["none"], "brands": ["Tylenol #3"]},
                {"name": "y", "classes": ["none"], "synonyms": ["tylenol 3"]},
            ],
            'both read as "tylenol 3"',
        ),
        (
            [
                {"name": "x", "classes": ["none"]},
                {"name": "x/x", "components": ["x"], "classes": ["none"]},
            ],
            "list none of its own",
        ),
        (
            [{"name": "a", "components": ["b"]}, {"name": "b", "components": ["a"]}],
            "in a loop",
        ),
        ([{"name": "x", "classes": ["none"], "form": "suppository"}], 'form "suppository"'),
        ([{"name": "x", "classes": ["none"], "grade": "severe"}], 'grade "severe"'),
        ([{"name": "x", "classes": ["none"], "brand": ["X"]}], 'unknown field "brand"'),
        ([{"name": "x", "classes": "none"}], "classes must be a list"),
        ([{"name": "x", "classes": ["none"], "synonyms": [""]}], "empty or invalid item"),
        ([{"name": "x", "classes": ["none"], "brands": ["#"]}], "has no letters or digits"),
        ([{"name": "Xanax", "classes": ["none"]}], "must be lower case"),
        ([{"classes": ["none"]}], "has no name"),
        (["alprazolam"], "must be a mapping"),
    ],
)
def test_a_malformed_formulary_is_refused_with_a_clear_message(drugs, error):
    with pytest.raises(ValueError, match=re.escape(error)):
        Formulary.from_data(small_data(*drugs))


def test_formulary_data_must_have_the_expected_shape():
    with pytest.raises(ValueError, match="must be a mapping"):
        Formulary.from_data(["drugs"])
    with pytest.raises(ValueError, match="must be a list"):
        Formulary.from_data({"classes": {}, "drugs": {"x": {}}})


def test_database_shaped_data_with_empty_lists_loads():
    data = small_data(
        {
            "name": "x",
            "classes": ["none"],
            "components": [],
            "brands": [],
            "synonyms": [],
            "slang": [],
            "form": "",
            "note": "",
            "grade": "",
            "sources": [],
        },
        {"name": "x/x", "classes": [], "components": ["x"], "brands": ["Double X"]},
    )
    assert Formulary.from_data(data).recognise("double x").components == ("x",)


# --- Nesting of combination products (issue 10, finding 7) -----------------------------------


def doubling_chain(depth):
    """Two entries per level, each listing both entries of the level below: 2^depth paths."""
    drugs = [{"name": "a0", "classes": ["none"]}, {"name": "b0", "classes": ["none"]}]
    for level in range(1, depth + 1):
        for letter in "ab":
            drugs.append(
                {"name": f"{letter}{level}", "components": [f"a{level - 1}", f"b{level - 1}"]}
            )
    return small_data(*drugs)


def test_combinations_nested_twenty_deep_are_refused_at_once():
    # Before the fix this formulary was accepted after seconds of work, doubling per level,
    # and every patient's submit rebuilt it.
    started = time.perf_counter()
    with pytest.raises(ValueError, match="nests combinations 4 deep; at most 3 levels"):
        Formulary.from_data(doubling_chain(20))
    assert time.perf_counter() - started < 0.5


def test_combinations_three_levels_deep_are_allowed_and_expanded_once():
    formulary = Formulary.from_data(doubling_chain(3))
    assert formulary.components_of("a3") == ("a0", "b0")
    assert formulary.classes_of("b3") == frozenset({"none"})


def test_a_long_chain_is_refused_before_it_is_followed_to_the_end():
    drugs = [{"name": "c0", "classes": ["none"]}]
    drugs += [{"name": f"c{n}", "components": [f"c{n - 1}"]} for n in range(1, 3000)]
    # Listed top first, so expansion starts at the top of a chain deeper than Python's stack.
    with pytest.raises(ValueError, match="c2999 -> c2998 -> c2997 -> c2996. List the single"):
        Formulary.from_data(small_data(*reversed(drugs)))


def test_a_component_listed_twice_is_refused():
    drugs = [{"name": "x", "classes": ["none"]}, {"name": "x/x", "components": ["x", "x"]}]
    with pytest.raises(ValueError, match='component "x" is listed twice'):
        Formulary.from_data(small_data(*drugs))


def test_a_combination_of_too_many_single_drugs_is_refused():
    singles = [{"name": f"d{n}", "classes": ["none"]} for n in range(13)]
    combination = {"name": "everything", "components": [f"d{n}" for n in range(13)]}
    with pytest.raises(ValueError, match="at most 12 components"):
        Formulary.from_data(small_data(*singles, combination))
    halves = [
        {"name": "first", "components": [f"d{n}" for n in range(7)]},
        {"name": "second", "components": [f"d{n}" for n in range(7, 13)]},
        {"name": "both", "components": ["first", "second"]},
    ]
    with pytest.raises(ValueError, match='"both" stands for 13 single drugs'):
        Formulary.from_data(small_data(*singles, *halves))


def test_a_loop_names_the_entries_in_it():
    drugs = [
        {"name": "x", "classes": ["none"]},
        {"name": "a", "components": ["x", "b"]},
        {"name": "b", "components": ["a"]},
    ]
    with pytest.raises(ValueError, match="in a loop: a -> b -> a"):
        Formulary.from_data(small_data(*drugs))
