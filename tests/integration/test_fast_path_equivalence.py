"""The vectorized ndjson path must give exactly the rows, counts and quarantine of the per-resource path."""

from __future__ import annotations

import base64
import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingestion.ingest import SnapshotParser
from ingestion.landing import take_snapshot

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def parse(landing: Path, vectorized: bool) -> SnapshotParser:
    snapshot = take_snapshot(landing)
    parser = SnapshotParser(snapshot, vectorized=vectorized)
    parser.now = NOW
    for entry in snapshot.files:
        parser.parse_file(entry.path, entry.sha256)
    return parser


def assert_same(landing: Path) -> dict[str, int]:
    slow, fast = parse(landing, False), parse(landing, True)
    slow_tables, slow_dupes = slow.tables()
    fast_tables, fast_dupes = fast.tables()
    assert slow_dupes == fast_dupes
    for name, expected in slow_tables.items():
        got = fast_tables[name]
        assert got.schema == expected.schema, name
        expected, got = expected.sort_by("resource_key"), got.sort_by("resource_key")
        for column in expected.column_names:
            assert got[column].to_pylist() == expected[column].to_pylist(), (
                f"{name}.{column} differs"
            )
    assert dict(fast.per_file) == dict(slow.per_file)
    sort = [("quarantine_key", "ascending")]
    assert (
        fast.quarantine_table().drop(["quarantined_at"]).sort_by(sort).to_pylist()
        == slow.quarantine_table().drop(["quarantined_at"]).sort_by(sort).to_pylist()
    )
    return {name: t.num_rows for name, t in fast_tables.items()}


def _obs(i: int, **extra) -> dict:
    base = {
        "resourceType": "Observation",
        "id": f"o{i}",
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "encounter": {"reference": "Encounter/e1"},
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "laboratory",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}], "text": "Glucose"},
        "effectiveDateTime": "2024-03-05T14:10:00+00:00",
        "valueQuantity": {"value": 5.5, "unit": "mmol/L"},
    }
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def test_edge_cases_take_the_same_decisions(tmp_path: Path) -> None:
    rows = [
        _obs(1),
        _obs(2, effectiveDateTime="2024"),
        _obs(3, effectiveDateTime="2024-03"),
        _obs(4, effectiveDateTime="2024-03-05"),
        _obs(5, effectiveDateTime="2024-03-05T14:10:00Z"),
        _obs(6, effectiveDateTime="2024-03-05T14:10:00.123-04:00"),
        _obs(7, effectiveDateTime="2024-03-05T14:10:00"),
        _obs(8, effectiveDateTime="2024-03-05T14:10+00:00"),
        _obs(9, effectiveDateTime="not a date"),
        _obs(10, subject=None),
        _obs(11, subject={"reference": "Group/g1"}),
        _obs(12, subject={"reference": "urn:uuid:abc"}),
        _obs(13, subject={"reference": "Patient/p1/_history/2"}),
        _obs(14, subject={"reference": "http://fhir.example.org/r4/Patient/p9"}),
        _obs(15, id=""),
        _obs(
            16,
            valueQuantity=None,
            valueCodeableConcept={"coding": [{"code": "POS", "display": "positive"}]},
        ),
        _obs(17, valueQuantity=None, valueString="see note"),
        _obs(18, valueQuantity=None, valueBoolean=True),
        _obs(19, valueQuantity=None, valueInteger=3),
        _obs(
            20, effectiveDateTime=None, effectivePeriod={"start": "2024-01-01", "end": "2024-01-02"}
        ),
        _obs(
            21,
            component=[
                {
                    "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                    "valueQuantity": {"value": 120, "unit": "mm[Hg]"},
                },
                {"code": {"text": "diastolic"}, "valueQuantity": {"value": 80, "code": "mm[Hg]"}},
            ],
        ),
        _obs(22, meta={"profile": ["http://x/p"], "lastUpdated": "2025-01-01T00:00:00Z"}),
        _obs(23, meta={"lastUpdated": "yesterday"}),
        {
            "resourceType": "Condition",
            "id": "c1",
            "subject": {"reference": "Patient/p1"},
        },  # another type mid-file
        _obs(1, status="amended"),  # the same resource again: the last occurrence wins
    ]
    text = "\n".join(json.dumps(r) for r in rows)
    (tmp_path / "Observation.ndjson").write_text(text + "\n")
    (tmp_path / "Observation-blank-lines.ndjson").write_text(text.replace("\n", "\r\n\n", 3) + "\n")
    meds = [
        {
            "resourceType": "MedicationAdministration",
            "id": "ma1",
            "status": "completed",
            "subject": {"reference": "Patient/p1"},
            "context": {"reference": "Encounter/e1"},
            "medicationCodeableConcept": {"coding": [{"system": "rxnorm", "code": "1"}]},
            "effectivePeriod": {"start": "2024-01-01T00:00:00Z", "end": "2024-01-01T01:00:00Z"},
            "dosage": {"text": "1 tab", "route": {"coding": [{"code": "PO"}]}},
        },
        {
            "resourceType": "MedicationAdministration",
            "id": "ma2",
            "status": "completed",
            "subject": {"reference": "Patient/p1"},
            "context": {"reference": "EpisodeOfCare/x"},
            "medicationReference": {"reference": "Medication/m1"},
            "effectiveDateTime": "2024-01-01",
        },
    ]
    with gzip.open(tmp_path / "MedicationAdministration.ndjson.gz", "wt") as fh:
        fh.write("\n".join(json.dumps(m) for m in meds))
    encounters = [
        {
            "resourceType": "Encounter",
            "id": "e1",
            "status": "finished",
            "class": {"code": "IMP"},
            "subject": {"reference": "Patient/p1"},
            "period": {"start": "2024-01-01T00:00:00Z"},
            "location": [
                {"location": {"reference": "Location/l1"}},
                {"location": {"display": "ward"}},
            ],
            "participant": [{"individual": {"reference": "Practitioner/d1"}}],
            "hospitalization": {"dischargeDisposition": {"coding": [{"code": "home"}]}},
        },
        {
            "resourceType": "Encounter",
            "id": "e2",
            "status": "finished",
            "subject": {"reference": "Patient/p1"},
        },
    ]
    (tmp_path / "Encounter.ndjson").write_text("\n".join(json.dumps(e) for e in encounters))

    def note(i: int, content) -> dict:
        return {
            "resourceType": "DocumentReference",
            "id": f"n{i}",
            "status": "current",
            "subject": {"reference": "Patient/p1"},
            "date": "2024-03-05T10:00:00Z",
            "type": {
                "coding": [
                    {
                        "system": "http://loinc.org",
                        "code": "18842-5",
                        "display": "Discharge summary",
                    }
                ]
            },
            "context": {"encounter": [{"reference": "Encounter/e1"}]},
            "author": [{"reference": "Practitioner/d1"}],
            "content": content,
        }

    def attach(
        text: str, content_type: str = "text/plain; charset=utf-8", encoding: str = "utf-8"
    ) -> dict:
        return {
            "attachment": {
                "contentType": content_type,
                "data": base64.b64encode(text.encode(encoding)).decode(),
            }
        }

    notes = [
        note(1, [attach("Mr. Smith was admitted on 03/05/2024. Café.")]),
        note(3, [{"attachment": {"contentType": "text/plain", "data": "not base64!!"}}]),
        note(4, [attach("first part"), attach("second part")]),
        note(5, [{"attachment": {"contentType": "text/plain", "data": "U29t\nZSB0ZXh0"}}]),
        note(6, []),
        note(7, [{"attachment": {"contentType": "text/plain", "url": "http://x/doc"}}]),
        note(8, [attach("no charset", "text/plain")]),
        {
            **note(9, [attach("context of another kind")]),
            "context": {"encounter": [{"reference": "EpisodeOfCare/x"}]},
        },
    ]
    (tmp_path / "DocumentReference.ndjson").write_text("\n".join(json.dumps(n) for n in notes))
    latin = note(2, [attach("Ünïcode in latin-1", "text/plain; charset=ISO-8859-1", "latin-1")])
    (tmp_path / "DocumentReference-latin1.ndjson").write_text(json.dumps(latin))
    (tmp_path / "Claim.ndjson").write_text(
        json.dumps({"resourceType": "Claim", "id": "cl1", "patient": {"reference": "Patient/p1"}})
    )
    counts = assert_same(tmp_path)
    assert counts["observations"] > 15 and counts["medications"] == 2 and counts["encounters"] == 2
    assert counts["notes"] == 8  # note 3 does not decode: quarantined by both paths


@pytest.mark.shared_data
@pytest.mark.skipif(
    not (SHARED / "mimic-iv-fhir-demo-2.1.0").is_dir(),
    reason="../shared/data/mimic-iv-fhir-demo-2.1.0 is absent",
)
def test_mimic_demo_gives_identical_bronze_rows() -> None:
    counts = assert_same(SHARED / "mimic-iv-fhir-demo-2.1.0")
    assert counts["medications"] == 91_873


def test_generated_cohort_gives_identical_bronze_rows(tmp_path: Path) -> None:
    from cohort.generator import generate_cohort

    generate_cohort(tmp_path / "landing", 60, 11, gzip=True)
    counts = assert_same(tmp_path / "landing")
    assert counts["patients"] == 60 and counts["observations"] > 1000 and counts["notes"] > 0
