"""Safe Harbor rules for structured fields, as Polars expressions (vectorized; also usable under Spark
through Arrow batches) with scalar twins for the note path."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

import polars as pl

US_ZIP = r"^\d{5}(-?\d{4})?$"  # anything else (foreign postal codes, fragments) is dropped, not truncated
_US_ZIP = re.compile(US_ZIP)


def zip3(postal_code: str | None, restricted: tuple[str, ...]) -> str | None:
    """First three digits of a US ZIP; restricted prefixes become '000'; anything else -> None."""
    if not postal_code or not _US_ZIP.match(postal_code.strip()):
        return None
    prefix = postal_code.strip()[:3]
    return "000" if prefix in restricted else prefix


def zip3_expr(column: str, restricted: tuple[str, ...]) -> pl.Expr:
    value = pl.col(column).str.strip_chars()
    prefix = value.str.slice(0, 3)
    return (
        pl.when(~value.str.contains(US_ZIP).fill_null(False))
        .then(None)
        .when(prefix.is_in(list(restricted)))
        .then(pl.lit("000"))
        .otherwise(prefix)
    )


def age_years(birth: date, at: date) -> int:
    return at.year - birth.year - ((at.month, at.day) < (birth.month, birth.day))


def age_label(birth: date | None, at: date | None, ceiling: int = 90) -> str | None:
    """Age in whole years at ``at``; ``ceiling`` and above fold into '<ceiling>+' (ages over 89 -> '90+')."""
    if birth is None or at is None:
        return None
    years = age_years(birth, at)
    return f"{ceiling}+" if years >= ceiling else str(years)


def age_years_expr(birth: str, at: pl.Expr) -> pl.Expr:
    b = pl.col(birth)
    before_birthday = (at.dt.month() < b.dt.month()) | (
        (at.dt.month() == b.dt.month()) & (at.dt.day() < b.dt.day())
    )
    return (at.dt.year() - b.dt.year() - before_birthday.cast(pl.Int32)).cast(pl.Int32)


def age_label_expr(birth: str, at: pl.Expr, ceiling: int = 90) -> pl.Expr:
    years = age_years_expr(birth, at)
    return pl.when(years >= ceiling).then(pl.lit(f"{ceiling}+")).otherwise(years.cast(pl.String))


def shift(value: date | datetime | None, days: int) -> date | datetime | None:
    return None if value is None else value + timedelta(days=days)


def shift_expr(column: str, days: pl.Expr) -> pl.Expr:
    """Move a date/datetime column by a per-row number of days (the patient's keyed offset)."""
    return pl.col(column) + pl.duration(days=days)


AGE_BANDS = ((0, 17), (18, 29), (30, 39), (40, 49), (50, 59), (60, 69), (70, 79), (80, 89))


def age_band_expr(years: pl.Expr, ceiling: int) -> pl.Expr:
    expr = pl.when(years >= ceiling).then(pl.lit(f"{ceiling}+"))
    for low, high in AGE_BANDS:
        expr = expr.when(years.is_between(low, high)).then(pl.lit(f"{low}-{high}"))
    return expr.otherwise(None)
