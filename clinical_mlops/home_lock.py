"""One writer per lakehouse home: an exclusive OS advisory lock (``flock``) on ``<home>/.lock``.

Every command that writes the home (``pipeline run``, ``ingest``, ``generate`` into the home, ``lineage vacuum``)
and the in-process run entry (``orchestration.run.run_pipeline``) hold it while they write. A second writer is
refused at once with :class:`HomeBusyError`, which names the holder (PID, host, command, since when). The kernel
releases a ``flock`` when its holder exits, however it exits, so a killed run never leaves the home locked.

The lock file holds the holder's record (one JSON object). A holder that releases cleanly empties it; a record
still there when the next writer takes the lock belongs to a holder that died while writing. Those records are
kept under ``unreleased`` until the crash recovery (``orchestration/recovery.py``) has cleaned up after them.

Within one process the lock is re-entrant (the CLI takes it, then ``run_pipeline`` takes it again). The file
descriptor is not inherited across ``exec`` (Python's default), so servers a run starts never hold the home.
``flock`` is per host on local file systems; NFSv4 maps it onto its byte-range locks.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clinical_mlops.settings import Settings

LOCK_NAME = ".lock"
MAX_UNRELEASED = 50  # records of dead holders kept for recovery (oldest dropped first)


@dataclass(frozen=True)
class Holder:
    """Who holds (or held) a home: written into the lock file when the lock is taken."""

    pid: int
    host: str
    command: str
    started_at: str  # ISO 8601, UTC

    @classmethod
    def current(cls, command: str) -> Holder:
        return cls(
            pid=os.getpid(),
            host=socket.gethostname(),
            command=command,
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )

    @classmethod
    def from_dict(cls, data: Any) -> Holder | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(
                pid=int(data["pid"]),
                host=str(data["host"]),
                command=str(data["command"]),
                started_at=str(data["started_at"]),
            )
        except (KeyError, TypeError, ValueError):
            return None

    def describe(self) -> str:
        return f"PID {self.pid} on {self.host} (`{self.command}`, since {self.started_at})"


class HomeBusyError(RuntimeError):
    """Another process holds the home's write lock."""

    def __init__(self, home: Path, holder: Holder | None, lock_file: Path) -> None:
        self.home = home
        self.holder = holder
        self.lock_file = lock_file
        who = holder.describe() if holder else "another process (its record is not written yet)"
        super().__init__(
            f"lakehouse home {home} is in use by {who}: one writer per home. Wait for it to finish or stop "
            f"it; the lock ({lock_file}) is released the moment that process exits."
        )


@dataclass
class HomeLock:
    """The held lock of one home; ``unreleased`` lists earlier holders that died while holding it."""

    home: Path
    path: Path
    fd: int
    holder: Holder
    unreleased: list[Holder] = field(default_factory=list)
    depth: int = 1

    def forget_unreleased(self, holders: list[Holder]) -> None:
        """Recovery cleaned up after these dead holders: drop their records from the lock file."""
        self.unreleased = [h for h in self.unreleased if h not in holders]
        self.write_record(
            {**asdict(self.holder), "unreleased": [asdict(h) for h in self.unreleased]}
        )

    def write_record(self, record: dict[str, Any] | None) -> None:
        data = json.dumps(record, sort_keys=True).encode() + b"\n" if record else b""
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)
        os.fsync(self.fd)


_HELD: dict[Path, HomeLock] = {}
_GUARD = threading.Lock()


def lock_path(settings: Settings) -> Path:
    return settings.root / LOCK_NAME


def read_record(path: Path) -> dict[str, Any]:
    """The lock file's JSON record ({} when empty, missing or unreadable)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    try:
        record = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError:
        return {}
    return record if isinstance(record, dict) else {}


def current_holder(settings: Settings) -> Holder | None:
    """Who holds the home now (None when nobody does): probes the lock without taking it for long."""
    path = lock_path(settings)
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                return Holder.from_dict(read_record(path)) or Holder(0, "?", "?", "?")
            raise
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


@contextlib.contextmanager
def hold_home(settings: Settings, command: str) -> Iterator[HomeLock]:
    """Hold the home's exclusive write lock for the block, or raise :class:`HomeBusyError` at once.

    Also sets the process umask and creates the layout with the configured modes (``Settings.apply_umask``,
    ``Settings.ensure_layout``), so everything the block writes is owner-only (or group-readable for a shared
    deployment)."""
    settings.apply_umask()
    settings.ensure_layout()
    path = lock_path(settings)
    with _GUARD:
        held = _HELD.get(path)
        if held is not None:
            held.depth += 1
    if held is not None:  # re-entrant: this process holds it already
        try:
            yield held
        finally:
            with _GUARD:
                held.depth -= 1
        return
    lock = _acquire(settings, path, command)
    with _GUARD:
        _HELD[path] = lock
    try:
        yield lock
    finally:
        with _GUARD:
            _HELD.pop(path, None)
        _release(lock)


def _acquire(settings: Settings, path: Path, command: str) -> HomeLock:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, settings.file_mode)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise HomeBusyError(
                    settings.root, Holder.from_dict(read_record(path)), path
                ) from None
            raise
        settings.secure_file(path)
        previous = read_record(path)
        unreleased = [
            h for h in map(Holder.from_dict, previous.get("unreleased") or []) if h is not None
        ]
        dead = Holder.from_dict(previous)  # a record left behind: its holder died holding the lock
        if dead is not None:
            unreleased.append(dead)
        lock = HomeLock(
            home=settings.root,
            path=path,
            fd=fd,
            holder=Holder.current(command),
            unreleased=unreleased[-MAX_UNRELEASED:],
        )
        lock.write_record(
            {**asdict(lock.holder), "unreleased": [asdict(h) for h in lock.unreleased]}
        )
        return lock
    except BaseException:
        os.close(fd)  # closing the descriptor releases the lock if it was taken
        raise


def _release(lock: HomeLock) -> None:
    try:
        # a clean release leaves no holder record: only dead holders not yet recovered
        lock.write_record(
            {"unreleased": [asdict(h) for h in lock.unreleased]} if lock.unreleased else None
        )
    finally:
        fcntl.flock(lock.fd, fcntl.LOCK_UN)
        os.close(lock.fd)
