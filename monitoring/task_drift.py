"""One task's drift measurement: its recent gold features against its reference training split.

Kept out of the Dagster asset (assets/monitoring.py), which only loads the pinned inputs, calls this per task,
appends the rows to gold/feature_drift and reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from features.build import VIEWS
from features.spec import ENTITY_KEY, EVENT_TIMESTAMP
from features.tasks import TaskDefinition
from lakehouse.delta import DeltaRef
from monitoring.drift import DriftReport, drift_report, recent_rows
from monitoring.reference import Reference, training_split

DRIFT_SCHEMA = {
    "measured_at": pl.Datetime("us", "UTC"),
    "dagster_run_id": pl.String,
    "task": pl.String,
    "registered_model": pl.String,
    "feature": pl.String,
    "kind": pl.String,
    "psi": pl.Float64,
    "threshold": pl.Float64,
    "drifted": pl.Boolean,
    "reference_uri": pl.String,
    "reference_version": pl.Int64,
    "reference_source": pl.String,
    "recent_rows": pl.Int64,
    "reference_rows": pl.Int64,
}


@dataclass
class TaskDrift:
    """What the asset reports for one task (``summary``) and the rows it appends (``rows``)."""

    summary: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)


def measure_task(
    task: TaskDefinition,
    reference: Reference | None,
    views: Mapping[str, DeltaRef],
    *,
    threshold: float,
    recent_days: int,
    bins: int,
    min_rows: int,
    measured_at: datetime,
    run_id: str,
) -> TaskDrift:
    """PSI per feature of ``task``'s views (each patient's latest row within ``recent_days`` of the newest one)
    against the train split of ``reference``; not judged without a reference or with fewer than ``min_rows``."""
    if reference is None:
        return TaskDrift({"status": "no reference"})
    features = [f for v in task.feature_views for f in VIEWS[v].features]
    ref_frame = training_split(reference.ref, features)
    recent = {}
    for view in task.feature_views:
        frame = pl.from_arrow(
            views[view].read(columns=[ENTITY_KEY, EVENT_TIMESTAMP, *VIEWS[view].features])
        )
        recent[view] = recent_rows(frame, recent_days).drop(ENTITY_KEY, EVENT_TIMESTAMP)
    n_recent = min((f.height for f in recent.values()), default=0)
    if n_recent < min_rows or ref_frame.height < min_rows:
        return TaskDrift(
            {"status": "too few rows", "recent_rows": n_recent, "reference_rows": ref_frame.height}
        )
    per_feature, skipped = {}, []
    for view, frame in recent.items():
        report = drift_report(ref_frame, frame, VIEWS[view].features, bins=bins)
        per_feature.update(report.features)
        skipped += report.skipped
    report = DriftReport(per_feature, skipped)
    summary = {
        "status": "drifted" if report.max_psi > threshold else "stable",
        "max_psi": round(report.max_psi, 6),
        "worst": report.worst(5),
        "drifted_features": report.drifted(threshold),
        "psi": report.psi,
        "skipped": sorted(skipped),
        "reference": f"{reference.ref.uri}@v{reference.ref.version}",
        "reference_source": reference.source,
        "recent_rows": n_recent,
        "reference_rows": ref_frame.height,
        "model": task.registered_model,
    }
    rows = [
        {
            "measured_at": measured_at,
            "dagster_run_id": run_id,
            "task": task.name,
            "registered_model": task.registered_model,
            "feature": d.feature,
            "kind": d.kind,
            "psi": d.psi,
            "threshold": threshold,
            "drifted": d.psi > threshold,
            "reference_uri": reference.ref.uri,
            "reference_version": reference.ref.version,
            "reference_source": reference.source,
            "recent_rows": d.recent_rows,
            "reference_rows": d.reference_rows,
        }
        for d in per_feature.values()
    ]
    return TaskDrift(summary, rows)
