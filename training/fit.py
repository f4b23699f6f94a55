"""Plain-Lightning training of the risk model in this process, and its single-file save format.

``build(training_set, task, config)`` returns the (datamodule, model) pair; ``fit_local`` trains it with
early stopping on validation AUROC and hands back the best epoch's weights. A distributed driver (Ray
TorchTrainer) calls the same ``build`` in each worker with its own strategy and callbacks, which is why
the config is a small picklable dataclass (``to_dict``/``from_dict`` for the wire and the tracker).

``save_model`` writes one file loadable with ``torch.load(path, weights_only=True)``: tensors plus plain
types only (state dict, hyperparameters including the preprocessor state), no pickled Python objects, so
a model file from an untrusted store cannot execute code when loaded.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint

from training.data import TrainingSetDataModule
from training.model import RiskModel

MODEL_FORMAT = "clinical-mlops/risk-model"
MODEL_FORMAT_VERSION = (
    2  # 2: the Platt calibration buffer; version 1 files load with identity calibration
)


@dataclass(frozen=True)
class FitConfig:
    """Everything that decides a training run. ``deterministic="auto"``: True on CPU, "warn" on GPUs (some
    CUDA kernels have no deterministic version)."""

    max_epochs: int = 20
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    tabular_hidden: tuple[int, ...] = (128, 64)
    note_hidden: tuple[int, ...] = (64,)
    fusion_hidden: tuple[int, ...] = (64,)
    dropout: float = 0.1
    seed: int = 42
    patience: int = 3
    precision: str = "32-true"
    accelerator: str = "auto"
    devices: int | str = 1
    deterministic: bool | Literal["warn", "auto"] = "auto"
    max_categories: int = 20
    num_workers: int = 0
    progress_bar: bool = False

    def model_hparams(self) -> dict[str, Any]:
        return {
            "tabular_hidden": list(self.tabular_hidden),
            "note_hidden": list(self.note_hidden),
            "fusion_hidden": list(self.fusion_hidden),
            "dropout": self.dropout,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
        }

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FitConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown FitConfig fields: {unknown}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


@dataclass
class FitResult:
    model: RiskModel  # carries the best epoch's weights, in eval mode
    best_val_auroc: float
    best_epoch: int
    epochs_run: int
    wall_time_s: float  # data set-up + training
    train_time_s: float  # Trainer.fit only
    history: list[dict[str, float]] = field(
        default_factory=list
    )  # per epoch: val_auroc, val_auprc, val_loss
    data: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # per split: rows, positives, time range


class BestWeights(Callback):
    """Keeps an in-memory copy of the weights of the best validation epoch, and every epoch's validation
    metrics. Its state travels in any Lightning checkpoint written during the fit (``state_dict``), so a
    checkpoint of the last epoch also carries the best epoch's weights, and a resumed fit keeps them."""

    def __init__(self, monitor: str = "val_auroc"):
        self.monitor, self.best_score, self.best_epoch = monitor, float("-inf"), -1
        self.best_state: dict[str, torch.Tensor] | None = (
            None  # not `state_dict`: Callback has that method
        )
        self.history: list[dict[str, float]] = []

    @property
    def state_key(self) -> str:
        return f"BestWeights[{self.monitor}]"

    def state_dict(self) -> dict[str, Any]:
        if self.best_state is None:
            return {}
        return {
            "monitor": self.monitor,
            "best_score": self.best_score,
            "best_epoch": self.best_epoch,
            "best_state": self.best_state,
            "history": self.history,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if state_dict:
            self.best_score, self.best_epoch = (
                float(state_dict["best_score"]),
                int(state_dict["best_epoch"]),
            )
            self.best_state, self.history = state_dict["best_state"], list(state_dict["history"])

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val_")}
        self.history.append({"epoch": trainer.current_epoch, **metrics})
        score = metrics.get(self.monitor)
        if score is not None and score > self.best_score:
            self.best_score, self.best_epoch = score, trainer.current_epoch
            self.best_state = {
                k: v.detach().cpu().clone() for k, v in pl_module.state_dict().items()
            }


def resolve_deterministic(config: FitConfig) -> bool | str:
    if config.deterministic != "auto":
        return config.deterministic
    on_cpu = config.accelerator == "cpu" or (
        config.accelerator == "auto" and not torch.cuda.is_available()
    )
    return True if on_cpu else "warn"


def build(
    training_set: Any, task: str, config: FitConfig, *, version: int | None = None
) -> tuple[TrainingSetDataModule, RiskModel]:
    """The set-up datamodule and a freshly initialised model (seeded by ``config.seed``)."""
    datamodule = TrainingSetDataModule(
        training_set,
        task,
        version=version,
        batch_size=config.batch_size,
        seed=config.seed,
        num_workers=config.num_workers,
        max_categories=config.max_categories,
    )
    datamodule.setup("fit")
    # seeded after the data is read, so weight init and dropout depend on the seed alone
    L.seed_everything(config.seed, workers=True, verbose=False)
    return datamodule, RiskModel.from_datamodule(datamodule, **config.model_hparams())


def fit_local(
    training_set: Any,
    task: str,
    config: FitConfig | None = None,
    *,
    version: int | None = None,
    callbacks: list[Callback] | None = None,
    logger: Any = False,
) -> FitResult:
    """Train in this process (no Ray): early stopping on val_auroc, best weights restored."""
    config = config or FitConfig()
    start = time.perf_counter()
    datamodule, model = build(training_set, task, config, version=version)
    best = BestWeights("val_auroc")
    callbacks = list(callbacks or [])
    trainer = L.Trainer(
        max_epochs=config.max_epochs,
        accelerator=config.accelerator,
        devices=config.devices,
        precision=config.precision,
        deterministic=resolve_deterministic(config),
        logger=logger,
        callbacks=[
            EarlyStopping("val_auroc", mode="max", patience=config.patience),
            best,
            *callbacks,
        ],
        enable_checkpointing=any(
            isinstance(c, ModelCheckpoint) for c in callbacks
        ),  # files only when asked
        enable_progress_bar=config.progress_bar,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        log_every_n_steps=1,
    )
    fit_start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule)
    train_time = time.perf_counter() - fit_start
    if best.best_state is None:
        raise RuntimeError("training finished without a validation AUROC (no validation epoch ran)")
    model.load_state_dict(best.best_state)
    model.eval()
    return FitResult(
        model=model,
        best_val_auroc=best.best_score,
        best_epoch=best.best_epoch,
        epochs_run=len(best.history),
        wall_time_s=time.perf_counter() - start,
        train_time_s=train_time,
        history=best.history,
        data=dict(datamodule.summary),
    )


def save_model(model: RiskModel, path: str | Path) -> Path:
    """Write the model as one ``weights_only``-loadable file (atomically: a reader never sees half a file)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "hyper_parameters": dict(model.hparams),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> RiskModel:
    """Rebuild the RiskModel from ``save_model``'s file, loading only tensors and plain types."""
    payload = torch.load(Path(path), map_location=map_location, weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != MODEL_FORMAT:
        raise ValueError(f"{path} is not a {MODEL_FORMAT} file")
    if payload.get("format_version") not in (1, MODEL_FORMAT_VERSION):
        raise ValueError(f"{path}: unsupported format_version {payload.get('format_version')!r}")
    model = RiskModel(**payload["hyper_parameters"])
    state = payload["state_dict"]
    if payload["format_version"] == 1:
        state = {**state, "calibration": model.calibration.clone()}
    model.load_state_dict(state, strict=True)
    return model.eval()
