"""Bronze table definitions: which resource types go where, their typed columns, and the flatteners.

Every bronze table also carries the common lineage columns (``COMMON_FIELDS``), including the raw
resource JSON for audit. A flattener raises ``QuarantineError`` when a resource cannot be typed.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ingestion.errors import QuarantineError
from ingestion.fhir_values import (
    concept_code,
    extension_value,
    first_coding,
    parse_date,
    parse_instant,
    period_bounds,
    reference_id,
    reference_type,
)

TS = pa.timestamp("us", tz="UTC")
STR = (
    pa.large_string()
)  # Arrow's 64-bit offsets: what Polars hands over, so no copy on the way to Delta
STR_LIST = pa.list_(STR)

COMMON_FIELDS = [
    pa.field("resource_key", STR, nullable=False),  # "<resourceType>/<id>": the merge key
    pa.field("resource_type", STR, nullable=False),
    pa.field("resource_id", STR, nullable=False),
    pa.field("profile", STR),
    pa.field("last_updated", TS),
    pa.field("snapshot_id", STR, nullable=False),
    pa.field("source_file", STR, nullable=False),
    pa.field("source_locator", STR, nullable=False),
    pa.field("ingested_at", TS, nullable=False),
    pa.field(
        "raw_json", pa.large_string(), nullable=False
    ),  # as delivered; a change updates the row
]

IDENTIFIER = pa.struct([("system", STR), ("type", STR), ("value", STR)])
CONTACT = pa.struct([("relationship", STR), ("name", STR), ("phone", STR)])
COMPONENT = pa.struct(
    [
        ("code_system", STR),
        ("code", STR),
        ("display", STR),
        ("value_num", pa.float64()),
        ("value_unit", STR),
    ]
)

Refs = dict[str, str]  # Bundle fullUrl -> resource id
Flattener = Callable[[dict[str, Any], Refs], dict[str, Any]]


@dataclass(frozen=True)
class BronzeTable:
    name: str
    fields: list[pa.Field]
    flatten: Flattener
    patient_scoped: bool  # rows must resolve to a patient

    @property
    def schema(self) -> pa.Schema:
        return pa.schema(COMMON_FIELDS + self.fields)


# ---------------------------------------------------------------- helpers


def _patient_key(resource: dict[str, Any], refs: Refs, *fields: str) -> str:
    for field in fields:
        ref = resource.get(field)
        if ref is None:
            continue
        kind = reference_type(ref)
        if kind not in (None, "Patient"):
            raise QuarantineError(
                f"{resource['resourceType']}.{field} references a {kind}, not a Patient", field
            )
        key = reference_id(ref, refs)
        if key:
            return key
    raise QuarantineError(
        f"{resource['resourceType']} without subject (no {'/'.join(fields)} reference)"
    )


def _encounter_id(resource: dict[str, Any], refs: Refs, *fields: str) -> str | None:
    """The encounter of the first of ``fields`` that references one (only the fields the type's shape declares:
    ``ingestion.fhir_shapes``, so their JSON types were checked)."""
    for field in fields:
        ref = resource.get(field)
        if ref and reference_type(ref) in (None, "Encounter"):
            return reference_id(ref, refs)
    return None


def _note_encounter_id(resource: dict[str, Any], refs: Refs) -> str | None:
    """DocumentReference.context.encounter: a list of References; the first one counts."""
    encounters = (resource.get("context") or {}).get("encounter") or ()
    ref = encounters[0] if encounters else None
    if ref and reference_type(ref) in (None, "Encounter"):
        return reference_id(ref, refs)
    return None


def _code_columns(concept: Any) -> dict[str, Any]:
    coding = first_coding(concept)
    return {
        "code_system": coding.get("system"),
        "code": coding.get("code"),
        "display": coding.get("display"),
    }


def _ref_ids(items: Any, refs: Refs, inner: str | None = None) -> list[str]:
    out = []
    for item in items or ():
        ref = item.get(inner) if inner and isinstance(item, dict) else item
        ref_id = reference_id(ref, refs)
        if ref_id:
            out.append(ref_id)
    return out


def _human_name(names: Any) -> dict[str, Any]:
    if not names:
        return {"family": None, "given": None, "prefix": None, "suffix": None}
    name = next((n for n in names if n.get("use") == "official"), names[0])
    return {
        "family": name.get("family"),
        "given": " ".join(name.get("given") or ()) or None,
        "prefix": " ".join(name.get("prefix") or ()) or None,
        "suffix": " ".join(name.get("suffix") or ()) or None,
    }


def _full_name(name: dict[str, Any] | None) -> str | None:
    if not name:
        return None
    if name.get("text"):
        return name["text"]
    parts = (
        list(name.get("prefix") or ()) + list(name.get("given") or ()) + [name.get("family") or ""]
    )
    return " ".join(p for p in parts if p) or None


def _telecom(items: Any, system: str) -> str | None:
    for item in items or ():
        if item.get("system") == system and item.get("value"):
            return item["value"]
    return None


def _address(items: Any) -> dict[str, Any]:
    address = (
        items[0]
        if isinstance(items, list) and items
        else (items if isinstance(items, dict) else {})
    )
    return {
        "address_line": ", ".join(address.get("line") or ()) or None,
        "city": address.get("city"),
        "state": address.get("state"),
        "postal_code": address.get("postalCode"),
        "country": address.get("country"),
    }


def _quantity(value: Any) -> tuple[float | None, str | None]:
    if not isinstance(value, dict) or value.get("value") is None:
        return None, None
    try:
        number = float(value["value"])
    except (TypeError, ValueError):
        raise QuarantineError(f"non-numeric valueQuantity.value: {value.get('value')!r}") from None
    return number, value.get("unit") or value.get("code")


# ---------------------------------------------------------------- flatteners

SSN_SYSTEMS = {"http://hl7.org/fhir/sid/us-ssn"}


def flatten_patient(r: dict[str, Any], refs: Refs) -> dict[str, Any]:
    identifiers, mrn, ssn = [], None, None
    for ident in r.get("identifier") or ():
        type_code = concept_code(ident.get("type"))
        value = ident.get("value")
        identifiers.append({"system": ident.get("system"), "type": type_code, "value": value})
        if ssn is None and (type_code == "SS" or ident.get("system") in SSN_SYSTEMS):
            ssn = value
        elif mrn is None and type_code == "MR":
            mrn = value
    if mrn is None:  # exports such as MIMIC carry the record number without a type
        mrn = next(
            (
                i["value"]
                for i in identifiers
                if i["type"] is None and i["value"] and i["system"] not in SSN_SYSTEMS
            ),
            None,
        )
    name = _human_name(r.get("name"))
    deceased_at = parse_instant(r.get("deceasedDateTime"), "deceasedDateTime")
    contacts = [
        {
            "relationship": (
                first_coding(c.get("relationship")).get("display")
                or first_coding(c.get("relationship")).get("code")
            ),
            "name": _full_name(c.get("name")),
            "phone": _telecom(c.get("telecom"), "phone"),
        }
        for c in r.get("contact") or ()
    ]
    return {
        "patient_key": r["id"],
        "mrn": mrn,
        "ssn": ssn,
        "identifiers": identifiers,
        "family_name": name["family"],
        "given_names": name["given"],
        "name_prefix": name["prefix"],
        "name_suffix": name["suffix"],
        "birth_date": parse_date(r.get("birthDate"), "birthDate"),
        "deceased": bool(r.get("deceasedBoolean")) or deceased_at is not None,
        "deceased_at": deceased_at,
        "gender": r.get("gender"),
        "race": extension_value(r, "us-core-race"),
        "ethnicity": extension_value(r, "us-core-ethnicity"),
        "birth_sex": extension_value(r, "us-core-birthsex"),
        **_address(r.get("address")),
        "phone": _telecom(r.get("telecom"), "phone"),
        "email": _telecom(r.get("telecom"), "email"),
        "marital_status": concept_code(r.get("maritalStatus")),
        "contacts": contacts,
        "managing_organization_id": reference_id(r.get("managingOrganization"), refs),
    }


def flatten_encounter(r: dict[str, Any], refs: Refs) -> dict[str, Any]:
    period = r.get("period") or {}
    start = parse_instant(period.get("start"), "period.start")
    end = parse_instant(period.get("end"), "period.end")
    cls = r.get("class") or {}
    hosp = r.get("hospitalization") or {}
    typ = first_coding(r.get("type"))
    reason = first_coding(r.get("reasonCode"))
    return {
        "encounter_id": r["id"],
        "patient_key": _patient_key(r, refs, "subject", "patient"),
        "status": r.get("status"),
        "class_code": cls.get("code") if isinstance(cls, dict) else None,
        "type_system": typ.get("system"),
        "type_code": typ.get("code"),
        "type_display": typ.get("display"),
        "priority_code": concept_code(r.get("priority")),
        "service_type": concept_code(r.get("serviceType")),
        "period_start": start,
        "period_end": end,
        "admit_source": concept_code(hosp.get("admitSource")),
        "discharge_disposition": concept_code(hosp.get("dischargeDisposition")),
        "reason_code": reason.get("code"),
        "reason_display": reason.get("display"),
        "service_provider_id": reference_id(r.get("serviceProvider"), refs),
        "location_ids": _ref_ids(r.get("location"), refs, "location"),
        "practitioner_ids": _ref_ids(r.get("participant"), refs, "individual"),
        "part_of_id": reference_id(r.get("partOf"), refs),
    }


def flatten_condition(r: dict[str, Any], refs: Refs) -> dict[str, Any]:
    onset, _ = period_bounds(r, "onset")
    abatement, _ = period_bounds(r, "abatement")
    return {
        "condition_id": r["id"],
        "patient_key": _patient_key(r, refs, "subject", "patient"),
        "encounter_id": _encounter_id(r, refs, "encounter"),
        **_code_columns(r.get("code")),
        "category": concept_code(r.get("category")),
        "clinical_status": concept_code(r.get("clinicalStatus")),
        "verification_status": concept_code(r.get("verificationStatus")),
        "onset_at": onset,
        "abatement_at": abatement,
        "recorded_at": parse_instant(r.get("recordedDate"), "recordedDate"),
    }


def _value_columns(r: dict[str, Any]) -> dict[str, Any]:
    num, unit = _quantity(r.get("valueQuantity"))
    text = r.get("valueString")
    code = None
    if "valueCodeableConcept" in r:
        coding = first_coding(r["valueCodeableConcept"])
        code, text = coding.get("code"), text or coding.get("display")
    elif "valueBoolean" in r:
        text = str(r["valueBoolean"]).lower()
    elif "valueInteger" in r:
        num = float(r["valueInteger"])
    elif "valueDateTime" in r:
        text = r["valueDateTime"]
    return {"value_num": num, "value_unit": unit, "value_text": text, "value_code": code}


def flatten_observation(r: dict[str, Any], refs: Refs) -> dict[str, Any]:
    effective, _ = period_bounds(r, "effective", instant=True)
    components = []
    for comp in r.get("component") or ():
        num, unit = _quantity(comp.get("valueQuantity"))
        components.append({**_code_columns(comp.get("code")), "value_num": num, "value_unit": unit})
    return {
        "observation_id": r["id"],
        "patient_key": _patient_key(r, refs, "subject", "patient"),
        "encounter_id": _encounter_id(r, refs, "encounter"),
        "status": r.get("status"),
        "category": concept_code(r.get("category")),
        **_code_columns(r.get("code")),
        "effective_at": effective,
        "issued_at": parse_instant(r.get("issued"), "issued"),
        **_value_columns(r),
        "interpretation": concept_code(r.get("interpretation")),
        "components": components,
        "specimen_id": reference_id(r.get("specimen"), refs),
    }


MEDICATION_KINDS = {
    "MedicationRequest": "request",
    "MedicationDispense": "dispense",
    "MedicationAdministration": "administration",
    "MedicationStatement": "statement",
}


def flatten_medication_event(r: dict[str, Any], refs: Refs) -> dict[str, Any]:
    kind = MEDICATION_KINDS[r["resourceType"]]
    if kind == "request":
        start = parse_instant(r.get("authoredOn"), "authoredOn")
        end = None
        validity = (r.get("dispenseRequest") or {}).get("validityPeriod") or {}
        if validity:
            end = parse_instant(validity.get("end"), "dispenseRequest.validityPeriod.end")
    elif kind == "dispense":
        start = parse_instant(r.get("whenHandedOver") or r.get("whenPrepared"), "whenHandedOver")
        end = None
    else:
        start, end = period_bounds(r, "effective")
    dosage = r.get("dosageInstruction" if kind in ("request", "dispense") else "dosage") or ()
    if isinstance(dosage, dict):  # MedicationAdministration.dosage is 0..1
        dosage = [dosage]
    first_dose = dosage[0] if dosage else {}
    return {
        "kind": kind,
        "patient_key": _patient_key(r, refs, "subject", "patient"),
        "encounter_id": _encounter_id(r, refs, "encounter", "context"),
        "status": r.get("status"),
        "intent": r.get("intent"),
        **_code_columns(r.get("medicationCodeableConcept")),
        "medication_id": reference_id(r.get("medicationReference"), refs),
        "start_at": start,
        "end_at": end,
        "dosage_text": first_dose.get("text"),
        "route": concept_code(first_dose.get("route")),
    }


def flatten_procedure(r: dict[str, Any], refs: Refs) -> dict[str, Any]:
    start, end = period_bounds(r, "performed")
    return {
        "procedure_id": r["id"],
        "patient_key": _patient_key(r, refs, "subject", "patient"),
        "encounter_id": _encounter_id(r, refs, "encounter"),
        "status": r.get("status"),
        **_code_columns(r.get("code")),
        "performed_start": start,
        "performed_end": end,
    }


def _attachment_text(attachment: dict[str, Any], where: str) -> str | None:
    data = attachment.get("data")
    if data is None:
        return None
    try:
        raw = base64.b64decode("".join(data.split()), validate=True)  # base64Binary may wrap lines
    except (binascii.Error, ValueError, TypeError):
        raise QuarantineError(
            f"{where}.attachment.data is not valid base64", f"{where}.attachment.data"
        ) from None
    content_type = attachment.get("contentType") or ""
    charset = "utf-8"
    if "charset=" in content_type:
        charset = content_type.split("charset=", 1)[1].split(";")[0].strip() or "utf-8"
    try:
        return raw.decode(charset)
    except (LookupError, UnicodeDecodeError):
        raise QuarantineError(
            f"{where}.attachment.data does not decode as {charset}", f"{where}.attachment.data"
        ) from None


def flatten_document_reference(r: dict[str, Any], refs: Refs) -> dict[str, Any]:
    texts, content_type = [], None
    for i, content in enumerate(r.get("content") or ()):
        attachment = content.get("attachment") or {}
        text = _attachment_text(attachment, f"content[{i}]")
        if text is not None:
            texts.append(text)
            content_type = content_type or attachment.get("contentType")
    typ = first_coding(r.get("type"))
    text = "\n\n".join(texts) if texts else None
    return {
        "note_id": r["id"],
        "patient_key": _patient_key(r, refs, "subject"),
        "encounter_id": _note_encounter_id(r, refs),
        "status": r.get("status"),
        "doc_type_code": typ.get("code"),
        "doc_type_display": typ.get("display"),
        "category": concept_code(r.get("category")),
        "note_date": parse_instant(r.get("date"), "date"),
        "author_ids": _ref_ids(r.get("author"), refs),
        "content_type": content_type,
        "text": text,
        "text_chars": len(text) if text is not None else 0,
    }


def flatten_organization(r: dict[str, Any], refs: Refs) -> dict[str, Any]:
    return {
        "organization_id": r["id"],
        "name": r.get("name"),
        "type_code": concept_code(r.get("type")),
        "phone": _telecom(r.get("telecom"), "phone"),
        **_address(r.get("address")),
        "part_of_id": reference_id(r.get("partOf"), refs),
    }


def flatten_location(r: dict[str, Any], refs: Refs) -> dict[str, Any]:
    return {
        "location_id": r["id"],
        "name": r.get("name"),
        "status": r.get("status"),
        "type_code": concept_code(r.get("type")),
        "physical_type": concept_code(r.get("physicalType")),
        "managing_organization_id": reference_id(r.get("managingOrganization"), refs),
        "part_of_id": reference_id(r.get("partOf"), refs),
        **_address(r.get("address")),
    }


def flatten_practitioner(r: dict[str, Any], refs: Refs) -> dict[str, Any]:
    name = _human_name(r.get("name"))
    npi = next(
        (
            i.get("value")
            for i in r.get("identifier") or ()
            if i.get("system") == "http://hl7.org/fhir/sid/us-npi"
        ),
        None,
    )
    return {
        "practitioner_id": r["id"],
        "family_name": name["family"],
        "given_names": name["given"],
        "name_prefix": name["prefix"],
        "npi": npi,
        "gender": r.get("gender"),
        "phone": _telecom(r.get("telecom"), "phone"),
        "email": _telecom(r.get("telecom"), "email"),
        **_address(r.get("address")),
    }


def flatten_medication(r: dict[str, Any], refs: Refs) -> dict[str, Any]:
    return {
        "medication_id": r["id"],
        **_code_columns(r.get("code")),
        "status": r.get("status"),
        "form_code": concept_code(r.get("form")),
        "ingredient_ids": _ref_ids(r.get("ingredient"), refs, "itemReference"),
    }


PATIENT_REFERENCE_FIELDS = ("subject", "patient", "beneficiary")


def flatten_other(r: dict[str, Any], refs: Refs) -> dict[str, Any]:
    patient_key = None
    for field in PATIENT_REFERENCE_FIELDS:
        ref = r.get(field)
        # a list (Account.subject, Contract.subject: 0..*) names no single patient
        if isinstance(ref, dict) and reference_type(ref) in (None, "Patient"):
            patient_key = reference_id(ref, refs) or None
            if patient_key:
                break
    return {
        "patient_key": patient_key,
        "encounter_id": _encounter_id(r, refs, "encounter", "context"),
    }


# ---------------------------------------------------------------- the tables


def _f(name: str, typ: pa.DataType = STR) -> pa.Field:
    return pa.field(name, typ)


CODE = [_f("code_system"), _f("code"), _f("display")]
ADDRESS = [_f("address_line"), _f("city"), _f("state"), _f("postal_code"), _f("country")]

TABLES: dict[str, BronzeTable] = {
    t.name: t
    for t in [
        BronzeTable(
            "patients",
            [
                _f("patient_key"),
                _f("mrn"),
                _f("ssn"),
                _f("identifiers", pa.list_(IDENTIFIER)),
                _f("family_name"),
                _f("given_names"),
                _f("name_prefix"),
                _f("name_suffix"),
                _f("birth_date", pa.date32()),
                _f("deceased", pa.bool_()),
                _f("deceased_at", TS),
                _f("gender"),
                _f("race"),
                _f("ethnicity"),
                _f("birth_sex"),
                *ADDRESS,
                _f("phone"),
                _f("email"),
                _f("marital_status"),
                _f("contacts", pa.list_(CONTACT)),
                _f("managing_organization_id"),
            ],
            flatten_patient,
            False,
        ),
        BronzeTable(
            "encounters",
            [
                _f("encounter_id"),
                _f("patient_key"),
                _f("status"),
                _f("class_code"),
                _f("type_system"),
                _f("type_code"),
                _f("type_display"),
                _f("priority_code"),
                _f("service_type"),
                _f("period_start", TS),
                _f("period_end", TS),
                _f("admit_source"),
                _f("discharge_disposition"),
                _f("reason_code"),
                _f("reason_display"),
                _f("service_provider_id"),
                _f("location_ids", STR_LIST),
                _f("practitioner_ids", STR_LIST),
                _f("part_of_id"),
            ],
            flatten_encounter,
            True,
        ),
        BronzeTable(
            "conditions",
            [
                _f("condition_id"),
                _f("patient_key"),
                _f("encounter_id"),
                *CODE,
                _f("category"),
                _f("clinical_status"),
                _f("verification_status"),
                _f("onset_at", TS),
                _f("abatement_at", TS),
                _f("recorded_at", TS),
            ],
            flatten_condition,
            True,
        ),
        BronzeTable(
            "observations",
            [
                _f("observation_id"),
                _f("patient_key"),
                _f("encounter_id"),
                _f("status"),
                _f("category"),
                *CODE,
                _f("effective_at", TS),
                _f("issued_at", TS),
                _f("value_num", pa.float64()),
                _f("value_unit"),
                _f("value_text"),
                _f("value_code"),
                _f("interpretation"),
                _f("components", pa.list_(COMPONENT)),
                _f("specimen_id"),
            ],
            flatten_observation,
            True,
        ),
        BronzeTable(
            "medications",
            [
                _f("kind"),
                _f("patient_key"),
                _f("encounter_id"),
                _f("status"),
                _f("intent"),
                *CODE,
                _f("medication_id"),
                _f("start_at", TS),
                _f("end_at", TS),
                _f("dosage_text"),
                _f("route"),
            ],
            flatten_medication_event,
            True,
        ),
        BronzeTable(
            "procedures",
            [
                _f("procedure_id"),
                _f("patient_key"),
                _f("encounter_id"),
                _f("status"),
                *CODE,
                _f("performed_start", TS),
                _f("performed_end", TS),
            ],
            flatten_procedure,
            True,
        ),
        BronzeTable(
            "notes",
            [
                _f("note_id"),
                _f("patient_key"),
                _f("encounter_id"),
                _f("status"),
                _f("doc_type_code"),
                _f("doc_type_display"),
                _f("category"),
                _f("note_date", TS),
                _f("author_ids", STR_LIST),
                _f("content_type"),
                _f("text", pa.large_string()),
                _f("text_chars", pa.int64()),
            ],
            flatten_document_reference,
            True,
        ),
        BronzeTable(
            "organizations",
            [
                _f("organization_id"),
                _f("name"),
                _f("type_code"),
                _f("phone"),
                *ADDRESS,
                _f("part_of_id"),
            ],
            flatten_organization,
            False,
        ),
        BronzeTable(
            "locations",
            [
                _f("location_id"),
                _f("name"),
                _f("status"),
                _f("type_code"),
                _f("physical_type"),
                _f("managing_organization_id"),
                _f("part_of_id"),
                *ADDRESS,
            ],
            flatten_location,
            False,
        ),
        BronzeTable(
            "practitioners",
            [
                _f("practitioner_id"),
                _f("family_name"),
                _f("given_names"),
                _f("name_prefix"),
                _f("npi"),
                _f("gender"),
                _f("phone"),
                _f("email"),
                *ADDRESS,
            ],
            flatten_practitioner,
            False,
        ),
        BronzeTable(
            "medication_catalog",
            [
                _f("medication_id"),
                *CODE,
                _f("status"),
                _f("form_code"),
                _f("ingredient_ids", STR_LIST),
            ],
            flatten_medication,
            False,
        ),
        BronzeTable(
            "other_resources", [_f("patient_key"), _f("encounter_id")], flatten_other, False
        ),
    ]
}

TABLE_OF_TYPE: dict[str, str] = {
    "Patient": "patients",
    "Encounter": "encounters",
    "Condition": "conditions",
    "Observation": "observations",
    **{t: "medications" for t in MEDICATION_KINDS},
    "Procedure": "procedures",
    "DocumentReference": "notes",
    "Organization": "organizations",
    "Location": "locations",
    "Practitioner": "practitioners",
    "Medication": "medication_catalog",
}
OTHER_TABLE = "other_resources"

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("quarantine_key", STR, nullable=False),  # snapshot/source_file/locator
        pa.field("snapshot_id", STR, nullable=False),
        pa.field("source_file", STR, nullable=False),
        pa.field("source_locator", STR, nullable=False),
        pa.field("resource_type", STR, nullable=False),
        pa.field("resource_id", STR),
        pa.field("reason", STR, nullable=False),
        pa.field(
            "field", STR
        ),  # JSON path of the offending value (e.g. code.coding[0].system), if one
        pa.field("file_failed", pa.bool_(), nullable=False),
        pa.field("raw_excerpt", STR),
        pa.field("quarantined_at", TS, nullable=False),
    ]
)

AUDIT_SCHEMA = pa.schema(
    [
        pa.field("audit_key", STR, nullable=False),  # snapshot/source_file/resource_type
        pa.field("snapshot_id", STR, nullable=False),
        pa.field("source_file", STR, nullable=False),
        pa.field("resource_type", STR, nullable=False),
        pa.field("read", pa.int64(), nullable=False),
        pa.field("written", pa.int64(), nullable=False),
        pa.field("quarantined", pa.int64(), nullable=False),
        # of ``written``: occurrences superseded by a later one of the same resource in the snapshot
        # (bronze/duplicates), those among them whose content differed, and the rest, which are in bronze
        pa.field("superseded", pa.int64(), nullable=False),
        pa.field("conflicting", pa.int64(), nullable=False),
        pa.field("in_bronze", pa.int64(), nullable=False),
        pa.field(
            "counts", STR, nullable=False
        ),  # "read/written/quarantined/superseded/conflicting/in_bronze": re-ingesting changes nothing
        pa.field("run_id", STR),
        pa.field("recorded_at", TS, nullable=False),
    ]
)

DUPLICATES_SCHEMA = pa.schema(
    [
        # snapshot/resource_key/superseded file/superseded locator
        pa.field("duplicate_key", STR, nullable=False),
        pa.field("snapshot_id", STR, nullable=False),
        pa.field("resource_key", STR, nullable=False),
        pa.field("resource_type", STR, nullable=False),
        pa.field("resource_id", STR, nullable=False),
        pa.field("kept_file", STR, nullable=False),  # the last occurrence: the one in bronze
        pa.field("kept_locator", STR, nullable=False),
        pa.field("kept_digest", STR, nullable=False),  # sha256 of the canonical (key-sorted) JSON
        pa.field("superseded_file", STR, nullable=False),
        pa.field("superseded_locator", STR, nullable=False),
        pa.field("superseded_digest", STR, nullable=False),
        pa.field("conflicting", pa.bool_(), nullable=False),  # the contents differ
        pa.field("recorded_at", TS, nullable=False),
    ]
)

QUARANTINE_TABLE = "quarantine"
AUDIT_TABLE = "ingest_audit"
DUPLICATES_TABLE = "duplicates"
SNAPSHOT_TABLE = "landing_snapshots"

SNAPSHOT_SCHEMA = pa.schema(
    [
        pa.field("entry_key", STR, nullable=False),  # snapshot/path
        pa.field("snapshot_id", STR, nullable=False),
        pa.field("root", STR, nullable=False),
        pa.field("path", STR, nullable=False),
        pa.field("size", pa.int64(), nullable=False),
        pa.field("sha256", STR, nullable=False),
        pa.field("recorded_at", TS, nullable=False),
    ]
)
