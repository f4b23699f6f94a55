"""What runs when: the weekly retrain schedule, the landing-zone sensor, the drift sensor, the run-failure
recorder (docs/operations.md). Turn them on with ``dagster-daemon`` running (``clinical-mlops daemon``
starts it on this code location) and the UI's Automation page or ``dagster schedule|sensor start``.

- ``weekly_retrain`` (``RETRAIN_CRON`` in ``RETRAIN_TIMEZONE``): job ``retrain`` = the training sets and
  everything downstream (models, evaluation and gate, bentos) on the current gold features.
- ``landing_snapshot_sensor``: a new landing snapshot -> ``clinical_pipeline`` (ingestion through
  evaluation and serving). Each evaluation fingerprints the landing zone cheaply - (path, size, mtime_ns) of
  every FHIR file, no file contents read; only when that fingerprint changes (and no file changed for
  ``landing_settle_s``) does it hash the files to the real snapshot id (ingestion/landing.py). The cursor
  keeps both; the snapshot id is the run key, so one export is ingested by the sensor once however often
  it is touched, copied back or the cursor reset.
- ``feature_drift_sensor``: a new ``monitoring/feature_drift`` materialization (by ``drift_check``, daily, or
  ``feature_refresh``) whose max PSI exceeds ``drift_psi_threshold`` -> ``retrain`` (run key: the drift
  run). Drift measured inside a run that already retrains is ignored.
- ``record_run_failures``: every failed run of this code location -> one JSON line (run, job, failed steps
  with their errors, time) appended to ``<home>/dagster/run_failures.jsonl``. On by default.

Cron strings and sensor intervals are code: Dagster fixes them when the definitions load, and settings are
read when a run or a sensor evaluation starts (docs/design.md, "Conventions"); thresholds are settings.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    EventLogEntry,
    RunFailureSensorContext,
    RunRequest,
    ScheduleDefinition,
    SensorEvaluationContext,
    SkipReason,
    asset_sensor,
    define_asset_job,
    run_failure_sensor,
    sensor,
)

from assets.monitoring import DRIFT_KEY
from assets.training_set import training_set_key
from clinical_mlops.settings import load_settings
from features.tasks import TASKS
from ingestion.landing import is_fhir_file, take_snapshot, visible_files
from orchestration.run import innermost_error, prepare_dagster_home

PIPELINE_JOB = (
    "clinical_pipeline"  # orchestration/definitions.py (not imported: it imports this module)
)
FEATURE_JOB = "feature_refresh"
RETRAIN_JOB = "retrain"
DRIFT_JOB = "drift_check"
RETRAINING_JOBS = {PIPELINE_JOB, RETRAIN_JOB}

RETRAIN_CRON = "0 3 * * 1"  # Mondays 03:00
RETRAIN_TIMEZONE = "UTC"
DRIFT_CRON = "0 2 * * *"  # daily 02:00, before the retrain slot
LANDING_INTERVAL_S = 60
DRIFT_SENSOR_INTERVAL_S = 300
FAILURE_LOG = "run_failures.jsonl"
SNAPSHOT_TAG = "clinical_mlops/landing_snapshot_id"
TRIGGER_TAG = "clinical_mlops/trigger"

retrain = define_asset_job(
    RETRAIN_JOB,
    selection=AssetSelection.assets(*map(training_set_key, TASKS)).downstream(),
    description="Rebuild the training sets from the current features, train, evaluate and gate, build bentos.",
)

drift_check = define_asset_job(
    DRIFT_JOB,
    selection=AssetSelection.assets(DRIFT_KEY),
    description="PSI of recent gold features against each champion's training split (monitoring/feature_drift).",
)

weekly_retrain = ScheduleDefinition(
    name="weekly_retrain",
    job=retrain,
    cron_schedule=RETRAIN_CRON,
    execution_timezone=RETRAIN_TIMEZONE,
    default_status=DefaultScheduleStatus.STOPPED,
    tags={TRIGGER_TAG: "weekly_retrain"},
    description="Retrain every task on the current features once a week (job retrain).",
)

daily_drift_check = ScheduleDefinition(
    name="daily_drift_check",
    job=drift_check,
    cron_schedule=DRIFT_CRON,
    execution_timezone=RETRAIN_TIMEZONE,
    default_status=DefaultScheduleStatus.STOPPED,
    tags={TRIGGER_TAG: "daily_drift_check"},
    description="Measure feature drift daily; feature_drift_sensor retrains when it exceeds the threshold.",
)


# ---------------------------------------------------------------- landing zone


def _settings():
    return load_settings()


def landing_fingerprint(root: Path) -> tuple[str, int, float]:
    """(digest of the sorted (path, size, mtime_ns) of the FHIR files, file count, newest mtime): no file
    contents are read, so it is cheap enough for every evaluation."""
    entries, newest = [], 0.0
    for path, rel in visible_files(root):
        if not is_fhir_file(path):
            continue
        stat = path.stat()
        entries.append([rel, stat.st_size, stat.st_mtime_ns])
        newest = max(newest, stat.st_mtime)
    return hashlib.sha256(json.dumps(entries).encode()).hexdigest(), len(entries), newest


def _cursor(context: SensorEvaluationContext) -> dict:
    try:
        return json.loads(context.cursor) if context.cursor else {}
    except ValueError:
        return {}


@sensor(
    name="landing_snapshot_sensor",
    job_name=PIPELINE_JOB,
    minimum_interval_seconds=LANDING_INTERVAL_S,
    default_status=DefaultSensorStatus.STOPPED,
    description="A new landing snapshot (changed FHIR files, then a new snapshot id) -> clinical_pipeline.",
)
def landing_snapshot_sensor(context: SensorEvaluationContext):
    settings = _settings()
    root = settings.landing
    if not root.is_dir():
        return SkipReason(f"landing directory {root} does not exist")
    cursor = _cursor(context)
    fingerprint, files, newest = landing_fingerprint(root)
    if files == 0:
        return SkipReason(f"no FHIR files under {root}")
    if fingerprint == cursor.get("fingerprint"):
        return SkipReason(f"landing unchanged since snapshot {str(cursor.get('snapshot_id'))[:12]}")
    quiet = time.time() - newest
    if settings.landing_settle_s and quiet < settings.landing_settle_s:
        return SkipReason(
            f"landing changed {quiet:.0f} s ago: waiting {settings.landing_settle_s:.0f} s for the "
            "copy to settle"
        )
    snapshot = take_snapshot(root)
    new_cursor = {
        "fingerprint": fingerprint,
        "snapshot_id": snapshot.snapshot_id,
        "files": files,
        "seen_at": datetime.now(UTC).isoformat(),
    }
    context.update_cursor(json.dumps(new_cursor))
    if snapshot.snapshot_id == cursor.get("snapshot_id"):
        return SkipReason(
            f"files touched but content unchanged: still snapshot {snapshot.snapshot_id[:12]}"
        )
    context.log.info(
        f"new landing snapshot {snapshot.snapshot_id} ({files} files, {snapshot.total_bytes} bytes)"
    )
    return RunRequest(
        run_key=f"landing:{snapshot.snapshot_id}",
        tags={SNAPSHOT_TAG: snapshot.snapshot_id, TRIGGER_TAG: "landing_snapshot_sensor"},
    )


# ---------------------------------------------------------------- drift


@asset_sensor(
    name="feature_drift_sensor",
    asset_key=DRIFT_KEY,
    job_name=RETRAIN_JOB,
    minimum_interval_seconds=DRIFT_SENSOR_INTERVAL_S,
    default_status=DefaultSensorStatus.STOPPED,
    description="A feature_drift materialization with max PSI above drift_psi_threshold -> retrain.",
)
def feature_drift_sensor(context: SensorEvaluationContext, asset_event: EventLogEntry):
    return drift_decision(context, asset_event, _settings().drift_psi_threshold)


def drift_decision(context: SensorEvaluationContext, asset_event: EventLogEntry, threshold: float):
    materialization = asset_event.asset_materialization
    metadata = {
        k: getattr(v, "value", v)
        for k, v in (materialization.metadata if materialization else {}).items()
    }
    if "max_psi" not in metadata:
        return SkipReason(f"materialization in run {asset_event.run_id} records no max_psi")
    max_psi = float(metadata["max_psi"])
    run = (
        context.instance.get_run_by_id(asset_event.run_id)
        if context.instance and asset_event.run_id
        else None
    )
    if run is not None and run.job_name in RETRAINING_JOBS:
        return SkipReason(
            f"drift {max_psi:.3f} measured inside {run.job_name} run {run.run_id}, which retrains"
        )
    if max_psi <= threshold:
        return SkipReason(f"max PSI {max_psi:.3f} <= threshold {threshold}")
    drifted = metadata.get("drifted_tasks") or []
    context.log.info(f"max PSI {max_psi:.3f} > {threshold}: requesting retraining ({drifted})")
    return RunRequest(
        run_key=f"drift:{asset_event.run_id}",
        tags={
            TRIGGER_TAG: "feature_drift_sensor",
            "clinical_mlops/max_psi": f"{max_psi:.4f}",
            "clinical_mlops/drift_run_id": asset_event.run_id,
            "clinical_mlops/drifted_tasks": ",".join(drifted),
        },
    )


# ---------------------------------------------------------------- failures


def failure_record(context: RunFailureSensorContext) -> dict:
    run = context.dagster_run
    steps = []
    for event in context.get_step_failure_events():
        error = getattr(event.event_specific_data, "error", None)
        cause = innermost_error(error) if error is not None else None
        steps.append(
            {
                "step": event.step_key,
                "error": (cause.message.strip() if cause else event.message) or "",
                "error_class": getattr(cause, "cls_name", None),
            }
        )
    record = context.instance.get_run_record_by_id(run.run_id) if context.instance else None
    ended = getattr(record, "end_time", None) or getattr(record, "update_timestamp", None)
    failed_at = (
        datetime.fromtimestamp(ended, UTC)
        if isinstance(ended, (int, float))
        else ended
        if isinstance(ended, datetime)
        else datetime.now(UTC)
    )
    return {
        "run_id": run.run_id,
        "job": run.job_name,
        "failed_at": failed_at.isoformat(),
        "recorded_at": datetime.now(UTC).isoformat(),
        "message": context.failure_event.message,
        "failed_steps": steps,
        "tags": {
            k: v
            for k, v in run.tags.items()
            if k.startswith(("clinical_mlops/", "dagster/schedule", "dagster/sensor"))
        },
    }


def append_record(path: Path, record: dict) -> None:
    """One line per record, written and fsynced in one call (a crash leaves whole lines only)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


@run_failure_sensor(
    name="record_run_failures",
    default_status=DefaultSensorStatus.RUNNING,
    description="Append every failed run (run, job, failed steps and errors, time) to "
    f"<home>/dagster/{FAILURE_LOG}.",
)
def record_run_failures(context: RunFailureSensorContext):
    path = _settings().dagster_home / FAILURE_LOG
    record = failure_record(context)
    append_record(path, record)
    context.log.info(f"recorded failed run {record['run_id']} of {record['job']} in {path}")


def read_failures(path: Path) -> list[dict]:
    return (
        [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        if path.exists()
        else []
    )


JOBS = [retrain, drift_check]
SCHEDULES = [weekly_retrain, daily_drift_check]
SENSORS = [landing_snapshot_sensor, feature_drift_sensor, record_run_failures]


def daemon_command() -> list[str]:
    import shutil
    import sys

    exe = Path(sys.executable).with_name("dagster-daemon")
    daemon = str(exe) if exe.exists() else (shutil.which("dagster-daemon") or "dagster-daemon")
    return [daemon, "run", "-m", "orchestration.definitions"]


def exec_daemon(settings=None) -> None:  # pragma: no cover - replaces the process
    """Start ``dagster-daemon`` (schedules, sensors, run queue) on this code location so that SIGTERM stops
    it: background shells ignore SIGINT and Dagster copies that handler to SIGTERM (docs/design.md,
    "Facts learned about our dependencies")."""
    import signal

    prepare_dagster_home(settings or _settings())
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    command = daemon_command()
    os.execv(command[0], command)


if __name__ == "__main__":  # pragma: no cover
    exec_daemon()
