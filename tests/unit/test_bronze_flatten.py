"""The per-table flatteners on small hand-written resources, and routing of resources to tables."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from ingestion.bronze_tables import (
    COMMON_FIELDS,
    TABLE_OF_TYPE,
    TABLES,
    flatten_document_reference,
    flatten_encounter,
    flatten_medication_event,
    flatten_observation,
    flatten_other,
    flatten_patient,
)
from ingestion.errors import QuarantineError
from ingestion.ingest import route

UTC = UTC


def _row_fits_schema(table: str, row: dict) -> None:
    """A flattened row (plus common columns) converts to the table's Arrow schema."""
    schema = TABLES[table].schema
    own = {f.name for f in TABLES[table].fields}
    assert set(row) == own, (
        f"flattener of {table} returns {sorted(set(row) ^ own)} beyond/short of its fields"
    )
    common = {f.name: None for f in COMMON_FIELDS}
    nullable_schema = pa.schema([f.with_nullable(True) for f in schema])
    pa.Table.from_pylist([{**common, **row}], schema=nullable_schema)


# ---------------------------------------------------------------- patients


def test_patient_typed_identifiers_mrn_ssn_and_demographics(fhir):
    r = fhir.patient(
        "p1",
        identifier=[
            {"system": "https://github.com/synthetichealth/synthea", "value": "syn-1"},
            {
                "system": "http://hospital.example.org",
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}
                    ]
                },
                "value": "MRN-0001",
            },
            {
                "system": "http://hl7.org/fhir/sid/us-ssn",
                "type": {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "SS"}
                    ]
                },
                "value": "999-12-3456",
            },
            {"type": {"coding": [{"code": "DL"}]}, "value": "S123"},
        ],
        name=[
            {"use": "usual", "family": "Nick"},
            {"use": "official", "family": "Smith", "given": ["Jane", "Q"], "prefix": ["Mrs."]},
        ],
        deceasedDateTime="2020-02-01T10:00:00+01:00",
        telecom=[
            {"system": "email", "value": "j@example.org"},
            {"system": "phone", "value": "555-0100"},
        ],
        address=[
            {
                "line": ["1 Main St", "Apt 2"],
                "city": "Boston",
                "state": "MA",
                "postalCode": "02101",
                "country": "US",
            }
        ],
        maritalStatus={"coding": [{"code": "M"}]},
        managingOrganization={"reference": "Organization/org-9"},
        extension=[
            {
                "url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
                "extension": [
                    {"url": "ombCategory", "valueCoding": {"code": "2106-3", "display": "White"}},
                    {"url": "text", "valueString": "White"},
                ],
            },
            {
                "url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-birthsex",
                "valueCode": "F",
            },
        ],
    )
    row = flatten_patient(r, {})
    assert row["patient_key"] == "p1"
    assert row["mrn"] == "MRN-0001"
    assert row["ssn"] == "999-12-3456"
    assert [i["type"] for i in row["identifiers"]] == [None, "MR", "SS", "DL"]
    assert row["identifiers"][2] == {
        "system": "http://hl7.org/fhir/sid/us-ssn",
        "type": "SS",
        "value": "999-12-3456",
    }
    assert (row["family_name"], row["given_names"], row["name_prefix"]) == (
        "Smith",
        "Jane Q",
        "Mrs.",
    )
    assert row["birth_date"] == date(1970, 5, 17)
    assert row["deceased"] is True
    assert row["deceased_at"] == datetime(2020, 2, 1, 9, 0, tzinfo=UTC)
    assert (row["phone"], row["email"]) == ("555-0100", "j@example.org")
    assert (row["address_line"], row["city"], row["postal_code"]) == (
        "1 Main St, Apt 2",
        "Boston",
        "02101",
    )
    assert row["marital_status"] == "M"
    assert row["managing_organization_id"] == "org-9"
    assert (row["race"], row["birth_sex"], row["ethnicity"]) == ("White", "F", None)
    _row_fits_schema("patients", row)


def test_patient_mimic_style_untyped_identifier_is_the_mrn(fhir):
    r = fhir.patient(
        "28dcf33b",
        identifier=[
            {"system": "http://mimic.mit.edu/fhir/mimic/identifier/patient", "value": "10007795"}
        ],
    )
    row = flatten_patient(r, {})
    assert row["mrn"] == "10007795"
    assert row["ssn"] is None
    assert row["deceased"] is False and row["deceased_at"] is None


def test_patient_ssn_by_system_without_type(fhir):
    r = fhir.patient(
        identifier=[
            {"system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-00-1111"},
            {"type": {"coding": [{"code": "MR"}]}, "value": "M-1"},
        ]
    )
    row = flatten_patient(r, {})
    assert row["ssn"] == "999-00-1111"
    assert row["mrn"] == "M-1"


def test_patient_untyped_ssn_is_not_also_the_mrn(fhir):
    r = fhir.patient(
        identifier=[{"system": "http://hl7.org/fhir/sid/us-ssn", "value": "999-00-1111"}]
    )
    row = flatten_patient(r, {})
    assert row["ssn"] == "999-00-1111"
    assert row["mrn"] != "999-00-1111"


def test_patient_contacts_and_deceased_boolean(fhir):
    r = fhir.patient(
        deceasedBoolean=True,
        contact=[
            {
                "relationship": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v2-0131",
                                "code": "N",
                                "display": "Next-of-Kin",
                            }
                        ]
                    }
                ],
                "name": {"family": "Smith", "given": ["John"], "prefix": ["Mr."]},
                "telecom": [
                    {"system": "email", "value": "x@y"},
                    {"system": "phone", "value": "555-0199"},
                ],
            },
            {"relationship": [{"coding": [{"code": "E"}]}], "name": {"text": "Acme Employer"}},
            {},
        ],
    )
    row = flatten_patient(r, {})
    assert row["deceased"] is True and row["deceased_at"] is None
    assert row["contacts"] == [
        {"relationship": "Next-of-Kin", "name": "Mr. John Smith", "phone": "555-0199"},
        {"relationship": "E", "name": "Acme Employer", "phone": None},
        {"relationship": None, "name": None, "phone": None},
    ]
    _row_fits_schema("patients", row)


def test_patient_bad_birth_date_is_quarantined(fhir):
    with pytest.raises(QuarantineError, match="birthDate"):
        flatten_patient(fhir.patient(birthDate="17/05/1970"), {})


# ---------------------------------------------------------------- encounters


def _full_encounter(fhir):
    return fhir.encounter(
        "e1",
        "p1",
        type=[
            {
                "coding": [
                    {
                        "system": "http://snomed.info/sct",
                        "code": "183452005",
                        "display": "Emergency",
                    }
                ]
            }
        ],
        priority={"coding": [{"code": "EM"}]},
        serviceType={"coding": [{"code": "MED"}]},
        hospitalization={
            "admitSource": {"coding": [{"code": "emd"}]},
            "dischargeDisposition": {"coding": [{"code": "home"}]},
        },
        reasonCode=[{"coding": [{"code": "R07.9"}], "text": "Chest pain"}],
        serviceProvider={"reference": "Organization/org-1"},
        location=[
            {"location": {"reference": "Location/ward-a"}},
            {"location": {"reference": "http://x.org/fhir/Location/icu-1/_history/3"}},
            {"location": {"display": "no reference"}},
        ],
        participant=[
            {"individual": {"reference": "Practitioner/dr-1"}},
            {"type": [{"text": "admitter"}]},
            {"individual": {"reference": "urn:uuid:dr-2-urn"}},
        ],
        partOf={"reference": "Encounter/e0"},
    )


def test_encounter_columns(fhir):
    row = flatten_encounter(_full_encounter(fhir), {"urn:uuid:dr-2-urn": "dr-2"})
    assert row["encounter_id"] == "e1"
    assert row["patient_key"] == "p1"
    assert (row["status"], row["class_code"]) == ("finished", "IMP")
    assert (row["type_system"], row["type_code"], row["type_display"]) == (
        "http://snomed.info/sct",
        "183452005",
        "Emergency",
    )
    assert (row["priority_code"], row["service_type"]) == ("EM", "MED")
    assert (row["admit_source"], row["discharge_disposition"]) == ("emd", "home")
    assert (row["reason_code"], row["reason_display"]) == ("R07.9", "Chest pain")
    assert row["service_provider_id"] == "org-1"
    assert row["location_ids"] == ["ward-a", "icu-1"]
    assert row["practitioner_ids"] == ["dr-1", "dr-2"]
    assert row["part_of_id"] == "e0"
    _row_fits_schema("encounters", row)


def test_encounter_period(fhir):
    # Encounter.period is a plain Period (not a period[x] choice)
    row = flatten_encounter(_full_encounter(fhir), {})
    assert row["period_start"] == datetime(2020, 1, 1, 8, 0, tzinfo=UTC)
    assert row["period_end"] == datetime(2020, 1, 3, 10, 30, tzinfo=UTC)


def test_encounter_open_period_and_bad_period(fhir):
    row = flatten_encounter(fhir.encounter(period={"start": "2020-02-02T02:00:00+01:00"}), {})
    assert (row["period_start"], row["period_end"]) == (datetime(2020, 2, 2, 1, tzinfo=UTC), None)
    with pytest.raises(QuarantineError, match="unparseable date in period.end"):
        flatten_encounter(fhir.encounter(period={"start": "2020-02-02", "end": "tomorrow"}), {})


def test_encounter_patient_field_and_urn_subject(fhir):
    r = fhir.encounter()
    del r["subject"]
    r["patient"] = {"reference": "urn:uuid:abc"}
    assert flatten_encounter(r, {"urn:uuid:abc": "patient-abc"})["patient_key"] == "patient-abc"


def test_encounter_class_missing(fhir):
    r = fhir.encounter()
    del r["class"]
    assert flatten_encounter(r, {})["class_code"] is None


# ---------------------------------------------------------------- subjects


@pytest.mark.parametrize(
    "flatten,resource_type",
    [
        (flatten_encounter, "Encounter"),
        (flatten_observation, "Observation"),
        (flatten_medication_event, "MedicationRequest"),
        (flatten_document_reference, "DocumentReference"),
    ],
)
def test_subject_referencing_a_group_is_quarantined(flatten, resource_type):
    r = {"resourceType": resource_type, "id": "x1", "subject": {"reference": "Group/cohort-7"}}
    with pytest.raises(QuarantineError) as info:
        flatten(r, {})
    assert str(info.value) == f"{resource_type}.subject references a Group, not a Patient"


def test_subject_typed_group_urn_is_quarantined(fhir):
    obs = fhir.observation(subject={"type": "Group", "reference": "urn:uuid:g1"})
    with pytest.raises(QuarantineError, match="references a Group"):
        flatten_observation(obs, {})


def test_observation_without_subject_is_quarantined(fhir):
    obs = fhir.observation()
    del obs["subject"]
    with pytest.raises(QuarantineError, match="Observation without subject"):
        flatten_observation(obs, {})
    obs["subject"] = {"display": "someone"}  # no reference to resolve
    with pytest.raises(QuarantineError, match="Observation without subject"):
        flatten_observation(obs, {})


# ---------------------------------------------------------------- observations


def test_observation_value_quantity_and_context(fhir):
    obs = fhir.observation(
        "o1",
        "p1",
        value=5.5,
        encounter="e1",
        issued="2020-01-02T10:00:00.250Z",
        category=[{"coding": [{"code": "laboratory"}]}],
        interpretation=[{"coding": [{"code": "H"}]}],
        specimen={"reference": "Specimen/s1"},
    )
    row = flatten_observation(obs, {})
    assert (row["observation_id"], row["patient_key"], row["encounter_id"]) == ("o1", "p1", "e1")
    assert (row["code_system"], row["code"], row["display"]) == (
        "http://loinc.org",
        "2345-7",
        "Glucose",
    )
    assert row["category"] == "laboratory"
    assert row["effective_at"] == datetime(2020, 1, 2, 9, 15, tzinfo=UTC)
    assert row["issued_at"] == datetime(2020, 1, 2, 10, 0, 0, 250000, tzinfo=UTC)
    assert (row["value_num"], row["value_unit"], row["value_text"], row["value_code"]) == (
        5.5,
        "mmol/L",
        None,
        None,
    )
    assert row["interpretation"] == "H"
    assert row["specimen_id"] == "s1"
    assert row["components"] == []
    _row_fits_schema("observations", row)


def test_observation_unit_falls_back_to_ucum_code(fhir):
    obs = fhir.observation(
        valueQuantity={"value": 98, "code": "mm[Hg]", "system": "http://unitsofmeasure.org"}
    )
    row = flatten_observation(obs, {})
    assert (row["value_num"], row["value_unit"]) == (98.0, "mm[Hg]")


def test_observation_value_codeable_concept(fhir):
    obs = fhir.observation(
        value=None,
        valueCodeableConcept={
            "coding": [{"system": "http://snomed.info/sct", "code": "10828004"}],
            "text": "Positive",
        },
    )
    row = flatten_observation(obs, {})
    assert (row["value_code"], row["value_text"], row["value_num"]) == (
        "10828004",
        "Positive",
        None,
    )


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"valueString": "trace"}, (None, "trace")),
        ({"valueBoolean": False}, (None, "false")),
        ({"valueInteger": 3}, (3.0, None)),
        ({"valueDateTime": "2020-01-01"}, (None, "2020-01-01")),
        ({}, (None, None)),
    ],
)
def test_observation_other_value_types(fhir, extra, expected):
    row = flatten_observation(fhir.observation(value=None, **extra), {})
    assert (row["value_num"], row["value_text"]) == expected


def test_observation_components(fhir):
    obs = fhir.observation(
        value=None,
        component=[
            {
                "code": {
                    "coding": [
                        {"system": "http://loinc.org", "code": "8480-6", "display": "Systolic"}
                    ]
                },
                "valueQuantity": {"value": 120, "unit": "mm[Hg]"},
            },
            {
                "code": {
                    "coding": [{"system": "http://loinc.org", "code": "8462-4"}],
                    "text": "Diastolic",
                },
                "valueQuantity": {"value": "80.5", "unit": "mm[Hg]"},
            },
            {"code": {"text": "comment only"}},
        ],
    )
    row = flatten_observation(obs, {})
    assert row["components"] == [
        {
            "code_system": "http://loinc.org",
            "code": "8480-6",
            "display": "Systolic",
            "value_num": 120.0,
            "value_unit": "mm[Hg]",
        },
        {
            "code_system": "http://loinc.org",
            "code": "8462-4",
            "display": "Diastolic",
            "value_num": 80.5,
            "value_unit": "mm[Hg]",
        },
        {
            "code_system": None,
            "code": None,
            "display": "comment only",
            "value_num": None,
            "value_unit": None,
        },
    ]
    _row_fits_schema("observations", row)


def test_observation_non_numeric_quantity_is_quarantined(fhir):
    with pytest.raises(QuarantineError, match="non-numeric valueQuantity.value: 'high'"):
        flatten_observation(fhir.observation(valueQuantity={"value": "high", "unit": "x"}), {})


def test_observation_unparseable_effective_is_quarantined(fhir):
    with pytest.raises(
        QuarantineError, match="unparseable date in effectiveDateTime: 'last tuesday'"
    ):
        flatten_observation(fhir.observation(effectiveDateTime="last tuesday"), {})


# ---------------------------------------------------------------- medications


def _med(resource_type: str, **extra):
    return {
        "resourceType": resource_type,
        "id": f"{resource_type}-1",
        "status": "completed",
        "subject": {"reference": "Patient/p1"},
        "medicationCodeableConcept": {
            "coding": [
                {
                    "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                    "code": "197361",
                    "display": "Amlodipine 5 MG",
                }
            ]
        },
        **extra,
    }


def test_medication_request():
    row = flatten_medication_event(
        _med(
            "MedicationRequest",
            intent="order",
            authoredOn="2020-03-01T12:00:00Z",
            encounter={"reference": "Encounter/e1"},
            dispenseRequest={"validityPeriod": {"start": "2020-03-01", "end": "2020-06-01"}},
            dosageInstruction=[{"text": "5 mg daily", "route": {"coding": [{"code": "PO"}]}}],
        ),
        {},
    )
    assert row["kind"] == "request"
    assert (row["patient_key"], row["encounter_id"], row["intent"]) == ("p1", "e1", "order")
    assert row["code"] == "197361" and row["display"] == "Amlodipine 5 MG"
    assert row["start_at"] == datetime(2020, 3, 1, 12, tzinfo=UTC)
    assert row["end_at"] == datetime(2020, 6, 1, tzinfo=UTC)
    assert (row["dosage_text"], row["route"]) == ("5 mg daily", "PO")
    _row_fits_schema("medications", row)


def test_medication_dispense_with_context_and_reference():
    r = _med(
        "MedicationDispense",
        whenHandedOver="2020-03-02T08:00:00-05:00",
        context={"reference": "Encounter/e2"},
    )
    del r["medicationCodeableConcept"]
    r["medicationReference"] = {"reference": "Medication/m-7"}
    row = flatten_medication_event(r, {})
    assert row["kind"] == "dispense"
    assert row["start_at"] == datetime(2020, 3, 2, 13, tzinfo=UTC)
    assert row["end_at"] is None
    assert row["encounter_id"] == "e2"
    assert row["medication_id"] == "m-7" and row["code"] is None


def test_medication_dispense_when_prepared_fallback():
    row = flatten_medication_event(_med("MedicationDispense", whenPrepared="2020-03-02"), {})
    assert row["start_at"] == datetime(2020, 3, 2, tzinfo=UTC)


def test_medication_administration_period_and_single_dosage():
    row = flatten_medication_event(
        _med(
            "MedicationAdministration",
            effectivePeriod={"start": "2020-03-03T10:00:00Z", "end": "2020-03-03T10:30:00Z"},
            dosage={"text": "IV push", "route": {"coding": [{"code": "IV"}]}},
        ),
        {},
    )
    assert row["kind"] == "administration"
    assert row["start_at"] == datetime(2020, 3, 3, 10, tzinfo=UTC)
    assert row["end_at"] == datetime(2020, 3, 3, 10, 30, tzinfo=UTC)
    assert (row["dosage_text"], row["route"]) == ("IV push", "IV")


def test_medication_statement_point_in_time():
    row = flatten_medication_event(
        _med("MedicationStatement", effectiveDateTime="2020-03-04", dosage=[{"text": "as needed"}]),
        {},
    )
    assert row["kind"] == "statement"
    assert row["start_at"] == row["end_at"] == datetime(2020, 3, 4, tzinfo=UTC)
    assert row["dosage_text"] == "as needed" and row["route"] is None


def test_medication_bad_authored_on_is_quarantined():
    with pytest.raises(QuarantineError, match="authoredOn"):
        flatten_medication_event(_med("MedicationRequest", authoredOn="03/01/2020"), {})


# ---------------------------------------------------------------- notes (DocumentReference)


def _doc(*attachments, **extra):
    return {
        "resourceType": "DocumentReference",
        "id": "d1",
        "status": "current",
        "subject": {"reference": "Patient/p1"},
        "type": {
            "coding": [
                {"system": "http://loinc.org", "code": "18842-5", "display": "Discharge summary"}
            ]
        },
        "date": "2020-04-01T12:00:00Z",
        "author": [{"reference": "Practitioner/dr-1"}],
        "context": {"encounter": [{"reference": "Encounter/e9"}]},
        "content": [{"attachment": a} for a in attachments],
        **extra,
    }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_document_reference_decodes_utf8_text():
    text = "Patient seen for chest pain — discharged home. Température 37°C."
    row = flatten_document_reference(
        _doc({"contentType": "text/plain", "data": _b64(text.encode())}), {}
    )
    assert row["text"] == text
    assert row["text_chars"] == len(text)
    assert row["content_type"] == "text/plain"
    assert (row["note_id"], row["patient_key"], row["encounter_id"]) == ("d1", "p1", "e9")
    assert (row["doc_type_code"], row["doc_type_display"]) == ("18842-5", "Discharge summary")
    assert row["note_date"] == datetime(2020, 4, 1, 12, tzinfo=UTC)
    assert row["author_ids"] == ["dr-1"]
    _row_fits_schema("notes", row)


def test_document_reference_honours_charset():
    text = "Müller, café"
    row = flatten_document_reference(
        _doc(
            {"contentType": "text/plain; charset=ISO-8859-1", "data": _b64(text.encode("latin-1"))}
        ),
        {},
    )
    assert row["text"] == text


def test_document_reference_quoted_charset():
    # a quoted MIME parameter value (RFC 2045) is legal
    text = "Müller"
    row = flatten_document_reference(
        _doc(
            {
                "contentType": 'text/plain; charset="iso-8859-1"',
                "data": _b64(text.encode("latin-1")),
            }
        ),
        {},
    )
    assert row["text"] == text


def test_document_reference_joins_several_attachments_and_skips_urls():
    row = flatten_document_reference(
        _doc(
            {"contentType": "text/plain", "data": _b64(b"first part")},
            {"contentType": "application/pdf", "url": "http://x/doc.pdf"},
            {"contentType": "text/plain", "data": _b64(b"second part")},
        ),
        {},
    )
    assert row["text"] == "first part\n\nsecond part"
    assert row["text_chars"] == len("first part\n\nsecond part")
    assert row["content_type"] == "text/plain"


def test_document_reference_without_data_has_no_text():
    row = flatten_document_reference(
        _doc({"contentType": "application/pdf", "url": "http://x/doc.pdf"}), {}
    )
    assert row["text"] is None and row["text_chars"] == 0 and row["content_type"] is None


@pytest.mark.parametrize("data", ["not base64!!", "YWJj=ZGVm", "YWJjZA"])
def test_document_reference_invalid_base64_is_quarantined(data):
    with pytest.raises(
        QuarantineError, match=r"content\[0\]\.attachment\.data is not valid base64"
    ):
        flatten_document_reference(_doc({"contentType": "text/plain", "data": data}), {})


def test_document_reference_undecodable_text_is_quarantined():
    with pytest.raises(QuarantineError, match="does not decode as utf-8"):
        flatten_document_reference(
            _doc({"contentType": "text/plain", "data": _b64(b"\xff\xfe\xfa bad")}), {}
        )
    with pytest.raises(QuarantineError, match="does not decode as no-such-charset"):
        flatten_document_reference(
            _doc({"contentType": "text/plain; charset=no-such-charset", "data": _b64(b"abc")}), {}
        )


def test_document_reference_line_wrapped_base64():
    text = "A long discharge summary line. " * 10
    wrapped = base64.encodebytes(text.encode()).decode()  # 76-character lines
    assert "\n" in wrapped
    row = flatten_document_reference(_doc({"contentType": "text/plain", "data": wrapped}), {})
    assert row["text"] == text


def test_document_reference_without_subject_is_quarantined():
    doc = _doc()
    del doc["subject"]
    with pytest.raises(QuarantineError, match="DocumentReference without subject"):
        flatten_document_reference(doc, {})


# ---------------------------------------------------------------- other resources


def test_other_resources_keep_patient_and_encounter_links():
    r = {
        "resourceType": "Immunization",
        "id": "imm1",
        "patient": {"reference": "urn:uuid:p-urn"},
        "encounter": {"reference": "Encounter/e1"},
    }
    assert flatten_other(r, {"urn:uuid:p-urn": "p1"}) == {"patient_key": "p1", "encounter_id": "e1"}
    claim = {"resourceType": "Coverage", "id": "cov1", "beneficiary": {"reference": "Patient/p2"}}
    assert flatten_other(claim, {})["patient_key"] == "p2"
    group_subject = {"resourceType": "Specimen", "id": "s1", "subject": {"reference": "Group/g1"}}
    assert flatten_other(group_subject, {}) == {"patient_key": None, "encounter_id": None}


# ---------------------------------------------------------------- routing


@pytest.mark.parametrize(
    ("resource_type", "table"),
    [
        ("Patient", "patients"),
        ("Encounter", "encounters"),
        ("Condition", "conditions"),
        ("Observation", "observations"),
        ("MedicationRequest", "medications"),
        ("MedicationDispense", "medications"),
        ("MedicationAdministration", "medications"),
        ("MedicationStatement", "medications"),
        ("Procedure", "procedures"),
        ("DocumentReference", "notes"),
        ("Organization", "organizations"),
        ("Location", "locations"),
        ("Practitioner", "practitioners"),
        ("Medication", "medication_catalog"),
        ("Immunization", "other_resources"),
        ("Claim", "other_resources"),
    ],
)
def test_route_known_types(resource_type, table):
    assert route({"resourceType": resource_type, "id": "x"}).name == table


def test_every_mapped_type_has_a_table():
    assert set(TABLE_OF_TYPE.values()) <= set(TABLES)


@pytest.mark.parametrize(
    ("resource", "message"),
    [
        (
            {"resourceType": "Patientt", "id": "x"},
            "unknown resourceType 'Patientt' (not a FHIR R4 resource)",
        ),
        (
            {"resourceType": "NutritionProduct", "id": "x"},
            "unknown resourceType 'NutritionProduct'",
        ),  # R5 only
        ({"id": "x"}, "resource without resourceType"),
        ({"resourceType": "", "id": "x"}, "resource without resourceType"),
        ({"resourceType": 7, "id": "x"}, "resource without resourceType"),
        ({"resourceType": "Patient"}, "Patient without id"),
        ({"resourceType": "Patient", "id": "  "}, "Patient without id"),
        ({"resourceType": "Observation", "id": None}, "Observation without id"),
    ],
)
def test_route_rejects(resource, message):
    with pytest.raises(QuarantineError) as info:
        route(resource)
    assert str(info.value).startswith(message)
