"""A new gold version that changes rows stamped before the last materialized window still reaches the online
store (Feast's own incremental window would skip them), and an unchanged version loads nothing."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pyarrow as pa
import pytest

from feature_store import StoreConfig, get_online_features, sync_repository
from feature_store.refresh import earliest_change, refresh_online_store
from feature_store.synthetic import gold_schema, write_gold
from features.spec import FeatureViewSpec

pytestmark = pytest.mark.slow

U = lambda *a: datetime(*a, tzinfo=UTC)  # noqa: E731
VIEW = FeatureViewSpec(
    "vitals", {"hr": "float64", "emb": "float32_list"}, ttl_days=30, stamped=True
)
SERVICES = {"svc": ["vitals"]}


def _table(rows):
    return pa.Table.from_pylist(
        [
            dict(patient_id=p, event_timestamp=t, hr=hr, emb=[hr], vitals_feature_ts=t)
            for p, t, hr in rows
        ],
        schema=gold_schema(VIEW),
    )


def _online(store, ids, at):
    return get_online_features(store, ids, "svc", as_of=at)["hr"].to_list()


def test_changed_old_rows_are_reloaded_and_unchanged_versions_skip(tmp_path):
    gold, cfg = tmp_path / "gold", StoreConfig(tmp_path / "feast")
    v0 = write_gold(
        gold,
        VIEW,
        _table(
            [("p1", U(2020, 1, 1), 1.0), ("p1", U(2020, 1, 5), 2.0), ("p2", U(2020, 1, 2), 5.0)]
        ),
    )
    store, _ = sync_repository(cfg, [VIEW], {"vitals": v0}, SERVICES)
    first = refresh_online_store(store, cfg, {"vitals": v0}, U(2020, 2, 1))
    assert first["vitals"]["reason"] == "first load" and first["vitals"]["window"]
    assert _online(store, ["p1", "p2"], U(2020, 1, 6)) == [2.0, 5.0]

    # late data corrects p1's 5 Jan row and adds p3 on 3 Jan: both before the last window's end (1 Feb)
    v1 = write_gold(
        gold,
        VIEW,
        _table(
            [
                ("p1", U(2020, 1, 1), 1.0),
                ("p1", U(2020, 1, 5), 2.5),
                ("p2", U(2020, 1, 2), 5.0),
                ("p3", U(2020, 1, 3), 7.0),
            ]
        ),
        mode="overwrite",
    )
    assert earliest_change(v0, v1) == U(2020, 1, 3)
    store, _ = sync_repository(cfg, [VIEW], {"vitals": v1}, SERVICES)
    second = refresh_online_store(store, cfg, {"vitals": v1}, U(2020, 2, 1))
    assert second["vitals"]["reason"].startswith("version 0 -> 1") and second["vitals"]["window"][
        0
    ].startswith("2020-01-03")
    assert _online(store, ["p1", "p2", "p3"], U(2020, 1, 6)) == [2.5, 5.0, 7.0]

    third = refresh_online_store(store, cfg, {"vitals": v1}, U(2020, 2, 1))
    assert third["vitals"] == {"reason": "incremental", "window": None, "gold_version": 1}


def test_an_unreadable_previous_version_forces_a_full_reload(tmp_path):
    gold, cfg = tmp_path / "gold", StoreConfig(tmp_path / "feast")
    v0 = write_gold(gold, VIEW, _table([("p1", U(2020, 1, 5), 2.0)]))
    store, _ = sync_repository(cfg, [VIEW], {"vitals": v0}, SERVICES)
    refresh_online_store(store, cfg, {"vitals": v0}, U(2020, 2, 1))
    shutil.rmtree(v0.uri)  # the table is recreated: its old version is gone
    write_gold(gold, VIEW, _table([("p1", U(2019, 12, 30), 9.0)]))
    v1 = write_gold(gold, VIEW, _table([("p1", U(2019, 12, 30), 9.0)]), mode="overwrite")
    store, _ = sync_repository(cfg, [VIEW], {"vitals": v1}, SERVICES)
    report = refresh_online_store(store, cfg, {"vitals": v1}, U(2020, 2, 1))
    assert report["vitals"]["reason"] == "full reload (the gold table was recreated)"
    assert report["vitals"]["window"][0].startswith("1970-01-01")


def test_a_vacuumed_previous_version_forces_a_full_reload(tmp_path, monkeypatch):
    import feature_store.refresh as refresh

    gold, cfg = tmp_path / "gold", StoreConfig(tmp_path / "feast")
    v0 = write_gold(gold, VIEW, _table([("p1", U(2020, 1, 5), 2.0)]))
    store, _ = sync_repository(cfg, [VIEW], {"vitals": v0}, SERVICES)
    refresh_online_store(store, cfg, {"vitals": v0}, U(2020, 2, 1))
    v1 = write_gold(gold, VIEW, _table([("p1", U(2020, 1, 5), 3.0)]), mode="overwrite")

    def gone(old, new):
        raise FileNotFoundError(f"{old.uri}@{old.version} was vacuumed")

    monkeypatch.setattr(refresh, "earliest_change", gone)
    store, _ = sync_repository(cfg, [VIEW], {"vitals": v1}, SERVICES)
    report = refresh_online_store(store, cfg, {"vitals": v1}, U(2020, 2, 1))
    assert (
        report["vitals"]["reason"] == "full reload (previous version unreadable: FileNotFoundError)"
    )
    assert _online(store, ["p1"], U(2020, 1, 6)) == [3.0]


def test_switching_the_online_store_reloads_everything_into_the_new_one(tmp_path):
    gold = tmp_path / "gold"
    v0 = write_gold(gold, VIEW, _table([("p1", U(2020, 1, 5), 2.0), ("p2", U(2020, 1, 20), 3.0)]))
    sqlite_cfg = StoreConfig(tmp_path / "feast")
    store, _ = sync_repository(sqlite_cfg, [VIEW], {"vitals": v0}, SERVICES)
    refresh_online_store(store, sqlite_cfg, {"vitals": v0}, U(2020, 2, 1))
    # same Feast home and registry (its intervals say "loaded until 1 Feb"), another online store
    packed_cfg = StoreConfig(tmp_path / "feast", online_store="packed")
    store, _ = sync_repository(packed_cfg, [VIEW], {"vitals": v0}, SERVICES)
    report = refresh_online_store(store, packed_cfg, {"vitals": v0}, U(2020, 2, 1))
    assert report["vitals"]["reason"].startswith("full reload (online store changed from sqlite:")
    assert _online(store, ["p1", "p2"], U(2020, 1, 21)) == [2.0, 3.0]
