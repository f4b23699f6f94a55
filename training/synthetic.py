"""A seeded synthetic training set that honours the gold training-set contract, with a learnable signal.

Used by the unit tests and, later, by training benchmarks (any size, no pipeline run needed). Columns:
``patient_id, event_timestamp, encounter_id, label, split``, every input feature of the task (from the
input spec, so it follows the feature views), and ``<view>_feature_ts`` metadata columns. Events are
spread over time and split temporally (train, then validation, then test). The label depends on the first
two numeric features, the first bool, the first string feature and the note embedding, so a model that
uses both towers beats one that uses either alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

from features.tasks import TASKS
from training.spec import input_spec

UTC_US = pl.Datetime("us", "UTC")
CATEGORIES = ("alpha", "beta", "gamma", "delta", "epsilon")


def synthetic_training_set(
    task: str = "readmission_30d",
    n: int = 1000,
    *,
    seed: int = 0,
    null_rate: float = 0.1,
    signal: float = 2.0,
    fractions: tuple[float, float] = (0.7, 0.15),
    start: datetime = datetime(2022, 1, 1, tzinfo=UTC),
) -> pl.DataFrame:
    """``n`` index events of ``task``. ``signal`` scales the true log-odds (0: labels are noise);
    ``fractions`` are the train and validation shares (test gets the rest)."""
    spec = input_spec(task)
    rng = np.random.default_rng(seed)
    columns: dict[str, pl.Series] = {}
    logit = np.zeros(n)
    numeric = spec.numeric
    for name, dtype in spec.features:
        if dtype == "int64":
            values = rng.poisson(3.0, n).astype(np.int64)
            z = (values - 3.0) / np.sqrt(3.0)
            series = pl.Series(name, values, dtype=pl.Int64)
        elif dtype == "float64":
            values = rng.normal(10.0, 2.0, n)
            z = (values - 10.0) / 2.0
            series = pl.Series(name, values, dtype=pl.Float64)
        elif dtype == "bool":
            values = rng.random(n) < 0.3
            z = values.astype(float)
            series = pl.Series(name, values, dtype=pl.Boolean)
        elif dtype == "string":
            values = rng.choice(CATEGORIES, n, p=[0.4, 0.3, 0.15, 0.1, 0.05])
            z = (values == CATEGORIES[0]).astype(float)
            series = pl.Series(name, values, dtype=pl.String)
        else:  # the note embedding: a unit vector whose projection on a fixed direction carries signal
            dim = spec.embedding_dim
            direction = np.zeros(dim)
            direction[:8] = 1 / np.sqrt(8)
            raw = rng.normal(0, 1, (n, dim))
            vectors = raw / np.linalg.norm(raw, axis=1, keepdims=True)
            z = raw @ direction  # ~N(0, 1)
            series = pl.Series(
                name, [v.astype(np.float32).tolist() for v in vectors], dtype=pl.List(pl.Float32)
            )
        weight = (
            {numeric[0]: 1.2, numeric[1]: -0.8}.get(name, 0.0)
            if dtype in ("int64", "float64")
            else 0.0
        )
        if dtype == "bool" and name == spec.boolean[0]:
            weight = 1.0
        if dtype == "string" and name == spec.categorical[0]:
            weight = 1.0
        if dtype == "float32_list":
            weight = 1.2
        nulls = rng.random(n) < null_rate
        logit += signal * weight * np.where(nulls, 0.0, z)
        columns[name] = (
            pl.select(pl.when(pl.Series(nulls)).then(None).otherwise(series))
            .to_series()
            .alias(name)
        )
    probability = 1 / (1 + np.exp(-(logit - 1.5 * signal)))
    label = (rng.random(n) < probability).astype(np.int8)

    times = [start + timedelta(hours=int(h)) for h in np.sort(rng.choice(n * 24, n, replace=False))]
    n_train, n_val = int(n * fractions[0]), int(n * fractions[1])
    split = ["train"] * n_train + ["validation"] * n_val + ["test"] * (n - n_train - n_val)
    keys = pl.DataFrame(
        {
            "patient_id": [f"p{int(i):05d}" for i in rng.integers(0, max(n // 3, 1), n)],
            "event_timestamp": pl.Series(times, dtype=UTC_US),
            "encounter_id": [f"e{i:06d}" for i in range(n)],
            "label": pl.Series(label, dtype=pl.Int8),
            "split": split,
        }
    )
    metadata = [
        (pl.col("event_timestamp") - pl.duration(days=1)).alias(f"{v}_feature_ts")
        for v in TASKS[task].feature_views
    ]
    return pl.concat([keys, pl.DataFrame(list(columns.values()))], how="horizontal").with_columns(
        metadata
    )
