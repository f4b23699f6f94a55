"""The Spark engine's pieces that need no Spark: the per-file payloads round-trip to the local parser's rows, and
a Delta version that plain parquet cannot represent is refused by name."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from cohort.generator import generate_cohort
from ingestion.bronze_tables import TABLES
from ingestion.ingest import SnapshotParser
from ingestion.landing import take_snapshot
from ingestion.spark import ORDER, open_payloads, parse_file_rows
from lakehouse.delta import DeltaRef
from lakehouse.spark import delta_files

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def test_file_payloads_round_trip_to_the_local_parsers_rows(tmp_path) -> None:
    generate_cohort(tmp_path, 5, 2, gzip=True)
    with (tmp_path / "Observation.ndjson.gz").open("ab") as out:  # gzip members concatenate
        import gzip

        out.write(gzip.compress(b'{"resourceType": "Observation", "id": \n'))
    snapshot = take_snapshot(tmp_path)
    entry = next(e for e in snapshot.files if e.path.startswith("Observation"))
    rows = parse_file_rows(
        snapshot, 3, entry.path, entry.sha256, now=NOW, batch_rows=1000, vectorized=True
    )
    assert set(rows.column("file_index").to_pylist()) == {3}
    assert sorted(rows.column("kind").to_pylist()) == ["counts", "quarantine", "table"]

    local = SnapshotParser(snapshot, batch_rows=1000)
    local.now = NOW
    local.parse_file(entry.path, entry.sha256)
    expected = local.batches["observations"].table()
    payload = rows.filter(pa.compute.equal(rows["kind"], "table"))
    opened = pa.concat_tables(
        open_payloads(iter(payload.to_batches()), TABLES["observations"].schema)
    )
    assert opened.column(ORDER[0]).to_pylist() == [3] * expected.num_rows
    assert opened.column(ORDER[1]).to_pylist() == list(range(expected.num_rows))
    assert opened.drop_columns(list(ORDER)).equals(expected)


def test_a_table_with_deletion_vectors_is_refused_by_name(tmp_path, monkeypatch) -> None:
    uri = str(tmp_path / "t")
    write_deltalake(uri, pa.table({"a": [1, 2]}))
    assert delta_files(DeltaRef(table="t", uri=uri, version=0))  # plain parquet: its files
    protocol = SimpleNamespace(reader_features=["deletionVectors"], min_reader_version=3)
    monkeypatch.setattr(DeltaTable, "protocol", lambda self: protocol)
    with pytest.raises(
        ValueError, match=r"t version 0 uses Delta reader feature\(s\) \['deletionVectors'\]"
    ):
        delta_files(DeltaRef(table="t", uri=uri, version=0))
