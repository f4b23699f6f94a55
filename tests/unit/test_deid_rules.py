"""Safe Harbor rules: ZIP3 with restricted prefixes, ages over 89, date shifting (scalar == vectorized)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import polars as pl
import pytest

from deid.policy import RESTRICTED_ZIP3
from deid.rules import age_label, age_label_expr, shift, shift_expr, zip3, zip3_expr


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("02139", "021"),
        ("02139-4307", "021"),
        ("03601", "000"),
        ("89301", "000"),
        ("1", None),
        (None, None),
        ("", None),
        ("K1A 0B1", None),
        ("10118", "101"),
        (" 10118 ", "101"),
        ("101189", None),
    ],
)
def test_zip3(raw, expected) -> None:
    assert zip3(raw, RESTRICTED_ZIP3) == expected
    frame = pl.DataFrame({"zip": [raw]}, schema={"zip": pl.String})
    assert frame.select(zip3_expr("zip", RESTRICTED_ZIP3)).item() == expected


@pytest.mark.parametrize(
    "birth, at, expected",
    [
        (date(1950, 6, 15), date(2024, 6, 14), "73"),
        (date(1950, 6, 15), date(2024, 6, 15), "74"),
        (date(1934, 1, 1), date(2024, 1, 1), "90+"),
        (date(1934, 1, 2), date(2024, 1, 1), "89"),
        (date(1920, 2, 29), date(2024, 3, 1), "90+"),
    ],
)
def test_ages_over_89_fold_into_90_plus(birth, at, expected) -> None:
    assert age_label(birth, at) == expected
    frame = pl.DataFrame({"birth": [birth], "at": [at]})
    assert frame.select(age_label_expr("birth", pl.col("at"))).item() == expected


def test_shift_keeps_intervals_and_matches_the_vectorized_twin() -> None:
    admitted = datetime(2024, 3, 5, 14, 10, tzinfo=UTC)
    discharged = datetime(2024, 3, 9, 11, 0, tzinfo=UTC)
    assert shift(discharged, 40) - shift(admitted, 40) == discharged - admitted
    assert shift(None, 3) is None
    frame = pl.DataFrame({"at": [admitted, discharged], "days": [40, 40]})
    assert frame.select(shift_expr("at", pl.col("days"))).to_series().to_list() == [
        shift(admitted, 40),
        shift(discharged, 40),
    ]
