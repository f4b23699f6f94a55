"""The Spark engine (local[2]) against the local engine on the same landing snapshot: bronze and silver equal row
for row, the same accounting of bad input, Spark-written parquet committed through deltalake, a rebuild skipped
when inputs are unchanged, and a failed build that leaves silver untouched."""

from __future__ import annotations

import json
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable

from cohort.generator import generate_cohort
from deid.keys import DeidKey
from deid.notes import NoteDeidentifier
from deid.policy import DeidPolicy
from deid.silver import build_silver
from deid.structured import SPECS
from ingestion.bronze_tables import AUDIT_TABLE, DUPLICATES_TABLE, QUARANTINE_TABLE, TABLES
from ingestion.ingest import ingest_snapshot
from ingestion.landing import take_snapshot
from lakehouse.delta import DeltaRef, commit_metadata_of, current_version

pytestmark = [pytest.mark.spark, pytest.mark.slow]

KEY = DeidKey(b"s" * 32, "spark-test")
POLICY = DeidPolicy(date_mode="shift")
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
KEYS = {
    **{name: "resource_key" for name in TABLES},
    QUARANTINE_TABLE: "quarantine_key",
    DUPLICATES_TABLE: "duplicate_key",
    AUDIT_TABLE: "audit_key",
}


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    if shutil.which("java") is None:
        pytest.skip("the Spark engine needs Java 17+ (`java` is not on PATH)")
    from pyspark import cloudpickle

    from lakehouse.spark import spark_session

    cloudpickle.register_pickle_by_value(
        sys.modules[__name__]
    )  # Broken below runs in Spark's workers
    session = spark_session("local[2]", local_dir=tmp_path_factory.mktemp("spark-local"))
    yield session
    session.stop()


def _plant_bad_input(landing: Path) -> None:
    """A malformed line (quarantined) and a patient repeated later in the snapshot (the last occurrence wins)."""
    patients = landing / "Patient.ndjson"
    first = json.loads(patients.read_text().splitlines()[0])
    first["gender"] = "unknown"
    with patients.open("a") as out:
        out.write(json.dumps(first) + "\n")
    with (landing / "Observation.ndjson").open("a") as out:
        out.write('{"resourceType": "Observation", "id": "broken", "status": \n')
        out.write('{"resourceType": "NotAType", "id": "x1"}\n')


def _refs(zone: Path, names) -> dict[str, DeltaRef]:
    return {
        n: DeltaRef(table=n, uri=str(zone / n), version=current_version(str(zone / n)))
        for n in names
    }


@pytest.fixture(scope="module")
def engines(spark, tmp_path_factory):
    from deid.spark import build_silver_spark
    from ingestion.spark import ingest_snapshot_spark

    root = tmp_path_factory.mktemp("engines")
    generate_cohort(root / "landing", 30, 5, gzip=False)
    _plant_bad_input(root / "landing")
    snapshot = take_snapshot(root / "landing")
    local = ingest_snapshot(snapshot, root / "local" / "bronze", now=NOW)
    distributed = ingest_snapshot_spark(
        snapshot, root / "spark" / "bronze", spark, staging_root=root / "staging", now=NOW
    )
    local_silver = build_silver(
        _refs(root / "local" / "bronze", SPECS),
        root / "local" / "silver",
        key=KEY,
        policy=POLICY,
        text_deidentifier=NoteDeidentifier(KEY, POLICY),
    )
    spark_silver = build_silver_spark(
        _refs(root / "spark" / "bronze", SPECS),
        root / "spark" / "silver",
        spark,
        key=KEY,
        policy=POLICY,
        text_deidentifier=NoteDeidentifier(KEY, POLICY),
    )
    return {"root": root, "ingest": (local, distributed), "silver": (local_silver, spark_silver)}


def _frame(uri: str, key: str) -> pl.DataFrame:
    frame = pl.from_arrow(DeltaTable(uri).to_pyarrow_table())
    return frame.select(sorted(frame.columns)).sort(key)


def test_ingest_accounting_agrees(engines) -> None:
    local, distributed = engines["ingest"]
    assert local.totals.quarantined == 2 and local.duplicates == 1
    assert vars(distributed.totals) == vars(local.totals)
    assert {t: vars(c) for t, c in distributed.per_type.items()} == {
        t: vars(c) for t, c in local.per_type.items()
    }
    assert distributed.duplicates == local.duplicates
    assert distributed.quarantine_reasons == local.quarantine_reasons


@pytest.mark.parametrize("table", sorted(KEYS))
def test_bronze_equal_row_for_row(engines, table) -> None:
    root = engines["root"]
    local = _frame(str(root / "local" / "bronze" / table), KEYS[table])
    distributed = _frame(str(root / "spark" / "bronze" / table), KEYS[table])
    assert distributed.height == local.height
    assert distributed.equals(local), f"bronze/{table} differs between the engines"


@pytest.mark.parametrize("table", sorted(SPECS))
def test_silver_equal_row_for_row(engines, table) -> None:
    local_build, spark_build = engines["silver"]
    key = SPECS[table].key
    local = _frame(local_build.refs[table].uri, key)
    distributed = _frame(spark_build.refs[table].uri, key)
    assert local.schema == distributed.schema
    assert distributed.height == local.height == local_build.rows[table] == spark_build.rows[table]
    assert distributed.equals(local), f"silver/{table} differs between the engines"


def test_same_replacements_and_texts(engines) -> None:
    local_build, spark_build = engines["silver"]
    assert spark_build.texts == local_build.texts > 0
    assert (
        spark_build.replacements == local_build.replacements
        and sum(spark_build.replacements.values()) > 0
    )


def test_silver_is_spark_written_parquet_committed_through_deltalake(engines) -> None:
    _, spark_build = engines["silver"]
    ref = spark_build.refs["observations"]
    paths = (
        DeltaTable(ref.uri, version=ref.version)
        .get_add_actions(flatten=True)
        .column("path")
        .to_pylist()
    )
    assert paths and all(p.startswith("spark-") and p.endswith(".parquet") for p in paths)
    meta = commit_metadata_of(ref.uri, ref.version)
    assert meta["engine"] == "spark" and meta["deid_input_digest"] == spark_build.input_digest
    # these machines cannot fetch delta-spark's jars (Maven): detected and recorded, commits via deltalake
    assert (meta["delta_commit"], meta["delta_spark_available"]) == ("deltalake", "false")
    assert json.loads(meta["bronze_versions"])["observations"] == 0


def test_unchanged_inputs_are_not_rebuilt(engines, spark, monkeypatch) -> None:
    from deid.spark import build_silver_spark

    # uncommitted code never trusts an earlier build (deid.silver.input_digest): pin a clean code version
    monkeypatch.setattr(
        "deid.silver.code_version", lambda: {"git_sha": "abc", "git_dirty": "false"}
    )
    root = engines["root"]
    first = build_silver_spark(
        _refs(root / "spark" / "bronze", SPECS),
        root / "spark" / "silver",
        spark,
        key=KEY,
        policy=POLICY,
        text_deidentifier=NoteDeidentifier(KEY, POLICY),
    )
    again = build_silver_spark(
        _refs(root / "spark" / "bronze", SPECS),
        root / "spark" / "silver",
        spark,
        key=KEY,
        policy=POLICY,
        text_deidentifier=NoteDeidentifier(KEY, POLICY),
    )
    assert not again.rebuilt
    assert {n: r.version for n, r in again.refs.items()} == {
        n: r.version for n, r in first.refs.items()
    }


class Broken:
    def deidentify(self, text, **kwargs):
        raise RuntimeError("note de-identifier exploded")


def test_failed_build_leaves_silver_untouched(engines, spark) -> None:
    from deid.spark import build_silver_spark

    root, (_, spark_build) = engines["root"], engines["silver"]
    before = {n: current_version(r.uri) for n, r in spark_build.refs.items()}
    assert all(v is not None and v >= 1 for v in before.values())
    staged_before = {
        n: sorted(p.name for p in Path(r.uri).glob("spark-*")) for n, r in spark_build.refs.items()
    }
    with pytest.raises(Exception, match="note de-identifier exploded"):
        build_silver_spark(
            _refs(root / "spark" / "bronze", SPECS),
            root / "spark" / "silver",
            spark,
            key=KEY,
            policy=POLICY,
            text_deidentifier=Broken(),
            force=True,
        )
    assert {n: current_version(r.uri) for n, r in spark_build.refs.items()} == before
    # what the failed build staged is gone (earlier versions' files stay: time travel needs them)
    assert {
        n: sorted(p.name for p in Path(r.uri).glob("spark-*")) for n, r in spark_build.refs.items()
    } == staged_before


def test_dagster_run_on_the_spark_engine(spark, tmp_path, monkeypatch) -> None:
    """CLINICAL_MLOPS_ENGINE=spark: the same assets, the same checks (the PHI gate included), on Spark."""
    from clinical_mlops.settings import load_settings
    from orchestration.definitions import FEATURE_JOB
    from orchestration.run import run_pipeline

    home = tmp_path / "home"
    generate_cohort(home / "landing", 12, 3, gzip=True)
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.setenv("CLINICAL_MLOPS_HOME", str(home))
    monkeypatch.setenv("CLINICAL_MLOPS_ENGINE", "spark")
    monkeypatch.setenv("CLINICAL_MLOPS_DEID_KEY", "22" * 32)
    summary = run_pipeline(load_settings(home=home), FEATURE_JOB)

    assert summary.success, summary.failure
    assets = {a["asset"]: a for a in summary.assets}
    assert (
        assets["bronze/observations"]["engine"] == "spark"
        and assets["silver/notes"]["engine"] == "spark"
    )
    assert assets["silver/observations"]["rows"] == assets["bronze/observations"]["rows"] > 0
    notes = assets["silver/notes"]
    meta = commit_metadata_of(notes["table_uri"], notes["delta_version"])
    assert meta["engine"] == "spark" and meta["dagster_run_id"] == summary.run_id
    checks = {c["check"]: c for c in summary.checks}
    gates = [c for name, c in checks.items() if name.endswith(":phi_leak_gate")]
    assert gates and all(c["passed"] for c in gates)
    assert checks["bronze/ingest_audit:bronze_nothing_lost"]["passed"]


def test_cli_ingest_on_the_spark_engine(spark, engines, tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    monkeypatch.setenv("CLINICAL_MLOPS_ENGINE", "spark")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        app, ["ingest", str(engines["root"] / "landing"), "--home", str(tmp_path / "h"), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    local, _ = engines["ingest"]
    assert report["engine"] == "spark"
    assert (report["read"], report["written"], report["quarantined"]) == (
        local.totals.read,
        local.totals.written,
        local.totals.quarantined,
    )
    assert report["duplicates_in_snapshot"] == 1
    assert (tmp_path / "h" / "bronze" / "landing_snapshots" / "_delta_log").is_dir()
