"""The contract between feature engineering (features/) and the feature store (feature_store/).

Every gold feature table is a Delta table under ``<home>/gold/features/<name>`` keyed by
(``patient_id``, ``event_timestamp``): the patient pseudonym from silver and the UTC instant from which
the row's values hold (no value may use data timestamped after it). Feature columns are numeric,
boolean, string, or fixed-size float lists (the note representation); a stamped view also stores its
row time as ``<name>_feature_ts`` (metadata, never a model input).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ENTITY = "patient"
ENTITY_KEY = "patient_id"
EVENT_TIMESTAMP = "event_timestamp"

Dtype = Literal["int64", "float64", "bool", "string", "float32_list", "timestamp"]
FEATURE_TS_SUFFIX = "_feature_ts"


@dataclass(frozen=True)
class FeatureViewSpec:
    name: str  # gold table name and Feast feature view name
    features: dict[str, Dtype]
    ttl_days: int  # how long a row stays valid for a later event (Feast TTL)
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    # also serve the row's own event_timestamp as ``<name>_feature_ts``: Feast returns feature values but not
    # the time they were computed at, and the training-set checks and serving freshness need that time
    stamped: bool = False

    @property
    def feature_ts(self) -> str | None:
        return f"{self.name}{FEATURE_TS_SUFFIX}" if self.stamped else None

    @property
    def columns(self) -> dict[str, Dtype]:
        """Every column the view stores and serves: the model inputs (``features``), then the stamp."""
        return {**self.features, **({self.feature_ts: "timestamp"} if self.stamped else {})}
