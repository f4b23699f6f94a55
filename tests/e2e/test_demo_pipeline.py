"""End to end: the README's first command (`clinical-mlops pipeline run`) on a small generated cohort."""

from __future__ import annotations

import json

import pytest
from deltalake import DeltaTable

from lakehouse.delta import commit_metadata_of
from tests.e2e.conftest import PATIENTS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_first_run_generates_the_cohort_and_materializes_every_asset(demo) -> None:
    home, first, _ = demo
    assert first["success"], first["failure"]
    assets = {a["asset"]: a for a in first["assets"]}
    assert "landing/snapshot" in assets
    for table in (
        "patients",
        "encounters",
        "conditions",
        "observations",
        "medications",
        "procedures",
        "notes",
        "quarantine",
        "ingest_audit",
    ):
        assert f"bronze/{table}" in assets, table
    assert assets["bronze/patients"]["rows"] == PATIENTS
    for table in ("encounters", "observations", "notes", "conditions", "medications"):
        assert assets[f"bronze/{table}"]["rows"] > 0, table
    assert any((home / "landing").glob("*.ndjson.gz")), (
        "the demo cohort was not generated into landing/"
    )


def test_all_checks_pass_and_nothing_is_quarantined(demo) -> None:
    _, first, _ = demo
    assert first["checks"], "no asset checks ran"
    # a small cohort may leave a validation or test split with one class: that check may only warn
    failed = [
        c["check"]
        for c in first["checks"]
        if not c["passed"]
        and not (c["check"].endswith(":label_prevalence") and c["severity"] == "WARN")
    ]
    assert failed == []
    assets = {a["asset"]: a for a in first["assets"]}
    assert assets["bronze/quarantine"]["rows"] == 0


def test_deidentified_silver_passes_the_gate_and_is_reported(demo) -> None:
    home, first, _ = demo
    assets = {a["asset"]: a for a in first["assets"]}
    for table in ("patients", "encounters", "observations", "notes", "conditions", "medications"):
        assert assets[f"silver/{table}"]["rows"] == assets[f"bronze/{table}"]["rows"], table
    gate = first["gate"]
    assert gate["passed"] and gate["leaked_values"] == 0 and gate["patients_checked"] == PATIENTS
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
    assert key not in json.dumps(first) and key not in json.dumps(
        commit
    )  # only the fingerprint travels
    bronze_versions = json.loads(commit["bronze_versions"])
    assert bronze_versions["notes"] == assets["bronze/notes"]["delta_version"]


def test_gold_index_events_and_feature_tables_are_built_from_silver(demo) -> None:
    _, first, _ = demo
    assets = {a["asset"]: a for a in first["assets"]}
    readmission = first["tasks"]["readmission_30d"]
    assert readmission["row_count"] > 0 and 0 <= readmission["prevalence"] <= 1
    events = sum(t["row_count"] for t in first["tasks"].values())
    for view in (
        "demographics",
        "utilization",
        "labs",
        "conditions",
        "medications",
        "discharge_note",
    ):
        feature = assets[f"gold/features/{view}"]
        assert 0 < feature["rows"] <= events, view
        commit = commit_metadata_of(feature["table_uri"], feature["delta_version"])
        assert (
            "bronze" not in commit["silver_versions"]
            and commit["dagster_run_id"] == first["run_id"]
        )


def test_the_online_store_serves_the_latest_gold_features(demo) -> None:
    import polars as pl

    from clinical_mlops.settings import load_settings
    from feature_store.config import open_store
    from feature_store.online import get_online_features
    from feature_store.runtime import store_config

    home, first, _ = demo
    assets = {a["asset"]: a for a in first["assets"]}
    assert "feast/registry" in assets and "feast/online_store" in assets
    utilization = pl.from_arrow(
        DeltaTable(assets["gold/features/utilization"]["table_uri"]).to_pyarrow_table()
    )
    latest = utilization.sort("event_timestamp").group_by("patient_id").last().head(5)
    store = open_store(store_config(load_settings(home=home)))
    online = get_online_features(
        store, latest["patient_id"].to_list(), "readmission_v1", enforce_ttl=False
    )
    assert online.height == latest.height
    expected = dict(zip(latest["patient_id"], latest["admissions_365d"]))
    assert dict(zip(online["patient_id"], online["admissions_365d"])) == expected


def test_training_sets_are_split_by_time_and_record_their_lineage(demo) -> None:
    import polars as pl

    from feature_store.training_set import feature_stamps
    from features.splits import SPLITS, feature_time_violations, window_crossings
    from features.tasks import TASKS
    from lineage.digest import table_digest

    _, first, _ = demo
    assets = {a["asset"]: a for a in first["assets"]}
    checks = {c["check"]: c for c in first["checks"]}
    for task, definition in TASKS.items():
        summary = first["training_sets"][task]
        assert summary["feature_service"] == definition.feature_service
        assert set(summary["split_sizes"]) == set(SPLITS) and all(
            summary["split_sizes"].values()
        ), summary
        assert sum(summary["split_sizes"].values()) == summary["row_count"]
        for name in ("temporal_split", "point_in_time"):
            assert checks[f"gold/training_set_{task}:{name}"]["passed"], name
        asset = assets[f"gold/training_set_{task}"]
        frame = pl.from_arrow(
            DeltaTable(asset["table_uri"], version=asset["delta_version"]).to_pyarrow_table()
        )
        assert frame.height == summary["row_count"]
        assert not any(window_crossings(frame, definition).values())
        violations = feature_time_violations(frame, feature_stamps(definition))
        assert len(violations) == len(definition.feature_views)  # every view is stamped
        assert all(v["future"] == 0 and v["stale"] == 0 for v in violations.values())
        commit = commit_metadata_of(asset["table_uri"], asset["delta_version"])
        assert commit["content_digest"] == summary["content_digest"]
        assert (
            table_digest(frame.to_arrow(), ["event_timestamp", "patient_id", "encounter_id"])
            == summary["content_digest"]
        )
        upstream = json.loads(commit["upstream_versions"])
        events = assets[f"gold/index_events_{task}"]
        assert upstream["gold"][f"index_events_{task}"]["version"] == events["delta_version"]
        for view in definition.feature_views:
            assert (
                upstream["gold"][f"features/{view}"]["version"]
                == assets[f"gold/features/{view}"]["delta_version"]
            )
        assert upstream["silver"]["encounters"] == assets["silver/encounters"]["delta_version"]
        assert (
            commit["dagster_run_id"] == first["run_id"]
            and commit["feature_service"] == definition.feature_service
        )


def test_online_features_equal_offline_point_in_time_features_at_the_latest_event(demo) -> None:
    """No training/serving skew: what the online store serves for a patient is what the offline join gives at
    that patient's latest event, for every feature of the service (embedding and stamps included)."""
    import polars as pl
    from polars.testing import assert_frame_equal

    from clinical_mlops.settings import load_settings
    from feature_store.config import open_store
    from feature_store.offline import get_historical_features
    from feature_store.online import get_online_features
    from feature_store.runtime import store_config

    home, first, _ = demo
    assets = {a["asset"]: a for a in first["assets"]}
    keys = pl.from_arrow(
        DeltaTable(assets["gold/features/labs"]["table_uri"]).to_pyarrow_table(
            columns=["patient_id", "event_timestamp"]
        )
    )
    latest = keys.group_by("patient_id").agg(pl.col("event_timestamp").max()).sort("patient_id")
    sample = latest.sample(n=min(25, latest.height), seed=7)
    store = open_store(store_config(load_settings(home=home)))
    for service in ("readmission_v1", "t2d_onset_v1"):
        offline = get_historical_features(store, sample, service)
        online = get_online_features(
            store,
            sample["patient_id"].to_list(),
            service,
            as_of=sample["event_timestamp"].to_list(),
        )
        assert_frame_equal(online, offline.select(online.columns), check_dtypes=False)
        assert online.drop("patient_id").null_count().sum_horizontal().item() < online.height * (
            online.width - 1
        )


def test_the_model_is_trained_with_ray_and_registered_with_its_lineage(demo) -> None:
    import mlflow

    home, first, second = demo
    assets = {a["asset"]: a for a in first["assets"]}
    model = first["models"]["clinical-readmission"]
    assert model["model_version"] == "1" and 0 <= model["best_val_auroc"] <= 1
    client = mlflow.MlflowClient(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
    version = client.get_model_version("clinical-readmission", "1")
    tags = version.tags
    assert (
        tags["lineage.training_set.digest"]
        == first["training_sets"]["readmission_30d"]["content_digest"]
    )
    assert tags["lineage.landing.snapshot_id"] == assets["landing/snapshot"]["snapshot_id"]
    assert tags["lineage.bronze.notes"] == str(assets["bronze/notes"]["delta_version"])
    assert tags["lineage.silver.notes"] == str(assets["silver/notes"]["delta_version"])
    assert tags["lineage.gold.features/discharge_note"] == str(
        assets["gold/features/discharge_note"]["delta_version"]
    )
    assert tags["lineage.deid.key_fingerprint"] == first["deid"]["deid_key_fingerprint"]
    assert (
        tags["dagster.run_id"] == first["run_id"]
        and tags["lineage.feature_service"] == "readmission_v1"
    )
    assert version.run_id == model["mlflow_run_id"]
    # the rerun trains again on the same training set: a new version with the same lineage digest
    again = second["models"]["clinical-readmission"]
    assert (
        again["model_version"] == "2"
        and again["training_set_digest"] == model["training_set_digest"]
    )


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
            assert asset["delta_version"] == before[key]["delta_version"], (
                f"{key} got a new Delta version"
            )
            assert asset["rows"] == before[key]["rows"], key
    assert (
        DeltaTable(str(home / "bronze" / "patients")).version()
        == before["bronze/patients"]["delta_version"]
    )
    assert second["gate"]["passed"]
    # the same snapshot gives the same gold rows: nothing new reaches the online store, same training sets
    assert second["online_store"]["materialized_views"] == 0
    for task, summary in first["training_sets"].items():
        assert second["training_sets"][task]["content_digest"] == summary["content_digest"], task


def test_each_version_is_evaluated_and_the_gate_moves_the_alias(demo) -> None:
    import mlflow

    home, first, second = demo
    client = mlflow.MlflowClient(f"sqlite:///{home / 'mlflow' / 'mlflow.db'}")
    aliases = client.get_registered_model("clinical-readmission").aliases
    for run, version in ((first, "1"), (second, "2")):
        evaluation = run["evaluations"]["clinical-readmission"]
        assert evaluation["model_version"] == version
        auroc = evaluation["metrics"]["auroc"]
        assert auroc["low"] <= auroc["estimate"] <= auroc["high"]
        tags = client.get_model_version("clinical-readmission", version).tags
        assert tags["gate.alias"] == evaluation["decision"] and tags["eval.split"] == "test"
        assert tags["eval.n"] == str(evaluation["test_rows"])
        assert (
            "model card"
            in client.get_model_version("clinical-readmission", version).description.lower()
        )
        artifacts = {a.path for a in client.list_artifacts(tags["mlflow.run_id"], "evaluation")}
        assert {
            f"evaluation/{n}"
            for n in (
                "roc.png",
                "precision_recall.png",
                "calibration.png",
                "subgroups.png",
                "model_card.md",
                "evaluation.json",
            )
        } <= artifacts
    # the rerun retrains the same model on the same rows and is compared with version 1 on the same test split
    again = second["evaluations"]["clinical-readmission"]
    assert again["compared_with"] == (
        "1" if first["evaluations"]["clinical-readmission"]["promoted"] else "none"
    )
    champion = second["evaluations"]["clinical-readmission"]["champion_version"]
    assert aliases.get("champion") == (None if champion == "none" else int(champion))
    rows = DeltaTable(str(home / "gold" / "model_evaluations")).to_pyarrow_table().to_pylist()
    assert sorted((r["model_version"], r["decision"]) for r in rows) == [
        ("1", first["evaluations"]["clinical-readmission"]["decision"]),
        ("2", again["decision"]),
    ]


def test_the_champion_is_packaged_and_answers_one_prediction_over_http(demo) -> None:
    home, first, _ = demo
    evaluation = first["evaluations"]["clinical-readmission"]
    if not evaluation["promoted"]:  # no champion, nothing to serve: the gate must say why
        assert first["bentos"] == {} and first["prediction"] is None
        assert any(r.startswith("- FAIL") for r in evaluation["reasons"].splitlines())
        pytest.skip(f"version 1 became challenger on this cohort: {evaluation['reasons']}")
    bento = first["bentos"]["clinical-readmission"]
    assert bento["model_version"] == "1" and bento["bento_tag"].startswith(
        "clinical-readmission-service:v1-"
    )
    prediction = first["prediction"]
    answer = prediction["response"]
    assert prediction["url"].startswith("http://127.0.0.1:")
    assert 0.0 <= answer["risk"] <= 1.0 and answer["model_version"] == "1"
    assert answer["patient_id"] == prediction["request"]["patient_id"]
    assert (
        answer["training_set_digest"] == first["training_sets"]["readmission_30d"]["content_digest"]
    )
    assert answer["feature_service"] == "readmission_v1"
    assert (
        answer["landing_snapshot_id"]
        == {a["asset"]: a for a in first["assets"]}["landing/snapshot"]["snapshot_id"]
    )
