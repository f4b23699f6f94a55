"""Ray Train vs plain Lightning on the same data, same model, same epochs, in the same run (CPU).

Run with `make bench` (not part of the default test run). Writes benchmarks/results/training.json.

Baselines: ``training.fit.fit_local`` (one process, Lightning, torch using every core), timed two ways:
warm (in this process, best of 3: its first run paid the process's first-call costs) and fresh (each run in
a new interpreter, as each Ray run's workers are, best of 3). Candidate: ``training.ray_train.fit_ray``
(Ray Train V2 TorchTrainer, 2 DDP workers of one core each, the platform's default checkpoint interval),
best of 3. Every training time is the same clock: from Lightning's ``on_fit_start`` to the end of the last
epoch (Ray: in rank 0). Reported separately: ``ray.init`` (Ray's start-up) and the rest of the
TorchTrainer's wall time (worker group start, data read in each worker, the final checkpoint report,
teardown). Data: the default demo cohort's readmission training set (a real `pipeline run` of 1,000
patients into a temporary home) and a 20,000-row synthetic training set of the same contract, where fixed
costs weigh less. Early stopping is off (patience > epochs) so every side runs the same number of epochs.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lakehouse.delta import DeltaRef, current_version, write
from tests.benchmarks.fit_clock import Clock
from training.fit import FitConfig, fit_local
from training.ray_train import CHECKPOINT_INTERVAL_S, HEALTH_CHECK_INTERVAL_S, RayScaling, fit_ray
from training.synthetic import synthetic_training_set

pytestmark = pytest.mark.benchmark

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "results"
EPOCHS = int(os.environ.get("BENCH_TRAIN_EPOCHS", "5"))
PLAIN_RUNS = int(os.environ.get("BENCH_TRAIN_PLAIN_RUNS", "3"))
RAY_RUNS = int(os.environ.get("BENCH_TRAIN_RAY_RUNS", "3"))


def _demo_training_set(home: Path) -> DeltaRef:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLINICAL_MLOPS_", "DAGSTER_"))}
    env["CLINICAL_MLOPS_TRAIN_MAX_EPOCHS"] = "1"
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
    uri = str(home / "gold" / "training_set_readmission_30d")
    return DeltaRef(table="training_set_readmission_30d", uri=uri, version=current_version(uri))


FRESH = """
import json, sys, torch
from tests.benchmarks.fit_clock import Clock
from training.fit import FitConfig, fit_local
torch.set_num_threads(int(sys.argv[4]))
clock = Clock()
fit = fit_local(sys.argv[1], "readmission_30d", FitConfig.from_dict(json.loads(sys.argv[3])), version=int(sys.argv[2]),
                callbacks=[clock])
print(json.dumps({"train_s": clock.seconds, "trainer_fit_s": fit.train_time_s}))
"""


def _plain_fresh(ref: DeltaRef, config: FitConfig) -> dict:
    """One plain Lightning fit in a new interpreter (imports done before the clock starts)."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            FRESH,
            ref.uri,
            str(ref.version),
            json.dumps(config.to_dict()),
            str(os.cpu_count() or 1),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _plain_warm(ref: DeltaRef, config: FitConfig) -> tuple[float, object]:
    clock = Clock()
    fit = fit_local(ref.uri, "readmission_30d", config, version=ref.version, callbacks=[clock])
    return clock.seconds, fit


def _compare(name: str, ref: DeltaRef, storage: Path, config: FitConfig) -> dict:
    """Plain Lightning best of ``PLAIN_RUNS`` (warm and fresh), Ray Train best of ``RAY_RUNS``."""
    torch.set_num_threads(os.cpu_count() or 1)
    warm = [_plain_warm(ref, config) for _ in range(PLAIN_RUNS)]
    fresh = [_plain_fresh(ref, config)["train_s"] for _ in range(PLAIN_RUNS)]
    rays = [
        fit_ray(
            ref.uri,
            ref.version,
            "readmission_30d",
            config,
            scaling=RayScaling(num_workers=2, use_gpu=False),
            storage_path=storage,
            run_name=f"bench-{name}-{int(time.time())}-{i}",
        )
        for i in range(RAY_RUNS)
    ]
    plain_s, plain = min(warm, key=lambda run: run[0])
    fresh_s = min(fresh)
    ray = min(rays, key=lambda fit: fit.worker_train_s)
    rows = plain.data.get("train", {}).get("rows")
    return {
        "train_rows": rows,
        "epochs": EPOCHS,
        "plain_lightning": {
            "train_s": round(plain_s, 3),
            "trainer_fit_s": round(plain.train_time_s, 3),
            "runs_train_s": [round(run[0], 3) for run in warm],
            "fresh_process_train_s": round(fresh_s, 3),
            "fresh_process_runs_train_s": [round(t, 3) for t in fresh],
            "best_val_auroc": round(plain.best_val_auroc, 4),
            "torch_threads": torch.get_num_threads(),
        },
        "ray_train": {
            "ray_init_s": round(ray.ray_start_s, 2),
            "trainer_fit_s": round(ray.fit_s, 2),
            "worker_setup_s": round(ray.worker_setup_s, 2),
            "worker_train_s": round(ray.worker_train_s, 3),
            "runs_worker_train_s": [round(fit.worker_train_s, 3) for fit in rays],
            "startup_s": round(ray.ray_start_s + ray.fit_s - ray.worker_train_s, 2),
            "wall_s": round(ray.wall_s, 2),
            "workers": ray.num_workers,
            "controller_poll_s": HEALTH_CHECK_INTERVAL_S,
            "checkpoint_interval_s": CHECKPOINT_INTERVAL_S,
            "best_val_auroc": round(ray.best_val_auroc, 4),
        },
        # Ray's training (rank 0) against plain Lightning's, on the same clock; start-up (ray.init, controller,
        # worker processes and imports, data read, final checkpoint report, teardown) reported apart
        "overhead_training_only": round(ray.worker_train_s / plain_s - 1, 3),
        "overhead_vs_fresh_process": round(ray.worker_train_s / fresh_s - 1, 3),
        "overhead_vs_plain_training": round(ray.fit_s / plain_s - 1, 3),
        "overhead_incl_ray_init": round((ray.fit_s + ray.ray_start_s) / plain_s - 1, 3),
        "target_overhead": 0.2,
    }


def test_ray_train_overhead_over_plain_lightning(tmp_path):
    config = FitConfig(max_epochs=EPOCHS, patience=EPOCHS + 1, batch_size=64)
    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "torch": torch.__version__,
            "gpu": torch.cuda.is_available(),
        },
        "config": config.to_dict(),
    }
    demo = _demo_training_set(tmp_path / "demo")
    results["default_cohort"] = _compare("demo", demo, tmp_path / "ray", config)
    synthetic = write(
        str(tmp_path / "synthetic"), synthetic_training_set(n=20_000, seed=0).to_arrow()
    )
    results["synthetic_20k"] = _compare("synthetic", synthetic, tmp_path / "ray", config)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "training.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))
    for case in ("default_cohort", "synthetic_20k"):
        assert (
            results[case]["ray_train"]["trainer_fit_s"] > 0
            and results[case]["plain_lightning"]["train_s"] > 0
        )
