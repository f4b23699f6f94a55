"""Feature drift: PSI of each trained task's recent gold features against its champion's training split.

Thin: the statistics live in monitoring/drift.py, one task's measurement in monitoring/task_drift.py, the
reference lookup in monitoring/reference.py. The asset appends one row per (task, feature) to
gold/feature_drift and reports PSI per feature and the worst ones; its check warns above the threshold, and
orchestration/automation.py's drift sensor turns that into a retraining run.
"""

from datetime import UTC, datetime

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    MetadataValue,
    Output,
    asset,
)

from assets.features import feature_key
from assets.resources import PlatformResource, commit_metadata
from features.tasks import TASKS
from lakehouse.delta import DeltaRef, table_uri, write
from monitoring.reference import reference_for
from monitoring.task_drift import DRIFT_SCHEMA, measure_task

DRIFT_KEY = AssetKey(["monitoring", "feature_drift"])
DRIFT_TABLE = "feature_drift"
DRIFT_CHECK = "psi_below_threshold"
TRAINED = [task for task in TASKS.values() if task.train]
DRIFT_VIEWS = sorted({view for task in TRAINED for view in task.feature_views})


@asset(
    key=DRIFT_KEY,
    group_name="monitoring",
    kinds={"delta"},
    ins={view: AssetIn(key=feature_key(view)) for view in DRIFT_VIEWS},
    check_specs=[
        AssetCheckSpec(
            DRIFT_CHECK,
            asset=DRIFT_KEY,
            description="Max PSI of every trained task's "
            "features at or below the drift threshold (warns; the drift sensor retrains).",
        )
    ],
    description="Population stability index of each trained task's recent features (each patient's latest "
    "gold row in the recent window) against the champion's training split; appended to "
    "gold/feature_drift.",
)
def feature_drift(context: AssetExecutionContext, platform: PlatformResource, **views: DeltaRef):
    settings = platform.settings
    threshold = settings.drift_psi_threshold
    now = datetime.now(UTC)
    rows, tasks, references = [], {}, {}
    for task in TRAINED:
        reference = reference_for(settings, task)
        measured = measure_task(
            task,
            reference,
            views,
            threshold=threshold,
            recent_days=settings.drift_recent_days,
            bins=settings.drift_bins,
            min_rows=settings.drift_min_rows,
            measured_at=now,
            run_id=context.run.run_id,
        )
        if measured.summary["status"] in ("no reference", "too few rows"):
            context.log.warning(f"{task.name}: drift not judged ({measured.summary})")
        if reference is not None:
            references[task.name] = {
                "uri": reference.ref.uri,
                "version": reference.ref.version,
                "source": reference.source,
            }
        tasks[task.name], rows = measured.summary, rows + measured.rows
    judged = {name: t for name, t in tasks.items() if "max_psi" in t}
    max_psi = max((t["max_psi"] for t in judged.values()), default=0.0)
    drifted = sorted(name for name, t in judged.items() if t["status"] == "drifted")
    uri = table_uri(settings.gold, DRIFT_TABLE)
    ref = write(
        uri,
        pl.DataFrame(rows, schema=DRIFT_SCHEMA).to_arrow(),
        mode="append",
        metadata=commit_metadata(
            context,
            DRIFT_KEY.to_user_string(),
            feature_versions={v: r.version for v, r in sorted(views.items())},
            references=references,
        ),
        table=DRIFT_TABLE,
    )
    worst = sorted(
        ((f"{name}:{f}", p) for name, t in judged.items() for f, p in t["worst"]),
        key=lambda x: -x[1],
    )[:5]
    yield Output(
        ref,
        metadata={
            "max_psi": max_psi,
            "threshold": threshold,
            "drifted_tasks": MetadataValue.json(drifted),
            "drifted_models": MetadataValue.json([judged[n]["model"] for n in drifted]),
            "worst_features": MetadataValue.md(
                "\n".join(f"- `{n}`: {p:.3f}" for n, p in worst) or "none"
            ),
            "psi": MetadataValue.json({name: t.get("psi", {}) for name, t in tasks.items()}),
            "tasks": MetadataValue.json(
                {name: {k: v for k, v in t.items() if k != "psi"} for name, t in tasks.items()}
            ),
            "recent_days": settings.drift_recent_days,
            "table_uri": MetadataValue.path(uri),
            "delta_version": ref.version,
            "feature_versions": MetadataValue.json(
                {v: r.version for v, r in sorted(views.items())}
            ),
            "references": MetadataValue.json(references),
        },
    )
    yield AssetCheckResult(
        check_name=DRIFT_CHECK,
        passed=not drifted,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "max_psi": max_psi,
            "threshold": threshold,
            "drifted_tasks": MetadataValue.json(drifted),
            "worst_features": MetadataValue.json([list(w) for w in worst]),
        },
    )


MONITORING_ASSETS = [feature_drift]
