"""Readers of landing files: Bulk ndjson (plain/gzip) and JSON documents / Bundles."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest

from ingestion.sources import (
    EXCERPT_CHARS,
    SnapshotMismatch,
    read_file,
    read_json_document,
    read_ndjson,
)


def _dumps(obj) -> bytes:
    return json.dumps(obj).encode()


def _summary(items):
    return [
        (
            i.locator,
            i.resource.get("id") if i.resource else None,
            i.error is not None,
            i.file_failed,
        )
        for i in items
    ]


# ---------------------------------------------------------------- ndjson


def test_ndjson_good_lines_and_blank_lines_keep_their_numbers(fhir):
    data = b"\n".join([_dumps(fhir.patient("a")), b"", b"   ", _dumps(fhir.patient("b"))]) + b"\n"
    items = list(read_ndjson("Patient.ndjson", data))
    assert _summary(items) == [("line 1", "a", False, False), ("line 4", "b", False, False)]
    assert items[0].raw == _dumps(fhir.patient("a"))  # stored without the newline


def test_ndjson_crlf_line_endings(fhir):
    data = _dumps(fhir.patient("a")) + b"\r\n" + _dumps(fhir.patient("b")) + b"\r\n"
    items = list(read_ndjson("Patient.ndjson", data))
    assert [i.resource["id"] for i in items] == ["a", "b"]
    assert all(not i.raw.endswith((b"\r", b"\n")) for i in items)


def test_ndjson_invalid_array_and_truncated_lines(fhir):
    good = _dumps(fhir.patient("a"))
    data = b"\n".join(
        [
            good,
            b'{"resourceType": "Patient", "id": oops}',
            b'[{"resourceType": "Patient"}]',
            good,
            b'{"resourceType": "Patient", "id": "tr',
        ]
    )  # no final newline: the export was cut
    items = list(read_ndjson("Patient.ndjson", data))
    assert [i.locator for i in items] == ["line 1", "line 2", "line 3", "line 4", "line 5"]
    assert items[0].error is None and items[3].error is None
    assert items[1].error.startswith("invalid JSON")
    assert items[2].error == "line is not a JSON object"
    assert "truncated" in items[4].error
    assert items[4].raw == b'{"resourceType": "Patient", "id": "tr'
    assert not any(i.file_failed for i in items)


def test_ndjson_scalar_line_is_not_an_object():
    items = list(read_ndjson("x.ndjson", b'"just a string"\n42\nnull\n'))
    assert [(i.locator, i.error) for i in items] == [
        (f"line {n}", "line is not a JSON object") for n in (1, 2, 3)
    ]


def test_ndjson_excerpt_is_bounded():
    line = (
        b'{"resourceType": "Patient", "id": "x", "text": "' + b"a" * 10_000 + b'"'
    )  # invalid: unterminated
    items = list(read_ndjson("x.ndjson", line + b"\n"))
    assert items[0].error and len(items[0].raw) == EXCERPT_CHARS


@pytest.mark.parametrize("data", [b"", b"\n\n  \n"])
def test_ndjson_empty_file(data):
    items = list(read_ndjson("x.ndjson", data))
    assert _summary(items) == [("file", None, True, True)]
    assert items[0].error == "empty file: no resources"


def test_ndjson_gzip(fhir):
    data = gzip.compress(_dumps(fhir.patient("a")) + b"\n" + _dumps(fhir.patient("b")) + b"\n")
    assert [i.resource["id"] for i in read_ndjson("Patient.ndjson.gz", data)] == ["a", "b"]
    assert [i.resource["id"] for i in read_ndjson("Patient.NDJSON.GZ", data)] == ["a", "b"]


def test_ndjson_truncated_gzip_writes_nothing_unverified(fhir):
    # a cut member cannot be checked against its CRC: none of its lines may reach bronze
    lines = [_dumps(fhir.observation(f"o{i}", note=[{"text": "x" * (i % 97)}])) for i in range(300)]
    data = gzip.compress(b"\n".join(lines) + b"\n", mtime=0)
    items = list(read_ndjson("Observation.ndjson.gz", data[: len(data) // 2]))
    assert len(items) == 1
    assert items[0].file_failed and items[0].resource is None and items[0].locator == "file"
    assert items[0].error.startswith("corrupt gzip member 1: truncated")


def test_ndjson_gzip_keeps_verified_members_before_the_damage(fhir):
    first = b"\n".join(_dumps(fhir.observation(f"a{i}")) for i in range(5)) + b"\n"
    second = gzip.compress(
        b"\n".join(_dumps(fhir.observation(f"b{i}")) for i in range(5)) + b"\n", mtime=0
    )
    data = (
        gzip.compress(first, mtime=0) + second[: len(second) - 6]
    )  # second member loses its trailer
    items = list(read_ndjson("Observation.ndjson.gz", data))
    assert [i.resource["id"] for i in items if i.error is None] == [f"a{i}" for i in range(5)]
    assert items[-1].file_failed and items[-1].locator == "line 6"
    assert items[-1].error.startswith("corrupt gzip member 2")


def test_ndjson_not_gzip_at_all():
    items = list(read_ndjson("x.ndjson.gz", b'{"resourceType": "Patient", "id": "plain"}\n'))
    assert _summary(items) == [("file", None, True, True)]
    assert items[0].error.startswith("corrupt gzip member 1")


# ---------------------------------------------------------------- JSON documents and Bundles


def test_single_resource_document(fhir):
    items = list(read_json_document("p.json", b"  " + _dumps(fhir.patient("solo")) + b"\n"))
    assert _summary(items) == [("file", "solo", False, False)]
    assert items[0].raw == _dumps(fhir.patient("solo"))


def test_bundle_entries_and_fullurl_map(fhir):
    bundle = fhir.bundle(fhir.patient("p1"), fhir.encounter("e1", "p1"))
    bundle["entry"][1]["resource"]["subject"] = {"reference": "urn:uuid:p1"}
    items = list(read_json_document("b.json", _dumps(bundle)))
    assert _summary(items) == [("entry 0", "p1", False, False), ("entry 1", "e1", False, False)]
    assert items[1].fullurls == {"urn:uuid:p1": "p1", "urn:uuid:e1": "e1"}
    assert json.loads(items[1].raw) == bundle["entry"][1]["resource"]


def test_bundle_entry_without_resource(fhir):
    bundle = fhir.bundle(fhir.patient("p1"), fhir.patient("p2"))
    bundle["entry"].insert(1, {"fullUrl": "urn:uuid:missing", "request": {"method": "POST"}})
    bundle["entry"].append("not an entry")
    items = list(read_json_document("b.json", _dumps(bundle)))
    assert _summary(items) == [
        ("entry 0", "p1", False, False),
        ("entry 1", None, True, False),
        ("entry 2", "p2", False, False),
        ("entry 3", None, True, False),
    ]
    assert items[1].error == "Bundle entry without a resource"
    assert b"urn:uuid:missing" in items[1].raw


def test_transaction_entry_without_id_takes_its_urn(fhir):
    patient = fhir.patient("x")
    del patient["id"]
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:1234-abcd", "resource": patient},
            {"fullUrl": "urn:uuid:e-1", "resource": fhir.encounter("e-1", "ignored")},
        ],
    }
    items = list(read_json_document("b.json", _dumps(bundle)))
    assert items[0].resource["id"] == "1234-abcd"
    assert json.loads(items[0].raw)["id"] == "1234-abcd"
    assert items[1].fullurls["urn:uuid:1234-abcd"] == "1234-abcd"


@pytest.mark.parametrize(
    ("document", "error"),
    [
        ({"resourceType": "Bundle", "type": "collection"}, "Bundle without entries"),
        ({"resourceType": "Bundle", "entry": []}, "Bundle without entries"),
        ([{"resourceType": "Patient", "id": "x"}], "JSON document is not a FHIR resource object"),
        ("a string", "JSON document is not a FHIR resource object"),
    ],
)
def test_document_level_failures(document, error):
    items = list(read_json_document("d.json", _dumps(document)))
    assert _summary(items) == [("file", None, True, True)]
    assert items[0].error == error


def test_invalid_json_document():
    items = list(read_json_document("d.json", b'{"resourceType": "Bundle", "entry": [ '))
    assert _summary(items) == [("file", None, True, True)]
    assert items[0].error.startswith("invalid JSON document")


def test_ndjson_saved_as_json_is_read_line_by_line(fhir):
    data = _dumps(fhir.patient("a")) + b"\n" + _dumps(fhir.patient("b")) + b"\n"
    items = list(read_json_document("export.json", data))
    assert _summary(items) == [("line 1", "a", False, False), ("line 2", "b", False, False)]


def test_gzip_json_document_and_corrupt_gzip(fhir):
    data = gzip.compress(_dumps(fhir.bundle(fhir.patient("a"))))
    assert [i.resource["id"] for i in read_json_document("b.json.gz", data)] == ["a"]
    items = list(read_json_document("b.json.gz", data[:-12]))
    assert _summary(items) == [("file", None, True, True)]
    assert items[0].error.startswith("corrupt gzip member 1")


@pytest.mark.parametrize("data", [b"", b"  \n"])
def test_empty_json_document(data):
    items = list(read_json_document("d.json", data))
    assert [(i.locator, i.error, i.file_failed) for i in items] == [
        ("file", "empty file: no resources", True)
    ]


# ---------------------------------------------------------------- read_file


def test_read_file_dispatches_on_suffix(tmp_path, fhir):
    nd = tmp_path / "a.jsonl"
    nd.write_bytes(_dumps(fhir.patient("a")) + b"\n")
    doc = tmp_path / "b.json"
    doc.write_bytes(_dumps(fhir.bundle(fhir.patient("b"))))
    assert [i.locator for i in read_file(nd)] == ["line 1"]
    assert [i.locator for i in read_file(doc)] == ["entry 0"]


def test_read_file_checks_the_manifest_digest(tmp_path, fhir):
    path = tmp_path / "Patient.ndjson"
    path.write_bytes(_dumps(fhir.patient("a")) + b"\n")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert [i.resource["id"] for i in read_file(path, digest)] == ["a"]
    path.write_bytes(_dumps(fhir.patient("b")) + b"\n")
    with pytest.raises(SnapshotMismatch, match="content changed since the landing snapshot"):
        list(read_file(path, digest))
    # a file that was unreadable at snapshot time has no digest to compare against
    assert [i.resource["id"] for i in read_file(path, "unreadable:PermissionError")] == ["b"]


def test_read_file_unreadable_is_one_failed_item(tmp_path):
    items = list(read_file(tmp_path / "gone.ndjson"))
    assert _summary(items) == [("file", None, True, True)]
    assert items[0].error.startswith("unreadable file: FileNotFoundError")
