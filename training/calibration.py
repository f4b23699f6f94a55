"""Platt recalibration of a trained RiskModel on the validation split.

Class weighting (``pos_weight``) buys recall during training at the price of inflated, compressed
probabilities: a served risk of 0.5 would not mean one in two. A two-parameter logistic fit of the label on
the model's logit, on the validation split (never the test split, which stays untouched for evaluation),
restores probabilities that mean what they say; ranking (AUROC) is unchanged because the map is monotone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import torch
from sklearn.linear_model import LogisticRegression


@dataclass(frozen=True)
class Calibration:
    scale: float
    bias: float
    rows: int
    positives: int
    applied: bool = (
        True  # False: the fit would have reversed the ranking (scale <= 0), identity kept
    )

    def to_dict(self) -> dict[str, float]:
        return {
            "calibration_scale": self.scale,
            "calibration_bias": self.bias,
            "calibration_rows": float(self.rows),
            "calibration_positives": float(self.positives),
            "calibration_applied": float(self.applied),
        }


def fit_platt(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(scale, bias) of P(y=1) = sigmoid(scale * logit + bias), by unpenalized logistic regression."""
    labels = np.asarray(labels).astype(int)
    if len(np.unique(labels)) < 2:
        raise ValueError("Platt calibration needs both classes in the validation split")
    fit = LogisticRegression(penalty=None, solver="lbfgs", max_iter=1000)
    fit.fit(np.asarray(logits, dtype=np.float64).reshape(-1, 1), labels)
    return float(fit.coef_[0, 0]), float(fit.intercept_[0])


def calibrate(model, validation: pl.DataFrame, label: str = "label") -> Calibration:
    """Fit the calibration on ``validation`` rows (raw features + label) and store it in the model."""
    logits = model.logits_raw(validation)
    labels = validation[label].to_numpy()
    scale, bias = fit_platt(logits, labels)
    if (
        scale <= 0
    ):  # the model ranks validation backwards: a flip would hide that, so keep the raw logit
        return Calibration(scale, bias, validation.height, int(labels.sum()), applied=False)
    with torch.no_grad():
        model.calibration.copy_(torch.tensor([scale, bias], dtype=model.calibration.dtype))
    return Calibration(scale, bias, validation.height, int(labels.sum()))
