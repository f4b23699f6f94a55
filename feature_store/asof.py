"""The reference point-in-time join, written by hand with Polars: for each entity row and each view, the
latest feature row of the same patient stamped at or before the entity timestamp and no older than the
view's TTL (inclusive, like Feast); otherwise nulls. Never drops or duplicates an entity row.

Used to check Feast's offline retrieval (same rows, same values) and as its benchmark baseline.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import timedelta

import polars as pl

from features.spec import ENTITY_KEY, EVENT_TIMESTAMP, FeatureViewSpec

_ROW = "__entity_row"
_FTS = "__feature_ts"
UTC_US = pl.Datetime("us", "UTC")


def _utc(df: pl.DataFrame, col: str) -> pl.DataFrame:
    dtype = df.schema[col]
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        return df.with_columns(pl.col(col).dt.replace_time_zone("UTC").cast(UTC_US))
    return df.with_columns(pl.col(col).cast(UTC_US))


def asof_join(
    entity_df: pl.DataFrame,
    views: Sequence[tuple[FeatureViewSpec, pl.DataFrame]],
    *,
    full_feature_names: bool = False,
) -> pl.DataFrame:
    """``entity_df`` has ``patient_id`` and ``event_timestamp`` (and any other columns, kept); each view is
    its spec and its gold rows. Returns the entity rows in input order with the features appended."""
    left = _utc(entity_df.with_columns(pl.col(ENTITY_KEY).cast(pl.String)), EVENT_TIMESTAMP)
    left = left.with_row_index(_ROW).sort(EVENT_TIMESTAMP)
    for spec, table in views:
        names = list(spec.columns)
        cols = {n: (f"{spec.name}__{n}" if full_feature_names else n) for n in names}
        right = _utc(table.select(ENTITY_KEY, EVENT_TIMESTAMP, *names), EVENT_TIMESTAMP)
        right = (
            right.with_columns(pl.col(ENTITY_KEY).cast(pl.String))
            .rename({EVENT_TIMESTAMP: _FTS, **cols})
            .unique([ENTITY_KEY, _FTS], keep="last", maintain_order=True)
            .sort(_FTS)
        )
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", UserWarning
            )  # "sortedness cannot be checked with by": sorted above
            left = left.join_asof(
                right,
                left_on=EVENT_TIMESTAMP,
                right_on=_FTS,
                by=ENTITY_KEY,
                strategy="backward",
                tolerance=timedelta(days=spec.ttl_days),
                check_sortedness=False,
            )
        left = left.drop(_FTS)
    return left.sort(_ROW).drop(_ROW)
