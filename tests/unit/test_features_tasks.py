"""Task definitions as data: index events, label windows, transfer/planned exclusions, censoring."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from features.tasks import (
    READMISSION_30D,
    T2D_ONSET_1Y,
    TASKS,
    build_index_events,
    event_times,
    index_events,
)

T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)
UTC = pl.Datetime("us", "UTC")


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def encounters(rows: list[dict]) -> pl.DataFrame:
    base = {
        "patient_id": "p1",
        "class_code": "IMP",
        "priority_code": "EM",
        "admit_source": "emd",
        "discharge_disposition": "home",
        "part_of_id": None,
    }
    full = [{**base, "encounter_id": f"e{i}", **r} for i, r in enumerate(rows)]
    return pl.DataFrame(
        full,
        schema={
            "patient_id": pl.String,
            "encounter_id": pl.String,
            "class_code": pl.String,
            "priority_code": pl.String,
            "admit_source": pl.String,
            "discharge_disposition": pl.String,
            "part_of_id": pl.String,
            "period_start": UTC,
            "period_end": UTC,
        },
    )


def stay(start: float, end: float, **kw) -> dict:
    return {"period_start": day(start), "period_end": day(end), **kw}


HORIZON = day(400)
NO_DELAY = replace(READMISSION_30D, index=replace(READMISSION_30D.index, delay_hours=0.0))


def labels(frame: pl.DataFrame) -> dict[str, int]:
    return dict(zip(frame["encounter_id"], frame["label"]))


def test_two_definitions_share_the_plumbing():
    assert set(TASKS) == {"readmission_30d", "t2d_onset_1y"}
    assert READMISSION_30D.registered_model == "clinical-readmission"
    assert READMISSION_30D.feature_service == "readmission_v1" and READMISSION_30D.window_days == 30
    assert "discharge_note" in READMISSION_30D.feature_views and T2D_ONSET_1Y.window_days == 365


def test_readmission_label_window_and_exclusions():
    enc = encounters(
        [
            stay(0, 5),  # e0: readmitted (e1) 20 days later -> 1
            stay(25, 28),  # e1: next admission (e2) 31 days after discharge -> 0
            stay(59, 60),  # e2: only a planned admission (e3) and a transfer in (e4) follow -> 0
            stay(
                70, 72, priority_code="EL", admit_source="mp"
            ),  # e3: elective; followed by e5 at day 100 -> 1
            stay(80, 82, admit_source="hosp-trans"),  # e4: transfer in; e5 within 30 days -> 1
            stay(
                100, 103, discharge_disposition="exp"
            ),  # e5: died in hospital -> not an index event
            stay(
                104, 106, discharge_disposition="other-hcf"
            ),  # e6: transferred out -> not an index event
            {
                "class_code": "AMB",
                "period_start": day(6),
                "period_end": day(6.1),
            },  # e7: outpatient, ignored
        ]
    )
    result = build_index_events(NO_DELAY, {"encounters": enc}, horizon=HORIZON)
    assert labels(result.frame) == {"e0": 1, "e1": 0, "e2": 0, "e3": 1, "e4": 1}
    assert result.excluded["disposition"] == 2 and result.candidates == 7
    assert result.frame["event_timestamp"].to_list()[0] == day(5)  # scored at discharge (no delay)
    assert result.frame.columns == ["patient_id", "event_timestamp", "encounter_id", "label"]


def test_window_edge_is_inclusive_and_same_instant_is_not_a_readmission():
    enc = encounters([stay(0, 5), stay(35, 36), stay(100, 101), stay(101, 102)])
    frame = index_events(NO_DELAY, {"encounters": enc}, horizon=HORIZON)
    # e0 -> e1 starts exactly 30 days after discharge: counted
    assert labels(frame)["e0"] == 1 and labels(frame)["e1"] == 0
    assert labels(frame)["e2"] == 0  # e3 starts exactly at e2's end: not after it


def test_delay_moves_the_scoring_time_and_drops_outcomes_seen_before_it():
    enc = encounters([stay(0, 5), stay(5.1, 8)])  # readmitted 2.4 hours after discharge
    result = build_index_events(READMISSION_30D, {"encounters": enc}, horizon=HORIZON)
    assert result.excluded["outcome_before_scoring"] == 1
    assert result.frame["event_timestamp"].to_list() == [day(8) + timedelta(hours=6)]


def test_censoring_drops_windows_past_the_horizon_whatever_the_outcome():
    enc = encounters([stay(0, 5), stay(370, 380), stay(390, 395)])
    result = build_index_events(NO_DELAY, {"encounters": enc}, horizon=HORIZON)
    # e1 (ends 380, window to 410) is censored although its readmission (e2) was seen; e2 too
    assert labels(result.frame) == {"e0": 0} and result.censored == 2
    # the default horizon is the newest timestamp in silver: e2's end; a margin moves it earlier
    assert build_index_events(NO_DELAY, {"encounters": enc}).horizon == day(395)
    assert build_index_events(NO_DELAY, {"encounters": enc}, horizon_margin_days=10).horizon == day(
        385
    )


def _t2d_silver():
    enc = encounters(
        [
            {
                "class_code": "AMB",
                "period_start": day(0),
                "period_end": day(0.02),
            },  # e0: first visit of 2024
            {
                "class_code": "AMB",
                "period_start": day(50),
                "period_end": day(50.02),
            },  # e1: second in 2024
            {
                "class_code": "AMB",
                "period_start": day(320),
                "period_end": day(320.02),
            },  # e2: 2025; T2D recorded
            {
                "class_code": "AMB",
                "period_start": day(500),
                "period_end": day(500.02),
            },  # e3: already diabetic
            {
                "patient_id": "p2",
                "class_code": "AMB",
                "period_start": day(10),
                "period_end": day(10.02),
            },  # e4
        ]
    )
    cond = pl.DataFrame(
        {
            "patient_id": ["p1", "p2"],
            "code": ["44054006", "E11.9"],
            "recorded_at": [day(320.01), day(400)],
        },
        schema={"patient_id": pl.String, "code": pl.String, "recorded_at": UTC},
    )
    return {"encounters": enc, "conditions": cond}


def test_t2d_onset_is_a_new_definition_on_the_same_plumbing():
    result = build_index_events(T2D_ONSET_1Y, _t2d_silver(), horizon=day(2000))
    got = labels(result.frame)
    # e0: diagnosis 320 days later -> 1; e1 dropped (not first in 2024); e2: diagnosed at the visit itself
    # (recorded before the visit ended) -> prior, excluded; e3 prior; e4 (p2, ICD-10 E11.9 at 390 days) -> 0
    assert got == {"e0": 1, "e4": 0}
    assert result.excluded["prior_condition"] == 2 and result.excluded["not_first_in_year"] == 1


def test_event_times_are_distinct_patient_instants():
    a = pl.DataFrame(
        {"patient_id": ["p1", "p1"], "event_timestamp": [day(1), day(2)]},
        schema={"patient_id": pl.String, "event_timestamp": UTC},
    )
    times = event_times(a, a.head(1))
    assert times.height == 2 and times.columns == ["patient_id", "event_timestamp"]


@pytest.mark.parametrize("task", list(TASKS.values()), ids=list(TASKS))
def test_empty_silver_gives_an_empty_typed_frame(task):
    silver = {
        "encounters": encounters([]),
        "conditions": pl.DataFrame(
            schema={"patient_id": pl.String, "code": pl.String, "recorded_at": UTC}
        ),
    }
    frame = index_events(task, silver)
    assert frame.height == 0 and frame.schema["label"] == pl.Int8
