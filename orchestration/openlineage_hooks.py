"""OpenLineage run events for every asset step, as Dagster success/failure hooks on every asset.

What we chose and why: Dagster 1.13 has no "step started" hook, and the alternatives are worse for this
contract — a sensor tailing the event log needs the daemon and cannot see the exact refs a step loaded, and
wrapping every asset's compute would touch every stage. A hook runs in the process that ran the step, right
after it, with the step's outputs (``op_output_values``) and, through the IO manager's record, the pinned
refs it loaded. So, when the step ends, the hook emits two events of one OpenLineage run: START with
eventTime = the step's STEP_START time read from the instance's event log, then COMPLETE (or FAIL with an
error-message facet). The price: a watcher sees START only when the step has ended (a live "running" state
in Marquez is not shown); the timeline is still exact.

Emission never fails a materialization: any error is logged as a warning on the run (with the reason and
the destination) and counted in :data:`EMISSION_STATS`. Steps that materialize no asset (check-only steps)
emit nothing.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from dagster import DagsterEventType, HookContext, failure_hook, success_hook
from dagster import __version__ as dagster_version

from assets.io_manager import pop_loaded_inputs
from audit.openlineage import (
    Naming,
    StepRun,
    build_step_events,
    datasets_of_all,
    describe_destination,
    make_client,
    output_datasets_of,
)
from lineage.code_version import code_version

EMISSION_STATS: Counter[str] = Counter()  # emitted / failed / skipped events and steps, per process
_CLIENTS: dict[tuple[Any, ...], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def _client(settings: Any) -> Any:
    """One client per destination and process (the HTTP transport keeps its session)."""
    key = (
        settings.openlineage_url,
        str(settings.openlineage_events_file),
        settings.openlineage_timeout_s,
        settings.openlineage_api_key.get_secret_value() if settings.openlineage_api_key else None,
    )
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            _CLIENTS[key] = make_client(settings)
        return _CLIENTS[key]


def _step_started_at(context: HookContext) -> datetime:
    """When the step started, from the run's event log (now, when not found)."""
    for entry in context.instance.all_logs(context.run_id, of_type=DagsterEventType.STEP_START):
        if entry.step_key == context.step_key:
            return datetime.fromtimestamp(entry.timestamp, tz=UTC)
    return datetime.now(tz=UTC)


def _asset_keys(context: HookContext) -> list[str]:
    """The asset keys the step's op outputs materialize (none for a check-only step)."""
    step = context._step_execution_context  # noqa: SLF001 - HookContext exposes no asset layer
    layer = step.job_def.asset_layer
    keys = []
    for out in context.op.definition.output_defs:
        key = layer.get_asset_key_for_node_output(step.node_handle, out.name)
        if key is not None:
            keys.append(key.to_user_string())
    return keys


def _output_refs(context: HookContext) -> list[Any]:
    values = []
    for value in context.op_output_values.values():
        values.extend(value.values() if isinstance(value, dict) else [value])
    return [v for v in values if v is not None]


def _settings(context: HookContext) -> Any:
    return context.resources.platform.settings


def emit_for_step(context: HookContext, error: BaseException | None) -> None:
    """Build and emit START + COMPLETE/FAIL of the hooked step; warn (never raise) on any problem."""
    inputs = pop_loaded_inputs(context.run_id, context.step_key)
    destination = "?"
    try:
        settings = _settings(context)
        if not settings.openlineage_enabled:
            EMISSION_STATS["disabled_steps"] += 1
            return
        destination = describe_destination(settings)
        asset_keys = _asset_keys(context)
        if not asset_keys:
            EMISSION_STATS["skipped_steps"] += 1
            return
        naming = Naming.from_settings(settings)
        step = StepRun(
            dagster_run_id=context.run_id,
            step_key=context.step_key,
            dagster_job=context.job_name,
            op_name=context.op.name,
            asset_keys=asset_keys,
            started_at=_step_started_at(context),
            ended_at=datetime.now(tz=UTC),
            code_version=code_version(),
            engine_version=dagster_version,
        )
        events = build_step_events(
            step,
            naming,
            datasets_of_all(inputs, naming),
            output_datasets_of(_output_refs(context), naming),
            error,
        )
        client = _client(settings)
        started = time.monotonic()
        for event in events:
            client.emit(event)
            EMISSION_STATS["emitted"] += 1
        context.log.debug(
            f"OpenLineage: {len(events)} events of run {step.run_id} to {destination} "
            f"in {time.monotonic() - started:.2f}s"
        )
    except Exception as exc:  # noqa: BLE001 - lineage must not fail the materialization; it is logged + counted
        EMISSION_STATS["failed"] += 1
        context.log.warning(
            f"OpenLineage: events of step {context.step_key} were NOT emitted to {destination} "
            f"({type(exc).__name__}: {exc}); the materialization itself is unaffected "
            f"({EMISSION_STATS['failed']} emission failure(s) in this process)"
        )


@success_hook(name="openlineage_complete", required_resource_keys={"platform"})
def openlineage_on_success(context: HookContext) -> None:
    """START + COMPLETE of a step that succeeded."""
    emit_for_step(context, None)


@failure_hook(name="openlineage_fail", required_resource_keys={"platform"})
def openlineage_on_failure(context: HookContext) -> None:
    """START + FAIL (with the error) of a step that failed."""
    emit_for_step(context, context.op_exception or RuntimeError(f"step {context.step_key} failed"))


OPENLINEAGE_HOOKS: set = {openlineage_on_success, openlineage_on_failure}
