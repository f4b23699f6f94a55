"""Landing snapshots: the manifest of an export as delivered, and its content-addressed id.

The snapshot id is the sha256 of the canonical JSON of the sorted (path, size, sha256) manifest, so
the same files give the same id wherever they lie, and any changed byte gives a new one.

The landing zone is a boundary: only regular files are read. Symbolic links (to files or directories, inside
the zone or outside it) and special files (FIFOs, sockets, devices) are never followed, opened or read; each is
a manifest entry of size -1 whose sha256 says ``refused:<kind>``, so it is part of the snapshot id, recorded in
``bronze/landing_snapshots``, and quarantined by ingestion with the path and the reason (no content).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

import orjson
from pydantic import BaseModel

from lakehouse.delta import DeltaRef

FHIR_SUFFIXES = (".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz", ".json", ".json.gz")


@dataclass(frozen=True)
class ManifestEntry:
    path: str  # relative to the landing root, POSIX separators
    size: int
    sha256: str


@dataclass(frozen=True)
class LandingSnapshot:
    snapshot_id: str
    root: str
    files: tuple[ManifestEntry, ...]  # FHIR files, plus refused links and special files (size -1)
    ignored: tuple[str, ...]  # files present but not FHIR exports (README, LICENSE, checksums)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files if f.size > 0)

    @property
    def refused(self) -> tuple[ManifestEntry, ...]:
        """Symbolic links and special files: listed, never followed or read."""
        return tuple(f for f in self.files if f.sha256.startswith(REFUSED))

    def to_dict(self) -> dict:
        return {
            "snapshot_id": self.snapshot_id,
            "root": self.root,
            "total_bytes": self.total_bytes,
            "files": [asdict(f) for f in self.files],
            "refused": {f.path: refusal_reason(f.sha256) for f in self.refused},
            "ignored": list(self.ignored),
        }


def is_fhir_file(path: Path) -> bool:
    return path.name.lower().endswith(FHIR_SUFFIXES) and not path.name.startswith(".")


REFUSED = "refused:"
REFUSALS = {
    "symlink": "symbolic link: the landing zone takes regular files only, links are never followed",
    "fifo": "FIFO (named pipe): the landing zone takes regular files only",
    "socket": "socket: the landing zone takes regular files only",
    "char-device": "character device: the landing zone takes regular files only",
    "block-device": "block device: the landing zone takes regular files only",
    "other": "not a regular file: the landing zone takes regular files only",
}


def refusal_reason(sha256: str) -> str | None:
    """Why a manifest entry was refused (never read), or None for a file that was hashed."""
    if not sha256.startswith(REFUSED):
        return None
    kind = sha256[len(REFUSED) :]
    return f"refused {REFUSALS.get(kind, kind)}"


def _refusal(mode: int) -> str | None:
    if stat.S_ISREG(mode):
        return None
    for kind, test in (
        ("symlink", stat.S_ISLNK),
        ("fifo", stat.S_ISFIFO),
        ("socket", stat.S_ISSOCK),
        ("char-device", stat.S_ISCHR),
        ("block-device", stat.S_ISBLK),
    ):
        if test(mode):
            return kind
    return "other"


def open_regular(path: Path) -> BinaryIO:
    """Open a landing file for reading only if it is a regular file: a symbolic link is not followed
    (O_NOFOLLOW) and a FIFO, socket or device is not read (OSError)."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(f"{path}: refused {REFUSALS[_refusal(mode) or 'other']}")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open_regular(path) as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def manifest_digest(entries: list[ManifestEntry] | tuple[ManifestEntry, ...]) -> str:
    canonical = orjson.dumps(
        [[e.path, e.size, e.sha256] for e in sorted(entries, key=lambda e: e.path)]
    )
    return hashlib.sha256(canonical).hexdigest()


def landing_entries(root: Path) -> Iterator[tuple[Path, str, str | None]]:
    """(path, path relative to ``root``, refusal kind or None) of every entry under ``root`` that is not a
    directory, sorted, outside hidden directories; never follows a symbolic link (a linked directory is one
    refused entry, not descended into)."""
    found: list[tuple[str, Path, str | None]] = []

    def walk(directory: Path, prefix: str) -> None:
        with os.scandir(directory) as it:
            for entry in it:
                if entry.name.startswith("."):
                    continue
                rel = f"{prefix}{entry.name}"
                mode = entry.stat(follow_symlinks=False).st_mode
                if stat.S_ISDIR(mode):
                    walk(Path(entry.path), rel + "/")
                else:
                    found.append((rel, Path(entry.path), _refusal(mode)))

    walk(root, "")
    for rel, path, refusal in sorted(found, key=lambda f: f[0]):
        yield path, rel, refusal


def visible_files(root: Path) -> Iterator[tuple[Path, str]]:
    """(path, path relative to ``root``) of every regular file under ``root``, sorted, outside hidden
    directories (symbolic links and special files excluded: ``landing_entries`` lists them)."""
    for path, rel, refusal in landing_entries(root):
        if refusal is None:
            yield path, rel


def take_snapshot(root: Path) -> LandingSnapshot:
    """Hash every FHIR file under ``root`` (recursively); list links and special files as refused entries
    without following or reading them. Never modifies anything."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"landing directory does not exist or is not a directory: {root}")
    entries, ignored = [], []
    for path, rel, refusal in landing_entries(root):
        if refusal is not None:
            entries.append(ManifestEntry(rel, -1, REFUSED + refusal))
            continue
        if not is_fhir_file(path):
            ignored.append(rel)
            continue
        try:
            size = path.stat(follow_symlinks=False).st_size
            entries.append(ManifestEntry(rel, size, sha256_file(path)))
        except (
            OSError
        ) as exc:  # unreadable: still part of the snapshot, ingestion records it as failed
            entries.append(ManifestEntry(rel, -1, f"unreadable:{type(exc).__name__}"))
    return LandingSnapshot(manifest_digest(entries), str(root), tuple(entries), tuple(ignored))


def snapshot_rows(snapshot: LandingSnapshot, recorded_at) -> list[dict]:
    return [
        {
            "entry_key": f"{snapshot.snapshot_id}/{f.path}",
            "snapshot_id": snapshot.snapshot_id,
            "root": snapshot.root,
            "path": f.path,
            "size": f.size,
            "sha256": f.sha256,
            "recorded_at": recorded_at,
        }
        for f in snapshot.files
    ]


def snapshot_from_rows(rows: list[dict], snapshot_id: str) -> LandingSnapshot:
    """Rebuild a snapshot from its recorded manifest rows (as read back from Delta)."""
    mine = sorted((r for r in rows if r["snapshot_id"] == snapshot_id), key=lambda r: r["path"])
    if not mine:
        raise LookupError(f"snapshot {snapshot_id} is not recorded in the landing_snapshots table")
    entries = tuple(ManifestEntry(r["path"], r["size"], r["sha256"]) for r in mine)
    if manifest_digest(entries) != snapshot_id:
        raise ValueError(f"recorded manifest of snapshot {snapshot_id} does not hash to its id")
    return LandingSnapshot(snapshot_id, mine[0]["root"], entries, ())


class SnapshotRef(BaseModel):
    """What the landing asset hands to ingestion: a snapshot id and the pinned manifest table version."""

    snapshot_id: str
    root: str
    files: int
    total_bytes: int
    manifest: DeltaRef

    def load(self) -> LandingSnapshot:
        rows = (
            self.manifest.open()
            .to_pyarrow_table(columns=["snapshot_id", "root", "path", "size", "sha256"])
            .to_pylist()
        )
        return snapshot_from_rows(rows, self.snapshot_id)
