"""An IO manager that passes small pinned references (``DeltaRef``, ``SnapshotRef``) between assets.

Assets write their data to Delta themselves and hand over only where it is and which version; the
reference is stored as readable JSON beside the Dagster instance, so downstream assets read exactly
the version their upstream produced, never "latest".
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
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

REF_TYPES: dict[str, type[BaseModel]] = {
    cls.__name__: cls
    for cls in (DeltaRef, SnapshotRef, FeastRef, ModelRef, EvaluationRef, BentoRef)
}


_LOADED: OrderedDict[tuple[str, str], list[BaseModel]] = OrderedDict()
_LOADED_LOCK = threading.Lock()
_LOADED_MAX_STEPS = (
    1000  # steps whose hook never collects (jobs without hooks) must not grow memory forever
)


def _record_loaded(context: InputContext, ref: BaseModel) -> None:
    """Remember which pinned refs a step loaded, so the OpenLineage hook can name its inputs exactly.

    Hooks run in the process that ran the step (in process and multiprocess executors alike), after its
    inputs were loaded, so a process-local record keyed by (run id, step key) is enough.
    """
    try:
        key = (context.step_context.run_id, context.step_context.step.key)
    except Exception:  # noqa: BLE001 - outside a run (direct load_input in a test): nothing to record
        return
    with _LOADED_LOCK:
        _LOADED.setdefault(key, []).append(ref)
        _LOADED.move_to_end(key)
        while len(_LOADED) > _LOADED_MAX_STEPS:
            _LOADED.popitem(last=False)


def pop_loaded_inputs(run_id: str, step_key: str) -> list[BaseModel]:
    """The refs the step loaded, in load order; forgotten once collected."""
    with _LOADED_LOCK:
        return _LOADED.pop((run_id, step_key), [])


class RefIOManager(ConfigurableIOManager):
    home: str | None = None

    def _path(self, context: OutputContext | InputContext) -> Path:
        root = load_settings(home=self.home).dagster_home / "refs"
        return root.joinpath(*context.asset_key.path).with_suffix(".json")

    def handle_output(self, context: OutputContext, obj: BaseModel) -> None:
        if type(obj).__name__ not in REF_TYPES:
            raise TypeError(
                f"{context.asset_key.to_user_string()}: assets must return a pinned reference "
                f"({', '.join(REF_TYPES)}), got {type(obj).__name__}"
            )
        path = self._path(context)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(
            json.dumps({"type": type(obj).__name__, "value": obj.model_dump(mode="json")}, indent=1)
        )
        tmp.replace(path)

    def load_input(self, context: InputContext) -> BaseModel:
        path = self._path(context.upstream_output or context)
        if not path.exists():
            raise FileNotFoundError(
                f"{context.asset_key.to_user_string()} has not been materialized yet "
                f"(no reference at {path})"
            )
        data = json.loads(path.read_text())
        ref = REF_TYPES[data["type"]].model_validate(data["value"])
        _record_loaded(context, ref)
        return ref
