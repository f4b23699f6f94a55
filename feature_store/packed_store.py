"""A Feast online store on SQLite with a packed layout: one row per (entity, feature view).

Feast's own SQLite store keeps one row per (entity, feature): ~190 rows per patient for the readmission
service, one ``INSERT`` each on write and one row (plus a datetime conversion) each on read. Here each
view is one table::

    entity_key BLOB PRIMARY KEY   -- Feast's serialized entity key (entity_key_serialization_version)
    event_ts   INTEGER            -- event time, microseconds since the epoch (UTC)
    created_ts INTEGER            -- created time, same unit, NULL when none
    layout     INTEGER            -- which feature names the payload holds, in order (table _packed_layouts)
    payload    BLOB               -- the view's values, by position: a serialized ``feast.types.RepeatedValue``

Payload (format 2): ``RepeatedValue`` has one field, ``repeated Value val = 1``; the row's values are written
in the order of its layout's feature names (sorted by name), each ``0x0A len(value) value``. A null feature
is an empty ``Value`` (``0x0A 0x00``), what Feast's materialization hands ``online_write_batch`` for a null
and what Feast's SQLite store keeps, so reads return the same ``Value`` either way. Decoding is one C-level
``ParseFromString`` per row. The names live once per (table, layout) in ``_packed_layouts`` instead of in
every row: format 1 stored a ``feast.types.Map`` (name -> Value) per row, in which the names were most of the
bytes (230 MB on disk against 137 MB for 20,000 patients of the readmission views, see
benchmarks/results/feature_store.json). A row written before a view gained or lost features keeps its own
layout, so it is still read right. A table in format 1 (no ``layout`` column) is dropped and recreated
when first touched; the online refresh reloads it in full (its store identity names the format).
``value_prefix`` is shared with the vectorized writer in ``feature_store.online`` (``_encode_packed``), so
both write the same bytes.

Write semantics: one transaction per batch (``executemany``); a written row replaces the stored one, like
Feast's SQLite store (which overwrites per feature). That is what the online refresh needs
(``feature_store.refresh``): when a new gold version corrects or removes a patient's newest row, the window
restarts at the earliest change and its latest row per patient - possibly older than the stored one - must
replace it. (Feast's Redis store keeps the stored row unless the new one is strictly newer.) A row holds the
whole view: a write replaces every feature of the row (Feast's materialization and ``write_to_online_store``
always write all of a view's features). Within one batch, rows of the same entity apply in order.

Event times are kept to the microsecond; Feast's SQLite store truncates them to the second.

Configuration (``feature_store.yaml``)::

    online_store:
      type: feature_store.packed_store.PackedSqliteOnlineStore
      path: /abs/path/online-packed.db
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from feast import Entity
from feast.feature_view import FeatureView
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import compute_table_id
from feast.infra.online_stores.online_store import OnlineStore
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import RepeatedValue as RepeatedValueProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.repo_config import FeastConfigBaseModel, RepoConfig
from pydantic import StrictStr

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_NAIVE = EPOCH.replace(tzinfo=None)
_US = timedelta(microseconds=1)
_READ_CHUNK = 500  # entity keys per SELECT (bound parameters)


class PackedSqliteOnlineStoreConfig(FeastConfigBaseModel):
    """Online store config of :class:`PackedSqliteOnlineStore`."""

    type: Literal["feature_store.packed_store.PackedSqliteOnlineStore"] = (
        "feature_store.packed_store.PackedSqliteOnlineStore"
    )
    path: StrictStr = "data/online-packed.db"
    """Path of the SQLite file (relative paths are under the repository)."""


# ---------------------------------------------------------------- payload encoding


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def value_prefix(value_len: int) -> bytes:
    """The bytes of a payload entry before its value (``RepeatedValue.val``, field 1, length-delimited)."""
    return b"\x0a" + varint(value_len)


def value_entry(value: bytes) -> bytes:
    """One payload entry: a serialized ``Value`` (``b""``: an empty Value, i.e. null)."""
    return value_prefix(len(value)) + value


def encode_payload(values: dict[str, ValueProto]) -> tuple[tuple[str, ...], bytes]:
    """A view's values: (feature names sorted, the serialized ``RepeatedValue`` of their values in that order)."""
    names = tuple(sorted(values))
    return names, b"".join(value_entry(values[name].SerializeToString()) for name in names)


def decode_payload(
    names: Sequence[str], payload: bytes, requested: Iterable[str] | None = None
) -> dict[str, ValueProto]:
    """Name -> Value of a payload written with ``names``; ``requested``: only those (absent names skipped)."""
    vals = RepeatedValueProto.FromString(payload).val
    if len(vals) != len(names):
        raise ValueError(
            f"packed payload holds {len(vals)} values, its layout names {len(names)} features"
        )
    if requested is None:
        return dict(zip(names, vals))
    position = _positions(tuple(names))
    return {name: vals[position[name]] for name in requested if name in position}


@functools.lru_cache(maxsize=256)
def _positions(names: tuple[str, ...]) -> dict[str, int]:
    return {name: i for i, name in enumerate(names)}


def micros(ts: datetime) -> int:
    """µs since the epoch; a naive datetime is UTC (what Feast's materialization passes)."""
    if ts.tzinfo is None:
        return (ts - _EPOCH_NAIVE) // _US
    return (ts - EPOCH) // _US


def from_micros(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


# ---------------------------------------------------------------- the store


def table_name(config: RepoConfig, table: Any) -> str:
    """Feast's own table id (``<project>_<view>``, versioned when the registry versions online views)."""
    return compute_table_id(
        config.project, table, config.registry.enable_online_feature_view_versioning
    )


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


# Pages of 64 KiB: a full load writes half as fast again as with SQLite's 4 KiB default (rows are
# 0.1-2 KB, inserted in key order), and a one-key read stays at ~20 µs; the price is that a small update
# rewrites a whole 64 KiB page into the WAL.
PAGE_SIZE = 65536
FORMAT = 2  # payload format (module docstring); part of the online refresh's store identity
LAYOUTS = "_packed_layouts"


def upsert_sql(table: str, layout: int) -> str:
    """Insert, or replace the stored row (whatever its event time, as Feast's SQLite store does)."""
    t = quote(table)
    return (
        f"INSERT INTO {t} (entity_key, event_ts, created_ts, layout, payload) VALUES (?, ?, ?, {int(layout)}, ?) "
        f"ON CONFLICT(entity_key) DO UPDATE SET event_ts = excluded.event_ts, "
        f"created_ts = excluded.created_ts, layout = excluded.layout, payload = excluded.payload"
    )


class PackedSqliteOnlineStore(OnlineStore):
    """SQLite, one row per (entity key, feature view) holding all of the view's values (module docstring)."""

    def __init__(self) -> None:
        self._conn: sqlite3.Connection | None = None
        self._conn_path: str | None = None
        self._pid: int | None = None
        self._lock = threading.RLock()
        self._tables: set[str] = set()  # tables known to exist (in format 2) on this connection
        self._layout_ids: dict[tuple[str, tuple[str, ...]], int] = {}  # (table, names) -> layout id
        self._layout_names: dict[int, tuple[str, ...]] = {}  # layout id -> names

    # -- connection
    @staticmethod
    def db_path(config: RepoConfig) -> str:
        path = config.online_store.path
        if config.repo_path and not Path(path).is_absolute():
            return str(Path(config.repo_path) / path)
        return path

    def connection(self, config: RepoConfig) -> sqlite3.Connection:
        """One connection per process (a forked child opens its own), WAL and synchronous=NORMAL."""
        path = self.db_path(config)
        if self._conn is None or self._pid != os.getpid() or self._conn_path != path:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(path, check_same_thread=False, timeout=30.0)
            conn.execute(f"PRAGMA page_size={PAGE_SIZE}")  # takes effect on a new file only
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            with conn:
                conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {LAYOUTS} (id INTEGER PRIMARY KEY, table_name TEXT NOT NULL, "
                    "names TEXT NOT NULL, UNIQUE (table_name, names))"
                )
            self._conn, self._conn_path, self._pid = conn, path, os.getpid()
            self._tables, self._layout_ids, self._layout_names = set(), {}, {}
        return self._conn

    def _ensure_table(self, conn: sqlite3.Connection, name: str) -> None:
        if name in self._tables:
            return
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info({quote(name)})")}
        if (
            columns and "layout" not in columns
        ):  # format 1 (a Map per row): derived data, rebuilt by a reload
            conn.execute(f"DROP TABLE {quote(name)}")
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {quote(name)} (entity_key BLOB PRIMARY KEY, "
            "event_ts INTEGER NOT NULL, created_ts INTEGER, layout INTEGER NOT NULL, payload BLOB NOT NULL)"
        )
        self._tables.add(name)

    def _layout_id(self, conn: sqlite3.Connection, table: str, names: tuple[str, ...]) -> int:
        key = (table, names)
        found = self._layout_ids.get(key)
        if found is None:
            text = json.dumps(list(names))
            conn.execute(
                f"INSERT OR IGNORE INTO {LAYOUTS} (table_name, names) VALUES (?, ?)", (table, text)
            )
            found = conn.execute(
                f"SELECT id FROM {LAYOUTS} WHERE table_name = ? AND names = ?", (table, text)
            ).fetchone()[0]
            self._layout_ids[key], self._layout_names[found] = found, names
        return found

    def _names(self, conn: sqlite3.Connection, layout: int) -> tuple[str, ...]:
        names = self._layout_names.get(layout)
        if names is None:  # written by another process or connection since
            row = conn.execute(f"SELECT names FROM {LAYOUTS} WHERE id = ?", (layout,)).fetchone()
            if row is None:
                raise KeyError(f"{self._conn_path}: packed row with unknown layout {layout}")
            names = self._layout_names[layout] = tuple(json.loads(row[0]))
        return names

    # -- writes
    def online_write_batch(
        self,
        config: RepoConfig,
        table: FeatureView,
        data: list[tuple[EntityKeyProto, dict[str, ValueProto], datetime, datetime | None]],
        progress: Callable[[int], Any] | None,
    ) -> None:
        version = config.entity_key_serialization_version
        runs: list[
            tuple[tuple[str, ...], list]
        ] = []  # consecutive rows of one feature set, in input order
        for key, values, ts, created in data:
            names, payload = encode_payload(values)
            if not runs or runs[-1][0] != names:
                runs.append((names, []))
            runs[-1][1].append(
                (
                    serialize_entity_key(key, entity_key_serialization_version=version),
                    micros(ts),
                    None if created is None else micros(created),
                    payload,
                )
            )
        self.write_runs(config, table, runs)
        if progress:
            progress(len(data))

    def write_rows(
        self,
        config: RepoConfig,
        table: Any,
        names: Sequence[str],
        rows: Iterable[tuple[bytes, int, int | None, bytes]],
    ) -> None:
        """``(serialized entity key, event µs, created µs or None, payload)`` rows whose payloads hold
        ``names`` in that order, one transaction. Rows in entity-key order insert as B-tree appends (the fast
        writer passes them sorted)."""
        self.write_runs(config, table, [(tuple(names), rows)])

    def write_runs(
        self,
        config: RepoConfig,
        table: Any,
        runs: Sequence[tuple[tuple[str, ...], Iterable[tuple[bytes, int, int | None, bytes]]]],
    ) -> None:
        """Runs of rows (``write_rows``), each with its feature names, in order and in one transaction."""
        name = table_name(config, table)
        with self._lock:
            conn = self.connection(config)
            with conn:
                self._ensure_table(conn, name)
                for names, rows in runs:
                    conn.executemany(
                        upsert_sql(name, self._layout_id(conn, name, tuple(names))), rows
                    )

    # -- reads
    def online_read(
        self,
        config: RepoConfig,
        table: FeatureView,
        entity_keys: list[EntityKeyProto],
        requested_features: list[str] | None = None,
    ) -> list[tuple[datetime | None, dict[str, ValueProto] | None]]:
        version = config.entity_key_serialization_version
        keys = [
            serialize_entity_key(k, entity_key_serialization_version=version) for k in entity_keys
        ]
        found = self.read_rows(config, table, keys)
        result: list[tuple[datetime | None, dict[str, ValueProto] | None]] = []
        for key in keys:
            row = found.get(key)
            if row is None:
                result.append((None, None))
            else:
                try:
                    values = decode_payload(row[1], row[2], requested_features)
                except ValueError as exc:  # a corrupt row: say which
                    raise ValueError(
                        f"{self.db_path(config)}, table {table_name(config, table)}, entity key "
                        f"{key!r}: {exc}"
                    ) from exc
                result.append((from_micros(row[0]), values))
        return result

    def read_rows(
        self, config: RepoConfig, table: Any, keys: Sequence[bytes]
    ) -> dict[bytes, tuple[int, tuple[str, ...], bytes]]:
        """Serialized entity key -> (event µs, the payload's feature names, payload) for the keys stored."""
        name = table_name(config, table)
        t = quote(name)
        found: dict[bytes, tuple[int, tuple[str, ...], bytes]] = {}
        with self._lock:
            conn = self.connection(config)
            if name not in self._tables:
                with conn:
                    self._ensure_table(conn, name)
            for i in range(0, len(keys), _READ_CHUNK):
                chunk = keys[i : i + _READ_CHUNK]
                where = (
                    "entity_key = ?"
                    if len(chunk) == 1
                    else f"entity_key IN ({','.join('?' * len(chunk))})"
                )
                query = f"SELECT entity_key, event_ts, layout, payload FROM {t} WHERE {where}"
                for key, ts, layout, payload in conn.execute(query, chunk):
                    found[key] = (ts, self._names(conn, layout), payload)
        return found

    # -- infrastructure
    def update(
        self,
        config: RepoConfig,
        tables_to_delete: Sequence[FeatureView],
        tables_to_keep: Sequence[FeatureView],
        entities_to_delete: Sequence[Entity],
        entities_to_keep: Sequence[Entity],
        partial: bool,
    ) -> None:
        with self._lock:
            conn = self.connection(config)
            with conn:
                for table in tables_to_keep:
                    self._ensure_table(conn, table_name(config, table))
                for table in tables_to_delete:
                    name = table_name(config, table)
                    conn.execute(f"DROP TABLE IF EXISTS {quote(name)}")
                    conn.execute(f"DELETE FROM {LAYOUTS} WHERE table_name = ?", (name,))
                    self._tables.discard(name)
                    self._layout_ids = {k: v for k, v in self._layout_ids.items() if k[0] != name}

    def teardown(
        self, config: RepoConfig, tables: Sequence[FeatureView], entities: Sequence[Entity]
    ) -> None:
        """Drops the tables of ``tables`` (the file stays: other projects may share it)."""
        self.update(
            config,
            tables_to_delete=tables,
            tables_to_keep=[],
            entities_to_delete=entities,
            entities_to_keep=[],
            partial=False,
        )

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn, self._tables, self._layout_ids, self._layout_names = None, set(), {}, {}
