"""Platt recalibration: recovers a known logistic map, keeps the ranking, travels with the saved model, and
never flips a model that ranks validation backwards."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch
from sklearn.metrics import brier_score_loss, roc_auc_score

from training.calibration import calibrate, fit_platt
from training.fit import FitConfig, fit_local, load_model, save_model
from training.synthetic import synthetic_training_set

TASK = "readmission_30d"


def test_fit_platt_recovers_a_known_map() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, 20_000)
    labels = rng.random(20_000) < 1 / (1 + np.exp(-(0.5 * logits - 1.0)))
    scale, bias = fit_platt(logits, labels)
    assert scale == pytest.approx(0.5, abs=0.05) and bias == pytest.approx(-1.0, abs=0.08)


def test_fit_platt_needs_both_classes() -> None:
    with pytest.raises(ValueError, match="both classes"):
        fit_platt(np.array([0.1, 0.2]), np.array([1, 1]))


@pytest.fixture(scope="module")
def fitted():
    torch.set_num_threads(1)
    frame = synthetic_training_set(TASK, n=1500, seed=3)
    result = fit_local(
        frame, TASK, FitConfig(max_epochs=2, batch_size=64, seed=0, accelerator="cpu")
    )
    return result.model, frame


def test_calibration_keeps_ranking_improves_brier_and_is_saved(fitted, tmp_path) -> None:
    model, frame = fitted
    validation, test = (frame.filter(pl.col("split") == s) for s in ("validation", "test"))
    before = model.predict_raw(test)
    calibration = calibrate(model, validation)
    after = model.predict_raw(test)
    assert calibration.applied and calibration.scale > 0
    assert torch.equal(model.calibration, torch.tensor([calibration.scale, calibration.bias]))
    assert roc_auc_score(test["label"], after) == pytest.approx(
        roc_auc_score(test["label"], before)
    )
    # pos_weight inflates the raw probabilities; recalibrated ones sit near the observed prevalence
    assert abs(after.mean() - test["label"].mean()) < abs(before.mean() - test["label"].mean())
    assert brier_score_loss(test["label"], after) < brier_score_loss(test["label"], before)
    loaded = load_model(save_model(model, tmp_path / "m.pt"))
    np.testing.assert_allclose(loaded.predict_raw(test), after, rtol=1e-6)


def test_a_backwards_model_is_not_flipped(fitted) -> None:
    model, frame = fitted
    validation = frame.filter(pl.col("split") == "validation").with_columns(
        label=1 - pl.col("label")
    )
    state = model.calibration.clone()
    calibration = calibrate(model, validation)
    assert not calibration.applied and calibration.scale < 0
    assert torch.equal(model.calibration, state)


def test_version_1_files_load_with_identity_calibration(fitted, tmp_path) -> None:
    model, frame = fitted
    path = save_model(model, tmp_path / "v1.pt")
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = 1
    payload["state_dict"].pop("calibration")
    torch.save(payload, path)
    assert torch.equal(load_model(path).calibration, torch.tensor([1.0, 0.0]))
