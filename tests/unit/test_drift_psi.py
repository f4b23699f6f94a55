"""PSI: hand-computed values, identical distributions near zero, shifted ones above the threshold."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from monitoring.drift import (
    EPS,
    drift_report,
    feature_psi,
    psi_from_counts,
    quantile_edges,
    recent_rows,
)

THRESHOLD = 0.2


def test_categorical_psi_matches_hand_computation():
    ref = pl.Series("sex", ["female"] * 50 + ["male"] * 50)
    cur = pl.Series("sex", ["female"] * 25 + ["male"] * 75)
    # bins female, male, <null>: (0.25-0.5)ln(0.25/0.5) + (0.75-0.5)ln(0.75/0.5) + 0 (both nulls empty)
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    result = feature_psi(ref, cur)
    assert result.kind == "categorical" and result.bins == 3
    assert result.psi == pytest.approx(expected, rel=1e-9)
    assert result.psi == pytest.approx(0.2747, abs=1e-4)


def test_numeric_psi_matches_hand_computation_with_reference_quantile_bins():
    ref = pl.Series("x", np.arange(100, dtype=np.float64))
    cur = pl.Series("x", np.concatenate([np.arange(50), np.arange(50)]).astype(np.float64))
    assert quantile_edges(ref.to_numpy(), 4).tolist() == [24.75, 49.5, 74.25]
    # recent fills the lower two quartile bins (0.5 each) and leaves the upper two empty (floored at EPS)
    expected = 2 * (0.5 - 0.25) * math.log(0.5 / 0.25) + 2 * (EPS - 0.25) * math.log(EPS / 0.25)
    assert feature_psi(ref, cur, bins=4).psi == pytest.approx(expected, rel=1e-9)


def test_bin_edges_are_closed_on_the_right():
    ref = pl.Series("x", [1.0, 2.0, 3.0, 4.0])
    edges = quantile_edges(ref.to_numpy(), 2)  # median 2.5
    assert psi_from_counts([2, 2, 0], [2, 2, 0]) == 0.0
    assert feature_psi(ref, pl.Series("x", [2.5, 2.5, 4.0, 4.0]), bins=2).psi == pytest.approx(0.0)
    assert edges.tolist() == [2.5]


def test_identical_distributions_score_near_zero():
    rng = np.random.default_rng(0)
    ref = pl.Series("lab", rng.normal(5, 1, 5000))
    same = pl.Series("lab", rng.normal(5, 1, 5000))
    assert feature_psi(ref, ref).psi == pytest.approx(0.0, abs=1e-12)
    assert feature_psi(ref, same).psi < 0.02


def test_shifted_distribution_exceeds_threshold():
    rng = np.random.default_rng(1)
    ref = pl.Series("lab", rng.normal(5, 1, 5000))
    shifted = pl.Series("lab", rng.normal(6, 1, 5000))  # one standard deviation
    assert feature_psi(ref, shifted).psi > THRESHOLD


def test_nulls_are_their_own_bin():
    ref = pl.Series("lab", [float(i) for i in range(100)])
    half_missing = pl.Series("lab", [float(i) for i in range(50)] + [None] * 50)
    result = feature_psi(ref, half_missing)
    assert result.psi > THRESHOLD
    assert result.bins == 11  # 10 quantile bins + null


def test_booleans_are_categorical_and_unscored_types_are_skipped():
    ref = pl.DataFrame(
        {"flag": [True] * 80 + [False] * 20, "emb": [[0.1, 0.2]] * 100, "n": list(range(100))}
    )
    cur = pl.DataFrame(
        {"flag": [True] * 20 + [False] * 80, "emb": [[0.3, 0.2]] * 100, "n": list(range(100))}
    )
    report = drift_report(ref, cur, ["flag", "emb", "n", "absent"])
    assert report.features["flag"].kind == "categorical"
    assert report.features["flag"].psi > THRESHOLD
    assert report.features["n"].psi == pytest.approx(0.0)
    assert sorted(report.skipped) == ["absent", "emb"]
    assert report.drifted(THRESHOLD) == ["flag"]
    assert report.worst(1)[0][0] == "flag"
    assert report.max_psi == report.features["flag"].psi


def test_empty_side_is_nan_not_zero():
    assert math.isnan(psi_from_counts([0, 0], [1, 2]))


def test_recent_rows_takes_each_patients_latest_row_within_the_window():
    t0 = datetime(2024, 1, 1, tzinfo=UTC)
    frame = pl.DataFrame(
        {
            "patient_id": ["a", "a", "b", "c"],
            "event_timestamp": [
                t0,
                t0 + timedelta(days=90),
                t0 + timedelta(days=80),
                t0 + timedelta(days=10),
            ],
            "x": [1, 2, 3, 4],
        }
    )
    recent = recent_rows(frame, days=30).sort("patient_id")
    assert recent["patient_id"].to_list() == [
        "a",
        "b",
    ]  # c's only row is 80 days before the newest event
    assert recent["x"].to_list() == [2, 3]
