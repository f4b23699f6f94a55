"""The training-set data module: contract checks (splits, labels, leakage, temporal order), train-only
preprocessing, pinned Delta reads, loaders."""

from __future__ import annotations

import pickle
from datetime import timedelta

import polars as pl
import pytest
import torch
from deltalake import write_deltalake
from torch.utils.data import DataLoader, TensorDataset

from training.data import (
    BatchedTensorDataset,
    TrainingSetDataModule,
    TrainingSetError,
    as_batch,
    read_training_set,
)
from training.synthetic import synthetic_training_set

TASK = "readmission_30d"


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return synthetic_training_set(TASK, n=400, seed=5)


def setup_dm(training_set, **kwargs) -> TrainingSetDataModule:
    dm = TrainingSetDataModule(training_set, TASK, batch_size=32, **kwargs)
    dm.setup("fit")
    return dm


def test_setup_builds_one_dataset_per_split_and_pos_weight(frame: pl.DataFrame) -> None:
    dm = setup_dm(frame)
    sizes = dict(frame.group_by("split").agg(pl.len()).iter_rows())
    for split in ("train", "validation", "test"):
        tabular, note, label = dm.datasets[split].tensors
        assert len(label) == sizes[split] == dm.summary[split]["rows"]
        assert tabular.shape == (sizes[split], dm.preprocessor.tabular_dim) and note.shape[1] == 256
        assert set(label.unique().tolist()) <= {0.0, 1.0}
    train = frame.filter(pl.col("split") == "train").get_column("label")
    assert dm.pos_weight == pytest.approx((train == 0).sum() / (train == 1).sum())
    batch = next(iter(dm.train_dataloader()))
    assert [t.shape[0] for t in batch] == [32, 32, 32]
    assert len(dm.val_dataloader().dataset) == sizes["validation"]


def test_preprocessor_is_fitted_on_train_only(frame: pl.DataFrame) -> None:
    """Changing every validation/test feature value leaves the fitted state untouched."""
    spec = setup_dm(frame).spec
    held_out = pl.col("split") != "train"
    poisoned = frame.with_columns(
        *[
            pl.when(held_out).then(pl.lit(1e6)).otherwise(pl.col(c)).cast(pl.Float64).alias(c)
            for c in spec.numeric
        ],
        *[
            pl.when(held_out).then(pl.lit("only_outside_train")).otherwise(pl.col(c)).alias(c)
            for c in spec.categorical
        ],
    )
    assert setup_dm(poisoned).preprocessor.state_dict() == setup_dm(frame).preprocessor.state_dict()


def test_row_order_does_not_change_the_datasets(frame: pl.DataFrame) -> None:
    a, b = setup_dm(frame), setup_dm(frame.sample(fraction=1.0, shuffle=True, seed=1))
    for split in ("train", "validation"):
        for x, y in zip(a.datasets[split].tensors, b.datasets[split].tensors):
            assert torch.equal(x, y)


def test_reads_a_pinned_delta_version(frame: pl.DataFrame, tmp_path) -> None:
    uri = str(tmp_path / "training_set")
    write_deltalake(uri, frame.to_arrow())
    changed = frame.with_columns(
        pl.when(pl.col("split") == "train")
        .then(1 - pl.col("label"))
        .otherwise(pl.col("label"))
        .cast(pl.Int8)
        .alias("label")
    )
    write_deltalake(uri, changed.to_arrow(), mode="overwrite")
    v0, v1 = setup_dm(uri, version=0), setup_dm(uri, version=1)
    assert v0.pos_weight == pytest.approx(setup_dm(frame).pos_weight)
    assert v1.pos_weight == pytest.approx(1 / v0.pos_weight)

    class Ref:  # anything shaped like lakehouse.delta.DeltaRef
        def __init__(self, uri: str, version: int):
            self.uri, self.version = uri, version

    assert setup_dm(Ref(uri, 0)).pos_weight == v0.pos_weight
    assert read_training_set(uri, 0, columns=["patient_id", "label"]).columns == [
        "patient_id",
        "label",
    ]
    with pytest.raises(TrainingSetError, match="pinned version"):
        setup_dm(uri)


def test_datamodule_pickles_before_and_after_setup(frame: pl.DataFrame) -> None:
    dm = TrainingSetDataModule(frame, TASK)
    assert pickle.loads(pickle.dumps(dm)).task == TASK
    dm.setup("fit")
    assert pickle.loads(pickle.dumps(dm)).pos_weight == dm.pos_weight


# ---------------------------------------------------------------- contract violations


def with_split(frame: pl.DataFrame, index: int, split: str) -> pl.DataFrame:
    return frame.with_columns(
        pl.when(pl.int_range(pl.len()) == index)
        .then(pl.lit(split))
        .otherwise(pl.col("split"))
        .alias("split")
    )


def test_missing_split_or_label_column(frame: pl.DataFrame) -> None:
    for column in ("split", "label"):
        with pytest.raises(TrainingSetError, match=f"missing columns: \\['{column}'\\]"):
            setup_dm(frame.drop(column))
    with pytest.raises(TrainingSetError, match="age_years"):
        setup_dm(frame.drop("age_years"))


def test_unknown_split_value(frame: pl.DataFrame) -> None:
    with pytest.raises(TrainingSetError, match="unknown split.*holdout"):
        setup_dm(with_split(frame, 5, "holdout"))


def test_label_must_be_binary(frame: pl.DataFrame) -> None:
    with pytest.raises(TrainingSetError, match="not 0/1"):
        setup_dm(
            frame.with_columns(
                pl.when(pl.int_range(pl.len()) == 0)
                .then(2)
                .otherwise(pl.col("label"))
                .cast(pl.Int8)
                .alias("label")
            )
        )


@pytest.mark.parametrize("split", ["train", "validation"])
def test_empty_train_or_validation_split(frame: pl.DataFrame, split: str) -> None:
    with pytest.raises(TrainingSetError, match=f"the {split} split is empty"):
        setup_dm(frame.filter(pl.col("split") != split))


def test_single_class_validation(frame: pl.DataFrame) -> None:
    with pytest.raises(TrainingSetError, match="validation split has only label"):
        setup_dm(
            frame.with_columns(
                pl.when(pl.col("split") == "validation")
                .then(0)
                .otherwise(pl.col("label"))
                .cast(pl.Int8)
                .alias("label")
            )
        )


def test_patient_event_in_two_splits_is_leakage(frame: pl.DataFrame) -> None:
    first_val = frame.filter(pl.col("split") == "validation").row(0, named=True)
    duplicate = pl.DataFrame(
        [{**first_val, "split": "test", "encounter_id": "copy"}], schema=frame.schema
    )
    with pytest.raises(TrainingSetError, match=f"leakage.*{first_val['patient_id']}"):
        setup_dm(pl.concat([frame, duplicate]))


def test_split_must_be_temporal(frame: pl.DataFrame) -> None:
    late_train = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.col("event_timestamp").max() + timedelta(days=1))
        .otherwise(pl.col("event_timestamp"))
        .alias("event_timestamp")
    )
    with pytest.raises(TrainingSetError, match="not temporal.*train.*validation"):
        setup_dm(late_train)
    last_val = (
        frame.filter(pl.col("split") == "validation").height
        + frame.filter(pl.col("split") == "train").height
    )
    early_test = with_split(frame, last_val - 1, "test").pipe(
        with_split, last_val + 1, "validation"
    )
    with pytest.raises(TrainingSetError, match="not temporal.*validation.*test"):
        setup_dm(early_test)


def test_loaders_need_setup(frame: pl.DataFrame) -> None:
    dm = TrainingSetDataModule(frame, TASK)
    with pytest.raises(RuntimeError, match="setup"):
        dm.train_dataloader()


def test_batched_reads_give_the_rows_a_per_row_loader_gives() -> None:
    tensors = (torch.randn(203, 5), torch.randn(203, 3), torch.rand(203))
    per_row = DataLoader(
        TensorDataset(*tensors),
        batch_size=16,
        shuffle=True,
        generator=torch.Generator().manual_seed(7),
    )
    batched = DataLoader(
        BatchedTensorDataset(*tensors),
        batch_size=16,
        shuffle=True,
        collate_fn=as_batch,
        generator=torch.Generator().manual_seed(7),
    )
    pairs = list(zip(per_row, batched, strict=True))
    assert len(pairs) == 13 and all(
        torch.equal(a, b) for one, other in pairs for a, b in zip(one, other)
    )
