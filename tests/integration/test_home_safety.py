"""Safe to operate: two `pipeline run`s on one home (one runs, one is refused), the file modes of what a run
writes, and the cleanup after a run killed with SIGKILL (orchestration/recovery.py). Real processes, a real
Dagster instance, real Delta tables and a real local Ray."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest
from deltalake import DeltaTable

from clinical_mlops.home_lock import hold_home, read_record
from clinical_mlops.settings import Settings
from cohort.generator import generate_cohort
from ingestion.ingest import ingest_directory

PATIENTS = 40
REPO = Path(__file__).resolve().parents[2]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLINICAL_MLOPS_", "DAGSTER_"))}
    return env | {"CLINICAL_MLOPS_HOME": str(home), "CLINICAL_MLOPS_TRAIN_MAX_EPOCHS": "2"}


def _keys(uri: str, key: str) -> list[str]:
    return sorted(DeltaTable(uri).to_pyarrow_table(columns=[key])[key].to_pylist())


def _readable_by_others(root: Path) -> list[str]:
    return [
        f"{stat.S_IMODE(p.lstat().st_mode):o} {p}"
        for p in [root, *root.rglob("*")]
        if not p.is_symlink() and stat.S_IMODE(p.lstat().st_mode) & 0o077
    ]


@pytest.mark.slow
def test_two_pipeline_runs_at_once_one_runs_and_one_is_refused(tmp_path: Path) -> None:
    """Both generated into one landing zone and both committed bronze (69,874 rows for 34,937 keys); now the
    second is refused at once, naming the first, and the tables are a single run's. Every file is owner-only."""
    home = tmp_path / "home"
    command = [sys.executable, "-m", "cli.main", "pipeline", "run", "--home", str(home)]
    args = ["--patients", str(PATIENTS), "--no-serve", "--json"]
    procs = [
        subprocess.Popen(
            [*command, *args],
            cwd=REPO,
            env=_env(home),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=600) for p in procs]
    codes = [p.returncode for p in procs]
    refused = [i for i, code in enumerate(codes) if code == 3]
    assert len(refused) == 1, (
        f"exit statuses {codes}:\n{outputs[0][1][-3000:]}\n{outputs[1][1][-3000:]}"
    )
    loser, winner = refused[0], 1 - refused[0]
    message = " ".join(outputs[loser][1].split())
    assert (
        f"in use by PID {procs[winner].pid} on {socket.gethostname()} (`pipeline run`, since"
        in message
    )
    assert outputs[loser][0] == ""  # refused before doing anything

    summary = json.loads(outputs[winner][0])
    # the winner ran the graph as a single run does; a 40-patient cohort is too small to train on, so a single
    # run of it stops at the training sets' blocking label_prevalence check (exit 1) and nothing else fails
    assert codes[winner] in (0, 1)
    if codes[winner] == 1:
        failed = [
            c["check"] for c in summary["checks"] if not c["passed"] and c["severity"] == "ERROR"
        ]
        assert failed and all(c.endswith(":label_prevalence") for c in failed), summary["failure"]
    materialized = {a["asset"]: a["rows"] for a in summary["assets"]}
    assert materialized["bronze/patients"] == PATIENTS

    # the tables equal a single ingest of the same landing zone: row counts and keys, no duplicates
    reference = tmp_path / "reference"
    ingest_directory(home / "landing", reference)
    # the resource tables, those de-identified into silver (not the per-run records: audit, quarantine, ...)
    tables = sorted(
        p.name
        for p in reference.iterdir()
        if (p / "_delta_log").is_dir() and (home / "silver" / p.name / "_delta_log").is_dir()
    )
    assert "observations" in tables and "patients" in tables
    for name in tables:
        ours = _keys(str(home / "bronze" / name), "resource_key")
        assert ours == _keys(str(reference / name), "resource_key"), name
        assert len(ours) == len(set(ours)), f"bronze/{name}: duplicated keys"
        assert materialized[f"bronze/{name}"] == len(ours), name
        silver = DeltaTable(str(home / "silver" / name))
        assert silver.version() == 0, f"silver/{name} was written twice"
        assert silver.to_pyarrow_table().num_rows == len(ours), name
    landing = sorted(p.name for p in (home / "landing").iterdir())
    assert not [n for n in landing if n.endswith(".part")], landing

    offenders = _readable_by_others(home)
    assert offenders == [], "group/world-readable under the home:\n" + "\n".join(offenders[:50])


# The run that is killed: it holds the home as `pipeline run` does, starts the local Ray the training step
# starts (a private <tmp>/cm-ray-* folder whose session names this PID), then runs the graph in process.
KILLED_RUN = textwrap.dedent(
    """
    from clinical_mlops.home_lock import hold_home
    from clinical_mlops.settings import load_settings
    from orchestration.run import run_pipeline
    from training.ray_train import ray_session

    settings = load_settings()
    with hold_home(settings, "pipeline run"), ray_session(num_cpus=1):
        run_pipeline(settings)
    """
)
RESTART = textwrap.dedent(
    """
    import json
    from clinical_mlops.settings import load_settings
    from orchestration.run import run_pipeline

    summary = run_pipeline(load_settings(), job_name="drift_check")
    print(json.dumps({"run_id": summary.run_id, "recovered": summary.recovered}))
    """
)


def _ray_dirs_of(pid: int) -> list[Path]:
    return [
        d
        for d in Path(tempfile.gettempdir()).glob("cm-ray-*")
        if any(s.name.endswith(f"_{pid}") for s in d.glob("session_*"))
    ]


def _started_run(runs_db: Path) -> str | None:
    """The run the killed process has STARTED, read from its run storage read-only: opening a
    DagsterInstance here while the other process is still creating its storage races on the schema
    migrations (both stamp the alembic version table)."""
    try:
        with closing(sqlite3.connect(f"file:{runs_db}?mode=ro", uri=True, timeout=5)) as db:
            row = db.execute("SELECT run_id, status FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    except sqlite3.OperationalError:  # the table is not there yet, or the writer holds the lock
        return None
    return row[0] if row and row[1] == "STARTED" else None


@pytest.mark.slow
def test_a_run_killed_with_sigkill_is_cleaned_up_by_the_next_start(tmp_path: Path) -> None:
    from dagster import DagsterInstance, DagsterRunStatus

    home = tmp_path / "home"
    generate_cohort(home / "landing", PATIENTS, 42, gzip=True)
    log = tmp_path / "killed-run.log"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN],
        cwd=REPO,
        env=_env(home),
        stdout=subprocess.DEVNULL,
        stderr=log.open("w"),
    )
    stale = None
    try:
        deadline = time.monotonic() + 300
        while stale is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.5)
            if (home / "dagster" / "history" / "runs.db").exists() and _ray_dirs_of(proc.pid):
                stale = _started_run(home / "dagster" / "history" / "runs.db")
        assert stale is not None, (proc.poll(), log.read_text()[-3000:])
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=60)
    ray_dirs = _ray_dirs_of(proc.pid)
    assert ray_dirs, "the killed run's Ray temp folder"
    holder = read_record(home / ".lock")
    assert holder["pid"] == proc.pid  # never released: the record of a dead holder
    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        run = instance.get_run_by_id(stale)
        assert (
            run is not None and run.status == DagsterRunStatus.STARTED
        )  # what a kill leaves behind

    restart = subprocess.run(
        [sys.executable, "-c", RESTART],
        cwd=REPO,
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert restart.returncode == 0, restart.stderr[-3000:]
    recovered = json.loads(restart.stdout.strip().splitlines()[-1])["recovered"]
    assert recovered["dagster_runs"] == [stale]
    assert sorted(recovered["ray_temp_dirs"]) == sorted(map(str, ray_dirs))
    assert any(f"PID {proc.pid}" in h for h in recovered["dead_holders"])
    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        run = instance.get_run_by_id(stale)
        assert run is not None and run.status == DagsterRunStatus.FAILURE
        failure = [
            e
            for e in instance.all_logs(stale)
            if e.dagster_event is not None
            and e.dagster_event.event_type_value == "PIPELINE_FAILURE"
        ]
        assert failure and f"PID {proc.pid}" in (failure[-1].dagster_event.message or "")
    assert not any(d.exists() for d in ray_dirs)
    assert read_record(home / ".lock") == {}  # released cleanly, nothing left to recover


def test_recovery_fails_orphaned_mlflow_runs_of_this_home_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A training run killed mid-epoch stays RUNNING in MLflow: set FAILED when its Dagster run is not in
    progress; a RUNNING run of another instance's Dagster run is left alone. Ray folders of other PIDs stay."""
    from dagster import DagsterInstance, DagsterRunStatus
    from dagster._core.storage.dagster_run import DagsterRun
    from mlflow import MlflowClient

    from orchestration.recovery import HOME_TAG, HOST_TAG, PID_TAG, recover

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    settings = Settings(home=tmp_path / "home")
    host, dead_pid = socket.gethostname(), 999_999_999
    started = datetime.now(UTC)
    settings.ensure_layout()
    (settings.root / ".lock").write_text(
        json.dumps(
            {
                "pid": dead_pid,
                "host": host,
                "command": "pipeline run",
                "started_at": started.isoformat(),
            }
        )
    )
    stamp = datetime.now().strftime("%Y-%m-%d_%H-%M-%S_%f")
    ours = tmp_path / "tmp" / "cm-ray-dead"
    (ours / f"session_{stamp}_{dead_pid}").mkdir(parents=True)
    other = tmp_path / "tmp" / "cm-ray-other"
    (other / f"session_{stamp}_{os.getpid()}").mkdir(parents=True)

    client = MlflowClient(tracking_uri=settings.tracking_uri)
    experiment = client.create_experiment("clinical-readmission")
    with DagsterInstance.ephemeral() as instance:
        killed = DagsterRun(
            job_name="clinical_pipeline",
            status=DagsterRunStatus.STARTED,
            tags={HOME_TAG: str(settings.root), HOST_TAG: host, PID_TAG: str(dead_pid)},
        )
        instance.add_run(killed)
        orphan = client.create_run(experiment, tags={"dagster.run_id": killed.run_id})
        foreign = client.create_run(experiment, tags={"dagster.run_id": "not-a-run-of-this-home"})
        with hold_home(settings, "pipeline run") as lock:
            report = recover(settings, instance, lock)
        status = instance.get_run_by_id(killed.run_id).status  # type: ignore[union-attr]
    assert report.dagster_runs == [killed.run_id] and status == DagsterRunStatus.FAILURE
    assert report.mlflow_runs == [orphan.info.run_id]
    assert client.get_run(orphan.info.run_id).info.status == "FAILED"
    assert client.get_run(foreign.info.run_id).info.status == "RUNNING"
    assert report.ray_temp_dirs == [str(ours)] and not ours.exists() and other.exists()
    assert read_record(settings.root / ".lock") == {}
