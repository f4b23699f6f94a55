"""What the packaging asset hands on: the Bento built for the champion."""

from __future__ import annotations

from pydantic import BaseModel


class BentoRef(BaseModel):
    tag: str  # <bento name>:<version> in the BentoML store under CLINICAL_MLOPS_HOME
    registered_model: str
    model_version: str  # the champion version pinned in the Bento
    task: str
    feature_service: str
    training_set_digest: str
    landing_snapshot_id: str
