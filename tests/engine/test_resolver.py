"""The broad drug dictionary under the formulary: what it recognises, and what it must not."""

import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from screening.engine import resolver
from screening.engine.medications import Drug, Formulary, make_unrecognised_spec, recognise_all
from screening.engine.resolver import DrugDictionary, Generic, shared_dictionary

FORMULARY_FILE = Path(__file__).resolve().parents[2] / "content" / "formulary.yaml"


@pytest.fixture(scope="module")
def dictionary():
    return shared_dictionary()


@pytest.fixture(scope="module")
def formulary(dictionary):
    data = yaml.safe_load(FORMULARY_FILE.read_text(encoding="utf-8"))
    return Formulary.from_data(data, dictionary)


def recognised(formulary, typed, recreational=False):
    rows = ([], [typed]) if recreational else ([typed], [])
    return [(m.drug, m.method) for m in recognise_all(formulary, *rows)]


# --- Loading -------------------------------------------------------------------------------


def test_the_dictionary_is_loaded_once_per_process_even_by_many_threads(monkeypatch):
    loads = []

    def slow_load():
        loads.append(1)
        return DrugDictionary([Generic("x", ("x",), ("x",), False)])

    monkeypatch.setattr(resolver, "_loaded", [])
    monkeypatch.setattr(resolver, "load_dictionary", slow_load)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(shared_dictionary())) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1
    assert len({id(result) for result in results}) == 1


def test_a_missing_package_leaves_the_formulary_alone(monkeypatch):
    monkeypatch.setattr(resolver, "_loaded", [])
    monkeypatch.setattr(resolver, "package_data_path", lambda: None)
    assert shared_dictionary() is None
    formulary = Formulary({"none": ""}, [Drug("melatonin", frozenset({"none"}))], None)
    assert formulary.recognise("Elavil").drug is None


def test_the_package_is_read_without_being_imported(dictionary):
    import sys

    assert dictionary is not None and len(dictionary) > 40_000
    assert "drug_named_entity_recognition" not in sys.modules


def test_categories_enzymes_and_proteins_are_not_drugs(dictionary):
    for text in ("antidepressive agents", "cytochrome p 450 cyp3a", "benzodiazepines"):
        assert dictionary.lookup(text) is None


# --- Recognised generics with no class -----------------------------------------------------


@pytest.mark.parametrize(
    "typed, generic",
    [
        ("Keppra 500mg bid", "levetiracetam"),
        ("warfarin 5 mg", "warfarin"),
        ("Ozempic weekly", "semaglutide"),
        ("folic acid 400mcg", "folic acid"),
    ],
)
def test_a_generic_the_formulary_lacks_is_recognised_with_no_class(formulary, typed, generic):
    [match] = recognise_all(formulary, [typed])
    assert (match.drug, match.method, match.classes) == (generic, "resolver", frozenset())
    assert match.recognised


def test_a_recognised_generic_raises_no_unrecognised_medication_flag(formulary):
    matches = recognise_all(formulary, ["Keppra", "Blorbex"])
    unrecognised = make_unrecognised_spec().implementation
    assert unrecognised(SimpleNamespace(matches=matches[:1])) is False
    assert unrecognised(SimpleNamespace(matches=matches)) is True


# --- The dictionary leads to the formulary's classes -----------------------------------------


@pytest.mark.parametrize(
    "typed, drug, drug_class",
    [
        ("Klaricid XL", "clarithromycin", "cyp3a4_strong_inhibitor"),
        ("Sevredol 10mg", "morphine", "opioid"),
        ("Rivotril", "clonazepam", "benzodiazepine"),
        ("Gen-Xene", "clorazepate", "benzodiazepine"),
        ("Trileptal", "oxcarbazepine", "cyp_inducer"),
    ],
)
def test_brands_lead_to_the_formulary_entry_and_its_classes(formulary, typed, drug, drug_class):
    match = formulary.recognise(typed)
    assert match.drug == drug
    assert drug_class in match.classes


def test_a_dictionary_combination_takes_its_components_classes(formulary):
    match = formulary.recognise("Duopa")  # levodopa and carbidopa: neither in the formulary
    assert match.method == "resolver" and set(match.components) == {"levodopa", "carbidopa"}
    assert match.classes == frozenset()


def test_a_family_member_missing_from_the_formulary_stays_unrecognised(dictionary):
    # Without a formulary entry a benzodiazepine must not be reassured as "no interaction".
    formulary = Formulary({"none": ""}, [Drug("melatonin", frozenset({"none"}))], dictionary)
    assert formulary.recognise("Halcion").drug is None
    assert formulary.recognise("codeine").drug is None  # a morphinan
    assert formulary.recognise("Keppra").drug == "levetiracetam"


def test_a_brand_whose_form_the_dictionary_cannot_tell_is_not_guessed(formulary):
    assert formulary.recognise("Extina").drug is None  # ketoconazole foam or tablets?
    assert formulary.recognise("Extina foam").drug == "ketoconazole topical"
    assert "cyp3a4_strong_inhibitor" not in formulary.recognise("Extina foam").classes


# --- Near misses: a wrong match is worse than none ------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "Caprimal",  # two vowels from Capramol (aminocaproic acid) in another market
        "lozapine",  # one slip from loxapine and from clozapine
        "antidepressant",
        "antibiotic",
        "water pill",
        "blood pressure pill",
        "sleeping pill",
        "my blue pill",
        "vitamins",
        "coke",
        "pot",
        "acid",
        "ice",
    ],
)
def test_near_misses_and_common_words_are_never_guessed(formulary, typed):
    assert [drug for drug, _ in recognised(formulary, typed)] == [None]


@pytest.mark.parametrize(
    "typed, drug",
    [
        ("zolpedim", "zolpidem"),  # two vowels swapped: the consonants name one drug
        ("respiridone", "risperidone"),
        ("amitryptiline", "amitriptyline"),
        ("trazadone", "trazodone"),
    ],
)
def test_common_misspellings_of_generics_are_recognised(formulary, typed, drug):
    assert formulary.recognise(typed).drug == drug


@pytest.mark.parametrize(
    "typed, drug",
    [
        ("Celexa", "citalopram"),
        ("Celebrex", "celecoxib"),
        ("Zyprexa", "olanzapine"),
        ("Zyrtec", "cetirizine"),
        ("Lamictal", "lamotrigine"),
        ("Lamisil", "terbinafine"),
        ("Seroquel", "quetiapine"),
        ("Serzone", "nefazodone"),
        ("hydroxyzine", "hydroxyzine"),
        ("hydralazine", "hydralazine"),
        ("clonidine", "clonidine"),
        ("clozapine", "clozapine"),
        ("Klonopin", "clonazepam"),
        ("tramadol", "tramadol"),
        ("trazodone", "trazodone"),
        ("Plavix", "clopidogrel"),
        ("Paxil", "paroxetine"),
    ],
)
def test_names_that_look_or_sound_alike_are_each_themselves(formulary, typed, drug):
    assert formulary.recognise(typed).drug == drug


def test_folic_acid_is_never_lsd(formulary):
    assert recognised(formulary, "folic acid", recreational=True) == [("folic acid", "resolver")]
    assert recognised(formulary, "folic acid 5mg") == [("folic acid", "resolver")]
    assert recognised(formulary, "acid", recreational=True) == [("lsd", "slang")]


def test_coke_stays_as_it_was(formulary):
    assert recognised(formulary, "coke") == [(None, "none")]
    assert recognised(formulary, "coke", recreational=True) == [("cocaine", "slang")]


# --- Rows naming several things ------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, drugs",
    [
        ("Xanax and Elavil", ["alprazolam", "amitriptyline"]),
        ("sertaline and vitamin c", ["ascorbic acid", "sertraline"]),
        ("Xanax and Blorbex", ["alprazolam", None]),
        ("Xanax, fluticasone", ["alprazolam", None]),
        ("Xanax 1mg, as needed for sleep", ["alprazolam"]),
        ("Advil Cold and Sinus", ["ibuprofen/pseudoephedrine"]),
    ],
)
def test_every_part_of_a_row_is_recognised_or_reported(formulary, typed, drugs):
    assert [drug for drug, _ in recognised(formulary, typed)] == drugs
