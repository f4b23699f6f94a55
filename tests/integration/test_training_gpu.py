"""Training on a CUDA device: Ray Train and plain Lightning put the model on the GPU by themselves, in bf16.

Marked ``gpu`` (the default test command deselects it) and skipped where torch sees no CUDA device; the
CPU paths are covered by test_training_ray.py. On a GPU machine: ``pytest -m gpu tests/integration``.
"""

from __future__ import annotations

from dataclasses import replace

import polars as pl
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from lakehouse.delta import write
from training.fit import FitConfig, fit_local
from training.ray_train import RayScaling, fit_ray
from training.synthetic import synthetic_training_set

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.slow,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
CONFIG = FitConfig(max_epochs=3, patience=10, batch_size=256)


class Placement(Callback):
    device = precision = None

    def on_train_start(self, trainer, pl_module) -> None:
        self.device, self.precision = pl_module.device.type, trainer.precision


def test_ray_train_trains_on_the_gpu_in_bf16(tmp_path):
    frame = synthetic_training_set(n=4000, seed=5)
    ref = write(str(tmp_path / "training_set"), frame.to_arrow())
    fit = fit_ray(
        ref.uri,
        ref.version,
        "readmission_30d",
        CONFIG,
        scaling=RayScaling(num_workers=1),
        storage_path=tmp_path / "ray",
        run_name="gpu",
    )
    assert fit.use_gpu and fit.extra["worker_on_gpu"] and fit.precision == "bf16-mixed"
    assert fit.best_val_auroc > 0.7
    # the best weights come back on the CPU and score raw rows there
    assert next(fit.model.parameters()).device.type == "cpu"
    probs = fit.model.predict_raw(frame.filter(pl.col("split") == "test").head(50))
    assert probs.shape == (50,) and ((probs >= 0) & (probs <= 1)).all()


def test_plain_lightning_trains_on_the_gpu():
    placement = Placement()
    config = replace(CONFIG, precision="bf16-mixed")
    fit = fit_local(
        synthetic_training_set(n=4000, seed=5), "readmission_30d", config, callbacks=[placement]
    )
    assert placement.device == "cuda" and placement.precision == "bf16-mixed"
    assert fit.best_val_auroc > 0.7
