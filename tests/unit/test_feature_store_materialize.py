"""The fast materialization path (``materialize(..., fast=True)``) writes exactly what Feast's own
``store.materialize`` writes: the same SQLite rows byte for byte (value protos, value_text, event_ts),
the same Redis hashes, the same features read back through Feast, and the same materialization intervals
in the registry, so incremental windows resume alike. Every dtype of the feature specs (and the views'
timestamp stamps) is covered, with nulls, NaN, -0.0, infinities, empty strings and lists that take Feast's
own converter."""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from feature_store import EPOCH, StoreConfig, materialize, sync_repository
from feature_store.synthetic import gold_schema, random_gold, write_gold
from features.spec import FeatureViewSpec

pytestmark = pytest.mark.slow

U = lambda *a: datetime(*a, tzinfo=UTC)  # noqa: E731
VITALS = FeatureViewSpec(
    "vitals",
    {"hr": "float64", "n": "int64", "flag": "bool", "unit": "string", "emb": "float32_list"},
    ttl_days=10,
    stamped=True,
)  # + a timestamp column
# lists that are empty or hold a null element are left to Feast's converter: exercised here
NOTES = FeatureViewSpec("notes", {"vec": "float32_list", "chars": "int64"}, ttl_days=30)
SERVICES = {"readmission_v1": ["vitals", "notes"]}
IDS = ["p1", "p2", "p3", "p4", "p5", "p6", "p7"]


def _edge_rows() -> tuple[pa.Table, pa.Table]:
    """One row per awkward value, spread over two windows (before and after 2020-03-01)."""
    hr = [None, math.nan, -0.0, math.inf, -math.inf, 1e308, 5e-324]
    n = [None, 0, -1, 2**62, -(2**63), 7, None]
    flag = [None, False, True, True, None, False, True]
    unit = [None, "", "bpm", "é\u00e9\u4e2d", "x" * 300, "bpm", None]
    emb = [None, [0.0, -0.0], [math.nan, 1.5], [3.4e38, -1e-45, 1.0], [1.0] * 40, [2.0], None]
    times = [
        U(2020, 1, 1),
        U(2020, 1, 2),
        U(2020, 2, 1),
        U(2020, 2, 29, 23, 59, 59),
        U(2020, 3, 1, 0, 0, 1),
        U(2020, 4, 1, 12, 30, 15, 123456),
        U(2020, 5, 1),
    ]
    stamp = times[:-1] + [
        datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)
    ]  # before the epoch
    vitals = pa.Table.from_pylist(
        [
            dict(
                patient_id=p,
                event_timestamp=t,
                hr=a,
                n=b,
                flag=c,
                unit=d,
                emb=e,
                vitals_feature_ts=s,
            )
            for p, t, a, b, c, d, e, s in zip(IDS, times, hr, n, flag, unit, emb, stamp)
        ],
        schema=gold_schema(VITALS),
    )
    vec = [[1.0, None], [], None, [0.5], [], [1.0, 2.0], [None]]
    notes = pa.Table.from_pylist(
        [
            dict(patient_id=p, event_timestamp=t, vec=v, chars=i)
            for i, (p, t, v) in enumerate(zip(IDS, times, vec))
        ],
        schema=gold_schema(NOTES),
    )
    return vitals, notes


@pytest.fixture(scope="module")
def gold_refs(tmp_path_factory):
    """Edge rows plus random rows (several per patient: only the latest per window may be written)."""
    gold = tmp_path_factory.mktemp("mat") / "gold"
    vitals, notes = _edge_rows()
    write_gold(gold, VITALS, vitals)
    write_gold(gold, NOTES, notes)
    refs = {
        "vitals": write_gold(
            gold, VITALS, random_gold(VITALS, patients=150, rows=900, seed=3, list_len=8)
        ),
        "notes": write_gold(
            gold, NOTES, random_gold(NOTES, patients=150, rows=600, seed=4, list_len=5)
        ),
    }
    return refs


def _windows(store, fast: bool, monkeypatch) -> list[dict]:
    """Incremental twice (the first window, then resume from the registry), then the first window again
    with an explicit start: rows older than what is stored (SQLite overwrites them, Redis keeps the newer
    ones). The fast path never calls Feast's."""
    if fast:
        monkeypatch.setattr(
            store, "materialize", lambda *a, **k: pytest.fail("fell back to store.materialize")
        )
    return [
        materialize(store, U(2020, 3, 1), fast=fast),
        materialize(store, U(2021, 1, 1), fast=fast),
        materialize(store, U(2020, 3, 1), start=EPOCH, fast=fast),
    ]


def _intervals(store) -> dict[str, list]:
    store.refresh_registry()
    return {v.name: sorted(v.materialization_intervals) for v in store.list_feature_views()}


def _sqlite_rows(cfg: StoreConfig, view: str) -> list[tuple]:
    with sqlite3.connect(cfg.online_path) as conn:
        return conn.execute(
            f"SELECT entity_key, feature_name, value, value_text, vector_value, event_ts, created_ts "
            f"FROM {cfg.project}_{view} ORDER BY entity_key, feature_name"
        ).fetchall()


def _online(store, ids) -> tuple[dict, list]:
    resp = store.get_online_features(
        features=store.get_feature_service("readmission_v1"),
        entity_rows=[{"patient_id": p} for p in ids],
    )
    stamps = [[(t.seconds, t.nanos) for t in vec.event_timestamps] for vec in resp.proto.results]
    return resp.to_dict(), stamps


def _same_values(a: dict, b: dict) -> None:
    """Equal, NaN equal to NaN (the only value that is not equal to itself)."""
    assert a.keys() == b.keys()
    for col in a:
        assert repr(a[col]) == repr(b[col]), col


def test_fast_sqlite_equals_feast_materialize(tmp_path, gold_refs, monkeypatch):
    stores = {}
    for fast in (False, True):
        cfg = StoreConfig(tmp_path / f"feast_{fast}")
        store, _ = sync_repository(cfg, [VITALS, NOTES], gold_refs, SERVICES)
        windows = _windows(store, fast, monkeypatch)
        stores[fast] = (cfg, store, windows)
    (cfg_f, feast, win_f), (cfg_o, ours, win_o) = stores[False], stores[True]
    assert win_o == win_f and win_o[1]["vitals"] == (
        U(2020, 3, 1),
        U(2021, 1, 1),
    )  # resumed from the registry
    assert _intervals(ours) == _intervals(feast)
    for view in ("vitals", "notes"):
        rows = _sqlite_rows(cfg_o, view)
        assert rows == _sqlite_rows(cfg_f, view)
        assert len(rows) > 100 * len(
            gold_refs
        )  # the random patients are there, not only the edge rows
    ids = IDS + [f"p{i:06d}" for i in range(0, 160, 7)] + ["nobody"]
    got, want = _online(ours, ids), _online(feast, ids)
    _same_values(got[0], want[0])
    assert got[1] == want[1]
    # nothing new: a third incremental call materializes nothing on either path
    assert materialize(ours, U(2021, 1, 1)) == materialize(feast, U(2021, 1, 1), fast=False) == {}


def test_fast_path_only_takes_the_latest_row_of_the_window(tmp_path, gold_refs):
    cfg = StoreConfig(tmp_path / "feast")
    store, _ = sync_repository(cfg, [VITALS, NOTES], gold_refs, SERVICES)
    materialize(store, U(2020, 3, 1))
    first = _online(store, ["p4", "p5"])[0]
    assert first["hr"] == [
        math.inf,
        None,
    ]  # p5's row (2020-03-01 00:00:01) is after the first window
    materialize(store, U(2021, 1, 1))
    assert _online(store, ["p5"])[0]["hr"] == [-math.inf]


def test_fast_redis_equals_feast_materialize(tmp_path, gold_refs, redis_url, monkeypatch):
    import redis

    hashes = {}
    for fast, db in ((False, 1), (True, 2)):
        url = redis_url.rsplit("/", 1)[0] + f"/{db}"
        cfg = StoreConfig(tmp_path / f"feast_{fast}", online_store="redis", redis_url=url)
        store, _ = sync_repository(cfg, [VITALS, NOTES], gold_refs, SERVICES)
        windows = _windows(store, fast, monkeypatch)
        client = redis.Redis.from_url(url)
        hashes[fast] = (
            {k: client.hgetall(k) for k in client.scan_iter()},
            windows,
            _intervals(store),
            _online(store, IDS + ["p000001", "p000100", "nobody"]),
        )
        client.close()
    (h_f, win_f, int_f, on_f), (h_o, win_o, int_o, on_o) = hashes[False], hashes[True]
    assert len(h_o) > 100 and h_o == h_f  # every key, field, value proto and event timestamp
    assert win_o == win_f and int_o == int_f
    _same_values(on_o[0], on_f[0])
    assert on_o[1] == on_f[1]


@pytest.mark.parametrize(
    "window",
    [
        (EPOCH, U(2020, 3, 1)),
        (U(2020, 3, 1), U(2021, 1, 1)),
        (U(2020, 2, 1), U(2020, 3, 1, 0, 0, 1)),
    ],  # both ends are edge rows' times
    ids=["first", "second", "closed-both-ends"],
)
def test_direct_pull_returns_the_rows_of_feasts_pull(tmp_path, gold_refs, window):
    """``feature_store.latest`` (what the fast path reads) gives the rows of the offline store's
    ``pull_latest_from_table_or_query`` for each view: same patients, values and times, NaN and nulls kept."""
    from feast.utils import _get_column_names

    from feature_store.latest import parquet_source, pull_latest

    store, _ = sync_repository(
        StoreConfig(tmp_path / "feast"), [VITALS, NOTES], gold_refs, SERVICES
    )
    provider = store._get_provider()
    for name in ("vitals", "notes"):
        fv = store.get_feature_view(name)
        join_keys, features, ts_col, _ = _get_column_names(
            fv, [store.get_entity(e) for e in fv.entities]
        )
        path = parquet_source(store, fv)
        assert path is not None and path.suffix == ".parquet"
        ours = pull_latest(path, join_keys, features, ts_col, *window)
        feast = provider.offline_store.pull_latest_from_table_or_query(
            config=store.config,
            data_source=fv.batch_source,
            join_key_columns=join_keys,
            feature_name_columns=features,
            timestamp_field=ts_col,
            created_timestamp_column=None,
            start_date=window[0],
            end_date=window[1],
        ).to_arrow()
        assert ours.num_rows == feast.num_rows > 0 and set(ours.column_names) == set(
            feast.column_names
        )
        got = ours.sort_by("patient_id").to_pylist()
        want = feast.select(ours.column_names).sort_by("patient_id").to_pylist()
        assert repr(got) == repr(want)  # NaN compares by repr
        if window[0] == U(2020, 2, 1):
            assert {"p3", "p5"} <= {
                r["patient_id"] for r in got
            }  # the rows stamped exactly at start and end


def test_only_local_parquet_sources_are_read_directly(tmp_path, gold_refs):
    from types import SimpleNamespace

    from feast import FileSource
    from feast.data_format import DeltaFormat, ParquetFormat

    from feature_store.latest import parquet_source

    store, _ = sync_repository(
        StoreConfig(tmp_path / "feast"), [VITALS, NOTES], gold_refs, SERVICES
    )
    path = parquet_source(store, store.get_feature_view("vitals"))

    def source(**kw):
        return SimpleNamespace(batch_source=FileSource(timestamp_field="event_timestamp", **kw))

    assert parquet_source(store, source(path=f"file://{path}", file_format=ParquetFormat())) == path
    assert (
        parquet_source(store, source(path="s3://bucket/x.parquet", file_format=ParquetFormat()))
        is None
    )
    assert (
        parquet_source(store, source(path=str(path.parent), file_format=ParquetFormat())) is None
    )  # a directory
    assert parquet_source(store, source(path=str(path), file_format=DeltaFormat())) is None
