"""Distributed training on Ray Train (V2): the same datamodule and model as ``fit_local``, in DDP workers.

Each worker reads the pinned training set itself (a Delta URI and version travel, not the data), builds the
(datamodule, model) pair with ``training.fit.build`` and runs Lightning with Ray's DDP strategy and
environment. ``RayTrainReportCallback`` reports metrics and a Lightning checkpoint at every epoch end; a
worker that dies is replaced (``FailureConfig``) and the group resumes from the latest checkpoint
(``ray.train.get_checkpoint``). The driver picks the checkpoint with the best validation AUROC.

Ray runs locally (dashboard off, bound to 127.0.0.1, its temp files in a private directory removed at the
end) unless an address is given, in which case this process is a client of that cluster and the storage
path must be one every node can reach (an object-store URI or a shared filesystem).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import torch

from training.fit import FitConfig, resolve_deterministic
from training.model import RiskModel

CHECKPOINT_METRIC = "val_auroc"
HEALTH_CHECK_INTERVAL_S = 0.05  # Ray Train's controller poll (its default is 2 s)


@dataclass(frozen=True)
class RayScaling:
    num_workers: int = 2
    use_gpu: bool | None = None  # None: use GPUs when this machine has CUDA devices
    cpus_per_worker: float = 1.0

    def resolved_use_gpu(self) -> bool:
        return torch.cuda.is_available() if self.use_gpu is None else self.use_gpu


@dataclass
class RayFitResult:
    model: RiskModel  # the best validation epoch's weights, eval mode, on CPU
    best_val_auroc: float
    best_epoch: int
    epochs_run: int
    history: list[dict[str, float]]  # per epoch (rank 0's reported metrics)
    ray_start_s: float  # ray.init (0 when attached to a running cluster or Ray was already up)
    fit_s: float  # TorchTrainer.fit: worker start-up + training
    wall_s: float
    storage_path: str
    run_name: str
    num_workers: int
    use_gpu: bool
    precision: str
    attempts: int = 1  # 1 + worker-group restarts after failures
    worker_setup_s: float = 0.0  # in rank 0: from entering the train loop to trainer.fit (data read, model build)
    worker_train_s: float = 0.0  # in rank 0: trainer.fit until the last reported epoch (checkpoints included)
    extra: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[float]:
    """Yield the seconds ``ray.init`` took. Local Ray: dashboard off, every server on 127.0.0.1 (token
    authentication on, Ray's default), a private temp dir removed afterwards."""
    if not address:
        # Ray resolves 127.0.0.1 to the machine's address and binds its servers there; with its "cluster
        # support" off (the switch it uses on macOS/Windows) the node address is loopback and so are the
        # GCS, raylet, object manager and worker servers. Read when ray is imported, so also set in place.
        os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    import ray

    if not address:
        import ray._private.ray_constants as ray_constants

        ray_constants.ENABLE_RAY_CLUSTER = False
    if ray.is_initialized():
        yield 0.0
        return
    temp_dir = None
    # worker logs stay in Ray's session logs (a failure comes back as the result's error, with its traceback)
    kwargs: dict[str, Any] = {"include_dashboard": False, "logging_level": "WARNING", "log_to_driver": False}
    if address:
        kwargs["address"] = address
    else:
        temp_dir = tempfile.mkdtemp(prefix="cm-ray-")  # short: Ray's socket paths must stay under 107 bytes
        kwargs.update(num_cpus=num_cpus, _temp_dir=temp_dir)
    # Ray Train V2 and its workers inherit these; no usage stats leave the machine
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
    # The controller collects reports (and notices start and end) once per poll, 2 s by default: a worker's
    # next report waits for the last one to be collected, so with per-epoch checkpoints a small model spent
    # most of its Ray time waiting (5 demo epochs: 5.7 s at 2 s, 0.77 s at 0.2 s, 0.39 s at 0.05 s, 0.42 s at
    # 0.02 s; README, Training)
    os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", str(HEALTH_CHECK_INTERVAL_S))
    started = time.perf_counter()
    ray.init(**kwargs)
    try:
        yield time.perf_counter() - started
    finally:
        ray.shutdown()
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)


def _mlflow_callback(tracking_uri: str, run_id: str):
    """Rank 0 logs the params once and one batch of metrics per epoch to the driver's MLflow run."""
    from lightning.pytorch.callbacks import Callback

    from training.tracking import log_epoch_metrics, log_params

    class RankZeroMlflow(Callback):
        def on_fit_start(self, trainer, pl_module) -> None:
            if trainer.global_rank == 0:
                log_params(tracking_uri, run_id, {**pl_module.loggable_hparams(),
                                                  "world_size": trainer.world_size})

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            if trainer.global_rank == 0:
                metrics = {k: float(v) for k, v in trainer.callback_metrics.items()
                           if k.startswith(("train_", "val_"))}
                log_epoch_metrics(tracking_uri, run_id, metrics, trainer.current_epoch)

    return RankZeroMlflow()


def _timing_callback(loop_entered: float):
    """Adds ``worker_setup_s`` and ``worker_train_s`` (rank 0's clock) to every epoch's reported metrics, so
    the driver can tell Ray's start-up from the training itself."""
    from lightning.pytorch.callbacks import Callback

    class WorkerTiming(Callback):
        fit_started = 0.0

        def on_fit_start(self, trainer, pl_module) -> None:
            self.fit_started = time.perf_counter()

        def on_train_epoch_end(self, trainer, pl_module) -> None:  # before RayTrainReportCallback reports
            trainer.callback_metrics["worker_setup_s"] = torch.tensor(self.fit_started - loop_entered)
            trainer.callback_metrics["worker_train_s"] = torch.tensor(time.perf_counter() - self.fit_started)

    return WorkerTiming()


def _report_callback(upload: str):
    """Ray's per-epoch report (metrics + checkpoint). ``async``: the checkpoint is written locally and copied
    to the run's storage in the background while the next epoch trains (Ray Train V2)."""
    from ray.train import CheckpointUploadMode
    from ray.train.lightning import RayTrainReportCallback

    mode = {"sync": CheckpointUploadMode.SYNC, "async": CheckpointUploadMode.ASYNC}[upload]
    return RayTrainReportCallback(checkpoint_upload_mode=mode)


def _train_loop(loop_config: dict[str, Any]) -> None:
    """Runs in every Ray Train worker."""
    loop_entered = time.perf_counter()
    import lightning as L
    import ray.train
    from lightning.pytorch.callbacks import EarlyStopping
    from ray.train.lightning import RayDDPStrategy, RayLightningEnvironment, RayTrainReportCallback, prepare_trainer

    from training.fit import build

    config = FitConfig.from_dict(loop_config["fit"])
    torch.set_num_threads(max(1, int(loop_config.get("threads_per_worker", 1))))
    datamodule, model = build(loop_config["uri"], loop_config["task"], config, version=loop_config["version"])
    report = _report_callback(loop_config.get("checkpoint_upload", "sync"))
    callbacks = [EarlyStopping(CHECKPOINT_METRIC, mode="max", patience=config.patience),
                 _timing_callback(loop_entered), report]
    if loop_config.get("mlflow"):
        callbacks.append(_mlflow_callback(**loop_config["mlflow"]))
    trainer = L.Trainer(
        max_epochs=config.max_epochs, accelerator="auto", devices="auto", precision=config.precision,
        strategy=RayDDPStrategy(), plugins=[RayLightningEnvironment()], callbacks=callbacks,
        deterministic=resolve_deterministic(config), logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0, log_every_n_steps=1)
    trainer = prepare_trainer(trainer)
    checkpoint = ray.train.get_checkpoint()
    try:
        if checkpoint is None:
            trainer.fit(model, datamodule=datamodule)
            return
        with checkpoint.as_directory() as directory:  # a replaced worker group resumes here
            if loop_config.get("mlflow") and ray.train.get_context().get_world_rank() == 0:
                from mlflow import MlflowClient

                MlflowClient(tracking_uri=loop_config["mlflow"]["tracking_uri"]).set_tag(
                    loop_config["mlflow"]["run_id"], "ray.resumed_from_checkpoint", checkpoint.path)
            trainer.fit(model, datamodule=datamodule,
                        ckpt_path=os.path.join(directory, RayTrainReportCallback.CHECKPOINT_NAME))
    finally:
        _remove_if_empty(getattr(report, "tmpdir_prefix", None))


def _remove_if_empty(path: str | None) -> None:
    """RayTrainReportCallback removes each epoch's local checkpoint folder but leaves their parent
    (``<tmp>/lightning_checkpoints-job_id=...-world_rank=N``) behind, one per worker and run."""
    if path:
        try:
            os.rmdir(path)
        except OSError:  # gone already, or an async upload still holds a checkpoint in it
            pass


def fit_ray(training_set_uri: str, version: int, task: str, config: FitConfig | None = None, *,
            scaling: RayScaling | None = None, storage_path: str | Path, run_name: str,
            ray_address: str | None = None, max_failures: int = 2, keep_checkpoints: int = 2,
            mlflow: dict[str, str] | None = None, checkpoint_upload: str = "sync") -> RayFitResult:
    """Train ``task`` on the pinned training set with a Ray TorchTrainer; returns the best model.
    ``mlflow={"tracking_uri", "run_id"}``: rank 0 logs params and per-epoch metrics to that run.
    ``checkpoint_upload="sync"`` (default) registers each epoch's checkpoint before the next epoch starts, so a
    replaced worker group resumes from the last epoch; ``"async"`` copies it in the background (less blocking,
    but a failure soon after an epoch may resume from an older checkpoint, or from scratch)."""
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.lightning import RayTrainReportCallback
    from ray.train.torch import TorchTrainer

    config = config or FitConfig()
    scaling = scaling or RayScaling()
    use_gpu = scaling.resolved_use_gpu()
    if use_gpu and config.precision == "32-true":
        config = FitConfig.from_dict({**config.to_dict(), "precision": "bf16-mixed"})
    storage = str(storage_path)
    if "://" not in storage:
        Path(storage).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with ray_session(ray_address, num_cpus=None if ray_address else max(2, scaling.num_workers)) as ray_start:
        trainer = TorchTrainer(
            _train_loop,
            train_loop_config={"uri": training_set_uri, "version": version, "task": task, "fit": config.to_dict(),
                               "mlflow": mlflow, "threads_per_worker": max(1, int(scaling.cpus_per_worker)),
                               "checkpoint_upload": checkpoint_upload},
            scaling_config=ScalingConfig(num_workers=scaling.num_workers, use_gpu=use_gpu,
                                         resources_per_worker={"CPU": scaling.cpus_per_worker}),
            run_config=RunConfig(
                name=run_name, storage_path=storage,
                failure_config=FailureConfig(max_failures=max_failures),
                checkpoint_config=CheckpointConfig(num_to_keep=keep_checkpoints,
                                                   checkpoint_score_attribute=CHECKPOINT_METRIC,
                                                   checkpoint_score_order="max")),
        )
        fit_started = time.perf_counter()
        result = trainer.fit()
        fit_s = time.perf_counter() - fit_started
    if result.error:
        raise RuntimeError(f"Ray training of {task} failed: {result.error}") from result.error
    best = [(c, m) for c, m in (result.best_checkpoints or []) if m.get(CHECKPOINT_METRIC) is not None]
    if not best:
        raise RuntimeError(f"Ray training of {task} reported no checkpoint with {CHECKPOINT_METRIC}")
    checkpoint, metrics = max(best, key=lambda cm: (cm[1][CHECKPOINT_METRIC], -cm[1].get("epoch", 0)))
    with checkpoint.as_directory() as directory:
        model = RiskModel.load_from_checkpoint(os.path.join(directory, RayTrainReportCallback.CHECKPOINT_NAME),
                                               map_location="cpu", weights_only=False)
    model.eval()
    history = _history(result)
    return RayFitResult(
        model=model, best_val_auroc=float(metrics[CHECKPOINT_METRIC]), best_epoch=int(metrics.get("epoch", -1)),
        epochs_run=int((result.metrics or metrics).get("epoch", metrics.get("epoch", 0))) + 1, history=history, ray_start_s=ray_start,
        fit_s=fit_s, wall_s=time.perf_counter() - started, storage_path=storage, run_name=run_name,
        worker_setup_s=float((result.metrics or {}).get("worker_setup_s", 0.0)),
        worker_train_s=float((result.metrics or {}).get("worker_train_s", 0.0)),
        num_workers=scaling.num_workers, use_gpu=use_gpu, precision=config.precision)


def _history(result) -> list[dict[str, float]]:
    """Validation metrics of the epochs whose checkpoints were kept (the full per-epoch history is in MLflow,
    logged by rank 0); the last report wins when an epoch was reported twice around a restart."""
    frame = getattr(result, "metrics_dataframe", None)
    if frame is None or frame.empty:
        return []
    keep = [c for c in frame.columns if c == "epoch" or c.startswith(("val_", "train_"))]
    rows = frame[keep].drop_duplicates("epoch", keep="last").sort_values("epoch")
    return [{k: float(v) for k, v in row.items()} for row in rows.to_dict("records")]
