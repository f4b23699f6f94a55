"""Real Dagster runs (in process, tmp home) of landing -> bronze with the OpenLineage hooks: the events in the
JSONL file match the Delta tables, a failing step gives FAIL, and the real HttpTransport reaches an HTTP
endpoint (a tiny Marquez stand-in on 127.0.0.1)."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from dagster import AssetIn, DagsterInstance, Definitions, asset, define_asset_job

from assets.ingestion import LANDING_KEY, bronze_tables, landing_snapshot
from assets.io_manager import RefIOManager
from assets.resources import PlatformResource
from audit.openlineage import read_events, run_id_for_step
from clinical_mlops.settings import load_settings
from ingestion.ingest import BRONZE_OUTPUTS
from lakehouse.delta import commit_metadata_of, current_version
from orchestration.openlineage_hooks import EMISSION_STATS, OPENLINEAGE_HOOKS

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::dagster.BetaWarning")]


@asset(key=["gold", "exploding"], ins={"snapshot": AssetIn(key=LANDING_KEY)}, group_name="test")
def exploding(snapshot):
    raise ValueError(f"cannot use snapshot {snapshot.snapshot_id[:8]}")


@pytest.fixture
def home(tmp_path, monkeypatch, fhir, write_ndjson) -> Path:
    home = tmp_path / "home"
    landing = tmp_path / "landing"
    write_ndjson(landing, "Patient.ndjson", [fhir.patient(f"p{i}") for i in range(1, 4)])
    write_ndjson(
        landing, "Observation.ndjson", [fhir.observation(f"o{i}", f"p{i}") for i in range(1, 4)]
    )
    monkeypatch.setenv("CLINICAL_MLOPS_LANDING_DIR", str(landing))
    for var in (
        "OPENLINEAGE_URL",
        "OPENLINEAGE_FILE",
        "OPENLINEAGE_ENABLED",
        "OPENLINEAGE_NAMESPACE",
    ):
        monkeypatch.delenv(f"CLINICAL_MLOPS_{var}", raising=False)
    return home


class Ran:
    def __init__(self, result, warnings: list[str]):
        self.result, self.warnings = result, warnings
        self.success, self.run_id = result.success, result.run_id


def _run(home: Path, assets: list, *, raise_on_error: bool = True) -> Ran:
    """Materialize ``assets`` with the hooks on the assets, as orchestration/definitions.py attaches them (so any
    job runs them); returns the result and the run's warning-level log messages."""
    job = define_asset_job("ol_test")
    defs = Definitions(
        assets=[a.with_hooks(OPENLINEAGE_HOOKS) for a in assets],
        jobs=[job],
        resources={
            "platform": PlatformResource(home=str(home)),
            "io_manager": RefIOManager(home=str(home)),
        },
    )
    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("ol_test").execute_in_process(
            instance=instance, raise_on_error=raise_on_error
        )
        warnings = [
            e.user_message for e in instance.all_logs(result.run_id) if e.level >= logging.WARNING
        ]
    return Ran(result, warnings)


def _by_job(events: list[dict]) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = {}
    for event in events:
        grouped.setdefault(event["job"]["name"], []).append(event)
    return grouped


def _versions(datasets: list[dict]) -> dict[str, str]:
    return {d["name"]: d["facets"]["version"]["datasetVersion"] for d in datasets}


def test_each_step_emits_start_and_complete_with_delta_versions(home):
    result = _run(home, [landing_snapshot, bronze_tables])
    assert result.success
    settings = load_settings(home=home)
    events = read_events(settings.openlineage_events_file)
    steps = _by_job(events)
    assert set(steps) == {"landing__snapshot", "bronze_tables"}
    root = settings.root.as_uri()

    for step_key, (start, end) in steps.items():  # exactly two events per step
        assert (start["eventType"], end["eventType"]) == ("START", "COMPLETE"), step_key
        assert (
            start["run"]["runId"] == end["run"]["runId"] == run_id_for_step(result.run_id, step_key)
        )
        assert start["eventTime"] <= end["eventTime"]
        parent = end["run"]["facets"]["parent"]
        assert parent["run"]["runId"] == result.run_id and parent["job"]["name"] == "ol_test"
        assert end["run"]["facets"]["dagsterStep"]["codeVersion"]["lock_sha256"]
        assert end["job"]["namespace"] == "clinical-mlops"

    # landing: publishes the landing directory at its snapshot id, and the manifest Delta version
    landing_end = steps["landing__snapshot"][1]
    snapshot_ref = json.loads(
        (settings.dagster_home / "refs" / "landing" / "snapshot.json").read_text()
    )["value"]
    outputs = {d["name"]: d for d in landing_end["outputs"]}
    # the landing dir lies outside the home here: the spec's local-file naming (namespace "file", absolute path)
    landing = outputs[str(settings.landing)]
    assert landing["namespace"] == "file"
    assert landing["facets"]["version"]["datasetVersion"] == snapshot_ref["snapshot_id"]
    assert outputs["bronze/landing_snapshots"]["namespace"] == root
    manifest_version = str(current_version(str(settings.bronze / "landing_snapshots")))
    assert (
        outputs["bronze/landing_snapshots"]["facets"]["version"]["datasetVersion"]
        == manifest_version
    )
    assert landing_end["job"]["facets"]["dagsterAssets"]["assetKeys"] == ["landing/snapshot"]

    # bronze: inputs are what it loaded (the snapshot), outputs every bronze table at the version written
    bronze_start, bronze_end = steps["bronze_tables"]
    assert bronze_start["inputs"] == bronze_end["inputs"]
    input_versions = {
        d["namespace"] + "|" + d["name"]: d["facets"]["version"]["datasetVersion"]
        for d in bronze_end["inputs"]
    }
    assert snapshot_ref["snapshot_id"] in input_versions.values()
    assert input_versions[f"{root}|bronze/landing_snapshots"] == manifest_version
    written = _versions(bronze_end["outputs"])
    assert set(written) == {f"bronze/{name}" for name in BRONZE_OUTPUTS}
    for name in BRONZE_OUTPUTS:
        uri = str(settings.bronze / name)
        assert written[f"bronze/{name}"] == str(current_version(uri)), name
        assert (
            commit_metadata_of(uri, int(written[f"bronze/{name}"]))["dagster_run_id"]
            == result.run_id
        )
    patients = next(d for d in bronze_end["outputs"] if d["name"] == "bronze/patients")
    assert patients["outputFacets"]["outputStatistics"]["rowCount"] == 3
    schema = {f["name"] for f in patients["facets"]["schema"]["fields"]}
    assert schema >= {"snapshot_id", "patient_key"}, schema
    assert set(bronze_end["job"]["facets"]["dagsterAssets"]["assetKeys"]) == {
        f"bronze/{n}" for n in BRONZE_OUTPUTS
    }


def test_failing_step_emits_fail_with_the_error(home):
    result = _run(home, [landing_snapshot, exploding], raise_on_error=False)
    assert not result.success
    steps = _by_job(read_events(load_settings(home=home).openlineage_events_file))
    assert [e["eventType"] for e in steps["landing__snapshot"]] == ["START", "COMPLETE"]
    start, fail = steps["gold__exploding"]
    assert (start["eventType"], fail["eventType"]) == ("START", "FAIL")
    error = fail["run"]["facets"]["errorMessage"]
    assert error["message"].startswith("ValueError: cannot use snapshot")
    assert error["programmingLanguage"] == "PYTHON" and "exploding" in error["stackTrace"]
    assert fail["outputs"] == []
    assert {d["name"] for d in fail["inputs"]} >= {"bronze/landing_snapshots"}


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, dict, dict]] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).received.append((self.path, dict(self.headers), json.loads(body)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args):  # keep pytest output quiet
        pass


@pytest.fixture
def endpoint():
    _Collector.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Collector.received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_events_reach_an_http_endpoint_with_the_api_key(home, endpoint, monkeypatch):
    url, received = endpoint
    monkeypatch.setenv("CLINICAL_MLOPS_OPENLINEAGE_URL", url)
    monkeypatch.setenv("CLINICAL_MLOPS_OPENLINEAGE_API_KEY", "s3cret-key")
    result = _run(home, [landing_snapshot])
    assert result.success
    assert [(path, body["eventType"]) for path, _, body in received] == [
        ("/api/v1/lineage", "START"),
        ("/api/v1/lineage", "COMPLETE"),
    ]
    assert received[0][1]["Authorization"] == "Bearer s3cret-key"
    assert received[1][2]["run"]["runId"] == run_id_for_step(result.run_id, "landing__snapshot")
    assert not load_settings(home=home).openlineage_events_file.exists()  # HTTP replaces the file


def test_an_unreachable_endpoint_never_fails_the_run(home, monkeypatch, free_port):
    monkeypatch.setenv("CLINICAL_MLOPS_OPENLINEAGE_URL", f"http://127.0.0.1:{free_port}")
    before = EMISSION_STATS["failed"]
    result = _run(home, [landing_snapshot])
    assert result.success
    assert EMISSION_STATS["failed"] == before + 1
    warning = next(w for w in result.warnings if "OpenLineage" in w)
    assert "landing__snapshot" in warning and f"127.0.0.1:{free_port}/api/v1/lineage" in warning
    assert "ConnectionError" in warning or "Max retries" in warning, warning


def test_every_platform_asset_carries_the_hooks():
    """Hooks sit on the assets, so the UI's ad-hoc asset job emits events as the named jobs do."""
    from orchestration.definitions import defs

    assets = list(defs.resolve_all_asset_specs())
    assert assets
    for assets_def in defs.assets:
        assert OPENLINEAGE_HOOKS <= set(assets_def.hook_defs), assets_def.keys
