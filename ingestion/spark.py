"""Landing -> bronze under Spark (``CLINICAL_MLOPS_ENGINE=spark``): the local engine's parser, distributed.

1. The snapshot's files become a Spark DataFrame (one row per file, manifest order kept as ``file_index``).
2. ``mapInArrow`` runs ``SnapshotParser.parse_file`` (the very function the local engine runs) on each file in a
   task and yields, per file, rows holding each bronze table's Arrow data (IPC, in chunks), the file's
   quarantined resources, and its read/written/quarantined counts, persisted on local disk.
3. Per bronze table, a second ``mapInArrow`` opens those payloads into typed rows; a resource repeated in the
   snapshot is collapsed: its occurrences (few) are gathered on the driver, where the local engine's
   ``resolve_duplicates`` decides (the last occurrence in manifest and file order wins) and records them for
   ``bronze/duplicates``, and Spark drops the superseded ones with an anti-join.
4. Spark writes each table's rows as parquet to a staging area, and the same ``write_bronze`` as the local
   engine merges them into bronze with delta-rs, streaming from the staged files: one atomic commit per table,
   the audit last. Quarantine and counts are small and gathered on the driver.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.dataset as ds

from ingestion.bronze_tables import (
    DUPLICATES_SCHEMA,
    OTHER_TABLE,
    QUARANTINE_SCHEMA,
    QUARANTINE_TABLE,
    TABLE_OF_TYPE,
    TABLES,
)
from ingestion.ingest import (
    CANDIDATE_COLUMNS,
    SUPERSEDED_KEY,
    CommitMetadata,
    IngestReport,
    SnapshotParser,
    TypeCounts,
    count_outcomes,
    file_order,
    report_of,
    resolve_duplicates,
    superseded_keys,
    write_bronze,
)
from ingestion.landing import LandingSnapshot
from lakehouse.spark import engine_metadata, map_in_arrow, staging_area

PARSED_SCHEMA = pa.schema(
    [
        ("file_index", pa.int64()),
        ("offset", pa.int64()),
        ("kind", pa.string()),
        ("name", pa.string()),
        ("payload", pa.binary()),
    ]
)
CHUNK_ROWS = (
    20_000  # rows per payload: a large file's table travels in pieces, never as one huge value
)
ORDER = (
    "__file",
    "__row",
)  # where a row came from: manifest position, then position in the file's output


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def parse_file_rows(
    snapshot: LandingSnapshot,
    index: int,
    path: str,
    sha256: str | None,
    *,
    now: datetime,
    batch_rows: int,
    vectorized: bool,
) -> pa.Table:
    """One landing file through the local parser: its bronze tables, quarantine and counts as payload rows."""
    parser = SnapshotParser(snapshot, batch_rows=batch_rows, vectorized=vectorized)
    parser.now = now
    parser.parse_file(path, sha256)
    rows = []
    for name, batch in parser.batches.items():
        data = batch.table()
        rows += [
            (offset, name, "table", _ipc(data.slice(offset, CHUNK_ROWS)))
            for offset in range(0, data.num_rows, CHUNK_ROWS)
        ]
    quarantine = parser.quarantine_table()
    if quarantine.num_rows:
        rows.append((0, QUARANTINE_TABLE, "quarantine", _ipc(quarantine)))
    counts = {
        "counts": [
            [rel, rtype, c.read, c.written, c.quarantined]
            for (rel, rtype), c in parser.per_file.items()
        ],
        "reasons": dict(parser.reasons),
    }
    rows.append((0, "", "counts", orjson.dumps(counts)))
    columns = list(zip(*rows))
    return pa.table(
        {
            "file_index": [index] * len(rows),
            "offset": columns[0],
            "kind": columns[2],
            "name": columns[1],
            "payload": columns[3],
        },
        schema=PARSED_SCHEMA,
    )


def _with_order(schema: pa.Schema) -> pa.Schema:
    return schema.append(pa.field(ORDER[0], pa.int64())).append(pa.field(ORDER[1], pa.int64()))


def open_payloads(batches: Iterator[pa.RecordBatch], schema: pa.Schema) -> Iterator[pa.Table]:
    """Payload rows of one bronze table -> its typed rows, each with the position it came from."""
    for batch in batches:
        for index, offset, payload in zip(
            *(batch.column(c).to_pylist() for c in ("file_index", "offset", "payload"))
        ):
            data = pa.ipc.open_stream(payload).read_all()
            rows = data.num_rows
            yield (
                data.append_column(ORDER[0], pa.array([index] * rows, pa.int64()))
                .append_column(ORDER[1], pa.array(range(offset, offset + rows), pa.int64()))
                .cast(_with_order(schema))
            )


def ingest_snapshot_spark(
    snapshot: LandingSnapshot,
    bronze_dir: Path,
    spark,
    *,
    staging_root: Path,
    commit_metadata: CommitMetadata | None = None,
    run_id: str | None = None,
    batch_rows: int = 50_000,
    vectorized: bool = True,
    now: datetime | None = None,
) -> IngestReport:
    """The Spark twin of ``ingestion.ingest.ingest_snapshot``: same parser, same bronze tables, same accounting."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    started = time.perf_counter()
    now = now or datetime.now(UTC)
    entries = pa.table(
        {
            "file_index": list(range(len(snapshot.files))),
            "path": [e.path for e in snapshot.files],
            "sha256": [e.sha256 for e in snapshot.files],
        }
    )
    files = spark.createDataFrame(entries)
    files = files.repartition(
        max(1, min(len(snapshot.files), spark.sparkContext.defaultParallelism * 4))
    )

    def parse(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.Table]:
        for batch in batches:
            for index, path, sha in zip(
                *(batch.column(c).to_pylist() for c in ("file_index", "path", "sha256"))
            ):
                yield parse_file_rows(
                    snapshot,
                    index,
                    path,
                    sha,
                    now=now,
                    batch_rows=batch_rows,
                    vectorized=vectorized,
                )

    # parsed once, kept on local disk, read per table (payload values are tens of MB: not on the JVM heap)
    parsed = map_in_arrow(files, parse, PARSED_SCHEMA).persist(StorageLevel.DISK_ONLY)
    staging = staging_area(staging_root)
    try:
        small = parsed.filter(F.col("kind") != "table").toArrow().sort_by("file_index").to_pylist()
        per_file: dict[tuple[str, str], TypeCounts] = defaultdict(TypeCounts)
        reasons: Counter = Counter()
        quarantined = []
        for row in small:
            if row["kind"] == "quarantine":
                quarantined.append(pa.ipc.open_stream(row["payload"]).read_all())
            else:
                counts = orjson.loads(row["payload"])
                for rel, rtype, read, written, quarantined_count in counts["counts"]:
                    per_file[(rel, rtype)].add(TypeCounts(read, written, quarantined_count))
                reasons.update(counts["reasons"])
        quarantine = (
            pa.concat_tables(quarantined) if quarantined else QUARANTINE_SCHEMA.empty_table()
        ).cast(QUARANTINE_SCHEMA)
        parsed_at = time.perf_counter()

        tables: dict[str, pa.Table | ds.Dataset] = {}
        found = []
        order = file_order(snapshot)
        for name, table in TABLES.items():
            if not sum(
                per_file_written(per_file, name)
            ):  # nothing parsed into this table: no Spark job
                tables[name] = table.schema.empty_table()
                continue
            payloads = parsed.filter((F.col("name") == name) & (F.col("kind") == "table"))
            rows = map_in_arrow(
                payloads, lambda b, s=table.schema: open_payloads(b, s), _with_order(table.schema)
            ).drop(*ORDER)
            # shuffling keys to find repeats is cheaper than shuffling whole rows; most snapshots have none
            repeated = rows.groupBy("resource_key").count().where(F.col("count") > 1)
            if repeated.limit(1).count():
                candidates = (
                    rows.join(repeated.select("resource_key"), "resource_key", "left_semi")
                    .select(*CANDIDATE_COLUMNS)
                    .toArrow()
                )
                duplicates = resolve_duplicates(candidates, order, snapshot.snapshot_id, now)
                found.append(duplicates)
                drop = spark.createDataFrame(superseded_keys(duplicates))
                rows = rows.join(drop, list(SUPERSEDED_KEY), "left_anti")
            target = staging / name
            rows.select(*table.schema.names).write.parquet(str(target))
            tables[name] = ds.dataset(str(target), format="parquet", schema=table.schema)
        duplicates_table = (
            pa.concat_tables(found).cast(DUPLICATES_SCHEMA)
            if found
            else DUPLICATES_SCHEMA.empty_table()
        )
        count_outcomes(per_file, duplicates_table, tables.values())
        collapsed_at = time.perf_counter()
        writes = write_bronze(
            bronze_dir,
            snapshot.snapshot_id,
            tables,
            quarantine,
            audit_table(snapshot, per_file, now, run_id),
            commit_metadata,
            extra_metadata=engine_metadata(spark),
            duplicates=duplicates_table,
        )
    finally:
        parsed.unpersist()
        shutil.rmtree(staging, ignore_errors=True)
    finished = time.perf_counter()
    phases = {
        "parse": parsed_at - started,
        "collapse_duplicates": collapsed_at - parsed_at,
        "write_delta": finished - collapsed_at,
    }
    report = report_of(
        snapshot,
        dict(per_file),
        duplicates_table.num_rows,
        writes,
        reasons,
        finished - started,
        phases,
    )
    report.engine = "spark"
    return report


def per_file_written(per_file: dict[tuple[str, str], TypeCounts], table: str) -> list[int]:
    """Rows each (file, type) wrote into ``table`` before duplicates were collapsed."""
    return [
        c.written
        for (_, rtype), c in per_file.items()
        if TABLE_OF_TYPE.get(rtype, OTHER_TABLE) == table
    ]


def audit_table(
    snapshot: LandingSnapshot,
    per_file: dict[tuple[str, str], TypeCounts],
    now: datetime,
    run_id: str | None,
) -> pa.Table:
    parser = SnapshotParser(snapshot)
    parser.now = now
    parser.per_file.update(per_file)
    return parser.audit_table(run_id)
