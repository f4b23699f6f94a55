"""The Spark engine against the local engine (the named baseline), landing -> bronze -> silver, same snapshot.

Run with `make bench` (not part of the default test run); sizes from BENCH_SPARK_PATIENTS (comma-separated,
default "10000,100000"). Writes benchmarks/results/spark_engine.json after each size (keeping other sizes measured
earlier with the same master on the same number of cores), with the seconds of each
phase, the ratio spark/local, and the crossover: the cohort size from which Spark is faster, measured when a
size shows it, else extrapolated from a straight line (fixed cost + cost per patient) through the measured
sizes of each engine. BENCH_SPARK_LOCAL_MAX_PATIENTS skips the local engine above a size (on 24 GiB it does not
fit at 100,000 patients: it holds a snapshot's parsed resources in memory). Spark runs local[N] on this
machine's cores (SPARK_BENCH_MASTER to change), so the
figures say what one machine gains, not what a cluster gains: there, Spark's per-patient cost divides by the
executors while the local engine's cannot.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cohort.generator import generate_cohort
from deid.keys import DeidKey
from deid.notes import NoteDeidentifier
from deid.policy import DeidPolicy
from deid.silver import build_silver
from deid.spark import build_silver_spark
from deid.structured import SPECS
from ingestion.ingest import ingest_snapshot
from ingestion.landing import take_snapshot
from ingestion.spark import ingest_snapshot_spark
from lakehouse.delta import DeltaRef, current_version
from lakehouse.spark import spark_session

pytestmark = [pytest.mark.benchmark, pytest.mark.spark]

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "spark_engine.json"
KEY = DeidKey(b"b" * 32, "bench")
AS_OF = datetime(2026, 1, 1, tzinfo=UTC)


def _refs(zone: Path) -> dict[str, DeltaRef]:
    return {
        n: DeltaRef(table=n, uri=str(zone / n), version=current_version(str(zone / n)))
        for n in SPECS
    }


def _line(points: list[tuple[int, float]]) -> tuple[float, float]:
    """Least-squares fixed cost and cost per patient."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / var if var else 0.0
    return mean_y - slope * mean_x, slope


def crossover(sizes: list[dict]) -> dict:
    sizes = [s for s in sizes if "local_total_s" in s]  # both engines measured
    measured = [s["patients"] for s in sizes if s["spark_total_s"] < s["local_total_s"]]
    if measured:
        return {"patients": min(measured), "how": "measured"}
    if len(sizes) < 2:
        return {"patients": None, "how": "needs two sizes to extrapolate"}
    local = _line([(s["patients"], s["local_total_s"]) for s in sizes])
    spark = _line([(s["patients"], s["spark_total_s"]) for s in sizes])
    fit = {
        "local_fixed_s": round(local[0], 2),
        "local_s_per_1000_patients": round(local[1] * 1000, 3),
        "spark_fixed_s": round(spark[0], 2),
        "spark_s_per_1000_patients": round(spark[1] * 1000, 3),
    }
    if spark[1] >= local[1]:
        return {
            "patients": None,
            "how": "extrapolated: none on this machine, Spark's cost per patient is not lower",
            **fit,
        }
    return {
        "patients": int((spark[0] - local[0]) / (local[1] - spark[1])),
        "how": "extrapolated",
        **fit,
    }


def measure(patients: int, work: Path, spark, policy: DeidPolicy) -> dict:
    landing = work / "landing"
    started = time.perf_counter()
    generate_cohort(landing, patients, 11, gzip=True, workers=os.cpu_count() or 1)
    generated = time.perf_counter() - started
    snapshot = take_snapshot(landing)
    now = datetime.now(UTC)
    deid = NoteDeidentifier(KEY, policy)

    local_max = int(os.environ.get("BENCH_SPARK_LOCAL_MAX_PATIENTS", "0") or 0)
    run_local = not local_max or patients <= local_max
    if run_local:
        started = time.perf_counter()
        local_ingest = ingest_snapshot(snapshot, work / "local" / "bronze", now=now)
        local_ingest_s = time.perf_counter() - started
        started = time.perf_counter()
        local_silver = build_silver(
            _refs(work / "local" / "bronze"),
            work / "local" / "silver",
            key=KEY,
            policy=policy,
            text_deidentifier=deid,
            workers=os.cpu_count() or 1,
        )
        local_silver_s = time.perf_counter() - started

    started = time.perf_counter()
    spark_ingest = ingest_snapshot_spark(
        snapshot, work / "spark" / "bronze", spark, staging_root=work / "staging", now=now
    )
    spark_ingest_s = time.perf_counter() - started
    started = time.perf_counter()
    spark_silver = build_silver_spark(
        _refs(work / "spark" / "bronze"),
        work / "spark" / "silver",
        spark,
        key=KEY,
        policy=policy,
        text_deidentifier=deid,
        as_of=AS_OF,
    )
    spark_silver_s = time.perf_counter() - started

    spark_total = spark_ingest_s + spark_silver_s
    if not run_local:
        return {
            "patients": patients,
            "resources": spark_ingest.totals.read,
            "generate_s": round(generated, 1),
            "local_engine": f"not run (above BENCH_SPARK_LOCAL_MAX_PATIENTS={local_max})",
            "spark_ingest_s": round(spark_ingest_s, 2),
            "spark_silver_s": round(spark_silver_s, 2),
            "spark_total_s": round(spark_total, 2),
            "silver_rows": sum(spark_silver.rows.values()),
            "texts_deidentified": spark_silver.texts,
        }
    assert spark_ingest.totals.read == local_ingest.totals.read
    assert spark_silver.rows == local_silver.rows, "the engines disagree on silver row counts"
    assert spark_silver.replacements == local_silver.replacements
    local_total = local_ingest_s + local_silver_s
    return {
        "patients": patients,
        "resources": local_ingest.totals.read,
        "generate_s": round(generated, 1),
        "local_ingest_s": round(local_ingest_s, 2),
        "spark_ingest_s": round(spark_ingest_s, 2),
        "local_silver_s": round(local_silver_s, 2),
        "spark_silver_s": round(spark_silver_s, 2),
        "local_total_s": round(local_total, 2),
        "spark_total_s": round(spark_total, 2),
        "spark_over_local": round(spark_total / local_total, 2),
        "silver_rows": sum(local_silver.rows.values()),
        "texts_deidentified": local_silver.texts,
        "silver_rows_equal": True,
    }


def test_spark_engine_against_local(tmp_path_factory) -> None:
    sizes = [
        int(s)
        for s in os.environ.get("BENCH_SPARK_PATIENTS", "10000,100000").split(",")
        if s.strip()
    ]
    master = os.environ.get("SPARK_BENCH_MASTER", f"local[{os.cpu_count() or 1}]")
    policy = DeidPolicy(date_mode="shift")
    started = time.perf_counter()
    spark = spark_session(master, local_dir=tmp_path_factory.mktemp("spark-local"))
    spark.range(1).count()
    startup = time.perf_counter() - started
    results = {
        "baseline": "local engine (Arrow/Polars in process, note de-identification in cpu_count processes)",
        "compared": f"spark engine, master {master}, the same Arrow-batch functions under mapInArrow",
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "spark_session_start_s": round(startup, 2),
        "sizes": [],
    }
    # sizes measured earlier on the same kind of machine and master are kept (a long size can run alone)
    earlier = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if (
        earlier.get("compared") == results["compared"]
        and earlier.get("machine", {}).get("cpus") == os.cpu_count()
    ):
        results["sizes"] = [s for s in earlier.get("sizes", []) if s["patients"] not in sizes]
    try:
        for patients in sizes:
            work = tmp_path_factory.mktemp(f"spark-bench-{patients}")
            measured = measure(patients, work, spark, policy)
            measured["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            results["sizes"] = sorted([*results["sizes"], measured], key=lambda s: s["patients"])
            shutil.rmtree(work, ignore_errors=True)
            results["crossover"] = crossover(results["sizes"])
            RESULTS.parent.mkdir(parents=True, exist_ok=True)
            RESULTS.write_text(json.dumps(results, indent=2) + "\n")
            print(json.dumps(measured))
    finally:
        spark.stop()
    print(json.dumps(results["crossover"]))
