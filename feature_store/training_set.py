"""A task's training set: its labelled index events, split by time, joined point in time through Feast.

The features come from the task's FeatureService through the offline store (``get_historical_features``),
never from the gold tables directly, so training reads exactly what the registry serves. The result is
written to ``<gold>/training_set_<task>`` in one commit whose metadata is the set's lineage: content
digest, FeatureService, the Delta versions of the index events and of every feature table (with the
silver versions those were built from), the split sizes, patient overlap and purged events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from features.build import VIEWS
from features.spec import ENTITY_KEY, EVENT_TIMESTAMP
from features.splits import (
    SPLIT,
    SplitResult,
    feature_time_violations,
    temporal_split,
    window_crossings,
)
from features.tasks import TaskDefinition
from lakehouse.delta import DeltaRef, commit_metadata_of, table_uri, write
from lineage.digest import table_digest

from .offline import get_historical_features

KEY_COLUMNS = [ENTITY_KEY, EVENT_TIMESTAMP, "encounter_id", "label", SPLIT]
SORT_KEY = [EVENT_TIMESTAMP, ENTITY_KEY, "encounter_id"]


def training_set_table(task: str) -> str:
    return f"training_set_{task}"


def feature_stamps(task: TaskDefinition) -> list[tuple[str, str, int]]:
    """(view, stamp column, TTL days) of the task's stamped views: what ``feature_time_violations`` checks."""
    return [
        (v, VIEWS[v].feature_ts, VIEWS[v].ttl_days) for v in task.feature_views if VIEWS[v].stamped
    ]


@dataclass
class TrainingSet:
    task: TaskDefinition
    frame: pl.DataFrame  # KEY_COLUMNS, then the FeatureService's features (and each view's stamp)
    split: SplitResult
    digest: str

    def summary(self) -> dict[str, Any]:
        return {
            "task": self.task.name,
            "task_version": self.task.version,
            "feature_service": self.task.feature_service,
            "digest": self.digest,
            "rows": self.frame.height,
            "columns": self.frame.width,
            "features": sum(len(VIEWS[v].features) for v in self.task.feature_views),
            **self.split.summary(),
        }

    def checks(self) -> dict[str, Any]:
        """The facts the asset checks judge: label windows crossing splits, feature stamps after (or older
        than the TTL before) their index time."""
        return {
            "window_crossings": window_crossings(self.frame, self.task),
            "feature_times": feature_time_violations(self.frame, feature_stamps(self.task)),
        }


def build_training_set(store, events: pl.DataFrame, task: TaskDefinition) -> TrainingSet:
    """``events``: the task's index events (patient_id, event_timestamp, encounter_id, label)."""
    split = temporal_split(
        events.select(ENTITY_KEY, EVENT_TIMESTAMP, "encounter_id", "label"), task
    )
    features = get_historical_features(store, split.frame.select(KEY_COLUMNS), task.feature_service)
    missing = [c for v in task.feature_views for c in VIEWS[v].columns if c not in features.columns]
    if missing:
        raise RuntimeError(
            f"FeatureService {task.feature_service!r} did not return {missing}: "
            "the registry is out of date with features/build.py (re-materialize feast/registry)"
        )
    frame = features.select(
        *KEY_COLUMNS, *[c for v in task.feature_views for c in VIEWS[v].columns]
    )
    frame = frame.sort(SORT_KEY)
    return TrainingSet(task, frame, split, table_digest(frame.to_arrow(), SORT_KEY))


def upstream_versions(refs: Mapping[str, DeltaRef]) -> dict[str, Any]:
    """The Delta versions a training set depends on: each ref given, and the silver versions each of those
    recorded in its own commit (so the chain continues to silver, and from silver's commits to bronze)."""
    versions: dict[str, Any] = {
        name: {"uri": ref.uri, "version": ref.version} for name, ref in sorted(refs.items())
    }
    silver: dict[str, int] = {}
    for ref in refs.values():
        recorded = commit_metadata_of(ref.uri, ref.version).get("silver_versions")
        if recorded:
            silver.update(orjson.loads(recorded))
    return {"gold": versions, "silver": dict(sorted(silver.items()))}


def write_training_set(
    ts: TrainingSet,
    gold_dir: Path | str,
    upstream: Mapping[str, DeltaRef],
    commit_metadata: Mapping[str, Any] | None = None,
) -> DeltaRef:
    """Overwrite ``<gold_dir>/training_set_<task>`` in one commit carrying the set's lineage."""
    name = training_set_table(ts.task.name)
    summary = ts.summary()
    meta = {
        **(commit_metadata or {}),
        "task": ts.task.name,
        "task_version": ts.task.version,
        "feature_service": ts.task.feature_service,
        "content_digest": ts.digest,
        "split_summary": orjson.dumps(
            {k: summary[k] for k in ("splits", "patient_overlap", "starts", "purged")}
        ).decode(),
        "upstream_versions": orjson.dumps(upstream_versions(upstream)).decode(),
    }
    return write(table_uri(Path(gold_dir), name), ts.frame.to_arrow(), metadata=meta, table=name)
