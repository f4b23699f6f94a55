"""`clinical-mlops ui`: binds loopback only, and the PID it starts is the PID that stops it (SIGTERM)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
from typer.testing import CliRunner

from cli.main import app
from orchestration.ui import check_loopback, dagster_dev_command

REPO_ROOT = Path(__file__).resolve().parents[2]
CLI = REPO_ROOT / ".venv" / "bin" / "clinical-mlops"
STARTUP_TIMEOUT_S = 120
STOP_TIMEOUT_S = 30


# ---------------------------------------------------------------- loopback only


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts_are_accepted(host):
    check_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "example.org", ""])
def test_other_hosts_are_refused(host):
    with pytest.raises(ValueError, match="refusing to bind the Dagster UI"):
        check_loopback(host)


def test_ui_refuses_a_non_loopback_host(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["ui", "--host", "0.0.0.0", "--home", str(tmp_path / "home")])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "refusing to bind the Dagster UI to 0.0.0.0" in message
    assert "127.0.0.1" in message
    assert not (tmp_path / "home").exists(), "nothing is prepared for a refused host"


def test_dagster_dev_command_targets_the_code_location():
    command = dagster_dev_command("127.0.0.1", 3999)
    assert command[1:] == [
        "dev",
        "-m",
        "orchestration.definitions",
        "-h",
        "127.0.0.1",
        "-p",
        "3999",
    ]
    assert Path(command[0]).name == "dagster"


# ---------------------------------------------------------------- start and stop the real UI


def _mentions(proc: psutil.Process, needle: str) -> bool:
    try:
        return any(needle in part for part in proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False


def _survivors(needle: str) -> list[psutil.Process]:
    me = os.getpid()
    out = []
    for proc in psutil.process_iter():
        if proc.pid == me:
            continue
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                continue
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if _mentions(proc, needle):
            out.append(proc)
    return out


def _group_alive(pgid: int) -> bool:
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return False


def _tail(path: Path, chars: int = 3000) -> str:
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


@pytest.mark.slow
@pytest.mark.timeout(STARTUP_TIMEOUT_S + STOP_TIMEOUT_S + 60)
@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="process-tree checks use Linux semantics"
)
def test_ui_starts_on_loopback_and_stops_on_sigterm(tmp_path, free_port):
    if not CLI.exists():
        pytest.skip(f"{CLI} is not installed (make venv)")
    home = tmp_path / "ui-home"
    stdout, stderr = tmp_path / "ui.stdout", tmp_path / "ui.stderr"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CLINICAL_MLOPS_") and k != "DAGSTER_HOME"
    }
    url = f"http://127.0.0.1:{free_port}/server_info"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        proc = subprocess.Popen(
            [str(CLI), "ui", "--home", str(home), "--port", str(free_port)],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
            cwd=tmp_path,
            env=env,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        status = None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"the UI exited early with {proc.returncode}:\n{_tail(stderr)}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    status = response.status
                    body = response.read()
                if status == 200:
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.5)
        assert status == 200, (
            f"no HTTP 200 from {url} within {STARTUP_TIMEOUT_S}s:\n{_tail(stderr)}"
        )
        assert b"dagster_webserver_version" in body

        # the launcher exec'd `dagster dev` in place: the PID we started is the one serving
        cmdline = psutil.Process(proc.pid).cmdline()
        assert any(part.endswith("dagster") for part in cmdline) and "dev" in cmdline, cmdline
        assert (home / "dagster" / "dagster.yaml").is_file()
        children = psutil.Process(proc.pid).children(recursive=True)
        assert children, "dagster dev runs the webserver and daemon as child processes"
        assert any(_mentions(c, str(home)) for c in children)

        os.kill(proc.pid, signal.SIGTERM)  # that PID only, not its group
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the UI ignored SIGTERM for {STOP_TIMEOUT_S}s:\n{_tail(stderr)}")

        # its children go with it (allow them a moment after the parent's exit)
        deadline = time.monotonic() + 15
        while _survivors(str(home)) and time.monotonic() < deadline:
            time.sleep(0.3)
        left = [(p.pid, " ".join(p.cmdline())[:200]) for p in _survivors(str(home))]
        assert not left, f"processes survived the UI's SIGTERM: {left}"
        assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    finally:
        if proc.poll() is None or _group_alive(proc.pid):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
