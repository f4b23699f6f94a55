"""When the Ray report callback reports: its pacing decisions, driven by a plain Lightning trainer.

Ray's own ``RayTrainReportCallback`` (which needs a running Ray Train worker) is replaced by a recorder of
the epochs it would report; the Ray Train integration tests run the real one."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping
from ray.train.lightning import RayTrainReportCallback

from training.fit import FitConfig, build
from training.ray_train import _report_callback
from training.synthetic import synthetic_training_set

CONFIG = FitConfig(
    batch_size=128, tabular_hidden=(8,), note_hidden=(4,), fusion_hidden=(4,), seed=0
)


@pytest.fixture
def reported(monkeypatch) -> list[int]:
    epochs: list[int] = []
    monkeypatch.setattr(RayTrainReportCallback, "__init__", lambda self, **kwargs: None)
    monkeypatch.setattr(
        RayTrainReportCallback,
        "on_train_epoch_end",
        lambda self, trainer, pl_module: epochs.append(trainer.current_epoch),
    )
    return epochs


class StopAfter(Callback):
    """Stops the fit in its own epoch-end hook, after the report's (as Lightning's Timer would)."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch:
            trainer.should_stop = True


def _fit(interval_s: float, max_epochs: int, *extra: Callback) -> None:
    """``extra`` callbacks run after the report's own epoch-end hook."""
    torch.set_num_threads(1)
    datamodule, model = build(synthetic_training_set(n=300, seed=0), "readmission_30d", CONFIG)
    trainer = L.Trainer(
        max_epochs=max_epochs,
        callbacks=[_report_callback("sync", interval_s), *extra],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    trainer.fit(model, datamodule=datamodule)


def test_every_epoch_with_no_interval(reported):
    _fit(0, 3)
    assert reported == [0, 1, 2]


def test_only_the_last_epoch_when_the_run_is_shorter_than_the_interval(reported):
    _fit(3600, 3)
    assert reported == [2]


def test_the_epoch_early_stopping_ends_on(reported):
    # patience 0, mode "min": stops at the first epoch whose validation AUROC is not below the best so far
    stopper = EarlyStopping("val_auroc", mode="min", patience=0, check_on_train_epoch_end=False)
    _fit(3600, 50, stopper)
    assert len(reported) == 1 and reported[0] == stopper.stopped_epoch < 49


def test_a_stop_decided_after_the_report_still_reports_that_epoch(reported):
    _fit(3600, 10, StopAfter(1))
    assert reported == [1]
