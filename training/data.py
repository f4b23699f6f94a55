"""The gold training set as a LightningDataModule.

The training set is a Polars frame or a pinned Delta table (uri + version: downstream reads never take
"latest"). ``setup()`` reads it, checks the contract (splits, labels, leakage, temporal order), fits the
preprocessor on the TRAIN split only and builds one TensorDataset per split. Everything heavy happens in
``setup()`` and the module keeps no global state, so the same object works under plain Lightning and in
each worker of a Ray TorchTrainer (DDP): every rank reads the same pinned version and fits the same
preprocessor deterministically (rows are sorted by key first, whatever order the files came in).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import polars as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from training.preprocessing import Preprocessor
from training.spec import InputSpec, input_spec

SPLITS = ("train", "validation", "test")
KEYS = ("patient_id", "event_timestamp")
REQUIRED = ("patient_id", "event_timestamp", "encounter_id", "label", "split")


class TrainingSetError(ValueError):
    """The training set breaks the contract; the message names what and where."""


def read_training_set(
    source: Any, version: int | None = None, columns: list[str] | None = None
) -> pl.DataFrame:
    """A frame as is, or a Delta table at a pinned version: a uri/path plus ``version``, or any object with
    ``.uri`` and ``.version`` (e.g. ``lakehouse.delta.DeltaRef``). Only ``columns`` are read when given."""
    if isinstance(source, pl.DataFrame):
        return source
    if hasattr(source, "uri") and hasattr(source, "version"):
        source, version = source.uri, source.version
    if not isinstance(source, (str, Path)):
        raise TypeError(
            f"training set must be a polars DataFrame, a Delta uri or a DeltaRef, not {type(source)}"
        )
    if version is None:
        raise TrainingSetError(
            f"Delta training set {source}: pass the pinned version to read (never 'latest')"
        )
    from deltalake import DeltaTable

    table = DeltaTable(str(source), version=version)
    if columns is not None:
        available = {f.name for f in table.schema().fields}
        columns = [
            c for c in columns if c in available
        ]  # absent ones are reported by validate_training_set
    return pl.from_arrow(table.to_pyarrow_table(columns=columns))


def validate_training_set(frame: pl.DataFrame, spec: InputSpec) -> None:
    """Raise ``TrainingSetError`` when the training set cannot be trained on without leakage or bias."""
    missing = [c for c in (*REQUIRED, *spec.columns) if c not in frame.columns]
    if missing:
        raise TrainingSetError(f"training set for task {spec.task!r} is missing columns: {missing}")
    if not frame.schema["event_timestamp"].is_temporal():
        raise TrainingSetError(
            f"event_timestamp must be a timestamp, got {frame.schema['event_timestamp']}"
        )
    for column in KEYS:
        if frame.get_column(column).null_count():
            raise TrainingSetError(
                f"{frame.get_column(column).null_count()} rows have a null {column}"
            )
    bad_split = frame.filter(~pl.col("split").is_in(SPLITS) | pl.col("split").is_null())
    if bad_split.height:
        values = bad_split.get_column("split").unique().sort(nulls_last=True).to_list()
        raise TrainingSetError(
            f"{bad_split.height} rows have an unknown split {values}; expected one of {SPLITS}"
        )
    bad_label = frame.filter(
        ~pl.col("label").cast(pl.Float64, strict=False).is_in([0.0, 1.0]).fill_null(False)
    )
    if bad_label.height:
        raise TrainingSetError(
            f"{bad_label.height} rows have a label that is not 0/1 (e.g. "
            f"{bad_label.get_column('label').head(3).to_list()})"
        )
    counts = dict(frame.group_by("split").agg(pl.len()).iter_rows())
    for split in ("train", "validation"):
        if not counts.get(split):
            raise TrainingSetError(f"the {split} split is empty")
        labels = frame.filter(pl.col("split") == split).get_column("label").unique().to_list()
        if len(labels) < 2:
            raise TrainingSetError(
                f"the {split} split has only label {labels}: AUROC and pos_weight need both classes"
            )
    shared = (
        frame.group_by(list(KEYS))
        .agg(pl.col("split").unique().sort().alias("splits"))
        .filter(pl.col("splits").list.len() > 1)
    )
    if shared.height:
        example = shared.row(0, named=True)
        raise TrainingSetError(
            f"{shared.height} patient-events appear in more than one split (leakage), e.g. "
            f"patient {example['patient_id']} at {example['event_timestamp']} in {example['splits']}"
        )
    bounds = frame.group_by("split").agg(
        pl.col("event_timestamp").min().alias("lo"), pl.col("event_timestamp").max().alias("hi")
    )
    ranges = {split: (lo, hi) for split, lo, hi in bounds.iter_rows()}
    present = [s for s in SPLITS if s in ranges]
    for earlier, later in zip(present, present[1:]):
        if ranges[earlier][1] > ranges[later][0]:
            raise TrainingSetError(
                f"split is not temporal: the latest {earlier} event ({ranges[earlier][1]}) is "
                f"after the earliest {later} event ({ranges[later][0]})"
            )


class BatchedTensorDataset(TensorDataset):
    """A TensorDataset the DataLoader reads a batch at a time: one fancy index per tensor (``__getitems__``)
    instead of one item per row and a collate that stacks them (about 3x faster per epoch; same batches)."""

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, ...]:
        return tuple(tensor[indices] for tensor in self.tensors)


def as_batch(batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """The DataLoader's collate for ``BatchedTensorDataset``: its batches come stacked already."""
    return batch


class TrainingSetDataModule(L.LightningDataModule):
    """Train/validation/test loaders over one pinned training set of one task."""

    def __init__(
        self,
        training_set: Any,
        task: str,
        *,
        version: int | None = None,
        batch_size: int = 256,
        seed: int = 0,
        num_workers: int = 0,
        max_categories: int = 20,
    ):
        super().__init__()
        self.training_set, self.version = training_set, version
        self.task, self.spec = task, input_spec(task)
        self.batch_size, self.seed, self.num_workers = batch_size, seed, num_workers
        self.max_categories = max_categories
        self.preprocessor: Preprocessor | None = None
        self.datasets: dict[str, BatchedTensorDataset] = {}
        self.summary: dict[str, dict[str, Any]] = {}

    def setup(self, stage: str | None = None) -> None:
        if (
            self.preprocessor is not None
        ):  # idempotent: Trainer.fit calls it again after fit_local did
            return
        columns = [*REQUIRED, *self.spec.columns]
        frame = read_training_set(self.training_set, self.version, columns)
        validate_training_set(frame, self.spec)
        frame = frame.select(columns).sort("event_timestamp", "patient_id", "encounter_id")
        train = frame.filter(pl.col("split") == "train")
        self.preprocessor = Preprocessor.fit(train, self.spec, max_categories=self.max_categories)
        for split in SPLITS:
            rows = frame.filter(pl.col("split") == split)
            tabular, note = self.preprocessor.transform(rows)
            label = torch.from_numpy(rows.get_column("label").cast(pl.Float32).to_numpy().copy())
            self.datasets[split] = BatchedTensorDataset(tabular, note, label)
            self.summary[split] = {
                "rows": rows.height,
                "positives": int(rows.get_column("label").sum() or 0),
                "first_event": str(rows.get_column("event_timestamp").min()),
                "last_event": str(rows.get_column("event_timestamp").max()),
            }

    def _require_setup(self) -> None:
        if self.preprocessor is None:
            raise RuntimeError("call setup() first (Trainer.fit does)")

    @property
    def pos_weight(self) -> float:
        """negatives / positives in the train split: BCEWithLogits' weight for the rarer positive class."""
        self._require_setup()
        train = self.summary["train"]
        return (train["rows"] - train["positives"]) / train["positives"]

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        self._require_setup()
        dataset = self.datasets[split]
        if len(dataset) == 0:
            raise TrainingSetError(f"the {split} split is empty")
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            collate_fn=as_batch,
            generator=torch.Generator().manual_seed(self.seed) if shuffle else None,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
