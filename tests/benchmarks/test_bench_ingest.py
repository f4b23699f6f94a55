"""Ingestion throughput vs the ceiling of merely reading and JSON-parsing the same files.

Run with `make bench` (not part of the default test run). Writes benchmarks/results/ingest.json.
Baseline ("ceiling"): read each file's bytes, gunzip, and orjson-parse every resource, nothing else,
single process, in the same run. Compared: the full ingestion (parse, type, write Delta, vectorized
path on; best of N, interleaved with the ceiling) and the per-resource path alone (vectorized off,
measured once).
"""

from __future__ import annotations

import gzip
import json
import os
import platform
import shutil
import time
from pathlib import Path

import orjson
import pytest

from ingestion.ingest import ingest_snapshot
from ingestion.landing import take_snapshot
from ingestion.sources import is_ndjson

pytestmark = pytest.mark.benchmark

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results"
REPEATS = 3


def read_and_parse(snapshot) -> int:
    """The ceiling: bytes -> (gunzip) -> orjson for every resource."""
    resources = 0
    for entry in snapshot.files:
        data = (Path(snapshot.root) / entry.path).read_bytes()
        if entry.path.endswith(".gz"):
            data = gzip.decompress(data)
        if is_ndjson(entry.path):
            for line in data.split(b"\n"):
                if line.strip():
                    orjson.loads(line)
                    resources += 1
        else:
            doc = orjson.loads(data)
            resources += len(doc.get("entry") or ()) if doc.get("resourceType") == "Bundle" else 1
    return resources


def measure(landing: Path, tmp: Path) -> dict:
    snapshot = take_snapshot(landing)
    best = {
        "ceiling": float("inf"),
        "ingest": float("inf"),
        "ingest_per_resource_path": float("inf"),
    }
    resources = read = 0
    for repeat in range(REPEATS):
        started = time.perf_counter()
        resources = read_and_parse(snapshot)
        best["ceiling"] = min(best["ceiling"], time.perf_counter() - started)
        paths = (
            (("ingest", True), ("ingest_per_resource_path", False))
            if repeat == 0
            else (("ingest", True),)
        )
        for name, vectorized in paths:  # the slow per-resource path is measured once
            bronze = tmp / f"bronze-{name}"
            shutil.rmtree(bronze, ignore_errors=True)
            started = time.perf_counter()
            report = ingest_snapshot(snapshot, bronze, vectorized=vectorized)
            best[name] = min(best[name], time.perf_counter() - started)
            read = report.totals.read
    assert read == resources, f"ingestion read {read} resources, the ceiling parsed {resources}"
    return {
        "landing": str(landing),
        "files": len(snapshot.files),
        "bytes": snapshot.total_bytes,
        "resources": resources,
        "seconds": {k: round(v, 3) for k, v in best.items()},
        "resources_per_s": {k: round(resources / v, 1) for k, v in best.items()},
        "ratio_to_ceiling": {
            k: round(best["ceiling"] / v, 3) for k, v in best.items() if k != "ceiling"
        },
    }


def test_ingest_throughput(tmp_path: Path) -> None:
    results = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "repeats": REPEATS,
        "datasets": {},
    }
    if (SHARED / "mimic-iv-fhir-demo-2.1.0").is_dir():
        results["datasets"]["mimic_demo"] = measure(SHARED / "mimic-iv-fhir-demo-2.1.0", tmp_path)
    from cohort.generator import generate_cohort

    cohort_dir = tmp_path / "cohort10k"
    gen = generate_cohort(cohort_dir, 10_000, 7, gzip=True, workers=2)
    results["datasets"]["generated_10k"] = {
        **measure(cohort_dir, tmp_path),
        "generator_patients_per_s": gen.patients_per_s,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ingest.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    for name, data in results["datasets"].items():
        assert data["ratio_to_ceiling"]["ingest"] > 0, name
