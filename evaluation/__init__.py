"""Evaluation of a binary clinical risk model on a held-out split and the champion/challenger gate.

Pure domain code (numpy, polars, scikit-learn, scipy, matplotlib): no Dagster, no MLflow. The orchestration
layer scores the models, calls ``evaluate`` and ``decide``, and logs ``to_dict()``/``flat_tags()``/``tags()``,
the PNGs from ``render_plots`` and the Markdown from ``model_card``.
"""

from evaluation.gate import GateDecision, GatePolicy, decide
from evaluation.metrics import (
    BOOTSTRAP_METRICS,
    Interval,
    bootstrap_metrics,
    calibration_intercept,
    check_inputs,
    expected_calibration_error,
    paired_difference,
    score_metrics,
)
from evaluation.model_card import model_card
from evaluation.plots import render_plots
from evaluation.report import EvaluationReport, evaluate
from evaluation.subgroups import (
    DEFAULT_ATTRIBUTES,
    AttributeSubgroups,
    Gap,
    GroupMetrics,
    subgroup_metrics,
)
from evaluation.threshold import ThresholdMetrics, choose_threshold, threshold_metrics

__all__ = [
    "AttributeSubgroups",
    "BOOTSTRAP_METRICS",
    "DEFAULT_ATTRIBUTES",
    "EvaluationReport",
    "Gap",
    "GateDecision",
    "GatePolicy",
    "GroupMetrics",
    "Interval",
    "ThresholdMetrics",
    "bootstrap_metrics",
    "calibration_intercept",
    "check_inputs",
    "choose_threshold",
    "decide",
    "evaluate",
    "expected_calibration_error",
    "model_card",
    "paired_difference",
    "render_plots",
    "score_metrics",
    "subgroup_metrics",
    "threshold_metrics",
]
