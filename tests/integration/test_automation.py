"""Schedules and sensors through Dagster's schedule/sensor contexts; the drift asset on synthetic gold tables;
the retry policy's classification; the run-failure recorder."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from dagster import (
    AssetKey,
    DagsterInstance,
    RunRequest,
    SourceAsset,
    build_run_status_sensor_context,
    build_schedule_context,
    build_sensor_context,
    job,
    materialize,
    op,
)

from assets.features import feature_key
from assets.io_manager import RefIOManager
from assets.monitoring import DRIFT_CHECK, DRIFT_VIEWS, feature_drift
from assets.resources import PlatformResource
from assets.retries import SERVICE_RETRY, ServiceRetryPolicy, service_retry_policy
from features.build import POLARS_TYPES, VIEWS
from features.tasks import TASKS
from lakehouse.delta import write
from orchestration.automation import (
    FAILURE_LOG,
    RETRAIN_JOB,
    SNAPSHOT_TAG,
    feature_drift_sensor,
    landing_snapshot_sensor,
    read_failures,
    record_run_failures,
    weekly_retrain,
)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("CLINICAL_MLOPS_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.setenv("CLINICAL_MLOPS_LANDING_SETTLE_S", "0")
    (home / "dagster").mkdir(parents=True)
    (home / "dagster" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home


# ---------------------------------------------------------------- schedule


def test_weekly_retrain_requests_the_retrain_job_on_monday_mornings():
    assert weekly_retrain.cron_schedule == "0 3 * * 1"
    assert weekly_retrain.job_name == RETRAIN_JOB
    context = build_schedule_context(
        scheduled_execution_time=datetime(2026, 11, 16, 3, 0, tzinfo=UTC)
    )
    requests = weekly_retrain.evaluate_tick(context).run_requests
    assert len(requests) == 1 and requests[0].tags["clinical_mlops/trigger"] == "weekly_retrain"


def test_retrain_job_covers_training_sets_through_bentos_and_not_ingestion():
    from orchestration.definitions import defs

    keys = {
        k.to_user_string()
        for k in defs.resolve_job_def(RETRAIN_JOB).asset_layer.executable_asset_keys
    }
    assert {
        "gold/training_set_readmission_30d",
        "models/clinical-readmission",
        "evaluations/clinical-readmission",
        "bentos/clinical-readmission",
    } <= keys
    assert not any(k.startswith(("landing/", "bronze/", "silver/", "gold/features/")) for k in keys)


# ---------------------------------------------------------------- landing sensor


def _evaluate(sensor, cursor: str | None, **kwargs):
    context = build_sensor_context(cursor=cursor, **kwargs)
    data = sensor.evaluate_tick(context)
    return data, data.cursor if data.cursor is not None else cursor


def test_landing_sensor_requests_one_run_per_new_snapshot(home):
    landing = home / "landing"
    landing.mkdir(parents=True)
    data, cursor = _evaluate(landing_snapshot_sensor, None)
    assert not data.run_requests and "no FHIR files" in data.skip_message

    export = landing / "Patient.ndjson"
    export.write_text('{"resourceType": "Patient", "id": "p1"}\n')
    (landing / "README.txt").write_text("not an export")
    data, cursor = _evaluate(landing_snapshot_sensor, cursor)
    assert len(data.run_requests) == 1
    snapshot_id = json.loads(cursor)["snapshot_id"]
    request: RunRequest = data.run_requests[0]
    assert request.run_key == f"landing:{snapshot_id}" and request.tags[SNAPSHOT_TAG] == snapshot_id

    data, cursor = _evaluate(landing_snapshot_sensor, cursor)  # unchanged: no hashing, no run
    assert not data.run_requests and "unchanged" in data.skip_message

    stat = export.stat()  # touched (same bytes, new mtime): re-hashed once, same snapshot, no run
    os.utime(export, ns=(stat.st_atime_ns, stat.st_mtime_ns - 5_000_000_000))
    data, cursor = _evaluate(landing_snapshot_sensor, cursor)
    assert not data.run_requests and "content unchanged" in data.skip_message
    data, cursor = _evaluate(landing_snapshot_sensor, cursor)
    assert "landing unchanged" in data.skip_message

    with export.open("a") as fh:  # new content: a new snapshot, one more run
        fh.write('{"resourceType": "Patient", "id": "p2"}\n')
    data, cursor = _evaluate(landing_snapshot_sensor, cursor)
    assert len(data.run_requests) == 1 and data.run_requests[0].run_key != request.run_key
    assert json.loads(cursor)["snapshot_id"] != snapshot_id


def test_landing_sensor_waits_for_a_copy_to_settle(home, monkeypatch):
    monkeypatch.setenv("CLINICAL_MLOPS_LANDING_SETTLE_S", "3600")
    (home / "landing").mkdir(parents=True)
    (home / "landing" / "Patient.ndjson").write_text('{"resourceType": "Patient", "id": "p1"}\n')
    data, cursor = _evaluate(landing_snapshot_sensor, None)
    assert not data.run_requests and "settle" in data.skip_message and cursor is None


# ---------------------------------------------------------------- drift

T0 = datetime(2024, 6, 1, tzinfo=UTC)


def _view_frame(
    view: str, rng: np.random.Generator, n: int, shift: float, days_back: int
) -> pl.DataFrame:
    columns: dict = {
        "patient_id": [f"p{i}" for i in range(n)],
        "event_timestamp": [T0 - timedelta(days=int(d)) for d in rng.integers(0, days_back, n)],
    }
    for name, dtype in VIEWS[view].features.items():
        if dtype == "int64":
            columns[name] = rng.poisson(3 + 6 * shift, n)
        elif dtype == "float64":
            columns[name] = rng.normal(shift * 2, 1, n)
        elif dtype == "bool":
            columns[name] = rng.random(n) < 0.3 + 0.5 * shift
        elif dtype == "string":
            columns[name] = rng.choice(["a", "b", "c"] if not shift else ["c", "d"], n)
        elif dtype == "float32_list":
            columns[name] = [rng.normal(0, 1, 4).astype(np.float32).tolist() for _ in range(n)]
    schema = {
        "patient_id": pl.String,
        "event_timestamp": POLARS_TYPES["timestamp"],
        **{k: POLARS_TYPES[v] for k, v in VIEWS[view].features.items()},
    }
    return pl.DataFrame(columns, schema=schema)


def _drift_lakehouse(home: Path, shift: float) -> None:
    """Gold feature tables (recent rows, shifted by ``shift``), their refs, and a training set whose train split
    is unshifted (its test rows are wildly off: they must not be the reference)."""
    rng = np.random.default_rng(7)
    gold, refs = home / "gold", home / "dagster" / "refs" / "gold" / "features"
    refs.mkdir(parents=True, exist_ok=True)
    for view in DRIFT_VIEWS:
        ref = write(
            str(gold / "features" / view),
            _view_frame(view, rng, 600, shift, 20).to_arrow(),
            table=view,
        )
        (refs / f"{view}.json").write_text(
            json.dumps({"type": "DeltaRef", "value": ref.model_dump(mode="json")})
        )
    task = TASKS["readmission_30d"]
    parts = [
        _view_frame(v, rng, 800, 0.0, 400).drop("patient_id", "event_timestamp")
        for v in task.feature_views
    ]
    train = pl.concat(parts, how="horizontal").with_columns(pl.lit("train").alias("split"))
    wild = pl.concat(
        [
            _view_frame(v, rng, 800, 3.0, 400).drop("patient_id", "event_timestamp")
            for v in task.feature_views
        ],
        how="horizontal",
    ).with_columns(pl.lit("test").alias("split"))
    write(str(gold / "training_set_readmission_30d"), pl.concat([train, wild]).to_arrow())


def _materialize_drift(home: Path, instance: DagsterInstance):
    sources = [SourceAsset(feature_key(view)) for view in DRIFT_VIEWS]
    return materialize(
        [feature_drift, *sources],
        instance=instance,
        resources={
            "platform": PlatformResource(home=str(home)),
            "io_manager": RefIOManager(home=str(home)),
        },
    )


@pytest.mark.parametrize("shift, drifted", [(0.0, False), (1.0, True)])
def test_drift_asset_and_sensor_request_retraining_only_above_threshold(home, shift, drifted):
    _drift_lakehouse(home, shift)
    with DagsterInstance.get() as instance:
        result = _materialize_drift(home, instance)
        assert result.success
        meta = {
            k: getattr(v, "value", v)
            for k, v in result.asset_materializations_for_node("monitoring__feature_drift")[
                0
            ].metadata.items()
        }
        task = meta["tasks"]["readmission_30d"]
        assert task["reference_source"] == "latest training set (no champion)"
        assert task["reference_rows"] == 800  # the train split only
        assert "note_embedding" in task["skipped"]
        assert set(meta["psi"]["readmission_30d"]) >= {
            "age_years",
            "sex",
            "admissions_30d",
            "has_note",
        }
        assert (meta["max_psi"] > 0.2) is drifted
        check = result.get_asset_check_evaluations()[0]
        assert check.check_name == DRIFT_CHECK and check.passed is (not drifted)
        table = pl.read_delta(str(home / "gold" / "feature_drift"))
        assert table["task"].unique().to_list() == ["readmission_30d"]
        assert table["drifted"].any() is drifted

        context = build_sensor_context(instance=instance)
        data = feature_drift_sensor.evaluate_tick(context)
        if drifted:
            assert len(data.run_requests) == 1
            assert data.run_requests[0].run_key == f"drift:{result.run_id}"
            assert data.run_requests[0].tags["clinical_mlops/drifted_tasks"] == "readmission_30d"
            assert feature_drift_sensor.job_name == RETRAIN_JOB
        else:
            assert not data.run_requests and "<= threshold" in data.skip_message
        again = feature_drift_sensor.evaluate_tick(
            build_sensor_context(instance=instance, cursor=data.cursor)
        )
        assert not again.run_requests  # the same materialization is judged once


def test_drift_is_not_judged_without_a_reference(home):
    rng = np.random.default_rng(3)
    refs = home / "dagster" / "refs" / "gold" / "features"
    refs.mkdir(parents=True)
    for view in DRIFT_VIEWS:
        ref = write(
            str(home / "gold" / "features" / view),
            _view_frame(view, rng, 50, 0, 5).to_arrow(),
            table=view,
        )
        (refs / f"{view}.json").write_text(
            json.dumps({"type": "DeltaRef", "value": ref.model_dump(mode="json")})
        )
    with DagsterInstance.get() as instance:
        result = _materialize_drift(home, instance)
        meta = result.asset_materializations_for_node("monitoring__feature_drift")[0].metadata
        assert meta["tasks"].value["readmission_30d"]["status"] == "no reference"
        assert meta["max_psi"].value == 0.0


# ---------------------------------------------------------------- retries

ATTEMPTS: list[str] = []
FAST = service_retry_policy(max_retries=2, delay_s=0.01)


@op(retry_policy=FAST)
def permanent_op():
    ATTEMPTS.append("permanent")
    raise ValueError("column 'age' missing from the training set")


@op(retry_policy=FAST)
def transient_op():
    ATTEMPTS.append("transient")
    if ATTEMPTS.count("transient") < 3:
        raise ConnectionError("MLflow tracking server refused the connection")


@job
def permanent_job():
    permanent_op()


@job
def transient_job():
    transient_op()


def test_permanent_errors_fail_at_once_and_transient_ones_are_retried(home):
    ATTEMPTS.clear()
    with DagsterInstance.get() as instance:
        started = time.monotonic()
        failed = permanent_job.execute_in_process(instance=instance, raise_on_error=False)
        assert not failed.success and ATTEMPTS.count("permanent") == 1
        failure = failed.get_step_failure_events()[0].event_specific_data.error
        assert "column 'age' missing" in failure.message and "ValueError" in failure.message
        assert time.monotonic() - started < 10
        ok = transient_job.execute_in_process(instance=instance, raise_on_error=False)
        assert ok.success and ATTEMPTS.count("transient") == 3


def test_service_assets_share_the_classifying_retry_policy():
    from orchestration.definitions import defs

    keys = [
        AssetKey(["feast", "registry"]),
        AssetKey(["feast", "online_store"]),
        AssetKey(["models", "clinical-readmission"]),
        AssetKey(["evaluations", "clinical-readmission"]),
        AssetKey(["bentos", "clinical-readmission"]),
    ]
    for key in keys:
        policy = defs.resolve_assets_def(key).op.retry_policy
        assert policy is SERVICE_RETRY, key
    assert (
        isinstance(SERVICE_RETRY, ServiceRetryPolicy)
        and SERVICE_RETRY.backoff.value == "EXPONENTIAL"
    )
    assert defs.resolve_assets_def(AssetKey(["landing", "snapshot"])).op.retry_policy is None


# ---------------------------------------------------------------- failure sensor


@op
def validate_op():
    raise ValueError("failed data validation: 3 rows without patient_id")


@job
def failing_job():
    validate_op()


def test_run_failure_sensor_records_failed_runs(home):
    with DagsterInstance.get() as instance:
        result = failing_job.execute_in_process(instance=instance, raise_on_error=False)
        assert not result.success
        context = build_run_status_sensor_context(
            sensor_name="record_run_failures",
            dagster_instance=instance,
            dagster_run=result.dagster_run,
            dagster_event=result.get_run_failure_event(),
        ).for_run_failure()
        record_run_failures(context)
        record_run_failures(context)  # appended, not overwritten
    records = read_failures(home / "dagster" / FAILURE_LOG)
    assert len(records) == 2
    record = records[0]
    assert record["run_id"] == result.run_id and record["job"] == "failing_job"
    assert record["failed_steps"][0]["step"] == "validate_op"
    assert "3 rows without patient_id" in record["failed_steps"][0]["error"]
    assert datetime.fromisoformat(record["failed_at"]).tzinfo is not None
