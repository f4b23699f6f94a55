"""The MLflow side of an evaluation: load a registered version, score rows with it, and record the result on
the version (tags, description, alias) and on its training run (metrics, artifacts).

Scoring goes through the registered pyfunc itself (``mlflow.pyfunc.load_model``, weights-only torch
loading inside), so what is evaluated is exactly what gets served. Its signature takes numbers as doubles
(a null integer is a float in pandas), so rows are cast to the model's input dtypes first.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import polars as pl

from evaluation.report import truncate_tag
from training.preprocessing import to_input_frame
from training.spec import input_spec

CHAMPION = "champion"


def client(tracking_uri: str):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def load_version(tracking_uri: str, name: str, version: str):
    import mlflow

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    return mlflow.pyfunc.load_model(f"models:/{name}/{version}")


def score(model, rows: pl.DataFrame, task: str) -> np.ndarray:
    """Risk per row (float64) from the registered pyfunc, for raw feature rows of ``task``."""
    frame = to_input_frame(rows, input_spec(task)).to_pandas()
    return np.asarray(model.predict(frame), dtype=np.float64)


def alias_version(tracking_uri: str, name: str, alias: str) -> str | None:
    """The version an alias points at, or None when the alias (or the model) does not exist yet."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client(tracking_uri).get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def version_tags(tracking_uri: str, name: str, version: str) -> dict[str, str]:
    return dict(client(tracking_uri).get_model_version(name, version).tags)


MAX_DESCRIPTION = (
    5000  # MLflow's model_versions.description is VARCHAR(5000): PostgreSQL enforces it, SQLite not
)


def truncate_description(text: str) -> str:
    """A model-version description within MLflow's column; the full model card is the run's artifact."""
    if len(text) <= MAX_DESCRIPTION:
        return text
    note = "\n\n… (truncated: the full model card is the run's artifact evaluation/model_card.md)"
    return text[: MAX_DESCRIPTION - len(note)] + note


def record(
    tracking_uri: str,
    name: str,
    version: str,
    run_id: str,
    *,
    alias: str,
    tags: Mapping[str, str],
    metrics: Mapping[str, float],
    artifacts: Path,
    description: str,
) -> None:
    """Metrics and artifacts on the training run; tags, description (the model card) and alias on the version.

    The alias moves last, so a failure before it leaves the previous champion in place."""
    from mlflow.entities import Metric, RunTag

    mlflow_client = client(tracking_uri)
    now = int(time.time() * 1000)
    mlflow_client.log_batch(
        run_id,
        metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
        tags=[RunTag(k, truncate_tag(str(v))) for k, v in tags.items()],
    )
    mlflow_client.log_artifacts(run_id, str(artifacts), artifact_path="evaluation")
    for key, value in tags.items():
        mlflow_client.set_model_version_tag(name, version, key, truncate_tag(str(value)))
    mlflow_client.update_model_version(name, version, description=truncate_description(description))
    mlflow_client.set_registered_model_alias(name, alias, version)
