"""Engine benchmarks: one full default screening, and re-evaluation throughput for a draft's impact preview."""

import datetime
import random
import statistics
import time

from screening.engine.definitions import default_ruleset_from_files
from screening.engine.questionnaire import (
    BLOOD_PRESSURE,
    DATE,
    DECIMAL,
    HEIGHT,
    INTEGER,
    MEDICATION_LIST,
    MULTIPLE_CHOICE,
    PHONE,
    SCALE_ITEM,
    SHORT_TEXT,
    SINGLE_CHOICE,
    TEXT,
    WEIGHT,
    YES_NO,
)

TODAY = datetime.date(2026, 11, 23)
TYPED_MEDICATIONS = [
    "Biaxin 500 mg bid",
    "clarithromicin",
    "Xanax 0.5mg prn",
    "st john's wort",
    "grapefruit juice daily",
    "Lexapro 10 mg",
    "lisinopril 20mg",
    "Percocet 5/325 q6h",
    "Adderall XR 20 mg",
    "vitamin D 1000 iu",
    "gabapentine 300 mg tid",
    "Synthroid 75 mcg",
    "melatonin at night",
    "Flonase nasal spray",
    "my blue pill",
]


def full_answers(ruleset, rng: random.Random, medications=TYPED_MEDICATIONS) -> dict:
    """Answer every question of the default set (varied by rng), with 15 typed medications."""
    answers: dict[str, object] = {}
    for question in ruleset.questionnaire.questions_by_code.values():
        kind, code = question.kind, question.code
        if kind == YES_NO:
            answers[code] = rng.choice(["yes", "no"])
        elif kind in (SINGLE_CHOICE, SCALE_ITEM):
            answers[code] = rng.choice(question.choices).value
        elif kind == MULTIPLE_CHOICE:
            ordinary = [c.value for c in question.choices if not c.exclusive]
            answers[code] = rng.sample(ordinary, k=min(2, len(ordinary)))
        elif kind in (INTEGER, DECIMAL):
            low = float(question.min_value or 0)
            high = float(question.max_value or 200)
            answers[code] = int(rng.uniform(low, high))
        elif kind == DATE:
            answers[code] = f"{rng.randint(1940, 2005)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
        elif kind == BLOOD_PRESSURE:
            answers[code] = {"systolic": rng.randint(95, 200), "diastolic": rng.randint(55, 115)}
        elif kind == MEDICATION_LIST:
            rows = medications if code == "medications" else ["weed", "coke"]
            answers[code] = {
                "rows": [{"name": name, "dose": "", "frequency": ""} for name in rows],
                "none": False,
            }
        elif kind == HEIGHT:
            answers[code] = {"cm": rng.randint(150, 200)}
        elif kind == WEIGHT:
            answers[code] = {"kg": rng.randint(45, 140)}
        elif kind in (TEXT, SHORT_TEXT):
            answers[code] = "nothing else"
        elif kind == PHONE:
            answers[code] = "555 201 4477"
    return answers


def run() -> list[tuple[str, str, str, bool]]:
    ruleset = default_ruleset_from_files()
    rng = random.Random(7)
    answers = full_answers(ruleset, rng)
    for _ in range(200):  # warm caches, as a running server would be
        ruleset.evaluate(answers, TODAY)
    timings = []
    for _ in range(2000):
        start = time.perf_counter()
        ruleset.evaluate(answers, TODAY)
        timings.append(time.perf_counter() - start)
    median_ms = statistics.median(timings) * 1000

    population = [full_answers(ruleset, rng) for _ in range(3000)]
    start = time.perf_counter()
    for stored in population:
        ruleset.evaluate(stored, TODAY, with_evidence=False)
    per_second = len(population) / (time.perf_counter() - start)
    flags = len(ruleset.evaluate(answers, TODAY).flags)
    return [
        (
            f"engine: evaluate one full screening, 15 typed meds ({flags} flags), median",
            f"{median_ms:.3f} ms",
            "< 1 ms",
            median_ms < 1.0,
        ),
        (
            "engine: re-evaluations per second (draft impact preview, varied screenings)",
            f"{per_second:,.0f}/s",
            "> 2,000/s",
            per_second > 2000,
        ),
    ]
