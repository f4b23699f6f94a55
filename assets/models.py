"""Models: each trained task's model, trained with Ray Train on its pinned training set, tracked and
registered in MLflow with the lineage of that training set.

Runs Ray in process (local workers) by default; with ``CLINICAL_MLOPS_RAY_ADDRESS`` this process becomes a
client of that cluster and the workers run there (README: "Training on a Ray cluster").
"""

from dagster import AssetExecutionContext, AssetIn, AssetKey, MetadataValue, Output, asset

from assets.resources import PlatformResource
from assets.retries import SERVICE_RETRY
from assets.training_set import training_set_key
from features.tasks import TASKS, TaskDefinition
from lakehouse.delta import DeltaRef
from lineage.chain import training_set_lineage
from training.refs import ModelRef
from training.tracking import Tracking


def model_key(task: TaskDefinition) -> AssetKey:
    return AssetKey(["models", task.registered_model])


def _model_asset(task: TaskDefinition):
    @asset(
        key=model_key(task),
        group_name="models",
        kinds={"ray", "pytorch", "mlflow"},
        retry_policy=SERVICE_RETRY,
        ins={"training_set": AssetIn(key=training_set_key(task.name))},
        description=f"{task.description}: Ray Train (Lightning DDP) on the pinned training set, registered as "
        f"MLflow model {task.registered_model!r} with the training set's lineage as tags.",
    )
    def trained_model(
        context: AssetExecutionContext, platform: PlatformResource, training_set: DeltaRef
    ) -> Output:
        from training.fit import FitConfig  # lazy: imports torch and lightning
        from training.ray_train import RayScaling  # lazy: imports torch and lightning
        from training.run import train_task  # lazy: imports torch, lightning, scikit-learn

        settings = platform.settings
        tracking = Tracking(
            settings.tracking_uri, settings.mlflow_artifact_location, task.registered_model
        )
        lineage = training_set_lineage(training_set, settings.silver)
        key = "/".join(model_key(task).path)
        outcome = train_task(
            training_set,
            task,
            tracking=tracking,
            storage_path=settings.ray_storage_path,
            lineage_tags=lineage,
            tags={"dagster.run_id": context.run.run_id, "dagster.asset_key": key},
            config=FitConfig(max_epochs=settings.train_max_epochs, seed=settings.train_seed),
            scaling=RayScaling(
                num_workers=settings.ray_num_workers,
                use_gpu=settings.ray_use_gpu,
                cpus_per_worker=settings.ray_cpus_per_worker,
            ),
            ray_address=settings.ray_address,
            checkpoint_interval_s=settings.ray_checkpoint_interval_s,
        )
        tracked, metrics = outcome.tracked, outcome.metrics
        context.log.info(
            f"{tracked.model_name} v{tracked.model_version}: val AUROC {metrics['best_val_auroc']:.3f} "
            f"(run {tracked.run_id})"
        )
        ref = ModelRef(
            name=tracked.model_name,
            version=tracked.model_version,
            run_id=tracked.run_id,
            uri=tracked.model_uri,
            tracking_uri=tracking.tracking_uri,
            task=task.name,
            training_set=training_set,
        )
        return Output(
            ref,
            metadata={
                "mlflow_run_id": tracked.run_id,
                "registered_model": tracked.model_name,
                "model_version": tracked.model_version,
                "model_uri": tracked.model_uri,
                "best_val_auroc": round(metrics["best_val_auroc"], 4),
                "best_epoch": int(metrics["best_epoch"]),
                "epochs_run": int(metrics["epochs_run"]),
                "ray_workers": int(metrics["num_workers"]),
                "ray_start_s": round(metrics["ray_start_s"], 2),
                "fit_s": round(metrics["fit_s"], 2),
                "worker_train_s": round(metrics["worker_train_s"], 2),
                "training_set_digest": lineage["lineage.training_set.digest"],
                "feature_service": lineage["lineage.feature_service"],
                "landing_snapshot_id": lineage["lineage.landing.snapshot_id"],
                "lineage": MetadataValue.json(lineage),
            },
        )

    return trained_model


MODEL_ASSETS = [_model_asset(task) for task in TASKS.values() if task.train]
