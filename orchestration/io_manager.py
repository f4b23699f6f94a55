"""An IO manager that passes small pinned references (``DeltaRef``, ``SnapshotRef``) between assets.

Assets write their data to Delta themselves and hand over only where it is and which version; the
reference is stored as readable JSON beside the Dagster instance, so downstream assets read exactly
the version their upstream produced, never "latest".
"""

from __future__ import annotations

import json
from pathlib import Path

from dagster import ConfigurableIOManager, InputContext, OutputContext
from pydantic import BaseModel

from clinical_mlops.settings import load_settings
from evaluation.refs import EvaluationRef
from feature_store.refs import FeastRef
from ingestion.landing import SnapshotRef
from lakehouse.delta import DeltaRef
from serving.refs import BentoRef
from training.refs import ModelRef

REF_TYPES: dict[str, type[BaseModel]] = {cls.__name__: cls for cls in (DeltaRef, SnapshotRef, FeastRef, ModelRef,
                                                                   EvaluationRef, BentoRef)}


class RefIOManager(ConfigurableIOManager):
    home: str | None = None

    def _path(self, context: OutputContext | InputContext) -> Path:
        root = load_settings(home=self.home).dagster_home / "refs"
        return root.joinpath(*context.asset_key.path).with_suffix(".json")

    def handle_output(self, context: OutputContext, obj: BaseModel) -> None:
        if type(obj).__name__ not in REF_TYPES:
            raise TypeError(f"{context.asset_key.to_user_string()}: assets must return a pinned reference "
                            f"({', '.join(REF_TYPES)}), got {type(obj).__name__}")
        path = self._path(context)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"type": type(obj).__name__, "value": obj.model_dump(mode="json")}, indent=1))
        tmp.replace(path)

    def load_input(self, context: InputContext) -> BaseModel:
        path = self._path(context.upstream_output or context)
        if not path.exists():
            raise FileNotFoundError(f"{context.asset_key.to_user_string()} has not been materialized yet "
                                    f"(no reference at {path})")
        data = json.loads(path.read_text())
        return REF_TYPES[data["type"]].model_validate(data["value"])
