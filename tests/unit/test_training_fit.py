"""Plain-Lightning training end to end on a small synthetic set: it learns, it is deterministic for a seed,
and a saved model (weights_only) reproduces predictions from raw rows."""

from __future__ import annotations

import json

import lightning as L
import numpy as np
import polars as pl
import pytest
import torch

from training.fit import BestWeights, FitConfig, FitResult, fit_local, load_model, save_model
from training.model import RiskModel
from training.synthetic import synthetic_training_set

TASK = "readmission_30d"
CONFIG = FitConfig(max_epochs=3, batch_size=64, lr=3e-3, seed=0, patience=2, accelerator="cpu")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """2-core CI boxes: intra-op threads only add contention for models this small."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def training_set() -> pl.DataFrame:
    return synthetic_training_set(TASK, n=2000, seed=1)


@pytest.fixture(scope="module")
def fitted(training_set: pl.DataFrame) -> FitResult:
    return fit_local(training_set, TASK, CONFIG)


def test_learns_the_synthetic_signal(fitted: FitResult) -> None:
    assert fitted.best_val_auroc > 0.7
    assert fitted.best_val_auroc == max(h["val_auroc"] for h in fitted.history)
    assert {"val_auroc", "val_auprc", "val_loss"} <= set(fitted.history[0])
    assert (
        1 <= len(fitted.history) <= CONFIG.max_epochs
        and fitted.wall_time_s >= fitted.train_time_s > 0
    )
    assert fitted.data["train"]["rows"] == 1400 and not fitted.model.training


def test_best_weights_are_the_ones_returned(fitted: FitResult, training_set: pl.DataFrame) -> None:
    """The returned model scores validation at the recorded best AUROC (not the last epoch's)."""
    from torchmetrics.functional.classification import binary_auroc

    val = training_set.filter(pl.col("split") == "validation")
    probs = torch.from_numpy(fitted.model.predict_raw(val))
    auroc = binary_auroc(probs, torch.tensor(val.get_column("label").to_list()))
    assert auroc.item() == pytest.approx(fitted.best_val_auroc, abs=1e-6)


def test_same_seed_same_model(fitted: FitResult, training_set: pl.DataFrame) -> None:
    again = fit_local(training_set, TASK, CONFIG)
    assert again.history == fitted.history and again.best_val_auroc == fitted.best_val_auroc
    first, second = fitted.model.state_dict(), again.model.state_dict()
    assert first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_save_load_weights_only_reproduces_predict_raw(
    fitted: FitResult, training_set: pl.DataFrame, tmp_path
) -> None:
    path = save_model(fitted.model, tmp_path / "model.pt")
    payload = torch.load(
        path, weights_only=True
    )  # no pickled objects: plain types and tensors only
    json.dumps(payload["hyper_parameters"], allow_nan=False)
    loaded = load_model(path)
    assert isinstance(loaded, RiskModel) and not loaded.training
    rows = training_set.filter(pl.col("split") == "test")
    expected = fitted.model.predict_raw(rows)
    assert np.array_equal(loaded.predict_raw(rows), expected)
    assert expected.dtype == np.float32 and expected.shape == (rows.height,)
    assert ((expected > 0) & (expected < 1)).all()


def test_predict_raw_on_dict_rows_with_a_null_embedding(
    fitted: FitResult, training_set: pl.DataFrame
) -> None:
    rows = (
        training_set.filter(pl.col("split") == "test").head(3).to_dicts()
    )  # keys, label, *_feature_ts: ignored
    rows[0]["note_embedding"] = None
    rows[0]["has_note"] = False
    probs = fitted.model.predict_raw(rows)
    assert probs.shape == (3,) and np.isfinite(probs).all()
    # the other rows do not depend on the first (bit-exactness across batch sizes is not promised by BLAS)
    np.testing.assert_allclose(probs[1:], fitted.model.predict_raw(rows[1:]), rtol=1e-5)
    with pytest.raises(ValueError, match="age_years"):
        fitted.model.predict_raw([{k: v for k, v in rows[1].items() if k != "age_years"}])
    assert fitted.model.predict_raw([]).shape == (0,)


def test_lightning_checkpoint_alone_restores_the_model(
    fitted: FitResult, training_set: pl.DataFrame, tmp_path
) -> None:
    trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    trainer.strategy.connect(fitted.model)
    trainer.save_checkpoint(tmp_path / "last.ckpt", weights_only=True)
    restored = RiskModel.load_from_checkpoint(tmp_path / "last.ckpt", map_location="cpu")
    rows = training_set.filter(pl.col("split") == "validation").to_dicts()
    assert np.array_equal(restored.eval().predict_raw(rows), fitted.model.predict_raw(rows))


def test_best_weights_travel_in_a_lightning_checkpoint(fitted: FitResult, tmp_path) -> None:
    assert BestWeights().state_dict() == {}  # Lightning calls it when any checkpoint is written
    best = BestWeights()
    best.best_score, best.best_epoch, best.history = (
        fitted.best_val_auroc,
        fitted.best_epoch,
        fitted.history,
    )
    best.best_state = {k: v.clone() for k, v in fitted.model.state_dict().items()}
    trainer = L.Trainer(
        logger=False, enable_progress_bar=False, enable_model_summary=False, callbacks=[best]
    )
    trainer.strategy.connect(fitted.model)
    trainer.save_checkpoint(tmp_path / "last.ckpt")
    restored = BestWeights()
    restored.load_state_dict(
        torch.load(tmp_path / "last.ckpt", weights_only=False)["callbacks"][best.state_key]
    )
    assert (restored.best_score, restored.best_epoch, restored.history) == (
        best.best_score,
        best.best_epoch,
        best.history,
    )
    assert all(torch.equal(restored.best_state[k], v) for k, v in best.best_state.items())


def test_config_round_trips_through_plain_types() -> None:
    data = json.loads(json.dumps(CONFIG.to_dict()))
    assert FitConfig.from_dict(data) == CONFIG
    with pytest.raises(ValueError, match="unknown FitConfig fields"):
        FitConfig.from_dict({**data, "epochs": 3})
