"""FHIR R4 resources built from plain data: no database, no request.

A question-set version becomes a ``Questionnaire``; a screening becomes a ``Bundle`` of its
patient, the Questionnaire, its ``QuestionnaireResponse``, score and vital-sign
``Observation``s, ``MedicationStatement``s, one ``DetectedIssue`` per flag and one
``ClinicalImpression`` per signed decision (with the ``Practitioner`` who signed it).
The database read that fills these dataclasses is screening/fhir/records.py.

Every reference inside a Bundle is a ``urn:uuid:`` that the Bundle's entries resolve.
Derived resources (observations, statements) get name-based UUIDs, so exporting the
same screening twice gives the same identifiers.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from ..answer_fields import (
    PHONE_MAX_LENGTH,
    PHONE_PATTERN,
    SHORT_TEXT_MAX_LENGTH,
    TEXT_MAX_LENGTH,
)
from ..engine.questionnaire import (
    BLOOD_PRESSURE,
    DATE,
    DATE_OF_BIRTH,
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
    ChoiceDef,
    QuestionDef,
    QuestionnaireDef,
    SectionDef,
    measurement_value,
    split_intro,
)
from ..engine.rules import RECREATIONAL_LIST_CODES, ScoreDef
from .conditions import Target, score_expression, targets_of, translate
from .vocabulary import (
    BODY_HEIGHT,
    BODY_WEIGHT,
    BP_PANEL,
    CALCULATED_EXPRESSION,
    DIASTOLIC,
    FHIR_VERSION,
    FHIRPATH,
    INCH,
    ISSUE_SEVERITY,
    ITEM_CODES,
    ITEM_CONTROL,
    ITEM_CONTROL_EXTENSION,
    MAX_QUANTITY,
    MAX_VALUE,
    MIN_QUANTITY,
    MIN_VALUE,
    MM_HG,
    OBSERVATION_CATEGORY,
    OPTION_EXCLUSIVE,
    ORDINAL_VALUE,
    POUND,
    QUESTIONNAIRE_UNIT,
    REGEX,
    SCORE_CODES,
    SYSTOLIC,
    TARGET_ELEMENT,
    UNIT_OPTION,
    UNITS,
    URI_IDENTIFIER,
    VITAL_SIGNS,
    Code,
    Unit,
    VitalSign,
)

ITEM_TYPES = {
    YES_NO: "boolean",
    SINGLE_CHOICE: "choice",
    MULTIPLE_CHOICE: "choice",
    SCALE_ITEM: "choice",
    INTEGER: "integer",
    DECIMAL: "decimal",
    DATE: "date",
    TEXT: "text",
    SHORT_TEXT: "string",
    PHONE: "string",
    HEIGHT: "quantity",
    WEIGHT: "quantity",
    BLOOD_PRESSURE: "group",
    MEDICATION_LIST: "group",
}
# The longest answer the intake takes for each kind of typed text (R4's item.maxLength).
MAX_LENGTHS = {TEXT: TEXT_MAX_LENGTH, SHORT_TEXT: SHORT_TEXT_MAX_LENGTH, PHONE: PHONE_MAX_LENGTH}


@dataclass(frozen=True)
class Measurement:
    """A height or a weight: the vital sign it is, and the US unit the intake also takes.

    Stored, compared and exported in the metric unit (cm, kg) whatever the patient typed.
    """

    vital: VitalSign
    us_unit: Unit

    @property
    def unit(self) -> Unit:
        return self.vital.unit


MEASUREMENTS = {HEIGHT: Measurement(BODY_HEIGHT, INCH), WEIGHT: Measurement(BODY_WEIGHT, POUND)}
MEDICATION_FIELDS = (
    ("name", "Name (as on the label)"),
    ("dose", "Dose"),
    ("frequency", "How often"),
)
NONE_TAKEN = "I don't take any"
# The recreational-drugs list in the wizard's words (templates/patient/fields/): street drugs
# have no pack, and "How much" fits them better than "Dose".
STREET_DRUG_FIELDS = (
    ("name", "Name"),
    ("dose", "How much"),
    ("frequency", "How often"),
)
NONE_USED = "I don't use any"


def _list_words(question: QuestionDef) -> tuple[tuple[tuple[str, str], ...], str]:
    """The row labels and the "none" wording of a medication list, as the wizard shows it."""
    if question.code in RECREATIONAL_LIST_CODES:
        return STREET_DRUG_FIELDS, NONE_USED
    return MEDICATION_FIELDS, NONE_TAKEN


VERSION_STATUS = {"draft": "draft", "published": "active", "retired": "retired"}
DATA_ABSENT = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
STATEMENT_CATEGORY = "http://terminology.hl7.org/CodeSystem/medication-statement-category"


# --- Plain data in ------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuestionSetData:
    version_id: str
    slug: str
    name: str
    description: str
    number: int
    status: str  # draft, published or retired
    published_at: datetime | None
    questionnaire: QuestionnaireDef
    scores: Sequence[ScoreDef] = ()


@dataclass(frozen=True)
class MedicationData:
    question_code: str
    typed: str
    dose: str
    frequency: str
    matched: str  # "" when unrecognised
    position: int


@dataclass(frozen=True)
class AcknowledgementData:
    physician_id: str
    physician_name: str
    at: datetime


@dataclass(frozen=True)
class FlagData:
    id: str
    code: str
    severity: str
    title: str
    message: str
    rationale: str
    evidence: Sequence[Mapping] = ()
    acknowledgement: AcknowledgementData | None = None


@dataclass(frozen=True)
class DecisionData:
    id: str
    outcome: str
    outcome_label: str
    conditions: str
    reason: str
    message_to_patient: str
    override_reason: str
    physician_id: str
    signed_name: str
    signed_at: datetime
    flag_codes: Sequence[str] = ()
    amends_id: str | None = None


@dataclass(frozen=True)
class ScreeningData:
    id: str
    status: str  # in_progress (reopened), submitted or decided
    submitted_at: datetime
    evaluated_at: datetime | None
    patient_id: str
    patient_name: str
    question_set: QuestionSetData
    answers: Mapping[str, object]  # stored answers of the questions the patient was shown
    scores: Sequence[Mapping] = ()  # [{"code", "name", "value", "band"}]
    medications: Sequence[MedicationData] = ()
    flags: Sequence[FlagData] = ()
    decisions: Sequence[DecisionData] = field(default_factory=tuple)
    language: str = ""  # the language the patient answered in (our code: "es", "en-gb")


# --- Small helpers ------------------------------------------------------------------------------


def bcp47(code: str) -> str:
    """Our language code as FHIR's Resource.language writes it (BCP-47 case): "es",
    "en-US", "en-GB"."""
    language, _, region = code.replace("_", "-").partition("-")
    return f"{language.lower()}-{region.upper()}" if region else language.lower()


def urn(identifier: str) -> str:
    return f"urn:uuid:{identifier}"


def reference(resource_type: str, identifier: str, display: str = "") -> dict:
    ref = {"reference": urn(identifier), "type": resource_type}
    if display:
        ref["display"] = display
    return ref


def derived_id(screening_id: str, name: str) -> str:
    """A stable UUID for a resource derived from a screening (an observation, a statement)."""
    return str(uuid.uuid5(uuid.UUID(str(screening_id)), name))


def instant(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _number(value: object) -> int | float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value
    try:
        return float(Decimal(str(value)))
    except (ArithmeticError, ValueError):
        return None


def canonical_url(base: str, slug: str) -> str:
    return f"{base}/Questionnaire/{slug}"


def local_system(base: str, name: str) -> str:
    """One of the app's own code systems (rule codes, scores, the formulary, outcomes)."""
    return f"{base}/CodeSystem/{name}"


def _computable_name(slug: str) -> str:
    words = [word for word in slug.replace("-", "_").split("_") if word]
    name = "".join(word[:1].upper() + word[1:] for word in words)
    return name if name[:1].isalpha() else f"Q{name}"


# The linkId ending of a section's display item that introduces its list of like questions.
LIST_INTRO_SUFFIX = ".list-intro"


# --- Questionnaire ------------------------------------------------------------------------------


def questionnaire(data: QuestionSetData, base: str) -> dict:
    """A question-set version as an SDC-style Questionnaire."""
    targets = targets_of(data.questionnaire)
    scores_by_section = _scores_by_section(data)
    resource = {
        "resourceType": "Questionnaire",
        "id": str(data.version_id),
        "url": canonical_url(base, data.slug),
        "version": str(data.number),
        "name": _computable_name(data.slug),
        "title": data.name,
        "status": VERSION_STATUS.get(data.status, "unknown"),
        "subjectType": ["Patient"],
        "item": [
            _section_item(section, targets, scores_by_section.get(section.code, ()), base)
            for section in data.questionnaire.sections
        ],
    }
    if data.published_at:
        resource["date"] = instant(data.published_at)
    if data.description:
        resource["description"] = data.description
    return resource


def _scores_by_section(data: QuestionSetData) -> dict[str, list[ScoreDef]]:
    """Each score goes at the end of the section holding its last item."""
    section_of = {
        question.code: section.code
        for section in data.questionnaire.sections
        for question in section.questions
    }
    placed: dict[str, list[ScoreDef]] = {}
    for score in data.scores:
        sections = [section_of[item] for item in score.items if item in section_of]
        if sections:
            placed.setdefault(sections[-1], []).append(score)
    return placed


def _section_item(
    section: SectionDef, targets: Mapping[str, Target], scores: Sequence[ScoreDef], base: str
) -> dict:
    item: dict = {"linkId": section.code, "text": section.title, "type": "group"}
    children = []
    if section.intro:
        # The list's own introduction (after the marker line) is a display item of its own,
        # after the top part, so an import puts the marker back (importer.py).
        top, list_intro = split_intro(section.intro)
        if top:
            children.append({"linkId": f"{section.code}.intro", "text": top, "type": "display"})
        if list_intro:
            children.append(
                {
                    "linkId": f"{section.code}{LIST_INTRO_SUFFIX}",
                    "text": list_intro,
                    "type": "display",
                }
            )
    for question in section.questions:
        children.extend(_question_items(question, targets, base))
    children.extend(_score_item(score, targets) for score in scores)
    item["item"] = children
    translate(section.show_when, targets, base).apply(item)
    return item


def _help_item(link_id: str, text: str) -> dict:
    return {
        "linkId": f"{link_id}.help",
        "text": text,
        "type": "display",
        "extension": [
            {
                "url": ITEM_CONTROL_EXTENSION,
                "valueCodeableConcept": {
                    "coding": [{"system": ITEM_CONTROL, "code": "help", "display": "Help-Button"}]
                },
            }
        ],
    }


def _unit_extension(unit: str) -> dict:
    known = UNITS.get(unit)
    coding = known.coding() if known else {"display": unit}
    return {"url": QUESTIONNAIRE_UNIT, "valueCoding": coding}


def _question_items(question: QuestionDef, targets: Mapping[str, Target], base: str) -> list[dict]:
    """The item for one question (and, for a medication list, its "none" box)."""
    kind = question.kind
    item: dict = {"linkId": question.code, "text": question.text, "type": ITEM_TYPES[kind]}
    code = ITEM_CODES.get(question.code)
    if code:
        item["code"] = [code.coding()]
    extensions: list[dict] = []
    children: list[dict] = []
    if kind in (SINGLE_CHOICE, MULTIPLE_CHOICE, SCALE_ITEM):
        item["answerOption"] = [_answer_option(kind, choice) for choice in question.choices]
        if kind == MULTIPLE_CHOICE:
            item["repeats"] = True
    elif kind in (INTEGER, DECIMAL):
        for url, bound in ((MIN_VALUE, question.min_value), (MAX_VALUE, question.max_value)):
            if bound is not None:
                value = int(bound) if kind == INTEGER else float(bound)
                key = "valueInteger" if kind == INTEGER else "valueDecimal"
                extensions.append({"url": url, key: value})
        if question.unit:
            extensions.append(_unit_extension(question.unit))
    elif kind in MEASUREMENTS:
        measurement = MEASUREMENTS[kind]
        item["code"] = [measurement.vital.code.coding()]
        # The answer is in the metric unit, listed first; a form filler may offer the US
        # unit too, as the intake does (the answer is then converted, as ours is).
        extensions.extend(
            {"url": UNIT_OPTION, "valueCoding": unit.coding()}
            for unit in (measurement.unit, measurement.us_unit)
        )
        for url, bound in ((MIN_QUANTITY, question.min_value), (MAX_QUANTITY, question.max_value)):
            if bound is not None:
                extensions.append(
                    {"url": url, "valueQuantity": measurement.unit.quantity(_number(bound))}
                )
    elif kind in MAX_LENGTHS:
        item["maxLength"] = MAX_LENGTHS[kind]
        if kind == PHONE:
            extensions.append({"url": REGEX, "valueString": PHONE_PATTERN})
    elif kind == BLOOD_PRESSURE:
        item["code"] = [BP_PANEL.coding()]
        systolic, diastolic = question.expression_names
        for link_id, text, loinc in (
            (systolic, "Systolic (top number)", SYSTOLIC),
            (diastolic, "Diastolic (bottom number)", DIASTOLIC),
        ):
            children.append(
                {
                    "linkId": link_id,
                    "code": [loinc.coding()],
                    "text": text,
                    "type": "quantity",
                    "extension": [{"url": QUESTIONNAIRE_UNIT, "valueCoding": MM_HG.coding()}],
                }
            )
    elif kind == MEDICATION_LIST:
        item["repeats"] = True
        children.extend(
            {"linkId": f"{question.code}.{name}", "text": label, "type": "string"}
            for name, label in _list_words(question)[0]
        )
    if kind not in (BLOOD_PRESSURE, MEDICATION_LIST):
        item["required"] = question.required
    if question.help_text:
        children.insert(0, _help_item(question.code, question.help_text))
    if children:
        item["item"] = children
    if extensions:
        item["extension"] = extensions
    translation = translate(question.show_when, targets, base)
    translation.apply(item)
    items = [item]
    if kind == MEDICATION_LIST:
        none_item = {
            "linkId": f"{question.code}.none",
            "text": _list_words(question)[1],
            "type": "boolean",
        }
        translation.apply(none_item)
        items.append(none_item)
    return items


def _answer_option(kind: str, choice: ChoiceDef) -> dict:
    option: dict = {"valueCoding": {"code": choice.value, "display": choice.label}}
    extensions = []
    if kind == SCALE_ITEM and choice.score is not None:
        extensions.append({"url": ORDINAL_VALUE, "valueDecimal": choice.score})
    if kind == MULTIPLE_CHOICE and choice.exclusive:
        extensions.append({"url": OPTION_EXCLUSIVE, "valueBoolean": True})
    if extensions:
        option["extension"] = extensions
    return option


def _score_item(score: ScoreDef, targets: Mapping[str, Target]) -> dict:
    items = [(code, targets[code].choices) for code in score.items if code in targets]
    item: dict = {
        "linkId": score.code,
        "text": score.name,
        "type": "integer",
        "readOnly": True,
        "extension": [
            {
                "url": CALCULATED_EXPRESSION,
                "valueExpression": {
                    "description": f"{score.name}: the sum of the answered items' scores",
                    "language": FHIRPATH,
                    "expression": score_expression(items),
                },
            }
        ],
    }
    codes = SCORE_CODES.get(score.code)
    if codes:
        item["code"] = [codes[1].coding()]
    return item


# --- QuestionnaireResponse ------------------------------------------------------------------------


def questionnaire_response(data: ScreeningData, base: str) -> dict:
    """The patient's answers to the questions they were shown, pinned to that version."""
    question_set = data.question_set
    scores = {score["code"]: score for score in data.scores}
    placed = _scores_by_section(question_set)
    sections = []
    for section in question_set.questionnaire.sections:
        children = []
        for question in section.questions:
            if question.code in data.answers:
                children.extend(_answer_items(question, data.answers[question.code]))
        for score in placed.get(section.code, ()):
            value = scores.get(score.code, {}).get("value")
            if isinstance(value, int) and not isinstance(value, bool):
                children.append(
                    {
                        "id": f"item-{score.code}",
                        "linkId": score.code,
                        "text": score.name,
                        "answer": [{"valueInteger": value}],
                    }
                )
        if children:
            sections.append({"linkId": section.code, "text": section.title, "item": children})
    resource = {
        "resourceType": "QuestionnaireResponse",
        "id": str(data.id),
        "identifier": {"system": URI_IDENTIFIER, "value": urn(data.id)},
        "questionnaire": f"{canonical_url(base, question_set.slug)}|{question_set.number}",
        # A screening reopened for more information is being changed by the patient again.
        "status": "in-progress"
        if data.status in ("in_progress", "waiting_for_patient")
        else "completed",
        "subject": reference("Patient", data.patient_id),
        "authored": instant(data.submitted_at),
        "source": reference("Patient", data.patient_id),
        "item": sections,
    }
    if data.language:
        # The language the patient read and answered in; the texts here are the source's.
        resource = {"resourceType": "QuestionnaireResponse", "language": bcp47(data.language)} | {
            key: value for key, value in resource.items() if key != "resourceType"
        }
    return resource


def _coding_answer(question: QuestionDef, value: object) -> dict | None:
    choice = question.choice(str(value))
    if choice is None:
        return None
    return {"valueCoding": {"code": choice.value, "display": choice.label}}


def _answer_items(question: QuestionDef, stored: object) -> list[dict]:
    kind = question.kind
    item: dict = {"id": f"item-{question.code}", "linkId": question.code, "text": question.text}
    answers: list[dict] = []
    if kind == YES_NO and stored in ("yes", "no"):
        answers = [{"valueBoolean": stored == "yes"}]
    elif kind in (SINGLE_CHOICE, SCALE_ITEM):
        answers = [a for a in [_coding_answer(question, stored)] if a]
    elif kind == MULTIPLE_CHOICE and isinstance(stored, list):
        answers = [a for a in (_coding_answer(question, value) for value in stored) if a]
    elif kind == INTEGER and _number(stored) is not None:
        answers = [{"valueInteger": int(_number(stored))}]
    elif kind == DECIMAL and _number(stored) is not None:
        answers = [{"valueDecimal": _number(stored)}]
    elif kind == DATE and isinstance(stored, str) and stored:
        answers = [{"valueDate": stored}]
    elif kind in MAX_LENGTHS and isinstance(stored, str) and stored.strip():
        answers = [{"valueString": stored}]
    elif kind in MEASUREMENTS and measurement_value(kind, stored) is not None:
        unit = MEASUREMENTS[kind].unit
        answers = [{"valueQuantity": unit.quantity(_number(measurement_value(kind, stored)))}]
    elif kind == BLOOD_PRESSURE and isinstance(stored, dict):
        halves = []
        for name, key in zip(question.expression_names, ("systolic", "diastolic"), strict=True):
            value = _number(stored.get(key))
            if value is not None:
                halves.append(
                    {
                        "id": f"item-{name}",
                        "linkId": name,
                        "answer": [{"valueQuantity": MM_HG.quantity(value)}],
                    }
                )
        if halves:
            item["item"] = halves
            return [item]
        return []
    elif kind == MEDICATION_LIST and isinstance(stored, dict):
        return _medication_items(question, stored)
    if not answers:
        return []
    item["answer"] = answers
    return [item]


def _medication_items(question: QuestionDef, stored: dict) -> list[dict]:
    items = []
    rows = stored.get("rows") or []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            continue
        fields = [
            {
                "linkId": f"{question.code}.{name}",
                "answer": [{"valueString": str(row.get(name)).strip()}],
            }
            for name, _ in MEDICATION_FIELDS
            if str(row.get(name) or "").strip()
        ]
        if fields:
            items.append(
                {
                    "id": f"item-{question.code}-{index + 1}",
                    "linkId": question.code,
                    "text": question.text,
                    "item": fields,
                }
            )
    if stored.get("none") and not items:
        items.append(
            {
                "id": f"item-{question.code}.none",
                "linkId": f"{question.code}.none",
                "text": _list_words(question)[1],
                "answer": [{"valueBoolean": True}],
            }
        )
    return items


# --- Patient and practitioners --------------------------------------------------------------------


def patient(data: ScreeningData) -> dict:
    """The least an EHR needs to match the patient: our stable id, the name, the birth date."""
    resource = {
        "resourceType": "Patient",
        "id": str(data.patient_id),
        "identifier": [{"system": URI_IDENTIFIER, "value": urn(data.patient_id)}],
        "name": [{"text": data.patient_name}],
    }
    birth = data.answers.get(DATE_OF_BIRTH)
    if isinstance(birth, str) and len(birth) == 10:
        resource["birthDate"] = birth
    return resource


def practitioner(identifier: str, name: str) -> dict:
    return {
        "resourceType": "Practitioner",
        "id": str(identifier),
        "identifier": [{"system": URI_IDENTIFIER, "value": urn(identifier)}],
        "name": [{"text": name}],
    }


# --- Observations ----------------------------------------------------------------------------------


def _observation(data: ScreeningData, name: str, category: str, code: dict) -> dict:
    return {
        "resourceType": "Observation",
        "id": derived_id(data.id, name),
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": OBSERVATION_CATEGORY,
                        "code": category,
                        "display": "Survey" if category == "survey" else "Vital Signs",
                    }
                ]
            }
        ],
        "code": code,
        "subject": reference("Patient", data.patient_id),
        "effectiveDateTime": instant(data.submitted_at),
        "derivedFrom": [reference("QuestionnaireResponse", data.id)],
    }


def score_observations(data: ScreeningData, base: str) -> dict[str, list[dict]]:
    """Per score code: its total Observation (first) and, for PHQ-9 and GAD-7, the panel."""
    made: dict[str, list[dict]] = {}
    for score in data.scores:
        value = score.get("value")
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        codes = SCORE_CODES.get(score["code"])
        own = {
            "system": local_system(base, "scores"),
            "code": score["code"],
            "display": score["name"],
        }
        total_code = {
            "coding": [codes[1].coding(), own] if codes else [own],
            "text": score["name"],
        }
        total = _observation(data, f"score-{score['code']}", "survey", total_code)
        total["valueInteger"] = value
        if score.get("band"):
            total["interpretation"] = [{"text": score["band"]}]
        made[score["code"]] = [total]
        if codes:
            panel = _observation(
                data,
                f"panel-{score['code']}",
                "survey",
                {"coding": [codes[0].coding()], "text": codes[0].display},
            )
            panel["hasMember"] = [reference("Observation", total["id"])]
            made[score["code"]].append(panel)
    return made


VITALS_NOTE = (
    "Reported by the patient on the screening questionnaire; when it was measured is not known."
)


def vital_observations(data: ScreeningData) -> dict[str, dict]:
    """Per question code: the vital-sign Observation of its answer."""
    made: dict[str, dict] = {}
    for question in data.question_set.questionnaire.questions_by_code.values():
        stored = data.answers.get(question.code)
        if stored is None:
            continue
        notes = [VITALS_NOTE]
        if question.kind == BLOOD_PRESSURE and isinstance(stored, dict):
            systolic, diastolic = _number(stored.get("systolic")), _number(stored.get("diastolic"))
            if systolic is None:
                continue
            observation = _observation(
                data,
                f"vital-{question.code}",
                "vital-signs",
                {"coding": [BP_PANEL.coding()], "text": "Blood pressure"},
            )
            observation["component"] = [
                _component(SYSTOLIC, systolic),
                _component(DIASTOLIC, diastolic),
            ]
        elif question.kind in MEASUREMENTS and measurement_value(question.kind, stored):
            vital = MEASUREMENTS[question.kind].vital
            observation = _vital_observation(data, question.code, vital)
            observation["valueQuantity"] = vital.unit.quantity(
                _number(measurement_value(question.kind, stored))
            )
            notes = [VITALS_NOTE, *_as_typed(stored)]
        elif (
            question.kind in (INTEGER, DECIMAL)
            and question.code in VITAL_SIGNS
            and _number(stored) is not None
        ):
            vital = VITAL_SIGNS[question.code]
            observation = _vital_observation(data, question.code, vital)
            observation["valueQuantity"] = vital.unit.quantity(_number(stored))
        else:
            continue
        observation["performer"] = [reference("Patient", data.patient_id)]
        observation["note"] = [{"text": " ".join(notes)}]
        made[question.code] = observation
    return made


def _vital_observation(data: ScreeningData, code: str, vital: VitalSign) -> dict:
    return _observation(
        data,
        f"vital-{code}",
        "vital-signs",
        {"coding": [vital.code.coding()], "text": vital.code.display},
    )


def _as_typed(stored: Mapping) -> list[str]:
    """What the patient typed when it was not the metric unit, and a confirmed weight."""
    said = []
    if stored.get("feet") is not None:
        inches = _number(stored.get("inches")) or 0
        said.append(f"Typed as {_plain(stored['feet'])} ft {_plain(inches)} in.")
    if stored.get("pounds") is not None:
        said.append(f"Typed as {_plain(stored['pounds'])} lb.")
    if stored.get("confirmed"):
        # The intake asks when a weight and height together look like a mixed-up unit.
        said.append("The patient confirmed this weight when asked to check the unit.")
    return said


def _plain(value: object) -> str:
    number = _number(value)
    if number is None:
        return str(value)
    return f"{Decimal(str(number)).normalize():f}"


def _component(code: Code, value: int | float | None) -> dict:
    component: dict = {"code": {"coding": [code.coding()], "text": code.display}}
    if value is None:
        component["dataAbsentReason"] = {
            "coding": [{"system": DATA_ABSENT, "code": "unknown", "display": "Unknown"}]
        }
    else:
        component["valueQuantity"] = MM_HG.quantity(value)
    return component


# --- Medication statements -----------------------------------------------------------------------


def medication_statements(data: ScreeningData, base: str) -> list[tuple[MedicationData, dict]]:
    """Each typed entry as the patient wrote it, with the formulary's name when recognised."""
    statements = []
    for row in data.medications:
        medication: dict = {"text": row.typed}
        if row.matched:
            medication["coding"] = [
                {
                    "system": local_system(base, "formulary"),
                    "code": row.matched,
                    "display": row.matched,
                }
            ]
        statement = {
            "resourceType": "MedicationStatement",
            "id": derived_id(data.id, f"medication-{row.position}"),
            "status": "active",
            "category": {
                "coding": [
                    {
                        "system": STATEMENT_CATEGORY,
                        "code": "patientspecified",
                        "display": "Patient Specified",
                    }
                ]
            },
            "medicationCodeableConcept": medication,
            "subject": reference("Patient", data.patient_id),
            "dateAsserted": instant(data.submitted_at),
            "informationSource": reference("Patient", data.patient_id),
            "derivedFrom": [reference("QuestionnaireResponse", data.id)],
        }
        dosage = " ".join(part for part in (row.dose.strip(), row.frequency.strip()) if part)
        if dosage:
            statement["dosage"] = [{"text": dosage}]
        statements.append((row, statement))
    return statements


# --- Detected issues and decisions ------------------------------------------------------------------


@dataclass
class _Targets:
    """What a flag's evidence can point at, once the other resources are built."""

    response_id: str
    response_items: set[str]
    scores: dict[str, str]  # score code -> Observation id
    vitals: dict[str, str]  # question code -> Observation id
    statements: list[tuple[MedicationData, str]]  # entry -> MedicationStatement id
    blood_pressure: str | None  # the Observation of the blood pressure, if any


def _answer_reference(targets: _Targets, code: str, label: str) -> dict:
    ref = reference("QuestionnaireResponse", targets.response_id, f"Answer to {label}")
    if code in targets.response_items:
        ref["extension"] = [{"url": TARGET_ELEMENT, "valueUri": f"item-{code}"}]
    return ref


def _evidence_details(
    entry: Mapping, targets: _Targets, questionnaire: QuestionnaireDef
) -> tuple[list[dict], list[dict]]:
    """(evidence references, implicated statements) for one evidence entry of a flag."""
    code = entry.get("question")
    if code is not None and "typed" in entry:
        found = [
            statement_id
            for row, statement_id in targets.statements
            if row.question_code == code and row.typed == entry.get("typed")
        ]
        refs = [
            reference("MedicationStatement", statement_id, str(entry.get("typed")))
            for statement_id in found[:1]
        ]
        return refs, refs
    if code is not None:
        question = questionnaire.questions_by_code.get(code)
        if question is not None and question.kind == BLOOD_PRESSURE and targets.blood_pressure:
            return [reference("Observation", targets.blood_pressure, "Blood pressure")], []
        if code in targets.vitals:
            return [reference("Observation", targets.vitals[code], code)], []
        return [_answer_reference(targets, code, code)], []
    name = entry.get("value")
    if name in targets.scores:
        return [reference("Observation", targets.scores[name], name)], []
    if name in ("bp_systolic", "bp_diastolic") and targets.blood_pressure:
        return [reference("Observation", targets.blood_pressure, "Blood pressure")], []
    if name == "bmi":
        refs = [
            reference("Observation", targets.vitals[c], c)
            for c in ("height_cm", "weight_kg")
            if c in targets.vitals
        ]
        return refs, []
    if name == "age":
        return [_answer_reference(targets, DATE_OF_BIRTH, "date of birth")], []
    return [], []


def detected_issues(data: ScreeningData, targets: _Targets, base: str) -> list[dict]:
    issues = []
    questionnaire = data.question_set.questionnaire
    for flag in data.flags:
        evidence, implicated = [], []
        for entry in flag.evidence:
            refs, statements = _evidence_details(entry, targets, questionnaire)
            if refs:
                evidence.append({"detail": refs})
            implicated.extend(s for s in statements if s not in implicated)
        detail = flag.message.strip()
        if flag.rationale.strip():
            detail += "\n\nWhy it matters: " + flag.rationale.strip()
        issue = {
            "resourceType": "DetectedIssue",
            "id": str(flag.id),
            "extension": [
                {"url": f"{base}/StructureDefinition/flag-severity", "valueCode": flag.severity}
            ],
            "status": "final",
            "code": {
                "coding": [
                    {
                        "system": local_system(base, "rules"),
                        "code": flag.code,
                        "display": flag.title,
                    }
                ],
                "text": flag.title,
            },
            "severity": ISSUE_SEVERITY.get(flag.severity, "low"),
            "patient": reference("Patient", data.patient_id),
            "detail": detail,
        }
        if data.evaluated_at:
            issue["identifiedDateTime"] = instant(data.evaluated_at)
        if implicated:
            issue["implicated"] = implicated
        if evidence:
            issue["evidence"] = evidence
        if flag.acknowledgement:
            issue["mitigation"] = [
                {
                    "action": {"text": "Acknowledged by the reviewing physician"},
                    "date": instant(flag.acknowledgement.at),
                    "author": reference(
                        "Practitioner",
                        flag.acknowledgement.physician_id,
                        flag.acknowledgement.physician_name,
                    ),
                }
            ]
        issues.append(issue)
    return issues


def clinical_impressions(data: ScreeningData, investigated: list[dict], base: str) -> list[dict]:
    """Each signed decision (amendments point at the decision they amend)."""
    flag_ids = {flag.code: flag.id for flag in data.flags}
    impressions = []
    for decision in data.decisions:
        summary = decision.outcome_label
        if decision.conditions.strip():
            summary += f". Conditions: {decision.conditions.strip()}"
        if decision.reason.strip():
            summary += f". Reason: {decision.reason.strip()}"
        impression: dict = {
            "resourceType": "ClinicalImpression",
            "id": str(decision.id),
            "status": "completed",
            "code": {"text": "Ketamine pre-treatment screening review"},
            "subject": reference("Patient", data.patient_id),
            "effectiveDateTime": instant(decision.signed_at),
            "date": instant(decision.signed_at),
            "assessor": reference("Practitioner", decision.physician_id, decision.signed_name),
            "investigation": [
                {
                    "code": {"text": "Screening questionnaire, scores, vital signs and medicines"},
                    "item": investigated,
                }
            ],
            "summary": summary,
            "finding": [
                {
                    "itemCodeableConcept": {
                        "coding": [
                            {
                                "system": local_system(base, "decision-outcomes"),
                                "code": decision.outcome,
                                "display": decision.outcome_label,
                            }
                        ],
                        "text": decision.outcome_label,
                    }
                }
            ],
        }
        if decision.amends_id:
            impression["previous"] = reference("ClinicalImpression", decision.amends_id)
        seen = [
            reference("DetectedIssue", flag_ids[code])
            for code in decision.flag_codes
            if code in flag_ids
        ]
        if seen:
            impression["supportingInfo"] = seen
        notes = []
        if decision.override_reason.strip():
            notes.append(
                f"Cleared despite a contraindication because: {decision.override_reason.strip()}"
            )
        if decision.message_to_patient.strip():
            notes.append(f"Message to the patient: {decision.message_to_patient.strip()}")
        if notes:
            impression["note"] = [
                {
                    "authorReference": reference("Practitioner", decision.physician_id),
                    "time": instant(decision.signed_at),
                    "text": note,
                }
                for note in notes
            ]
        impressions.append(impression)
    return impressions


# --- The Bundle ---------------------------------------------------------------------------------------


def screening_bundle(data: ScreeningData, base: str, now: datetime) -> dict:
    """Everything about one screening, as one collection Bundle."""
    response = questionnaire_response(data, base)
    scores = score_observations(data, base)
    vitals = vital_observations(data)
    statements = medication_statements(data, base)
    blood_pressure = next(
        (
            vitals[q.code]["id"]
            for q in data.question_set.questionnaire.questions_by_code.values()
            if q.kind == BLOOD_PRESSURE and q.code in vitals
        ),
        None,
    )
    targets = _Targets(
        response_id=str(data.id),
        response_items=_item_ids(response),
        scores={code: made[0]["id"] for code, made in scores.items()},
        vitals={code: observation["id"] for code, observation in vitals.items()},
        statements=[(row, statement["id"]) for row, statement in statements],
        blood_pressure=blood_pressure,
    )
    issues = detected_issues(data, targets, base)
    observations = [o for made in scores.values() for o in made] + list(vitals.values())
    investigated = [reference("QuestionnaireResponse", data.id)]
    investigated += [reference("Observation", o["id"]) for o in observations]
    investigated += [reference("MedicationStatement", s["id"]) for _, s in statements]
    impressions = clinical_impressions(data, investigated, base)
    practitioners: dict[str, dict] = {}
    for decision in data.decisions:
        practitioners.setdefault(
            decision.physician_id, practitioner(decision.physician_id, decision.signed_name)
        )
    for flag in data.flags:
        ack = flag.acknowledgement
        if ack:
            practitioners.setdefault(
                ack.physician_id, practitioner(ack.physician_id, ack.physician_name)
            )
    resources = [
        patient(data),
        questionnaire(data.question_set, base),
        response,
        *observations,
        *(statement for _, statement in statements),
        *issues,
        *impressions,
        *practitioners.values(),
    ]
    return {
        "resourceType": "Bundle",
        "id": str(data.id),
        "meta": {"lastUpdated": instant(now)},
        "identifier": {"system": URI_IDENTIFIER, "value": urn(data.id)},
        "type": "collection",
        "timestamp": instant(now),
        "entry": [{"fullUrl": urn(resource["id"]), "resource": resource} for resource in resources],
    }


def _item_ids(response: dict) -> set[str]:
    """The linkIds of answered items that carry an element id (item-<linkId>)."""
    found = set()

    def walk(items: list[dict]) -> None:
        for item in items:
            if item.get("id") == f"item-{item['linkId']}":
                found.add(item["linkId"])
            walk(item.get("item", []))

    walk(response.get("item", []))
    return found


# --- Server resources -------------------------------------------------------------------------------


def operation_outcome(code: str, text: str, severity: str = "error") -> dict:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": text}],
    }


def searchset(base: str, resources: Sequence[dict], total: int, links: Mapping[str, str]) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": [{"relation": relation, "url": url} for relation, url in links.items()],
        "entry": [
            {
                "fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match"},
            }
            for resource in resources
        ],
    }


def capability_statement(base: str, published: datetime, software_version: str = "") -> dict:
    read = [{"code": "read"}]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": instant(published),
        "kind": "instance",
        "software": {"name": "Clinic pre-treatment screening"},
        "implementation": {
            "description": "Read-only FHIR API of the clinic's screenings",
            "url": base,
        },
        "fhirVersion": FHIR_VERSION,
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "cors": False,
                    "description": (
                        "Every request but this one needs a per-client API token issued by the "
                        "clinic, sent as 'Authorization: Bearer <token>'. Tokens are read-only, "
                        "scoped, expire and are rate-limited; every read is audited."
                    ),
                },
                "resource": [
                    {"type": "Questionnaire", "interaction": read},
                    {
                        "type": "QuestionnaireResponse",
                        "interaction": [*read, {"code": "search-type"}],
                        "searchParam": [
                            {
                                "name": "patient",
                                "type": "reference",
                                "documentation": "Patient/<id> or the id alone",
                            },
                            {
                                "name": "subject",
                                "type": "reference",
                                "documentation": "The same as patient",
                            },
                            {
                                "name": "authored",
                                "type": "date",
                                "documentation": "eq, ge, gt, le, lt; repeat for a range",
                            },
                            {
                                "name": "_count",
                                "type": "number",
                                "documentation": "Page size, 1 to 100",
                            },
                            {
                                "name": "_offset",
                                "type": "number",
                                "documentation": "Results to skip",
                            },
                        ],
                    },
                    {
                        "type": "Bundle",
                        "interaction": read,
                        "documentation": "Bundle/<screening id>: everything about one screening",
                    },
                ],
            }
        ],
    }
