"""Landing snapshots: the manifest of an export as delivered, and its content-addressed id.

The snapshot id is the sha256 of the canonical JSON of the sorted (path, size, sha256) manifest, so
the same files give the same id wherever they lie, and any changed byte gives a new one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

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
    files: tuple[ManifestEntry, ...]
    ignored: tuple[str, ...]  # files present but not FHIR exports (README, LICENSE, checksums)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def to_dict(self) -> dict:
        return {
            "snapshot_id": self.snapshot_id,
            "root": self.root,
            "total_bytes": self.total_bytes,
            "files": [asdict(f) for f in self.files],
            "ignored": list(self.ignored),
        }


def is_fhir_file(path: Path) -> bool:
    return path.name.lower().endswith(FHIR_SUFFIXES) and not path.name.startswith(".")


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def manifest_digest(entries: list[ManifestEntry] | tuple[ManifestEntry, ...]) -> str:
    canonical = orjson.dumps(
        [[e.path, e.size, e.sha256] for e in sorted(entries, key=lambda e: e.path)]
    )
    return hashlib.sha256(canonical).hexdigest()


def visible_files(root: Path) -> Iterator[tuple[Path, str]]:
    """(path, path relative to ``root``) of every file under ``root``, sorted, outside hidden directories."""
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if not any(part.startswith(".") for part in path.relative_to(root).parts):
            yield path, path.relative_to(root).as_posix()


def take_snapshot(root: Path) -> LandingSnapshot:
    """Hash every FHIR file under ``root`` (recursively). Never modifies anything."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"landing directory does not exist or is not a directory: {root}")
    entries, ignored = [], []
    for path, rel in visible_files(root):
        if not is_fhir_file(path):
            ignored.append(rel)
            continue
        try:
            entries.append(ManifestEntry(rel, path.stat().st_size, sha256_file(path)))
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
