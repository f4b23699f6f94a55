"""Clean up after a run that was killed (SIGKILL, OOM, power loss) before the next run starts.

A run killed while it held the home leaves state that says it is still going: its Dagster run stays
STARTED/STARTING, its MLflow training run stays RUNNING, and the private Ray temp folder of its local Ray
(``<tmp>/cm-ray-*``, training/ray_train.py) stays on disk. Who is dead is decided by the home lock
(clinical_mlops/home_lock.py): the run entry holds the lock, so no other process writes this home, and

- every in-process run of this home on this host (tagged ``clinical_mlops/home`` and ``clinical_mlops/host`` by
  the run entry) still in progress was left by a dead process: it is marked failed with the reason;
- an MLflow run still RUNNING whose ``dagster.run_id`` tag names a run of this instance that is no longer in
  progress is set FAILED (MLflow runs of other homes are never touched: their Dagster runs are not here);
- the lock file names the holders that died holding it (their record was never cleared); a Ray temp folder
  whose session was started by one of them (Ray names it ``session_<time>_<pid>``, the driver's PID) after it
  took the lock is removed, with any Ray process still running out of it.

Runs the UI or the daemon launched (not tagged by the run entry) are left to Dagster's own run monitoring.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from clinical_mlops.home_lock import Holder, HomeLock
from clinical_mlops.settings import Settings

HOME_TAG = "clinical_mlops/home"
HOST_TAG = "clinical_mlops/host"
PID_TAG = "clinical_mlops/pid"
IN_PROGRESS = [
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]
RAY_TEMP_PREFIX = "cm-ray-"  # training/ray_train.py: tempfile.mkdtemp(prefix="cm-ray-")
_SLACK = timedelta(seconds=2)  # rounding between the lock record and the session stamp
_SESSION = re.compile(r"^session_(\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2})_\d+_(\d+)$")


@dataclass
class RecoveryReport:
    dead_holders: list[str] = field(default_factory=list)  # the lock records of dead holders
    dagster_runs: list[str] = field(default_factory=list)  # run ids marked failed
    mlflow_runs: list[str] = field(default_factory=list)  # run ids set FAILED
    ray_temp_dirs: list[str] = field(default_factory=list)  # folders removed
    ray_processes: list[int] = field(default_factory=list)  # orphaned Ray processes stopped

    def __bool__(self) -> bool:
        return bool(self.dagster_runs or self.mlflow_runs or self.ray_temp_dirs)

    def describe(self) -> str:
        return (
            f"recovered after {len(self.dead_holders)} killed run(s) ({'; '.join(self.dead_holders)}): "
            f"Dagster runs marked failed {self.dagster_runs}, MLflow runs set FAILED {self.mlflow_runs}, "
            f"Ray temp folders removed {self.ray_temp_dirs}"
        )


def run_tags(lock: HomeLock) -> dict[str, str]:
    """Tags of an in-process run of the lock's holder: what recovery recognizes a dead run by."""
    return {
        HOME_TAG: str(lock.home),
        HOST_TAG: lock.holder.host,
        PID_TAG: str(lock.holder.pid),
    }


def recover(settings: Settings, instance: DagsterInstance, lock: HomeLock) -> RecoveryReport:
    """Mark what dead holders of ``lock``'s home left running as failed and remove their Ray temp folders. Call it
    holding the lock, before the run starts."""
    report = RecoveryReport(dead_holders=[h.describe() for h in lock.unreleased])
    stale = [
        run
        for run in instance.get_runs(
            RunsFilter(
                statuses=IN_PROGRESS,
                tags={HOME_TAG: str(lock.home), HOST_TAG: lock.holder.host},
            )
        )
        if run.tags.get(PID_TAG) != str(os.getpid())
    ]
    for run in stale:
        pid = run.tags.get(PID_TAG, "?")
        instance.report_run_failed(
            run,
            message=(
                f"the process running it (PID {pid} on {lock.holder.host}) died without finishing it (killed); "
                f"marked failed by the next run on this home (PID {lock.holder.pid}, "
                f"`{lock.holder.command}`)"
            ),
        )
        report.dagster_runs.append(run.run_id)
    if stale or lock.unreleased:  # only after a crash: opening MLflow's store costs seconds
        report.mlflow_runs = _fail_orphaned_mlflow_runs(settings, instance)
    dead = [h for h in lock.unreleased if h.host == lock.holder.host]
    report.ray_temp_dirs, report.ray_processes = _remove_ray_temp_dirs(dead)
    lock.forget_unreleased(lock.unreleased)
    return report


def _fail_orphaned_mlflow_runs(settings: Settings, instance: DagsterInstance) -> list[str]:
    if settings.mlflow_tracking_uri is None and not (settings.mlflow_home / "mlflow.db").exists():
        return []
    from mlflow import MlflowClient
    from mlflow.entities import ViewType

    client = MlflowClient(tracking_uri=settings.tracking_uri)
    experiments = [e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL)]
    failed: list[str] = []
    if not experiments:
        return failed
    for run in client.search_runs(
        experiments, filter_string="attributes.status = 'RUNNING'", run_view_type=ViewType.ALL
    ):
        dagster_run_id = run.data.tags.get("dagster.run_id")
        if not dagster_run_id:
            continue
        dagster_run = instance.get_run_by_id(dagster_run_id)
        if dagster_run is None or dagster_run.status in IN_PROGRESS:
            continue  # another instance's run, or one still going
        client.set_terminated(run.info.run_id, status="FAILED")
        failed.append(run.info.run_id)
    return failed


def _remove_ray_temp_dirs(dead: list[Holder]) -> tuple[list[str], list[int]]:
    """The Ray temp folders whose session a dead holder's process started after taking the lock, and the Ray
    processes still running out of them."""
    if not dead:
        return [], []
    removed: list[str] = []
    stopped: list[int] = []
    for folder in sorted(Path(tempfile.gettempdir()).glob(f"{RAY_TEMP_PREFIX}*")):
        if not folder.is_dir() or folder.stat().st_uid != os.getuid():
            continue
        if not any(_started_by(session.name, dead) for session in folder.glob("session_*")):
            continue
        stopped += _stop_processes_using(folder)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(str(folder))
    return removed, stopped


def _started_by(session: str, dead: list[Holder]) -> bool:
    match = _SESSION.match(session)
    if not match:
        return False
    started = datetime.strptime(match.group(1), "%Y-%m-%d_%H-%M-%S")
    pid = int(match.group(2))
    for holder in dead:
        took_lock = datetime.fromisoformat(holder.started_at).astimezone().replace(tzinfo=None)
        # Ray stamps the session with local time; a reused PID's session would predate the lock record
        if holder.pid == pid and started >= took_lock.replace(microsecond=0) - _SLACK:
            return True
    return False


def _stop_processes_using(folder: Path) -> list[int]:
    """SIGKILL our processes whose command line names ``folder`` (Ray's GCS, raylet and workers left behind)."""
    stopped: list[int] = []
    needle = str(folder).encode()
    for entry in Path("/proc").iterdir() if Path("/proc").is_dir() else []:
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if entry.stat().st_uid != os.getuid():
                continue
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline:
            try:
                os.kill(int(entry.name), signal.SIGKILL)
                stopped.append(int(entry.name))
            except ProcessLookupError:
                pass
    return stopped


def recovery_summary(report: RecoveryReport) -> dict[str, Any]:
    return {
        "dead_holders": report.dead_holders,
        "dagster_runs": report.dagster_runs,
        "mlflow_runs": report.mlflow_runs,
        "ray_temp_dirs": report.ray_temp_dirs,
        "ray_processes": report.ray_processes,
    }
