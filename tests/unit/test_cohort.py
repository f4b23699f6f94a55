"""Synthetic FHIR cohort generator: determinism, FHIR shape, referential integrity, notes, labels."""

from __future__ import annotations

import base64
import gzip
import re
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import orjson
import pytest

from cohort import generator
from cohort.fhir import RESOURCE_TYPES
from cohort.generator import GenerateReport, generate_cohort
from cohort.names import RESTRICTED_ZIP3

REF = datetime.fromisoformat("2026-01-01T00:00:00+00:00")


def _files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def _resources(d: Path) -> dict[str, list[dict]]:
    out = {}
    for t in RESOURCE_TYPES:
        out[t] = [orjson.loads(line) for line in (d / f"{t}.ndjson").read_bytes().splitlines()]
    return out


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, GenerateReport]:
    d = tmp_path_factory.mktemp("small")
    return d, generate_cohort(d, 60, 123)


@pytest.fixture(scope="module")
def medium(tmp_path_factory) -> tuple[Path, GenerateReport]:
    d = tmp_path_factory.mktemp("medium")
    return d, generate_cohort(d, 500, 2024, workers=2)


@pytest.fixture(scope="module")
def medium_res(medium) -> dict[str, list[dict]]:
    return _resources(medium[0])


def test_writes_one_file_per_resource_type(small):
    d, report = small
    assert sorted(p.name for p in d.iterdir()) == sorted(f"{t}.ndjson" for t in RESOURCE_TYPES)
    assert set(report.files) == {f"{t}.ndjson" for t in RESOURCE_TYPES}
    for name, n in report.files.items():
        assert len((d / name).read_bytes().splitlines()) == n
    assert report.resources == sum(report.files.values())
    assert report.files["Patient.ndjson"] == 60
    assert (
        report.patients == 60
        and report.seed == 123
        and report.seconds > 0
        and report.patients_per_s > 0
    )


def test_same_seed_is_byte_identical(small, tmp_path):
    generate_cohort(tmp_path, 60, 123)
    assert _files(tmp_path) == _files(small[0])


def test_workers_and_chunking_do_not_change_output(tmp_path, monkeypatch):
    monkeypatch.setattr(generator, "CHUNK_PATIENTS", 15)
    generate_cohort(tmp_path / "w1", 70, 5, workers=1)
    generate_cohort(tmp_path / "w2", 70, 5, workers=2)
    generate_cohort(tmp_path / "w2gz", 70, 5, workers=2, gzip=True)
    generate_cohort(tmp_path / "w1gz", 70, 5, workers=1, gzip=True)
    assert _files(tmp_path / "w1") == _files(tmp_path / "w2")
    assert _files(tmp_path / "w1gz") == _files(tmp_path / "w2gz")
    monkeypatch.setattr(generator, "CHUNK_PATIENTS", 200)
    generate_cohort(tmp_path / "big_chunks", 70, 5)
    assert _files(tmp_path / "big_chunks") == _files(tmp_path / "w1")


def test_prefix_stability(small, tmp_path):
    """Patient i does not depend on the cohort size: a smaller cohort is a prefix of a larger one."""
    generate_cohort(tmp_path, 25, 123)
    big = (small[0] / "Patient.ndjson").read_bytes().splitlines()
    assert (tmp_path / "Patient.ndjson").read_bytes().splitlines() == big[:25]


def test_different_seed_differs(small, tmp_path):
    generate_cohort(tmp_path, 60, 124)
    other, mine = _files(tmp_path), _files(small[0])
    for t in ("Patient", "Encounter", "Observation", "DocumentReference", "Practitioner"):
        assert other[f"{t}.ndjson"] != mine[f"{t}.ndjson"]


def test_progress_reports_every_patient(tmp_path, monkeypatch):
    monkeypatch.setattr(generator, "CHUNK_PATIENTS", 10)
    seen: list[int] = []
    generate_cohort(tmp_path, 35, 1, progress=seen.append)
    assert sum(seen) == 35 and len(seen) == 4


def test_every_line_is_a_fhir_resource_with_unique_id(small):
    d, _ = small
    for t in RESOURCE_TYPES:
        raw = (d / f"{t}.ndjson").read_bytes()
        assert raw.endswith(b"\n")
        ids = set()
        for line in raw.splitlines():
            r = orjson.loads(line)
            assert r["resourceType"] == t
            assert re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", r["id"])
            assert r["id"] not in ids
            ids.add(r["id"])
            assert orjson.dumps(r) == line  # compact, no trailing spaces


def _references(obj, out: list[str]) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "reference" and isinstance(v, str):
                out.append(v)
            else:
                _references(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _references(v, out)


def test_every_reference_resolves(medium_res):
    ids = {t: {r["id"] for r in rs} for t, rs in medium_res.items()}
    refs: list[str] = []
    for rs in medium_res.values():
        for r in rs:
            _references(r, refs)
    assert len(refs) > 10_000
    for ref in refs:
        t, _, rid = ref.partition("/")
        assert t in ids, ref
        assert rid in ids[t], ref


def test_patients_carry_identifiers_and_demographics(medium_res):
    for p in medium_res["Patient"]:
        ident = {i["type"]["coding"][0]["code"]: i for i in p["identifier"]}
        mrn = ident["MR"]
        assert mrn["system"] == "urn:oid:2.16.840.1.113883.19.5.99999.1" and mrn["use"] == "usual"
        assert re.fullmatch(r"MRN\d{8}", mrn["value"])
        assert ident["SS"]["system"] == "http://hl7.org/fhir/sid/us-ssn"
        assert re.fullmatch(r"\d{3}-\d{2}-\d{4}", ident["SS"]["value"])
        name = p["name"][0]
        assert name["use"] == "official" and name["family"] and name["given"] and name["prefix"]
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", p["birthDate"])
        addr = p["address"][0]
        assert addr["line"] and addr["city"] and addr["state"] and addr["country"] == "US"
        assert re.fullmatch(r"\d{5}", addr["postalCode"])
        assert any(t["system"] == "phone" for t in p["telecom"])
        assert any(t["system"] == "email" for t in p["telecom"])
        urls = {e["url"] for e in p["extension"]}
        assert "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race" in urls
        contact = p["contact"][0]
        assert (
            contact["relationship"][0]["text"] and contact["name"]["family"] and contact["telecom"]
        )
    mrns = [p["identifier"][0]["value"] for p in medium_res["Patient"]]
    assert len(set(mrns)) == len(mrns)


def test_deidentification_edge_cases_present(medium_res):
    pts = medium_res["Patient"]
    assert any(p["address"][0]["postalCode"][:3] in RESTRICTED_ZIP3 for p in pts)
    assert any(datetime.fromisoformat(p["birthDate"]).year <= 2026 - 91 for p in pts)  # aged > 89
    assert any("deceasedDateTime" in p for p in pts)


def test_shapes_of_clinical_resources(medium_res):
    classes = {e["class"]["code"] for e in medium_res["Encounter"]}
    assert classes == {"AMB", "EMER", "IMP"}
    imp = [e for e in medium_res["Encounter"] if e["class"]["code"] == "IMP"]
    assert {e["priority"]["coding"][0]["code"] for e in imp} >= {"EL", "EM"}
    dispositions = {e["hospitalization"]["dischargeDisposition"]["coding"][0]["code"] for e in imp}
    assert {"home", "snf", "other-hcf"} <= dispositions
    for e in medium_res["Encounter"]:
        start = datetime.fromisoformat(e["period"]["start"])
        end = datetime.fromisoformat(e["period"]["end"])
        assert start <= end < REF
        assert e["serviceProvider"]["reference"].startswith("Organization/")
        assert e["location"][0]["location"]["reference"].startswith("Location/")
        assert e["participant"][0]["individual"]["reference"].startswith("Practitioner/")
    loincs = {o["code"]["coding"][0]["code"] for o in medium_res["Observation"]}
    assert {
        "4548-4",
        "2345-7",
        "2160-0",
        "718-7",
        "6690-2",
        "2951-2",
        "2823-3",
        "30934-4",
        "8867-4",
        "8480-6",
        "8462-4",
        "39156-5",
    } <= loincs
    for o in medium_res["Observation"][:2000]:
        q = o["valueQuantity"]
        assert isinstance(q["value"], (int, float)) and q["system"] == "http://unitsofmeasure.org"
        assert o["category"][0]["coding"][0]["code"] in ("laboratory", "vital-signs")
    systems = {c["system"] for cond in medium_res["Condition"] for c in cond["code"]["coding"]}
    assert systems == {"http://snomed.info/sct", "http://hl7.org/fhir/sid/icd-10-cm"}
    for m in medium_res["MedicationRequest"][:500]:
        assert (
            m["medicationCodeableConcept"]["coding"][0]["system"]
            == "http://www.nlm.nih.gov/research/umls/rxnorm"
        )
        assert m["intent"] == "order" and m["dosageInstruction"][0]["text"]
    assert {m["status"] for m in medium_res["MedicationRequest"]} >= {
        "active",
        "completed",
        "stopped",
    }
    for pr in medium_res["Procedure"]:
        assert "performedDateTime" in pr or "performedPeriod" in pr
    for pr in medium_res["Practitioner"]:
        npi = pr["identifier"][0]
        assert npi["system"] == "http://hl7.org/fhir/sid/us-npi" and re.fullmatch(
            r"\d{10}", npi["value"]
        )
        assert pr["name"][0]["prefix"] == ["Dr."]


def _note(doc: dict) -> str:
    att = doc["content"][0]["attachment"]
    assert att["contentType"] == "text/plain; charset=utf-8"
    return base64.b64decode(att["data"]).decode("utf-8")


def test_notes_decode_and_carry_phi(medium_res):
    patients = {p["id"]: p for p in medium_res["Patient"]}
    docs = medium_res["DocumentReference"]
    summaries = [d for d in docs if d["type"]["coding"][0]["code"] == "18842-5"]
    progress = [d for d in docs if d["type"]["coding"][0]["code"] == "11506-3"]
    assert summaries and progress
    with_family = with_mrn = 0
    for d in summaries:
        text = _note(d)
        p = patients[d["subject"]["reference"].split("/")[1]]
        family = p["name"][0]["family"]
        with_family += family.lower() in text.lower()
        with_mrn += p["identifier"][0]["value"] in text
        assert "Dr. " in text or ", MD" in text
    assert with_family >= 0.9 * len(summaries)
    assert with_mrn >= 0.9 * len(summaries)
    texts = [_note(d) for d in summaries]
    assert len(set(texts)) == len(texts)
    joined = "\n".join(texts)
    for phrase in (
        "lives alone",
        "declined home",
        "close follow-up",
        "good family support",
        "adherence",
    ):
        assert phrase in joined.lower(), phrase
    assert all(_note(d) for d in progress[:200])


def _readmissions_from_encounters(res: dict[str, list[dict]]) -> tuple[int, int]:
    """Recompute the 30-day readmission label from the Encounter resources alone."""
    stays = defaultdict(list)
    for e in res["Encounter"]:
        if e["class"]["code"] == "IMP":
            stays[e["subject"]["reference"]].append(e)
    discharges = readmits = 0
    for es in stays.values():
        es.sort(key=lambda e: e["period"]["start"])
        for i, e in enumerate(es):
            if e["hospitalization"]["dischargeDisposition"]["coding"][0]["code"] == "exp":
                continue
            discharges += 1
            end = datetime.fromisoformat(e["period"]["end"])
            for nxt in es[i + 1 :]:
                start = datetime.fromisoformat(nxt["period"]["start"])
                if start - end > timedelta(days=30):
                    break
                if start >= end and nxt["priority"]["coding"][0]["code"] != "EL":
                    readmits += 1
                    break
    return discharges, readmits


def test_readmission_rate_is_calibrated_and_emerges_from_encounters(medium, medium_res):
    _, report = medium
    assert report.inpatient_discharges > 100
    assert 0.08 <= report.readmission_rate <= 0.25
    assert _readmissions_from_encounters(medium_res) == (
        report.inpatient_discharges,
        report.readmissions_30d,
    )


def test_gzip_output_decompresses_to_plain_output(small, tmp_path):
    report = generate_cohort(tmp_path, 60, 123, gzip=True)
    plain = _files(small[0])
    assert set(report.files) == {f"{t}.ndjson.gz" for t in RESOURCE_TYPES}
    for t in RESOURCE_TYPES:
        raw = (tmp_path / f"{t}.ndjson.gz").read_bytes()
        assert raw[:3] == b"\x1f\x8b\x08"
        assert raw[4:8] == b"\x00\x00\x00\x00"  # mtime 0
        assert not raw[3] & 0x08  # no file name in the header
        assert gzip.decompress(raw) == plain[f"{t}.ndjson"]
