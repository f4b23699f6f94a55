"""Train one task on its pinned training set with Ray, track it in MLflow and register the model.

What the ``trained_model`` asset calls (and what a remote submission would run): the lineage of the
training set (``lineage.chain``) and the code version become tags on the MLflow run and on the registered
model version, beside the caller's tags (Dagster run id, asset key).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version as package_version
from typing import Any

import polars as pl

from features.tasks import TaskDefinition
from lakehouse.delta import DeltaRef
from lineage.code_version import code_version
from training.calibration import calibrate
from training.data import read_training_set
from training.fit import FitConfig
from training.ray_train import CHECKPOINT_INTERVAL_S, RayFitResult, RayScaling, fit_ray
from training.tracking import TrackedModel, Tracking, end_run, log_and_register, start_run

RUNTIME_PACKAGES = ("torch", "lightning", "torchmetrics", "polars", "numpy", "pandas", "mlflow")


@dataclass
class TrainOutcome:
    tracked: TrackedModel
    fit: RayFitResult
    metrics: dict[str, float]
    tags: dict[str, str]


def code_tags() -> dict[str, str]:
    return {f"code.{k}": v for k, v in code_version().items()}


def pip_requirements() -> list[str]:
    return [f"{name}=={package_version(name)}" for name in RUNTIME_PACKAGES]


def train_task(
    training_set: DeltaRef,
    task: TaskDefinition,
    *,
    tracking: Tracking,
    storage_path: str,
    lineage_tags: Mapping[str, str],
    tags: Mapping[str, str] | None = None,
    config: FitConfig | None = None,
    scaling: RayScaling | None = None,
    ray_address: str | None = None,
    max_failures: int = 2,
    checkpoint_interval_s: float = CHECKPOINT_INTERVAL_S,
) -> TrainOutcome:
    frame = read_training_set(training_set.uri, training_set.version)
    all_tags = {
        **dict(tags or {}),
        **code_tags(),
        **dict(lineage_tags),
        "task": task.name,
        "registered_model": task.registered_model,
    }
    run_id = start_run(tracking, f"{task.name}-{task.version}", all_tags)
    try:
        result = fit_ray(
            training_set.uri,
            training_set.version,
            task.name,
            config,
            scaling=scaling,
            storage_path=storage_path,
            run_name=f"{task.name}-{run_id[:12]}",
            ray_address=ray_address,
            max_failures=max_failures,
            mlflow={"tracking_uri": tracking.tracking_uri, "run_id": run_id},
            checkpoint_interval_s=checkpoint_interval_s,
        )
        calibration = calibrate(result.model, frame.filter(pl.col("split") == "validation"))
        metrics: dict[str, Any] = {
            **calibration.to_dict(),
            "best_val_auroc": result.best_val_auroc,
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
            "ray_start_s": result.ray_start_s,
            "fit_s": result.fit_s,
            "worker_setup_s": result.worker_setup_s,
            "worker_train_s": result.worker_train_s,
            "wall_s": result.wall_s,
            "num_workers": result.num_workers,
            **{
                f"rows_{split}": float((frame["split"] == split).sum())
                for split in ("train", "validation", "test")
            },
        }
        tracked = log_and_register(
            tracking,
            run_id,
            result.model,
            task=task.name,
            registered_model=task.registered_model,
            training_frame=frame,
            training_set_uri=training_set.uri,
            training_set_version=training_set.version,
            metrics=metrics,
            tags={
                **all_tags,
                "ray.use_gpu": str(result.use_gpu),
                "ray.precision": result.precision,
                "ray.checkpoint_interval_s": str(checkpoint_interval_s),
            },
            pip_requirements=pip_requirements(),
        )
    except BaseException:
        end_run(tracking, run_id, "FAILED")
        raise
    end_run(tracking, run_id)
    return TrainOutcome(tracked, result, metrics, all_tags)
