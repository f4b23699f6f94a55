"""The lineage walk from a training set to the landing snapshot names the first missing link."""

from __future__ import annotations

import json

import polars as pl
import pytest

from lakehouse.delta import write
from lineage.chain import LineageError, training_set_lineage

ONE = pl.DataFrame({"x": [1]}).to_arrow()


def _chain(root, *, silver_meta=None, snapshots=("a" * 64, "a" * 64), digest="sha256:00"):
    for table, snapshot in zip(("patients", "encounters"), snapshots):
        meta = {
            "bronze_versions": json.dumps({"patients": 0, "encounters": 0}),
            "deid_policy_version": "p1",
            "deid_key_fingerprint": "k1",
            "landing_snapshot_id": snapshot,
            "landing_snapshot_ids": json.dumps(sorted(set(snapshots))),
            **(silver_meta or {}).get(table, {}),
        }
        write(
            str(root / "silver" / table),
            ONE,
            metadata={k: v for k, v in meta.items() if v is not None},
        )
    upstream = {
        "gold": {"features/labs": {"uri": "x", "version": 3}},
        "silver": {"patients": 0, "encounters": 0},
    }
    return write(
        str(root / "gold" / "ts"),
        ONE,
        metadata={
            "content_digest": digest,
            "feature_service": "svc",
            "upstream_versions": json.dumps(upstream),
        },
    )


def test_the_chain_reaches_the_landing_snapshot(tmp_path):
    tags = training_set_lineage(_chain(tmp_path), tmp_path / "silver")
    assert tags["lineage.landing.snapshot_id"] == "a" * 64
    assert tags["lineage.gold.features/labs"] == "3" and tags["lineage.silver.encounters"] == "0"
    assert tags["lineage.bronze.patients"] == "0" and tags["lineage.deid.policy_version"] == "p1"
    assert tags["lineage.landing.snapshot_ids"] == "a" * 64


def test_silver_tables_with_different_policies_are_refused(tmp_path):
    ref = _chain(tmp_path, silver_meta={"encounters": {"deid_policy_version": "p2"}})
    with pytest.raises(LineageError, match="disagree on the de-identification policy"):
        training_set_lineage(ref, tmp_path / "silver")


def test_a_silver_commit_without_bronze_versions_is_named(tmp_path):
    ref = _chain(tmp_path, silver_meta={"patients": {"bronze_versions": None}})
    with pytest.raises(
        LineageError, match=r"silver/patients@0: the commit records no 'bronze_versions'"
    ):
        training_set_lineage(ref, tmp_path / "silver")


def test_silver_built_from_different_snapshots_is_refused(tmp_path):
    ref = _chain(tmp_path, snapshots=("a" * 64, "b" * 64))
    with pytest.raises(LineageError, match="built from different landing snapshots"):
        training_set_lineage(ref, tmp_path / "silver")


def test_silver_without_a_landing_snapshot_is_named(tmp_path):
    ref = _chain(tmp_path, snapshots=("", ""))
    with pytest.raises(
        LineageError, match=r"silver/patients@0: the commit records no 'landing_snapshot_id'"
    ):
        training_set_lineage(ref, tmp_path / "silver")


def test_a_training_set_without_a_digest_is_refused(tmp_path):
    with pytest.raises(LineageError, match="no content digest"):
        training_set_lineage(_chain(tmp_path, digest=""), tmp_path / "silver")
