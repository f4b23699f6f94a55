"""End to end: the README's first command (`clinical-mlops pipeline run`) on a small generated cohort."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from deltalake import DeltaTable

from lakehouse.delta import commit_metadata_of

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def run_cli(home: Path, *args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLINICAL_MLOPS_", "DAGSTER_"))}
    result = subprocess.run(
        [sys.executable, "-m", "clinical_mlops.cli", "pipeline", "run", "--home", str(home), "--json", *args],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert result.returncode == 0, f"pipeline run failed:\n{result.stderr[-4000:]}"
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict]:
    home = tmp_path_factory.mktemp("demo-home")
    first = run_cli(home, "--patients", "40", "--seed", "3")
    second = run_cli(home, "--patients", "40", "--seed", "3")
    return home, first, second


def test_first_run_generates_the_cohort_and_materializes_every_asset(demo) -> None:
    home, first, _ = demo
    assert first["success"], first["failure"]
    assets = {a["asset"]: a for a in first["assets"]}
    assert "landing/snapshot" in assets
    for table in ("patients", "encounters", "conditions", "observations", "medications", "procedures", "notes",
                  "quarantine", "ingest_audit"):
        assert f"bronze/{table}" in assets, table
    assert assets["bronze/patients"]["rows"] == 40
    for table in ("encounters", "observations", "notes", "conditions", "medications"):
        assert assets[f"bronze/{table}"]["rows"] > 0, table
    assert any((home / "landing").glob("*.ndjson.gz")), "the demo cohort was not generated into landing/"


def test_all_checks_pass_and_nothing_is_quarantined(demo) -> None:
    _, first, _ = demo
    assert first["checks"], "no asset checks ran"
    # 40 patients are too few for a stable one-year diabetes prevalence: that check may only warn
    failed = [c["check"] for c in first["checks"] if not c["passed"]
              and not (c["check"].endswith(":label_prevalence") and c["severity"] == "WARN")]
    assert failed == []
    assets = {a["asset"]: a for a in first["assets"]}
    assert assets["bronze/quarantine"]["rows"] == 0


def test_deidentified_silver_passes_the_gate_and_is_reported(demo) -> None:
    home, first, _ = demo
    assets = {a["asset"]: a for a in first["assets"]}
    for table in ("patients", "encounters", "observations", "notes", "conditions", "medications"):
        assert assets[f"silver/{table}"]["rows"] == assets[f"bronze/{table}"]["rows"], table
    gate = first["gate"]
    assert gate["passed"] and gate["leaked_values"] == 0 and gate["patients_checked"] == 40
    assert gate["tables"] == 12
    deid = first["deid"]
    assert deid["replacements_total"] > 0 and deid["date_mode"] == "shift"
    assert deid["k_min"] >= 1 and 0 <= deid["k_share_below_5"] <= 1
    key_file = home / "secrets" / "deid.key"
    assert key_file.exists() and key_file.stat().st_mode & 0o077 == 0  # the demo's owner-only key
    key = key_file.read_text().strip()
    notes = assets["silver/notes"]
    commit = commit_metadata_of(notes["table_uri"], notes["delta_version"])
    assert commit["deid_key_fingerprint"] == deid["deid_key_fingerprint"]
    assert key not in json.dumps(first) and key not in json.dumps(commit)  # only the fingerprint travels
    bronze_versions = json.loads(commit["bronze_versions"])
    assert bronze_versions["notes"] == assets["bronze/notes"]["delta_version"]


def test_gold_index_events_and_feature_tables_are_built_from_silver(demo) -> None:
    _, first, _ = demo
    assets = {a["asset"]: a for a in first["assets"]}
    readmission = first["tasks"]["readmission_30d"]
    assert readmission["row_count"] > 0 and 0 <= readmission["prevalence"] <= 1
    events = sum(t["row_count"] for t in first["tasks"].values())
    for view in ("demographics", "utilization", "labs", "conditions", "medications", "discharge_note"):
        feature = assets[f"gold/features/{view}"]
        assert 0 < feature["rows"] <= events, view
        commit = commit_metadata_of(feature["table_uri"], feature["delta_version"])
        assert "bronze" not in commit["silver_versions"] and commit["dagster_run_id"] == first["run_id"]


def test_the_online_store_serves_the_latest_gold_features(demo) -> None:
    import polars as pl

    from clinical_mlops.settings import load_settings
    from feature_store.config import open_store
    from feature_store.online import get_online_features
    from feature_store.runtime import store_config

    home, first, _ = demo
    assets = {a["asset"]: a for a in first["assets"]}
    assert "feast/registry" in assets and "feast/online_store" in assets
    utilization = pl.from_arrow(DeltaTable(assets["gold/features/utilization"]["table_uri"]).to_pyarrow_table())
    latest = utilization.sort("event_timestamp").group_by("patient_id").last().head(5)
    store = open_store(store_config(load_settings(home=home)))
    online = get_online_features(store, latest["patient_id"].to_list(), "readmission_v1", enforce_ttl=False)
    assert online.height == latest.height
    expected = dict(zip(latest["patient_id"], latest["admissions_365d"]))
    assert dict(zip(online["patient_id"], online["admissions_365d"])) == expected


def test_lineage_is_recorded_on_every_bronze_commit(demo) -> None:
    home, first, _ = demo
    snapshot_id = {a["asset"]: a for a in first["assets"]}["landing/snapshot"]["data_version"]
    assert snapshot_id and len(snapshot_id) == 64
    for asset in first["assets"]:
        if not asset["asset"].startswith("bronze/"):
            continue
        uri = asset["table_uri"]
        commit = commit_metadata_of(uri, asset["delta_version"])
        assert commit["dagster_run_id"] == first["run_id"], asset["asset"]
        assert commit["asset_key"] == asset["asset"]
        assert commit["snapshot_id"] == snapshot_id
        assert asset["data_version"] == str(asset["delta_version"])


def test_second_run_is_idempotent(demo) -> None:
    home, first, second = demo
    assert second["success"], second["failure"]
    before = {a["asset"]: a for a in first["assets"]}
    after = {a["asset"]: a for a in second["assets"]}
    assert after["landing/snapshot"]["data_version"] == before["landing/snapshot"]["data_version"]
    for key, asset in after.items():
        if key.startswith("bronze/"):
            assert asset["delta_version"] == before[key]["delta_version"], f"{key} got a new Delta version"
            assert asset["rows"] == before[key]["rows"], key
    assert DeltaTable(str(home / "bronze" / "patients")).version() == before["bronze/patients"]["delta_version"]
    assert second["gate"]["passed"]
