"""Feast over gold Delta tables is point-in-time correct (DuckDB offline store over pinned-version
snapshots), equals the hand-written Polars as-of join, and serves online what training saw offline."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from polars.testing import assert_frame_equal

from feature_store import (
    StoreConfig,
    asof_join,
    get_historical_features,
    get_online_features,
    materialize,
    sync_repository,
)
from feature_store.synthetic import gold_schema, random_gold, write_gold
from features.spec import FeatureViewSpec

pytestmark = pytest.mark.slow

U = lambda *a: datetime(*a, tzinfo=UTC)  # noqa: E731
VITALS = FeatureViewSpec(
    "vitals",
    {"hr": "float64", "n": "int64", "flag": "bool", "unit": "string", "emb": "float32_list"},
    ttl_days=10,
)
LABS = FeatureViewSpec("labs", {"cr": "float64"}, ttl_days=30)
SERVICES = {"readmission_v1": ["vitals", "labs"], "vitals_only_v1": ["vitals"]}


def _rows(spec, rows):
    return pa.Table.from_pylist(rows, schema=gold_schema(spec))


def _v(pid, ts, hr):
    return dict(
        patient_id=pid, event_timestamp=ts, hr=hr, n=int(hr), flag=hr > 1, unit="bpm", emb=[hr, -hr]
    )


@pytest.fixture()
def small(tmp_path):
    """vitals overwritten once (v0 stale values must not be read), labs appended."""
    gold = tmp_path / "gold"
    write_gold(
        gold,
        VITALS,
        _rows(
            VITALS,
            [
                _v("p1", U(2020, 1, 1), 1.0),
                _v("p1", U(2020, 1, 5), 2.0),
                _v("p2", U(2020, 1, 1), 9.0),
                _v("p9", U(2019, 12, 25), 7.0),
            ],
        ),
    )
    vitals = write_gold(
        gold,
        VITALS,
        _rows(
            VITALS,
            [
                _v("p1", U(2020, 1, 1), 10.0),
                _v("p1", U(2020, 1, 5), 20.0),
                _v("p2", U(2020, 1, 1), 90.0),
            ],
        ),
        mode="overwrite",
    )
    labs = write_gold(
        gold, LABS, _rows(LABS, [dict(patient_id="p1", event_timestamp=U(2020, 1, 3), cr=0.5)])
    )
    store, _ = sync_repository(
        StoreConfig(tmp_path / "feast"), [VITALS, LABS], {"vitals": vitals, "labs": labs}, SERVICES
    )
    return store, {"vitals": vitals, "labs": labs}


def test_entity_row_without_feature_in_ttl_gets_nulls_not_dropped(small):
    store, _ = small
    ent = pl.DataFrame(
        {
            "patient_id": ["p2", "p3", "p1"],
            "event_timestamp": [U(2020, 1, 20), U(2020, 1, 2), U(2020, 1, 4)],
        }
    )
    out = get_historical_features(store, ent, "readmission_v1")
    assert out.height == 3
    assert out["patient_id"].to_list() == ["p2", "p3", "p1"]  # input order kept
    assert out.row(0)[2:] == (None,) * 6  # p2's vitals are 19 days old (ttl 10): nulls, row kept
    assert out.row(1)[2:] == (None,) * 6  # unknown patient
    assert out.row(2, named=True)["hr"] == 10.0 and out.row(2, named=True)["cr"] == 0.5


def test_delta_overwrite_is_not_double_read(small):
    store, refs = small
    assert refs["vitals"].version == 1
    # p9 exists only in the overwritten version 0: a reader ignoring the log would find it
    ent = pl.DataFrame(
        {
            "patient_id": ["p9", "p1", "p1"],
            "event_timestamp": [U(2020, 1, 1), U(2020, 1, 2), U(2020, 1, 6)],
        }
    )
    out = get_historical_features(store, ent, "vitals_only_v1")
    assert out["hr"].to_list() == [None, 10.0, 20.0]  # v1 values, never v0's 1.0 / 2.0 / 7.0
    assert out.height == 3


def test_value_stamped_after_entity_timestamp_is_never_joined(small):
    store, _ = small
    ent = pl.DataFrame(
        {
            "patient_id": ["p1", "p1", "p1", "p1"],
            "event_timestamp": [
                U(2019, 12, 31),
                U(2020, 1, 4, 23, 59, 59),
                U(2020, 1, 5),
                U(2020, 1, 2),
            ],
        }
    )
    out = get_historical_features(store, ent, "readmission_v1")
    assert out["hr"].to_list() == [
        None,
        10.0,
        20.0,
        10.0,
    ]  # exact timestamp joins; one second early does not
    assert out["cr"].to_list() == [None, 0.5, 0.5, None]  # labs at 01-03 is in the future of 01-02


def test_ttl_boundary_is_inclusive(small):
    store, _ = small
    ent = pl.DataFrame(
        {"patient_id": ["p2", "p2"], "event_timestamp": [U(2020, 1, 11), U(2020, 1, 11, 0, 0, 1)]}
    )
    assert get_historical_features(store, ent, "vitals_only_v1")["hr"].to_list() == [90.0, None]


@pytest.fixture(scope="module")
def random_repo(tmp_path_factory):
    root = tmp_path_factory.mktemp("fs_random")
    gold = root / "gold"
    vit = random_gold(VITALS, patients=400, rows=6000, seed=1)
    labs = random_gold(LABS, patients=400, rows=2500, seed=2)
    refs = {"vitals": write_gold(gold, VITALS, vit), "labs": write_gold(gold, LABS, labs)}
    store, _ = sync_repository(StoreConfig(root / "feast"), [VITALS, LABS], refs, SERVICES)
    return store, pl.from_arrow(vit), pl.from_arrow(labs)


def _random_entities(vit: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    pids = [f"p{i:06d}" for i in rng.integers(0, 420, n)]  # some patients have no features at all
    start = np.datetime64("2019-12-01T00:00:00", "us")
    ts = start + rng.integers(0, 420 * 24 * 3600, n).astype("timedelta64[s]")
    ent = pl.DataFrame({"patient_id": pids, "event_timestamp": ts}).with_columns(
        pl.col("event_timestamp").dt.replace_time_zone("UTC"), label=pl.lit(1)
    )
    # exact feature timestamps and exact TTL boundaries, where off-by-one errors live
    exact = vit.sample(200, seed=seed).select("patient_id", "event_timestamp", label=pl.lit(2))
    edge = vit.sample(200, seed=seed + 1).select(
        "patient_id", pl.col("event_timestamp") + timedelta(days=VITALS.ttl_days), label=pl.lit(3)
    )
    return pl.concat([ent, exact, edge])


def test_feast_equals_polars_asof_on_random_rows(random_repo):
    store, vit, labs = random_repo
    ent = _random_entities(vit, 4000, seed=7)
    t0 = time.perf_counter()
    got = get_historical_features(store, ent, "readmission_v1")
    feast_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    want = asof_join(ent, [(VITALS, vit), (LABS, labs)])
    polars_s = time.perf_counter() - t0
    print(f"\nPIT {ent.height} rows: feast/duckdb {feast_s:.2f}s, polars asof {polars_s:.3f}s")
    assert got.height == ent.height
    assert_frame_equal(got, want.select(got.columns), check_dtypes=False)
    assert (
        got["hr"].null_count() > 0 and got["hr"].null_count() < got.height
    )  # both cases exercised


def test_online_equals_offline_at_latest_event(random_repo):
    store, vit, labs = random_repo
    t0 = time.perf_counter()
    materialize(
        store, U(2020, 7, 1)
    )  # incremental in two windows: the second overwrites newer rows
    windows = materialize(store, U(2021, 1, 1))
    mat_s = time.perf_counter() - t0
    assert all(w[0] == U(2020, 7, 1) for w in windows.values())
    latest = (
        pl.concat(
            [
                vit.select("patient_id", "event_timestamp"),
                labs.select("patient_id", "event_timestamp"),
            ]
        )
        .group_by("patient_id")
        .agg(pl.col("event_timestamp").max())
        .sort("patient_id")
    )
    sample = latest.sample(120, seed=3)
    offline = get_historical_features(store, sample, "readmission_v1").drop("event_timestamp")
    ids = sample["patient_id"].to_list()
    online = get_online_features(
        store, ids, "readmission_v1", as_of=sample["event_timestamp"].to_list()
    )
    assert_frame_equal(online, offline.select(online.columns), check_dtypes=False)
    lat = []
    for pid in ids[:100]:
        t0 = time.perf_counter()
        get_online_features(store, [pid], "readmission_v1")
        lat.append(time.perf_counter() - t0)
    p50, p99 = np.percentile(lat, [50, 99]) * 1000
    print(
        f"\nmaterialize {latest.height} patients x 2 views in {mat_s:.2f}s; "
        f"online read p50 {p50:.1f} ms p99 {p99:.1f} ms"
    )


def test_online_read_applies_ttl_against_as_of(small):
    store, _ = small
    materialize(store, U(2020, 2, 1))
    fresh = get_online_features(store, ["p1", "p2"], "readmission_v1", as_of=U(2020, 1, 6))
    assert fresh["hr"].to_list() == [20.0, 90.0]
    stale = get_online_features(
        store, ["p1", "p2", "nobody"], "readmission_v1", as_of=U(2020, 1, 20)
    )
    assert stale["hr"].to_list() == [None, None, None]  # 15 and 19 days old, ttl 10
    assert stale["cr"].to_list() == [0.5, None, None]  # labs ttl 30
    raw = get_online_features(
        store, ["p2"], "readmission_v1", as_of=U(2020, 1, 20), enforce_ttl=False
    )
    assert raw["hr"].to_list() == [90.0]


def test_new_pinned_version_and_ttl_are_picked_up_after_resync(small, tmp_path):
    store, refs = small
    materialize(store, U(2020, 2, 1))
    assert get_online_features(store, ["p2"], "readmission_v1", as_of=U(2020, 1, 20))[
        "hr"
    ].to_list() == [None]
    gold = tmp_path / "gold"
    v2 = write_gold(
        gold, VITALS, _rows(VITALS, [_v("p2", U(2020, 1, 8), 5.0)])
    )  # append: version 2
    longer = FeatureViewSpec("vitals", VITALS.features, ttl_days=40)
    store2, defs = sync_repository(
        StoreConfig(tmp_path / "feast"),
        [longer, LABS],
        {"vitals": v2, "labs": refs["labs"]},
        SERVICES,
    )
    assert defs.views["vitals"].tags["delta_version"] == "2"
    ent = pl.DataFrame(
        {"patient_id": ["p2", "p1"], "event_timestamp": [U(2020, 2, 1), U(2020, 2, 1)]}
    )
    assert get_historical_features(store2, ent, "vitals_only_v1")["hr"].to_list() == [5.0, 20.0]
    # the same store object sees the re-applied TTL (its memo follows the registry)
    store.refresh_registry()
    assert get_online_features(store, ["p1"], "readmission_v1", as_of=U(2020, 1, 20))[
        "hr"
    ].to_list() == [20.0]
    # an incremental run after the last window does not see a row stamped inside it: an explicit start does
    assert materialize(store2, U(2020, 2, 1)) == {}
    materialize(store2, U(2020, 2, 1), start=U(2020, 1, 1))
    assert get_online_features(store2, ["p2"], "readmission_v1", as_of=U(2020, 2, 1))[
        "hr"
    ].to_list() == [5.0]


def test_snapshot_export_pins_version_and_table(tmp_path):
    import shutil

    from feature_store.offline import export_snapshot

    gold = tmp_path / "gold"
    ref0 = write_gold(gold, LABS, _rows(LABS, []))  # an empty table still has a schema
    ref1 = write_gold(
        gold, LABS, _rows(LABS, [dict(patient_id="p1", event_timestamp=U(2020, 1, 3), cr=0.5)])
    )
    s0, s1 = export_snapshot(ref0, tmp_path / "off"), export_snapshot(ref1, tmp_path / "off")
    assert pl.read_parquet(s0).height == 0 and pl.read_parquet(s1).height == 1
    assert export_snapshot(ref1, tmp_path / "off") == s1  # idempotent
    shutil.rmtree(ref0.uri)  # recreated at the same path: version 0 again, a different table
    again = write_gold(
        gold, LABS, _rows(LABS, [dict(patient_id="p2", event_timestamp=U(2020, 1, 3), cr=1.5)])
    )
    assert again.version == 0
    s0b = export_snapshot(again, tmp_path / "off")
    assert s0b != s0 and pl.read_parquet(s0b)["patient_id"].to_list() == ["p2"]
