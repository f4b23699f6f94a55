"""Landing snapshots: content-addressed ids and manifests."""

from __future__ import annotations

import hashlib
import os
import shutil
from datetime import UTC, datetime

import pytest

from ingestion.landing import (
    ManifestEntry,
    is_fhir_file,
    manifest_digest,
    open_regular,
    refusal_reason,
    snapshot_from_rows,
    snapshot_rows,
    take_snapshot,
)


@pytest.fixture
def landing(tmp_path, fhir, write_ndjson, write_json):
    root = tmp_path / "landing"
    write_ndjson(root, "Patient.ndjson", [fhir.patient("p1"), fhir.patient("p2")])
    write_ndjson(root, "sub/Observation.ndjson.gz", [fhir.observation("o1", "p1")])
    write_json(root, "bundles/b1.json", fhir.bundle(fhir.patient("p3")))
    return root


def test_manifest_lists_fhir_files_with_size_and_sha256(landing):
    snap = take_snapshot(landing)
    assert [f.path for f in snap.files] == [
        "Patient.ndjson",
        "bundles/b1.json",
        "sub/Observation.ndjson.gz",
    ]
    for entry in snap.files:
        data = (landing / entry.path).read_bytes()
        assert entry.size == len(data)
        assert entry.sha256 == hashlib.sha256(data).hexdigest()
    assert snap.total_bytes == sum(f.size for f in snap.files)
    assert snap.root == str(landing.resolve())
    assert snap.snapshot_id == manifest_digest(list(snap.files))
    assert len(snap.snapshot_id) == 64


def test_same_content_elsewhere_gives_the_same_id(landing, tmp_path):
    copy = tmp_path / "elsewhere" / "deeper"
    shutil.copytree(landing, copy)
    os.utime(copy / "Patient.ndjson", (0, 0))  # timestamps are not content
    a, b = take_snapshot(landing), take_snapshot(copy)
    assert a.snapshot_id == b.snapshot_id
    assert a.root != b.root


def test_one_changed_byte_changes_the_id(landing):
    before = take_snapshot(landing)
    path = landing / "Patient.ndjson"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    after = take_snapshot(landing)
    assert after.snapshot_id != before.snapshot_id
    changed = [a.path for a, b in zip(after.files, before.files) if a != b]
    assert changed == ["Patient.ndjson"]


def test_renaming_or_adding_a_file_changes_the_id(landing, fhir, write_ndjson):
    before = take_snapshot(landing).snapshot_id
    (landing / "Patient.ndjson").rename(landing / "Patients.ndjson")
    renamed = take_snapshot(landing).snapshot_id
    assert renamed != before
    write_ndjson(landing, "Condition.ndjson", [fhir.condition()])
    assert take_snapshot(landing).snapshot_id not in (before, renamed)


def test_non_fhir_and_hidden_files_are_ignored(landing, fhir, write_ndjson):
    before = take_snapshot(landing)
    (landing / "README.md").write_text("about this export")
    (landing / "LICENSE").write_text("ODbL")
    (landing / "SHA256SUMS.txt").write_text("abc  Patient.ndjson\n")
    write_ndjson(landing, ".partial.ndjson", [fhir.patient("hidden")])
    write_ndjson(landing, ".staging/Patient.ndjson", [fhir.patient("staged")])
    write_ndjson(landing, "sub/.tmp/Obs.ndjson", [fhir.observation()])
    after = take_snapshot(landing)
    assert after.snapshot_id == before.snapshot_id
    assert after.files == before.files
    assert sorted(after.ignored) == ["LICENSE", "README.md", "SHA256SUMS.txt"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Patient.ndjson", True),
        ("Patient.ndjson.gz", True),
        ("x.jsonl", True),
        ("x.JSONL.GZ", True),
        ("bundle.json", True),
        ("bundle.json.gz", True),
        ("README.md", False),
        ("LICENSE", False),
        ("data.csv", False),
        (".hidden.ndjson", False),
        ("x.ndjson.bak", False),
    ],
)
def test_is_fhir_file(tmp_path, name, expected):
    assert is_fhir_file(tmp_path / name) is expected


def test_manifest_digest_independent_of_entry_order():
    entries = [
        ManifestEntry("b.ndjson", 10, "1" * 64),
        ManifestEntry("a.ndjson", 5, "2" * 64),
        ManifestEntry("c/d.json", 7, "3" * 64),
    ]
    digest = manifest_digest(entries)
    assert manifest_digest(list(reversed(entries))) == digest
    assert manifest_digest(tuple(sorted(entries, key=lambda e: e.sha256))) == digest
    assert manifest_digest(entries[:2]) != digest
    assert manifest_digest([ManifestEntry("b.ndjson", 11, "1" * 64), *entries[1:]]) != digest


def test_empty_directory_has_a_stable_id(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    a, b = take_snapshot(tmp_path / "a"), take_snapshot(tmp_path / "b")
    assert a.files == () and a.snapshot_id == b.snapshot_id


def test_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        take_snapshot(tmp_path / "nope")
    (tmp_path / "file.ndjson").write_text("{}")
    with pytest.raises(FileNotFoundError, match="not a directory"):
        take_snapshot(tmp_path / "file.ndjson")


def test_snapshot_never_modifies_the_landing_dir(landing):
    def state():
        return sorted(
            (p.relative_to(landing).as_posix(), p.stat().st_mtime_ns, p.read_bytes())
            for p in landing.rglob("*")
            if p.is_file()
        )

    before = state()
    take_snapshot(landing)
    assert state() == before


def test_manifest_rows_round_trip(landing):
    snap = take_snapshot(landing)
    rows = snapshot_rows(snap, datetime(2024, 1, 1, tzinfo=UTC))
    assert [r["entry_key"] for r in rows] == [f"{snap.snapshot_id}/{f.path}" for f in snap.files]
    other = [{**r, "snapshot_id": "other"} for r in rows]
    rebuilt = snapshot_from_rows(list(reversed(rows)) + other, snap.snapshot_id)
    assert rebuilt.snapshot_id == snap.snapshot_id
    assert rebuilt.files == snap.files
    with pytest.raises(LookupError):
        snapshot_from_rows(rows, "0" * 64)
    tampered = [dict(rows[0], sha256="f" * 64), *rows[1:]]
    with pytest.raises(ValueError, match="does not hash to its id"):
        snapshot_from_rows(tampered, snap.snapshot_id)


def test_to_dict(landing):
    snap = take_snapshot(landing)
    d = snap.to_dict()
    assert d["snapshot_id"] == snap.snapshot_id
    assert d["total_bytes"] == snap.total_bytes
    assert [f["path"] for f in d["files"]] == [f.path for f in snap.files]


def test_links_and_special_files_are_refused_entries_never_read(landing, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.ndjson").write_text('{"resourceType": "Patient", "id": "outside"}\n')
    before = take_snapshot(landing)
    (landing / "secret.ndjson").symlink_to(outside / "secret.ndjson")
    (landing / "sub" / "linked-dir").symlink_to(outside, target_is_directory=True)
    (landing / "dangling.ndjson").symlink_to(tmp_path / "nowhere")
    (landing / "README").symlink_to(outside / "secret.ndjson")  # any name: a link is refused
    os.mkfifo(landing / "pipe.ndjson")
    after = take_snapshot(landing)
    assert {f.path: (f.size, f.sha256) for f in after.refused} == {
        "README": (-1, "refused:symlink"),
        "dangling.ndjson": (-1, "refused:symlink"),
        "pipe.ndjson": (-1, "refused:fifo"),
        "secret.ndjson": (-1, "refused:symlink"),
        "sub/linked-dir": (-1, "refused:symlink"),
    }
    # the regular files are unchanged; the refused entries change the snapshot id
    assert [f for f in after.files if f not in after.refused] == list(before.files)
    assert after.snapshot_id != before.snapshot_id
    assert after.total_bytes == before.total_bytes
    assert after.to_dict()["refused"]["pipe.ndjson"].startswith("refused FIFO")
    assert refusal_reason("refused:symlink").startswith("refused symbolic link")
    assert refusal_reason("ab" * 32) is None
    # recorded and rebuilt like any entry
    rows = snapshot_rows(after, datetime(2024, 1, 1, tzinfo=UTC))
    assert snapshot_from_rows(rows, after.snapshot_id).files == after.files
    # and the opener refuses them too: a link is not followed, a FIFO not read (nor blocked on)
    for name in ("secret.ndjson", "pipe.ndjson"):
        with pytest.raises(OSError):
            open_regular(landing / name)
    with open_regular(landing / "Patient.ndjson") as fh:
        assert fh.read() == (landing / "Patient.ndjson").read_bytes()
