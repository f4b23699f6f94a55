"""Population stability index (PSI) of recent features against a reference (the champion's training split).

PSI = sum over bins of (actual% - expected%) * ln(actual% / expected%), with every proportion floored at
``EPS`` so that an empty bin on one side gives a large but finite term.

- Numeric features: bins from the reference's quantiles (``bins`` of them; duplicate edges collapse, so a
  mostly-zero count gets fewer bins), intervals closed on the right, (-inf, q1], (q1, q2], ..., (qk, inf).
- Booleans and strings: one bin per category seen on either side.
- Nulls: their own bin on both sides (a feature going missing is drift too).
- Other types (embeddings, timestamps): not scored, listed as skipped.

Common reading: < 0.1 stable, 0.1-0.2 moderate shift, > 0.2 significant shift (the default threshold).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
import polars as pl

EPS = 1e-4
NULL_BIN = "<null>"


def psi_from_counts(expected: Iterable[float], actual: Iterable[float], eps: float = EPS) -> float:
    """PSI of two histograms over the same bins (counts or proportions). NaN when a side is empty."""
    e = np.asarray(list(expected), dtype=np.float64)
    a = np.asarray(list(actual), dtype=np.float64)
    if e.shape != a.shape:
        raise ValueError(f"histograms differ in bins: {e.shape} vs {a.shape}")
    if e.sum() <= 0 or a.sum() <= 0:
        return math.nan
    pe = np.clip(e / e.sum(), eps, None)
    pa = np.clip(a / a.sum(), eps, None)
    return float(np.sum((pa - pe) * np.log(pa / pe)))


def quantile_edges(reference: np.ndarray, bins: int) -> np.ndarray:
    """Inner bin edges: the reference's quantiles at 1/bins, ..., (bins-1)/bins, deduplicated."""
    if bins < 2:
        raise ValueError("PSI needs at least 2 bins")
    values = reference[~np.isnan(reference)]
    if values.size == 0:
        return np.array([], dtype=np.float64)
    return np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))


def numeric_histogram(values: pl.Series, edges: np.ndarray) -> list[int]:
    """Counts per bin (len(edges) + 1 value bins, then the null bin); NaN counts as null."""
    x = values.cast(pl.Float64).to_numpy()
    missing = np.isnan(x)
    idx = np.searchsorted(edges, x[~missing], side="left")  # x == edge falls in the bin it closes
    counts = np.bincount(idx, minlength=edges.size + 1).tolist()
    return counts + [int(missing.sum())]


def categorical_histograms(
    reference: pl.Series, recent: pl.Series
) -> tuple[list[str], list[int], list[int]]:
    ref = reference.cast(pl.String).fill_null(NULL_BIN)
    cur = recent.cast(pl.String).fill_null(NULL_BIN)
    ref_counts = dict(ref.value_counts().iter_rows())
    cur_counts = dict(cur.value_counts().iter_rows())
    labels = sorted((set(ref_counts) | set(cur_counts)) - {NULL_BIN}) + [NULL_BIN]
    return labels, [ref_counts.get(k, 0) for k in labels], [cur_counts.get(k, 0) for k in labels]


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: str  # numeric | categorical
    psi: float
    bins: int
    reference_rows: int
    recent_rows: int

    def to_dict(self) -> dict:
        return {
            "feature": self.feature,
            "kind": self.kind,
            "psi": None if math.isnan(self.psi) else round(self.psi, 6),
            "bins": self.bins,
            "reference_rows": self.reference_rows,
            "recent_rows": self.recent_rows,
        }


def feature_kind(dtype: pl.DataType) -> str | None:
    if dtype == pl.Boolean or dtype in (pl.String, pl.Categorical, pl.Enum):
        return "categorical"
    if dtype.is_numeric():
        return "numeric"
    return None


def feature_psi(reference: pl.Series, recent: pl.Series, bins: int = 10) -> FeatureDrift | None:
    """PSI of one feature; None when its type is not scored (embeddings, timestamps)."""
    kind = feature_kind(reference.dtype)
    if kind is None:
        return None
    if kind == "numeric":
        edges = quantile_edges(reference.cast(pl.Float64).fill_null(float("nan")).to_numpy(), bins)
        expected, actual = numeric_histogram(reference, edges), numeric_histogram(recent, edges)
    else:
        _, expected, actual = categorical_histograms(reference, recent)
    return FeatureDrift(
        reference.name,
        kind,
        psi_from_counts(expected, actual),
        len(expected),
        reference.len(),
        recent.len(),
    )


@dataclass
class DriftReport:
    features: dict[str, FeatureDrift]
    skipped: list[str] = field(default_factory=list)

    @property
    def psi(self) -> dict[str, float | None]:
        return {name: d.to_dict()["psi"] for name, d in sorted(self.features.items())}

    @property
    def max_psi(self) -> float:
        values = [d.psi for d in self.features.values() if not math.isnan(d.psi)]
        return max(values) if values else 0.0

    def worst(self, k: int = 5) -> list[tuple[str, float]]:
        scored = [(n, d.psi) for n, d in self.features.items() if not math.isnan(d.psi)]
        return [(n, round(p, 6)) for n, p in sorted(scored, key=lambda t: (-t[1], t[0]))[:k]]

    def drifted(self, threshold: float) -> list[str]:
        return sorted(
            n for n, d in self.features.items() if not math.isnan(d.psi) and d.psi > threshold
        )


def drift_report(
    reference: pl.DataFrame, recent: pl.DataFrame, features: Iterable[str], bins: int = 10
) -> DriftReport:
    """PSI of each feature present in both frames; unscored types and absent columns are listed as skipped."""
    out: dict[str, FeatureDrift] = {}
    skipped: list[str] = []
    for name in features:
        if name not in reference.columns or name not in recent.columns:
            skipped.append(name)
            continue
        result = feature_psi(
            reference[name], recent[name].cast(reference[name].dtype, strict=False), bins
        )
        if result is None:
            skipped.append(name)
        else:
            out[name] = result
    return DriftReport(out, skipped)


def recent_rows(
    frame: pl.DataFrame, days: int, entity: str = "patient_id", timestamp: str = "event_timestamp"
) -> pl.DataFrame:
    """Each entity's latest row among those within ``days`` of the newest timestamp in ``frame``.

    "Recent" is measured on the data's own clock (the newest event), not the wall clock: a historical or
    delayed extract still has a recent window, and a stale table is not mistaken for an empty one."""
    if frame.is_empty():
        return frame
    newest = frame[timestamp].max()
    window = frame.filter(pl.col(timestamp) > newest - timedelta(days=days))
    return window.sort(timestamp).group_by(entity, maintain_order=True).last()
