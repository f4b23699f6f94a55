"""The packed SQLite online store (``online_store="packed"``, one row per patient and view) serves exactly
what Feast's SQLite store serves for the same gold data; the fast materialization writes exactly what
Feast's ``store.materialize`` writes into it (rows, payload bytes, registry intervals); incremental windows
replace rows, a correction with the same event time lands and a corrected (older) newest row replaces;
an apply that deletes a view drops its table."""

from __future__ import annotations

import json
import math
import sqlite3
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from polars.testing import assert_frame_equal

from feature_store import EPOCH, StoreConfig, get_online_features, materialize, sync_repository
from feature_store.synthetic import START, gold_schema, random_gold, write_gold
from features.spec import FeatureViewSpec

pytestmark = pytest.mark.slow

U = lambda *a: datetime(*a, tzinfo=UTC)  # noqa: E731
VITALS = FeatureViewSpec(
    "vitals",
    {"hr": "float64", "n": "int64", "flag": "bool", "unit": "string", "emb": "float32_list"},
    ttl_days=10,
    stamped=True,
)
LABS = FeatureViewSpec("labs", {"cr": "float64", "k": "float64"}, ttl_days=60)
NOTES = FeatureViewSpec("notes", {"vec": "float32_list", "chars": "int64"}, ttl_days=0)  # no TTL
SPECS = [VITALS, LABS, NOTES]
SERVICES = {"svc": ["vitals", "labs", "notes"], "labs_only": ["labs"]}
EDGE_IDS = [f"e{i}" for i in range(6)]


def _edge_rows() -> dict[str, pa.Table]:
    """Awkward values (nulls, NaN, -0.0, infinities, long strings, lists left to Feast's converter)."""
    times = [
        START + timedelta(days=d, hours=h)
        for d, h in ((1, 0), (5, 3), (20, 0), (40, 12), (70, 0), (89, 23))
    ]
    hr = [None, math.nan, -0.0, math.inf, -math.inf, 5e-324]
    vitals = pa.Table.from_pylist(
        [
            dict(
                patient_id=p,
                event_timestamp=t,
                hr=h,
                n=[None, 0, -1, 2**62, -(2**63), 7][i],
                flag=[None, False, True, True, None, False][i],
                unit=[None, "", "bpm", "é中", "x" * 300, "bpm"][i],
                emb=[None, [0.0, -0.0], [math.nan, 1.5], [3.4e38, -1e-45], [1.0] * 40, [2.0]][i],
                vitals_feature_ts=t,
            )
            for i, (p, t, h) in enumerate(zip(EDGE_IDS, times, hr))
        ],
        schema=gold_schema(VITALS),
    )
    notes = pa.Table.from_pylist(
        [
            dict(patient_id=p, event_timestamp=t, vec=v, chars=i)
            for i, (p, t, v) in enumerate(
                zip(EDGE_IDS, times, [[1.0, None], [], None, [0.5], [], [1.0, 2.0]])
            )
        ],
        schema=gold_schema(NOTES),
    )
    labs = pa.Table.from_pylist(
        [dict(patient_id=p, event_timestamp=t, cr=None, k=-0.0) for p, t in zip(EDGE_IDS, times)],
        schema=gold_schema(LABS),
    )
    return {"vitals": vitals, "notes": notes, "labs": labs}


@pytest.fixture(scope="module")
def gold_refs(tmp_path_factory):
    gold = tmp_path_factory.mktemp("packed") / "gold"
    for spec in SPECS:
        write_gold(gold, spec, _edge_rows()[spec.name])
    return {
        spec.name: write_gold(
            gold, spec, random_gold(spec, patients=60, rows=400, seed=10 + i, days=90, list_len=6)
        )
        for i, spec in enumerate(SPECS)
    }


@pytest.fixture(scope="module")
def stores(tmp_path_factory, gold_refs):
    """The same gold data materialized (two windows) into Feast's SQLite store and the packed store."""
    root = tmp_path_factory.mktemp("packed-stores")
    out = {}
    for kind in ("sqlite", "packed"):
        store, _ = sync_repository(
            StoreConfig(root / kind, online_store=kind), SPECS, gold_refs, SERVICES
        )
        materialize(store, START + timedelta(days=45))
        materialize(store, START + timedelta(days=91))
        out[kind] = store
    return out


IDS = EDGE_IDS + [f"p{i:06d}" for i in range(60)] + ["nobody"]


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("full_feature_names", [False, True])
@pytest.mark.parametrize("days", [30, 60, 95, None])  # None: no TTL check
def test_packed_serves_what_feast_sqlite_serves(stores, direct, full_feature_names, days):
    kw = dict(direct=direct, full_feature_names=full_feature_names)
    kw.update(enforce_ttl=False) if days is None else kw.update(as_of=START + timedelta(days=days))
    for service in SERVICES:
        packed = get_online_features(stores["packed"], IDS, service, **kw)
        assert_frame_equal(packed, get_online_features(stores["sqlite"], IDS, service, **kw))
        assert packed.row(-1)[1:] == (None,) * (packed.width - 1)  # unknown patient: nulls
        assert packed.drop("patient_id").null_count().sum_horizontal().item() < packed.height * (
            packed.width - 1
        )


def test_packed_raw_feast_response_equals_sqlite(stores):
    """Feast's own response (values, statuses, event times) from either store, with per-patient stamps."""

    def raw(store):
        resp = store.get_online_features(
            features=store.get_feature_service("svc"), entity_rows=[{"patient_id": p} for p in IDS]
        )
        return (
            resp.to_dict(),
            [[(t.seconds, t.nanos) for t in r.event_timestamps] for r in resp.proto.results],
            [list(r.statuses) for r in resp.proto.results],
        )

    (packed_values, *packed_meta), (sqlite_values, *sqlite_meta) = (
        raw(stores["packed"]),
        raw(stores["sqlite"]),
    )
    assert packed_values.keys() == sqlite_values.keys()
    for col in packed_values:
        assert repr(packed_values[col]) == repr(sqlite_values[col]), col  # NaN compares by repr
    assert packed_meta == sqlite_meta


def _packed_rows(store, view: str) -> list[tuple]:
    path = store.config.online_store.path
    with sqlite3.connect(path) as conn:
        return conn.execute(
            f"SELECT entity_key, event_ts, created_ts, names, payload FROM {store.project}_{view} "
            "JOIN _packed_layouts ON layout = _packed_layouts.id ORDER BY entity_key"
        ).fetchall()


def _intervals(store) -> dict[str, list]:
    store.refresh_registry()
    return {v.name: sorted(v.materialization_intervals) for v in store.list_feature_views()}


def test_fast_packed_equals_feast_materialize(tmp_path, gold_refs, monkeypatch):
    """Incremental twice, then the first window again from the epoch (its older rows replace: as Feast's
    SQLite store does)."""
    out = {}
    for fast in (False, True):
        store, _ = sync_repository(
            StoreConfig(tmp_path / str(fast), online_store="packed"), SPECS, gold_refs, SERVICES
        )
        if fast:
            monkeypatch.setattr(
                store, "materialize", lambda *a, **k: pytest.fail("fell back to store.materialize")
            )
        windows = [
            materialize(store, U(2020, 2, 15), fast=fast),
            materialize(store, U(2021, 1, 1), fast=fast),
        ]
        after_two = {spec.name: _packed_rows(store, spec.name) for spec in SPECS}
        windows.append(materialize(store, U(2020, 2, 15), start=EPOCH, fast=fast))
        rows = {spec.name: _packed_rows(store, spec.name) for spec in SPECS}
        assert rows != after_two  # the re-run of the older window wrote its (older) latest rows
        out[fast] = (windows, rows, _intervals(store))
    assert out[True][0] == out[False][0] and out[True][0][1]["vitals"] == (
        U(2020, 2, 15),
        U(2021, 1, 1),
    )
    assert out[True][1] == out[False][1]  # every key, event time, created time and payload byte
    assert (
        sum(len(r) for r in out[True][1].values()) > 3 * 60
    )  # ~60 random + 6 edge patients per view
    assert out[True][2] == out[False][2]


@pytest.mark.parametrize("fast", [True, False])
def test_incremental_windows_and_same_time_correction(tmp_path, fast):
    spec = LABS
    gold = tmp_path / "gold"
    t1, t2 = U(2020, 1, 10), U(2020, 2, 10)

    def rows(*items):
        return pa.Table.from_pylist(
            [dict(patient_id=p, event_timestamp=t, cr=v, k=1.0) for p, t, v in items],
            schema=gold_schema(spec),
        )

    def sync(ref):
        return sync_repository(
            StoreConfig(tmp_path / "feast", online_store="packed"),
            [spec],
            {spec.name: ref},
            {"labs_only": ["labs"]},
        )[0]

    def cr(store):
        frame = get_online_features(
            store, ["a", "b", "c"], "labs_only", enforce_ttl=False, direct=not fast
        )
        return frame["cr"].to_list()

    store = sync(write_gold(gold, spec, rows(("a", t1, 1.0), ("b", t1, 2.0))))
    materialize(store, U(2020, 2, 1), fast=fast)
    assert cr(store) == [1.0, 2.0, None]
    # a second window: b and c move on, a does not
    store = sync(write_gold(gold, spec, rows(("b", t2, 20.0), ("c", t2, 30.0))))
    assert materialize(store, U(2020, 3, 1), fast=fast) == {"labs": (U(2020, 2, 1), U(2020, 3, 1))}
    assert cr(store) == [1.0, 20.0, 30.0]
    # corrections: a same-time row for b lands; c's newest row is gone and its corrected latest (t1) replaces it
    store = sync(
        write_gold(
            gold, spec, rows(("a", t1, 1.0), ("b", t2, 21.0), ("c", t1, -1.0)), mode="overwrite"
        )
    )
    materialize(store, U(2020, 3, 1), start=EPOCH, fast=fast)
    assert cr(store) == [1.0, 21.0, -1.0]
    stamps = {
        row[0][-1:]: row[1] for row in _packed_rows(store, "labs")
    }  # key's last byte: the patient id
    us = timedelta(microseconds=1)
    assert stamps == {b"a": (t1 - EPOCH) // us, b"b": (t2 - EPOCH) // us, b"c": (t1 - EPOCH) // us}


def _tables(store) -> set[str]:
    with sqlite3.connect(store.config.online_store.path) as conn:
        return {
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        } - {"_packed_layouts"}


def _layout_tables(store) -> set[str]:
    with sqlite3.connect(store.config.online_store.path) as conn:
        return {r[0] for r in conn.execute("SELECT table_name FROM _packed_layouts")}


def test_apply_deleting_a_view_drops_its_table_and_teardown_drops_all(tmp_path, gold_refs):
    store, defs = sync_repository(
        StoreConfig(tmp_path / "feast", online_store="packed"), SPECS, gold_refs, SERVICES
    )
    assert _tables(store) == {
        "clinical_mlops_vitals",
        "clinical_mlops_labs",
        "clinical_mlops_notes",
    }
    materialize(store, U(2021, 1, 1))
    assert _layout_tables(store) == _tables(store)
    store.apply([], objects_to_delete=[defs.services["svc"], defs.views["notes"]], partial=False)
    assert (
        _tables(store) == _layout_tables(store) == {"clinical_mlops_vitals", "clinical_mlops_labs"}
    )
    assert (
        len(get_online_features(store, IDS, "labs_only", enforce_ttl=False).drop_nulls()) > 30
    )  # others intact
    store.teardown()
    assert _tables(store) == _layout_tables(store) == set()


def test_rows_written_before_a_view_gained_a_feature_keep_their_layout(tmp_path):
    """Each row names its feature set (``layout``): after the view gains a feature, rows not yet reloaded
    still read their values right (the new feature is missing there, i.e. null), rewritten rows have it."""
    gold = tmp_path / "gold"
    t1 = U(2020, 1, 10)
    narrow = FeatureViewSpec("labs", {"cr": "float64", "k": "float64"}, ttl_days=0)
    wide = FeatureViewSpec("labs", {"cr": "float64", "k": "float64", "alb": "float64"}, ttl_days=0)
    cfg = StoreConfig(tmp_path / "feast", online_store="packed")
    ref = write_gold(
        gold / "a",
        narrow,
        pa.Table.from_pylist(
            [
                dict(patient_id=p, event_timestamp=t1, cr=c, k=4.0)
                for p, c in (("a", 1.0), ("b", 2.0))
            ],
            schema=gold_schema(narrow),
        ),
    )
    store, _ = sync_repository(cfg, [narrow], {"labs": ref}, {"labs_only": ["labs"]})
    materialize(store, U(2020, 2, 1))
    ref = write_gold(
        gold / "b",
        wide,
        pa.Table.from_pylist(
            [dict(patient_id="b", event_timestamp=t1, cr=20.0, k=None, alb=3.5)],
            schema=gold_schema(wide),
        ),
    )
    store, _ = sync_repository(cfg, [wide], {"labs": ref}, {"labs_only": ["labs"]})
    materialize(store, U(2020, 2, 1), start=EPOCH)
    frame = get_online_features(store, ["a", "b"], "labs_only", enforce_ttl=False)
    assert frame.select("cr", "k", "alb").rows() == [(1.0, 4.0, None), (20.0, None, 3.5)]
    with sqlite3.connect(cfg.packed_online_path) as conn:
        assert sorted(r[0] for r in conn.execute("SELECT names FROM _packed_layouts")) == [
            '["alb", "cr", "k"]',
            '["cr", "k"]',
        ]


def test_a_format_1_table_is_recreated_and_the_refresh_reloads_it(tmp_path, gold_refs):
    """A table of the first payload format (a Map per row, no ``layout`` column) is dropped and recreated
    on first touch; the refresh's store identity names the format, so the refresh reloads it in full."""
    from feature_store.refresh import refresh_online_store, state_path, store_identity

    cfg = StoreConfig(tmp_path / "feast", online_store="packed")
    cfg.packed_online_path.parent.mkdir(parents=True)
    with sqlite3.connect(cfg.packed_online_path) as conn:
        conn.execute(
            "CREATE TABLE clinical_mlops_labs (entity_key BLOB PRIMARY KEY, event_ts INTEGER NOT NULL, "
            "created_ts INTEGER, payload BLOB NOT NULL)"
        )
        conn.execute("INSERT INTO clinical_mlops_labs VALUES (x'00', 0, NULL, x'0a00')")
    state_path(cfg).write_text(
        json.dumps(
            {
                "labs": {
                    "uri": gold_refs["labs"].uri,
                    "version": gold_refs["labs"].version,
                    "table_id": "x",
                    "ref": gold_refs["labs"].model_dump(mode="json"),
                    "online_store": f"packed:{cfg.packed_online_path}",
                }
            }
        )
    )
    assert store_identity(cfg) == f"packed/2:{cfg.packed_online_path}"
    store, _ = sync_repository(cfg, [LABS], {"labs": gold_refs["labs"]}, {"labs_only": ["labs"]})
    with sqlite3.connect(cfg.packed_online_path) as conn:
        assert conn.execute("SELECT count(*) FROM clinical_mlops_labs").fetchone() == (0,)
        assert "layout" in {r[1] for r in conn.execute("PRAGMA table_info(clinical_mlops_labs)")}
    report = refresh_online_store(store, cfg, {"labs": gold_refs["labs"]}, U(2021, 1, 1))
    assert report["labs"]["reason"].startswith("full reload (online store changed")
    assert len(get_online_features(store, IDS, "labs_only", enforce_ttl=False).drop_nulls()) > 30


def test_a_row_whose_payload_does_not_match_its_layout_is_an_error_naming_it(tmp_path, gold_refs):
    cfg = StoreConfig(tmp_path / "feast", online_store="packed")
    store, _ = sync_repository(cfg, [LABS], {"labs": gold_refs["labs"]}, {"labs_only": ["labs"]})
    materialize(store, U(2021, 1, 1))
    with sqlite3.connect(cfg.packed_online_path) as conn:  # one value where the layout names two
        conn.execute("UPDATE clinical_mlops_labs SET payload = x'0a00'")
    with pytest.raises(
        ValueError,
        match=r"table clinical_mlops_labs, entity key .*holds 1 values, its layout names 2",
    ):
        get_online_features(store, IDS[:1], "labs_only", enforce_ttl=False)
