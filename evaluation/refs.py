"""What the evaluation asset hands on: the evaluated model version, the gate's decision and where the
evaluation row was written."""

from __future__ import annotations

from pydantic import BaseModel

from lakehouse.delta import DeltaRef
from training.refs import ModelRef


class EvaluationRef(BaseModel):
    model: ModelRef  # the evaluated (candidate) version
    alias: str  # "champion" or "challenger": what the gate made of it
    promoted: bool
    champion_version: str | None  # the champion after the decision (None: there is none yet)
    compared_with: str | None  # the champion it was compared with (None: there was none)
    evaluations: DeltaRef  # gold/model_evaluations at the version holding this evaluation's row
