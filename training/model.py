"""The clinical risk model: a tabular tower and a note tower fused into one risk logit.

Why this shape: the structured features and the 256-d hashed note vector live on different scales and
carry different signal, so each gets its own MLP before a fusion MLP mixes them. Widths and depths are
hyperparameters (``note_hidden=[2048, 2048, 2048]`` makes a multi-million-parameter model for GPU
benchmarks); a task without a note view simply has no note tower.

The fitted preprocessor state is a (plain JSON types) hyperparameter, so ``hparams`` + ``state_dict`` - a
Lightning checkpoint, or the file ``training.fit.save_model`` writes - is all it takes to score raw rows
again (``predict_raw``). Hyperparameters are saved with ``logger=False`` because that state is large:
callers log ``loggable_hparams()`` instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.functional.classification import binary_auroc, binary_average_precision

from training.preprocessing import Preprocessor, Rows


def mlp(in_dim: int, widths: Sequence[int], dropout: float) -> tuple[nn.Sequential, int]:
    """Linear -> GELU -> Dropout per width; returns the stack and its output width."""
    layers: list[nn.Module] = []
    for width in widths:
        layers += [nn.Linear(in_dim, int(width)), nn.GELU(), nn.Dropout(dropout)]
        in_dim = int(width)
    return nn.Sequential(*layers), in_dim


class RiskModel(L.LightningModule):
    """One logit per index event from (tabular [B, D], note [B, 256]) tensors."""

    def __init__(
        self,
        preprocessor: dict[str, Any],
        pos_weight: float = 1.0,
        tabular_hidden: Sequence[int] = (128, 64),
        note_hidden: Sequence[int] = (64,),
        fusion_hidden: Sequence[int] = (64,),
        dropout: float = 0.1,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
    ):
        super().__init__()
        self.save_hyperparameters(
            {
                "preprocessor": preprocessor,
                "pos_weight": float(pos_weight),
                "tabular_hidden": [int(w) for w in tabular_hidden],
                "note_hidden": [int(w) for w in note_hidden],
                "fusion_hidden": [int(w) for w in fusion_hidden],
                "dropout": float(dropout),
                "lr": float(lr),
                "weight_decay": float(weight_decay),
            },
            logger=False,
        )
        self._preprocessor = Preprocessor.from_state(preprocessor)
        self.tabular_dim, self.note_dim = (
            self._preprocessor.tabular_dim,
            self._preprocessor.note_dim,
        )
        self.tabular_tower, tab_out = mlp(self.tabular_dim, tabular_hidden, dropout)
        self.note_tower, note_out = None, 0
        if (
            self.note_dim
        ):  # LayerNorm first: L2-normalized hashed vectors have components of ~1/sqrt(dim)
            layers, note_out = mlp(self.note_dim, note_hidden, dropout)
            self.note_tower = nn.Sequential(nn.LayerNorm(self.note_dim), *layers)
        self.fusion, fused = mlp(tab_out + note_out, fusion_hidden, dropout)
        self.head = nn.Linear(fused, 1)
        self.register_buffer("pos_weight", torch.tensor(float(pos_weight)))
        # Platt recalibration (scale, bias) of the logit, fitted on the validation split after training
        # (training.calibration): pos_weight trades calibrated probabilities for recall, this gives them back
        self.register_buffer("calibration", torch.tensor([1.0, 0.0]))
        self._evaluated: list[
            torch.Tensor
        ] = []  # this epoch's [logit, label] rows of the split being evaluated

    @classmethod
    def from_datamodule(cls, datamodule: Any, **hparams: Any) -> RiskModel:
        """A model sized for a set-up ``TrainingSetDataModule``: its preprocessor and train pos_weight."""
        datamodule.setup("fit")
        return cls(
            preprocessor=datamodule.preprocessor.state_dict(),
            pos_weight=datamodule.pos_weight,
            **hparams,
        )

    @property
    def preprocessor(self) -> Preprocessor:
        return self._preprocessor

    def loggable_hparams(self) -> dict[str, Any]:
        """Flat, small hyperparameters for a tracker (the preprocessor state summarized, not dumped)."""
        hp = {k: v for k, v in self.hparams.items() if k != "preprocessor"}
        hp = {k: ",".join(map(str, v)) if isinstance(v, list) else v for k, v in hp.items()}
        return {
            **hp,
            "task": self._preprocessor.spec.task,
            "tabular_dim": self.tabular_dim,
            "note_dim": self.note_dim,
            "parameters": sum(p.numel() for p in self.parameters()),
        }

    # ------------------------------------------------------------------ forward and steps

    def forward(self, tabular: torch.Tensor, note: torch.Tensor) -> torch.Tensor:
        """Risk logits [B]."""
        towers = [self.tabular_tower(tabular)]
        if self.note_tower is not None:
            towers.append(self.note_tower(note))
        return self.head(self.fusion(torch.cat(towers, dim=1))).squeeze(1)

    def _loss(
        self, batch: Sequence[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        tabular, note, label = batch
        logits = self(tabular, note)
        loss = F.binary_cross_entropy_with_logits(
            logits, label.to(logits.dtype), pos_weight=self.pos_weight
        )
        return loss, logits, label

    def training_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, _, label = self._loss(batch)
        self.log(
            "train_loss", loss, on_step=False, on_epoch=True, sync_dist=True, batch_size=len(label)
        )
        return loss

    def _evaluate(self, batch: Sequence[torch.Tensor]) -> None:
        """Keeps a validation or test batch's logits and labels; the split's metrics come at the epoch's end."""
        tabular, note, label = batch
        self._evaluated.append(torch.stack([self(tabular, note).float(), label.float()], dim=1))

    def _log_split_metrics(self, split: str) -> None:
        """Loss, AUROC and AUPRC over the whole split. Under DDP each rank holds an equal share (Lightning's
        distributed sampler), and one all-gather gives every rank all of it: the same figures on every rank,
        from one collective instead of a reduction per metric and per metric state."""
        local = (
            torch.cat(self._evaluated) if self._evaluated else torch.empty(0, 2, device=self.device)
        )
        self._evaluated = []
        rows = self.all_gather(local).reshape(
            -1, 2
        )  # [world, n, 2] under DDP, [n, 2] in one process
        logits, label = rows[:, 0], rows[:, 1]
        loss = F.binary_cross_entropy_with_logits(logits, label, pos_weight=self.pos_weight.float())
        probs, target = torch.sigmoid(logits), label.long()
        self.log_dict(
            {
                f"{split}_loss": loss,
                f"{split}_auroc": binary_auroc(probs, target),
                f"{split}_auprc": binary_average_precision(probs, target),
            },
            sync_dist=False,
        )

    def validation_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch)

    def on_validation_epoch_end(self) -> None:
        self._log_split_metrics("val")

    def test_step(self, batch: Sequence[torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch)

    def on_test_epoch_end(self) -> None:
        self._log_split_metrics("test")

    def predict_step(
        self, batch: Sequence[torch.Tensor], batch_idx: int, dataloader_idx: int = 0
    ) -> torch.Tensor:
        """Calibrated probabilities [B]; the batch may or may not carry labels."""
        return self.probabilities(self(batch[0], batch[1]))

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """sigmoid(scale * logit + bias): the recalibrated risk (identity calibration until it is fitted)."""
        scale, bias = self.calibration.float()
        return torch.sigmoid(logits.float() * scale + bias)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            self.parameters(), lr=self.hparams["lr"], weight_decay=self.hparams["weight_decay"]
        )

    # ------------------------------------------------------------------ raw rows in, probabilities out

    @torch.no_grad()
    def predict_raw(self, rows: Rows, batch_size: int = 4096) -> np.ndarray:
        """Calibrated probabilities [N] (float32) for raw feature rows (a Polars frame or dicts), as served."""
        tabular, note = self._preprocessor.transform(rows)
        return self.probabilities(self._logits(tabular, note, batch_size)).numpy()

    @torch.no_grad()
    def predict_columns(self, columns: Mapping[str, Sequence[Any]]) -> np.ndarray:
        """``predict_raw`` for plain Python columns already in the model dtypes (what a server holds after an
        online-store read or a validated request): the same probabilities without a DataFrame."""
        tabular, note = self._preprocessor.transform_columns(columns)
        return self.probabilities(self._logits(tabular, note)).numpy()

    @torch.no_grad()
    def logits_raw(self, rows: Rows, batch_size: int = 4096) -> np.ndarray:
        """Uncalibrated logits [N] (float32) for raw feature rows."""
        tabular, note = self._preprocessor.transform(rows)
        return self._logits(tabular, note, batch_size).numpy()

    def _logits(
        self, tabular: torch.Tensor, note: torch.Tensor, batch_size: int = 4096
    ) -> torch.Tensor:
        reference = self.head.weight
        was_training = self.training
        if was_training:  # toggling every submodule costs ~1 ms: skip it when already in eval mode
            self.eval()
        try:
            out = [
                self(
                    tabular[i : i + batch_size].to(reference),
                    note[i : i + batch_size].to(reference),
                ).float()
                for i in range(0, tabular.shape[0], batch_size)
            ]
        finally:
            if was_training:
                self.train(True)
        return torch.cat(out).cpu() if out else torch.zeros(0, dtype=torch.float32)
