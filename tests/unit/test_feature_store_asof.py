"""The hand-written Polars as-of join that Feast's offline retrieval is checked against."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from feature_store.asof import asof_join
from features.spec import FeatureViewSpec

U = lambda *a: datetime(*a, tzinfo=UTC)  # noqa: E731
VITALS = FeatureViewSpec("vitals", {"hr": "float64"}, ttl_days=10)
LABS = FeatureViewSpec("labs", {"cr": "float64"}, ttl_days=30)


def _gold(rows):
    return pl.DataFrame(
        rows,
        schema={
            "patient_id": pl.String,
            "event_timestamp": pl.Datetime("us", "UTC"),
            "hr": pl.Float64,
        },
        orient="row",
    )


def test_backward_within_ttl_and_nulls_outside():
    gold = _gold(
        [("p1", U(2020, 1, 1), 1.0), ("p1", U(2020, 1, 5), 2.0), ("p2", U(2020, 1, 1), 9.0)]
    )
    ent = pl.DataFrame(
        {
            "patient_id": ["p1", "p1", "p1", "p2", "p2", "p3"],
            "event_timestamp": [
                U(2020, 1, 4),
                U(2020, 1, 5),
                U(2020, 1, 15),
                U(2020, 1, 12),
                U(2019, 12, 31),
                U(2020, 1, 2),
            ],
        }
    )
    out = asof_join(ent, [(VITALS, gold)])
    assert out.columns == ["patient_id", "event_timestamp", "hr"]
    # exact timestamp matches; TTL boundary (exactly 10 days) is inclusive like Feast; later values never join
    assert out["hr"].to_list() == [1.0, 2.0, 2.0, None, None, None]


def test_keeps_input_order_duplicates_and_extra_columns():
    gold = _gold([("p1", U(2020, 1, 1), 1.0), ("p2", U(2020, 1, 3), 3.0)])
    ent = pl.DataFrame(
        {
            "patient_id": ["p2", "p1", "p2", "p1"],
            "label": [1, 0, 1, 0],
            "event_timestamp": [U(2020, 1, 4), U(2020, 1, 2), U(2020, 1, 4), U(2019, 1, 1)],
        }
    )
    out = asof_join(ent, [(VITALS, gold)])
    assert out.height == 4
    assert out["label"].to_list() == [1, 0, 1, 0]
    assert out["hr"].to_list() == [3.0, 1.0, 3.0, None]


def test_several_views_and_naive_timestamps_are_utc():
    vit = _gold([("p1", U(2020, 1, 1), 1.0)])
    labs = pl.DataFrame(
        {"patient_id": ["p1"], "event_timestamp": [datetime(2019, 12, 10)], "cr": [0.7]}
    )
    ent = pl.DataFrame({"patient_id": ["p1"], "event_timestamp": [datetime(2020, 1, 2)]})
    out = asof_join(ent, [(VITALS, vit), (LABS, labs)], full_feature_names=True)
    assert out.columns == ["patient_id", "event_timestamp", "vitals__hr", "labs__cr"]
    assert out.row(0)[2:] == (1.0, 0.7)
    assert out.schema["event_timestamp"] == pl.Datetime("us", "UTC")
