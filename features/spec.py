"""The contract between feature engineering (features/) and the feature store (feature_store/).

Every gold feature table is a Delta table under ``<home>/gold/features/<name>`` keyed by
(``patient_id``, ``event_timestamp``): the patient pseudonym from silver and the UTC instant from which
the row's values hold (no value may use data timestamped after it). Feature columns are numeric,
boolean, string, or fixed-size float lists (the note representation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ENTITY = "patient"
ENTITY_KEY = "patient_id"
EVENT_TIMESTAMP = "event_timestamp"

Dtype = Literal["int64", "float64", "bool", "string", "float32_list"]


@dataclass(frozen=True)
class FeatureViewSpec:
    name: str  # gold table name and Feast feature view name
    features: dict[str, Dtype]
    ttl_days: int  # how long a row stays valid for a later event (Feast TTL)
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
