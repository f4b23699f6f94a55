"""Spark for the scale-out engine (``CLINICAL_MLOPS_ENGINE=spark``): a session that listens on loopback only,
pinned Delta versions read as parquet through the file list of their Delta log, and Spark-written parquet
committed to Delta through deltalake.

No Delta jars are needed (they come from Maven, which these machines cannot reach): delta-rs reads the log
and writes the commit, Spark only reads and writes parquet. Where a cluster provides delta-spark, the same
tables are plain Delta tables to it. Tables that use deletion vectors or column mapping cannot be read as
plain parquet and are refused with a clear error (the platform's own writers use neither).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError
from deltalake.transaction import AddAction, RemoveAction

from lakehouse.delta import KEEP_LOG, DeltaRef, commit_properties, current_version, single_writer

UNSUPPORTED_READER_FEATURES = {"deletionVectors", "columnMapping"}
STAGING_PREFIX = (
    "spark-"  # staged parquet inside a table directory: invisible until committed, vacuumed if not
)


def spark_session(
    master: str = "local[2]",
    *,
    app_name: str = "clinical-mlops",
    local_dir: Path | None = None,
    driver_memory: str = "4g",
    conf: dict[str, str] | None = None,
):
    """A SparkSession for the engine: UI off, driver bound to 127.0.0.1, Arrow on, UTC, parquet timestamps as
    microseconds (Spark's default INT96 is not what Delta readers expect), Python workers on this interpreter."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    builder = (
        SparkSession.builder.master(master)
        .appName(app_name)
        .config("spark.driver.memory", driver_memory)  # local mode: the driver's JVM runs the tasks
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        .config("spark.hadoop.parquet.enable.summary-metadata", "false")
    )
    if local_dir is not None:
        Path(local_dir).mkdir(parents=True, exist_ok=True)
        builder = builder.config("spark.local.dir", str(local_dir))
    for name, value in (conf or {}).items():
        builder = builder.config(name, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


@contextmanager
def engine_session(master: str, home: Path):
    """A session for one asset or command, stopped when it is done (scratch under ``home``); a session already
    active in this process (a notebook, a test) is used as it is and left running."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    session = active or spark_session(master, local_dir=Path(home) / "tmp")
    try:
        yield session
    finally:
        if active is None:
            session.stop()


def delta_spark_available(spark) -> bool:
    """Whether this Spark provides delta-spark (its JVM classes load). Commits go through deltalake either way
    (one writer, the same commit metadata for both engines); the answer is recorded on each commit so an
    operator can see what the cluster offered."""
    try:
        spark.sparkContext._jvm.java.lang.Class.forName("io.delta.tables.DeltaTable")  # noqa: SLF001 - a third-party or sibling internal with no public API
        return True
    except Exception:  # noqa: BLE001 - py4j wraps the JVM's ClassNotFoundException
        return False


def engine_metadata(spark) -> dict[str, str]:
    """What each Spark-engine commit records about how it was written."""
    return {
        "engine": "spark",
        "spark_version": spark.version,
        "delta_commit": "deltalake",
        "delta_spark_available": str(delta_spark_available(spark)).lower(),
    }


def spark_schema(schema: pa.Schema):
    """The Spark StructType of an Arrow schema (large strings and lists map to Spark's one string/array type)."""
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


def arrow_schema_for_spark(schema: pa.Schema) -> pa.Schema:
    """The Arrow schema mapInArrow must yield for ``spark_schema(schema)``."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(spark_schema(schema), timezone="UTC")  # the session time zone


def map_in_arrow(
    frame, fn: Callable[[Iterator[pa.RecordBatch]], Iterable[pa.Table]], schema: pa.Schema
):
    """``frame.mapInArrow`` with ``fn`` yielding Arrow tables in ``schema``: each is cast to what Spark expects,
    so a type that does not fit fails loudly in the task instead of being coerced silently."""
    target = arrow_schema_for_spark(schema)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for table in fn(batches):
            yield from table.select(target.names).cast(target).to_batches()

    return frame.mapInArrow(run, spark_schema(schema))


def delta_files(ref: DeltaRef) -> list[str]:
    """The parquet files of one pinned table version, after checking they can be read as plain parquet."""
    table = ref.open()
    features = set(table.protocol().reader_features or [])
    unsupported = features & UNSUPPORTED_READER_FEATURES
    if unsupported:
        raise ValueError(
            f"{ref.uri} version {ref.version} uses Delta reader feature(s) {sorted(unsupported)}: the "
            "Spark engine reads pinned versions as parquet and cannot apply them; use the local engine "
            "or a cluster with delta-spark"
        )
    return table.file_uris()


def read_delta(spark, ref: DeltaRef, columns: list[str] | None = None):
    """A Spark DataFrame of one pinned Delta version (only ``columns``), typed by the version's schema, so files
    written before a column was added read it as null."""
    schema = pa.schema(ref.open().schema().to_arrow())
    if columns is not None:
        schema = pa.schema([schema.field(c) for c in columns])
    files = delta_files(ref)
    if not files:
        return spark.createDataFrame([], spark_schema(schema))
    return spark.read.schema(spark_schema(schema)).parquet(*files)


def stage_parquet(frame, table_dir: str | Path) -> Path:
    """Write a Spark DataFrame as parquet into a fresh ``spark-<uuid>`` folder inside ``table_dir``. Nothing
    reads it until ``commit_parquet`` adds its files to the Delta log."""
    staged = Path(table_dir) / f"{STAGING_PREFIX}{uuid.uuid4().hex}"
    try:
        frame.write.mode("error").parquet(str(staged))
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)  # a failed job's partial output
        raise
    for path in staged.iterdir():  # checksums and markers are not table data
        if path.suffix != ".parquet":
            path.unlink()
    return staged


def discard(staged: Iterable[Path]) -> None:
    for path in staged:
        shutil.rmtree(path, ignore_errors=True)


def _add_actions(uri: str, staged: Path) -> tuple[list[AddAction | RemoveAction], int]:
    """The write transaction's file actions (one add per non-empty staged file) and the rows they hold."""
    actions: list[AddAction | RemoveAction] = []
    rows = 0
    for path in sorted(staged.glob("*.parquet")):
        records = pq.read_metadata(path).num_rows
        if records == 0:
            path.unlink()
            continue
        info = path.stat()
        actions.append(
            AddAction(
                path.relative_to(uri).as_posix(),
                info.st_size,
                {},
                int(info.st_mtime * 1000),
                True,
                json.dumps({"numRecords": records}),
            )
        )
        rows += records
    return actions, rows


def commit_parquet(
    uri: str,
    staged: Path,
    schema: pa.Schema,
    *,
    metadata: dict[str, Any] | None = None,
    table: str | None = None,
) -> tuple[DeltaRef, int]:
    """Replace the table's rows with the staged parquet files in one atomic Delta commit (an overwrite: earlier
    versions stay readable by time travel). A table that does not exist yet is created first, empty.
    Returns the version written and its row count."""
    actions, rows = _add_actions(uri, staged)
    try:
        DeltaTable(uri)
    except TableNotFoundError:
        with single_writer(uri, None):
            DeltaTable.create(
                uri,
                schema=schema,
                mode="error",
                commit_properties=commit_properties(metadata),
                post_commithook_properties=KEEP_LOG,
            )
    target = DeltaTable(uri)
    with single_writer(uri, target.version()):
        target.create_write_transaction(
            actions,
            mode="overwrite",
            schema=schema,
            commit_properties=commit_properties(metadata),
            post_commithook_properties=KEEP_LOG,
        )
    return DeltaRef(table=table or Path(uri).name, uri=uri, version=current_version(uri) or 0), rows


def staging_area(root: Path) -> Path:
    """A fresh folder for intermediate parquet outside any table (removed by the caller)."""
    path = Path(root) / f"{int(time.time())}-{uuid.uuid4().hex[:12]}"
    path.mkdir(parents=True)
    return path
