"""The JSON shape of every field the bronze flattening reads, per resource type, and the check that holds a
resource to it.

One declaration serves both parsing paths: the vectorized path hands it to Arrow's JSON reader as the explicit
schema (which fails a file on any value of another JSON type), and the per-resource path checks each resource
against it with ``check_types`` before flattening, so a value of the wrong JSON type is quarantined with its
JSON path (``gender``, ``code.coding[0].system``) by either path, never coerced (a string where FHIR wants a
Reference object, a numeric string where it wants a decimal) and never fatal. Fields the flattening does not
read are not checked: they stay in ``raw_json`` as delivered. JSON ``null`` stands for an absent value; an
array element that is ``null`` is invalid FHIR JSON and is quarantined (the vectorized path hands any line
holding ``null`` to the per-resource path, which decides).

Types follow FHIR R4's JSON representation: ``string``, ``code``, ``uri``, ``date``, ``dateTime`` and
``instant`` are JSON strings (``pl.String``); ``decimal`` is a JSON number (``pl.Float64``); ``integer`` a
JSON number without a fraction or exponent (``pl.Int64``); ``boolean`` is ``true``/``false``; complex types are
objects (``pl.Struct``, only the declared members are checked) and repeating elements arrays (``pl.List``).
"""

from __future__ import annotations

from typing import Any

import orjson
import polars as pl

from ingestion.errors import QuarantineError

S = pl.String
REFERENCE = pl.Struct({"reference": S, "type": S})
CODING = pl.Struct({"system": S, "code": S, "display": S})
CONCEPT = pl.Struct({"coding": pl.List(CODING), "text": S})
CONCEPTS = pl.List(CONCEPT)
PERIOD = pl.Struct({"start": S, "end": S})
QUANTITY = pl.Struct({"value": pl.Float64, "unit": S, "code": S})
META = pl.Struct({"profile": pl.List(S), "lastUpdated": S})
HUMAN_NAME = pl.Struct(
    {
        "use": S,
        "text": S,
        "family": S,
        "given": pl.List(S),
        "prefix": pl.List(S),
        "suffix": pl.List(S),
    }
)
CONTACT_POINT = pl.Struct({"system": S, "value": S})
ADDRESS = pl.Struct({"line": pl.List(S), "city": S, "state": S, "postalCode": S, "country": S})
EXTENSION = pl.Struct(
    {
        "url": S,
        "valueString": S,
        "valueCode": S,
        "extension": pl.List(pl.Struct({"url": S, "valueString": S, "valueCoding": CODING})),
    }
)
DOSAGE = pl.Struct({"text": S, "route": CONCEPT})

BASE: dict[str, pl.DataType] = {"resourceType": S, "id": S, "meta": META}
PATIENT_LINKS = {"subject": REFERENCE, "patient": REFERENCE, "encounter": REFERENCE}

Shape = dict[str, Any]  # field name -> polars data type

SHAPES: dict[str, Shape] = {
    "Patient": {
        **BASE,
        "identifier": pl.List(pl.Struct({"system": S, "type": CONCEPT, "value": S})),
        "name": pl.List(HUMAN_NAME),
        "birthDate": S,
        "deceasedBoolean": pl.Boolean,
        "deceasedDateTime": S,
        "gender": S,
        "extension": pl.List(EXTENSION),
        "address": pl.List(ADDRESS),
        "telecom": pl.List(CONTACT_POINT),
        "maritalStatus": CONCEPT,
        "contact": pl.List(
            pl.Struct(
                {
                    "relationship": CONCEPTS,
                    "name": HUMAN_NAME,
                    "telecom": pl.List(CONTACT_POINT),
                }
            )
        ),
        "managingOrganization": REFERENCE,
    },
    "Encounter": {
        **BASE,
        "status": S,
        "class": CODING,
        "type": CONCEPTS,
        "priority": CONCEPT,
        "serviceType": CONCEPT,
        "subject": REFERENCE,
        "patient": REFERENCE,
        "period": PERIOD,
        "hospitalization": pl.Struct({"admitSource": CONCEPT, "dischargeDisposition": CONCEPT}),
        "reasonCode": CONCEPTS,
        "serviceProvider": REFERENCE,
        "location": pl.List(pl.Struct({"location": REFERENCE})),
        "participant": pl.List(pl.Struct({"individual": REFERENCE})),
        "partOf": REFERENCE,
    },
    "Condition": {
        **BASE,
        **PATIENT_LINKS,
        "code": CONCEPT,
        "category": CONCEPTS,
        "clinicalStatus": CONCEPT,
        "verificationStatus": CONCEPT,
        "onsetDateTime": S,
        "onsetPeriod": PERIOD,
        "abatementDateTime": S,
        "abatementPeriod": PERIOD,
        "recordedDate": S,
    },
    "Observation": {
        **BASE,
        **PATIENT_LINKS,
        "status": S,
        "category": CONCEPTS,
        "code": CONCEPT,
        "effectiveDateTime": S,
        "effectivePeriod": PERIOD,
        "effectiveInstant": S,
        "issued": S,
        "valueQuantity": QUANTITY,
        "valueCodeableConcept": CONCEPT,
        "valueString": S,
        "valueBoolean": pl.Boolean,
        "valueInteger": pl.Int64,
        "valueDateTime": S,
        "interpretation": CONCEPTS,
        "component": pl.List(pl.Struct({"code": CONCEPT, "valueQuantity": QUANTITY})),
        "specimen": REFERENCE,
    },
    "Procedure": {
        **BASE,
        **PATIENT_LINKS,
        "status": S,
        "code": CONCEPT,
        "performedDateTime": S,
        "performedPeriod": PERIOD,
    },
    "DocumentReference": {
        **BASE,
        "status": S,
        "subject": REFERENCE,
        "type": CONCEPT,
        "category": CONCEPTS,
        "date": S,
        "author": pl.List(REFERENCE),
        "context": pl.Struct({"encounter": pl.List(REFERENCE)}),
        "content": pl.List(pl.Struct({"attachment": pl.Struct({"contentType": S, "data": S})})),
    },
    "Organization": {
        **BASE,
        "name": S,
        "type": CONCEPTS,
        "telecom": pl.List(CONTACT_POINT),
        "address": pl.List(ADDRESS),
        "partOf": REFERENCE,
    },
    "Location": {
        **BASE,
        "name": S,
        "status": S,
        "type": CONCEPTS,
        "physicalType": CONCEPT,
        "managingOrganization": REFERENCE,
        "partOf": REFERENCE,
        "address": ADDRESS,  # 0..1 on Location
    },
    "Practitioner": {
        **BASE,
        "identifier": pl.List(pl.Struct({"system": S, "value": S})),
        "name": pl.List(HUMAN_NAME),
        "gender": S,
        "telecom": pl.List(CONTACT_POINT),
        "address": pl.List(ADDRESS),
    },
    "Medication": {
        **BASE,
        "code": CONCEPT,
        "status": S,
        "form": CONCEPT,
        "ingredient": pl.List(pl.Struct({"itemReference": REFERENCE})),
    },
}

_MEDICATION_COMMON: Shape = {
    **BASE,
    **PATIENT_LINKS,
    "context": REFERENCE,
    "status": S,
    "intent": S,
    "medicationCodeableConcept": CONCEPT,
    "medicationReference": REFERENCE,
}
SHAPES["MedicationRequest"] = {
    **_MEDICATION_COMMON,
    "authoredOn": S,
    "dispenseRequest": pl.Struct({"validityPeriod": PERIOD}),
    "dosageInstruction": pl.List(DOSAGE),
}
SHAPES["MedicationDispense"] = {
    **_MEDICATION_COMMON,
    "whenHandedOver": S,
    "whenPrepared": S,
    "dosageInstruction": pl.List(DOSAGE),
}
SHAPES["MedicationAdministration"] = {
    **_MEDICATION_COMMON,
    "effectiveDateTime": S,
    "effectivePeriod": PERIOD,
    "dosage": DOSAGE,  # 0..1 on MedicationAdministration
}
SHAPES["MedicationStatement"] = {
    **_MEDICATION_COMMON,
    "effectiveDateTime": S,
    "effectivePeriod": PERIOD,
    "dosage": pl.List(DOSAGE),
}

# Every other resource type (bronze/other_resources) keeps only its patient and encounter links. In R4 these
# elements are single References wherever they exist, except the types below.
OTHER_SHAPE: Shape = {
    **BASE,
    "subject": REFERENCE,
    "patient": REFERENCE,
    "beneficiary": REFERENCE,
    "encounter": REFERENCE,
    "context": REFERENCE,
}
OTHER_SHAPE_OVERRIDES: dict[str, Shape] = {
    "Account": {**OTHER_SHAPE, "subject": pl.List(REFERENCE)},  # Account.subject is 0..*
    "Contract": {**OTHER_SHAPE, "subject": pl.List(REFERENCE)},  # Contract.subject is 0..*
    "StructureDefinition": {  # StructureDefinition.context is a list of (type, expression)
        k: v for k, v in OTHER_SHAPE.items() if k != "context"
    },
}


def shape_of(resource_type: str) -> Shape:
    """The fields (and their JSON types) the flattening of ``resource_type`` reads."""
    return SHAPES.get(resource_type) or OTHER_SHAPE_OVERRIDES.get(resource_type) or OTHER_SHAPE


# ------------------------------------------------------------------ the check

_STR, _NUM, _INT, _BOOL, _OBJ, _LIST = range(6)
_WANTS = {
    _STR: "a string",
    _NUM: "a decimal (a JSON number)",
    _INT: "an integer (a JSON number without fraction or exponent)",
    _BOOL: "a boolean (true or false)",
    _OBJ: "an object",
    _LIST: "an array",
}
_INT64 = (-(2**63), 2**63)
Node = tuple[int, Any]


def _compile(dtype: Any) -> Node:
    if isinstance(dtype, pl.Struct):
        return (_OBJ, [(f.name, _compile(f.dtype)) for f in dtype.fields])
    if isinstance(dtype, pl.List):
        return (_LIST, _compile(dtype.inner))
    for kind, polars_type in ((_STR, pl.String), (_NUM, pl.Float64), (_INT, pl.Int64)):
        if dtype == polars_type:
            return (kind, None)
    if dtype == pl.Boolean:
        return (_BOOL, None)
    raise TypeError(f"no JSON check for {dtype}")


_COMPILED: dict[int, list[tuple[str, Node]]] = {}


def _compiled(shape: Shape) -> list[tuple[str, Node]]:
    key = id(shape)
    if key not in _COMPILED:
        _COMPILED[key] = [(name, _compile(dtype)) for name, dtype in shape.items()]
    return _COMPILED[key]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        dict: "an object",
        list: "an array",
    }.get(type(value), type(value).__name__)


def _wrong(path: str, value: Any, node: Node) -> QuarantineError:
    shown = orjson.dumps(value).decode("utf-8", "replace")
    shown = "" if value is None else f" ({shown if len(shown) <= 60 else shown[:57] + '...'})"
    return QuarantineError(
        f"wrong type: {path} is {_kind(value)}{shown}, FHIR wants {_WANTS[node[0]]}", path
    )


def _check(value: Any, node: Node, path: str) -> None:
    kind, inner = node
    t = type(value)
    if kind == _STR:
        ok = t is str
    elif kind == _OBJ:
        if t is not dict:
            raise _wrong(path, value, node)
        for name, child in inner:
            member = value.get(name)
            if member is not None:
                _check(member, child, f"{path}.{name}")
        return
    elif kind == _LIST:
        if t is not list:
            raise _wrong(path, value, node)
        for i, item in enumerate(value):
            if item is None:  # FHIR JSON arrays hold no nulls
                raise _wrong(f"{path}[{i}]", item, inner)
            _check(item, inner, f"{path}[{i}]")
        return
    elif kind == _NUM:
        ok = t is int or t is float
    elif kind == _INT:
        ok = t is int and _INT64[0] <= value < _INT64[1]
    else:
        ok = t is bool
    if not ok:
        raise _wrong(path, value, node)


def check_types(resource: dict[str, Any], shape: Shape) -> None:
    """QuarantineError (with the JSON path as ``field``) for the first value of another JSON type than the
    shape declares; absent and ``null`` values pass."""
    for name, node in _compiled(shape):
        value = resource.get(name)
        if value is not None:
            _check(value, node, name)
