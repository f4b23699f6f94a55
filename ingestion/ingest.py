"""Landing -> bronze: parse every file of a snapshot, type it, and upsert the bronze Delta tables.

Accounting is exact: for each (file, resource type), read == written + quarantined, and written ==
in_bronze + superseded. ``written`` counts resources accepted into bronze; a resource repeated inside one
snapshot (same type and id) is merged into one row: the last occurrence in manifest and file order wins, and
every earlier one is ``superseded``, recorded in ``bronze/duplicates`` with both places and content digests
(``conflicting`` when the contents differ). Each table is one atomic Delta commit, and ``ingest_audit`` is
written last: it is the record that a snapshot was ingested, so a failed run leaves no half-written table and
no snapshot audited as ingested. (``landing_snapshots`` records manifests as they are taken, before ingestion.)
"""

from __future__ import annotations

import hashlib
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from ingestion.bronze_tables import (
    AUDIT_SCHEMA,
    AUDIT_TABLE,
    DUPLICATES_SCHEMA,
    DUPLICATES_TABLE,
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
from ingestion.fhir_shapes import check_types, shape_of
from ingestion.fhir_types import R4_RESOURCE_TYPES
from ingestion.fhir_values import parse_instant
from ingestion.landing import (
    LandingSnapshot,
    ManifestEntry,
    refusal_reason,
    snapshot_rows,
    take_snapshot,
)
from ingestion.sources import (
    Item,
    SnapshotMismatch,
    bundle_items,
    is_ndjson,
    line_item,
    load_file,
    read_items,
)
from lakehouse.delta import WriteResult, table_uri, upsert
from lineage.code_version import code_version

UNKNOWN = "unknown"
BRONZE_OUTPUTS = [
    *TABLES,
    QUARANTINE_TABLE,
    DUPLICATES_TABLE,
    AUDIT_TABLE,
]  # what one ingestion run writes


@dataclass
class TypeCounts:
    read: int = 0
    written: int = 0
    quarantined: int = 0
    superseded: int = 0  # of written: repeats of a resource that a later occurrence replaced
    conflicting: int = 0  # of superseded: those whose content differed from the one kept
    in_bronze: int = 0  # of written: the rows this snapshot put in bronze (written - superseded)

    def add(self, other: TypeCounts) -> None:
        self.read += other.read
        self.written += other.written
        self.quarantined += other.quarantined
        self.superseded += other.superseded
        self.conflicting += other.conflicting
        self.in_bronze += other.in_bronze


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

    def per_source_file(self) -> dict[str, TypeCounts]:
        out: dict[str, TypeCounts] = defaultdict(TypeCounts)
        for (rel, _), counts in self.per_file.items():
            out[rel].add(counts)
        return dict(out)

    def to_dict(self) -> dict[str, Any]:
        totals = self.totals
        return {
            "snapshot_id": self.snapshot.snapshot_id,
            "engine": self.engine,
            "landing_root": self.snapshot.root,
            "files": len(self.snapshot.files),
            "ignored_files": list(self.snapshot.ignored),
            "refused_files": {f.path: refusal_reason(f.sha256) for f in self.snapshot.refused},
            "read": totals.read,
            "written": totals.written,
            "quarantined": totals.quarantined,
            "in_bronze": totals.in_bronze,
            "duplicates_in_snapshot": self.duplicates,
            "duplicates_conflicting": totals.conflicting,
            "duplicates_per_file": {
                rel: {"superseded": c.superseded, "conflicting": c.conflicting}
                for rel, c in sorted(self.per_source_file().items())
                if c.superseded
            },
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
        self.duplicates = DUPLICATES_SCHEMA.empty_table()

    def _quarantine(
        self, rel: str, item: Item, resource_type: str, reason: str, field: str | None = None
    ) -> None:
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
            "field": field,
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
        if (
            resource_type == "Bundle"
        ):  # a Bundle inside a Bundle, or on an ndjson line: its entries count
            for entry in bundle_items(resource, item.locator, item.fullurls):
                self.parse_item(rel, entry)
            return
        type_label = resource_type if isinstance(resource_type, str) and resource_type else UNKNOWN
        try:
            table = route(resource)
            check_types(resource, shape_of(resource_type))
            row = table.flatten(resource, item.fullurls or {})
            row["last_updated"] = parse_instant(
                (resource.get("meta") or {}).get("lastUpdated"), "meta.lastUpdated"
            )
        except QuarantineError as exc:
            self._quarantine(rel, item, type_label, str(exc), exc.field)
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
        refused = refusal_reason(sha256) if sha256 is not None else None
        if refused is not None:  # a link or special file: recorded, never opened
            self.parse_item(rel, Item("file", None, None, refused, file_failed=True))
            return
        root = Path(self.snapshot.root)
        path = root / rel
        if root.resolve() not in path.resolve().parents:
            raise SnapshotMismatch(
                f"{path}: resolves outside the landing zone {root} (a directory on its path was replaced "
                "by a link after the landing snapshot was taken)"
            )
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
        """Per-table data with in-snapshot duplicates collapsed (the last occurrence in manifest and file
        order wins); records every superseded occurrence in ``self.duplicates`` and the per-file counts
        (superseded, conflicting, in_bronze). Returns the tables and the number superseded."""
        out, found = {}, []
        order = file_order(self.snapshot)
        for name, batch in self.batches.items():
            data = batch.table()
            if data.num_rows and pc.count_distinct(data["resource_key"]).as_py() != data.num_rows:
                frame = pl.from_arrow(data)
                candidates = frame.filter(pl.col("resource_key").is_duplicated()).select(
                    CANDIDATE_COLUMNS
                )
                duplicates = resolve_duplicates(
                    candidates.to_arrow(), order, self.snapshot.snapshot_id, self.now
                )
                found.append(duplicates)
                data = (
                    frame.join(
                        pl.from_arrow(superseded_keys(duplicates)),
                        on=list(SUPERSEDED_KEY),
                        how="anti",
                        maintain_order="left",
                    )
                    .to_arrow()
                    .cast(data.schema)
                )
            out[name] = data
        for counts in self.per_file.values():  # (re)counted from the data below
            counts.superseded = counts.conflicting = counts.in_bronze = 0
        self.duplicates = (
            pa.concat_tables(found).cast(DUPLICATES_SCHEMA)
            if found
            else DUPLICATES_SCHEMA.empty_table()
        )
        count_outcomes(self.per_file, self.duplicates, out.values())
        return out, self.duplicates.num_rows

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
                "superseded": c.superseded,
                "conflicting": c.conflicting,
                "in_bronze": c.in_bronze,
                "counts": (
                    f"{c.read}/{c.written}/{c.quarantined}/{c.superseded}/{c.conflicting}/{c.in_bronze}"
                ),
                "run_id": run_id,
                "recorded_at": self.now,
            }
            for (rel, rtype), c in sorted(self.per_file.items())
        ]
        return pa.Table.from_pylist(rows, schema=AUDIT_SCHEMA)


# ---------------------------------------------------------------- duplicates (shared by both engines)

CANDIDATE_COLUMNS = [
    "resource_key",
    "resource_type",
    "resource_id",
    "source_file",
    "source_locator",
    "raw_json",
]
SUPERSEDED_KEY = ("resource_key", "source_file", "source_locator")
_NUMBER = re.compile(r"\d+")


def file_order(snapshot: LandingSnapshot) -> dict[str, int]:
    return {entry.path: index for index, entry in enumerate(snapshot.files)}


def locator_position(locator: str) -> tuple[int, ...]:
    """Where in its file an occurrence lies: ``line 12`` -> (12,), ``entry 3 > entry 1`` -> (3, 1)."""
    return tuple(int(n) for n in _NUMBER.findall(locator))


def content_digest(raw_json: str) -> str:
    """sha256 of the resource's canonical JSON (keys sorted): the same content however it was formatted."""
    try:
        canonical = orjson.dumps(orjson.loads(raw_json), option=orjson.OPT_SORT_KEYS)
    except orjson.JSONDecodeError:  # not expected: raw_json was parsed once already
        canonical = raw_json.encode("utf-8", "replace")
    return hashlib.sha256(canonical).hexdigest()


def resolve_duplicates(
    candidates: pa.Table, order: dict[str, int], snapshot_id: str, now: datetime
) -> pa.Table:
    """The ``bronze/duplicates`` rows of one table's repeated resources (``CANDIDATE_COLUMNS``, only rows
    whose resource_key occurs more than once): per key, the last occurrence by (manifest position, position
    in the file) is kept, each other one superseded. Both engines decide with this function."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in candidates.to_pylist():
        groups[row["resource_key"]].append(row)
    rows = []
    for key, occurrences in groups.items():
        occurrences.sort(
            key=lambda r: (order.get(r["source_file"], -1), locator_position(r["source_locator"]))
        )
        kept = occurrences[-1]
        kept_digest = content_digest(kept["raw_json"])
        for old in occurrences[:-1]:
            digest = content_digest(old["raw_json"])
            rows.append(
                {
                    "duplicate_key": (
                        f"{snapshot_id}/{key}/{old['source_file']}/{old['source_locator']}"
                    ),
                    "snapshot_id": snapshot_id,
                    "resource_key": key,
                    "resource_type": kept["resource_type"],
                    "resource_id": kept["resource_id"],
                    "kept_file": kept["source_file"],
                    "kept_locator": kept["source_locator"],
                    "kept_digest": kept_digest,
                    "superseded_file": old["source_file"],
                    "superseded_locator": old["source_locator"],
                    "superseded_digest": digest,
                    "conflicting": digest != kept_digest,
                    "recorded_at": now,
                }
            )
    return pa.Table.from_pylist(rows, schema=DUPLICATES_SCHEMA)


def superseded_keys(duplicates: pa.Table) -> pa.Table:
    """(resource_key, source_file, source_locator) of every superseded occurrence: the rows to drop."""
    return pa.table(
        {
            "resource_key": duplicates["resource_key"],
            "source_file": duplicates["superseded_file"],
            "source_locator": duplicates["superseded_locator"],
        }
    ).cast(pa.schema([(name, pa.large_string()) for name in SUPERSEDED_KEY]))


def count_outcomes(
    per_file: dict[tuple[str, str], TypeCounts],
    duplicates: pa.Table,
    tables: Iterable[pa.Table | ds.Dataset],
) -> None:
    """Per (file, type): superseded and conflicting from the duplicates, in_bronze counted in the collapsed
    tables themselves (so written == in_bronze + superseded is checked against the data, not assumed)."""
    for row in duplicates.select(["superseded_file", "resource_type", "conflicting"]).to_pylist():
        counts = per_file[(row["superseded_file"], row["resource_type"])]
        counts.superseded += 1
        counts.conflicting += int(row["conflicting"])
    for data in tables:
        pairs = (
            data.to_table(columns=["source_file", "resource_type"])
            if isinstance(data, ds.Dataset)
            else data.select(["source_file", "resource_type"])
        )
        if not pairs.num_rows:
            continue
        grouped = pairs.group_by(["source_file", "resource_type"]).aggregate([([], "count_all")])
        for rel, rtype, n in zip(*(grouped[c].to_pylist() for c in grouped.column_names)):
            per_file[(rel, rtype)].in_bronze += n


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
        duplicates=parser.duplicates,
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
    duplicates: pa.Table | None = None,
) -> dict[str, WriteResult]:
    """Upsert the parsed tables, the quarantine and the duplicates (one atomic commit each), then the audit:
    the record that this snapshot was ingested is written last. Shared by both engines."""

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
    jobs[DUPLICATES_TABLE] = (
        duplicates if duplicates is not None else DUPLICATES_SCHEMA.empty_table(),
        "duplicate_key",
        "kept_digest",
    )
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
