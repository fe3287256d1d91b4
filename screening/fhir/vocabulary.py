"""The FHIR vocabulary the export and the import share: URLs of extensions, code systems,
the LOINC codes we are sure of, and UCUM units.

Codes are never guessed. The LOINC codes below are the ones issue 16 gives (PHQ-9 and GAD-7
totals and panels, the vital signs) and the item codes of the PHQ-9 and GAD-7 as LOINC's own
form definitions list them (the LHC-Forms renderings of panels 44249-1 and 69737-5 published
by the US National Library of Medicine). Other instruments (AUDIT-C, PCL-5) and our own
questions carry no LOINC code: we could not confirm one from LOINC's published forms.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..engine.severity import Severity

FHIR_VERSION = "4.0.1"  # R4
FHIR_JSON = "application/fhir+json"

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ITEM_CONTROL = "http://hl7.org/fhir/questionnaire-item-control"
URI_IDENTIFIER = "urn:ietf:rfc:3986"  # identifier values that are URIs (urn:uuid:...)

# Core (R4) and Extensions Pack extensions.
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
QUESTIONNAIRE_UNIT = "http://hl7.org/fhir/StructureDefinition/questionnaire-unit"
OPTION_EXCLUSIVE = "http://hl7.org/fhir/StructureDefinition/questionnaire-optionExclusive"
ITEM_CONTROL_EXTENSION = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
TARGET_ELEMENT = "http://hl7.org/fhir/StructureDefinition/targetElement"
# R4 core, on a quantity item: a unit the person may answer in (Coding, repeating).
UNIT_OPTION = "http://hl7.org/fhir/StructureDefinition/questionnaire-unitOption"
# R4 core, on an item: the syntax a valid answer has (a regular expression, string).
REGEX = "http://hl7.org/fhir/StructureDefinition/regex"

# Structured Data Capture (SDC) extensions.
SDC = "http://hl7.org/fhir/uv/sdc/StructureDefinition/"
ENABLE_WHEN_EXPRESSION = SDC + "sdc-questionnaire-enableWhenExpression"
CALCULATED_EXPRESSION = SDC + "sdc-questionnaire-calculatedExpression"
# The inclusive bounds of a quantity item (minValue and maxValue take no Quantity).
MIN_QUANTITY = SDC + "sdc-questionnaire-minQuantity"
MAX_QUANTITY = SDC + "sdc-questionnaire-maxQuantity"

FHIRPATH = "text/fhirpath"
# Expression.language is an extensible binding: a show-when with no FHIRPath equivalent
# travels in our own language, under this media type, so nothing is silently lost.
OUR_LANGUAGE = "text/x-clinic-screening-expression"
# On a FHIRPath Expression: the show-when it was translated from, so our importer restores
# the original exactly. Recognised by this path under any base URL.
SHOW_WHEN_PATH = "/StructureDefinition/show-when"


@dataclass(frozen=True)
class Code:
    system: str
    code: str
    display: str

    def coding(self) -> dict:
        coding = {"system": self.system, "code": self.code}
        if self.display:
            coding["display"] = self.display
        return coding


def loinc(code: str, display: str) -> Code:
    return Code(LOINC, code, display)


# Scores: (panel, total). Keyed by our score definition's code. A display is given only
# where LOINC's published form shows it.
SCORE_CODES: dict[str, tuple[Code, Code]] = {
    "phq9_total": (
        loinc("44249-1", "PHQ-9 quick depression assessment panel"),
        loinc("44261-6", "Patient health questionnaire 9 item total score"),
    ),
    "gad7_total": (
        loinc("69737-5", "Generalized anxiety disorder 7 item (GAD-7)"),
        loinc("70274-6", ""),
    ),
}

# Item codes of the two instruments, keyed by our question codes.
ITEM_CODES: dict[str, Code] = {
    "phq9_1": loinc("44250-9", "Little interest or pleasure in doing things?"),
    "phq9_2": loinc("44255-8", "Feeling down, depressed, or hopeless?"),
    "phq9_3": loinc("44259-0", "Trouble falling or staying asleep, or sleeping too much"),
    "phq9_4": loinc("44254-1", "Feeling tired or having little energy"),
    "phq9_5": loinc("44251-7", "Poor appetite or overeating"),
    "phq9_6": loinc(
        "44258-2",
        "Feeling bad about yourself-or that you are a failure or have let yourself or your"
        " family down",
    ),
    "phq9_7": loinc(
        "44252-5",
        "Trouble concentrating on things, such as reading the newspaper or watching television",
    ),
    "phq9_8": loinc(
        "44253-3",
        "Moving or speaking so slowly that other people could have noticed. Or the"
        " opposite-being so fidgety or restless that you have been moving around a lot more"
        " than usual",
    ),
    "phq9_9": loinc(
        "44260-8", "Thoughts that you would be better off dead, or of hurting yourself in some way"
    ),
    "phq9_difficulty": loinc(
        "69722-7",
        "How difficult have these problems made it for you to do your work, take care of"
        " things at home, or get along with other people?",
    ),
    "gad7_1": loinc("69725-0", ""),
    "gad7_2": loinc("68509-9", ""),
    "gad7_3": loinc("69733-4", ""),
    "gad7_4": loinc("69734-2", ""),
    "gad7_5": loinc("69735-9", ""),
    "gad7_6": loinc("69689-8", "Becoming easily annoyed or irritable."),
    "gad7_7": loinc("69736-7", ""),
}

BP_PANEL = loinc("85354-9", "Blood pressure panel with all children optional")
SYSTOLIC = loinc("8480-6", "Systolic blood pressure")
DIASTOLIC = loinc("8462-4", "Diastolic blood pressure")


@dataclass(frozen=True)
class Unit:
    code: str  # UCUM
    display: str

    def quantity(self, value: object) -> dict:
        return {"value": value, "unit": self.display, "system": UCUM, "code": self.code}

    def coding(self) -> dict:
        return {"system": UCUM, "code": self.code, "display": self.display}


MM_HG = Unit("mm[Hg]", "mmHg")
CM = Unit("cm", "cm")
KG = Unit("kg", "kg")
# The US units the intake also takes (engine/units.py); the vital-signs profile allows
# them for body height and body weight.
INCH = Unit("[in_i]", "in")
POUND = Unit("[lb_av]", "lb")
# Our units as admins type them -> UCUM. A unit not listed travels as display text only.
UNITS: dict[str, Unit] = {
    "cm": CM,
    "kg": KG,
    "beats per minute": Unit("/min", "beats/minute"),
    "mmHg": MM_HG,
}


@dataclass(frozen=True)
class VitalSign:
    code: Code
    unit: Unit


BODY_HEIGHT = VitalSign(loinc("8302-2", "Body height"), CM)
BODY_WEIGHT = VitalSign(loinc("29463-7", "Body weight"), KG)

# Vital-sign questions of the default set asked as plain numbers, keyed by question code
# (versions before the height and weight kinds asked height_cm and weight_kg as decimals).
# A blood pressure, a height and a weight are found by their kind, whatever their code.
VITAL_SIGNS: dict[str, VitalSign] = {
    "heart_rate": VitalSign(loinc("8867-4", "Heart rate"), UNITS["beats per minute"]),
    "height_cm": BODY_HEIGHT,
    "weight_kg": BODY_WEIGHT,
}

# Flag severities -> DetectedIssue.severity (issue 16).
ISSUE_SEVERITY = {
    Severity.URGENT: "high",
    Severity.CONTRAINDICATED: "high",
    Severity.CAUTION: "moderate",
    Severity.INFO: "low",
}
