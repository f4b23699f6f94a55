"""Re-ingesting is idempotent; a later delivery updates and inserts exactly what changed; the previous
table version stays readable (Delta time travel)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deltalake import DeltaTable

from ingestion.bronze_tables import TABLES
from ingestion.ingest import BRONZE_OUTPUTS, ingest_directory
from lakehouse.delta import commit_metadata_of, current_version, row_count

ALL_TABLES = [*BRONZE_OUTPUTS, "landing_snapshots"]


def _obs(oid: str, value: float, patient: str = "p1") -> dict:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": "2020-01-02T09:15:00Z",
        "valueQuantity": {"value": value, "unit": "mmol/L"},
    }


@pytest.fixture
def landing(tmp_path, fhir, write_ndjson):
    root = tmp_path / "landing"
    write_ndjson(root, "Patient.ndjson", [fhir.patient("p1"), fhir.patient("p2")])
    write_ndjson(root, "Encounter.ndjson", [fhir.encounter("e1", "p1")])
    write_ndjson(
        root,
        "Observation.ndjson",
        [_obs("o1", 1.0), _obs("o2", 2.0), _obs("o3", 3.0, "p2"), "{not json"],
    )  # one quarantined line: also idempotent
    return root


def _versions(bronze: Path) -> dict[str, int | None]:
    return {name: current_version(str(bronze / name)) for name in ALL_TABLES}


def _rows(bronze: Path, table: str, version: int | None = None) -> dict[str, dict]:
    rows = DeltaTable(str(bronze / table), version=version).to_pyarrow_table().to_pylist()
    key = {
        "quarantine": "quarantine_key",
        "ingest_audit": "audit_key",
        "landing_snapshots": "entry_key",
    }
    return {r[key.get(table, "resource_key")]: r for r in rows}


def test_same_landing_twice_changes_nothing(landing, tmp_path, ingest_kwargs):
    bronze = tmp_path / "bronze"
    first = ingest_directory(landing, bronze, **ingest_kwargs)
    assert first.writes["observations"].inserted == 3
    assert first.totals.quarantined == 1
    versions = _versions(bronze)
    contents = {name: _rows(bronze, name) for name in ALL_TABLES}

    second = ingest_directory(landing, bronze, **ingest_kwargs)

    assert second.snapshot.snapshot_id == first.snapshot.snapshot_id
    for name, write in second.writes.items():
        assert (write.inserted, write.updated) == (0, 0), name
        assert write.unchanged == write.rows_in_source, name
        assert not write.created, name
    assert _versions(bronze) == versions, "no new Delta version for any table"
    assert {name: _rows(bronze, name) for name in ALL_TABLES} == contents
    # the report itself is the same accounting
    assert {t: vars(c) for t, c in second.per_type.items()} == {
        t: vars(c) for t, c in first.per_type.items()
    }


def test_later_delivery_updates_one_and_inserts_one(
    landing, tmp_path, ingest_kwargs, write_ndjson, fhir
):
    bronze = tmp_path / "bronze"
    first = ingest_directory(landing, bronze, **ingest_kwargs)
    obs_uri = str(bronze / "observations")
    v_before = current_version(obs_uri)
    versions_before = _versions(bronze)
    count_before = row_count(obs_uri)
    assert count_before == 3

    # next delivery: o2 corrected, o4 new, everything else identical
    write_ndjson(
        landing,
        "Observation.ndjson",
        [
            _obs("o1", 1.0),
            _obs("o2", 2.5),
            _obs("o3", 3.0, "p2"),
            _obs("o4", 4.0, "p2"),
            "{not json",
        ],
    )
    second = ingest_directory(landing, bronze, **ingest_kwargs)

    assert second.snapshot.snapshot_id != first.snapshot.snapshot_id
    write = second.writes["observations"]
    assert (write.inserted, write.updated, write.unchanged) == (1, 1, 2)
    assert write.version == v_before + 1
    assert row_count(obs_uri) == count_before + 1
    now = _rows(bronze, "observations")
    assert set(now) == {"Observation/o1", "Observation/o2", "Observation/o3", "Observation/o4"}
    assert now["Observation/o2"]["value_num"] == 2.5
    assert json.loads(now["Observation/o2"]["raw_json"])["valueQuantity"]["value"] == 2.5
    assert now["Observation/o4"]["value_num"] == 4.0
    # the rows that changed carry the new snapshot; unchanged rows keep the one that last wrote them
    assert now["Observation/o2"]["snapshot_id"] == second.snapshot.snapshot_id
    assert now["Observation/o4"]["snapshot_id"] == second.snapshot.snapshot_id
    assert now["Observation/o1"]["snapshot_id"] == first.snapshot.snapshot_id
    assert now["Observation/o1"] == _rows(bronze, "observations", v_before)["Observation/o1"], (
        "left alone"
    )

    # time travel: the previous version still has the old value and no o4
    old = _rows(bronze, "observations", version=v_before)
    assert old["Observation/o2"]["value_num"] == 2.0
    assert "Observation/o4" not in old
    assert row_count(obs_uri, v_before) == count_before

    # the commit says which snapshot wrote it
    assert commit_metadata_of(obs_uri, write.version)["snapshot_id"] == second.snapshot.snapshot_id
    # tables whose resources did not change got no new version
    after = _versions(bronze)
    for name in (
        "patients",
        "encounters",
        *(t for t in TABLES if t not in ("patients", "encounters", "observations")),
    ):
        assert after[name] == versions_before[name], name
    # the new snapshot's audit and quarantine rows were added beside the old ones
    audit = _rows(bronze, "ingest_audit")
    assert {r["snapshot_id"] for r in audit.values()} == {
        first.snapshot.snapshot_id,
        second.snapshot.snapshot_id,
    }
    new_obs_audit = audit[f"{second.snapshot.snapshot_id}/Observation.ndjson/Observation"]
    assert (new_obs_audit["read"], new_obs_audit["written"], new_obs_audit["quarantined"]) == (
        4,
        4,
        0,
    )
    assert len(_rows(bronze, "quarantine")) == 2  # one per snapshot


def test_duplicates_within_a_snapshot_last_occurrence_wins(
    tmp_path, ingest_kwargs, write_ndjson, fhir
):
    landing = tmp_path / "landing"
    write_ndjson(landing, "Patient.ndjson", [fhir.patient("p1")])
    write_ndjson(
        landing, "a/Observation.ndjson", [_obs("o1", 1.0), _obs("o2", 2.0), _obs("o1", 1.5)]
    )
    write_ndjson(
        landing, "b/Observation.ndjson", [_obs("o2", 2.9)]
    )  # a later file (sorted) wins too
    bronze = tmp_path / "bronze"
    report = ingest_directory(landing, bronze, **ingest_kwargs)
    rows = _rows(bronze, "observations")
    assert set(rows) == {"Observation/o1", "Observation/o2"}
    assert rows["Observation/o1"]["value_num"] == 1.5
    assert rows["Observation/o1"]["source_locator"] == "line 3"
    assert (rows["Observation/o2"]["value_num"], rows["Observation/o2"]["source_file"]) == (
        2.9,
        "b/Observation.ndjson",
    )
    assert report.duplicates == 2
    assert report.per_type["Observation"].read == 4
    assert report.per_type["Observation"].written == 4  # accepted; merged into two rows
    assert report.writes["observations"].rows_in_source == 2
