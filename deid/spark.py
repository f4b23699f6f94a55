"""Bronze (pinned versions) -> silver under Spark (``CLINICAL_MLOPS_ENGINE=spark``), with the local engine's
transforms running inside ``mapInArrow``.

What spans tables is computed in Spark first, then handed to each row as columns:
- the patient context: each key's pseudonym and date shift come from ``SilverBuilder.key_context`` mapped
  over batches of distinct keys; each patient's first and last event from ``patient_timeline`` mapped over
  batches of each table and combined with min/max;
- for tables with free text, the patient's known identifiers (bronze patients columns) and whether each text is
  shared by several patients table-wide (what the local transform decides from the whole table).
Rows are then partitioned by patient and each partition goes through ``SilverBuilder.build_table``, the
function the local engine runs on the whole table. Spark writes the results as parquet inside each table's
folder; only when every table is staged are they committed through deltalake (one atomic commit per
table), so a failure while de-identifying leaves silver untouched. The input digest, the commit metadata and
the run record are the local engine's.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from pyspark.accumulators import AccumulatorParam

from deid.keys import DeidKey
from deid.known_identifiers import REAL_NAME_COLUMNS, avoiding_real_names
from deid.policy import DeidPolicy
from deid.silver import (
    RUNS_TABLE,
    SilverBuild,
    current_build,
    input_digest,
    record_run,
    silver_metadata,
)
from deid.structured import (
    SPECS,
    SilverBuilder,
    SilverResult,
    SilverSpec,
    TextDeidentifier,
    bronze_columns,
    patient_timeline,
    shared_flag,
)
from lakehouse.delta import DeltaRef, table_uri
from lakehouse.spark import (
    commit_parquet,
    discard,
    engine_metadata,
    map_in_arrow,
    read_delta,
    stage_parquet,
)

CONTEXT = ("patient_id", "shift_days", "first", "last")
CONTEXT_SCHEMA = pa.schema(
    [
        ("patient_key", pa.large_string()),
        ("patient_id", pa.large_string()),
        ("shift_days", pa.int32()),
    ]
)
TIMELINE_SCHEMA = pa.schema(
    [
        ("patient_key", pa.large_string()),
        ("first", pa.timestamp("us", "UTC")),
        ("last", pa.timestamp("us", "UTC")),
    ]
)
KNOWN = "__known__"  # prefix of the bronze patients columns joined onto free-text rows
KNOWN_PRESENT = f"{KNOWN}present"
TEXTS = "__texts__"  # the accumulator's count of texts through the note path


class CounterParam(AccumulatorParam):
    """Replacement counts summed across tasks."""

    def zero(self, value: Counter) -> Counter:
        return Counter()

    def addInPlace(self, first: Counter, second: Counter) -> Counter:  # noqa: N802 - PySpark AccumulatorParam API
        first.update(second)
        return first


def build_slice(
    builder: SilverBuilder, spec: SilverSpec, frame: pl.DataFrame, result: SilverResult
) -> pl.DataFrame:
    """One slice of a bronze table, with its patients' context (and known identifiers) as columns, through
    ``SilverBuilder.build_table``. Every patient's rows must be in the same slice."""
    context = pl.DataFrame(schema={"patient_key": pl.String})
    known = {}
    if spec.patient_scoped:
        context = (
            frame.select("patient_key", *CONTEXT).drop_nulls("patient_key").unique("patient_key")
        )
        known_columns = [c for c in frame.columns if c.startswith(KNOWN) and c != KNOWN_PRESENT]
        if known_columns:
            patients = (
                frame.filter(pl.col(KNOWN_PRESENT).fill_null(False))
                .select(
                    "patient_key", *[pl.col(c).alias(c.removeprefix(KNOWN)) for c in known_columns]
                )
                .unique("patient_key")
            )
            known = builder._known(patients)  # noqa: SLF001 - a third-party or sibling internal with no public API
            frame = frame.drop(*known_columns, KNOWN_PRESENT)
        frame = frame.drop(*CONTEXT)
    return builder.build_table(spec, frame, context, known, result)


def _slices(
    builder: SilverBuilder, spec: SilverSpec, accumulator
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.Table]]:
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.Table]:
        batches = list(batches)  # one partition: all rows of its patients
        if not batches:
            return
        result = SilverResult(tables={})
        out = build_slice(builder, spec, pl.from_arrow(pa.Table.from_batches(batches)), result)
        accumulator.add(Counter({**result.replacements, TEXTS: result.texts}))
        yield out.to_arrow()

    return run


def _input_schema(spark_frame) -> pa.Schema:
    from pyspark.sql.pandas.types import to_arrow_schema

    return to_arrow_schema(spark_frame.schema, timezone="UTC")


def output_schema(builder: SilverBuilder, spec: SilverSpec, spark_frame) -> pa.Schema:
    """The silver schema of a table: the transform run on no rows of its input."""
    empty = pl.from_arrow(_input_schema(spark_frame).empty_table())
    return build_slice(builder, spec, empty, SilverResult(tables={})).to_arrow().schema


def _keys_context(builder: SilverBuilder):
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.Table]:
        for batch in batches:
            yield builder.key_context(pl.from_arrow(batch)).to_arrow()

    return run


def _timeline(name: str):
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.Table]:
        for batch in batches:
            yield patient_timeline({name: pl.from_arrow(batch)}).to_arrow()

    return run


def patient_context(builder: SilverBuilder, frames: dict[str, Any]):
    """patient_key -> patient_id, shift_days, first and last event, across every patient-scoped table."""
    from pyspark.sql import functions as F

    scoped = [n for n, s in SPECS.items() if s.patient_scoped and n in frames]
    keys = None
    parts = None
    for name in scoped:
        frame = frames[name]
        these = frame.select("patient_key").where(F.col("patient_key").isNotNull())
        keys = these if keys is None else keys.unionByName(these)
        dates = [c for c in SPECS[name].dates if c in frame.columns and c != "birth_date"]
        if dates:
            part = map_in_arrow(
                frame.select("patient_key", *dates), _timeline(name), TIMELINE_SCHEMA
            )
            parts = part if parts is None else parts.unionByName(part)
    ids = map_in_arrow(keys.distinct(), _keys_context(builder), CONTEXT_SCHEMA)
    timeline = parts.groupBy("patient_key").agg(
        F.min("first").alias("first"), F.max("last").alias("last")
    )
    return ids.join(timeline, "patient_key", "left")


def _with_shared_flags(frame, spec: SilverSpec):
    """Mark each free-text value that more than one patient has (the local transform's rule, table-wide)."""
    from pyspark.sql import functions as F

    for column in spec.free_text:
        if column not in frame.columns:
            continue
        shared = (
            frame.select("patient_key", column)
            .where(F.col(column).isNotNull())
            .distinct()
            .groupBy(column)
            .count()
            .where(F.col("count") > 1)
            .select(column, F.lit(True).alias(shared_flag(column)))
        )
        frame = frame.join(shared, column, "left").withColumn(
            shared_flag(column), F.coalesce(F.col(shared_flag(column)), F.lit(False))
        )
    return frame


def _snapshot_ids(frames: dict[str, Any]) -> list[str]:
    from functools import reduce

    from pyspark.sql import functions as F

    ids = [f.select("snapshot_id") for f in frames.values() if "snapshot_id" in f.columns]
    if not ids:
        return []
    union = (
        reduce(lambda a, b: a.unionByName(b), ids)
        .where(F.col("snapshot_id").isNotNull())
        .distinct()
    )
    return sorted(row["snapshot_id"] for row in union.collect())


def build_silver_spark(
    bronze: dict[str, DeltaRef],
    silver_dir: Path,
    spark,
    *,
    key: DeidKey,
    policy: DeidPolicy,
    text_deidentifier: TextDeidentifier,
    commit_metadata: Callable[[str], dict[str, Any]] = lambda name: {},
    on_table: Callable[[str], None] | None = None,
    force: bool = False,
    as_of: datetime | None = None,
) -> SilverBuild:
    """The Spark twin of ``deid.silver.build_silver``: the same silver tables, row for row."""
    from pyspark.sql import functions as F

    digest = input_digest(bronze, policy, key)
    current = current_build(bronze, silver_dir, digest)
    if current is not None and not force:
        return current
    started = time.perf_counter()
    # no surrogate name in the notes may be a real person's name of this snapshot (read once, here)
    names = pl.from_arrow(bronze["patients"].read(columns=list(REAL_NAME_COLUMNS)))
    text_deidentifier = avoiding_real_names(text_deidentifier, names.iter_rows(named=True))
    # one as-of instant for every task (ages fall back to it), as the local builder has one
    builder = SilverBuilder(key, policy, text_deidentifier, as_of=as_of or datetime.now(UTC))
    frames = {}
    for name, ref in bronze.items():
        available = [f.name for f in ref.open().schema().fields]
        frames[name] = read_delta(spark, ref, bronze_columns(name, available))
    # one row per patient, joined onto every patient-scoped table: computed once, not once per table
    context = patient_context(builder, frames).persist()
    known = (
        frames["patients"]
        .select(
            "patient_key",
            *[
                F.col(c).alias(f"{KNOWN}{c}")
                for c in frames["patients"].columns
                if c != "patient_key"
            ],
            F.lit(True).alias(KNOWN_PRESENT),
        )
        .persist()
    )
    partitions = max(2, spark.sparkContext.defaultParallelism * 2)
    accumulator = spark.sparkContext.accumulator(Counter(), CounterParam())
    staged: dict[str, tuple[Path, pa.Schema]] = {}
    refs: dict[str, DeltaRef] = {}
    try:
        for name, frame in frames.items():
            if on_table:
                on_table(name)
            spec = SPECS[name]
            if spec.patient_scoped:
                frame = frame.join(context, "patient_key", "left")
                if spec.free_text:
                    frame = _with_shared_flags(frame.join(known, "patient_key", "left"), spec)
                frame = frame.repartition(
                    partitions, "patient_key"
                )  # a patient's rows in one slice
            schema = output_schema(builder, spec, frame)
            silver = map_in_arrow(frame, _slices(builder, spec, accumulator), schema)
            staged[name] = (stage_parquet(silver, table_uri(silver_dir, name)), schema)
        built_s = time.perf_counter() - started
        snapshot_ids = _snapshot_ids(frames)
        meta = silver_metadata(
            bronze, policy, key, digest, snapshot_ids, commit_metadata, **engine_metadata(spark)
        )
        refs, rows = {}, {}
        for name, (path, schema) in staged.items():
            refs[name], rows[name] = commit_parquet(
                table_uri(silver_dir, name), path, schema, metadata=meta(name), table=name
            )
    except BaseException:
        discard(
            path for name, (path, _) in staged.items() if name not in refs
        )  # never a committed table's files
        raise
    finally:
        context.unpersist()
        known.unpersist()
    replacements = Counter(accumulator.value)
    texts = replacements.pop(TEXTS, 0)
    build = SilverBuild(
        refs,
        digest,
        True,
        {n: r.version for n, r in bronze.items()},
        replacements,
        texts,
        rows,
        {"read_and_deidentify": built_s, "write": time.perf_counter() - started - built_s},
    )
    record_run(
        silver_dir, build, policy, key, snapshot_ids, commit_metadata(f"silver/{RUNS_TABLE}")
    )
    return build
