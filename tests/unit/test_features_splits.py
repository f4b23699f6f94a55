"""Temporal splits: by index time, ties together, label windows never reaching into the next split."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from features.splits import (
    SPLIT,
    feature_time_violations,
    split_order_violations,
    split_summary,
    temporal_split,
    window_crossings,
)
from features.tasks import READMISSION_30D, TemporalSplit

T0 = datetime(2024, 1, 1, tzinfo=UTC)
UTC_US = pl.Datetime("us", "UTC")


def events(
    days: list[float], labels: list[int] | None = None, patients: list[str] | None = None
) -> pl.DataFrame:
    n = len(days)
    return pl.DataFrame(
        {
            "patient_id": patients or [f"p{i % 7}" for i in range(n)],
            "event_timestamp": [T0 + timedelta(days=d) for d in days],
            "encounter_id": [f"e{i}" for i in range(n)],
            "label": labels or [i % 2 for i in range(n)],
        },
        schema_overrides={"event_timestamp": UTC_US, "label": pl.Int8},
    )


def no_purge(task=READMISSION_30D, **split):
    return dataclasses.replace(task, split=TemporalSplit(**{"purge": False, **split}))


def test_split_is_by_time_with_the_task_fractions():
    days = [i * 100.0 for i in range(20)]  # far apart: nothing to purge
    result = temporal_split(events(days[::-1]), READMISSION_30D)  # input order does not matter
    sizes = {s: v["events"] for s, v in split_summary(result.frame)["splits"].items()}
    assert sizes == {"train": 14, "validation": 3, "test": 3}
    frame = result.frame
    assert (
        frame.filter(pl.col(SPLIT) == "train")["event_timestamp"].max()
        < frame.filter(pl.col(SPLIT) == "validation")["event_timestamp"].min()
    )
    assert result.starts["validation"] == T0 + timedelta(days=1400)
    assert not any(split_order_violations(frame).values())
    assert result.purged == {"train": 0, "validation": 0, "test": 0}


def test_ties_at_a_cutoff_stay_in_one_split():
    result = temporal_split(
        events([0, 1, 2, 3, 3, 3, 3, 50, 60, 70]), no_purge(train=0.4, validation=0.3)
    )
    at_cut = result.frame.filter(pl.col("event_timestamp") == T0 + timedelta(days=3))
    assert at_cut[SPLIT].unique().to_list() == ["validation"]


def test_events_whose_label_window_reaches_the_next_split_are_purged():
    # 30-day window from discharge (event time - 6 h): an event 10 days before the validation start crosses
    days = [
        0,
        10,
        20,
        30,
        95,
        120,
        130,
        150,
        170,
        300,
    ]  # validation starts on day 120, test on day 170
    task = dataclasses.replace(READMISSION_30D, split=TemporalSplit(train=0.5, validation=0.3))
    unpurged = temporal_split(events(days), no_purge(train=0.5, validation=0.3))
    assert window_crossings(unpurged.frame, task) == {"train->validation": 1, "validation->test": 1}
    result = temporal_split(events(days), task)
    assert result.purged == {"train": 1, "validation": 1, "test": 0}
    assert window_crossings(result.frame, task) == {"train->validation": 0, "validation->test": 0}
    dropped = set(unpurged.frame["encounter_id"]) - set(result.frame["encounter_id"])
    assert dropped == {"e4", "e7"}  # day 95 (window closes on day ~125) and day 150 (~180)


def test_the_window_is_measured_from_the_index_end_not_the_scoring_time():
    # scoring 6 h after discharge: an event 29 days 20 h before the next split's start has a window ending
    # 2 h before it (30 d - 6 h after the event), so it is kept
    gap = timedelta(days=29, hours=20) / timedelta(days=1)
    days = [
        0,
        1,
        2,
        3,
        4,
        5,
        40 - gap,
        40,
        100,
        200,
    ]  # validation starts on day 40, test on day 200
    result = temporal_split(
        events(days),
        dataclasses.replace(READMISSION_30D, split=TemporalSplit(train=0.7, validation=0.2)),
    )
    assert result.starts["validation"] == T0 + timedelta(days=40)
    assert result.frame.height == 10


def test_too_few_events_is_a_clear_error():
    with pytest.raises(ValueError, match="2 index events cannot be split"):
        temporal_split(events([0, 1]), READMISSION_30D)


def test_summary_records_sizes_prevalence_and_patient_overlap():
    frame = temporal_split(
        events(
            [0, 100, 200, 300, 400, 500, 600, 700, 800, 900],
            labels=[1, 0, 0, 0, 0, 0, 0, 1, 0, 1],
            patients=["a", "b", "a", "c", "d", "e", "f", "a", "b", "g"],
        ),
        no_purge(train=0.6, validation=0.2),
    ).frame
    summary = split_summary(frame)
    assert summary["splits"]["train"] == {
        **summary["splits"]["train"],
        "events": 6,
        "positives": 1,
        "patients": 5,
    }
    assert summary["splits"]["validation"]["prevalence"] == 0.5
    assert summary["patient_overlap"] == {
        "train&validation": 1,
        "train&test": 1,
        "validation&test": 0,
    }


def test_split_order_violations_catch_a_split_not_by_time():
    frame = events([0, 1, 2]).with_columns(pl.Series(SPLIT, ["validation", "train", "test"]))
    assert split_order_violations(frame) == {"train->validation": 1, "validation->test": 0}


def test_feature_time_violations_count_future_stale_and_missing_stamps():
    frame = events([10, 10, 10, 10]).with_columns(
        pl.Series(
            "v_feature_ts",
            [T0 + timedelta(days=10), T0 + timedelta(days=11), T0 + timedelta(days=2), None],
            dtype=UTC_US,
        )
    )
    assert feature_time_violations(frame, [("v", "v_feature_ts", 7)]) == {
        "v": {"future": 1, "stale": 1, "missing": 1}
    }
