"""The reference the model asset hands on: which registered model version, from which run and training set."""

from __future__ import annotations

from pydantic import BaseModel

from lakehouse.delta import DeltaRef


class ModelRef(BaseModel):
    name: str  # registered model name (from the task definition)
    version: str
    run_id: str
    uri: str  # models:/<name>/<version>
    tracking_uri: str
    task: str
    training_set: DeltaRef
