"""Walk the intake wizard through HTTP the way a patient would, with plausible answers."""

import re

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
    QuestionDef,
)
from screening.models import Screening
from screening.snapshots import questionnaire_for

# Answers that make a calm, unremarkable patient; tests override what they need.
DEFAULT_OVERRIDES = {
    "date_of_birth": "1980-05-17",
    "sex_at_birth": "female",
    "height_cm": "168",
    "weight_kg": "70",
    "can_be_pregnant": "no",
}


def plausible_post_value(question: QuestionDef) -> dict[str, object]:
    """POST data answering one question plainly."""
    code = question.code
    kind = question.kind
    if kind == YES_NO:
        return {code: "no"}
    if kind in (SINGLE_CHOICE, SCALE_ITEM):
        return {code: question.choices[0].value}
    if kind == MULTIPLE_CHOICE:
        exclusive = [c.value for c in question.choices if c.exclusive]
        return {code: [exclusive[0] if exclusive else question.choices[0].value]}
    if kind in (INTEGER, DECIMAL):
        low = question.min_value if question.min_value is not None else 1
        return {code: str(int(low) + 10)}
    if kind == DATE:
        return {code: "1980-05-17"}
    if kind == BLOOD_PRESSURE:
        return {f"{code}_systolic": "120", f"{code}_diastolic": "80"}
    if kind == MEDICATION_LIST:
        return {f"{code}-rows": "3", f"{code}-none": "on"}
    if kind == HEIGHT:
        return {code: "168"}
    if kind == WEIGHT:
        return {code: "70"}
    if kind == TEXT:
        return {code: ""}
    if kind == SHORT_TEXT:
        return {code: "Sam Lee"}
    if kind == PHONE:
        return {code: "555 201 4477"}
    raise AssertionError(kind)


def presented_codes(html: str) -> list[str]:
    """The questions a page presents, as a browser posts them: a question that does not
    apply now is on the page hidden, its "presented" input disabled (not posted)."""
    return re.findall(r'<input type="hidden" name="presented" value="([^"]+)">', html)


def page_post_data(html: str, screening: Screening, overrides: dict) -> dict:
    """Answer every question shown on a rendered page; `overrides` replaces single answers."""
    questionnaire = questionnaire_for(screening.version)
    presented = presented_codes(html)
    data: dict[str, object] = {"presented": presented}
    for code in presented:
        question = questionnaire.questions_by_code[code]
        data.update(plausible_post_value(question))
        for key, value in overrides.items():
            if key == code or key.startswith(f"{code}_") or key.startswith(f"{code}-"):
                data[key] = value
    return data


def fill_intake(client, screening: Screening, overrides: dict | None = None, max_pages: int = 60):
    """Answer page after page until the wizard reaches the review page; returns the pages seen."""
    answers = {**DEFAULT_OVERRIDES, **(overrides or {})}
    seen = []
    url = f"/screenings/{screening.pk}/"
    for _ in range(max_pages):
        response = client.get(url, follow=True)
        final_url = response.redirect_chain[-1][0] if response.redirect_chain else url
        if final_url.endswith("/review/"):
            return seen
        assert response.status_code == 200, final_url
        html = response.content.decode()
        seen.append(final_url.rstrip("/").split("/")[-1])
        posted = client.post(final_url, page_post_data(html, screening, answers))
        assert posted.status_code == 302, posted.content.decode()[:3000]
        url = f"/screenings/{screening.pk}/"
    raise AssertionError(f"Wizard did not reach the review page; pages seen: {seen}")
