"""The versioned de-identification policy, recorded with every silver write and in the report."""

from __future__ import annotations

import hashlib
from typing import Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

# 45 CFR 164.514(b)(2)(i)(B): three-digit ZIP prefixes whose areas hold 20,000 people or fewer
# (2000 Census, as listed by HHS guidance); configuration, not code: override per policy.
RESTRICTED_ZIP3 = (
    "036",
    "059",
    "063",
    "102",
    "203",
    "556",
    "692",
    "790",
    "821",
    "823",
    "830",
    "831",
    "878",
    "879",
    "884",
    "890",
    "893",
)


class DeidPolicy(BaseModel):
    """How bronze becomes silver. Any change that alters output must bump ``version``."""

    model_config = ConfigDict(frozen=True)

    version: str = "2026.11-1"
    date_mode: Literal["safe_harbor", "shift"] = Field(
        default="shift",
        description="safe_harbor: dates reduced to their year, intervals kept as day offsets from a per-patient "
        "anchor; shift: every date of a patient moved by one keyed offset (needs an Expert "
        "Determination to count as de-identified).",
    )
    shift_min_days: int = Field(default=1, ge=1)
    shift_max_days: int = Field(default=365, ge=1)
    age_ceiling: int = Field(
        default=90, description="Ages at or above this are reported as '<ceiling>+'."
    )
    restricted_zip3: tuple[str, ...] = RESTRICTED_ZIP3
    note_replacement: Literal["surrogate", "tag"] = "surrogate"

    @field_validator("restricted_zip3")
    @classmethod
    def _three_digits(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [z for z in value if len(z) != 3 or not z.isdigit()]
        if bad:
            raise ValueError(f"restricted ZIP3 prefixes must be three digits, got {bad}")
        return tuple(sorted(set(value)))

    @field_validator("shift_max_days")
    @classmethod
    def _range(cls, value: int, info) -> int:
        low = info.data.get("shift_min_days", 1)
        if value < low:
            raise ValueError(f"shift_max_days ({value}) must be >= shift_min_days ({low})")
        return value

    @property
    def digest(self) -> str:
        """sha256 of the canonical policy: two runs with the same digest applied the same rules."""
        return hashlib.sha256(
            orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS)
        ).hexdigest()

    def describe(self) -> dict[str, str]:
        """What silver commits, asset metadata and the report record about the policy."""
        return {
            "deid_policy_version": self.version,
            "deid_policy_digest": self.digest,
            "deid_date_mode": self.date_mode,
        }
