"""Start the Dagster UI (`dagster dev`) on loopback so that SIGTERM stops it cleanly.

`dagster dev` copies its SIGINT handler to SIGTERM, and a shell that starts it in the background
ignores SIGINT, so a plain background launch ignores SIGTERM. We reset both signals to their defaults
and exec `dagster dev` in place: the PID you started is the PID to stop.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import sys
from pathlib import Path

from clinical_mlops.settings import Settings
from orchestration.run import prepare_dagster_home


def dagster_dev_command(host: str, port: int) -> list[str]:
    exe = Path(sys.executable).with_name("dagster")
    dagster = str(exe) if exe.exists() else (shutil.which("dagster") or "dagster")
    return [dagster, "dev", "-m", "orchestration.definitions", "-h", host, "-p", str(port)]


def check_loopback(host: str) -> None:
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"refusing to bind the Dagster UI to {host}: it has no authentication; "
            "use 127.0.0.1 and an authenticating proxy for remote access"
        )


def exec_ui(
    settings: Settings, host: str, port: int
) -> None:  # pragma: no cover - replaces the process
    check_loopback(host)
    prepare_dagster_home(settings)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    command = dagster_dev_command(host, port)
    os.execv(command[0], command)
