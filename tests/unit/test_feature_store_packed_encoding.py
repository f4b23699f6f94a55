"""The packed online store's payload and row encoding (``feature_store.packed_store``) and the vectorized
entries of the fast writer (``feature_store.online._packed_entries``): the bytes are a
``feast.types.RepeatedValue`` (values in feature-name order) that protobuf parses back to the same values,
nulls are empty Values (as Feast writes them), and every dtype the views use gives the bytes of the fast
SQLite writer and of Feast."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa
import pytest
from feast.protos.feast.types.Value_pb2 import FloatList, RepeatedValue, Value
from feast.type_map import python_values_to_proto_values
from feast.value_type import ValueType

from feature_store.online import _encode_column, _packed_entries
from feature_store.packed_store import (
    decode_payload,
    encode_payload,
    from_micros,
    micros,
    upsert_sql,
    value_entry,
    value_prefix,
    varint,
)

VALUES = {
    "hr": Value(double_val=-0.0),
    "n": Value(int64_val=-(2**63)),
    "flag": Value(bool_val=False),
    "unit": Value(string_val="é中" + "x" * 300),
    "null": Value(),
    "emb": Value(float_list_val=FloatList(val=[1.5] * 40)),
    "ts": Value(unix_timestamp_val=-1),
    "k" * 200: Value(double_val=math.inf),
}


def test_payload_is_a_repeated_value_in_name_order():
    names, payload = encode_payload(VALUES)
    assert names == tuple(sorted(VALUES))
    assert list(RepeatedValue.FromString(payload).val) == [VALUES[n] for n in names]
    sizes, pos = [], 0
    while pos < len(payload):  # walk the entries: 0x0A len value
        assert payload[pos] == 0x0A
        size, head = _read_varint(payload, pos + 1)
        sizes.append(size)
        pos = head + size
    assert sizes == [len(VALUES[n].SerializeToString()) for n in names]
    assert encode_payload({"a": Value()}) == (("a",), b"\x0a\x00")  # a null: an empty Value
    assert decode_payload(names, payload) == VALUES
    assert decode_payload(names, payload)["null"].WhichOneof("val") is None
    assert decode_payload(names, payload, ["unit", "absent", "hr"]) == {
        "unit": VALUES["unit"],
        "hr": VALUES["hr"],
    }
    assert encode_payload({}) == ((), b"") and decode_payload((), b"") == {}
    with pytest.raises(ValueError, match="holds 8 values, its layout names 7"):
        decode_payload(names[:-1], payload)


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not byte & 0x80:
            return value, pos


@pytest.mark.parametrize("size", [0, 1, 117, 118, 127, 128, 300, 20_000])
def test_value_prefix_lengths_cross_varint_boundaries(size):
    value = Value(bytes_val=b"z" * size).SerializeToString() if size else b""
    assert value_entry(value) == RepeatedValue(val=[Value.FromString(value)]).SerializeToString()
    assert value_prefix(len(value)) + value == value_entry(value)
    assert varint(size) == bytes(
        Value(int64_val=size).SerializeToString()[1:]
    )  # varint as protobuf writes it


def test_micros_naive_is_utc_and_round_trips():
    aware = datetime(2020, 2, 29, 23, 59, 59, 123456, tzinfo=UTC)
    assert micros(aware) == micros(aware.replace(tzinfo=None)) == 1583020799123456
    assert micros(aware.astimezone(timezone(timedelta(hours=-5)))) == micros(aware)
    assert from_micros(micros(aware)) == aware
    before = datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)
    assert micros(before) == -500000 and from_micros(-500000) == before


def test_upsert_replaces_the_stored_row_like_feast_sqlite():
    import sqlite3

    conn = sqlite3.connect(":memory:")
    conn.execute(
        "CREATE TABLE t (entity_key BLOB PRIMARY KEY, event_ts INTEGER, created_ts INTEGER, layout INTEGER, "
        "payload BLOB)"
    )
    conn.executemany(
        upsert_sql("t", 1),
        [(b"a", 10, None, b"v1"), (b"b", 10, None, b"w1"), (b"c", 10, None, b"x1")],
    )
    conn.executemany(
        upsert_sql("t", 2),
        [
            (b"a", 10, None, b"v2"),  # same time: a correction lands
            (b"b", 11, 5, b"w2"),
            (b"b", 10, None, b"w3"),  # in one batch: in order
            (b"c", 9, None, b"x0"),
        ],
    )  # an older row replaces too (a corrected newest)
    assert conn.execute("SELECT * FROM t ORDER BY entity_key").fetchall() == [
        (b"a", 10, None, 2, b"v2"),
        (b"b", 10, None, 2, b"w3"),
        (b"c", 9, None, 2, b"x0"),
    ]


def _feast_values(arr: pa.Array, value_type: ValueType) -> list[bytes]:
    """What Feast's materialization hands ``online_write_batch`` (``_columns_to_proto_values``)."""
    protos = python_values_to_proto_values(arr.to_numpy(zero_copy_only=False), value_type)
    return [p.SerializeToString() for p in protos]


COLUMNS = [
    (pa.array([1.0, None, math.nan, -0.0, math.inf, 5e-324]), ValueType.DOUBLE),
    (pa.array([1.0, -0.0, -math.inf, 1e308]), ValueType.DOUBLE),  # no null: fixed-width entries
    (
        pa.array([0, None, -1, 2**62, -(2**63), 7]),
        ValueType.INT64,
    ),  # with a null, Feast sees floats
    (pa.array([2**63 - 1, 127, 128, 16383, 16384, -128, 0]), ValueType.INT64),
    (
        pa.array([0, 5, None, 127, 1, None]),
        ValueType.INT64,
    ),  # one-byte varints (counts), with nulls
    (pa.array([0, 5, 127, 1]), ValueType.INT64),  # one-byte varints, fixed-width entries
    (pa.array([True, False, True]), ValueType.BOOL),  # no null: fixed-width entries
    (pa.array([True, None, False, True, False, None]), ValueType.BOOL),
    (pa.array(["", None, "bpm", "é中", "x" * 300, "bpm"]), ValueType.STRING),
    (
        pa.array(
            [[1.0, 2.0], None, [3.4e38] * 40, [math.nan], [-0.0], [1.0] * 256],
            pa.list_(pa.float32()),
        ),
        ValueType.FLOAT_LIST,
    ),  # plain lists: encoded by hand
    (
        pa.array([[1.0, None], [], None, [0.5], [], [2.0]], pa.list_(pa.float32())),
        ValueType.FLOAT_LIST,
    ),  # Feast's
    (
        pa.array(
            [
                datetime(2020, 1, 1, tzinfo=UTC),
                None,
                datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC),
            ]
            * 2,
            pa.timestamp("us", "UTC"),
        ),
        ValueType.UNIX_TIMESTAMP,
    ),
]


@pytest.mark.parametrize(
    "arr,value_type", COLUMNS, ids=[str(t) + str(i) for i, (_, t) in enumerate(COLUMNS)]
)
def test_packed_entries_equal_feast_values(arr, value_type):
    got = _packed_entries(pa.chunked_array([arr[:2], arr[2:]]), value_type).to_pylist()
    ours = _encode_column(pa.chunked_array([arr]), value_type, texts=False)[
        0
    ]  # the fast SQLite writer's values
    assert got == [value_entry(raw) for raw in ours]
    assert [decode_payload(["feat"], p)["feat"] for p in got] == [
        Value.FromString(raw) for raw in ours
    ]
    feast = _feast_values(arr, value_type)
    if value_type == ValueType.UNIX_TIMESTAMP:
        # a null timestamp: Feast's converter writes NaT's integer (a bogus time), both fast writers an empty
        # Value (null); the views' stamps are never null (they are the row's event time)
        assert feast[1] != b"" and ours[1] == b""
        feast[1] = feast[4] = b""
    assert ours == feast


@pytest.mark.parametrize("version", [3, 2])  # 3: built in Arrow; others: Feast's own function
def test_serialized_keys_equal_feast(version):
    from types import SimpleNamespace

    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey

    from feature_store.online import _serialized_keys

    ids = ["p000001", "", "é中", "x" * 300, "p2"]
    store = SimpleNamespace(config=SimpleNamespace(entity_key_serialization_version=version))
    got = _serialized_keys(
        store, pa.chunked_array([ids[:2], ids[2:]]), "patient_id", {}
    ).to_pylist()
    want = [
        serialize_entity_key(
            EntityKey(join_keys=["patient_id"], entity_values=[Value(string_val=i)]), version
        )
        for i in ids
    ]
    assert got == want
