"""Training inputs: the task input spec and the train-only preprocessor (imputation, scaling, vocabularies,
embeddings, JSON-able state)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
import torch

from features.build import VIEWS
from features.tasks import TASKS
from features.transforms import NOTE_DIM
from training.preprocessing import MISSING_SUFFIX, NULL, OTHER, Preprocessor
from training.spec import InputSpec, input_spec
from training.synthetic import synthetic_training_set

TASK = "readmission_30d"


@pytest.fixture(scope="module")
def spec() -> InputSpec:
    return input_spec(TASK)


@pytest.fixture(scope="module")
def frame() -> pl.DataFrame:
    return synthetic_training_set(TASK, n=300, seed=3)


@pytest.fixture(scope="module")
def train(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.col("split") == "train")


@pytest.fixture(scope="module")
def fitted(train: pl.DataFrame, spec: InputSpec) -> Preprocessor:
    return Preprocessor.fit(train, spec, max_categories=3)


def column(pre: Preprocessor, tabular: torch.Tensor, name: str) -> np.ndarray:
    return tabular[:, pre.feature_names.index(name)].numpy()


# ---------------------------------------------------------------- input spec


@pytest.mark.parametrize("task", sorted(TASKS))
def test_input_spec_is_exactly_the_features_of_the_task_views(task: str) -> None:
    spec = input_spec(task)
    expected = [name for view in TASKS[task].feature_views for name in VIEWS[view].features]
    assert spec.columns == expected
    assert not {"patient_id", "event_timestamp", "label", "split"} & set(spec.columns)
    assert not [c for c in spec.columns if c.endswith("_feature_ts")]
    assert InputSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


def test_input_spec_groups_dtypes_and_finds_the_note_embedding() -> None:
    spec = input_spec("readmission_30d")
    assert spec.embedding == "note_embedding" and spec.embedding_dim == NOTE_DIM
    assert len(spec.numeric) + len(spec.boolean) + len(spec.categorical) + 1 == len(spec.columns)
    assert input_spec("t2d_onset_1y").embedding is None  # no discharge_note view


def test_unknown_task_is_named() -> None:
    with pytest.raises(ValueError, match="unknown task 'nope'"):
        input_spec("nope")


# ---------------------------------------------------------------- fitted on train only


def test_statistics_come_from_train_only(
    frame: pl.DataFrame, train: pl.DataFrame, spec: InputSpec, fitted: Preprocessor
) -> None:
    name = spec.numeric[0]
    poisoned = frame.with_columns(
        pl.when(pl.col("split") == "test")
        .then(pl.lit(1e9))
        .otherwise(pl.col(name))
        .cast(pl.Int64)
        .alias(name),
        pl.when(pl.col("split") == "test")
        .then(pl.lit("only_in_test"))
        .otherwise(pl.col(spec.categorical[0]))
        .alias(spec.categorical[0]),
    )
    observed = train.get_column(name).drop_nulls().cast(pl.Float64).to_numpy()
    state = fitted.state_dict()["numeric"]
    assert state["mean"][0] == pytest.approx(observed.mean())
    assert state["median"][0] == pytest.approx(np.median(observed))
    assert "only_in_test" not in fitted.vocabularies[spec.categorical[0]]
    # a test-only extreme value is scaled with train statistics (huge z), an unseen category is "other"
    tabular, _ = fitted.transform(poisoned.filter(pl.col("split") == "test").head(3))
    assert (column(fitted, tabular, name) > 1e6).all()
    assert (column(fitted, tabular, f"{spec.categorical[0]}={OTHER}") == 1.0).all()


def test_numeric_missing_is_median_imputed_flagged_and_standardized(
    spec: InputSpec, fitted: Preprocessor, train: pl.DataFrame
) -> None:
    name = spec.numeric[0]
    rows = train.head(2).with_columns(pl.Series(name, [None, 10**6], dtype=pl.Int64))
    tabular, _ = fitted.transform(rows)
    s = fitted.state_dict()["numeric"]
    z = column(fitted, tabular, name)
    assert z[0] == pytest.approx((s["median"][0] - s["mean"][0]) / s["std"][0], rel=1e-5)
    assert column(fitted, tabular, name + MISSING_SUFFIX).tolist() == [1.0, 0.0]


def test_constant_and_all_null_columns_do_not_divide_by_zero(
    spec: InputSpec, train: pl.DataFrame
) -> None:
    constant, empty = spec.numeric[0], spec.numeric[1]
    rows = train.with_columns(
        pl.lit(7, pl.Int64).alias(constant),
        pl.lit(None, pl.Int64).alias(empty),
        pl.lit(float("nan")).alias(spec.numeric[2]),
    )
    pre = Preprocessor.fit(rows, spec)
    s = pre.state_dict()["numeric"]
    assert s["std"][:3] == [1.0, 1.0, 1.0] and s["median"][1] == 0.0
    tabular, _ = pre.transform(rows)
    assert torch.isfinite(tabular).all()
    assert (
        column(pre, tabular, spec.numeric[2] + MISSING_SUFFIX) == 1.0
    ).all()  # NaN counts as missing


def test_bool_null_is_zero_with_a_missing_flag(
    spec: InputSpec, fitted: Preprocessor, train: pl.DataFrame
) -> None:
    name = spec.boolean[0]
    tabular, _ = fitted.transform(train.head(3).with_columns(pl.Series(name, [True, False, None])))
    assert column(fitted, tabular, name).tolist() == [1.0, 0.0, 0.0]
    assert column(fitted, tabular, name + MISSING_SUFFIX).tolist() == [0.0, 0.0, 1.0]


def test_categories_top_k_unknown_goes_to_other_and_null_to_its_own_bucket(
    spec: InputSpec, fitted: Preprocessor, train: pl.DataFrame
) -> None:
    name = spec.categorical[0]
    vocab = fitted.vocabularies[name]
    counts = train.get_column(name).drop_nulls().value_counts().sort("count", descending=True)
    assert vocab == counts.get_column(name).head(3).to_list()  # top-K by train frequency
    tabular, _ = fitted.transform(
        train.head(3).with_columns(pl.Series(name, [vocab[0], "never_seen", None]))
    )
    block = np.stack(
        [column(fitted, tabular, f"{name}={v}") for v in [*vocab, OTHER, NULL]], axis=1
    )
    assert block.tolist() == [[1, 0, 0, 0, 0], [0, 0, 0, 1, 0], [0, 0, 0, 0, 1]]


def test_embedding_to_tensor_and_null_to_zeros_with_flag(
    spec: InputSpec, fitted: Preprocessor, train: pl.DataFrame
) -> None:
    rows = train.head(2).with_columns(
        pl.Series("note_embedding", [[0.5] * NOTE_DIM, None], dtype=pl.List(pl.Float32))
    )
    tabular, note = fitted.transform(rows)
    assert note.shape == (2, NOTE_DIM) and note.dtype == torch.float32
    assert torch.all(note[0] == 0.5) and torch.all(note[1] == 0)
    assert column(fitted, tabular, "note_embedding" + MISSING_SUFFIX).tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="must have 256 values"):
        fitted.transform(
            rows.with_columns(
                pl.Series("note_embedding", [[0.5] * 3, None], dtype=pl.List(pl.Float32))
            )
        )


def test_transform_shapes_and_no_embedding_task(fitted: Preprocessor, train: pl.DataFrame) -> None:
    tabular, note = fitted.transform(train)
    assert tabular.shape == (train.height, fitted.tabular_dim) and tabular.dtype == torch.float32
    assert note.shape == (train.height, NOTE_DIM)
    t2d = Preprocessor.fit(
        synthetic_training_set("t2d_onset_1y", n=50, seed=1), input_spec("t2d_onset_1y")
    )
    tabular, note = t2d.transform(synthetic_training_set("t2d_onset_1y", n=5, seed=2))
    assert note.shape == (5, 0) and tabular.shape == (5, t2d.tabular_dim)


# ---------------------------------------------------------------- raw rows


def test_raw_dict_rows_match_frame_rows_and_extra_keys_are_ignored(
    fitted: Preprocessor, train: pl.DataFrame
) -> None:
    rows = train.head(4)
    dicts = [{**r, "unrelated": "x"} for r in rows.to_dicts()]
    for got, want in zip(fitted.transform(dicts), fitted.transform(rows)):
        assert torch.equal(got, want)
    single_tab, _ = fitted.transform(dicts[0])
    assert single_tab.shape == (1, fitted.tabular_dim)


def test_missing_columns_raise_naming_them(
    spec: InputSpec, fitted: Preprocessor, train: pl.DataFrame
) -> None:
    gone = [spec.numeric[0], spec.categorical[0]]
    with pytest.raises(ValueError, match=rf"{gone[0]}.*{gone[1]}|{gone[1]}.*{gone[0]}"):
        fitted.transform(train.drop(gone))
    row = train.head(1).to_dicts()[0]
    del row["note_embedding"]
    with pytest.raises(ValueError, match="note_embedding"):
        fitted.transform([row])
    with pytest.raises(ValueError, match=spec.numeric[0]):
        fitted.transform([{**train.head(1).to_dicts()[0], spec.numeric[0]: "not a number"}])


# ---------------------------------------------------------------- state


def test_state_is_plain_json_and_round_trips_exactly(
    fitted: Preprocessor, train: pl.DataFrame
) -> None:
    state = json.loads(json.dumps(fitted.state_dict(), allow_nan=False))
    restored = Preprocessor.from_state(state)
    for got, want in zip(restored.transform(train), fitted.transform(train)):
        assert torch.equal(got, want)
    with pytest.raises(ValueError, match="not a preprocessor state"):
        Preprocessor.from_state({**state, "format": "something else"})


def test_state_records_the_train_range_and_older_states_without_it_still_load(
    frame: pl.DataFrame, train: pl.DataFrame, spec: InputSpec, fitted: Preprocessor
) -> None:
    numeric = fitted.state_dict()["numeric"]
    ranges = fitted.training_range
    assert ranges is not None
    for j, name in enumerate(spec.numeric):
        observed = train.get_column(name).drop_nulls().cast(pl.Float64).to_numpy()
        observed = observed[np.isfinite(observed)]
        if observed.size == 0:  # never observed in train: no range
            assert numeric["min"][j] is None and name not in ranges
            continue
        assert (numeric["min"][j], numeric["max"][j]) == (observed.min(), observed.max())
        assert ranges[name] == (observed.min(), observed.max())
    # validation and test rows never widen it: an extreme test-only value is outside
    name = spec.numeric[0]
    poisoned = frame.with_columns(
        pl.when(pl.col("split") == "test").then(pl.lit(10**6)).otherwise(pl.col(name)).alias(name)
    )
    assert Preprocessor.fit(poisoned.filter(pl.col("split") == "train"), spec).training_range == (
        Preprocessor.fit(train, spec).training_range
    )
    assert ranges[name][1] < 10**6
    # a never-observed feature has no range; the transform does not use the range at all
    pre = Preprocessor.fit(train.with_columns(pl.lit(None, pl.Int64).alias(name)), spec)
    assert pre.state_dict()["numeric"]["min"][0] is None and name not in (pre.training_range or {})
    # an older state (no min/max) loads, transforms alike and has no range: no range policy applies
    older = fitted.state_dict()
    del older["numeric"]["min"], older["numeric"]["max"]
    restored = Preprocessor.from_state(older)
    assert restored.training_range is None
    for got, want in zip(restored.transform(train), fitted.transform(train)):
        assert torch.equal(got, want)
    broken = fitted.state_dict()
    broken["numeric"]["max"] = broken["numeric"]["max"][:-1]
    with pytest.raises(ValueError, match="min/max"):
        Preprocessor.from_state(broken)


def test_training_package_never_imports_orchestration_or_tracking() -> None:
    code = (
        "import sys, training.spec, training.preprocessing, training.data, training.model, training.fit, "
        "training.synthetic; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'dagster', 'feast', 'mlflow', 'ray'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


def test_transform_columns_gives_the_same_tensors_as_transform(
    spec: InputSpec, fitted: Preprocessor, frame: pl.DataFrame
) -> None:
    """The serving path (plain Python columns, no DataFrame) and the training path agree bit for bit, nulls,
    non-finite numbers, unseen categories and missing embeddings included."""
    rows = frame.head(40).to_dicts()
    numeric = next(c for c in spec.numeric if frame.schema[c] == pl.Float64)
    boolean, category = spec.boolean[0], spec.categorical[0]
    rows[8][spec.numeric[0]] = None  # an integer feature too
    rows[0][numeric], rows[1][numeric], rows[2][numeric] = None, float("nan"), float("inf")
    rows[3][boolean], rows[4][category], rows[5][category] = None, "never-seen", None
    rows[6][spec.embedding] = None
    rows[7][spec.embedding] = [float("nan")] + [0.5] * (NOTE_DIM - 1)
    columns = {c: [r[c] for r in rows] for c in spec.columns}
    expected_tab, expected_note = fitted.transform(pl.DataFrame(rows, schema=frame.schema))
    tab, note = fitted.transform_columns(columns)
    assert torch.equal(tab, expected_tab) and torch.equal(note, expected_note)


def test_transform_columns_names_what_is_wrong(
    spec: InputSpec, fitted: Preprocessor, frame: pl.DataFrame
) -> None:
    columns = {c: frame.head(2)[c].to_list() for c in spec.columns}
    with pytest.raises(ValueError, match=spec.numeric[1]):
        fitted.transform_columns({**columns, spec.numeric[1]: ["x", 1.0]})
    with pytest.raises(ValueError, match="missing from the columns"):
        fitted.transform_columns({k: v for k, v in columns.items() if k != spec.boolean[0]})
    with pytest.raises(ValueError, match=f"{NOTE_DIM} values per row"):
        fitted.transform_columns({**columns, spec.embedding: [[0.1] * 3, None]})
