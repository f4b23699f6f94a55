"""End to end on the production profile: `clinical-mlops pipeline run` with the Dagster instance storage and the
MLflow backend on PostgreSQL and the Feast online store on Redis (each a private server this test session starts
on a free 127.0.0.1 port: tests/conftest.py), the same 400-patient cohort as the embedded default's test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PATIENTS = 400
# a test-only key for synthetic data: the same one the embedded default's test pins, so the same cohort and splits
TEST_KEY = "11" * 32
REDIS_DB = (
    3  # a database of the session's redis-server no other test uses: the keys found are this run's
)


def _query(server, database: str, sql: str, *params) -> list[tuple]:
    conn = server.connect(database)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def prod(tmp_path_factory: pytest.TempPathFactory, postgres_server, redis_url: str):
    import redis

    home = tmp_path_factory.mktemp("prod-home")
    dagster_url = postgres_server.create_database("prod_e2e_dagster")
    mlflow_url = postgres_server.create_database("prod_e2e_mlflow")
    online_url = f"{redis_url.rsplit('/', 1)[0]}/{REDIS_DB}"
    redis.Redis.from_url(online_url).flushdb()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("CLINICAL_MLOPS_", "DAGSTER_"))
    } | {
        # `prod`: no local key file may be created, the key must come from the environment; serving enforces
        # the feature views' TTLs (the scorer retries a patient whose values all expired without the TTL, so
        # the historical demo cohort is still answered: see serving/scoring.py)
        "CLINICAL_MLOPS_PROFILE": "prod",
        "CLINICAL_MLOPS_DEID_KEY": TEST_KEY,
        "CLINICAL_MLOPS_DAGSTER_POSTGRES_URL": dagster_url,
        "CLINICAL_MLOPS_MLFLOW_TRACKING_URI": mlflow_url,
        "CLINICAL_MLOPS_ONLINE_STORE": "redis",
        "CLINICAL_MLOPS_REDIS_URL": online_url,
        "CLINICAL_MLOPS_TRAIN_MAX_EPOCHS": "3",  # the model is trained for real, briefly
    }
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "pipeline",
            "run",
            "--home",
            str(home),
            "--json",
            "--patients",
            str(PATIENTS),
            "--seed",
            "3",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    seconds = time.monotonic() - started
    assert result.returncode == 0, (
        f"pipeline run (prod profile) failed after {seconds:.0f}s:\n{result.stderr[-6000:]}"
    )
    print(f"production-profile pipeline run: {seconds:.0f}s")
    return {
        "home": home,
        "summary": json.loads(result.stdout),
        "online_url": online_url,
        "dagster_url": dagster_url,
        "mlflow_url": mlflow_url,
    }


def test_the_run_succeeds_with_all_checks_passing(prod) -> None:
    summary = prod["summary"]
    assert summary["success"], summary["failure"]
    assert summary["checks"], "no asset checks ran"
    # as in the embedded default's test: a small cohort's split may have one class, that check may only warn
    failed = [
        c["check"]
        for c in summary["checks"]
        if not c["passed"]
        and not (c["check"].endswith(":label_prevalence") and c["severity"] == "WARN")
    ]
    assert failed == []
    assets = {a["asset"] for a in summary["assets"]}
    assert "bronze/patients" in assets and "feast/online_store" in assets
    assert summary["models"] and summary["bentos"]


def test_the_dagster_run_is_recorded_in_postgres(prod, postgres_server) -> None:
    home, summary = prod["home"], prod["summary"]
    rows = _query(
        postgres_server,
        "prod_e2e_dagster",
        "SELECT status FROM runs WHERE run_id = %s",
        summary["run_id"],
    )
    assert rows == [("SUCCESS",)]
    materialized = _query(
        postgres_server,
        "prod_e2e_dagster",
        "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = %s",
        summary["run_id"],
        "ASSET_MATERIALIZATION",
    )
    assert materialized[0][0] == len(summary["assets"])
    # nothing went to the embedded SQLite storage, and the URL (its credentials) is not in the instance's file
    dagster_home = home / "dagster"
    assert list(dagster_home.rglob("*.db")) == []
    config = (dagster_home / "dagster.yaml").read_text()
    assert "env: CLINICAL_MLOPS_DAGSTER_POSTGRES_URL" in config
    assert prod["dagster_url"] not in config and "127.0.0.1" not in config


def test_the_model_version_and_its_lineage_are_in_the_postgres_mlflow_backend(
    prod, postgres_server
) -> None:
    home, summary = prod["home"], prod["summary"]
    ((name, model),) = summary["models"].items()
    versions = _query(
        postgres_server,
        "prod_e2e_mlflow",
        "SELECT version, run_id FROM model_versions WHERE name = %s",
        name,
    )
    assert (int(model["model_version"]), model["mlflow_run_id"]) in versions
    tags = dict(
        _query(
            postgres_server,
            "prod_e2e_mlflow",
            "SELECT key, value FROM model_version_tags WHERE name = %s AND version = %s",
            name,
            int(model["model_version"]),
        )
    )
    assert tags["lineage.training_set.digest"] == model["training_set_digest"]
    assert {
        "lineage.training_set.uri",
        "lineage.training_set.version",
        "lineage.feature_service",
        "lineage.landing.snapshot_id",
    } <= tags.keys()
    # the evaluation gate's decision went to the same backend
    assert tags.get("gate.alias") == summary["evaluations"][name]["decision"]
    # the artifact location was set explicitly (not relative to the working directory), and no SQLite backend
    assert list((home / "mlflow").glob("*.db")) == []
    assert any((home / "mlflow" / "artifacts").rglob("model.pt")) or any(
        (home / "mlflow" / "artifacts").rglob("*")
    )


def test_online_features_are_in_redis_and_the_served_prediction_answered(prod) -> None:
    import redis

    summary = prod["summary"]
    online = summary["online_store"]
    assert online["online_store"] == "redis"
    keys = redis.Redis.from_url(prod["online_url"]).dbsize()
    assert keys >= online["entities"] > 0
    # the packed/SQLite online stores were not used
    assert not list((prod["home"] / "feast").rglob("online*.db"))
    prediction = summary["prediction"]
    assert prediction is not None, "the demo prediction over HTTP did not happen"
    response = prediction["response"]
    ((name, bento),) = summary["bentos"].items()
    assert response["model_name"] == name
    assert str(response["model_version"]) == str(bento["model_version"])
    # TTLs are enforced in production: on the historical cohort the required views may have expired, and the
    # answer then says so instead of scoring medians
    assert response["status"] in {"scored", "insufficient_data"}, response
    if response["status"] == "scored":
        assert 0.0 <= response["risk"] <= 1.0
    else:
        assert response["risk"] is None and response["missing_views"], response
    assert response["patient_id"] == prediction["request"]["patient_id"]
