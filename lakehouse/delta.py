"""Delta Lake reads and writes with the lineage contract: every write returns its version and
stamps the commit with who wrote it (Dagster run id, asset key, snapshot id)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import CommitProperties, DeltaTable, PostCommitHookProperties, write_deltalake
from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError
from pydantic import BaseModel


class DeltaRef(BaseModel):
    """A pinned Delta table version: what one asset hands to the next."""

    table: str
    uri: str
    version: int

    def open(self) -> DeltaTable:
        return DeltaTable(self.uri, version=self.version)

    def read(self, columns: list[str] | None = None) -> pa.Table:
        return self.open().to_pyarrow_table(columns=columns)


@dataclass(frozen=True)
class WriteResult:
    table: str
    uri: str
    version: int
    rows_in_source: int
    inserted: int
    updated: int
    unchanged: int
    created: bool

    def ref(self) -> DeltaRef:
        return DeltaRef(table=self.table, uri=self.uri, version=self.version)


def table_uri(zone_dir: Path, table: str) -> str:
    return str(Path(zone_dir) / table)


def current_version(uri: str) -> int | None:
    try:
        return DeltaTable(uri).version()
    except TableNotFoundError:
        return None


# Checkpoints as usual, but never delta-rs' automatic removal of expired log entries (after a checkpoint, entries
# older than delta.logRetentionDuration, 30 days by default): a registered model pins the versions it learned
# from, and time travel to them needs their log. Only `clinical-mlops lineage vacuum` removes files, and it
# keeps every version a registered model refers to (audit/retention.py).
KEEP_LOG = PostCommitHookProperties(create_checkpoint=True, cleanup_expired_logs=False)


class ConcurrentWriteError(RuntimeError):
    """Another writer committed to the same Delta table while this write was in flight."""


def commit_properties(metadata: dict[str, Any] | None) -> CommitProperties:
    """The commit's custom metadata, and no commit retries: delta-rs would otherwise retry a commit that lost a
    race at the next version whenever its conflict checker sees no conflict, which lets a second table creation
    (mode ``error``) or a second ingest of the same rows commit after the first one, duplicating rows. Every
    write of ours expects to be the only writer of its table (the home lock: clinical_mlops/home_lock.py), so a
    lost race is an error, raised as :class:`ConcurrentWriteError`."""
    return CommitProperties(
        custom_metadata={k: str(v) for k, v in (metadata or {}).items() if v is not None},
        max_commit_retries=0,
    )


@contextlib.contextmanager
def single_writer(uri: str, expected: int | None) -> Iterator[None]:
    """Turn a lost commit race into :class:`ConcurrentWriteError` naming the table and the versions."""
    try:
        yield
    except CommitFailedError as exc:
        raise ConcurrentWriteError(_conflict(uri, expected, exc)) from exc
    except DeltaError as exc:
        if "already exists" not in str(exc).lower():
            raise
        raise ConcurrentWriteError(_conflict(uri, expected, exc)) from exc


def _conflict(uri: str, expected: int | None, exc: Exception) -> str:
    base = "created" if expected is None else f"at version {expected}"
    return (
        f"{uri}: another writer committed to this Delta table while this write was in flight (table read "
        f"{base}, now at version {current_version(uri)}); nothing was written. One writer per lakehouse "
        f"home: is another run using it? ({exc})"
    )


def write(
    uri: str,
    data: pa.Table,
    *,
    mode: Literal["overwrite", "append"] = "overwrite",
    metadata: dict[str, Any] | None = None,
    table: str | None = None,
) -> DeltaRef:
    """One atomic commit: ``overwrite`` replaces the rows (and the schema), ``append`` adds them. The
    commit carries ``metadata``; returns the version written."""
    schema_mode: Literal["overwrite"] | None = "overwrite" if mode == "overwrite" else None
    before = current_version(uri)
    with single_writer(uri, before):
        write_deltalake(
            uri,
            data,
            mode=mode,
            schema_mode=schema_mode,
            commit_properties=commit_properties(metadata),
            post_commithook_properties=KEEP_LOG,
        )
    return DeltaRef(table=table or Path(uri).name, uri=uri, version=current_version(uri) or 0)


def upsert(
    uri: str,
    data: pa.Table | ds.Dataset,
    *,
    key: str,
    change_column: str | None = None,
    metadata: dict[str, Any] | None = None,
    table: str | None = None,
) -> WriteResult:
    """Insert new keys and update changed rows (``change_column`` differs) in one atomic commit.

    Rows whose key exists with the same ``change_column`` value are left alone, so writing the same
    data twice adds no rows and no commit. The first write creates the table, even when empty, so
    downstream readers always find a schema.
    """
    name = table or Path(uri).name
    version = current_version(uri)
    rows = data.num_rows if isinstance(data, pa.Table) else data.count_rows()
    if version is None:
        with single_writer(
            uri, None
        ):  # a table someone else created meanwhile is an error, never an append
            write_deltalake(
                uri,
                _stream(data),
                mode="error",
                commit_properties=commit_properties(metadata),
                post_commithook_properties=KEEP_LOG,
            )
        return WriteResult(name, uri, current_version(uri) or 0, rows, rows, 0, 0, True)
    if rows == 0:
        return WriteResult(name, uri, version, 0, 0, 0, 0, False)
    target = DeltaTable(
        uri, version=version
    )  # merge against the version read above, never a newer one
    merger = target.merge(
        _stream(data),
        predicate=f"t.{key} = s.{key}",
        source_alias="s",
        target_alias="t",
        merge_schema=True,
        commit_properties=commit_properties(metadata),
        post_commithook_properties=KEEP_LOG,
    )
    update_predicate = f"t.{change_column} <> s.{change_column}" if change_column else None
    with single_writer(uri, version):
        metrics = (
            merger.when_matched_update_all(predicate=update_predicate)
            .when_not_matched_insert_all()
            .execute()
        )
    inserted = int(metrics.get("num_target_rows_inserted", 0))
    updated = int(metrics.get("num_target_rows_updated", 0))
    return WriteResult(
        name,
        uri,
        current_version(uri) or 0,
        rows,
        inserted,
        updated,
        rows - inserted - updated,
        False,
    )


def _stream(data: pa.Table | ds.Dataset) -> pa.Table | pa.RecordBatchReader:
    """A dataset (e.g. parquet staged by Spark) streams into delta-rs in batches instead of being loaded whole."""
    return data if isinstance(data, pa.Table) else data.scanner().to_reader()


def commit_metadata_of(uri: str, version: int) -> dict[str, Any]:
    """The commit info (including our custom metadata) of one table version."""
    for entry in DeltaTable(uri).history():
        if entry.get("version") == version:
            return entry
    raise KeyError(f"{uri}: no commit for version {version}")


def row_count(uri: str, version: int | None = None) -> int:
    """Rows in a table version, from the Delta log's file statistics (no data read)."""
    actions = DeltaTable(uri, version=version).get_add_actions(flatten=True)
    counts = pa.table(actions).column("num_records")
    return int(sum(v for v in counts.to_pylist() if v is not None))
