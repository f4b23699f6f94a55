"""The operating point: a score threshold chosen on the validation split, then measured on the test split.

The threshold is chosen from the task's ``OperatingPoint`` (``features.tasks``) and never on the test split:
choosing it on the rows it is judged on would overstate sensitivity and PPV.

* ``policy="sensitivity"``: the highest threshold whose validation sensitivity is at least ``target``
  (flag rule ``score >= threshold``), i.e. the fewest alerts that still catch ``target`` of the positives.
* ``policy="alert_rate"``: an alert budget. The lowest threshold whose validation alert rate does not exceed
  ``target`` (capacity: clinicians can review at most that fraction). With continuous scores the rate
  equals ``floor(target * n) / n``; ties at the boundary are left unflagged. If even the highest score's
  tie group exceeds the budget, that score is used (the smallest possible alert set).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from evaluation.metrics import (
    Interval,
    check_inputs,
    one_class_reason,
    percentile_interval,
    resample_counts,
)


class OperatingPointLike(Protocol):
    """What this module reads from ``features.tasks.OperatingPoint`` (kept structural: no import of it)."""

    policy: str
    target: float


def choose_threshold(y_true: Any, y_score: Any, op: OperatingPointLike) -> float:
    """Threshold from the VALIDATION split for ``op.policy`` / ``op.target`` (see module docstring)."""
    y, p = check_inputs(y_true, y_score)
    if not 0 < op.target <= 1:
        raise ValueError(f"operating point target must be in (0, 1], got {op.target}")
    if op.policy == "sensitivity":
        if int(y.sum()) == 0:
            raise ValueError(
                f"cannot choose a sensitivity threshold: {one_class_reason(y, 'validation split')}"
            )
        # the highest qualifying threshold is always some positive's score: try them from the top down
        positives = p[y == 1]
        candidates = np.unique(positives)[::-1]
        sensitivity = _share_at_or_above(positives, candidates)
        return float(candidates[int(np.argmax(sensitivity >= op.target - 1e-12))])
    if op.policy == "alert_rate":
        candidates = np.unique(p)[::-1]
        within = np.flatnonzero(_share_at_or_above(p, candidates) <= op.target + 1e-12)
        return float(candidates[within[-1]] if within.size else candidates[0])
    raise ValueError(
        f"unknown operating point policy {op.policy!r}; expected 'sensitivity' or 'alert_rate'"
    )


def _share_at_or_above(values: np.ndarray, descending: np.ndarray) -> np.ndarray:
    """Fraction of ``values`` >= each threshold (thresholds in descending order, so the result ascends)."""
    ascending = np.sort(values)
    return (len(values) - np.searchsorted(ascending, descending, side="left")) / len(values)


@dataclass(frozen=True)
class ThresholdMetrics:
    """Confusion counts and rates at a threshold (flag = score >= threshold); rates ``None`` when their
    denominator is zero. ``nne`` = number needed to evaluate = 1 / PPV."""

    threshold: float
    tp: int
    fp: int
    tn: int
    fn: int
    sensitivity: float | None
    specificity: float | None
    ppv: float | None
    npv: float | None
    alert_rate: float
    nne: float | None
    intervals: dict[str, Interval] = field(default_factory=dict)  # sensitivity, specificity, ppv

    def to_dict(self) -> dict[str, Any]:
        out = {
            k: getattr(self, k)
            for k in (
                "threshold",
                "tp",
                "fp",
                "tn",
                "fn",
                "sensitivity",
                "specificity",
                "ppv",
                "npv",
                "alert_rate",
                "nne",
            )
        }
        out["intervals"] = {k: v.to_dict() for k, v in self.intervals.items()}
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ThresholdMetrics:
        values = {k: v for k, v in data.items() if k != "intervals"}
        return cls(
            **values,
            intervals={k: Interval.from_dict(v) for k, v in data.get("intervals", {}).items()},
        )


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def threshold_metrics(
    y_true: Any,
    y_score: Any,
    threshold: float,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> ThresholdMetrics:
    """Counts, sensitivity, specificity, PPV, NPV, alert rate and NNE at ``threshold``, with percentile
    bootstrap intervals for sensitivity, specificity and PPV (same resampling as ``bootstrap_metrics``;
    resamples where a rate's denominator is zero are skipped and counted in ``n_boot_used``)."""
    y, p = check_inputs(y_true, y_score)
    flag = (p >= threshold).astype(np.float64)
    yy = y.astype(np.float64)
    cells = {
        "tp": flag * yy,
        "fp": flag * (1 - yy),
        "tn": (1 - flag) * (1 - yy),
        "fn": (1 - flag) * yy,
    }
    c = {k: int(v.sum()) for k, v in cells.items()}

    def rates(counts: np.ndarray) -> dict[str, np.ndarray]:  # counts: (..., 4) as tp, fp, tn, fn
        tp, fp, tn, fn = np.moveaxis(counts, -1, 0)
        return {
            "sensitivity": _ratio(tp, tp + fn),
            "specificity": _ratio(tn, tn + fp),
            "ppv": _ratio(tp, tp + fp),
        }

    matrix = np.stack([cells[k] for k in ("tp", "fp", "tn", "fn")], axis=1)  # rows x 4
    point = {k: (None if np.isnan(v) else float(v)) for k, v in rates(matrix.sum(axis=0)).items()}
    reps = [rates(w @ matrix) for w in resample_counts(len(y), n_boot, seed)]
    intervals = {
        k: percentile_interval(point[k], np.concatenate([r[k] for r in reps]), level) for k in point
    }
    npv = c["tn"] / (c["tn"] + c["fn"]) if c["tn"] + c["fn"] else None
    ppv = point["ppv"]
    return ThresholdMetrics(
        threshold=float(threshold),
        **c,
        sensitivity=point["sensitivity"],
        specificity=point["specificity"],
        ppv=ppv,
        npv=npv,
        alert_rate=(c["tp"] + c["fp"]) / len(y),
        nne=(1 / ppv) if ppv else None,
        intervals=intervals,
    )
