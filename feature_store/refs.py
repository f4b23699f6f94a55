"""The reference the Feast assets hand on: which registry, and which gold Delta versions it serves."""

from __future__ import annotations

from pydantic import BaseModel


class FeastRef(BaseModel):
    home: str  # the Feast home (feature_store.yaml, registry, online store)
    project: str
    views: dict[str, int]  # feature view -> gold Delta version it was applied from
    services: dict[str, list[str]]  # FeatureService -> its views
    online_store: str
