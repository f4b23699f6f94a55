"""Keyed pseudonyms and date offsets for whole columns: each distinct value is hashed once (HMAC-SHA256
through ``DeidKey``) and mapped back, so a column of a million rows costs one HMAC per distinct id."""

from __future__ import annotations

import polars as pl

from deid.keys import DeidKey


def pseudonym_map(values: pl.Series, key: DeidKey, kind: str) -> dict[str, str]:
    distinct = values.drop_nulls().unique().to_list()
    return dict(zip(distinct, key.pseudonyms(distinct, kind)))


def pseudonymize(
    frame: pl.DataFrame, column: str, key: DeidKey, kind: str, *, alias: str | None = None
) -> pl.Expr:
    """An expression replacing ``column`` (string) by the pseudonyms of its values (nulls stay null)."""
    mapping = pseudonym_map(frame[column], key, kind)
    return (
        pl.col(column)
        .replace_strict(mapping, default=None, return_dtype=pl.String)
        .alias(alias or column)
    )


def pseudonymize_list(frame: pl.DataFrame, column: str, key: DeidKey, kind: str) -> pl.Expr:
    """The same for a list-of-strings column (e.g. an encounter's practitioner ids)."""
    mapping = pseudonym_map(frame[column].explode(), key, kind)
    return (
        pl.col(column)
        .list.eval(pl.element().replace_strict(mapping, default=None, return_dtype=pl.String))
        .alias(column)
    )


def shift_days_map(patient_keys: pl.Series, key: DeidKey, low: int, high: int) -> dict[str, int]:
    return {
        value: key.shift_days(value, low, high)
        for value in patient_keys.drop_nulls().unique().to_list()
    }
