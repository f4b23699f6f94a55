"""Raw feature rows -> model tensors, fitted on the train split only.

Why a hand-written preprocessor rather than scikit-learn: the fitted state must live inside a saved model
as plain JSON types (loadable with ``torch.load(weights_only=True)``, no pickled objects), and the same code
must turn a serving request (a dict per patient) into exactly the tensors training saw.

Layout of the tabular tensor (``feature_names`` lists it):
  numeric z-scores | numeric missing flags | bool 0/1 | bool missing flags | one-hot per string feature
  (train vocabulary, then ``__other__`` for unseen values, then ``__null__``) | embedding missing flag.
Numeric values are median-imputed then standardized with the train mean/std (std 0 -> 1); NaN and
infinities count as missing. The note embedding goes to its own tensor (zeros when null).

The state also records each numeric feature's training range (``min``/``max`` of the observed train values,
null for a feature never observed). The transform does not use it: the prediction service does, to clip or
refuse served values the model never saw (``serving.policy``). A state saved before the range was recorded
still loads; its ``training_range`` is None.

Every statistic comes from the rows ``fit`` is given; callers pass the train split only, so validation and
test rows can never leak into the scaling or the vocabulary.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl
import torch

from training.spec import InputSpec

STATE_FORMAT = "clinical-mlops/preprocessor"
STATE_VERSION = 1
OTHER = "__other__"
NULL = "__null__"
MISSING_SUFFIX = "__missing"

_POLARS: dict[str, pl.DataType] = {
    "int64": pl.Float64(),
    "float64": pl.Float64(),
    "bool": pl.Boolean(),
    "string": pl.String(),
    "float32_list": pl.List(pl.Float32),
}

Rows = pl.DataFrame | Iterable[Mapping[str, Any]] | Mapping[str, Any]


def to_input_frame(rows: Rows, spec: InputSpec) -> pl.DataFrame:
    """The input columns of ``rows`` (a frame, a list of dicts or one dict) cast to their model dtypes.

    Extra columns/keys are ignored. A missing input column raises ``ValueError`` naming it: a misspelled
    feature must not silently become "missing" for every patient. With dict rows every row must carry every
    input key (use ``None`` for an unknown value).
    """
    if isinstance(rows, Mapping):
        rows = [rows]
    if not isinstance(rows, pl.DataFrame):
        rows = list(rows)
        absent = sorted({c for r in rows for c in spec.columns if c not in r})
        if absent:
            raise ValueError(
                f"{len(absent)} input feature(s) of task {spec.task!r} missing from the rows: {absent}"
            )
        return pl.DataFrame(
            [_column(name, [r[name] for r in rows], dtype) for name, dtype in spec.features]
        )
    present = set(rows.columns)
    absent = [c for c in spec.columns if c not in present]
    if absent:
        raise ValueError(
            f"{len(absent)} input feature(s) of task {spec.task!r} missing from the frame: {absent}"
        )
    try:  # one cast per dtype, not per column: a one-row (served) frame costs ~0.2 ms instead of ~4
        return rows.select(_casts(spec))
    except Exception:  # noqa: BLE001 - find the column that cannot be cast, and name it
        pass
    out = []
    for name, dtype in spec.features:
        try:
            out.append(rows.get_column(name).cast(_POLARS[dtype]))
        except Exception as exc:
            raise ValueError(
                f"feature {name!r} (dtype {rows.schema[name]}) cannot be read as {dtype}: {exc}"
            ) from exc
    return pl.DataFrame(out)


@functools.lru_cache(maxsize=16)
def _casts(spec: InputSpec) -> tuple[pl.Expr, ...]:
    """The input columns in spec order, each cast to its model dtype (built once per spec)."""
    return tuple(pl.col(name).cast(_POLARS[dtype]) for name, dtype in spec.features)


def _column(name: str, values: list[Any], dtype: str) -> pl.Series:
    """One input column from Python values; a value that cannot be read as ``dtype`` names its feature."""
    target = _POLARS[dtype]
    try:
        return pl.Series(name, values, dtype=target)
    except Exception:  # noqa: BLE001 - e.g. 0/1 for a bool: infer, then cast strictly (a bad value still fails)
        try:
            return pl.Series(name, values, strict=False).cast(target)
        except Exception as exc:  # polars raises several error types for a bad value
            raise ValueError(f"feature {name!r} cannot be read as {dtype}: {exc}") from exc


def _float_matrix(frame: pl.DataFrame, columns: list[str]) -> np.ndarray:
    """[N, len(columns)] float64 with NaN wherever the value is null or not finite."""
    if not columns:
        return np.zeros((frame.height, 0), dtype=np.float64)
    values = frame.select(pl.col(columns).cast(pl.Float64)).to_numpy().astype(np.float64, copy=True)
    values[~np.isfinite(values)] = np.nan  # nulls are NaN already; infinities count as missing too
    return values


def _matrix_from_lists(
    columns: Mapping[str, Sequence[Any]], names: list[str], n: int
) -> np.ndarray:
    """[n, len(names)] float64 from Python values (bools as 0/1), NaN for None and non-finite values."""
    if not names:
        return np.zeros((n, 0), dtype=np.float64)
    try:
        values = np.array(
            [[np.nan if v is None else v for v in columns[name]] for name in names],
            dtype=np.float64,
        ).T.reshape(n, len(names))
    except (TypeError, ValueError):
        for name in names:  # name the feature that is not a number
            try:
                np.array([np.nan if v is None else v for v in columns[name]], dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"feature {name!r} has a value that is not a number: {exc}"
                ) from exc
        raise
    values[~np.isfinite(values)] = np.nan
    return values


def _embedding_from_lists(
    values: Sequence[Any], dim: int, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """``_embedding_matrix`` for a Python list of vectors (or None)."""
    present = np.fromiter((v is not None for v in values), dtype=bool, count=len(values))
    out = np.zeros((len(values), dim), dtype=np.float32)
    for i, vector in enumerate(values):
        if vector is not None and len(vector) != dim:
            raise ValueError(f"{name!r} must have {dim} values per row; row {i} has {len(vector)}")
    if present.any():
        vectors = np.array([v for v in values if v is not None], dtype=np.float32)
        out[present] = np.nan_to_num(vectors, nan=0.0, posinf=0.0, neginf=0.0)
    return out, (~present).astype(np.float32)


def _embedding_matrix(series: pl.Series, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """([N, dim] float32 with zeros for null rows, [N] missing flag). Wrong lengths raise."""
    present = series.is_not_null().to_numpy()
    lengths = series.list.len().fill_null(dim).to_numpy()
    bad = np.flatnonzero(lengths != dim)
    if bad.size:
        raise ValueError(
            f"{series.name!r} must have {dim} values per row; row {int(bad[0])} has "
            f"{int(lengths[bad[0]])} ({bad.size} bad rows)"
        )
    out = np.zeros((series.len(), dim), dtype=np.float32)
    if present.any():
        values = (
            series.drop_nulls().explode().cast(pl.Float32).to_numpy().astype(np.float32, copy=False)
        )
        out[present] = np.nan_to_num(values.reshape(-1, dim), nan=0.0, posinf=0.0, neginf=0.0)
    return out, (~present).astype(np.float32)


def _training_range(
    names: Sequence[str], low: Sequence[Any] | None, high: Sequence[Any] | None
) -> dict[str, tuple[float, float]] | None:
    """The recorded ``min``/``max`` lists as feature -> (min, max); None when the state has no range."""
    if low is None and high is None:
        return None
    if low is None or high is None or len(low) != len(names) or len(high) != len(names):
        raise ValueError("preprocessor state's numeric min/max do not match its input spec")
    out: dict[str, tuple[float, float]] = {}
    for name, lo, hi in zip(names, low, high):
        if lo is None or hi is None:
            continue
        if not (np.isfinite(lo) and np.isfinite(hi) and lo <= hi):
            raise ValueError(
                f"preprocessor state has an invalid training range for {name!r}: {lo}..{hi}"
            )
        out[name] = (float(lo), float(hi))
    return out


class Preprocessor:
    """Fitted feature transform. Build with ``Preprocessor.fit(train_rows, spec)`` or ``from_state(state)``."""

    def __init__(self, state: Mapping[str, Any]):
        if state.get("format") != STATE_FORMAT or state.get("version") != STATE_VERSION:
            raise ValueError(
                f"not a preprocessor state of format {STATE_FORMAT} v{STATE_VERSION}: "
                f"{state.get('format')!r} v{state.get('version')!r}"
            )
        self._state = copy.deepcopy(dict(state))
        self.spec = InputSpec.from_dict(state["spec"])
        numeric = state["numeric"]
        self._median = np.asarray(numeric["median"], dtype=np.float64)
        self._mean = np.asarray(numeric["mean"], dtype=np.float64)
        self._std = np.asarray(numeric["std"], dtype=np.float64)
        self._range = _training_range(self.spec.numeric, numeric.get("min"), numeric.get("max"))
        self.vocabularies: dict[str, list[str]] = {
            k: list(v) for k, v in state["vocabularies"].items()
        }
        if len(self._median) != len(self.spec.numeric) or set(self.vocabularies) != set(
            self.spec.categorical
        ):
            raise ValueError("preprocessor state does not match its input spec")

    # ------------------------------------------------------------------ fitting and state

    @classmethod
    def fit(cls, train: Rows, spec: InputSpec, *, max_categories: int = 20) -> Preprocessor:
        """Fit on the TRAIN rows only: medians, means, stds, ranges and the top-``max_categories``
        vocabularies."""
        frame = to_input_frame(train, spec)
        if frame.height == 0:
            raise ValueError("cannot fit a preprocessor on zero rows")
        values = _float_matrix(frame, spec.numeric)
        median, mean, std = [], [], []
        low: list[float | None] = []
        high: list[float | None] = []
        for j in range(values.shape[1]):
            observed = values[:, j][~np.isnan(values[:, j])]
            if observed.size == 0:  # never seen in train: impute 0, leave unscaled, no range
                m, mu, s = 0.0, 0.0, 1.0
                low.append(None)
                high.append(None)
            else:
                m, mu, s = float(np.median(observed)), float(observed.mean()), float(observed.std())
                low.append(float(observed.min()))
                high.append(float(observed.max()))
            median.append(m)
            mean.append(mu)
            std.append(s if np.isfinite(s) and s > 0 else 1.0)
        vocabularies = {}
        for name in spec.categorical:
            counts = (
                frame.get_column(name)
                .drop_nulls()
                .alias("value")
                .value_counts()
                .sort(["count", "value"], descending=[True, False])
            )
            vocabularies[name] = counts.get_column("value").head(max_categories).to_list()
        return cls(
            {
                "format": STATE_FORMAT,
                "version": STATE_VERSION,
                "spec": spec.to_dict(),
                "fitted_rows": frame.height,
                "max_categories": max_categories,
                "numeric": {"median": median, "mean": mean, "std": std, "min": low, "max": high},
                "vocabularies": vocabularies,
            }
        )

    def state_dict(self) -> dict[str, Any]:
        """Plain JSON types only (str, int, float, list, dict): safe for ``torch.load(weights_only=True)``."""
        return copy.deepcopy(self._state)

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Preprocessor:
        return cls(state)

    @property
    def training_range(self) -> dict[str, tuple[float, float]] | None:
        """Numeric feature -> (min, max) of its observed TRAIN values; features never observed in train are
        absent. None for a state saved before ranges were recorded (then no range policy can apply)."""
        return None if self._range is None else dict(self._range)

    # ------------------------------------------------------------------ output layout

    @property
    def note_dim(self) -> int:
        return self.spec.embedding_dim if self.spec.embedding else 0

    @property
    def feature_names(self) -> list[str]:
        """One name per column of the tabular tensor."""
        s = self.spec
        names = list(s.numeric) + [n + MISSING_SUFFIX for n in s.numeric]
        names += list(s.boolean) + [n + MISSING_SUFFIX for n in s.boolean]
        for name in s.categorical:
            names += [f"{name}={v}" for v in self.vocabularies[name]] + [
                f"{name}={OTHER}",
                f"{name}={NULL}",
            ]
        if s.embedding:
            names.append(s.embedding + MISSING_SUFFIX)
        return names

    @property
    def tabular_dim(self) -> int:
        return len(self.feature_names)

    # ------------------------------------------------------------------ transform

    def transform(self, rows: Rows) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw rows -> (tabular float32 [N, tabular_dim], note float32 [N, note_dim])."""
        frame = to_input_frame(rows, self.spec)
        s = self.spec
        embedding = (
            _embedding_matrix(frame.get_column(s.embedding), s.embedding_dim)
            if s.embedding
            else None
        )
        return self._assemble(
            frame.height,
            _float_matrix(frame, s.numeric),
            _float_matrix(frame, s.boolean),
            {name: frame.get_column(name).to_list() for name in s.categorical},
            embedding,
        )

    def transform_columns(
        self, columns: Mapping[str, Sequence[Any]]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``transform`` for plain Python columns (feature name -> one value per row, ``None`` for missing) whose
        values already have the model dtypes, as the online store and validated requests give them.

        The same tensors as ``transform`` without building a DataFrame: for the few rows of a served request
        it is several times cheaper. Extra columns are ignored; a missing one raises ``ValueError``."""
        s = self.spec
        absent = [c for c in s.columns if c not in columns]
        if absent:
            raise ValueError(
                f"{len(absent)} input feature(s) of task {s.task!r} missing from the columns: {absent}"
            )
        n = len(columns[s.columns[0]]) if s.columns else 0
        uneven = sorted(c for c in s.columns if len(columns[c]) != n)
        if uneven:
            raise ValueError(f"columns {uneven} do not have {n} values like {s.columns[0]!r}")
        embedding = (
            _embedding_from_lists(columns[s.embedding], s.embedding_dim, s.embedding)
            if s.embedding
            else None
        )
        categorical = {
            name: [None if v is None else str(v) for v in columns[name]] for name in s.categorical
        }
        return self._assemble(
            n,
            _matrix_from_lists(columns, s.numeric, n),
            _matrix_from_lists(columns, s.boolean, n),
            categorical,
            embedding,
        )

    def _assemble(
        self,
        n: int,
        values: np.ndarray,
        flags: np.ndarray,
        categorical: Mapping[str, list],
        embedding: tuple[np.ndarray, np.ndarray] | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The tensors from the raw blocks: numbers (NaN = missing), booleans (NaN = missing), category values,
        and (note embedding, its missing flag)."""
        missing = np.isnan(values)
        imputed = np.where(missing, self._median, values)
        blocks = [
            (imputed - self._mean) / self._std,
            missing,
            np.nan_to_num(flags, nan=0.0),
            np.isnan(flags),
        ]
        for name in self.spec.categorical:
            vocab = self.vocabularies[name]
            slots = {value: i for i, value in enumerate(vocab)}
            slots[None] = (
                len(vocab) + 1
            )  # unseen values -> len(vocab) (__other__), null -> __null__
            index = np.fromiter(
                (slots.get(v, len(vocab)) for v in categorical[name]), dtype=np.int64, count=n
            )
            onehot = np.zeros((n, len(vocab) + 2))
            onehot[np.arange(n), index] = 1.0
            blocks.append(onehot)
        note = np.zeros((n, 0), dtype=np.float32)
        if embedding is not None:
            note, note_missing = embedding
            blocks.append(note_missing[:, None])
        tabular = np.concatenate([b.astype(np.float32) for b in blocks], axis=1)
        return torch.from_numpy(np.ascontiguousarray(tabular, dtype=np.float32)), torch.from_numpy(
            note
        )
