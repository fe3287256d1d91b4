"""A version's patient-facing texts by key, and a questionnaire with them translated.

Pure Python like the rest of the engine. The keys (docs: the issue 17 key scheme):

- ``section.<section>.title``, ``section.<section>.intro`` (only when the intro is not empty)
- ``question.<question>.text``, ``question.<question>.help`` and ``question.<question>.unit``
  (each only when not empty)
- ``choice.<question>.<value>`` (the choice's label)
- ``rule.<rule>.patient_message`` (only when not empty)

`translatable_texts` is the one list of them: the admin's translation page, the PO and CSV
files, the check on publish and the patient's pages all read it. Translating changes texts
only; codes, kinds, values, scores and expressions stay as they are, so the wizard, the
rules and the scores work the same in every language.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

from .questionnaire import QuestionnaireDef
from .rules import RuleDef


def translatable_texts(
    questionnaire: QuestionnaireDef, rules: Iterable[RuleDef] = ()
) -> dict[str, str]:
    """Every patient-facing text of a version by key, in the order a patient meets them."""
    return {key: text for key, (_, text) in _texts(questionnaire, rules).items()}


def text_parts(questionnaire: QuestionnaireDef, rules: Iterable[RuleDef] = ()) -> dict[str, str]:
    """The part of the questionnaire each key belongs to: its section's code, or "rules"."""
    return {key: part for key, (part, _) in _texts(questionnaire, rules).items()}


RULES_PART = "rules"


def _texts(questionnaire: QuestionnaireDef, rules: Iterable[RuleDef]) -> dict[str, tuple[str, str]]:
    texts: dict[str, tuple[str, str]] = {}
    for section in questionnaire.sections:
        part = section.code
        texts[f"section.{part}.title"] = (part, section.title)
        if section.intro:
            texts[f"section.{part}.intro"] = (part, section.intro)
        for question in section.questions:
            texts[f"question.{question.code}.text"] = (part, question.text)
            if question.help_text:
                texts[f"question.{question.code}.help"] = (part, question.help_text)
            if question.unit:
                texts[f"question.{question.code}.unit"] = (part, question.unit)
            for choice in question.choices:
                texts[f"choice.{question.code}.{choice.value}"] = (part, choice.label)
    for rule in rules:
        if rule.patient_message:
            texts[f"rule.{rule.code}.patient_message"] = (RULES_PART, rule.patient_message)
    return texts


def translated_questionnaire(
    questionnaire: QuestionnaireDef, texts: Mapping[str, str]
) -> QuestionnaireDef:
    """The same questionnaire with each text that has a key in `texts` replaced by it."""

    def text(key: str, source: str) -> str:
        return texts.get(key, source) if source else source

    sections = []
    for section in questionnaire.sections:
        questions = []
        for question in section.questions:
            code = question.code
            questions.append(
                replace(
                    question,
                    text=text(f"question.{code}.text", question.text),
                    help_text=text(f"question.{code}.help", question.help_text),
                    unit=text(f"question.{code}.unit", question.unit),
                    choices=tuple(
                        replace(choice, label=text(f"choice.{code}.{choice.value}", choice.label))
                        for choice in question.choices
                    ),
                )
            )
        sections.append(
            replace(
                section,
                title=text(f"section.{section.code}.title", section.title),
                intro=text(f"section.{section.code}.intro", section.intro),
                questions=tuple(questions),
            )
        )
    return QuestionnaireDef(tuple(sections), questionnaire.baseline)
