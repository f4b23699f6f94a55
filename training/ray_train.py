"""Distributed training on Ray Train (V2): the same datamodule and model as ``fit_local``, in DDP workers.

Each worker reads the pinned training set itself (a Delta URI and version travel, not the data), builds the
(datamodule, model) pair with ``training.fit.build`` and runs Lightning with Ray's DDP strategy and
environment. ``RayTrainReportCallback`` reports metrics and a Lightning checkpoint at an epoch end, at most
every ``checkpoint_interval_s`` seconds (0: every epoch) and always after the last epoch; a worker that dies
is replaced (``FailureConfig``) and the group resumes from the latest checkpoint (``ray.train.get_checkpoint``),
losing at most that interval of training. Every checkpoint also carries the best validation epoch's weights
(``training.fit.BestWeights``), so the driver takes the best model from the latest checkpoint.

Ray runs locally (dashboard off, every server and the DDP rendezvous bound to 127.0.0.1, token authentication on,
its temp files in a private directory removed at the end) unless an address is given, in which case this process
is a client of that cluster and the storage path must be one every node can reach (an object-store URI or a
shared filesystem). ``RAY_AUTH_MODE`` is never set here: Ray turns token authentication on for the local cluster
it starts, and a cluster's own setting (and the token in ``RAY_AUTH_TOKEN``/``~/.ray/auth_token``) applies to a
client of it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from training.fit import BestWeights, FitConfig, build, resolve_deterministic
from training.model import RiskModel
from training.tracking import log_epoch_metrics, log_params

CHECKPOINT_METRIC = "val_auroc"
HEALTH_CHECK_INTERVAL_S = 0.05  # Ray Train's controller poll (its default is 2 s)
# A report (metrics + checkpoint) every epoch that ends this long after the last one. A report waits for
# the controller to collect the previous one, about 0.02 s of a 0.03 s demo epoch; an epoch of a real cohort
# takes seconds to minutes, and then every epoch is reported (README, Training)
CHECKPOINT_INTERVAL_S = 10.0


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
    history: list[
        dict[str, float]
    ]  # every epoch's validation metrics (BestWeights, in the last checkpoint)
    ray_start_s: float  # ray.init (0 when attached to a running cluster or Ray was already up)
    fit_s: float  # TorchTrainer.fit: worker start-up + training
    wall_s: float
    storage_path: str
    run_name: str
    num_workers: int
    use_gpu: bool
    precision: str
    attempts: int = 1  # 1 + worker-group restarts after failures
    worker_setup_s: float = (
        0.0  # in rank 0: from entering the train loop to trainer.fit (data read, model build)
    )
    worker_train_s: float = (
        0.0  # in rank 0: trainer.fit to the end of the last epoch (earlier reports included)
    )
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
    kwargs: dict[str, Any] = {
        "include_dashboard": False,
        "logging_level": "WARNING",
        "log_to_driver": False,
    }
    if address:
        kwargs["address"] = address
    else:
        temp_dir = tempfile.mkdtemp(
            prefix="cm-ray-"
        )  # short: Ray's socket paths must stay under 107 bytes
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


def _mlflow_callback(tracking_uri: str, run_id: str, rank: int):
    """Rank 0 logs the params once and one batch of metrics per epoch to the driver's MLflow run. It opens the
    tracking store here, before training: that fails fast on an unreachable store or a missing run, and keeps
    the store's start-up (an SQLite store checks its schema, about 2 s) out of the first epoch."""
    from lightning.pytorch.callbacks import Callback
    from mlflow import MlflowClient

    if rank == 0:
        MlflowClient(tracking_uri=tracking_uri).get_run(
            run_id
        )  # MLflow keeps the opened store per URI

    class RankZeroMlflow(Callback):
        def on_fit_start(self, trainer, pl_module) -> None:
            if trainer.global_rank == 0:
                log_params(
                    tracking_uri,
                    run_id,
                    {**pl_module.loggable_hparams(), "world_size": trainer.world_size},
                )

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            if trainer.global_rank == 0:
                metrics = {
                    k: float(v)
                    for k, v in trainer.callback_metrics.items()
                    if k.startswith(("train_", "val_"))
                }
                log_epoch_metrics(tracking_uri, run_id, metrics, trainer.current_epoch)

    return RankZeroMlflow()


def _timing_callback(loop_entered: float):
    """Adds ``worker_setup_s`` and ``worker_train_s`` (rank 0's clock) to every epoch's reported metrics, so
    the driver can tell Ray's start-up from the training itself, and ``worker_on_gpu`` (1.0: the model
    trained on a CUDA device)."""
    from lightning.pytorch.callbacks import Callback

    class WorkerTiming(Callback):
        fit_started = 0.0

        def on_fit_start(self, trainer, pl_module) -> None:
            self.fit_started = time.perf_counter()

        def on_train_epoch_end(
            self, trainer, pl_module
        ) -> None:  # before RayTrainReportCallback reports
            trainer.callback_metrics["worker_setup_s"] = torch.tensor(
                self.fit_started - loop_entered
            )
            trainer.callback_metrics["worker_train_s"] = torch.tensor(
                time.perf_counter() - self.fit_started
            )
            trainer.callback_metrics["worker_on_gpu"] = torch.tensor(
                float(pl_module.device.type == "cuda")
            )

    return WorkerTiming()


def _report_callback(upload: str, interval_s: float):
    """Ray's epoch-end report (metrics + Lightning checkpoint), at most every ``interval_s`` seconds and
    always after the last epoch. ``upload="async"``: the checkpoint is written locally and copied to the
    run's storage in the background while the next epoch trains (Ray Train V2)."""
    from ray.train import CheckpointUploadMode
    from ray.train.lightning import RayTrainReportCallback

    mode = {"sync": CheckpointUploadMode.SYNC, "async": CheckpointUploadMode.ASYNC}[upload]

    class PacedReport(RayTrainReportCallback):
        last_report, unreported = 0.0, None  # the epoch that ended without a report, if any

        def on_train_start(self, trainer, pl_module) -> None:
            self.last_report = time.monotonic()

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            # early stopping has decided at validation end (check_on_train_epoch_end=False); all ranks agree
            last = trainer.should_stop or trainer.current_epoch + 1 >= (trainer.max_epochs or 0)
            due = interval_s <= 0 or time.monotonic() - self.last_report >= interval_s
            if not last and interval_s > 0 and trainer.world_size > 1:
                due = trainer.strategy.broadcast(
                    due, src=0
                )  # a report is collective: rank 0's clock decides
            if last or due:
                self._report(trainer, pl_module)
            else:
                self.unreported = trainer.current_epoch

        def on_train_end(self, trainer, pl_module) -> None:
            if (
                self.unreported is not None
            ):  # training stopped for another reason: report its last epoch
                self._report(_AtEpoch(trainer, self.unreported), pl_module)

        def _report(self, trainer, pl_module) -> None:
            super().on_train_epoch_end(trainer, pl_module)
            self.last_report, self.unreported = time.monotonic(), None

    return PacedReport(checkpoint_upload_mode=mode)


class _AtEpoch:
    """A trainer seen as at the end of ``epoch`` (after the fit loop, ``current_epoch`` has moved past it)."""

    def __init__(self, trainer, epoch: int):
        self._trainer, self.current_epoch = trainer, epoch

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trainer, name)


def _train_loop(loop_config: dict[str, Any]) -> None:
    """Runs in every Ray Train worker."""
    loop_entered = time.perf_counter()
    import lightning as L
    import ray.train
    from lightning.pytorch.callbacks import EarlyStopping
    from ray.train.lightning import (
        RayDDPStrategy,
        RayLightningEnvironment,
        RayTrainReportCallback,
        prepare_trainer,
    )

    config = FitConfig.from_dict(loop_config["fit"])
    torch.set_num_threads(max(1, int(loop_config.get("threads_per_worker", 1))))
    datamodule, model = build(
        loop_config["uri"], loop_config["task"], config, version=loop_config["version"]
    )
    report = _report_callback(
        loop_config.get("checkpoint_upload", "sync"),
        float(loop_config.get("checkpoint_interval_s", CHECKPOINT_INTERVAL_S)),
    )
    # early stopping and BestWeights act at validation end, before the epoch-end report: its checkpoint holds
    # the best epoch up to its own, and it knows whether its epoch is the last
    callbacks = [
        EarlyStopping(
            CHECKPOINT_METRIC, mode="max", patience=config.patience, check_on_train_epoch_end=False
        ),
        BestWeights(CHECKPOINT_METRIC),
        _timing_callback(loop_entered),
        report,
    ]
    if loop_config.get("mlflow"):
        callbacks.append(
            _mlflow_callback(**loop_config["mlflow"], rank=ray.train.get_context().get_world_rank())
        )
    trainer = L.Trainer(
        max_epochs=config.max_epochs,
        accelerator="auto",
        devices="auto",
        precision=config.precision,
        # no buffer broadcast before every forward: the model's buffers (pos_weight, calibration) are constants
        strategy=RayDDPStrategy(broadcast_buffers=False),
        plugins=[RayLightningEnvironment()],
        callbacks=callbacks,
        deterministic=resolve_deterministic(config),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
    )
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
                    loop_config["mlflow"]["run_id"], "ray.resumed_from_checkpoint", checkpoint.path
                )
            trainer.fit(
                model,
                datamodule=datamodule,
                ckpt_path=os.path.join(directory, RayTrainReportCallback.CHECKPOINT_NAME),
            )
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


def fit_ray(
    training_set_uri: str,
    version: int,
    task: str,
    config: FitConfig | None = None,
    *,
    scaling: RayScaling | None = None,
    storage_path: str | Path,
    run_name: str,
    ray_address: str | None = None,
    max_failures: int = 2,
    keep_checkpoints: int = 2,
    mlflow: dict[str, str] | None = None,
    checkpoint_upload: str = "sync",
    checkpoint_interval_s: float = CHECKPOINT_INTERVAL_S,
) -> RayFitResult:
    """Train ``task`` on the pinned training set with a Ray TorchTrainer; returns the best model.
    ``mlflow={"tracking_uri", "run_id"}``: rank 0 logs params and per-epoch metrics to that run.
    ``checkpoint_interval_s``: report a checkpoint at the first epoch end this long after the last report
    (0: every epoch), and after the last epoch; a replaced worker group loses at most that much training.
    ``checkpoint_upload="sync"`` (default) registers a checkpoint before the next epoch starts, so a replaced
    worker group resumes from it; ``"async"`` copies it in the background (less blocking, but a failure soon
    after a report may resume from an older checkpoint, or from scratch)."""
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    from training.ray_loopback import LoopbackTorchConfig  # lazy: imports ray.train (seconds)

    config = config or FitConfig()
    scaling = scaling or RayScaling()
    use_gpu = scaling.resolved_use_gpu()
    if use_gpu and config.precision == "32-true":
        config = FitConfig.from_dict({**config.to_dict(), "precision": "bf16-mixed"})
    storage = str(storage_path)
    if "://" not in storage:
        Path(storage).mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    with ray_session(
        ray_address, num_cpus=None if ray_address else max(2, scaling.num_workers)
    ) as ray_start:
        trainer = TorchTrainer(
            _train_loop,
            train_loop_config={
                "uri": training_set_uri,
                "version": version,
                "task": task,
                "fit": config.to_dict(),
                "mlflow": mlflow,
                "threads_per_worker": max(1, int(scaling.cpus_per_worker)),
                "checkpoint_upload": checkpoint_upload,
                "checkpoint_interval_s": checkpoint_interval_s,
            },
            # local: the DDP rendezvous and collectives on 127.0.0.1 too (torch's store binds every interface)
            torch_config=None if ray_address else LoopbackTorchConfig(),
            scaling_config=ScalingConfig(
                num_workers=scaling.num_workers,
                use_gpu=use_gpu,
                resources_per_worker={"CPU": scaling.cpus_per_worker},
            ),
            run_config=RunConfig(
                name=run_name,
                storage_path=storage,
                failure_config=FailureConfig(max_failures=max_failures),
                # the latest ones: each carries the best epoch so far (BestWeights)
                checkpoint_config=CheckpointConfig(num_to_keep=keep_checkpoints),
            ),
        )
        fit_started = time.perf_counter()
        result = trainer.fit()
        fit_s = time.perf_counter() - fit_started
    if result.error:
        raise RuntimeError(f"Ray training of {task} failed: {result.error}") from result.error
    if result.checkpoint is None:
        raise RuntimeError(f"Ray training of {task} reported no checkpoint")
    model, best = _best_model(result.checkpoint)
    last = result.metrics or {}
    return RayFitResult(
        model=model,
        best_val_auroc=float(best["best_score"]),
        best_epoch=int(best["best_epoch"]),
        epochs_run=len(best["history"]),
        history=list(best["history"]),  # one entry per epoch, kept over resumes
        ray_start_s=ray_start,
        fit_s=fit_s,
        wall_s=time.perf_counter() - started,
        storage_path=storage,
        run_name=run_name,
        worker_setup_s=float(last.get("worker_setup_s", 0.0)),
        worker_train_s=float(last.get("worker_train_s", 0.0)),
        num_workers=scaling.num_workers,
        use_gpu=use_gpu,
        precision=config.precision,
        extra={"worker_on_gpu": bool(last.get("worker_on_gpu", 0.0))},
    )


def _best_model(checkpoint) -> tuple[RiskModel, dict[str, Any]]:
    """The best validation epoch's model (eval mode, CPU) and the BestWeights state, from a reported checkpoint
    (our own run's storage: the Lightning checkpoint holds the optimizer state and loop progress too)."""
    from ray.train.lightning import RayTrainReportCallback

    with checkpoint.as_directory() as directory:
        path = os.path.join(directory, RayTrainReportCallback.CHECKPOINT_NAME)
        state = torch.load(path, map_location="cpu", weights_only=False)
    best = state.get("callbacks", {}).get(BestWeights(CHECKPOINT_METRIC).state_key)
    if not best:
        raise RuntimeError(
            f"the checkpoint {checkpoint.path} holds no best validation epoch ({CHECKPOINT_METRIC})"
        )
    model = RiskModel(**state["hyper_parameters"])
    model.load_state_dict(best["best_state"])
    return model.eval(), best
