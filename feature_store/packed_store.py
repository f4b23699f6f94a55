"""A Feast online store on SQLite with a packed layout: one row per (entity, feature view).

Feast's own SQLite store keeps one row per (entity, feature): ~190 rows per patient for the readmission
service, one ``INSERT`` each on write and one row (plus a datetime conversion) each on read. Here each
view is one table::

    entity_key BLOB PRIMARY KEY   -- Feast's serialized entity key (entity_key_serialization_version)
    event_ts   INTEGER            -- event time, microseconds since the epoch (UTC)
    created_ts INTEGER            -- created time, same unit, NULL when none
    payload    BLOB               -- the view's values: a serialized ``feast.types.Map`` (feature -> Value)

Payload: ``Map`` has one field, ``map<string, Value> val = 1``. Its entries are written sorted by feature
name, each ``0x0A len(entry) | 0x0A len(name) name | 0x12 len(value) value`` (a valid ``Map`` encoding; the
fixed order makes the bytes reproducible); a null feature is an empty ``Value`` (``0x12 0x00``), what
Feast's materialization hands ``online_write_batch`` for a null and what Feast's SQLite store keeps, so
reads return the same ``Value`` either way. Decoding is one C-level ``ParseFromString`` per row.
``entry_prefix`` is shared with the vectorized writer in ``feature_store.online`` (``_write_packed``), so
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

import os
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Literal, Optional, Sequence, Tuple

from feast import Entity
from feast.feature_view import FeatureView
from feast.infra.key_encoding_utils import serialize_entity_key
from feast.infra.online_stores.helpers import compute_table_id
from feast.infra.online_stores.online_store import OnlineStore
from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Map as MapProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.repo_config import FeastConfigBaseModel, RepoConfig
from pydantic import StrictStr

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EPOCH_NAIVE = EPOCH.replace(tzinfo=None)
_US = timedelta(microseconds=1)
_READ_CHUNK = 500  # entity keys per SELECT (bound parameters)


class PackedSqliteOnlineStoreConfig(FeastConfigBaseModel):
    """Online store config of :class:`PackedSqliteOnlineStore`."""

    type: Literal["feature_store.packed_store.PackedSqliteOnlineStore"] = (
        "feature_store.packed_store.PackedSqliteOnlineStore")
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


def entry_prefix(key: bytes, value_len: int) -> bytes:
    """The bytes of a ``Map`` entry before its value: they depend on the key and the value's length only."""
    inner = 2 + len(varint(len(key))) + len(key) + len(varint(value_len)) + value_len  # 0x0A..key 0x12 len value
    return b"\x0a" + varint(inner) + b"\x0a" + varint(len(key)) + key + b"\x12" + varint(value_len)


def encode_entry(name: str, value: bytes) -> bytes:
    """One ``Map`` entry: feature name -> serialized ``Value`` (``b""``: an empty Value, i.e. null)."""
    return entry_prefix(name.encode("utf-8"), len(value)) + value


def encode_payload(values: Dict[str, ValueProto]) -> bytes:
    """A view's values as a serialized ``Map``, entries sorted by name."""
    return b"".join(encode_entry(name, values[name].SerializeToString()) for name in sorted(values))


def decode_payload(payload: bytes, requested: Optional[Iterable[str]] = None) -> Dict[str, ValueProto]:
    vals = MapProto.FromString(payload).val
    if requested is None:
        return dict(vals)
    return {name: vals[name] for name in requested if name in vals}  # `in` first: a message map inserts on []


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
    return compute_table_id(config.project, table, config.registry.enable_online_feature_view_versioning)


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def upsert_sql(table: str) -> str:
    """Insert, or replace the stored row (whatever its event time, as Feast's SQLite store does)."""
    t = quote(table)
    return (f"INSERT INTO {t} (entity_key, event_ts, created_ts, payload) VALUES (?, ?, ?, ?) "
            f"ON CONFLICT(entity_key) DO UPDATE SET event_ts = excluded.event_ts, "
            f"created_ts = excluded.created_ts, payload = excluded.payload")


class PackedSqliteOnlineStore(OnlineStore):
    """SQLite, one row per (entity key, feature view) holding all of the view's values (module docstring)."""

    def __init__(self) -> None:
        self._conn: Optional[sqlite3.Connection] = None
        self._conn_path: Optional[str] = None
        self._pid: Optional[int] = None
        self._lock = threading.RLock()
        self._tables: set[str] = set()  # tables known to exist on this connection

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
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._conn, self._conn_path, self._pid, self._tables = conn, path, os.getpid(), set()
        return self._conn

    def _ensure_table(self, conn: sqlite3.Connection, name: str) -> None:
        if name not in self._tables:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {quote(name)} (entity_key BLOB PRIMARY KEY, "
                         "event_ts INTEGER NOT NULL, created_ts INTEGER, payload BLOB NOT NULL)")
            self._tables.add(name)

    # -- writes
    def online_write_batch(
        self,
        config: RepoConfig,
        table: FeatureView,
        data: List[Tuple[EntityKeyProto, Dict[str, ValueProto], datetime, Optional[datetime]]],
        progress: Optional[Callable[[int], Any]],
    ) -> None:
        version = config.entity_key_serialization_version
        rows = [(serialize_entity_key(key, entity_key_serialization_version=version), micros(ts),
                 None if created is None else micros(created), encode_payload(values))
                for key, values, ts, created in data]
        self.write_rows(config, table, rows)
        if progress:
            progress(len(data))

    def write_rows(self, config: RepoConfig, table: Any,
                   rows: Iterable[Tuple[bytes, int, Optional[int], bytes]]) -> None:
        """``(serialized entity key, event µs, created µs or None, payload)`` rows, one transaction.
        Rows in entity-key order insert as B-tree appends (the fast writer passes them sorted)."""
        name = table_name(config, table)
        with self._lock:
            conn = self.connection(config)
            with conn:
                self._ensure_table(conn, name)
                conn.executemany(upsert_sql(name), rows)

    # -- reads
    def online_read(
        self,
        config: RepoConfig,
        table: FeatureView,
        entity_keys: List[EntityKeyProto],
        requested_features: Optional[List[str]] = None,
    ) -> List[Tuple[Optional[datetime], Optional[Dict[str, ValueProto]]]]:
        version = config.entity_key_serialization_version
        keys = [serialize_entity_key(k, entity_key_serialization_version=version) for k in entity_keys]
        found = self.read_rows(config, table, keys)
        result: List[Tuple[Optional[datetime], Optional[Dict[str, ValueProto]]]] = []
        for key in keys:
            row = found.get(key)
            if row is None:
                result.append((None, None))
            else:
                result.append((from_micros(row[0]), decode_payload(row[1], requested_features)))
        return result

    def read_rows(self, config: RepoConfig, table: Any, keys: Sequence[bytes]) -> Dict[bytes, Tuple[int, bytes]]:
        """Serialized entity key -> (event µs, payload) for the keys stored."""
        t = quote(table_name(config, table))
        found: Dict[bytes, Tuple[int, bytes]] = {}
        with self._lock:
            conn = self.connection(config)
            for i in range(0, len(keys), _READ_CHUNK):
                chunk = keys[i:i + _READ_CHUNK]
                where = "entity_key = ?" if len(chunk) == 1 else f"entity_key IN ({','.join('?' * len(chunk))})"
                for key, ts, payload in conn.execute(f"SELECT entity_key, event_ts, payload FROM {t} WHERE {where}",
                                                     chunk):
                    found[key] = (ts, payload)
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
                    self._tables.discard(name)

    def teardown(self, config: RepoConfig, tables: Sequence[FeatureView], entities: Sequence[Entity]) -> None:
        """Drops the tables of ``tables`` (the file stays: other projects may share it)."""
        self.update(config, tables_to_delete=tables, tables_to_keep=[], entities_to_delete=entities,
                    entities_to_keep=[], partial=False)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
            self._conn, self._tables = None, set()
