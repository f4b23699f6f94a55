"""Redis as the production online store, against a real redis-server started on 127.0.0.1 by this test
(``.ci/run`` installs the Debian package). Skipped, with the reason, only where the binary is missing."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from feature_store import (
    StoreConfig,
    get_historical_features,
    get_online_features,
    materialize,
    sync_repository,
)
from feature_store.config import redis_connection_string
from feature_store.synthetic import random_gold, write_gold
from features.spec import FeatureViewSpec

pytestmark = pytest.mark.slow

U = lambda *a: datetime(*a, tzinfo=UTC)  # noqa: E731
VITALS = FeatureViewSpec(
    "vitals", {"hr": "float64", "n": "int64", "unit": "string", "emb": "float32_list"}, ttl_days=10
)
LABS = FeatureViewSpec("labs", {"cr": "float64"}, ttl_days=30)


def test_redis_connection_string():
    assert redis_connection_string("redis://127.0.0.1:6390/2") == "127.0.0.1:6390,db=2"
    assert redis_connection_string("redis://:s3cret@h:1") == "h:1,password=s3cret"
    with pytest.raises(ValueError):
        redis_connection_string("http://h:1")


def test_redis_online_equals_offline_at_latest_event(tmp_path, redis_url):
    gold = tmp_path / "gold"
    vit = random_gold(VITALS, patients=300, rows=3000, seed=11)
    labs = random_gold(LABS, patients=300, rows=1200, seed=12)
    refs = {"vitals": write_gold(gold, VITALS, vit), "labs": write_gold(gold, LABS, labs)}
    cfg = StoreConfig(tmp_path / "feast", online_store="redis", redis_url=redis_url)
    store, _ = sync_repository(cfg, [VITALS, LABS], refs, {"readmission_v1": ["vitals", "labs"]})
    assert "type: redis" in cfg.yaml_path.read_text()
    t0 = time.perf_counter()
    materialize(store, U(2021, 1, 1))
    mat_s = time.perf_counter() - t0
    vit_pl, labs_pl = pl.from_arrow(vit), pl.from_arrow(labs)
    latest = (
        pl.concat(
            [
                vit_pl.select("patient_id", "event_timestamp"),
                labs_pl.select("patient_id", "event_timestamp"),
            ]
        )
        .group_by("patient_id")
        .agg(pl.col("event_timestamp").max())
        .sort("patient_id")
    )
    sample = latest.sample(100, seed=5)
    offline = get_historical_features(store, sample, "readmission_v1").drop("event_timestamp")
    ids = sample["patient_id"].to_list()
    online = get_online_features(
        store, ids, "readmission_v1", as_of=sample["event_timestamp"].to_list()
    )
    assert_frame_equal(online, offline.select(online.columns), check_dtypes=False)
    assert get_online_features(store, ["nobody"], "readmission_v1")["hr"].to_list() == [None]
    lat = []
    for pid in ids:
        t0 = time.perf_counter()
        get_online_features(store, [pid], "readmission_v1")
        lat.append(time.perf_counter() - t0)
    p50, p99 = np.percentile(lat, [50, 99]) * 1000
    print(
        f"\nredis: materialize {latest.height} patients x 2 views {mat_s:.2f}s; read p50 {p50:.1f} ms p99 {p99:.1f} ms"
    )
