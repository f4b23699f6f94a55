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

import pyarrow as pa
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
        field="subject",
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
        field="effectiveDateTime",
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
        reason=r'^wrong type: valueQuantity\.value is a string \("high"\), FHIR wants a decimal',
        field="valueQuantity.value",
        rtype="Observation",
        observations={"o1", "o3"},
    ),
    # wrong JSON types are quarantined with their JSON path, never coerced (docs/ingestion.md)
    **{
        f"wrong_type_{name}": dict(
            files={
                "Observation.ndjson": _ndjson(
                    _line(_obs("o1")), _line(_obs("o2", **change)), _line(_obs("o3"))
                )
            },
            where=("Observation.ndjson", "line 2"),
            reason=rf"^wrong type: {re.escape(field)} is ",
            field=field,
            rtype="Observation",
            observations={"o1", "o3"},
        )
        for name, change, field in [
            ("status_list", {"status": ["final"]}, "status"),
            (
                "coding_system_number",
                {"code": {"coding": [{"system": 7, "code": "1"}]}},
                "code.coding[0].system",
            ),
            ("coding_code_number", {"code": {"coding": [{"code": 2345}]}}, "code.coding[0].code"),
            ("subject_as_string", {"subject": "Patient/p1"}, "subject"),
            ("code_as_string", {"code": "2345-7"}, "code"),
            (
                "decimal_as_numeric_string",
                {"valueQuantity": {"value": "3.8"}},
                "valueQuantity.value",
            ),
            ("integer_with_fraction", {"valueQuantity": None, "valueInteger": 3.5}, "valueInteger"),
            ("boolean_as_string", {"valueQuantity": None, "valueBoolean": "true"}, "valueBoolean"),
            ("category_null_element", {"category": [None]}, "category[0]"),
        ]
    },
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
    assert row["field"] == spec.get("field")
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


def test_unreadable_file(tmp_path, ingest_kwargs):
    landing = tmp_path / "landing"
    _write(
        landing, {"Patient.ndjson": GOOD_PATIENTS, "Observation.ndjson": _ndjson(_line(_obs("o1")))}
    )
    bad = landing / "Unreadable.ndjson"
    bad.write_bytes(_ndjson(_line(_obs("o9"))))
    bad.chmod(0)
    bronze = tmp_path / "bronze"
    try:
        if os.access(bad, os.R_OK):
            pytest.skip("running as root: chmod 000 does not make a file unreadable")
        snapshot = take_snapshot(landing)
        entry = next(f for f in snapshot.files if f.path == "Unreadable.ndjson")
        assert entry.size == -1 and entry.sha256.startswith("unreadable:")
        report = ingest_directory(landing, bronze, **ingest_kwargs)
    finally:
        bad.chmod(0o644)
    (q,) = _table(bronze, "quarantine")
    assert (q["source_file"], q["source_locator"], q["file_failed"]) == (
        "Unreadable.ndjson",
        "file",
        True,
    )
    assert q["reason"].startswith("unreadable file:") and "PermissionError" in q["reason"]
    assert _ids(bronze, "observations") == {"o1"}
    assert _ids(bronze, "patients") == {"p1", "p2"}
    _assert_accounting(report, bronze)


# ---------------------------------------------------------------- links and special files: refused, never read


def test_links_and_special_files_are_refused_never_read(tmp_path, ingest_kwargs):
    outside = tmp_path / "outside"
    secret = _ndjson(_line(_obs("outside-1")), _line(_obs("outside-2")))
    _write(outside, {"Observation.ndjson": secret, "passwd": b"root:x:0:0:root:/root:/bin/bash\n"})
    landing = _write(
        tmp_path / "landing",
        {"Patient.ndjson": GOOD_PATIENTS, "Observation.ndjson": _ndjson(_line(_obs("o1")))},
    )
    (landing / "linked.ndjson").symlink_to(outside / "Observation.ndjson")  # a FHIR file outside
    (landing / "passwd.ndjson").symlink_to(outside / "passwd")
    (landing / "inside-link.ndjson").symlink_to(
        landing / "Observation.ndjson"
    )  # even inside the zone
    (landing / "export").symlink_to(outside, target_is_directory=True)  # a linked directory
    os.mkfifo(landing / "pipe.ndjson")  # opening it to read would block: it must never be opened
    bronze = tmp_path / "bronze"

    snapshot = take_snapshot(landing)
    refused = {f.path: f.sha256 for f in snapshot.refused}
    assert refused == {
        "export": "refused:symlink",
        "inside-link.ndjson": "refused:symlink",
        "linked.ndjson": "refused:symlink",
        "passwd.ndjson": "refused:symlink",
        "pipe.ndjson": "refused:fifo",
    }
    assert all(f.size == -1 for f in snapshot.refused)
    report = ingest_directory(landing, bronze, **ingest_kwargs)

    # the regular files are ingested; nothing behind a link reaches bronze, not even an excerpt
    assert _ids(bronze, "observations") == {"o1"}
    assert _ids(bronze, "patients") == {"p1", "p2"}
    quarantine = {r["source_file"]: r for r in _table(bronze, "quarantine")}
    assert set(quarantine) == set(refused)
    for path, row in quarantine.items():
        assert (row["source_locator"], row["file_failed"], row["raw_excerpt"]) == (
            "file",
            True,
            None,
        )
        kind = "FIFO" if path == "pipe.ndjson" else "symbolic link"
        assert row["reason"].startswith(f"refused {kind}"), row["reason"]
    for name in BRONZE_OUTPUTS:
        for row in _table(bronze, name):
            text = json.dumps(row, default=str)
            assert "root:x:0:0" not in text and "outside-1" not in text, name
    assert report.to_dict()["refused_files"].keys() == refused.keys()
    assert report.totals.quarantined == len(refused)
    _assert_accounting(report, bronze)
    # refused entries are part of the snapshot id and of its recorded manifest
    recorded = {r["path"]: r["sha256"] for r in _table(bronze, "landing_snapshots")}
    assert {p: recorded[p] for p in refused} == refused


def test_file_replaced_by_a_link_after_the_snapshot_is_a_mismatch(tmp_path, ingest_kwargs):
    landing = _two_file_landing(tmp_path / "landing")
    snapshot = take_snapshot(landing)
    outside = _write(
        tmp_path / "outside", {"o.ndjson": (landing / "Z_Observation.ndjson").read_bytes()}
    )
    (landing / "Z_Observation.ndjson").unlink()
    (landing / "Z_Observation.ndjson").symlink_to(outside / "o.ndjson")  # same bytes, behind a link
    with pytest.raises(SnapshotMismatch, match="Z_Observation.ndjson"):
        ingest_snapshot(snapshot, tmp_path / "bronze", **ingest_kwargs)


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


# ---------------------------------------------------------------- nested Bundles and duplicates


def _bundle(*entries: dict) -> dict:
    return {"resourceType": "Bundle", "type": "collection", "entry": list(entries)}


def test_nested_bundles_are_unpacked_to_any_depth(tmp_path, ingest_kwargs):
    innermost = _bundle(
        {"fullUrl": "urn:uuid:o3", "resource": _obs("o3", subject={"reference": "urn:uuid:pp"})},
        {"resource": _obs("o4", code="2345-7")},  # wrong type three levels down
    )
    document = _bundle(
        {"fullUrl": "urn:uuid:pp", "resource": {"resourceType": "Patient", "id": "p9"}},
        {"resource": _bundle({"resource": _obs("o2")}, {"resource": innermost})},
        {"resource": _obs("o1")},
        {"resource": _bundle()},  # a nested Bundle without entries
    )
    line_bundle = _bundle({"resource": _obs("o5")}, {"resource": _bundle({"resource": _obs("o6")})})
    landing = _write(
        tmp_path / "landing",
        {
            "Patient.ndjson": GOOD_PATIENTS,
            "bundle.json": _line(document),
            "Observation.ndjson": _ndjson(_line(_obs("o7")), _line(line_bundle)),
        },
    )
    bronze = tmp_path / "bronze"
    report = ingest_directory(landing, bronze, **ingest_kwargs)

    observations = {r["resource_id"]: r for r in _table(bronze, "observations")}
    assert set(observations) == {"o1", "o2", "o3", "o5", "o6", "o7"}
    assert observations["o3"]["source_locator"] == "entry 1 > entry 1 > entry 0"
    assert observations["o3"]["patient_key"] == "p9"  # the fullUrl of an outer Bundle resolves
    assert observations["o6"]["source_locator"] == "line 2 > entry 1 > entry 0"
    assert _table(bronze, "other_resources") == []  # no Bundle is kept as a resource
    quarantine = {r["source_locator"]: r for r in _table(bronze, "quarantine")}
    assert set(quarantine) == {"entry 1 > entry 1 > entry 1", "entry 3"}
    assert quarantine["entry 1 > entry 1 > entry 1"]["field"] == "code"
    assert quarantine["entry 3"]["reason"] == "Bundle without entries"
    assert report.per_file[("bundle.json", "Observation")].written == 3
    assert report.per_file[("Observation.ndjson", "Observation")].written == 3
    _assert_accounting(report, bronze)


def test_duplicates_are_recorded_and_reconciled(tmp_path, ingest_kwargs):
    same = _obs("o1")
    landing = _write(
        tmp_path / "landing",
        {
            "Patient.ndjson": GOOD_PATIENTS,
            "a/Observation.ndjson": _ndjson(_line(same), _line(_obs("o2")), _line(_obs("o3"))),
            # o1 again, formatted differently (identical content); o2 with another value (conflicting)
            "b/Observation.ndjson": _ndjson(
                json.dumps(same, indent=None, separators=(", ", ": ")).encode(),
                _line(_obs("o2", value=9.0)),
                _line(_obs("o4")),
            ),
            "c.json": _line(_bundle({"resource": _obs("o2", value=10.0)})),
        },
    )
    bronze = tmp_path / "bronze"
    report = ingest_directory(landing, bronze, **ingest_kwargs)

    rows = {
        (r["resource_id"], r["superseded_file"], r["superseded_locator"]): r
        for r in _table(bronze, "duplicates")
    }
    assert set(rows) == {
        ("o1", "a/Observation.ndjson", "line 1"),
        ("o2", "a/Observation.ndjson", "line 2"),
        ("o2", "b/Observation.ndjson", "line 2"),
    }
    o1 = rows[("o1", "a/Observation.ndjson", "line 1")]
    assert (o1["kept_file"], o1["kept_locator"], o1["conflicting"]) == (
        "b/Observation.ndjson",
        "line 1",
        False,
    )
    assert o1["kept_digest"] == o1["superseded_digest"]
    o2 = rows[("o2", "b/Observation.ndjson", "line 2")]
    assert (o2["kept_file"], o2["kept_locator"], o2["conflicting"]) == ("c.json", "entry 0", True)
    assert o2["kept_digest"] != o2["superseded_digest"]
    kept = {r["resource_id"]: r for r in _table(bronze, "observations")}
    assert kept["o2"]["value_num"] == 10.0 and kept["o2"]["source_file"] == "c.json"

    audit = {(r["source_file"], r["resource_type"]): r for r in _table(bronze, "ingest_audit")}
    a = audit[("a/Observation.ndjson", "Observation")]
    assert (a["read"], a["written"], a["superseded"], a["conflicting"], a["in_bronze"]) == (
        3,
        3,
        2,
        1,
        1,
    )
    b = audit[("b/Observation.ndjson", "Observation")]
    assert (b["written"], b["superseded"], b["conflicting"], b["in_bronze"]) == (3, 1, 1, 2)
    summary = report.to_dict()
    assert summary["duplicates_in_snapshot"] == 3 and summary["duplicates_conflicting"] == 2
    assert summary["duplicates_per_file"]["a/Observation.ndjson"] == {
        "superseded": 2,
        "conflicting": 1,
    }
    _assert_accounting(report, bronze)


def test_accounting_check_catches_a_lost_duplicate(tmp_path):
    landing = _write(
        tmp_path / "landing",
        {"a.ndjson": _ndjson(_line(_obs("o1"))), "b.ndjson": _ndjson(_line(_obs("o1", value=2.0)))},
    )
    bronze = tmp_path / "bronze"
    report = ingest_directory(landing, bronze)
    audit = DeltaTable(str(bronze / "ingest_audit")).to_pyarrow_table()
    quarantine = DeltaTable(str(bronze / "quarantine")).to_pyarrow_table()
    duplicates = DeltaTable(str(bronze / "duplicates")).to_pyarrow_table()
    assert check_accounting(report.snapshot, audit, quarantine, duplicates).ok
    # the symptom: a file's rows counted as written, one of them neither in bronze nor recorded
    problems = check_accounting(report.snapshot, audit, quarantine, duplicates.slice(0, 0)).problems
    assert problems == [
        "a.ndjson Observation: duplicates table holds 0 superseded (0 conflicting) for this snapshot, "
        "audit says 1 (1)"
    ]
    tampered = audit.set_column(
        audit.schema.get_field_index("in_bronze"), "in_bronze", pa.array([1, 1], pa.int64())
    )
    assert any(
        "written 1 != rows in bronze 1 + duplicates superseded 1" in p
        for p in check_accounting(report.snapshot, tampered, quarantine, duplicates).problems
    )
