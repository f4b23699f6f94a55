"""The Dagster graph run in process against a temporary home, and the `clinical-mlops` CLI ingest path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance
from typer.testing import CliRunner

from cli.main import app
from clinical_mlops.settings import load_settings
from deid.structured import SPECS
from features.build import FEATURE_VIEWS
from features.tasks import TASKS
from ingestion.ingest import BRONZE_OUTPUTS
from lakehouse.delta import commit_metadata_of, row_count
from orchestration.definitions import FEATURE_JOB
from orchestration.run import run_pipeline

pytestmark = pytest.mark.filterwarnings(
    "ignore::dagster.BetaWarning"
)  # Output(data_version=...) is beta

EXPECTED_ROWS = {"patients": 3, "encounters": 3, "observations": 4, "quarantine": 0}
SILVER = {f"silver/{name}" for name in SPECS} | {"silver/deid_runs", "silver/deid_reports"}
GOLD = (
    {f"gold/index_events_{task}" for task in TASKS}
    | {f"gold/features/{view.name}" for view in FEATURE_VIEWS}
    | {"feast/registry", "feast/online_store"}
)
ALL_CHECKS = (
    {f"gold/index_events_{task}:label_prevalence" for task in TASKS}
    | {f"silver/{name}:phi_leak_gate" for name in SPECS}
    | {f"bronze/{name}:{name}_schema" for name in BRONZE_OUTPUTS}
    | {
        "bronze/ingest_audit:bronze_nothing_lost",
        "bronze/quarantine:bronze_quarantine_rate",
        "monitoring/feature_drift:psi_below_threshold",
    }
)


def _landing(root: Path, fhir, write_ndjson, *, bad_lines: list[str] = ()) -> Path:
    write_ndjson(root, "Patient.ndjson", [fhir.patient(f"p{i}") for i in range(1, 4)])
    write_ndjson(
        root, "Encounter.ndjson.gz", [fhir.encounter(f"e{i}", f"p{i}") for i in range(1, 4)]
    )
    write_ndjson(
        root,
        "Observation.ndjson",
        [
            fhir.observation(f"o{i}", f"p{1 + i % 3}", value=float(i), encounter=f"e{1 + i % 3}")
            for i in range(1, 5)
        ]
        + list(bad_lines),
    )
    return root


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A fresh lakehouse home; the env vars run_pipeline sets are restored after the test."""
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.setenv("CLINICAL_MLOPS_HOME", str(home))
    monkeypatch.delenv("CLINICAL_MLOPS_QUARANTINE_WARN_RATE", raising=False)
    return home


def _checks(summary) -> dict[str, dict]:
    return {c["check"]: c for c in summary.checks}


@pytest.mark.slow
def test_pipeline_materializes_bronze_with_lineage(home, tmp_path, monkeypatch, fhir, write_ndjson):
    landing = _landing(tmp_path / "landing", fhir, write_ndjson)
    monkeypatch.setenv("CLINICAL_MLOPS_LANDING_DIR", str(landing))
    settings = load_settings(home=home)

    summary = run_pipeline(settings, FEATURE_JOB)

    assert summary.success, summary.failure
    assert summary.failure is None
    assets = {a["asset"]: a for a in summary.assets}
    # feature_refresh also measures feature drift (monitoring/feature_drift), not part of a training set's lineage
    assert set(assets) == (
        {"landing/snapshot"}
        | {f"bronze/{name}" for name in BRONZE_OUTPUTS}
        | SILVER
        | GOLD
        | {"monitoring/feature_drift"}
    )
    assert summary.gate is not None and summary.gate["passed"], summary.gate
    snapshot_id = assets["landing/snapshot"]["snapshot_id"]
    assert snapshot_id and assets["landing/snapshot"]["data_version"] == snapshot_id

    with DagsterInstance.get() as instance:
        assert Path(instance.root_directory).resolve() == (home / "dagster").resolve()
        for name in BRONZE_OUTPUTS:
            asset = assets[f"bronze/{name}"]
            assert isinstance(asset["delta_version"], int), name
            assert isinstance(asset["rows"], int), name
            assert asset["snapshot_id"] == snapshot_id
            uri = asset["table_uri"]
            assert Path(uri) == settings.bronze / name
            assert asset["rows"] == row_count(uri, asset["delta_version"])
            if name in EXPECTED_ROWS:
                assert asset["rows"] == EXPECTED_ROWS[name], name
            # the materialization recorded in the instance carries the same lineage metadata
            event = instance.get_latest_materialization_event(AssetKey(["bronze", name]))
            assert event.run_id == summary.run_id
            metadata = event.asset_materialization.metadata
            assert metadata["delta_version"].value == asset["delta_version"]
            assert metadata["row_count"].value == asset["rows"]
            # and the Delta commit says which run and asset wrote it
            commit = commit_metadata_of(uri, asset["delta_version"])
            assert commit["dagster_run_id"] == summary.run_id, name
            assert commit["asset_key"] == f"bronze/{name}", name
            assert commit["snapshot_id"] == snapshot_id, name
            # the pinned reference handed downstream is that exact version
            ref = json.loads(
                (settings.dagster_home / "refs" / "bronze" / f"{name}.json").read_text()
            )
            assert (ref["type"], ref["value"]["version"]) == ("DeltaRef", asset["delta_version"])
    manifest = commit_metadata_of(
        str(settings.bronze / "landing_snapshots"), assets["landing/snapshot"]["delta_version"]
    )
    assert (manifest["dagster_run_id"], manifest["asset_key"]) == (
        summary.run_id,
        "bronze/landing_snapshots",
    )

    checks = _checks(summary)
    assert set(checks) == ALL_CHECKS
    # three patients without a stay give no index events: the prevalence checks warn, everything else passes
    assert all(c["passed"] for n, c in checks.items() if not n.endswith(":label_prevalence")), (
        checks
    )
    assert {c["severity"] for n, c in checks.items() if n.endswith(":label_prevalence")} == {"WARN"}


@pytest.mark.slow
def test_quarantine_rate_check_warns_but_the_run_succeeds(
    home, tmp_path, monkeypatch, fhir, write_ndjson
):
    landing = _landing(
        tmp_path / "landing", fhir, write_ndjson, bad_lines=['{"resourceType": "Observation", ']
    )
    monkeypatch.setenv("CLINICAL_MLOPS_LANDING_DIR", str(landing))
    monkeypatch.setenv("CLINICAL_MLOPS_QUARANTINE_WARN_RATE", "0.05")  # 1 of 11 read = 0.09

    summary = run_pipeline(load_settings(home=home), FEATURE_JOB)

    assert summary.success, summary.failure
    checks = _checks(summary)
    rate = checks["bronze/quarantine:bronze_quarantine_rate"]
    assert rate["passed"] is False
    assert rate["severity"] == "WARN"
    assert checks["bronze/ingest_audit:bronze_nothing_lost"]["passed"] is True
    assert all(
        c["passed"]
        for name, c in checks.items()
        if name != "bronze/quarantine:bronze_quarantine_rate"
        and not name.endswith(":label_prevalence")
    )
    assets = {a["asset"]: a for a in summary.assets}
    assert assets["bronze/quarantine"]["rows"] == 1
    assert assets["bronze/observations"]["rows"] == 4
    with DagsterInstance.get() as instance:
        evaluation = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [_check_key("bronze/quarantine", "bronze_quarantine_rate")]
        )
        record = next(iter(evaluation.values()))
        assert record.run_id == summary.run_id

    # the threshold is read when a run starts: raised above the rate, the same snapshot passes
    monkeypatch.setenv("CLINICAL_MLOPS_QUARANTINE_WARN_RATE", "0.5")
    again = run_pipeline(load_settings(home=home), FEATURE_JOB)
    assert again.success, again.failure
    assert _checks(again)["bronze/quarantine:bronze_quarantine_rate"]["passed"] is True
    again_assets = {a["asset"]: a for a in again.assets}
    for name in BRONZE_OUTPUTS:  # same snapshot: no new Delta versions
        assert (
            again_assets[f"bronze/{name}"]["delta_version"]
            == assets[f"bronze/{name}"]["delta_version"]
        ), name


def _check_key(asset: str, name: str):
    from dagster import AssetCheckKey

    return AssetCheckKey(AssetKey(asset.split("/")), name)


# ---------------------------------------------------------------- CLI


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for var in (
        "CLINICAL_MLOPS_HOME",
        "CLINICAL_MLOPS_LANDING_DIR",
        "CLINICAL_MLOPS_QUARANTINE_WARN_RATE",
    ):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)  # a default home would land here, never in the repository


def test_cli_ingest_json(tmp_path, clean_env, fhir, write_ndjson):
    landing = _landing(tmp_path / "landing", fhir, write_ndjson, bad_lines=["[1, 2]"])
    home = tmp_path / "cli-home"
    result = CliRunner().invoke(app, ["ingest", str(landing), "--home", str(home), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    none = {"superseded": 0, "conflicting": 0}
    assert report["per_type"] == {
        "Patient": {"read": 3, "written": 3, "quarantined": 0, "in_bronze": 3, **none},
        "Encounter": {"read": 3, "written": 3, "quarantined": 0, "in_bronze": 3, **none},
        "Observation": {"read": 4, "written": 4, "quarantined": 0, "in_bronze": 4, **none},
        "unknown": {"read": 1, "written": 0, "quarantined": 1, "in_bronze": 0, **none},
    }
    assert (report["read"], report["written"], report["quarantined"]) == (11, 10, 1)
    assert report["quarantine_reasons"] == {"line is not a JSON object": 1}
    assert report["files"] == 3
    assert report["tables"]["observations"]["inserted"] == 4
    assert Path(report["tables"]["patients"]["uri"]) == (home / "bronze" / "patients").resolve()
    assert (home / "bronze" / "landing_snapshots" / "_delta_log").is_dir()


def test_cli_ingest_table_output(tmp_path, clean_env, fhir, write_ndjson):
    landing = _landing(tmp_path / "landing", fhir, write_ndjson)
    result = CliRunner().invoke(app, ["ingest", str(landing), "--home", str(tmp_path / "h")])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""  # the human report goes to stderr; stdout stays for --json
    assert "Observation" in result.stderr and "total" in result.stderr


def test_cli_ingest_missing_directory(tmp_path, clean_env):
    result = CliRunner().invoke(app, ["ingest", "/nonexistent/landing"])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "/nonexistent/landing" in message
    assert "does not exist" in message
    assert result.stdout == ""


def test_cli_ingest_missing_directory_creates_no_home(tmp_path, clean_env):
    result = CliRunner().invoke(app, ["ingest", "/nonexistent/landing"])
    assert result.exit_code == 2
    assert not (tmp_path / ".clinical-mlops").exists()


def test_cli_snapshot_json(tmp_path, clean_env, fhir, write_ndjson):
    from ingestion.landing import take_snapshot

    landing = _landing(tmp_path / "landing", fhir, write_ndjson)
    result = CliRunner().invoke(app, ["snapshot", str(landing), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == take_snapshot(landing).to_dict()
