"""Once with a real `dagster-daemon run`: the landing sensor, turned on, ticks and requests a run for a new
snapshot. The run queue admits no runs (max_concurrent_runs 0), so the requested run waits QUEUED and no
pipeline executes. The daemon is launched through orchestration/automation.py, which resets SIGINT/SIGTERM
(docs/design.md, "Facts learned about our dependencies"), and stopped by the PID (and session) this
test started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orchestration.automation import SNAPSHOT_TAG

REPO = Path(__file__).resolve().parents[2]
DAGSTER_YAML = """telemetry:
  enabled: false
run_queue:
  max_concurrent_runs: 0
"""


def _stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        os.killpg(
            proc.pid, signal.SIGTERM
        )  # the session this test created (daemon + its code server)
        try:
            return proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            pytest.fail("dagster-daemon ignored SIGTERM for 20 s")
    return proc.returncode


@pytest.mark.slow
def test_daemon_ticks_the_landing_sensor_and_queues_a_run(tmp_path):
    from dagster import DagsterInstance, RunsFilter

    from ingestion.landing import take_snapshot

    home = tmp_path / "home"
    (home / "dagster").mkdir(parents=True)
    (home / "dagster" / "dagster.yaml").write_text(DAGSTER_YAML)
    (home / "landing").mkdir()
    (home / "landing" / "Patient.ndjson").write_text('{"resourceType": "Patient", "id": "p1"}\n')
    snapshot_id = take_snapshot(home / "landing").snapshot_id
    env = {
        **os.environ,
        "CLINICAL_MLOPS_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "CLINICAL_MLOPS_LANDING_SETTLE_S": "0",
        "PYTHONPATH": str(REPO),
    }
    dagster = str(Path(sys.executable).with_name("dagster"))
    started = subprocess.run(
        [dagster, "sensor", "start", "landing_snapshot_sensor", "-m", "orchestration.definitions"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert started.returncode == 0, started.stderr[-2000:]

    log = (tmp_path / "daemon.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestration.automation"],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    runs = []
    try:
        deadline = time.monotonic() + 75
        with DagsterInstance.from_config(str(home / "dagster")) as instance:
            while time.monotonic() < deadline and proc.poll() is None:
                runs = instance.get_runs(filters=RunsFilter(tags={SNAPSHOT_TAG: snapshot_id}))
                if runs:
                    break
                time.sleep(2)
        if proc.poll() is not None and not runs:
            pytest.skip(
                f"dagster-daemon could not start (exit {proc.returncode}): "
                f"{(tmp_path / 'daemon.log').read_text()[-1500:]}"
            )
    finally:
        code = _stop(proc)
        log.close()
    assert runs, (
        f"no run requested within 75 s; daemon log:\n{(tmp_path / 'daemon.log').read_text()[-3000:]}"
    )
    assert len(runs) == 1 and runs[0].job_name == "clinical_pipeline"
    assert runs[0].tags.get("dagster/sensor_name") == "landing_snapshot_sensor"
    assert runs[0].status.value in ("QUEUED", "NOT_STARTED")
    assert code in (
        0,
        -signal.SIGTERM,
    )  # stopped by SIGTERM (the daemon exits 0 when it handles it)
