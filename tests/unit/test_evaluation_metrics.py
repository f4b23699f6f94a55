"""Evaluation metrics: equal to scikit-learn, calibration behaves as defined, the bootstrap is seeded and
counts the resamples it skips, the threshold comes from validation, and subgroup gaps are right."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.optimize import brentq
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score, roc_curve

from evaluation.metrics import (
    BOOTSTRAP_METRICS,
    bootstrap_metrics,
    metric_replicates,
    paired_difference,
    resample_counts,
    score_metrics,
)
from evaluation.subgroups import subgroup_metrics
from evaluation.threshold import choose_threshold, threshold_metrics
from features.tasks import OperatingPoint


def calibrated(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Scores that are true probabilities: y ~ Bernoulli(p)."""
    rng = np.random.default_rng(seed)
    p = rng.beta(2, 5, n)
    return (rng.random(n) < p).astype(np.int8), p


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    y, p = calibrated(400, seed=3)
    return y, np.round(
        p, 2
    )  # rounding makes ties, which AUROC and AUPRC must handle like scikit-learn


# ---------------------------------------------------------------------------------------------- point metrics


def test_point_metrics_equal_sklearn(data):
    y, p = data
    m = score_metrics(y, p)
    assert m["auroc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert m["auprc"] == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert m["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-12)
    assert (m["n"], m["positives"]) == (400, int(y.sum()))
    assert m["prevalence"] == pytest.approx(y.mean())
    assert m["auprc_lift"] == pytest.approx(m["auprc"] / y.mean())
    assert m["undefined_reason"] is None


def test_calibration_slope_and_intercept_equal_reference_fits(data):
    y, p = data
    m = score_metrics(y, p)
    o = logit(np.clip(p, 1e-6, 1 - 1e-6))
    fit = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(o[:, None], y)
    assert m["calibration_slope"] == pytest.approx(fit.coef_[0, 0], abs=1e-4)
    # intercept with logit(p) as offset: root of the score equation sum(y - expit(a + o)) = 0
    a = brentq(lambda a: np.sum(y - expit(a + o)), -10, 10, xtol=1e-12)
    assert m["calibration_intercept"] == pytest.approx(a, abs=1e-8)


def test_ece_by_hand():
    # bins (equal width): 0.05, 0.15 -> bins 0 and 1; 0.95 -> bin 9
    y = np.array([0, 1, 1, 0])
    p = np.array([0.05, 0.05, 0.15, 0.95])
    # bin 0: |1 - 0.10| = 0.9; bin 1: |1 - 0.15| = 0.85; bin 9: |0 - 0.95| = 0.95; over n = 4
    assert score_metrics(y, p)["ece"] == pytest.approx((0.9 + 0.85 + 0.95) / 4)


def test_calibrated_scores_have_slope_one_intercept_zero_small_ece():
    y, p = calibrated(20_000, seed=1)
    m = score_metrics(y, p)
    assert m["calibration_slope"] == pytest.approx(1.0, abs=0.08)
    assert m["calibration_intercept"] == pytest.approx(0.0, abs=0.05)
    assert m["ece"] < 0.015


def test_miscalibration_moves_slope_and_intercept_the_right_way():
    y, p = calibrated(20_000, seed=1)
    overconfident = score_metrics(y, expit(2 * logit(p)))  # too extreme -> slope ~ 0.5
    underconfident = score_metrics(y, expit(0.5 * logit(p)))  # too modest -> slope ~ 2
    underpredicts = score_metrics(y, expit(logit(p) - 1))  # every risk too low -> intercept ~ +1
    assert overconfident["calibration_slope"] == pytest.approx(0.5, abs=0.06)
    assert underconfident["calibration_slope"] == pytest.approx(2.0, abs=0.2)
    assert underpredicts["calibration_intercept"] == pytest.approx(1.0, abs=0.1)
    assert underpredicts["calibration_slope"] == pytest.approx(1.0, abs=0.08)
    squared = score_metrics(y, p**2)  # lower and more spread out: under-predicts, too extreme
    assert squared["calibration_slope"] < 0.8 and squared["calibration_intercept"] > 0.5
    assert min(overconfident["ece"], squared["ece"], underpredicts["ece"]) > 0.05


def test_one_class_set_gives_none_with_reason_not_an_error():
    m = score_metrics(np.zeros(50), np.linspace(0, 1, 50))
    assert m["auroc"] is None and m["auprc"] is None and m["calibration_slope"] is None
    assert m["undefined_reason"] == "set has no positives (n=50)"
    assert m["brier"] == pytest.approx(np.mean(np.linspace(0, 1, 50) ** 2))
    boot = bootstrap_metrics(np.zeros(50), np.linspace(0, 1, 50), n_boot=50)
    assert boot["auroc"].estimate is None and boot["auroc"].n_boot_used == 0
    assert boot["brier"].n_boot_used == 50 and boot["brier"].low is not None


@pytest.mark.parametrize(
    ("y", "p", "message"),
    [
        ([0, 1, 1], [0.2, 0.4], "length mismatch: 3 labels vs 2 scores"),
        ([0, 1], [0.2, np.nan], "1 scores are NaN"),
        ([0, 1], [0.2, 1.7], "outside \\[0, 1\\]"),
        ([0, 2], [0.2, 0.3], "labels must be 0/1: 1 rows"),
        ([], [], "empty input"),
    ],
)
def test_invalid_input_names_the_problem(y, p, message):
    with pytest.raises(ValueError, match=message):
        score_metrics(np.array(y), np.array(p))


# ---------------------------------------------------------------------------------------------- bootstrap


def test_weighted_replicates_equal_sklearn_on_materialised_resamples(data):
    y, p = data
    weights = next(resample_counts(len(y), 4, seed=7))
    reps = metric_replicates(y, p, weights)
    for b in range(4):
        rows = np.repeat(np.arange(len(y)), weights[b].astype(int))
        ref = score_metrics(y[rows], p[rows])
        for name in BOOTSTRAP_METRICS:
            assert reps[name][b] == pytest.approx(ref[name], abs=1e-7), name


def test_bootstrap_is_deterministic_for_a_seed_and_brackets_the_estimate(data):
    y, p = data
    first = bootstrap_metrics(y, p, n_boot=300, seed=11)
    again = bootstrap_metrics(y, p, n_boot=300, seed=11)
    other = bootstrap_metrics(y, p, n_boot=300, seed=12)
    assert first == again
    assert first["auroc"] != other["auroc"]
    for name, interval in first.items():
        assert interval.low < interval.estimate < interval.high, name
        assert interval.n_boot_used == 300, name
    auroc = first["auroc"]
    assert 0.05 < auroc.high - auroc.low < 0.2  # 400 rows: a real, not degenerate, interval
    assert auroc.estimate == pytest.approx(roc_auc_score(y, p))


def test_one_class_resamples_are_skipped_and_counted():
    y = np.zeros(20, dtype=np.int8)
    y[3] = 1
    p = np.linspace(0.05, 0.95, 20)
    n_boot = 400
    no_positive = sum(int((w @ y == 0).sum()) for w in resample_counts(20, n_boot, seed=5))
    assert 80 < no_positive < 250  # (19/20)^20 = 36% of resamples miss the only positive
    boot = bootstrap_metrics(y, p, n_boot=n_boot, seed=5)
    assert boot["auroc"].n_boot_used == n_boot - no_positive
    assert boot["auprc"].n_boot_used == n_boot - no_positive
    assert boot["brier"].n_boot_used == n_boot  # class-independent metrics use every resample
    assert boot["ece"].n_boot_used == n_boot


def test_paired_difference_same_rows_same_resamples(data):
    y, p = data
    same = paired_difference(y, p, p, n_boot=200, seed=0)
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)
    rng = np.random.default_rng(0)
    noisy = np.clip(p + rng.normal(0, 0.3, len(p)), 0, 1)
    better = paired_difference(y, p, noisy, "auroc", n_boot=300, seed=0)
    assert better.estimate == pytest.approx(roc_auc_score(y, p) - roc_auc_score(y, noisy))
    assert 0 < better.low < better.estimate < better.high
    brier = paired_difference(y, p, noisy, "brier", n_boot=100, seed=0)
    assert brier.high < 0  # the true probabilities have the lower Brier score
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        paired_difference(y, p, noisy, "f1")


# ---------------------------------------------------------------------------------------------- threshold


def test_sensitivity_threshold_is_chosen_on_validation_and_is_the_highest_reaching_target():
    y_val, p_val = calibrated(500, seed=21)
    y_test, p_test = calibrated(500, seed=22)
    op = OperatingPoint(policy="sensitivity", target=0.7)
    t = choose_threshold(y_val, p_val, op)
    sensitivity = ((p_val >= t) & (y_val == 1)).sum() / y_val.sum()
    assert sensitivity >= 0.7
    higher = p_val[
        (y_val == 1) & (p_val > t)
    ].min()  # the next positive score up no longer reaches it
    assert ((p_val >= higher) & (y_val == 1)).sum() / y_val.sum() < 0.7
    _, tpr, thresholds = roc_curve(y_val, p_val, drop_intermediate=False)
    assert t == thresholds[np.argmax(tpr >= 0.7)]
    assert t != choose_threshold(
        y_test, p_test, op
    )  # a different split gives a different threshold
    assert threshold_metrics(y_val, p_val, t, n_boot=10).sensitivity == pytest.approx(sensitivity)


def test_alert_rate_threshold_stays_within_budget():
    y, p = calibrated(500, seed=23)
    t = choose_threshold(y, p, OperatingPoint(policy="alert_rate", target=0.1))
    assert (p >= t).mean() == pytest.approx(0.1)  # continuous scores: exactly 50 of 500 flagged
    ties = np.array([0.9, 0.8, 0.8, 0.8, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    t = choose_threshold(np.zeros(10), ties, OperatingPoint(policy="alert_rate", target=0.3))
    assert t == 0.9  # flagging the tie at 0.8 would alert 40% > 30%


def test_threshold_errors_name_the_problem():
    with pytest.raises(ValueError, match="validation split has no positives"):
        choose_threshold(np.zeros(5), np.linspace(0, 1, 5), OperatingPoint())
    with pytest.raises(ValueError, match="unknown operating point policy 'top_k'"):
        choose_threshold([0, 1], [0.1, 0.9], OperatingPoint(policy="top_k"))  # type: ignore[arg-type]


def test_threshold_metrics_by_hand():
    y = np.array([1, 1, 0, 0, 1, 0])
    p = np.array([0.9, 0.8, 0.7, 0.2, 0.1, 0.05])
    tm = threshold_metrics(y, p, 0.5, n_boot=200, seed=1)
    assert (tm.tp, tm.fp, tm.tn, tm.fn) == (2, 1, 2, 1)
    assert tm.sensitivity == pytest.approx(2 / 3) and tm.specificity == pytest.approx(2 / 3)
    assert tm.ppv == pytest.approx(2 / 3) and tm.npv == pytest.approx(2 / 3)
    assert tm.alert_rate == 0.5 and tm.nne == pytest.approx(1.5)
    assert tm.intervals["sensitivity"].low <= 2 / 3 <= tm.intervals["sensitivity"].high
    assert tm.intervals["ppv"].n_boot_used < 200  # resamples without a flagged row have no PPV
    none_flagged = threshold_metrics(y, p, 0.95, n_boot=10)
    assert none_flagged.ppv is None and none_flagged.nne is None and none_flagged.alert_rate == 0


# ---------------------------------------------------------------------------------------------- subgroups


def test_subgroup_gaps_on_a_constructed_example():
    a_scores = [0.9, 0.8, 0.7, 0.6, 0.4, 0.3, 0.2, 0.1]  # group A ranked perfectly: AUROC 1.0
    a_labels = [1, 1, 1, 1, 0, 0, 0, 0]
    b_scores = [0.5] * 8  # group B all tied: AUROC 0.5
    b_labels = [1, 1, 1, 1, 0, 0, 0, 0]
    c_scores = [0.2] * 8  # group C: one positive only -> not evaluable
    c_labels = [1, 0, 0, 0, 0, 0, 0, 0]
    frame = pl.DataFrame(
        {
            "label": a_labels + b_labels + c_labels + [0, 1],
            "score": a_scores + b_scores + c_scores + [0.3, 0.6],
            "site": ["A"] * 8 + ["B"] * 8 + ["C"] * 8 + [None, None],
        }
    )
    out = subgroup_metrics(frame, ["site"], min_n=5, min_positives=2)["site"]
    groups = {g.group: g for g in out.groups}
    assert [g.group for g in out.groups] == ["A", "B", "C", "unknown"]
    assert groups["A"].auroc == 1.0 and groups["B"].auroc == 0.5
    assert groups["C"].auroc is None and groups["C"].reason == "1 positives < 2"
    assert groups["unknown"].n == 2 and groups["unknown"].reason == "n=2 < 5"
    assert (out.auroc_gap.value, out.auroc_gap.high_group, out.auroc_gap.low_group) == (
        0.5,
        "A",
        "B",
    )
    # O/E: A 0.5 / 0.5 = 1.0; B 0.5 / 0.5 = 1.0 -> no calibration gap between the evaluable groups
    assert out.calibration_gap.value == pytest.approx(0.0)
    assert groups["C"].oe_ratio == pytest.approx((1 / 8) / 0.2)
    assert out.to_dict()["auroc_gap"]["value"] == 0.5


def test_subgroup_missing_column_is_named():
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['sex'\]"):
        subgroup_metrics(pl.DataFrame({"label": [0, 1], "score": [0.1, 0.9]}), ["sex"])
