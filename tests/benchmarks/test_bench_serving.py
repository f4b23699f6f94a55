"""Predict-by-id over HTTP on loopback: the BentoML service vs a bare FastAPI endpoint running the same model
and the same Feast lookup (``serving.baseline``, one uvicorn worker), in the same run.

Run with `make bench` (not part of the default test run). Writes benchmarks/results/serving.json.

Data: the demo home (a real `pipeline run` of the default 1,000-patient cohort into a temporary home, with
its champion Bento). Load: closed-loop clients (aiohttp, keep-alive) at 1, 8 and 32 concurrent clients,
each level bounded by a request count and a time limit, cycling over every patient of the served model's
training set; the servers take turns per level so drift on the shared machine hits all of them. Each runs one
worker process. Servers: the baseline; the Bento as built by default (BentoML's access log and Prometheus
metrics on, its OpenTelemetry spans off on the prediction endpoints: ``ServiceArgs.tracing``); the same
without access log and metrics; the same with tracing on (what the spans cost). Targets (issue 6), on the
default Bento: throughput at least 0.8x the baseline's and p99 at most 25 ms at 8 clients. Each level runs
``BENCH_SERVE_ROUNDS`` (3) rounds in which every server takes a turn (rotated order); the figures are each
server's median over its rounds. Every answer must be 200.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest

from tests.benchmarks.loadgen import run_load

pytestmark = pytest.mark.benchmark

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
LEVELS = [int(c) for c in os.environ.get("BENCH_SERVE_CLIENTS", "1,8,32").split(",")]
REQUESTS = int(os.environ.get("BENCH_SERVE_REQUESTS", "2000"))
SECONDS = float(os.environ.get("BENCH_SERVE_SECONDS", "30"))
ROUNDS = int(os.environ.get("BENCH_SERVE_ROUNDS", "3"))


def _demo_home(tmp: Path) -> Path:
    home = (
        Path(os.environ["BENCH_SERVE_HOME"]) if os.environ.get("BENCH_SERVE_HOME") else tmp / "home"
    )
    if not (home / "dagster" / "refs" / "bentos").exists():
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(("CLINICAL_MLOPS_", "DAGSTER_"))
        }
        subprocess.run(
            [
                sys.executable,
                "-m",
                "cli.main",
                "pipeline",
                "run",
                "--home",
                str(home),
                "--no-serve",
                "--json",
            ],
            check=True,
            capture_output=True,
            env=env,
            timeout=1800,
        )
    return home


def _threshold(tags: dict) -> float | None:
    value = tags.get("eval.threshold")
    return float(value) if value not in (None, "", "n/a") else None


def test_bentoml_vs_bare_fastapi_predict_by_id(tmp_path: Path) -> None:
    from cli.main import _bento_refs
    from clinical_mlops.settings import load_settings
    from evaluation.registry import version_tags
    from serving.build import build_bento
    from serving.server import baseline_server, bento_server
    from training.data import read_training_set

    settings = load_settings(home=_demo_home(tmp_path))
    champion = _bento_refs(settings)[0]
    tags = version_tags(settings.tracking_uri, champion.registered_model, champion.model_version)

    # the Bento runs the code packaged into it, the baseline this checkout's: (re)build from this checkout so
    # both serve the same code (a no-op when the champion's Bento already holds it)
    def build(**options) -> str:
        return build_bento(
            champion.registered_model,
            champion.model_version,
            settings=settings,
            threshold=_threshold(tags),
            enforce_ttl=settings.serving_enforces_ttl,
            **options,
        )

    bento = champion.model_copy(update={"tag": build()})
    # the same service without BentoML's access log and Prometheus metrics, and with BentoML's OpenTelemetry
    # spans on the prediction endpoints (off by default, ServiceArgs.tracing): what each costs per request
    lean = build(access_log=False, metrics=False)
    traced = build(tracing=True)
    patients = (
        read_training_set(
            tags["lineage.training_set.uri"],
            int(tags["lineage.training_set.version"]),
            columns=["patient_id"],
        )["patient_id"]
        .unique()
        .sort()
        .to_list()
    )
    bodies = [orjson.dumps({"patient_id": p}) for p in patients]

    results: dict[str, dict[str, dict]] = {
        "bentoml": {},
        "bentoml_no_access_log_no_metrics": {},
        "bentoml_with_tracing": {},
        "fastapi_baseline": {},
    }
    with (
        bento_server(bento.tag, settings=settings, log_path=tmp_path / "bento.log") as bento_srv,
        bento_server(lean, settings=settings, log_path=tmp_path / "lean.log") as lean_srv,
        bento_server(traced, settings=settings, log_path=tmp_path / "traced.log") as traced_srv,
        baseline_server(
            bento.tag, settings=settings, log_path=tmp_path / "baseline.log"
        ) as base_srv,
    ):
        servers = [
            ("fastapi_baseline", base_srv),
            ("bentoml", bento_srv),
            ("bentoml_no_access_log_no_metrics", lean_srv),
            ("bentoml_with_tracing", traced_srv),
        ]
        for clients in LEVELS:
            rounds: dict[str, list[dict]] = {name: [] for name, _ in servers}
            for r in range(ROUNDS):  # the servers take turns, in a rotated order each round
                for name, server in servers[r % len(servers) :] + servers[: r % len(servers)]:
                    result = run_load(
                        f"{server.url}/predict_by_id",
                        bodies,
                        clients=clients,
                        requests=REQUESTS,
                        seconds=SECONDS,
                    )
                    assert result.errors == 0, f"{name} answered errors at {clients} clients"
                    rounds[name].append(result.to_dict())
                    print(
                        f"{name:32s} {clients:3d} clients, round {r + 1}: {result.throughput_rps:7.1f} req/s, p50 "
                        f"{result.p50_ms:6.2f} ms, p99 {result.p99_ms:6.2f} ms ({result.requests} requests)"
                    )
            for name, runs in rounds.items():
                results[name][str(clients)] = {
                    "clients": clients,
                    **{
                        k: round(float(np.median([run[k] for run in runs])), 2)
                        for k in ("throughput_rps", "p50_ms", "p90_ms", "p99_ms")
                    },
                    "rounds": runs,
                }

    def ratios_of(name: str) -> dict[str, float]:
        return {
            c: round(
                results[name][c]["throughput_rps"]
                / results["fastapi_baseline"][c]["throughput_rps"],
                3,
            )
            for c in results[name]
        }

    ratios = ratios_of("bentoml")
    at8 = results["bentoml"].get("8")
    report = {
        "benchmark": (
            "predict_by_id over HTTP on loopback: BentoML service vs bare FastAPI "
            "(same model, same Feast lookup)"
        ),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg": os.getloadavg(),
        },
        "bento": bento.tag,
        "model_version": bento.model_version,
        "online_store": settings.online_store,
        "patients_cycled": len(patients),
        "requests_per_run": REQUESTS,
        "seconds_per_run_at_most": SECONDS,
        "rounds": ROUNDS,
        "figures": "per server and level: the median of its rounds (each round's run is kept)",
        "results": results,
        "throughput_ratio_bentoml_over_baseline": ratios,
        "throughput_ratio_lean_bentoml_over_baseline": ratios_of(
            "bentoml_no_access_log_no_metrics"
        ),
        "throughput_ratio_traced_bentoml_over_baseline": ratios_of("bentoml_with_tracing"),
        "bentoml_defaults": {
            "access_log": True,
            "metrics": True,
            "tracing_of_prediction_endpoints": False,
        },
        "targets": {
            "throughput_ratio_at_least": 0.8,
            "p99_ms_at_8_clients_at_most": 25.0,
            "met_throughput": all(r >= 0.8 for r in ratios.values()),
            "met_p99_at_8": bool(at8 and at8["p99_ms"] <= 25.0),
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "serving.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report["throughput_ratio_bentoml_over_baseline"]), report["targets"])
