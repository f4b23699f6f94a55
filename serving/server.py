"""Run a prediction server as a child process: ``bentoml serve <bento>`` (``bento_server``) or the bare FastAPI
baseline (``baseline_server``), on 127.0.0.1 and a free port by default.

Both are context managers: entering starts the server and waits until ``/readyz`` answers 200 (or raises
``ServerError`` with the server's log tail when it exits or does not get ready in time); leaving stops it by
its PID - SIGTERM to the process group the server was started in, SIGKILL after a grace period, then any
descendant still alive by its own PID. The server's output goes to a log file (``server.log_path``).

    with bento_server(tag) as server:
        requests.post(f"{server.url}/predict_by_id", json={"patient_id": "pat_..."})

The environment the server gets: the caller's, plus ``BENTOML_HOME`` (``settings.bentoml_home``) and
``CLINICAL_MLOPS_HOME`` / ``CLINICAL_MLOPS_ONLINE_STORE`` / ``CLINICAL_MLOPS_REDIS_URL`` from ``settings``
(the service reads its settings from the environment when it starts).
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

from clinical_mlops.settings import load_settings
from serving.build import PROJECT_ROOT

LOOPBACK = "127.0.0.1"


class ServerError(RuntimeError):
    pass


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def server_env(settings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "BENTOML_HOME": str(settings.bentoml_home),
        "CLINICAL_MLOPS_HOME": str(settings.root),
        "CLINICAL_MLOPS_ONLINE_STORE": settings.online_store,
        "BENTOML_DO_NOT_TRACK": "True",
        "PYTHONPATH": os.pathsep.join(
            [str(PROJECT_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }
    if settings.redis_url is not None:
        env["CLINICAL_MLOPS_REDIS_URL"] = settings.redis_url.get_secret_value()
    env.update(extra or {})
    return env


class ManagedServer:
    """A server process: ``start()`` / ``stop()`` or ``with``. ``url`` is ``http://host:port``."""

    def __init__(
        self,
        command: Sequence[str],
        *,
        host: str,
        port: int,
        env: Mapping[str, str],
        name: str = "server",
        ready_path: str = "/readyz",
        startup_timeout_s: float = 180.0,
        log_path: Path | None = None,
        cwd: Path | None = None,
    ):
        self.command = list(command)
        self.host, self.port = host, port
        self.env = dict(env)
        self.name = name
        self.ready_path = ready_path
        self.startup_timeout_s = startup_timeout_s
        self.log_path = (
            Path(log_path)
            if log_path
            else Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
        )
        self.cwd = cwd
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def start(self) -> ManagedServer:
        if self.proc is not None:
            raise ServerError(f"{self.name} already started (pid {self.proc.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                self.command,
                env=self.env,
                cwd=self.cwd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )  # its own process group: stoppable as a whole
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        url = self.url + self.ready_path
        while True:
            assert self.proc is not None, "start() spawned the process before waiting for it"
            code = self.proc.poll()
            if code is not None:
                raise ServerError(
                    f"{self.name} exited with code {code} before it was ready on {self.url} "
                    f"(log {self.log_path}):\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise ServerError(
                    f"{self.name} was not ready on {url} within {self.startup_timeout_s:.0f} s "
                    f"(log {self.log_path}):\n{self.log_tail()}"
                )
            time.sleep(0.25)

    def stop(self, grace_s: float = 15.0) -> None:
        """SIGTERM to the server's process group, SIGKILL after ``grace_s``, then any straggler by PID."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        descendants = _descendants(proc.pid)
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        for child in descendants:
            try:
                child.wait(timeout=5)
            except Exception:  # noqa: BLE001 - psutil.TimeoutExpired or already gone
                try:
                    child.kill()
                except Exception:  # noqa: BLE001
                    pass

    def __enter__(self) -> ManagedServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _descendants(pid: int) -> list:
    try:
        import psutil

        return psutil.Process(pid).children(recursive=True)
    except Exception:  # noqa: BLE001 - psutil missing or the process is gone
        return []


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(
            pid, sig
        )  # the group the server leads (start_new_session): this server and its workers only
    except ProcessLookupError:
        pass
    except PermissionError:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _check_host(host: str, allow_remote: bool) -> None:
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not allow_remote:
        raise ServerError(
            f"refusing to bind {host}: the prediction service is unauthenticated and binds loopback "
            "only unless allow_remote=True (put an authenticating proxy in front of it)"
        )


def bento_server(
    bento_tag: str,
    *,
    settings=None,
    host: str = LOOPBACK,
    port: int | None = None,
    startup_timeout_s: float = 180.0,
    log_path: Path | None = None,
    allow_remote: bool = False,
    extra_env: Mapping[str, str] | None = None,
) -> ManagedServer:
    """``bentoml serve <bento_tag> --host <host> --port <port>`` (not started: use ``with`` or ``.start()``)."""
    settings = settings or load_settings()
    _check_host(host, allow_remote)
    port = port or free_port(host if host != "localhost" else LOOPBACK)
    command = [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        bento_tag,
        "--host",
        host,
        "--port",
        str(port),
    ]
    return ManagedServer(
        command,
        host=host,
        port=port,
        env=server_env(settings, extra_env),
        name="bentoml-serve",
        startup_timeout_s=startup_timeout_s,
        log_path=log_path,
        cwd=PROJECT_ROOT,
    )


def baseline_server(
    bento_tag: str,
    *,
    settings=None,
    host: str = LOOPBACK,
    port: int | None = None,
    startup_timeout_s: float = 180.0,
    log_path: Path | None = None,
    allow_remote: bool = False,
    extra_env: Mapping[str, str] | None = None,
) -> ManagedServer:
    """The bare FastAPI baseline (``python -m serving.baseline``) serving the same pinned model."""
    settings = settings or load_settings()
    _check_host(host, allow_remote)
    port = port or free_port(host if host != "localhost" else LOOPBACK)
    command = [
        sys.executable,
        "-m",
        "serving.baseline",
        bento_tag,
        "--host",
        host,
        "--port",
        str(port),
    ]
    return ManagedServer(
        command,
        host=host,
        port=port,
        env=server_env(settings, extra_env),
        name="fastapi-baseline",
        startup_timeout_s=startup_timeout_s,
        log_path=log_path,
        cwd=PROJECT_ROOT,
    )
