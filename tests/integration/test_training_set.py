"""The training set joins the FeatureService point in time through Feast, splits by time, and records its
lineage and a content digest that does not depend on how the rows were stored."""

from __future__ import annotations

import json
from datetime import timedelta

import numpy as np
import polars as pl
import pyarrow as pa
import pytest

from feature_store import StoreConfig, sync_repository
from feature_store.synthetic import random_gold, write_gold
from feature_store.training_set import SORT_KEY, build_training_set, write_training_set
from features.build import VIEWS
from features.splits import SPLITS
from features.tasks import READMISSION_30D
from lakehouse.delta import DeltaRef, commit_metadata_of, write
from lineage.digest import table_digest

pytestmark = pytest.mark.slow
TASK = READMISSION_30D


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("ts")
    refs = {}
    for i, view in enumerate(TASK.feature_views):
        table = random_gold(VIEWS[view], patients=60, rows=600, seed=i, list_len=256)
        refs[view] = write_gold(root / "gold", VIEWS[view], table)
    labs = pl.from_arrow(refs["labs"].read())
    # index events one hour after some labs rows (so the labs row is joined), labelled at random
    rng = np.random.default_rng(0)
    events = (
        labs.select(
            "patient_id",
            (pl.col("event_timestamp") + pl.duration(hours=1)).alias("event_timestamp"),
        )
        .unique()
        .sort("event_timestamp")
        .gather_every(2)
        .head(300)
        .with_columns(
            pl.format("enc{}", pl.int_range(pl.len())).alias("encounter_id"),
            pl.Series("label", (rng.random(300) < 0.3).astype(np.int8)),
        )
    )
    # a labs row stamped 30 minutes after the first event: in the future of that event, never joined
    first = events.row(0, named=True)
    future = (
        labs.filter(pl.col("patient_id") == first["patient_id"])
        .head(1)
        .with_columns(
            event_timestamp=pl.lit(first["event_timestamp"] + timedelta(minutes=30)),
            labs_feature_ts=pl.lit(first["event_timestamp"] + timedelta(minutes=30)),
            sodium_last=pl.lit(999.0),
        )
    )
    refs["labs"] = write_gold(
        root / "gold", VIEWS["labs"], future.to_arrow().cast(refs["labs"].read().schema)
    )
    events_ref = write(str(root / "gold" / "index_events_readmission_30d"), events.to_arrow())
    store, _ = sync_repository(
        StoreConfig(root / "feast"),
        [VIEWS[v] for v in TASK.feature_views],
        refs,
        {TASK.feature_service: list(TASK.feature_views)},
    )
    return root, store, events, refs, events_ref


def test_features_are_joined_point_in_time_and_split_by_time(world):
    _, store, events, _, _ = world
    ts = build_training_set(store, events, TASK)
    frame = ts.frame
    assert frame.columns[:5] == ["patient_id", "event_timestamp", "encounter_id", "label", "split"]
    assert set(frame["split"]) == set(SPLITS)
    assert frame.height == events.height - sum(ts.split.purged.values())
    checks = ts.checks()
    assert not any(checks["window_crossings"].values())
    assert all(v["future"] == 0 and v["stale"] == 0 for v in checks["feature_times"].values())
    first = events.row(0, named=True)
    row = frame.filter(pl.col("encounter_id") == first["encounter_id"])
    if row.height:  # the planted future value (999) is never joined
        assert row["sodium_last"].item() != 999.0
        assert row["labs_feature_ts"].item() == first["event_timestamp"] - timedelta(hours=1)
    assert frame["note_embedding"].drop_nulls().list.len().unique().to_list() == [256]


def test_the_written_set_records_digest_service_and_upstream_versions(world):
    root, store, events, refs, events_ref = world
    ts = build_training_set(store, events, TASK)
    upstream = {events_ref.table: events_ref, **{f"features/{v}": r for v, r in refs.items()}}
    ref = write_training_set(ts, root / "gold", upstream, {"dagster_run_id": "run-9"})
    meta = commit_metadata_of(ref.uri, ref.version)
    assert meta["content_digest"] == ts.digest and meta["feature_service"] == "readmission_v1"
    assert meta["dagster_run_id"] == "run-9" and meta["task_version"] == "v1"
    recorded = json.loads(meta["upstream_versions"])
    assert recorded["gold"]["features/labs"]["version"] == refs["labs"].version == 1
    assert recorded["gold"]["index_events_readmission_30d"]["version"] == events_ref.version
    split = json.loads(meta["split_summary"])
    assert sum(s["events"] for s in split["splits"].values()) == ts.frame.height
    # the digest survives the Delta round trip and does not depend on row order or string/list layout
    stored = ref.read()
    assert table_digest(stored, SORT_KEY) == ts.digest
    shuffled = pl.from_arrow(stored).sample(fraction=1.0, shuffle=True, seed=1).to_arrow()
    large = shuffled.cast(
        pa.schema(
            [
                f.with_type(pa.large_string()) if f.type == pa.string() else f
                for f in shuffled.schema
            ]
        )
    )
    assert table_digest(large, SORT_KEY) == ts.digest
    changed = pl.from_arrow(stored).with_columns(pl.col("label").reverse()).to_arrow()
    assert table_digest(changed, SORT_KEY) != ts.digest


def test_rebuilding_from_the_same_versions_gives_the_same_digest(world):
    _, store, events, _, _ = world
    assert (
        build_training_set(store, events.reverse(), TASK).digest
        == build_training_set(store, events, TASK).digest
    )


def test_a_registry_serving_other_versions_than_the_run_applied_is_refused(world):
    from assets.training_set import _check_registry
    from feature_store.refs import FeastRef

    _, store, _, refs, _ = world
    stale = FeastRef(
        home="x",
        project="clinical_mlops",
        services={},
        online_store="sqlite",
        views={v: r.version for v, r in refs.items()} | {"labs": refs["labs"].version + 5},
    )
    with pytest.raises(
        RuntimeError, match="Feast view 'labs' now serves gold version 1, but this run applied 6"
    ):
        _check_registry(store, stale)
    _check_registry(
        store, stale.model_copy(update={"views": {v: r.version for v, r in refs.items()}})
    )
    assert isinstance(refs["labs"], DeltaRef)
