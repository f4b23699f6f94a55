"""Retention on a small tmp Delta table: a version a registered model refers to survives vacuum, an
unprotected old version's files go, and ``verify``'s version check names a vacuumed version."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from audit.retention import delta_tables, vacuum_table
from audit.verify import check_version


@pytest.fixture()
def overwritten(tmp_path: Path) -> str:
    """``gold/t`` with three overwrites: versions 0, 1, 2 each hold different rows in their own files."""
    uri = str(tmp_path / "gold" / "t")
    for i in range(3):
        write_deltalake(
            uri, pa.table({"patient_id": [f"p{i}"] * 2, "value": [i, i]}), mode="overwrite"
        )
    return uri


def test_vacuum_keeps_the_protected_version_and_removes_the_unprotected_one(
    overwritten: str,
) -> None:
    result = vacuum_table(overwritten, {0}, retention_hours=0)
    assert result.deleted and result.kept_for_protected
    assert DeltaTable(overwritten, version=0).to_pyarrow_table().column("value").to_pylist() == [
        0,
        0,
    ]
    assert DeltaTable(overwritten).to_pyarrow_table().column("value").to_pylist() == [2, 2]
    assert check_version("gold", "t", overwritten, 0).ok
    broken = check_version("gold", "t", overwritten, 1)
    assert not broken.ok and broken.link == "gold t@1"
    assert f"{overwritten}@1 needs 1 data file(s) that are gone" in broken.detail
    with pytest.raises(Exception):  # noqa: B017 - the store raises its own error type
        DeltaTable(overwritten, version=1).to_pyarrow_table()


def test_dry_run_and_retention_period_delete_nothing(overwritten: str) -> None:
    files = sorted(p.name for p in Path(overwritten).glob("*.parquet"))
    assert vacuum_table(
        overwritten, set(), retention_hours=0, dry_run=True
    ).deleted  # would delete v0 and v1
    assert (
        vacuum_table(overwritten, set(), retention_hours=168).deleted == []
    )  # removed moments ago
    assert sorted(p.name for p in Path(overwritten).glob("*.parquet")) == files
    assert all(check_version("gold", "t", overwritten, v).ok for v in (0, 1, 2))


def test_home_tables_are_found_under_nested_zone_dirs(overwritten: str, tmp_path: Path) -> None:
    write_deltalake(str(tmp_path / "gold" / "features" / "labs"), pa.table({"a": [1]}))
    assert delta_tables([tmp_path / "gold"]) == [
        str(tmp_path / "gold" / "features" / "labs"),
        overwritten,
    ]


@pytest.mark.parametrize("ours", [True, False])
def test_our_writes_never_expire_the_log_a_pinned_version_needs(tmp_path, ours):
    """delta-rs removes log entries older than delta.logRetentionDuration after a checkpoint; our writes turn that
    off (lakehouse.delta.KEEP_LOG), so version 0 stays reachable. The plain delta-rs write shows the test bites."""
    import time

    from deltalake.exceptions import TableNotFoundError

    from lakehouse.delta import write

    uri = str(tmp_path / "t")
    write_deltalake(
        uri,
        pa.table({"x": [0]}),
        configuration={
            "delta.logRetentionDuration": "interval 0 seconds",
            "delta.checkpointInterval": "2",
        },
    )
    time.sleep(1.1)  # version 0's log entry is now past the (zero) retention
    for i in range(1, 6):
        if ours:
            write(uri, pa.table({"x": [i]}), mode="append")
        else:
            write_deltalake(uri, pa.table({"x": [i]}), mode="append")
    if ours:
        assert DeltaTable(uri, version=0).to_pyarrow_table().column("x").to_pylist() == [0]
    else:
        with pytest.raises(TableNotFoundError):
            DeltaTable(uri, version=0)
