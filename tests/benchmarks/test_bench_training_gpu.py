"""Ray Train vs plain Lightning on one GPU: samples/s and GPU utilization, same data, model and epochs.

Markers ``benchmark`` and ``gpu``, skipped where torch sees no CUDA device (never in CI). On a GPU machine:
``pytest -m "benchmark and gpu" tests/benchmarks/test_bench_training_gpu.py -s``; writes
benchmarks/results/training_gpu.json. ``BENCH_GPU_DRY_RUN=1`` runs the same harness on the CPU at a toy size
(nothing written), to check it before spending device time.

Data: a synthetic training set of the readmission contract with 100,100 train rows (143,000 in all). Model:
the risk model with a note tower of three 2,048-wide layers (about 9 million parameters), bf16 mixed
precision, batch 256, ``EPOCHS`` epochs, early stopping off. Baseline: plain Lightning (``fit_local``) on the
GPU. Candidate: ``fit_ray`` with one GPU worker (Ray Train V2, RayDDPStrategy, the platform's checkpoint
interval). Training time is the same clock on both sides (``on_fit_start`` to the end of the last epoch,
validation included); samples/s = train rows x epochs / that time. GPU utilization and memory: NVML,
sampled every 0.1 s during each fit (mean and peak utilization, peak memory). Target: Ray's overhead at
most 10%.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest
import torch

from lakehouse.delta import write
from tests.benchmarks.fit_clock import Clock
from training.fit import FitConfig, fit_local
from training.ray_train import RayScaling, fit_ray
from training.synthetic import synthetic_training_set

DRY_RUN = os.environ.get("BENCH_GPU_DRY_RUN") == "1"
pytestmark = [
    pytest.mark.benchmark,
    pytest.mark.gpu,
    pytest.mark.skipif(not (DRY_RUN or torch.cuda.is_available()), reason="needs a CUDA device"),
]

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
EPOCHS = int(os.environ.get("BENCH_GPU_EPOCHS", "1" if DRY_RUN else "3"))
ROWS = 3_000 if DRY_RUN else 143_000
NOTE_HIDDEN = (64,) if DRY_RUN else (2048, 2048, 2048)


class GpuSampler:
    """NVML utilization and memory of device 0, every ``interval_s`` while in the ``with`` block."""

    def __init__(self, interval_s: float = 0.1):
        self.interval_s, self.utilization, self.memory = interval_s, [], []
        self._stop = threading.Event()

    def __enter__(self) -> GpuSampler:
        if not DRY_RUN:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)

            def sample() -> None:
                while not self._stop.wait(self.interval_s):
                    self.utilization.append(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)
                    self.memory.append(pynvml.nvmlDeviceGetMemoryInfo(handle).used)

            self._thread = threading.Thread(target=sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if not DRY_RUN:
            self._thread.join()

    def summary(self) -> dict:
        if not self.utilization:
            return {}
        return {
            "gpu_util_mean_pct": round(sum(self.utilization) / len(self.utilization), 1),
            "gpu_util_max_pct": max(self.utilization),
            "gpu_memory_max_gib": round(max(self.memory) / 2**30, 2),
            "samples": len(self.utilization),
        }


def test_ray_train_overhead_on_one_gpu(tmp_path):
    frame = synthetic_training_set(n=ROWS, seed=0)
    ref = write(str(tmp_path / "training_set"), frame.to_arrow())
    train_rows = int((frame["split"] == "train").sum())
    config = FitConfig(
        max_epochs=EPOCHS,
        patience=EPOCHS + 1,
        batch_size=256,
        note_hidden=NOTE_HIDDEN,
        precision="32-true" if DRY_RUN else "bf16-mixed",
        accelerator="cpu" if DRY_RUN else "gpu",
    )
    clock = Clock()
    with GpuSampler() as plain_gpu:
        plain = fit_local(
            ref.uri, "readmission_30d", config, version=ref.version, callbacks=[clock]
        )
    plain_s = clock.seconds
    with GpuSampler() as ray_gpu:
        ray = fit_ray(
            ref.uri,
            ref.version,
            "readmission_30d",
            config,
            scaling=RayScaling(num_workers=1, use_gpu=not DRY_RUN),
            storage_path=tmp_path / "ray",
            run_name="bench-gpu",
        )
    parameters = sum(p.numel() for p in plain.model.parameters())
    results = {
        "device": "cpu (dry run)" if DRY_RUN else torch.cuda.get_device_name(0),
        "torch": torch.__version__,
        "train_rows": train_rows,
        "epochs": EPOCHS,
        "parameters": parameters,
        "config": config.to_dict(),
        "plain_lightning": {
            "train_s": round(plain_s, 2),
            "samples_per_s": round(train_rows * EPOCHS / plain_s),
            "best_val_auroc": round(plain.best_val_auroc, 4),
            **plain_gpu.summary(),
        },
        "ray_train": {
            "train_s": round(ray.worker_train_s, 2),
            "samples_per_s": round(train_rows * EPOCHS / ray.worker_train_s),
            "on_gpu": ray.extra["worker_on_gpu"],
            "precision": ray.precision,
            "ray_init_s": round(ray.ray_start_s, 2),
            "startup_s": round(ray.ray_start_s + ray.fit_s - ray.worker_train_s, 2),
            "best_val_auroc": round(ray.best_val_auroc, 4),
            **ray_gpu.summary(),
        },
        "overhead": round(ray.worker_train_s / plain_s - 1, 3),
        "target_overhead": 0.1,
    }
    print(json.dumps(results, indent=2))
    if not DRY_RUN:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "training_gpu.json").write_text(json.dumps(results, indent=2))
        assert ray.extra["worker_on_gpu"] and ray.precision == "bf16-mixed"
    assert plain_s > 0 and ray.worker_train_s > 0
