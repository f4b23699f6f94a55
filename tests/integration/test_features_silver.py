"""Generated cohort -> bronze -> silver -> index events and gold feature tables, end to end (silver only)."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import orjson
import polars as pl
import pytest

from cohort.generator import generate_cohort
from deid.keys import DeidKey
from deid.notes import NoteDeidentifier
from deid.policy import DeidPolicy
from deid.silver import build_silver
from deid.structured import SPECS
from features.build import FEATURE_VIEWS, build_feature_tables, write_feature_tables
from features.tasks import (
    READMISSION_30D,
    T2D_ONSET_1Y,
    build_index_events,
    event_times,
    read_silver,
)
from ingestion.ingest import ingest_directory
from lakehouse.delta import DeltaRef, commit_metadata_of, current_version

pytestmark = pytest.mark.slow
KEY = DeidKey(b"f" * 32, "test")
SILVER_TABLES = ("patients", "encounters", "conditions", "observations", "medications", "notes")


@pytest.fixture(scope="module")
def silver(tmp_path_factory) -> dict[str, DeltaRef]:
    root = tmp_path_factory.mktemp("features")
    generate_cohort(root / "landing", 40, 11, gzip=False)
    ingest_directory(root / "landing", root / "bronze")
    bronze = {
        n: DeltaRef(
            table=n, uri=str(root / "bronze" / n), version=current_version(str(root / "bronze" / n))
        )
        for n in SPECS
    }
    policy = DeidPolicy(date_mode="shift")
    build = build_silver(
        bronze,
        root / "silver",
        key=KEY,
        policy=policy,
        text_deidentifier=NoteDeidentifier(KEY, policy),
    )
    return {n: build.refs[n] for n in SILVER_TABLES}


@pytest.fixture(scope="module")
def built(silver, tmp_path_factory):
    tasks = {t.name: build_index_events(t, silver) for t in (READMISSION_30D, T2D_ONSET_1Y)}
    events = event_times(*[r.frame for r in tasks.values()])
    frames = build_feature_tables(silver, events)
    gold = tmp_path_factory.mktemp("gold")
    refs = write_feature_tables(frames, gold, {"dagster_run_id": "run-1"}, silver=silver)
    return tasks, events, frames, refs


def test_index_events_from_silver(silver, built):
    tasks, _, _, _ = built
    readmission = tasks["readmission_30d"]
    encounters = read_silver(silver, "encounters")
    stays = encounters.filter(pl.col("class_code") == "IMP")
    assert readmission.candidates == stays.height > 0
    assert (
        readmission.frame.height + sum(readmission.excluded.values()) + readmission.censored
        == stays.height
    )
    assert set(readmission.frame["encounter_id"]) <= set(stays["encounter_id"])
    # every positive has an unplanned inpatient admission starting within 30 days of that discharge
    ends = stays.select("encounter_id", "patient_id", "period_end")
    for enc_id, label in readmission.frame.select("encounter_id", "label").iter_rows():
        patient, end = (
            ends.filter(pl.col("encounter_id") == enc_id).select("patient_id", "period_end").row(0)
        )
        later = stays.filter(
            (pl.col("patient_id") == patient)
            & (pl.col("period_start") > end)
            & (pl.col("period_start") <= end + timedelta(days=30))
            & (pl.col("priority_code") != "EL")
        )
        assert label == int(later.height > 0)
    t2d = tasks["t2d_onset_1y"]
    assert t2d.frame.height > 0
    assert t2d.frame.select("patient_id", pl.col("event_timestamp").dt.year()).is_unique().all()


def test_gold_tables_are_keyed_typed_and_record_silver_versions(silver, built):
    _, events, frames, refs = built
    assert set(refs) == {v.name for v in FEATURE_VIEWS}
    for spec in FEATURE_VIEWS:
        gold = pl.from_arrow(refs[spec.name].read())
        assert gold.height == events.height
        assert gold.columns == ["patient_id", "event_timestamp", *spec.columns]
        assert gold.select("patient_id", "event_timestamp").is_unique().all()
        meta = commit_metadata_of(refs[spec.name].uri, refs[spec.name].version)
        assert meta["dagster_run_id"] == "run-1" and meta["feature_view"] == spec.name
        assert orjson.loads(meta["silver_versions"]) == {n: r.version for n, r in silver.items()}
    readmission = built[0]["readmission_30d"].frame
    notes = frames["discharge_note"].join(readmission, on=["patient_id", "event_timestamp"])
    assert notes[
        "has_note"
    ].all()  # scored 6 h after discharge: the stay's own summary is signed by then
    vectors = np.array(notes["note_embedding"].to_list(), dtype=np.float32)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def _plant(silver, events: pl.DataFrame, offset: timedelta) -> dict[str, pl.DataFrame]:
    """Silver as frames plus, for every patient, one row in every family dated ``offset`` from the patient's
    latest event."""
    tables = {n: read_silver(silver, n) for n in SILVER_TABLES}
    when = events.group_by("patient_id").agg((pl.col("event_timestamp").max() + offset).alias("t"))

    def plant(name: str, values: dict[str, object], time_columns: tuple[str, ...]) -> None:
        rows = when.select(
            pl.col("patient_id"),
            *[pl.col("t").alias(c) for c in time_columns],
            *[pl.lit(v).alias(k) for k, v in values.items()],
        )
        tables[name] = pl.concat([tables[name], rows], how="diagonal_relaxed")

    plant(
        "encounters",
        {"class_code": "IMP", "priority_code": "EM", "discharge_disposition": "home"},
        ("period_start", "period_end"),
    )
    plant("observations", {"code": "4548-4", "value_num": 99.0}, ("effective_at",))
    plant("conditions", {"code": "254837009"}, ("recorded_at",))
    plant("medications", {"code": "274783"}, ("start_at",))
    plant(
        "notes", {"doc_type_code": "18842-5", "text": "planted discharge summary"}, ("note_date",)
    )
    return tables


def test_planted_future_silver_rows_change_nothing(silver, built):
    """A row in every family dated one minute after each patient's latest event changes no feature table;
    the same rows one minute before it change every family (the check can fail)."""
    _, events, frames, _ = built
    after = build_feature_tables(_plant(silver, events, timedelta(minutes=1)), events)
    for name, frame in frames.items():
        assert after[name].equals(frame), name
    before = build_feature_tables(_plant(silver, events, timedelta(minutes=-1)), events)
    for name, frame in frames.items():
        if name != "demographics":  # no event table in demographics
            assert not before[name].equals(frame), name
    latest = events.group_by("patient_id").agg(pl.col("event_timestamp").max())
    labs = before["labs"].join(latest, on=["patient_id", "event_timestamp"])
    assert (labs["hba1c_last"] == 99.0).all()
