"""Per-subgroup discrimination and calibration, and the largest gap between groups of each attribute.

A group is *evaluable* when it has at least ``min_n`` rows and at least ``min_positives`` positives and as
many negatives; only evaluable groups get an AUROC and take part in the gaps (an AUROC from three
positives is noise, and reporting it next to the others invites over-reading). Every group still reports
its size, prevalence, mean score and observed/expected ratio, and a non-evaluable group says why.

Calibration per group: ``oe_ratio`` = observed / expected = mean label / mean score (1 = calibrated, > 1 =
the model under-predicts this group's risk), ``calibration_intercept`` (calibration-in-the-large on the
log-odds scale, see ``evaluation.metrics``) and ECE. The calibration gap of an attribute is the largest
difference in ``oe_ratio`` between evaluable groups. Null attribute values form the group ``"unknown"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from evaluation.metrics import calibration_intercept, check_inputs, expected_calibration_error

DEFAULT_ATTRIBUTES = ("sex", "age_band", "race_ethnicity")
UNKNOWN = "unknown"


@dataclass(frozen=True)
class GroupMetrics:
    """One group of one attribute."""

    group: str
    n: int
    positives: int
    prevalence: float
    mean_score: float
    oe_ratio: float | None  # mean label / mean score; None when the mean score is 0
    auroc: float | None
    calibration_intercept: float | None
    ece: float | None
    evaluable: bool
    reason: str | None = None  # why auroc / calibration are not reported

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Gap:
    """The largest difference of a metric between the evaluable groups of one attribute."""

    metric: str
    value: float  # high - low
    high_group: str
    high: float
    low_group: str
    low: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AttributeSubgroups:
    """All groups of one attribute and its largest AUROC and calibration (O/E) gaps (``None`` with
    ``gap_reason`` when fewer than two groups are evaluable)."""

    attribute: str
    groups: list[GroupMetrics]
    auroc_gap: Gap | None
    calibration_gap: Gap | None
    gap_reason: str | None = None
    min_n: int = 0
    min_positives: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "attribute": self.attribute,
            "groups": [g.to_dict() for g in self.groups],
            "auroc_gap": self.auroc_gap.to_dict() if self.auroc_gap else None,
            "calibration_gap": self.calibration_gap.to_dict() if self.calibration_gap else None,
            "gap_reason": self.gap_reason,
            "min_n": self.min_n,
            "min_positives": self.min_positives,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AttributeSubgroups:
        return cls(
            attribute=data["attribute"],
            groups=[GroupMetrics(**g) for g in data["groups"]],
            auroc_gap=Gap(**data["auroc_gap"]) if data.get("auroc_gap") else None,
            calibration_gap=Gap(**data["calibration_gap"]) if data.get("calibration_gap") else None,
            gap_reason=data.get("gap_reason"),
            min_n=data.get("min_n", 0),
            min_positives=data.get("min_positives", 0),
        )


def group_metrics(
    group: str, y: np.ndarray, p: np.ndarray, *, min_n: int, min_positives: int
) -> GroupMetrics:
    """Metrics of one group (``y``, ``p`` already validated)."""
    n, positives = len(y), int(y.sum())
    negatives = n - positives
    mean_score = float(p.mean())
    reason = None
    if n < min_n:
        reason = f"n={n} < {min_n}"
    elif positives < min_positives:
        reason = f"{positives} positives < {min_positives}"
    elif negatives < min_positives:
        reason = f"{negatives} negatives < {min_positives}"
    evaluable = reason is None
    return GroupMetrics(
        group=group,
        n=n,
        positives=positives,
        prevalence=positives / n,
        mean_score=mean_score,
        oe_ratio=(positives / n) / mean_score if mean_score > 0 else None,
        auroc=float(roc_auc_score(y, p)) if evaluable else None,
        calibration_intercept=calibration_intercept(y, p) if evaluable else None,
        ece=expected_calibration_error(y, p) if evaluable else None,
        evaluable=evaluable,
        reason=reason,
    )


def _gap(groups: Sequence[GroupMetrics], metric: str) -> Gap | None:
    scored = [
        (getattr(g, metric), g.group)
        for g in groups
        if g.evaluable and getattr(g, metric) is not None
    ]
    if len(scored) < 2:
        return None
    high, low = max(scored), min(scored)
    return Gap(
        metric=metric,
        value=high[0] - low[0],
        high_group=high[1],
        high=high[0],
        low_group=low[1],
        low=low[0],
    )


def subgroup_metrics(
    frame: pl.DataFrame,
    attributes: Sequence[str] = DEFAULT_ATTRIBUTES,
    *,
    label: str = "label",
    score: str = "score",
    min_n: int = 30,
    min_positives: int = 5,
) -> dict[str, AttributeSubgroups]:
    """Per attribute (in the given order), per group (sorted by name, ``"unknown"`` last): see module docstring.

    Raises ``ValueError`` for a missing column or invalid labels/scores (same checks as ``score_metrics``).
    """
    missing = [c for c in (label, score, *attributes) if c not in frame.columns]
    if missing:
        raise ValueError(f"subgroup frame lacks column(s) {missing}; has {frame.columns}")
    y_all, p_all = check_inputs(frame[label].to_numpy(), frame[score].to_numpy())
    out: dict[str, AttributeSubgroups] = {}
    for attribute in attributes:
        values = frame[attribute].cast(pl.String).fill_null(UNKNOWN).to_numpy()
        names = sorted(set(values.tolist()), key=lambda g: (g == UNKNOWN, g))
        groups = [
            group_metrics(
                g, y_all[values == g], p_all[values == g], min_n=min_n, min_positives=min_positives
            )
            for g in names
        ]
        auroc_gap, calibration_gap = _gap(groups, "auroc"), _gap(groups, "oe_ratio")
        evaluable = sum(g.evaluable for g in groups)
        out[attribute] = AttributeSubgroups(
            attribute=attribute,
            groups=groups,
            auroc_gap=auroc_gap,
            calibration_gap=calibration_gap,
            gap_reason=None
            if evaluable >= 2
            else f"{evaluable} evaluable group(s) of {len(groups)}; need 2",
            min_n=min_n,
            min_positives=min_positives,
        )
    return out
