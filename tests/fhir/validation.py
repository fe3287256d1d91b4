"""Validate what the app emits against FHIR models from fhir.resources, and check every code.

fhir.resources ships R5, R4B and STU3 models, not R4; R4B is the closest (see the README's
FHIR section for the differences we checked). Its models check structure, cardinality and
datatypes but not the codes of required bindings, so `validated` also walks the model and
checks every coded element against the list the model declares, minus the codes R4B added
to those lists after R4 (the only such list among what we emit is Expression.language).
"""

from __future__ import annotations

from fhir.resources.R4B import FHIRAbstractModel, get_fhir_model_class

# The model abbreviates some code lists ("... +"); these are R4's in full.
FULL_LISTS = {
    ("QuestionnaireItem", "type"): [
        *[
            "group",
            "display",
            "boolean",
            "decimal",
            "integer",
            "date",
            "dateTime",
            "time",
            "string",
            "text",
            "url",
        ],
        *["choice", "open-choice", "attachment", "reference", "quantity"],
    ],
}
# Codes R4B allows where R4 does not, in the elements we emit.
R4B_ONLY = {("Expression", "language"): {"text/cql-identifier", "text/cql-expression"}}


def validated(resource: dict) -> FHIRAbstractModel:
    """The resource as an R4B model; raises if it is invalid or uses a code R4 lacks."""
    model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    problems = list(_code_problems(model, resource["resourceType"]))
    assert not problems, problems
    return model


def _code_problems(model: FHIRAbstractModel, path: str):
    for name, info in type(model).model_fields.items():
        value = getattr(model, name, None)
        if value is None:
            continue
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        allowed = [code for code in extra.get("enum_values") or [] if code]
        values = value if isinstance(value, list) else [value]
        if (type(model).__name__, name) in FULL_LISTS:
            allowed = FULL_LISTS[(type(model).__name__, name)]
        if allowed and not {"etc.", "+"} & set(allowed):
            for item in values:
                if isinstance(item, str) and item not in allowed:
                    yield f"{path}.{name} = {item!r}, not one of {allowed}"
        r4b_only = R4B_ONLY.get((type(model).__name__, name), set())
        for item in values:
            if isinstance(item, str) and item in r4b_only:
                yield f"{path}.{name} = {item!r} exists in R4B but not in R4"
            if isinstance(item, FHIRAbstractModel):
                yield from _code_problems(item, f"{path}.{name}")


def every(resource: dict, key: str):
    """Every value of `key` anywhere inside a JSON structure."""
    if isinstance(resource, dict):
        for name, value in resource.items():
            if name == key:
                yield value
            yield from every(value, key)
    elif isinstance(resource, list):
        for value in resource:
            yield from every(value, key)
