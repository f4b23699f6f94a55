"""Gold stage: each task's labelled index events and the point-in-time feature tables (silver -> gold).

Reads silver only; the blocking PHI-leak gate on silver stops this stage when it fails.
"""

from collections.abc import Iterator

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetOut,
    DataVersion,
    MetadataValue,
    Output,
    asset_check,
    multi_asset,
)

from assets.resources import PlatformResource, commit_metadata
from features.build import (
    FEATURE_VIEWS,
    SOURCES,
    build_feature_tables,
    index_events_table,
    write_feature_tables,
    write_index_events,
)
from features.tasks import TASKS, build_index_events, event_times
from lakehouse.delta import DeltaRef

TASK_SILVER = ["encounters", "conditions"]
FEATURE_SILVER = sorted({table for table, _, _ in SOURCES.values()})


def events_key(task: str) -> AssetKey:
    return AssetKey(["gold", index_events_table(task)])


def feature_key(view: str) -> AssetKey:
    return AssetKey(["gold", "features", view])


@multi_asset(
    outs={
        task: AssetOut(
            key=events_key(task),
            kinds={"delta"},
            description=f"{definition.description}: labelled index events (patient pseudonym, "
            "event time, label), censored at the data horizon.",
        )
        for task, definition in TASKS.items()
    },
    ins={name: AssetIn(key=["silver", name]) for name in TASK_SILVER},
    group_name="gold",
    description="Index events and labels of every task definition (features/tasks.py).",
)
def index_events(
    context: AssetExecutionContext, platform: PlatformResource, **silver: DeltaRef
) -> Iterator[Output]:
    results = {task: build_index_events(definition, silver) for task, definition in TASKS.items()}
    refs = write_index_events(
        results,
        platform.settings.gold,
        lambda name: commit_metadata(context, f"gold/{name}"),
        silver=silver,
    )
    for task, result in results.items():
        summary, ref = result.summary(), refs[task]
        context.log.info(
            f"{task}: {summary['events']} index events, prevalence {summary['prevalence']:.1%}"
        )
        yield Output(
            ref,
            output_name=task,
            data_version=DataVersion(str(ref.version)),
            metadata={
                "table_uri": MetadataValue.path(ref.uri),
                "delta_version": ref.version,
                "row_count": summary["events"],
                "positives": summary["positives"],
                "prevalence": summary["prevalence"],
                "candidates": summary["candidates"],
                "excluded": MetadataValue.json(summary["excluded"]),
                "censored": summary["censored"],
                "horizon": summary["horizon"] or "none",
                "silver_versions": MetadataValue.json({n: r.version for n, r in silver.items()}),
            },
        )


def _prevalence_check(task: str):
    low, high = TASKS[task].prevalence_range

    @asset_check(
        asset=events_key(task),
        name="label_prevalence",
        description=f"Warns when {task}'s label prevalence is outside {low}-{high} or no event exists.",
    )
    def check(ref: DeltaRef) -> AssetCheckResult:
        labels = pl.from_arrow(ref.read(columns=["label"]))["label"]
        prevalence = float(labels.mean()) if labels.len() else 0.0
        return AssetCheckResult(
            passed=labels.len() > 0 and low <= prevalence <= high,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "events": labels.len(),
                "prevalence": round(prevalence, 4),
                "range": f"{low}-{high}",
            },
        )

    return check


@multi_asset(
    outs={
        view.name: AssetOut(
            key=feature_key(view.name),
            kinds={"delta"},
            description=f"{view.description} (TTL {view.ttl_days} days)",
        )
        for view in FEATURE_VIEWS
    },
    ins={
        **{f"silver_{name}": AssetIn(key=["silver", name]) for name in FEATURE_SILVER},
        **{f"events_{task}": AssetIn(key=events_key(task)) for task in TASKS},
    },
    group_name="gold",
    description="Point-in-time feature tables keyed by (patient pseudonym, event time) at every task's index "
    "events: only data stamped at or before the event contributes.",
)
def feature_tables(
    context: AssetExecutionContext, platform: PlatformResource, **refs: DeltaRef
) -> Iterator[Output]:
    silver = {n.removeprefix("silver_"): r for n, r in refs.items() if n.startswith("silver_")}
    events = event_times(
        *[pl.from_arrow(r.read()) for n, r in refs.items() if n.startswith("events_")]
    )
    frames = build_feature_tables(silver, events)
    written = write_feature_tables(
        frames,
        platform.settings.gold / "features",
        lambda name: commit_metadata(context, f"gold/features/{name}"),
        silver=silver,
    )
    for view in FEATURE_VIEWS:
        ref = written[view.name]
        yield Output(
            ref,
            output_name=view.name,
            data_version=DataVersion(str(ref.version)),
            metadata={
                "table_uri": MetadataValue.path(ref.uri),
                "delta_version": ref.version,
                "row_count": frames[view.name].height,
                "features": len(view.features),
                "ttl_days": view.ttl_days,
                "silver_table": SOURCES[view.name][0],
                "silver_version": silver[SOURCES[view.name][0]].version,
            },
        )


FEATURE_ASSETS = [index_events, feature_tables]
FEATURE_CHECKS = [_prevalence_check(task) for task in TASKS]
