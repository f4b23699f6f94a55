"""Synthetic gold feature tables (for tests and benchmarks): seeded random rows per spec, written as Delta."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
from deltalake import write_deltalake

from features.spec import ENTITY_KEY, EVENT_TIMESTAMP, FeatureViewSpec
from lakehouse.delta import DeltaRef, current_version

START = datetime(2020, 1, 1, tzinfo=UTC)
ARROW = {
    "int64": pa.int64(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "string": pa.string(),
    "float32_list": pa.list_(pa.float32()),
    "timestamp": pa.timestamp("us", "UTC"),
}


def gold_schema(spec: FeatureViewSpec) -> pa.Schema:
    return pa.schema(
        [(ENTITY_KEY, pa.string()), (EVENT_TIMESTAMP, pa.timestamp("us", "UTC"))]
        + [(n, ARROW[d]) for n, d in spec.columns.items()]
    )


def random_gold(
    spec: FeatureViewSpec,
    patients: int,
    rows: int,
    *,
    seed: int = 0,
    days: int = 365,
    start: datetime = START,
    list_len: int = 4,
) -> pa.Table:
    """``rows`` rows over ``patients`` patients, unique (patient_id, event_timestamp) at minute precision."""
    rng = np.random.default_rng(seed)
    pid = rng.integers(0, patients, rows)
    minute = rng.integers(0, days * 24 * 60, rows)
    _, keep = np.unique(np.stack([pid, minute]), axis=1, return_index=True)
    pid, minute = pid[np.sort(keep)], minute[np.sort(keep)]
    n = len(pid)
    ts = np.datetime64(start.replace(tzinfo=None), "us") + minute.astype("timedelta64[m]").astype(
        "timedelta64[us]"
    )
    cols = {
        ENTITY_KEY: pa.array([f"p{i:06d}" for i in pid]),
        EVENT_TIMESTAMP: pa.array(ts, pa.timestamp("us", "UTC")),
    }
    for name, dtype in spec.columns.items():
        if dtype == "timestamp":  # the view's stamp: the row's own time
            cols[name] = cols[EVENT_TIMESTAMP]
        elif dtype == "int64":
            cols[name] = pa.array(rng.integers(0, 1000, n))
        elif dtype == "float64":
            vals = rng.normal(size=n)
            cols[name] = pa.array(vals, mask=rng.random(n) < 0.05)  # some null values inside a row
        elif dtype == "bool":
            cols[name] = pa.array(rng.random(n) < 0.5)
        elif dtype == "string":
            cols[name] = pa.array([f"c{v}" for v in rng.integers(0, 50, n)])
        else:
            flat = pa.array(rng.normal(size=n * list_len).astype(np.float32))
            cols[name] = pa.ListArray.from_arrays(
                pa.array(np.arange(0, n * list_len + 1, list_len, dtype=np.int32)), flat
            )
    return pa.table(cols, schema=gold_schema(spec))


def write_gold(
    gold_dir: Path,
    spec: FeatureViewSpec,
    table: pa.Table,
    mode: Literal["append", "overwrite"] = "append",
) -> DeltaRef:
    """Write to ``<gold_dir>/features/<name>`` and return the pinned version written."""
    uri = str(Path(gold_dir) / "features" / spec.name)
    write_deltalake(uri, table.cast(gold_schema(spec)), mode=mode)
    return DeltaRef(table=spec.name, uri=uri, version=current_version(uri) or 0)
