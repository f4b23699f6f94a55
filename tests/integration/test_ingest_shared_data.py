"""Real third-party exports, read in place from ../shared/data: MIMIC-IV demo on FHIR (Bulk ndjson.gz)
and Synthea R4 transaction Bundles (urn:uuid references). Counts were taken from an ingestion run and
checked against the data itself (resources per file, distinct ids per type, the data sets' READMEs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow.compute as pc
import pytest
from deltalake import DeltaTable

from ingestion.audit import check_accounting
from ingestion.ingest import IngestReport, ingest_directory
from lakehouse.delta import row_count

pytestmark = pytest.mark.shared_data


@dataclass
class Ingested:
    report: IngestReport
    bronze: Path

    def table(self, name: str, columns: list[str] | None = None):
        return DeltaTable(str(self.bronze / name)).to_pyarrow_table(columns=columns)

    def column(self, name: str, column: str) -> list:
        return self.table(name, [column]).column(column).to_pylist()


def _ingest(source: Path, tmp_path_factory) -> Ingested:
    before = sorted((p, p.stat().st_size, p.stat().st_mtime_ns) for p in source.rglob("*"))
    bronze = tmp_path_factory.mktemp("bronze")
    report = ingest_directory(source, bronze)
    after = sorted((p, p.stat().st_size, p.stat().st_mtime_ns) for p in source.rglob("*"))
    assert after == before, "the shared data set must be read in place, never modified"
    return Ingested(report, bronze)


@pytest.fixture(scope="module")
def mimic(mimic_dir, tmp_path_factory) -> Ingested:
    return _ingest(mimic_dir, tmp_path_factory)


@pytest.fixture(scope="module")
def synthea(synthea_dir, tmp_path_factory) -> Ingested:
    return _ingest(synthea_dir, tmp_path_factory)


def _per_type(report: IngestReport) -> dict[str, tuple[int, int, int]]:
    return {t: (c.read, c.written, c.quarantined) for t, c in report.per_type.items()}


def _assert_accounting(ingested: Ingested) -> None:
    accounting = check_accounting(
        ingested.report.snapshot,
        ingested.table("ingest_audit"),
        ingested.table("quarantine"),
        ingested.table("duplicates"),
    )
    assert accounting.ok, accounting.problems[:10]
    assert accounting.read == ingested.report.totals.read


# ---------------------------------------------------------------- MIMIC-IV demo

MIMIC_PER_TYPE = {  # read, written, quarantined
    "Patient": (100, 100, 0),
    "Encounter": (637, 637, 0),  # MimicEncounter 275 + MimicEncounterED 222 + MimicEncounterICU 140
    "Condition": (5051, 5051, 0),  # MimicCondition 4506 + MimicConditionED 545
    "Observation": (36951, 36951, 0),
    "MedicationRequest": (17552, 17552, 0),
    "MedicationDispense": (15375, 15375, 0),
    "MedicationAdministration": (56535, 56535, 0),
    "MedicationStatement": (2411, 2411, 0),
    "Medication": (1794, 1794, 0),
    "Procedure": (3450, 3450, 0),
    "Specimen": (12458, 12458, 0),
    "Location": (31, 31, 0),
    "Organization": (1, 1, 0),
}
MIMIC_ROWS = {
    "patients": 100,
    "encounters": 637,
    "conditions": 5051,
    "observations": 36951,
    "medications": 91873,
    "procedures": 3450,
    "notes": 0,
    "organizations": 1,
    "locations": 31,
    "practitioners": 0,
    "medication_catalog": 1794,
    "other_resources": 12458,
    "quarantine": 0,
    "duplicates": 0,
    "ingest_audit": 28,
    "landing_snapshots": 28,
}


def test_mimic_counts(mimic):
    report = mimic.report
    assert len(report.snapshot.files) == 28
    assert sorted(report.snapshot.ignored) == ["LICENSE.txt", "README_DEMO.md", "SHA256SUMS.txt"]
    assert all(
        f.path.startswith("fhir/Mimic") and f.path.endswith(".ndjson.gz")
        for f in report.snapshot.files
    )
    assert _per_type(report) == MIMIC_PER_TYPE
    assert report.totals.read == 152346
    assert report.duplicates == 0
    assert {name: row_count(w.uri, w.version) for name, w in report.writes.items()} == MIMIC_ROWS


def test_mimic_encounters_come_from_three_files(mimic):
    per_file = {
        rel: c.read for (rel, rtype), c in mimic.report.per_file.items() if rtype == "Encounter"
    }
    assert per_file == {
        "fhir/MimicEncounter.ndjson.gz": 275,
        "fhir/MimicEncounterED.ndjson.gz": 222,
        "fhir/MimicEncounterICU.ndjson.gz": 140,
    }


def test_mimic_accounting_and_no_quarantine(mimic):
    _assert_accounting(mimic)
    assert mimic.table("quarantine").num_rows == 0


def test_mimic_patients(mimic):
    patients = mimic.table("patients").to_pylist()
    assert len({p["patient_key"] for p in patients}) == 100
    # MIMIC carries the subject_id as an untyped identifier: it is the MRN; there is no SSN
    assert all(p["mrn"] and p["mrn"].isdigit() and p["mrn"].startswith("1") for p in patients)
    assert all(p["ssn"] is None for p in patients)
    assert all(p["birth_date"] is not None and p["gender"] in ("male", "female") for p in patients)
    assert sum(p["deceased"] for p in patients) == 31


def test_mimic_encounters_reference_mimic_patients(mimic):
    patient_keys = set(mimic.column("patients", "patient_key"))
    encounters = mimic.table(
        "encounters", ["patient_key", "period_start", "period_end", "class_code"]
    ).to_pylist()
    assert {e["patient_key"] for e in encounters} <= patient_keys
    assert len({e["patient_key"] for e in encounters}) == 100
    assert all(e["class_code"] for e in encounters)


def test_mimic_encounter_periods(mimic):
    encounters = mimic.table("encounters", ["period_start", "period_end"]).to_pylist()
    assert all(e["period_start"] is not None for e in encounters), (
        "every MIMIC encounter has period.start"
    )
    assert all(e["period_end"] is None or e["period_start"] <= e["period_end"] for e in encounters)


def test_mimic_clinical_rows_resolve(mimic):
    patient_keys = set(mimic.column("patients", "patient_key"))
    encounter_ids = set(mimic.column("encounters", "encounter_id"))
    for table in ("conditions", "observations", "medications", "procedures"):
        rows = mimic.table(table, ["patient_key", "encounter_id"]).to_pylist()
        assert {r["patient_key"] for r in rows} <= patient_keys, table
        assert {r["encounter_id"] for r in rows if r["encounter_id"]} <= encounter_ids, table
    locations = set(mimic.column("locations", "location_id"))
    for ids in mimic.column("encounters", "location_ids"):
        assert set(ids) <= locations


def test_mimic_medication_kinds(mimic):
    kinds = pc.value_counts(mimic.table("medications", ["kind"]).column("kind")).to_pylist()
    assert {k["values"]: k["counts"] for k in kinds} == {
        "request": 17552,
        "dispense": 15375,
        "administration": 56535,
        "statement": 2411,
    }
    requests = mimic.table("medications", ["kind", "start_at"]).filter(
        pc.equal(mimic.table("medications", ["kind"]).column("kind"), "request")
    )
    assert requests.column("start_at").null_count == 0, "every MedicationRequest has authoredOn"


# ---------------------------------------------------------------- Synthea R4 bundles

SYNTHEA_PER_TYPE = {
    "Patient": (24, 24, 0),
    "Encounter": (639, 639, 0),
    "Condition": (172, 172, 0),
    "Observation": (4156, 4156, 0),
    "MedicationRequest": (141, 141, 0),
    "Procedure": (197, 197, 0),
    "Immunization": (325, 325, 0),
    "DiagnosticReport": (309, 309, 0),
    "Claim": (780, 780, 0),
    "ExplanationOfBenefit": (639, 639, 0),
    "CarePlan": (52, 52, 0),
    "Goal": (41, 41, 0),
    "AllergyIntolerance": (25, 25, 0),
    "ImagingStudy": (12, 12, 0),
    # the hospital and practitioner bundles repeat 48 of each: accepted, then merged into one row per id
    "Organization": (150, 150, 0),
    "Practitioner": (150, 150, 0),
}
SYNTHEA_ROWS = {
    "patients": 24,
    "encounters": 639,
    "conditions": 172,
    "observations": 4156,
    "medications": 141,
    "procedures": 197,
    "notes": 0,
    "organizations": 102,
    "locations": 0,
    "practitioners": 102,
    "medication_catalog": 0,
    "other_resources": 2183,
    "quarantine": 0,
    "duplicates": 96,
    "ingest_audit": 324,
    "landing_snapshots": 26,
}


def test_synthea_counts(synthea):
    report = synthea.report
    assert len(report.snapshot.files) == 26
    assert list(report.snapshot.ignored) == ["LICENSE"]
    assert _per_type(report) == SYNTHEA_PER_TYPE
    assert report.duplicates == 96
    assert {name: row_count(w.uri, w.version) for name, w in report.writes.items()} == SYNTHEA_ROWS


def test_synthea_accounting(synthea):
    _assert_accounting(synthea)
    assert synthea.table("quarantine").num_rows == 0


def test_synthea_urn_references_resolve(synthea):
    patient_keys = set(synthea.column("patients", "patient_key"))
    encounter_ids = set(synthea.column("encounters", "encounter_id"))
    encounters = synthea.table("encounters").to_pylist()
    assert encounters and all(e["patient_key"] in patient_keys for e in encounters)
    for table in ("conditions", "observations", "medications", "procedures", "other_resources"):
        rows = synthea.table(table, ["patient_key", "encounter_id"]).to_pylist()
        assert all(r["patient_key"] in patient_keys for r in rows), table
        assert all(r["encounter_id"] in encounter_ids for r in rows if r["encounter_id"]), table
        assert not any(str(r["patient_key"]).startswith("urn:") for r in rows), table
    # cross-bundle references (to the hospital / practitioner bundles) resolve by id as well
    organizations = set(synthea.column("organizations", "organization_id"))
    practitioners = set(synthea.column("practitioners", "practitioner_id"))
    assert {e["service_provider_id"] for e in encounters} <= organizations
    assert {p for e in encounters for p in e["practitioner_ids"]} <= practitioners


def test_synthea_patient_identifiers(synthea):
    patients = synthea.table("patients").to_pylist()
    for p in patients:
        mr = [i["value"] for i in p["identifiers"] if i["type"] == "MR"]
        ss = [i["value"] for i in p["identifiers"] if i["type"] == "SS"]
        assert p["mrn"] == mr[0]
        assert p["ssn"] == ss[0] and p["ssn"].startswith("999-")
        assert p["family_name"] and p["birth_date"] is not None


def test_synthea_encounter_periods(synthea):
    encounters = synthea.table("encounters", ["period_start", "period_end"]).to_pylist()
    assert all(e["period_start"] is not None and e["period_end"] is not None for e in encounters)
    assert all(e["period_start"] <= e["period_end"] for e in encounters)
