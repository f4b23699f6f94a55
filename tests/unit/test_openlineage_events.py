"""OpenLineage event building (no Dagster): dataset naming, versions, run ids, START/COMPLETE/FAIL shape,
and the transport chosen from settings."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from openlineage.client.serde import Serde
from openlineage.client.transport.http import HttpTransport

from audit.openlineage import (
    AppendFileTransport,
    LineageDataset,
    Naming,
    StepRun,
    as_uuid,
    build_step_events,
    dataset_location,
    datasets_of,
    datasets_of_all,
    error_facet,
    make_client,
    output_datasets_of,
    read_events,
    run_id_for_step,
)
from clinical_mlops.settings import load_settings
from evaluation.refs import EvaluationRef
from feature_store.refs import FeastRef
from ingestion.landing import SnapshotRef
from lakehouse.delta import DeltaRef, write
from serving.refs import BentoRef
from training.refs import ModelRef

ROOT = "/lake/home"
NAMING = Naming(lakehouse_root="file:///lake/home", bentoml_home="file:///lake/home/bentoml")


def _delta(table: str, version: int, zone: str = "silver") -> DeltaRef:
    return DeltaRef(table=table, uri=f"{ROOT}/{zone}/{table}", version=version)


def _model() -> ModelRef:
    return ModelRef(
        name="readmission_30d",
        version="3",
        run_id="abc",
        uri="models:/readmission_30d/3",
        tracking_uri="sqlite:////lake/home/mlflow/mlflow.db",
        task="readmission_30d",
        training_set=_delta("training_readmission_30d", 2, "gold"),
    )


# ---------------------------------------------------------------- naming


@pytest.mark.parametrize(
    ("uri", "root", "expected"),
    [
        ("/lake/home/silver/patients", "/lake/home", ("file:///lake/home", "silver/patients")),
        (
            "/lake/home/gold/features/vitals",
            "file:///lake/home/",
            ("file:///lake/home", "gold/features/vitals"),
        ),
        ("/elsewhere/landing", "/lake/home", ("file", "/elsewhere/landing")),
        (
            "/lake/homework/x",
            "/lake/home",
            ("file", "/lake/homework/x"),
        ),  # a prefix of the name is not the root
        ("s3://bucket/lake/bronze/notes", "s3://bucket/lake", ("s3://bucket/lake", "bronze/notes")),
        ("s3://other/t", "s3://bucket/lake", ("s3://other", "t")),
    ],
)
def test_dataset_location(uri, root, expected):
    assert dataset_location(uri, root) == expected


def test_delta_ref_dataset_carries_its_version():
    [ds] = datasets_of(_delta("patients", 7), NAMING)
    assert (ds.namespace, ds.name, ds.version, ds.storage) == (
        "file:///lake/home",
        "silver/patients",
        "7",
        "delta",
    )


def test_snapshot_ref_is_the_landing_dir_at_the_snapshot_id_and_its_manifest():
    ref = SnapshotRef(
        snapshot_id="ab" * 32,
        root=f"{ROOT}/landing",
        files=2,
        total_bytes=10,
        manifest=_delta("landing_snapshots", 4, "bronze"),
    )
    landing, manifest = datasets_of(ref, NAMING)
    assert (landing.namespace, landing.name, landing.version) == (
        "file:///lake/home",
        "landing",
        "ab" * 32,
    )
    assert (manifest.name, manifest.version) == ("bronze/landing_snapshots", "4")


def test_feast_model_evaluation_and_bento_names():
    feast = FeastRef(
        home=f"{ROOT}/feast",
        project="clinical",
        views={"vitals": 3, "labs": 1},
        services={},
        online_store="packed",
    )
    [registry] = datasets_of(feast, NAMING)
    assert (registry.name, registry.version) == ("feast/clinical", "labs=1,vitals=3")

    [model] = datasets_of(_model(), NAMING)
    assert model.namespace == "mlflow+sqlite:////lake/home/mlflow/mlflow.db"
    assert (model.name, model.version) == ("models/readmission_30d", "3")

    evaluation = EvaluationRef(
        model=_model(),
        alias="champion",
        promoted=True,
        champion_version="3",
        compared_with=None,
        evaluations=_delta("model_evaluations", 5, "gold"),
    )
    assert [d.name for d in datasets_of(evaluation, NAMING)] == [
        "models/readmission_30d",
        "gold/model_evaluations",
    ]
    # an evaluation writes its row; the model it evaluated is an input, not an output
    assert [d.name for d in output_datasets_of([evaluation], NAMING)] == ["gold/model_evaluations"]

    bento = BentoRef(
        tag="readmission_30d_service:x7k2",
        registered_model="readmission_30d",
        model_version="3",
        task="readmission_30d",
        feature_service="fs",
        training_set_digest="d",
        landing_snapshot_id="s",
    )
    [b] = datasets_of(bento, NAMING)
    assert (b.namespace, b.name, b.version) == (
        "bentoml+file:///lake/home/bentoml",
        "readmission_30d_service",
        "x7k2",
    )


def test_unknown_values_have_no_datasets_and_duplicates_are_dropped():
    assert datasets_of("not a ref", NAMING) == []
    same = _delta("patients", 1)
    assert len(datasets_of_all([same, same, _delta("patients", 2)], NAMING)) == 2


def test_naming_from_settings(tmp_path):
    settings = load_settings(home=tmp_path, openlineage_namespace="hospital-a")
    naming = Naming.from_settings(settings)
    assert naming.lakehouse_root == tmp_path.resolve().as_uri()
    assert naming.namespace == "hospital-a"


# ---------------------------------------------------------------- events


def _step(**extra) -> StepRun:
    t0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return StepRun(
        **{
            "dagster_run_id": str(uuid.uuid4()),
            "step_key": "silver_tables",
            "dagster_job": "clinical_pipeline",
            "op_name": "silver_tables",
            "asset_keys": ["silver/patients"],
            "started_at": t0,
            "ended_at": t0 + timedelta(seconds=3),
            "code_version": {"git_sha": "abc"},
            "engine_version": "1.13.0",
            **extra,
        }
    )


def test_run_ids_are_deterministic_per_step():
    run = str(uuid.uuid4())
    assert run_id_for_step(run, "a") == run_id_for_step(run, "a") != run_id_for_step(run, "b")
    assert uuid.UUID(run_id_for_step(run, "a")).version == 5
    assert as_uuid(run) == run and uuid.UUID(as_uuid("not-a-uuid"))


def test_start_and_complete_carry_inputs_outputs_and_versions(tmp_path):
    table = write(
        str(tmp_path / "silver" / "patients"), pa.table({"patient_key": ["a", "b"], "age": [1, 2]})
    )
    naming = Naming(lakehouse_root=str(tmp_path), bentoml_home=str(tmp_path / "bentoml"))
    step = _step()
    inputs = datasets_of(_delta("patients", 4, "bronze"), naming)
    start, complete = build_step_events(step, naming, inputs, datasets_of(table, naming))
    start, complete = Serde.to_dict(start), Serde.to_dict(complete)

    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    assert start["eventTime"] == "2026-01-02T03:04:05+00:00"
    assert complete["eventTime"] == "2026-01-02T03:04:08+00:00"
    assert (
        start["run"]["runId"]
        == complete["run"]["runId"]
        == run_id_for_step(step.dagster_run_id, "silver_tables")
    )
    assert start["outputs"] == [] and start["inputs"] == complete["inputs"]
    assert complete["inputs"][0]["facets"]["version"]["datasetVersion"] == "4"
    [out] = complete["outputs"]
    assert (out["namespace"], out["name"]) == (tmp_path.resolve().as_uri(), "silver/patients")
    assert out["facets"]["version"]["datasetVersion"] == str(table.version)
    assert [(f["name"], f["type"]) for f in out["facets"]["schema"]["fields"]] == [
        ("patient_key", "string"),
        ("age", "long"),
    ]
    assert out["outputFacets"]["outputStatistics"]["rowCount"] == 2
    parent = complete["run"]["facets"]["parent"]
    assert parent["run"]["runId"] == step.dagster_run_id
    assert parent["job"] == {
        "namespace": "clinical-mlops",
        "name": "clinical_pipeline",
        "facets": {},
    }
    assert complete["run"]["facets"]["dagsterStep"]["codeVersion"] == {"git_sha": "abc"}
    assert complete["job"]["facets"]["dagsterAssets"]["assetKeys"] == ["silver/patients"]
    assert complete["job"]["name"] == "silver_tables"
    json.dumps(complete)  # serializable as the transports send it


def test_a_missing_table_still_gives_an_event_without_schema(tmp_path):
    ds = LineageDataset(
        "file:///x", "silver/gone", "3", delta_uri=str(tmp_path / "gone"), storage="delta"
    )
    _, complete = build_step_events(_step(), NAMING, [], [ds])
    out = Serde.to_dict(complete)["outputs"][0]
    assert "schema" not in out["facets"] and out["facets"]["version"]["datasetVersion"] == "3"


def test_fail_event_names_the_root_cause():
    try:
        try:
            raise KeyError("patient_key")
        except KeyError as inner:
            raise RuntimeError("Error occurred while executing op silver_tables") from inner
    except RuntimeError as outer:
        error = outer
    start, fail = build_step_events(_step(), NAMING, [], [], error)
    fail = Serde.to_dict(fail)
    assert (Serde.to_dict(start)["eventType"], fail["eventType"]) == ("START", "FAIL")
    facet = fail["run"]["facets"]["errorMessage"]
    assert facet["message"] == "KeyError: 'patient_key'"
    assert "RuntimeError" in facet["stackTrace"] and facet["programmingLanguage"] == "PYTHON"
    assert error_facet("plain text").message == "plain text"


# ---------------------------------------------------------------- transports


def test_default_client_appends_jsonl_to_the_home(tmp_path, monkeypatch):
    monkeypatch.delenv("CLINICAL_MLOPS_OPENLINEAGE_URL", raising=False)
    monkeypatch.delenv("CLINICAL_MLOPS_OPENLINEAGE_FILE", raising=False)
    settings = load_settings(home=tmp_path)
    client = make_client(settings)
    assert isinstance(client.transport, AppendFileTransport)
    assert settings.openlineage_events_file == tmp_path.resolve() / "openlineage" / "events.jsonl"
    for _ in range(2):
        for event in build_step_events(_step(), NAMING, [], []):
            client.emit(event)
    events = read_events(settings.openlineage_events_file)
    assert [e["eventType"] for e in events] == ["START", "COMPLETE"] * 2


def test_url_selects_the_http_transport_with_the_api_key(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINICAL_MLOPS_OPENLINEAGE_URL", "http://127.0.0.1:5000")
    monkeypatch.setenv("CLINICAL_MLOPS_OPENLINEAGE_API_KEY", "k3y")
    client = make_client(load_settings(home=tmp_path))
    assert isinstance(client.transport, HttpTransport)
    assert client.transport.url == "http://127.0.0.1:5000"
    assert client.transport.config.auth.get_bearer() == "Bearer k3y"
    assert client.transport.timeout == 5.0
