"""Bad landing input: every broken resource or file is quarantined with where and why, the good
resources around it are written, and the accounting (read == written + quarantined) holds."""

from __future__ import annotations

import gzip
import json
import os
import re
import struct
import zlib
from pathlib import Path

import pytest
from deltalake import DeltaTable

import ingestion.ingest as ingest_module
from ingestion.audit import check_accounting
from ingestion.ingest import BRONZE_OUTPUTS, ingest_directory, ingest_snapshot
from ingestion.landing import take_snapshot
from ingestion.sources import SnapshotMismatch
from lakehouse.delta import current_version

# ---------------------------------------------------------------- helpers


def _line(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _ndjson(*lines: bytes, trailing_newline: bool = True) -> bytes:
    data = b"\n".join(lines)
    return data + b"\n" if trailing_newline else data


def _obs(oid: str, patient: str = "p1", value: float = 1.0, **extra) -> dict:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": "2020-01-02T09:15:00Z",
        "valueQuantity": {"value": value, "unit": "mmol/L"},
        **extra,
    }


GOOD_PATIENTS = _ndjson(
    _line({"resourceType": "Patient", "id": "p1", "gender": "male"}),
    _line({"resourceType": "Patient", "id": "p2", "gender": "female"}),
)


def _table(bronze: Path, name: str) -> list[dict]:
    return DeltaTable(str(bronze / name)).to_pyarrow_table().to_pylist()


def _ids(bronze: Path, name: str) -> set[str]:
    return {r["resource_id"] for r in _table(bronze, name)}


def _assert_accounting(report, bronze: Path) -> None:
    for rtype, counts in report.per_type.items():
        assert counts.read == counts.written + counts.quarantined, rtype
    for (rel, rtype), counts in report.per_file.items():
        assert counts.read == counts.written + counts.quarantined, (rel, rtype)
    audit = DeltaTable(str(bronze / "ingest_audit")).to_pyarrow_table()
    quarantine = DeltaTable(str(bronze / "quarantine")).to_pyarrow_table()
    accounting = check_accounting(report.snapshot, audit, quarantine)
    assert accounting.ok, accounting.problems
    assert (accounting.read, accounting.written, accounting.quarantined) == (
        report.totals.read,
        report.totals.written,
        report.totals.quarantined,
    )
    # every bronze output exists (with its schema) even when nothing was written to it
    for name in BRONZE_OUTPUTS:
        assert current_version(str(bronze / name)) is not None, name


def _write(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


# ---------------------------------------------------------------- one bad thing per case

CASES = {
    "truncated_last_line": dict(
        files={
            "Observation.ndjson": _ndjson(
                _line(_obs("o1")), _line(_obs("o2")), _line(_obs("o3"))[:40], trailing_newline=False
            )
        },
        where=("Observation.ndjson", "line 3"),
        reason=r"truncated",
        rtype="unknown",
        observations={"o1", "o2"},
    ),
    "invalid_json_line": dict(
        files={
            "Observation.ndjson": _ndjson(
                _line(_obs("o1")), b'{"resourceType":"Observation","id":"o2",', _line(_obs("o3"))
            )
        },
        where=("Observation.ndjson", "line 2"),
        reason=r"^invalid JSON",
        rtype="unknown",
        observations={"o1", "o3"},
    ),
    "line_is_a_json_array": dict(
        files={
            "Observation.ndjson": _ndjson(_line(_obs("o1")), _line([_obs("o2")]), _line(_obs("o3")))
        },
        where=("Observation.ndjson", "line 2"),
        reason=r"^line is not a JSON object$",
        rtype="unknown",
        observations={"o1", "o3"},
    ),
    "invalid_utf8": dict(
        files={
            "Observation.ndjson": _ndjson(
                _line(_obs("o1")),
                _line(_obs("o2", note=[{"text": "X"}])).replace(b'"X"', b'"\xff\xfe"'),
                _line(_obs("o3")),
            )
        },
        where=("Observation.ndjson", "line 2"),
        reason=r"JSON",
        rtype="unknown",
        observations={"o1", "o3"},
    ),
    "unknown_resource_type": dict(
        files={
            "Observation.ndjson": _ndjson(
                _line(_obs("o1")),
                _line({**_obs("o2"), "resourceType": "Observaton"}),
                _line(_obs("o3")),
            )
        },
        where=("Observation.ndjson", "line 2"),
        reason=r"^unknown resourceType 'Observaton'",
        rtype="Observaton",
        observations={"o1", "o3"},
    ),
    "missing_resource_type": dict(
        files={
            "Observation.ndjson": _ndjson(
                _line(_obs("o1")),
                _line({k: v for k, v in _obs("o2").items() if k != "resourceType"}),
                _line(_obs("o3")),
            )
        },
        where=("Observation.ndjson", "line 2"),
        reason=r"^resource without resourceType$",
        rtype="unknown",
        observations={"o1", "o3"},
    ),
    "resource_without_id": dict(
        files={
            "Observation.ndjson": _ndjson(
                _line(_obs("o1")),
                _line({k: v for k, v in _obs("o2").items() if k != "id"}),
                _line(_obs("o3")),
            )
        },
        where=("Observation.ndjson", "line 2"),
        reason=r"^Observation without id$",
        rtype="Observation",
        observations={"o1", "o3"},
    ),
    "observation_without_subject": dict(
        files={
            "Observation.ndjson": _ndjson(
                _line(_obs("o1")),
                _line({k: v for k, v in _obs("o2").items() if k != "subject"}),
                _line(_obs("o3")),
            )
        },
        where=("Observation.ndjson", "line 2"),
        reason=r"^Observation without subject",
        rtype="Observation",
        observations={"o1", "o3"},
    ),
    "subject_reference_without_id": dict(
        files={
            "Observation.ndjson": _ndjson(
                _line(_obs("o1")),
                _line(_obs("o2", subject={"reference": "Patient/"})),
                _line(_obs("o3")),
            )
        },
        where=("Observation.ndjson", "line 2"),
        reason=r"^Observation without subject",
        rtype="Observation",
        observations={"o1", "o3"},
    ),
    "subject_empty_urn": dict(
        files={
            "Observation.ndjson": _ndjson(
                _line(_obs("o1")),
                _line(_obs("o2", subject={"reference": "urn:uuid:"})),
                _line(_obs("o3")),
            )
        },
        where=("Observation.ndjson", "line 2"),
        reason=r"^Observation without subject",
        rtype="Observation",
        observations={"o1", "o3"},
    ),
    "subject_is_a_group": dict(
        files={
            "Observation.ndjson": _ndjson(
                _line(_obs("o1")),
                _line(_obs("o2", subject={"reference": "Group/g1"})),
                _line(_obs("o3")),
            )
        },
        where=("Observation.ndjson", "line 2"),
        reason=r"^Observation\.subject references a Group, not a Patient$",
        rtype="Observation",
        observations={"o1", "o3"},
    ),
    "unparseable_date": dict(
        files={
            "Observation.ndjson": _ndjson(
                _line(_obs("o1")),
                _line(_obs("o2", effectiveDateTime="2020-02-30T10:00:00Z")),
                _line(_obs("o3")),
            )
        },
        where=("Observation.ndjson", "line 2"),
        reason=r"^unparseable date in effectiveDateTime: '2020-02-30T10:00:00Z'$",
        rtype="Observation",
        observations={"o1", "o3"},
    ),
    "non_numeric_quantity": dict(
        files={
            "Observation.ndjson": _ndjson(
                _line(_obs("o1")),
                _line({**_obs("o2"), "valueQuantity": {"value": "high"}}),
                _line(_obs("o3")),
            )
        },
        where=("Observation.ndjson", "line 2"),
        reason=r"^non-numeric valueQuantity\.value: 'high'$",
        rtype="Observation",
        observations={"o1", "o3"},
    ),
    "empty_file": dict(
        files={"Observation.ndjson": _ndjson(_line(_obs("o1"))), "Empty.ndjson": b""},
        where=("Empty.ndjson", "file"),
        reason=r"^empty file: no resources$",
        rtype="unknown",
        observations={"o1"},
        file_failed=True,
    ),
    "bundle_entry_without_resource": dict(
        files={
            "bundle.json": _line(
                {
                    "resourceType": "Bundle",
                    "type": "collection",
                    "entry": [
                        {"fullUrl": "urn:uuid:o1", "resource": _obs("o1")},
                        {"fullUrl": "urn:uuid:o2"},
                        {
                            "fullUrl": "urn:uuid:o3",
                            "resource": _obs("o3", subject={"reference": "urn:uuid:p2"}),
                        },
                    ],
                }
            )
        },
        where=("bundle.json", "entry 1"),
        reason=r"^Bundle entry without a resource$",
        rtype="unknown",
        observations={"o1", "o3"},
    ),
    "json_document_not_an_object": dict(
        files={"Observation.ndjson": _ndjson(_line(_obs("o1"))), "list.json": _line([_obs("o9")])},
        where=("list.json", "file"),
        reason=r"^JSON document is not a FHIR resource object$",
        rtype="unknown",
        observations={"o1"},
        file_failed=True,
    ),
}


# cases where the vectorized ndjson path (ingestion/fast_ndjson.py) does not yet agree with the per-resource path


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_is_quarantined_and_the_rest_written(case, tmp_path, ingest_kwargs, request):
    spec = CASES[case]
    landing = _write(tmp_path / "landing", {"Patient.ndjson": GOOD_PATIENTS, **spec["files"]})
    bronze = tmp_path / "bronze"

    report = ingest_directory(landing, bronze, **ingest_kwargs)

    # the good resources, in the bad file and beside it, are written
    assert _ids(bronze, "observations") == spec["observations"]
    assert _ids(bronze, "patients") == {"p1", "p2"}
    # exactly one quarantine row, saying where and why
    quarantine = _table(bronze, "quarantine")
    assert len(quarantine) == 1, quarantine
    row = quarantine[0]
    source_file, locator = spec["where"]
    assert (row["source_file"], row["source_locator"]) == (source_file, locator)
    assert re.search(spec["reason"], row["reason"]), row["reason"]
    assert row["resource_type"] == spec["rtype"]
    assert row["file_failed"] is spec.get("file_failed", False)
    assert row["snapshot_id"] == report.snapshot.snapshot_id
    assert row["quarantine_key"] == f"{report.snapshot.snapshot_id}/{source_file}/{locator}"
    if not spec.get("file_failed") and row["resource_type"] != "unknown":
        assert (
            row["raw_excerpt"] and json.loads(row["raw_excerpt"])["resourceType"] == spec["rtype"]
        )
    # accounting: per type, per file, and the independent audit check
    assert report.totals.quarantined == 1
    assert report.totals.written == len(spec["observations"]) + 2
    assert report.per_type[spec["rtype"]].quarantined == 1
    _assert_accounting(report, bronze)
    audit = {
        (r["source_file"], r["resource_type"]): (r["read"], r["written"], r["quarantined"])
        for r in _table(bronze, "ingest_audit")
    }
    assert audit[(source_file, spec["rtype"])][2] == 1
    assert audit[("Patient.ndjson", "Patient")] == (2, 2, 0)


def test_all_bad_inputs_together(tmp_path, ingest_kwargs):
    """The same cases side by side in one snapshot: still one quarantine row each, nothing else lost."""
    files = {"Patient.ndjson": GOOD_PATIENTS}
    cases = dict(CASES)
    for case, spec in cases.items():
        for name, data in spec["files"].items():
            files[f"{case}/{name}"] = data
    landing = _write(tmp_path / "landing", files)
    bronze = tmp_path / "bronze"
    report = ingest_directory(landing, bronze, **ingest_kwargs)
    quarantine = {(r["source_file"], r["source_locator"]) for r in _table(bronze, "quarantine")}
    assert quarantine == {
        (f"{case}/{spec['where'][0]}", spec["where"][1]) for case, spec in cases.items()
    }
    assert report.totals.quarantined == len(cases)
    _assert_accounting(report, bronze)


# ---------------------------------------------------------------- damaged gzip


def _obs_lines(n: int, start: int = 0) -> list[bytes]:
    return [
        _line(_obs(f"o{i}", value=float(i), note=[{"text": "n" * (i % 50)}]))
        for i in range(start, start + n)
    ]


def test_corrupt_gzip_member_mid_stream(tmp_path, ingest_kwargs):
    """Bytes damaged in the middle of a .ndjson.gz: the member cannot be verified, so none of it is written."""
    lines = _obs_lines(600)
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # gzip container
    head = compressor.compress(_ndjson(*lines[:300])) + compressor.flush(zlib.Z_FULL_FLUSH)
    data = bytearray(head + compressor.compress(_ndjson(*lines[300:])) + compressor.flush())
    data[len(head)] |= 0x06  # the next deflate block header now says BTYPE=11 (reserved): invalid
    landing = _write(
        tmp_path / "landing",
        {"Patient.ndjson": GOOD_PATIENTS, "Observation.ndjson.gz": bytes(data)},
    )
    bronze = tmp_path / "bronze"

    report = ingest_directory(landing, bronze, **ingest_kwargs)

    assert _table(bronze, "observations") == []
    (q,) = _table(bronze, "quarantine")
    assert (q["source_file"], q["source_locator"]) == ("Observation.ndjson.gz", "file")
    assert q["reason"].startswith("corrupt gzip member 1:")
    assert q["file_failed"] is True
    assert _ids(bronze, "patients") == {"p1", "p2"}
    _assert_accounting(report, bronze)


def test_gzip_member_failing_its_crc_writes_no_altered_resources(tmp_path, ingest_kwargs):
    lines = _obs_lines(50)
    altered = list(lines)
    altered[20] = _line(_obs("o20", value=999.0, note=[{"text": "n" * 20}]))
    body = _ndjson(*altered)
    member = bytearray(gzip.compress(body, mtime=0))
    # the trailer carries the CRC of what was exported, the deflate data decodes to something else
    member[-8:-4] = struct.pack("<I", zlib.crc32(_ndjson(*lines)))
    landing = _write(tmp_path / "landing", {"Observation.ndjson.gz": bytes(member)})
    bronze = tmp_path / "bronze"

    report = ingest_directory(landing, bronze, **ingest_kwargs)

    (q,) = _table(bronze, "quarantine")
    assert (
        q["reason"].startswith("corrupt gzip member 1:") and "incorrect data check" in q["reason"]
    )
    _assert_accounting(report, bronze)
    assert _table(bronze, "observations") == [], "bronze holds resources that failed their checksum"


def test_truncated_gzip(tmp_path, ingest_kwargs):
    lines = _obs_lines(400)
    data = gzip.compress(_ndjson(*lines), mtime=0)
    landing = _write(
        tmp_path / "landing",
        {"Patient.ndjson": GOOD_PATIENTS, "Observation.ndjson.gz": data[: len(data) // 2]},
    )
    bronze = tmp_path / "bronze"

    report = ingest_directory(landing, bronze, **ingest_kwargs)

    assert _table(bronze, "observations") == []
    (q,) = _table(bronze, "quarantine")
    assert (q["source_file"], q["source_locator"]) == ("Observation.ndjson.gz", "file")
    assert q["reason"].startswith("corrupt gzip member 1: truncated")
    assert q["file_failed"] is True
    assert report.per_file[("Observation.ndjson.gz", "unknown")].quarantined == 1
    _assert_accounting(report, bronze)


def test_verified_gzip_members_before_a_damaged_one_are_kept(tmp_path, ingest_kwargs):
    lines = _obs_lines(40)
    second = gzip.compress(_ndjson(*lines[20:]), mtime=0)
    data = gzip.compress(_ndjson(*lines[:20]), mtime=0) + second[:-6]
    landing = _write(tmp_path / "landing", {"Observation.ndjson.gz": data})
    bronze = tmp_path / "bronze"

    report = ingest_directory(landing, bronze, **ingest_kwargs)

    assert {r["raw_json"].encode() for r in _table(bronze, "observations")} == set(lines[:20])
    (q,) = _table(bronze, "quarantine")
    assert (q["source_locator"], q["file_failed"]) == ("line 21", True)
    assert q["reason"].startswith("corrupt gzip member 2")
    _assert_accounting(report, bronze)


def test_truncated_gzip_bundle(tmp_path, ingest_kwargs):
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": _obs(f"b{i}")} for i in range(50)],
    }
    data = gzip.compress(_line(bundle), mtime=0)
    landing = _write(
        tmp_path / "landing", {"Patient.ndjson": GOOD_PATIENTS, "bundle.json.gz": data[:-20]}
    )
    bronze = tmp_path / "bronze"
    report = ingest_directory(landing, bronze, **ingest_kwargs)
    (q,) = _table(bronze, "quarantine")
    assert (q["source_file"], q["source_locator"], q["file_failed"]) == (
        "bundle.json.gz",
        "file",
        True,
    )
    assert q["reason"].startswith("corrupt gzip member 1")
    assert _ids(bronze, "observations") == set()
    assert _ids(bronze, "patients") == {"p1", "p2"}
    _assert_accounting(report, bronze)


# ---------------------------------------------------------------- unreadable files


def _make_unreadable(path: Path, how: str) -> None:
    if how == "chmod":
        path.write_bytes(_ndjson(_line(_obs("o9"))))
        path.chmod(0)
        if os.access(path, os.R_OK):
            path.chmod(0o644)
            pytest.skip("running as root: chmod 000 does not make a file unreadable")
    else:  # an I/O error even for root: a link to the unmapped start of this process's memory
        if not Path("/proc/self/mem").exists():
            pytest.skip("needs Linux /proc/self/mem to simulate an I/O error")
        path.symlink_to("/proc/self/mem")


@pytest.mark.parametrize("how", ["chmod", "io_error"])
def test_unreadable_file(tmp_path, how, ingest_kwargs):
    landing = tmp_path / "landing"
    _write(
        landing, {"Patient.ndjson": GOOD_PATIENTS, "Observation.ndjson": _ndjson(_line(_obs("o1")))}
    )
    bad = landing / "Unreadable.ndjson"
    _make_unreadable(bad, how)
    bronze = tmp_path / "bronze"
    try:
        snapshot = take_snapshot(landing)
        entry = next(f for f in snapshot.files if f.path == "Unreadable.ndjson")
        assert entry.size == -1 and entry.sha256.startswith("unreadable:")
        report = ingest_directory(landing, bronze, **ingest_kwargs)
    finally:
        if how == "chmod":
            bad.chmod(0o644)
    (q,) = _table(bronze, "quarantine")
    assert (q["source_file"], q["source_locator"], q["file_failed"]) == (
        "Unreadable.ndjson",
        "file",
        True,
    )
    assert q["reason"].startswith("unreadable file:")
    assert ("PermissionError" if how == "chmod" else "Input/output error") in q["reason"]
    assert _ids(bronze, "observations") == {"o1"}
    assert _ids(bronze, "patients") == {"p1", "p2"}
    _assert_accounting(report, bronze)


# ---------------------------------------------------------------- landing changed under the run


def _versions(bronze: Path) -> dict[str, int | None]:
    return {
        name: current_version(str(bronze / name)) for name in [*BRONZE_OUTPUTS, "landing_snapshots"]
    }


def _two_file_landing(root: Path) -> Path:
    return _write(
        root,
        {
            "A_Patient.ndjson": GOOD_PATIENTS,
            "Z_Observation.ndjson": _ndjson(_line(_obs("o1")), _line(_obs("o2"))),
        },
    )


def test_file_changed_after_snapshot_stops_the_run_without_writing(tmp_path, ingest_kwargs):
    landing = _two_file_landing(tmp_path / "landing")
    bronze = tmp_path / "bronze"
    ingest_directory(landing, bronze, **ingest_kwargs)
    before = _versions(bronze)
    rows_before = _table(bronze, "observations")

    # a new delivery is snapshotted, then one of its files changes before ingestion reads it
    (landing / "A_Patient.ndjson").write_bytes(
        GOOD_PATIENTS + _line({"resourceType": "Patient", "id": "p3"}) + b"\n"
    )
    snapshot = take_snapshot(landing)
    (landing / "Z_Observation.ndjson").write_bytes(
        _ndjson(_line(_obs("o1", value=99.0)), _line(_obs("o2")))
    )

    with pytest.raises(SnapshotMismatch, match="Z_Observation.ndjson"):
        ingest_snapshot(snapshot, bronze, **ingest_kwargs)
    assert _versions(bronze) == before, "no bronze table got a new version"
    assert _table(bronze, "observations") == rows_before
    assert _ids(bronze, "patients") == {"p1", "p2"}


def test_file_changed_after_snapshot_on_first_run_creates_no_table(tmp_path, ingest_kwargs):
    landing = _two_file_landing(tmp_path / "landing")
    snapshot = take_snapshot(landing)
    (landing / "Z_Observation.ndjson").write_bytes(b"")
    bronze = tmp_path / "bronze"
    with pytest.raises(SnapshotMismatch):
        ingest_snapshot(snapshot, bronze, **ingest_kwargs)
    assert not bronze.exists() or not any(bronze.iterdir())


def test_file_deleted_after_snapshot_is_a_mismatch(tmp_path, ingest_kwargs):
    landing = _two_file_landing(tmp_path / "landing")
    snapshot = take_snapshot(landing)
    (landing / "Z_Observation.ndjson").unlink()
    with pytest.raises(SnapshotMismatch):
        ingest_snapshot(snapshot, tmp_path / "bronze", **ingest_kwargs)


def test_failed_ingest_directory_audits_nothing(tmp_path, monkeypatch):
    landing = _two_file_landing(tmp_path / "landing")
    real_take_snapshot = ingest_module.take_snapshot

    def snapshot_then_exporter_appends(root):
        snap = real_take_snapshot(root)
        with (Path(root) / "Z_Observation.ndjson").open(
            "ab"
        ) as fh:  # the export was still being written
            fh.write(_line(_obs("o3")) + b"\n")
        return snap

    monkeypatch.setattr(ingest_module, "take_snapshot", snapshot_then_exporter_appends)
    bronze = tmp_path / "bronze"
    with pytest.raises(SnapshotMismatch):
        ingest_directory(landing, bronze)
    # the manifest was recorded when taken; no resource table and no audit row claim it was ingested
    assert current_version(str(bronze / "ingest_audit")) is None
    assert current_version(str(bronze / "observations")) is None
