"""MLflow tracking and registry for a training run: params, per-epoch metrics, the training set as an input
(a Delta source with its version), the model with its preprocessing, and lineage tags on both the run and
the registered model version.

Local by default: a SQLite backend and an artifact root under ``<home>/mlflow`` (the artifact location is
set explicitly, never relative to the working directory). A tracking server URI works the same way.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from training.spec import input_spec

MODEL_CODE = Path(__file__).with_name("mlflow_model.py")


@dataclass(frozen=True)
class Tracking:
    tracking_uri: str
    artifact_root: str | None  # for experiments this process creates (None: the server decides)
    experiment: str


@dataclass(frozen=True)
class TrackedModel:
    run_id: str
    model_name: str
    model_version: str
    model_uri: str  # models:/<name>/<version>


def client(tracking: Tracking):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking.tracking_uri, registry_uri=tracking.tracking_uri)


def experiment_id(tracking: Tracking) -> str:
    mlflow_client = client(tracking)
    found = mlflow_client.get_experiment_by_name(tracking.experiment)
    if found is not None:
        return found.experiment_id
    location = None
    if tracking.artifact_root:
        location = (
            tracking.artifact_root
            if "://" in tracking.artifact_root
            else Path(tracking.artifact_root).as_uri()
        )
    return mlflow_client.create_experiment(tracking.experiment, artifact_location=location)


def start_run(tracking: Tracking, run_name: str, tags: Mapping[str, str]) -> str:
    run = client(tracking).create_run(experiment_id(tracking), run_name=run_name, tags=dict(tags))
    return run.info.run_id


def log_epoch_metrics(
    tracking_uri: str, run_id: str, metrics: Mapping[str, float], epoch: int
) -> None:
    """One batched call per epoch (what rank 0 does at each epoch end)."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    MlflowClient(tracking_uri=tracking_uri).log_batch(
        run_id, metrics=[Metric(k, float(v), now, epoch) for k, v in metrics.items()]
    )


def log_params(tracking_uri: str, run_id: str, params: Mapping[str, Any]) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import Param

    MlflowClient(tracking_uri=tracking_uri).log_batch(
        run_id, params=[Param(k, str(v)[:6000]) for k, v in params.items()]
    )


def input_schema(task: str):
    """Every feature of the task, optional (any may be missing when served); numbers as doubles (a null
    integer is a float in pandas), the note embedding as an array of floats."""
    from mlflow.types import ColSpec, DataType, Schema
    from mlflow.types.schema import Array

    kinds = {
        "int64": DataType.double,
        "float64": DataType.double,
        "bool": DataType.boolean,
        "string": DataType.string,
        "float32_list": Array(DataType.double),
    }
    return Schema(
        [ColSpec(kinds[dtype], name, required=False) for name, dtype in input_spec(task).features]
    )


def _example(frame: pl.DataFrame, task: str, rows: int = 3):
    spec = input_spec(task)
    # integers as doubles: a served row may miss any feature, and a null int column is float in pandas
    example = (
        frame.select(spec.columns)
        .head(rows)
        .with_columns(pl.col(pl.Int64).cast(pl.Float64))
        .to_pandas()
    )
    if (
        "note_embedding" in example.columns
    ):  # MLflow infers an array type from lists, not numpy arrays
        example["note_embedding"] = example["note_embedding"].map(
            lambda v: None if v is None else [float(x) for x in v]
        )
    return example


def log_and_register(
    tracking: Tracking,
    run_id: str,
    model,
    *,
    task: str,
    registered_model: str,
    training_frame: pl.DataFrame,
    training_set_uri: str,
    training_set_version: int,
    metrics: Mapping[str, float],
    tags: Mapping[str, str],
    pip_requirements: list[str] | None = None,
) -> TrackedModel:
    """Log the final metrics, the training set input, the model (pyfunc from code over a weights-only file)
    and register it; the lineage ``tags`` go on the run and on the new model version."""
    import mlflow
    from mlflow.data.delta_dataset_source import DeltaDatasetSource
    from mlflow.models import infer_signature

    from training.fit import save_model  # lazy: imports torch and lightning

    mlflow.set_tracking_uri(tracking.tracking_uri)
    mlflow.set_registry_uri(tracking.tracking_uri)
    mlflow_client = client(tracking)
    example = _example(training_frame, task)
    signature = infer_signature(example, model.predict_raw(pl.from_pandas(example)))
    signature.inputs = input_schema(task)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics({k: float(v) for k, v in metrics.items()})
        mlflow.set_tags(dict(tags))
        source = DeltaDatasetSource(path=training_set_uri, delta_table_version=training_set_version)
        dataset = mlflow.data.from_pandas(
            training_frame.select("split", "label").to_pandas(),
            source=source,
            # MLflow drops a falsy delta_table_version (0) from the source: the
            # name carries the version too
            name=f"{Path(training_set_uri).name}@v{training_set_version}",
            targets="label",
            digest=tags.get("lineage.training_set.digest", "")[7:27] or None,
        )
        mlflow.log_input(dataset, context="training")
        with tempfile.TemporaryDirectory() as tmp:
            weights = save_model(model, Path(tmp) / "model.pt")
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=str(MODEL_CODE),
                artifacts={"weights": str(weights)},
                signature=signature,
                input_example=example,
                pip_requirements=pip_requirements,
                registered_model_name=registered_model,
                await_registration_for=60,
            )
    version = str(info.registered_model_version)
    for key, value in tags.items():
        mlflow_client.set_model_version_tag(registered_model, version, key, value)
    mlflow_client.set_model_version_tag(registered_model, version, "mlflow.run_id", run_id)
    return TrackedModel(run_id, registered_model, version, f"models:/{registered_model}/{version}")


def end_run(tracking: Tracking, run_id: str, status: str = "FINISHED") -> None:
    client(tracking).set_terminated(run_id, status=status)
