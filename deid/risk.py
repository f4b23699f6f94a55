"""Re-identification risk on quasi-identifiers: k-anonymity over the released combination of fields."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

QUASI_IDENTIFIERS = ("age_band", "sex", "zip3", "race", "ethnicity")


@dataclass(frozen=True)
class KAnonymity:
    records: int
    min_k: int
    share_below_5: float  # share of records whose combination is shared by fewer than 5 records
    groups: int


def k_anonymity(
    frame: pl.DataFrame, quasi_identifiers: tuple[str, ...] = QUASI_IDENTIFIERS, threshold: int = 5
) -> KAnonymity:
    """k of each record = size of its equivalence class over ``quasi_identifiers`` (nulls are a value)."""
    if frame.height == 0:
        return KAnonymity(0, 0, 0.0, 0)
    sizes = frame.group_by(list(quasi_identifiers)).len()["len"]
    below = int(sizes.filter(sizes < threshold).sum() or 0)
    return KAnonymity(frame.height, int(sizes.min()), below / frame.height, sizes.len())
