"""One evaluation of one model on a held-out split: metrics with intervals, the operating point chosen on
validation and measured on test, subgroups, and the bootstrap settings, as a JSON-round-trippable record.

``evaluate`` is the whole stage as a function of two scored frames (``label`` 0/1, ``score`` in [0, 1]);
the caller scores the model, this module only judges the scores. It does not crash on a test split with
one class: class-dependent metrics are ``None`` and ``notes`` says why, so the gate can reject with that
reason. Invalid input (NaN scores, labels not 0/1, missing columns) raises ``ValueError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from evaluation.metrics import (
    BOOTSTRAP_METRICS,
    Interval,
    bootstrap_metrics,
    check_inputs,
    one_class_reason,
)
from evaluation.subgroups import DEFAULT_ATTRIBUTES, AttributeSubgroups, subgroup_metrics
from evaluation.threshold import (
    OperatingPointLike,
    ThresholdMetrics,
    choose_threshold,
    threshold_metrics,
)

SCHEMA_VERSION = 1
FEW_POSITIVES = 30  # below this many test positives the card warns that intervals are wide
TAG_VALUE_LIMIT = 5000  # MLflow's tag value limit (characters)


@dataclass(frozen=True)
class EvaluationReport:
    """Everything the gate, the model card, the plots and the MLflow tags need."""

    model_name: str
    model_version: str
    split: str
    n: int
    positives: int
    prevalence: float
    metrics: dict[str, Interval]  # keys: evaluation.metrics.BOOTSTRAP_METRICS
    operating_point: dict[
        str, Any
    ]  # policy, target, chosen_on, validation n / positives / sensitivity / alert rate
    threshold: float | None  # None when it could not be chosen (reason in notes)
    threshold_metrics: ThresholdMetrics | None
    subgroups: dict[str, AttributeSubgroups]
    bootstrap: dict[str, Any]  # n_boot, seed, level, method
    split_digest: str | None = (
        None  # identity of the test rows (e.g. the split's content digest), if known
    )
    notes: list[str] = field(
        default_factory=list
    )  # undefined metrics, threshold problems, small-sample warnings
    schema_version: int = SCHEMA_VERSION

    def value(self, metric: str) -> float | None:
        """Point estimate of ``metric`` (``None`` when undefined or absent)."""
        interval = self.metrics.get(metric)
        return None if interval is None else interval.estimate

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "split": self.split,
            "split_digest": self.split_digest,
            "n": self.n,
            "positives": self.positives,
            "prevalence": self.prevalence,
            "metrics": {k: v.to_dict() for k, v in self.metrics.items()},
            "operating_point": dict(self.operating_point),
            "threshold": self.threshold,
            "threshold_metrics": self.threshold_metrics.to_dict()
            if self.threshold_metrics
            else None,
            "subgroups": {k: v.to_dict() for k, v in self.subgroups.items()},
            "bootstrap": dict(self.bootstrap),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvaluationReport:
        version = data.get("schema_version", SCHEMA_VERSION)
        if version != SCHEMA_VERSION:
            raise ValueError(f"evaluation report schema_version {version} is not {SCHEMA_VERSION}")
        tm = data.get("threshold_metrics")
        return cls(
            model_name=data["model_name"],
            model_version=str(data["model_version"]),
            split=data["split"],
            n=data["n"],
            positives=data["positives"],
            prevalence=data["prevalence"],
            metrics={k: Interval.from_dict(v) for k, v in data["metrics"].items()},
            operating_point=dict(data["operating_point"]),
            threshold=data.get("threshold"),
            threshold_metrics=ThresholdMetrics.from_dict(tm) if tm else None,
            subgroups={k: AttributeSubgroups.from_dict(v) for k, v in data["subgroups"].items()},
            bootstrap=dict(data["bootstrap"]),
            split_digest=data.get("split_digest"),
            notes=list(data.get("notes", [])),
            schema_version=version,
        )

    def flat_tags(self, prefix: str = "eval.") -> dict[str, str]:
        """Short flat strings for MLflow tags: ``eval.auroc=0.791``, ``eval.auroc_ci=[0.680, 0.880]``,
        counts, the operating point, per-attribute gaps (``eval.auroc_gap.sex=0.052 (F 0.812 > M 0.760)``)."""
        tags = {
            "split": self.split,
            "n": str(self.n),
            "positives": str(self.positives),
            "prevalence": _fmt(self.prevalence),
            "bootstrap": f"n_boot={self.bootstrap.get('n_boot')} seed={self.bootstrap.get('seed')} "
            f"level={self.bootstrap.get('level')}",
        }
        for name, interval in self.metrics.items():
            tags[name] = _fmt(interval.estimate)
            if interval.low is not None and interval.high is not None:
                tags[f"{name}_ci"] = f"[{_fmt(interval.low)}, {_fmt(interval.high)}]"
        op = self.operating_point
        tags["operating_point"] = f"{op.get('policy')}={op.get('target')} on {op.get('chosen_on')}"
        tags["threshold"] = _fmt(self.threshold, 4)
        if self.threshold_metrics is not None:
            for name in ("sensitivity", "specificity", "ppv", "npv", "alert_rate", "nne"):
                tags[name] = _fmt(getattr(self.threshold_metrics, name))
        for attribute, summary in self.subgroups.items():
            for key, gap in (("auroc_gap", summary.auroc_gap), ("oe_gap", summary.calibration_gap)):
                tags[f"{key}.{attribute}"] = (
                    f"{gap.value:.3f} ({gap.high_group} {gap.high:.3f} > {gap.low_group} {gap.low:.3f})"
                    if gap
                    else f"n/a ({summary.gap_reason})"
                )
        if self.split_digest:
            tags["split_digest"] = self.split_digest
        if self.notes:
            tags["notes"] = "; ".join(self.notes)
        return {f"{prefix}{k}": truncate_tag(v) for k, v in tags.items()}


def _fmt(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def truncate_tag(text: str, limit: int = TAG_VALUE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_frame(frame: pl.DataFrame, name: str, label: str, score: str) -> None:
    missing = [c for c in (label, score) if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} frame lacks column(s) {missing}; has {frame.columns}")
    if frame.height == 0:
        raise ValueError(f"{name} frame is empty")


def evaluate(
    test: pl.DataFrame,
    validation: pl.DataFrame,
    op: OperatingPointLike,
    *,
    model_name: str,
    model_version: str,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    attributes: Sequence[str] = DEFAULT_ATTRIBUTES,
    min_n: int = 30,
    min_positives: int = 5,
    split: str = "test",
    split_digest: str | None = None,
    label: str = "label",
    score: str = "score",
) -> EvaluationReport:
    """Evaluate scored ``test`` rows; the threshold comes from the scored ``validation`` rows and ``op``.

    ``op`` is a ``features.tasks.OperatingPoint`` (only ``policy`` and ``target`` are read here; the floors
    are the gate's). ``attributes`` must be columns of ``test``.
    """
    _check_frame(test, split, label, score)
    _check_frame(validation, "validation", label, score)
    y, p = check_inputs(test[label].to_numpy(), test[score].to_numpy())
    y_val, p_val = check_inputs(validation[label].to_numpy(), validation[score].to_numpy())
    notes: list[str] = []

    metrics = bootstrap_metrics(y, p, n_boot=n_boot, seed=seed, level=level)
    reason = one_class_reason(y, f"{split} split")
    if reason:
        notes.append(f"{reason}: AUROC, AUPRC and calibration slope/intercept are undefined")
    positives = int(y.sum())
    if 0 < positives < FEW_POSITIVES:
        notes.append(
            f"{split} split has only {positives} positives (< {FEW_POSITIVES}): intervals are wide"
        )
    skipped = n_boot - (metrics["auroc"].n_boot_used or 0)
    if not reason and skipped:
        notes.append(
            f"{skipped} of {n_boot} bootstrap resamples had one class and were skipped for AUROC/AUPRC"
        )

    operating_point: dict[str, Any] = {
        "policy": op.policy,
        "target": op.target,
        "chosen_on": "validation",
        "validation_n": len(y_val),
        "validation_positives": int(y_val.sum()),
    }
    threshold, at_threshold = None, None
    try:
        threshold = choose_threshold(y_val, p_val, op)
    except ValueError as exc:
        notes.append(f"no operating threshold: {exc}")
    if threshold is not None:
        on_validation = threshold_metrics(y_val, p_val, threshold, n_boot=1, seed=seed)
        operating_point["validation_sensitivity"] = on_validation.sensitivity
        operating_point["validation_alert_rate"] = on_validation.alert_rate
        at_threshold = threshold_metrics(y, p, threshold, n_boot=n_boot, seed=seed, level=level)

    subgroups = subgroup_metrics(
        test, attributes, label=label, score=score, min_n=min_n, min_positives=min_positives
    )
    return EvaluationReport(
        model_name=model_name,
        model_version=str(model_version),
        split=split,
        n=len(y),
        positives=positives,
        prevalence=positives / len(y),
        metrics=metrics,
        operating_point=operating_point,
        threshold=threshold,
        threshold_metrics=at_threshold,
        subgroups=subgroups,
        bootstrap={
            "n_boot": n_boot,
            "seed": seed,
            "level": level,
            "method": "percentile, rows resampled",
            "metrics": list(BOOTSTRAP_METRICS),
        },
        split_digest=split_digest,
        notes=notes,
    )
