"""Content digests of tables: the same rows and columns give the same digest, however they were stored.

A training set's digest is recorded when it is written and recomputed when an auditor re-derives it from
the recorded Delta versions (``lineage verify``), so it must not depend on the physical layout: rows are
sorted by the given key, Arrow types are normalized (large/view strings and lists to their plain forms,
timestamps to microseconds UTC) and the data is hashed as one Arrow IPC stream.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

DIGEST_PREFIX = "sha256:"


def _canonical_type(t: pa.DataType) -> pa.DataType:
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return pa.string()
    if pa.types.is_large_binary(t) or pa.types.is_binary_view(t):
        return pa.binary()
    if (
        pa.types.is_large_list(t)
        or pa.types.is_list_view(t)
        or pa.types.is_fixed_size_list(t)
        or pa.types.is_list(t)
    ):
        return pa.list_(_canonical_type(t.value_type))
    if pa.types.is_timestamp(t):
        return pa.timestamp("us", "UTC")
    if pa.types.is_dictionary(t):
        return _canonical_type(t.value_type)
    return t


def canonical(table: pa.Table, sort_by: Sequence[str]) -> pa.Table:
    schema = pa.schema([pa.field(f.name, _canonical_type(f.type)) for f in table.schema])
    table = table.cast(schema)
    if sort_by:
        table = table.take(pc.sort_indices(table, sort_keys=[(c, "ascending") for c in sort_by]))
    return table.combine_chunks()


def table_digest(table: pa.Table, sort_by: Sequence[str]) -> str:
    """``sha256:<hex>`` of the canonical form of ``table`` (column order matters, row order does not)."""
    data = canonical(table, sort_by)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, data.schema) as writer:
        for batch in data.to_batches(max_chunksize=65_536):
            writer.write_batch(batch)
    return DIGEST_PREFIX + hashlib.sha256(sink.getvalue()).hexdigest()
