"""The direct online read (one ``online_read`` per view) returns exactly what Feast's
``get_online_features`` path returns, TTL applied the same way, for every dtype the views use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from polars.testing import assert_frame_equal

from feature_store import StoreConfig, get_online_features, materialize, sync_repository
from feature_store.synthetic import START, random_gold, write_gold
from features.spec import FeatureViewSpec

pytestmark = pytest.mark.slow

VITALS = FeatureViewSpec(
    "vitals",
    {"hr": "float64", "n": "int64", "flag": "bool", "unit": "string", "emb": "float32_list"},
    ttl_days=10,
    stamped=True,
)
LABS = FeatureViewSpec("labs", {"cr": "float64"}, ttl_days=60)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("online-read")
    refs = {
        spec.name: write_gold(
            root / "gold", spec, random_gold(spec, patients=40, rows=300, seed=i, days=90)
        )
        for i, spec in enumerate((VITALS, LABS))
    }
    store, _ = sync_repository(
        StoreConfig(root / "feast"), [VITALS, LABS], refs, {"svc": ["vitals", "labs"]}
    )
    materialize(store, START + timedelta(days=91))
    return store


@pytest.mark.parametrize("full_feature_names", [False, True])
@pytest.mark.parametrize(
    "days", [30, 60, 95]
)  # some values inside every TTL, some outside one, most outside
def test_direct_read_equals_feasts_path(store, full_feature_names, days):
    ids = [f"p{i:06d}" for i in range(40)] + ["nobody"]
    at = START + timedelta(days=days)
    direct = get_online_features(store, ids, "svc", as_of=at, full_feature_names=full_feature_names)
    feast = get_online_features(
        store, ids, "svc", as_of=at, full_feature_names=full_feature_names, direct=False
    )
    assert_frame_equal(direct, feast)
    assert direct.row(-1)[1:] == (None,) * (direct.width - 1)  # unknown patient: nulls


def test_per_patient_reference_times_and_no_ttl(store):
    ids = ["p000001", "p000002"]
    at = [START + timedelta(days=20), datetime(2030, 1, 1, tzinfo=UTC)]
    assert_frame_equal(
        get_online_features(store, ids, "svc", as_of=at),
        get_online_features(store, ids, "svc", as_of=at, direct=False),
    )
    assert_frame_equal(
        get_online_features(store, ids, "svc", enforce_ttl=False),
        get_online_features(store, ids, "svc", enforce_ttl=False, direct=False),
    )
