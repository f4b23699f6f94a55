"""The CLI side of one writer per lakehouse home (clinical_mlops/home_lock.py): hold the lock, or stop at once
naming who holds it."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import typer
from rich.console import Console

from clinical_mlops.home_lock import HomeBusyError, HomeLock, hold_home
from clinical_mlops.settings import Settings, load_settings

#: the exit status of a command refused because another process writes the same home
EXIT_HOME_BUSY = 3

console = Console(stderr=True)


@contextlib.contextmanager
def holding_home(settings: Settings, command: str) -> Iterator[HomeLock]:
    """Hold ``settings``' home for the block; another writer holding it ends the command with exit status 3."""
    with contextlib.ExitStack() as stack:
        try:
            lock = stack.enter_context(hold_home(settings, command))
        except HomeBusyError as exc:
            console.print(f"[red]refused:[/red] {exc}", soft_wrap=True, highlight=False)
            raise typer.Exit(EXIT_HOME_BUSY) from None
        yield lock


def secure_umask() -> None:
    """Every command starts with the umask of the configured file modes (077, or 027 for a shared group);
    invalid settings keep the strictest and are reported by the command itself."""
    try:
        settings = load_settings()
    except Exception:  # noqa: BLE001 - the command reports invalid configuration (exit 2)
        os.umask(0o077)
        return
    settings.apply_umask()
