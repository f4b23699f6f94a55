"""Landing -> bronze: parse every file of a snapshot, type it, and upsert the bronze Delta tables.

Accounting is exact: for each (file, resource type), read == written + quarantined. ``written``
counts resources accepted into bronze (a resource repeated inside one snapshot is merged into one row:
the last occurrence wins; ``duplicates`` says how many). Each table is one atomic Delta commit, and
``ingest_audit`` is written last: it is the record that a snapshot was ingested, so a failed run leaves
no half-written table and no snapshot audited as ingested. (``landing_snapshots`` records manifests as
they are taken, before ingestion.)
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from ingestion.bronze_tables import (
    AUDIT_SCHEMA,
    AUDIT_TABLE,
    OTHER_TABLE,
    QUARANTINE_SCHEMA,
    QUARANTINE_TABLE,
    SNAPSHOT_SCHEMA,
    SNAPSHOT_TABLE,
    TABLE_OF_TYPE,
    TABLES,
    BronzeTable,
)
from ingestion.errors import QuarantineError
from ingestion.fast_ndjson import parse_ndjson
from ingestion.fhir_types import R4_RESOURCE_TYPES
from ingestion.fhir_values import parse_instant
from ingestion.landing import LandingSnapshot, ManifestEntry, snapshot_rows, take_snapshot
from ingestion.sources import Item, is_ndjson, line_item, load_file, read_items
from lakehouse.delta import WriteResult, table_uri, upsert
from lineage.code_version import code_version

UNKNOWN = "unknown"
BRONZE_OUTPUTS = [*TABLES, QUARANTINE_TABLE, AUDIT_TABLE]  # what one ingestion run writes


@dataclass
class TypeCounts:
    read: int = 0
    written: int = 0
    quarantined: int = 0

    def add(self, other: TypeCounts) -> None:
        self.read += other.read
        self.written += other.written
        self.quarantined += other.quarantined


@dataclass
class IngestReport:
    snapshot: LandingSnapshot
    per_type: dict[str, TypeCounts]
    per_file: dict[tuple[str, str], TypeCounts]
    duplicates: int
    writes: dict[str, WriteResult]
    quarantine_reasons: Counter = field(default_factory=Counter)
    seconds: float = 0.0
    phase_seconds: dict[str, float] = field(default_factory=dict)
    engine: str = "local"

    @property
    def totals(self) -> TypeCounts:
        total = TypeCounts()
        for counts in self.per_type.values():
            total.add(counts)
        return total

    def to_dict(self) -> dict[str, Any]:
        totals = self.totals
        return {
            "snapshot_id": self.snapshot.snapshot_id,
            "engine": self.engine,
            "landing_root": self.snapshot.root,
            "files": len(self.snapshot.files),
            "ignored_files": list(self.snapshot.ignored),
            "read": totals.read,
            "written": totals.written,
            "quarantined": totals.quarantined,
            "duplicates_in_snapshot": self.duplicates,
            "seconds": round(self.seconds, 3),
            "resources_per_s": round(totals.read / self.seconds, 1) if self.seconds else None,
            "phase_seconds": {k: round(v, 3) for k, v in self.phase_seconds.items()},
            "per_type": {t: vars(c) for t, c in sorted(self.per_type.items())},
            "quarantine_reasons": dict(self.quarantine_reasons.most_common()),
            "tables": {
                name: {
                    "uri": w.uri,
                    "version": w.version,
                    "rows_in_snapshot": w.rows_in_source,
                    "inserted": w.inserted,
                    "updated": w.updated,
                    "unchanged": w.unchanged,
                }
                for name, w in self.writes.items()
            },
        }


class _Batch:
    """Column lists for one bronze table, turned into Arrow record batches every ``limit`` rows."""

    def __init__(self, table: BronzeTable, limit: int):
        self.schema = table.schema
        self.columns: dict[str, list] = {name: [] for name in self.schema.names}
        self.batches: list[pa.RecordBatch] = []
        self.limit = limit
        self.rows = 0

    def append(self, row: dict[str, Any]) -> None:
        for name, values in self.columns.items():
            values.append(row.get(name))
        self.rows += 1
        if self.rows >= self.limit:
            self.flush()

    def append_table(self, data: pa.Table) -> None:
        """Rows already in the bronze schema (the vectorized path); keeps file order."""
        self.append_batches(data.to_batches())

    def append_batches(self, batches: list[pa.RecordBatch]) -> None:
        self.flush()
        self.batches.extend(batches)

    def flush(self) -> None:
        if self.rows:
            self.batches.append(pa.RecordBatch.from_pydict(self.columns, schema=self.schema))
            self.columns = {name: [] for name in self.schema.names}
            self.rows = 0

    def table(self) -> pa.Table:
        self.flush()
        return pa.Table.from_batches(self.batches, schema=self.schema)


def _profile(resource: dict[str, Any]) -> str | None:
    profiles = (resource.get("meta") or {}).get("profile")
    return profiles[0] if profiles else None


def route(resource: dict[str, Any]) -> BronzeTable:
    """The bronze table a resource belongs to, or QuarantineError for what cannot be typed."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        raise QuarantineError("resource without resourceType")
    if resource_type not in R4_RESOURCE_TYPES:
        raise QuarantineError(f"unknown resourceType {resource_type!r} (not a FHIR R4 resource)")
    resource_id = resource.get("id")
    if not isinstance(resource_id, str) or not resource_id.strip():
        raise QuarantineError(f"{resource_type} without id")
    return TABLES[TABLE_OF_TYPE.get(resource_type, OTHER_TABLE)]


class SnapshotParser:
    """Parses the files of one snapshot into per-table Arrow data plus quarantine and audit rows."""

    def __init__(
        self, snapshot: LandingSnapshot, *, batch_rows: int = 50_000, vectorized: bool = True
    ):
        self.snapshot = snapshot
        self.vectorized = vectorized
        self.batch_rows = batch_rows
        self.now = datetime.now(UTC)
        self.batches = {name: _Batch(t, batch_rows) for name, t in TABLES.items()}
        self.quarantine: dict[str, list] = {name: [] for name in QUARANTINE_SCHEMA.names}
        self.per_file: dict[tuple[str, str], TypeCounts] = defaultdict(TypeCounts)
        self.reasons: Counter = Counter()

    def _quarantine(self, rel: str, item: Item, resource_type: str, reason: str) -> None:
        sid = self.snapshot.snapshot_id
        resource_id = item.resource.get("id") if item.resource else None
        excerpt = item.raw[:2000].decode("utf-8", "replace") if item.raw is not None else None
        row = {
            "quarantine_key": f"{sid}/{rel}/{item.locator}",
            "snapshot_id": sid,
            "source_file": rel,
            "source_locator": item.locator,
            "resource_type": resource_type,
            "resource_id": resource_id if isinstance(resource_id, str) else None,
            "reason": reason,
            "file_failed": item.file_failed,
            "raw_excerpt": excerpt,
            "quarantined_at": self.now,
        }
        for name, values in self.quarantine.items():
            values.append(row[name])
        counts = self.per_file[(rel, resource_type)]
        counts.read += 1
        counts.quarantined += 1
        self.reasons[reason.split(":", 1)[0]] += 1

    def parse_item(self, rel: str, item: Item) -> None:
        resource = item.resource
        if item.error is not None or resource is None:
            self._quarantine(rel, item, UNKNOWN, item.error or "nothing to read")
            return
        resource_type = resource.get("resourceType")
        type_label = resource_type if isinstance(resource_type, str) and resource_type else UNKNOWN
        try:
            table = route(resource)
            row = table.flatten(resource, item.fullurls or {})
            row["last_updated"] = parse_instant(
                (resource.get("meta") or {}).get("lastUpdated"), "meta.lastUpdated"
            )
        except QuarantineError as exc:
            self._quarantine(rel, item, type_label, str(exc))
            return
        except (
            AttributeError,
            TypeError,
            KeyError,
            IndexError,
            ValueError,
        ) as exc:  # malformed structure
            self._quarantine(
                rel, item, type_label, f"malformed {type_label}: {type(exc).__name__}: {exc}"
            )
            return
        raw = item.raw
        row["resource_key"] = f"{resource_type}/{resource['id']}"
        row["resource_type"] = resource_type
        row["resource_id"] = resource["id"]
        row["profile"] = _profile(resource)
        row["snapshot_id"] = self.snapshot.snapshot_id
        row["source_file"] = rel
        row["source_locator"] = item.locator
        row["ingested_at"] = self.now
        row["raw_json"] = raw.decode("utf-8", "replace")
        self.batches[table.name].append(row)
        counts = self.per_file[(rel, resource_type)]
        counts.read += 1
        counts.written += 1

    def parse_file(self, rel: str, sha256: str | None = None) -> None:
        path = Path(self.snapshot.root) / rel
        data = load_file(path, sha256)
        if isinstance(data, Item):  # unreadable
            self.parse_item(rel, data)
            return
        if self.vectorized and is_ndjson(path.name):
            fast = parse_ndjson(
                path.name,
                data,
                source_file=rel,
                snapshot_id=self.snapshot.snapshot_id,
                now=self.now,
            )
            if fast is not None:
                self.batches[fast.table].append_table(fast.data)
                counts = self.per_file[(rel, fast.resource_type)]
                counts.read += fast.data.num_rows
                counts.written += fast.data.num_rows
                for lineno, line in fast.leftovers:
                    self.parse_item(rel, line_item(lineno, line))
                return
        for item in read_items(path.name, data):
            self.parse_item(rel, item)

    def parse_files(
        self,
        entries: Iterable[ManifestEntry],
        *,
        workers: int = 2,
        on_file: Callable[[str], None] | None = None,
    ) -> None:
        """Parse files concurrently, each into its own parser, then absorb them in manifest order.

        Decompression, the Arrow JSON reader and Polars release the GIL, so two files overlap well.
        """

        def parse_one(entry: ManifestEntry) -> SnapshotParser:
            child = SnapshotParser(
                self.snapshot, batch_rows=self.batch_rows, vectorized=self.vectorized
            )
            child.now = self.now
            child.parse_file(entry.path, entry.sha256)
            return child

        entries = list(entries)
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for entry, child in zip(entries, pool.map(parse_one, entries)):
                self.absorb(child)
                if on_file:
                    on_file(entry.path)

    def absorb(self, child: SnapshotParser) -> None:
        for name, batch in child.batches.items():
            batch.flush()
            self.batches[name].append_batches(batch.batches)
        for name, values in child.quarantine.items():
            self.quarantine[name].extend(values)
        for key, counts in child.per_file.items():
            self.per_file[key].add(counts)
        self.reasons.update(child.reasons)

    def tables(self) -> tuple[dict[str, pa.Table], int]:
        """Per-table data with in-snapshot duplicates collapsed (last occurrence wins)."""
        out, duplicates = {}, 0
        for name, batch in self.batches.items():
            data = batch.table()
            if data.num_rows and pc.count_distinct(data["resource_key"]).as_py() != data.num_rows:
                unique = pl.from_arrow(data).unique(
                    subset=["resource_key"], keep="last", maintain_order=True
                )
                duplicates += data.num_rows - unique.height
                data = unique.to_arrow().cast(data.schema)
            out[name] = data
        return out, duplicates

    def quarantine_table(self) -> pa.Table:
        return pa.Table.from_pydict(self.quarantine, schema=QUARANTINE_SCHEMA)

    def audit_table(self, run_id: str | None) -> pa.Table:
        sid = self.snapshot.snapshot_id
        rows = [
            {
                "audit_key": f"{sid}/{rel}/{rtype}",
                "snapshot_id": sid,
                "source_file": rel,
                "resource_type": rtype,
                "read": c.read,
                "written": c.written,
                "quarantined": c.quarantined,
                "counts": f"{c.read}/{c.written}/{c.quarantined}",
                "run_id": run_id,
                "recorded_at": self.now,
            }
            for (rel, rtype), c in sorted(self.per_file.items())
        ]
        return pa.Table.from_pylist(rows, schema=AUDIT_SCHEMA)


CommitMetadata = Callable[[str], dict[str, Any]]  # table name -> Delta commit metadata


def ingest_snapshot(
    snapshot: LandingSnapshot,
    bronze_dir: Path,
    *,
    commit_metadata: CommitMetadata | None = None,
    run_id: str | None = None,
    batch_rows: int = 50_000,
    vectorized: bool = True,
    workers: int = 2,
    on_file: Callable[[str], None] | None = None,
    now: datetime | None = None,
) -> IngestReport:
    """Parse every file of ``snapshot`` and upsert the bronze tables (one commit per table). ``now`` (default:
    the current time) is the ingestion time stamped on every row."""
    started = time.perf_counter()
    parser = SnapshotParser(snapshot, batch_rows=batch_rows, vectorized=vectorized)
    parser.now = now or parser.now
    parser.parse_files(snapshot.files, workers=workers, on_file=on_file)
    parsed_at = time.perf_counter()
    tables, duplicates = parser.tables()
    collapsed_at = time.perf_counter()
    writes = write_bronze(
        bronze_dir,
        snapshot.snapshot_id,
        tables,
        parser.quarantine_table(),
        parser.audit_table(run_id),
        commit_metadata,
        extra_metadata={"engine": "local"},
    )
    finished = time.perf_counter()
    phases = {
        "parse": parsed_at - started,
        "collapse_duplicates": collapsed_at - parsed_at,
        "write_delta": finished - collapsed_at,
    }
    return report_of(
        snapshot, parser.per_file, duplicates, writes, parser.reasons, finished - started, phases
    )


def write_bronze(
    bronze_dir: Path,
    snapshot_id: str,
    tables: dict[str, pa.Table | ds.Dataset],
    quarantine: pa.Table,
    audit: pa.Table,
    commit_metadata: CommitMetadata | None = None,
    extra_metadata: dict[str, Any] | None = None,
) -> dict[str, WriteResult]:
    """Upsert the parsed tables and the quarantine (one atomic commit each), then the audit: the record that
    this snapshot was ingested is written last. Shared by both engines."""

    def meta(name: str) -> dict[str, Any]:
        base = {
            "snapshot_id": snapshot_id,
            "writer": "clinical-mlops ingest",
            **code_version(),
            **(extra_metadata or {}),
        }
        return {**base, **(commit_metadata(name) if commit_metadata else {})}

    jobs = {name: (data, "resource_key", "raw_json") for name, data in tables.items()}
    jobs[QUARANTINE_TABLE] = (quarantine, "quarantine_key", "reason")
    # delta-rs releases the GIL, so tables are written concurrently
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = {
            name: pool.submit(
                upsert,
                table_uri(bronze_dir, name),
                data,
                key=key,
                change_column=change,
                metadata=meta(name),
            )
            for name, (data, key, change) in jobs.items()
        }
        writes: dict[str, WriteResult] = {name: future.result() for name, future in futures.items()}
    writes[AUDIT_TABLE] = upsert(
        table_uri(bronze_dir, AUDIT_TABLE),
        audit,
        key="audit_key",
        change_column="counts",
        metadata=meta(AUDIT_TABLE),
    )
    return writes


def report_of(
    snapshot: LandingSnapshot,
    per_file: dict[tuple[str, str], TypeCounts],
    duplicates: int,
    writes: dict[str, WriteResult],
    reasons: Counter,
    seconds: float,
    phases: dict[str, float],
) -> IngestReport:
    per_type: dict[str, TypeCounts] = defaultdict(TypeCounts)
    for (_, rtype), counts in per_file.items():
        per_type[rtype].add(counts)
    return IngestReport(
        snapshot, dict(per_type), dict(per_file), duplicates, writes, reasons, seconds, phases
    )


def record_snapshot(
    snapshot: LandingSnapshot, bronze_dir: Path, metadata: dict[str, Any] | None = None
) -> WriteResult:
    """Append the snapshot's manifest to ``bronze/landing_snapshots`` (idempotent)."""
    rows = snapshot_rows(snapshot, datetime.now(UTC))
    return upsert(
        table_uri(bronze_dir, SNAPSHOT_TABLE),
        pa.Table.from_pylist(rows, schema=SNAPSHOT_SCHEMA),
        key="entry_key",
        change_column="sha256",
        metadata={"snapshot_id": snapshot.snapshot_id, **code_version(), **(metadata or {})},
    )


def ingest_directory(
    landing_dir: Path,
    bronze_dir: Path,
    *,
    ingest: Callable[..., IngestReport] | None = None,
    **kwargs: Any,
) -> IngestReport:
    """Snapshot, record and ingest a landing directory in one call (the CLI path); ``ingest`` is the engine's
    ``ingest_snapshot`` (default: the local engine)."""
    snapshot = take_snapshot(landing_dir)
    recorded = record_snapshot(snapshot, bronze_dir)
    report = (ingest or ingest_snapshot)(snapshot, bronze_dir, **kwargs)
    report.writes[SNAPSHOT_TABLE] = recorded
    return report
