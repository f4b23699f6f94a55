"""Training sets: each task's index events joined point in time through its FeatureService, split by time.

Reads gold only (the index events and, through Feast, the feature tables the registry pins). The checks
read the written table back: what training will read is what they judge.
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

from assets.feature_store import REGISTRY_KEY
from assets.features import events_key
from assets.resources import PlatformResource, commit_metadata
from feature_store.config import open_store
from feature_store.refs import FeastRef
from feature_store.runtime import store_config
from feature_store.training_set import (
    SORT_KEY,
    build_training_set,
    feature_stamps,
    training_set_table,
    write_training_set,
)
from features.build import VIEWS
from features.splits import (
    SPLIT,
    SPLITS,
    feature_time_violations,
    split_order_violations,
    window_crossings,
)
from features.tasks import TASKS
from lakehouse.delta import DeltaRef, commit_metadata_of
from lineage.digest import table_digest


def training_set_key(task: str) -> AssetKey:
    return AssetKey(["gold", training_set_table(task)])


@multi_asset(
    outs={
        task: AssetOut(
            key=training_set_key(task),
            kinds={"delta", "feast"},
            description=f"{definition.description}: index events with labels, features of "
            f"{definition.feature_service} joined point in time, split by index time.",
        )
        for task, definition in TASKS.items()
    },
    ins={
        "registry": AssetIn(key=REGISTRY_KEY),
        **{f"events_{task}": AssetIn(key=events_key(task)) for task in TASKS},
    },
    group_name="gold",
    description="Point-in-time training sets through Feast's offline store (one per task version).",
)
def training_sets(
    context: AssetExecutionContext,
    platform: PlatformResource,
    registry: FeastRef,
    **events: DeltaRef,
) -> Iterator[Output]:
    store = open_store(store_config(platform.settings))
    _check_registry(store, registry)
    for task, definition in TASKS.items():
        ref = events[f"events_{task}"]
        ts = build_training_set(store, pl.from_arrow(ref.read()), definition)
        views = {
            f"features/{v}": DeltaRef(
                table=v, uri=str(platform.settings.gold / "features" / v), version=registry.views[v]
            )
            for v in definition.feature_views
        }
        written = write_training_set(
            ts,
            platform.settings.gold,
            {ref.table: ref, **views},
            commit_metadata(context, "/".join(training_set_key(task).path)),
        )
        summary = ts.summary()
        sizes = {name: part["events"] for name, part in summary["splits"].items()}
        context.log.info(f"{task}: {ts.frame.height} rows ({sizes}), digest {ts.digest[:19]}…")
        yield Output(
            written,
            output_name=task,
            data_version=DataVersion(str(written.version)),
            metadata={
                "table_uri": MetadataValue.path(written.uri),
                "delta_version": written.version,
                "row_count": ts.frame.height,
                "content_digest": ts.digest,
                "feature_service": definition.feature_service,
                "features": summary["features"],
                "split_sizes": MetadataValue.json(sizes),
                "splits": MetadataValue.json(summary["splits"]),
                "patient_overlap": MetadataValue.json(summary["patient_overlap"]),
                "purged": MetadataValue.json(summary["purged"]),
                "split_starts": MetadataValue.json(summary["starts"]),
                "index_events_version": ref.version,
                "feature_versions": MetadataValue.json(
                    {v: registry.views[v] for v in definition.feature_views}
                ),
            },
        )


def _check_registry(store, registry: FeastRef) -> None:
    """The registry must still serve the gold versions this run's feast/registry applied: a later apply by
    another run would make the training set's recorded lineage wrong."""
    for view, version in registry.views.items():
        applied = store.get_feature_view(view).tags.get("delta_version")
        if applied != str(version):
            raise RuntimeError(
                f"Feast view {view!r} now serves gold version {applied}, but this run applied "
                f"{version}: re-materialize feast/registry and the training sets together"
            )


def _read(ref: DeltaRef) -> pl.DataFrame:
    frame = pl.from_arrow(ref.read())
    assert isinstance(frame, pl.DataFrame)
    return frame


def _checks(task: str) -> list:
    definition = TASKS[task]
    key = training_set_key(task)
    low, high = definition.prevalence_range

    @asset_check(
        asset=key,
        name="label_prevalence",
        blocking=True,
        description=f"Blocks training when the overall label prevalence is outside {low}-{high} or the "
        "train or validation split lacks a class (no model selection without both); warns "
        "when the test split lacks one (its AUROC is undefined).",
    )
    def label_prevalence(ref: DeltaRef) -> AssetCheckResult:
        frame = _read(ref)
        prevalence = float(frame["label"].mean()) if frame.height else 0.0
        per_split = {s: frame.filter(pl.col(SPLIT) == s)["label"] for s in SPLITS}
        one_class = [s for s, labels in per_split.items() if labels.n_unique() < 2]
        hard = (
            frame.height == 0
            or not low <= prevalence <= high
            or bool({"train", "validation"} & set(one_class))
        )
        return AssetCheckResult(
            passed=not hard and not one_class,
            severity=AssetCheckSeverity.ERROR if hard else AssetCheckSeverity.WARN,
            metadata={
                "prevalence": round(prevalence, 4),
                "range": f"{low}-{high}",
                "positives_by_split": MetadataValue.json(
                    {s: int(v.sum()) for s, v in per_split.items()}
                ),
                "prevalence_by_split": MetadataValue.json(
                    {
                        s: round(float(v.mean()), 4) if v.len() else None
                        for s, v in per_split.items()
                    }
                ),
                "splits_with_one_class": ", ".join(one_class) or "none",
            },
        )

    @asset_check(
        asset=key,
        name="temporal_split",
        blocking=True,
        description="Splits in time order and non-empty, no label window crossing into the next split, "
        "and the stored rows match the recorded content digest.",
    )
    def temporal_split(ref: DeltaRef) -> AssetCheckResult:
        frame = _read(ref)
        crossings = window_crossings(frame, definition)
        order = split_order_violations(frame)
        sizes = {s: frame.filter(pl.col(SPLIT) == s).height for s in SPLITS}
        recorded = commit_metadata_of(ref.uri, ref.version).get("content_digest")
        digest = table_digest(frame.to_arrow(), SORT_KEY)
        passed = (
            not any(crossings.values())
            and not any(order.values())
            and all(sizes.values())
            and digest == recorded
        )
        return AssetCheckResult(
            passed=passed,
            metadata={
                "window_crossings": MetadataValue.json(crossings),
                "order_violations": MetadataValue.json(order),
                "split_sizes": MetadataValue.json(sizes),
                "digest_matches": digest == recorded,
            },
        )

    @asset_check(
        asset=key,
        name="point_in_time",
        blocking=True,
        description="No joined feature row is stamped after its index time or older than its view's TTL.",
    )
    def point_in_time(ref: DeltaRef) -> AssetCheckResult:
        frame = _read(ref)
        found = feature_time_violations(frame, feature_stamps(definition))
        future = sum(v["future"] for v in found.values())
        stale = sum(v["stale"] for v in found.values())
        return AssetCheckResult(
            passed=future == 0 and stale == 0,
            metadata={
                "future_feature_rows": future,
                "stale_feature_rows": stale,
                "by_view": MetadataValue.json(found),
                "views_without_stamp": ", ".join(
                    v for v in definition.feature_views if not VIEWS[v].stamped
                )
                or "none",
            },
        )

    return [label_prevalence, temporal_split, point_in_time]


TRAINING_SET_ASSETS = [training_sets]
TRAINING_SET_CHECKS = [check for task in TASKS for check in _checks(task)]
