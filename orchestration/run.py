"""Run the Dagster graph in process against the persistent local instance (what `pipeline run` does)."""

from __future__ import annotations

import ast
import logging
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dagster import DagsterEventType, DagsterInstance, EventLogEntry

from clinical_mlops.home_lock import hold_home
from clinical_mlops.settings import Settings, postgres_driver_url
from features.tasks import TASKS
from orchestration.recovery import recover, recovery_summary, run_tags

DAGSTER_YAML = """# written by clinical-mlops: local SQLite instance under the lakehouse home
telemetry:
  enabled: false
# the UI opens straight onto the platform (no "join the community" dialog on the first visit)
nux:
  enabled: false
"""

# one run at a time: every run writes the lakehouse home. `pipeline run` holds the home lock in process
# (clinical_mlops/home_lock.py); the run queue holds back what the UI, schedules and sensors launch
RUN_CONCURRENCY = """concurrency:
  runs:
    max_concurrent_runs: 1
"""

# the URL (with its password) stays in the environment: Dagster reads it from this env var when the instance loads
DAGSTER_POSTGRES_ENV = "CLINICAL_MLOPS_DAGSTER_POSTGRES_URL"
POSTGRES_STORAGE = f"""# instance storage (runs, event log, schedules) on PostgreSQL instead: the connection URL is
# read from ${DAGSTER_POSTGRES_ENV} when the instance loads (never stored in this file)
storage:
  postgres:
    postgres_url:
      env: {DAGSTER_POSTGRES_ENV}
"""


def dagster_yaml(settings: Settings) -> str:
    """The instance config the settings select: SQLite under the Dagster home, or PostgreSQL storage."""
    base = DAGSTER_YAML + RUN_CONCURRENCY
    return base + POSTGRES_STORAGE if settings.dagster_postgres_url else base


def prepare_dagster_home(settings: Settings) -> None:
    """Create the Dagster home with its config (rewritten whenever the configured storage changes); point this
    process (and its children) at it."""
    settings.apply_umask()  # owner-only files (group-readable with CLINICAL_MLOPS_SHARED_GROUP)
    settings.ensure_layout()
    config = settings.dagster_home / "dagster.yaml"
    wanted = dagster_yaml(settings)
    if not config.exists() or config.read_text() != wanted:
        tmp = config.with_name(".dagster.yaml.tmp")
        tmp.write_text(wanted)
        tmp.replace(config)
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
    if (
        settings.dagster_postgres_url
    ):  # the env var dagster.yaml names (settings may have come from an override)
        os.environ[DAGSTER_POSTGRES_ENV] = postgres_driver_url(
            settings.dagster_postgres_url.get_secret_value()
        )
    # assets read their settings from the environment when the run starts: hand ours over
    os.environ["CLINICAL_MLOPS_HOME"] = str(settings.root)
    if settings.landing_dir:
        os.environ["CLINICAL_MLOPS_LANDING_DIR"] = str(settings.landing)


@dataclass
class PipelineSummary:
    run_id: str
    success: bool
    assets: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    failure: str | None = None
    gate: dict[str, Any] | None = None  # the PHI-leak gate over silver (counts, never identifiers)
    deid: dict[str, Any] | None = None  # the de-identification report's headline figures
    tasks: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # task -> index events, positives, prevalence
    training_sets: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # task -> rows, splits, digest, service
    online_store: dict[str, Any] | None = None  # what feast/online_store materialized
    models: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # registered model -> version, run, AUROC
    evaluations: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # registered model -> gate decision, metrics
    bentos: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # registered model -> Bento tag, served version
    prediction: dict[str, Any] | None = (
        None  # the demo's one prediction over HTTP (`pipeline run --serve`)
    )
    recovered: dict[str, Any] | None = (
        None  # what a killed earlier run left behind, cleaned up first
    )
    # task -> the blocking check its data failed (what was measured against what), and what was not built
    blocked: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed_steps: list[dict[str, Any]] = field(default_factory=list)  # failures other than those
    not_materialized: list[str] = field(
        default_factory=list
    )  # planned assets the run did not build
    untrained: list[str] = field(
        default_factory=list
    )  # tasks not blocked whose planned model was not built

    def trained(self) -> list[str]:
        """The tasks whose model this run registered."""
        return [t for t, d in TASKS.items() if d.registered_model in self.models]

    def without_model(self) -> list[str]:
        """Tasks whose training set was built and not blocked, for which the graph trains no model
        (``TaskDefinition.train`` is off)."""
        return [
            t
            for t in self.training_sets
            if t in TASKS and not TASKS[t].train and t not in self.blocked
        ]

    def exit_code(self, strict: bool = False) -> int:
        """The exit policy of `pipeline run` (README, "What the demo prints"): 0 when the run succeeded, or
        when every task the cohort's data allows was trained and the others failed only a trainability check
        (``TRAINABILITY_CHECKS``; ``strict``: those fail the command too); 1 on any other failure, or when no
        task at all could be trained."""
        if self.success:
            return 0
        if self.failed_steps or self.untrained or not self.blocked or strict:
            return 1
        return 0 if self.trained() else 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "success": self.success,
            "failure": self.failure,
            "assets": self.assets,
            "checks": self.checks,
            "gate": self.gate,
            "deid": self.deid,
            "tasks": self.tasks,
            "training_sets": self.training_sets,
            "online_store": self.online_store,
            "models": self.models,
            "evaluations": self.evaluations,
            "bentos": self.bentos,
            "prediction": self.prediction,
            "recovered": self.recovered,
            "blocked": self.blocked,
            "failed_steps": self.failed_steps,
            "not_materialized": self.not_materialized,
            "untrained": self.untrained,
            "trained": self.trained(),
            "exit_code": self.exit_code(),
        }


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


def innermost_error(error: Any) -> Any:
    """The innermost of a chain of Dagster SerializableErrorInfo causes: what actually went wrong."""
    while getattr(error, "cause", None) is not None:
        error = error.cause
    return error


def _root_cause(error: Any) -> str:
    """The innermost error's message, not Dagster's wrapper."""
    return innermost_error(error).message.strip()


# ---------------------------------------------------------------- progress while the run goes


@dataclass(frozen=True)
class StepUpdate:
    """One step's progress, from the run's Dagster events as they are stored (what `pipeline run` shows)."""

    kind: str  # "plan" (total known), "started", "succeeded", "failed", "warning" (a step's warning log)
    step: str | None = None
    total: int | None = None  # steps the run will execute
    done: int = 0  # steps finished so far (succeeded or failed)
    seconds: float | None = None  # the step's own duration
    assets: tuple[str, ...] = ()  # materialized by the step
    rows: int | None = None  # their row counts summed (None: none reported one)
    failed_checks: tuple[str, ...] = ()  # "asset:check (SEVERITY)" the step evaluated and failed
    message: str | None = None  # failure: the root cause; warning: the log message


class StepTracker:
    """An instance event listener (``DagsterInstance.add_event_listener``) that turns Dagster's step events
    into ``StepUpdate``s: the total from the executor's plan, each step's start, its materializations with
    their ``row_count`` metadata, its failed checks, its end with the duration and root cause."""

    def __init__(self, on_update: Callable[[StepUpdate], None]):
        self.on_update = on_update
        self.done = 0
        self.total: int | None = None
        self._assets: dict[str, list[tuple[str, Any]]] = {}
        self._failed: dict[str, list[str]] = {}

    def __call__(self, entry: EventLogEntry) -> None:
        event = entry.dagster_event
        if (
            event is None
        ):  # a step's own log message: its warnings (errors come with the step's failure)
            if entry.level == logging.WARNING and entry.step_key:
                self.on_update(StepUpdate("warning", entry.step_key, message=entry.user_message))
            return
        step, kind = event.step_key or "", event.event_type
        data: Any = event.event_specific_data  # its type follows the event's
        if kind == DagsterEventType.ENGINE_EVENT and self.total is None:
            keys = data.metadata.get("step_keys")  # "Executing steps in process"
            if keys is not None:
                self.total = len(ast.literal_eval(_plain(keys)))
                self.on_update(StepUpdate("plan", total=self.total))
        elif kind == DagsterEventType.STEP_START:
            self.on_update(StepUpdate("started", step, total=self.total, done=self.done))
        elif kind == DagsterEventType.ASSET_MATERIALIZATION:
            mat = data.materialization
            rows = _plain(mat.metadata["row_count"]) if "row_count" in mat.metadata else None
            self._assets.setdefault(step, []).append((mat.asset_key.to_user_string(), rows))
        elif kind == DagsterEventType.ASSET_CHECK_EVALUATION:
            if not data.passed:
                self._failed.setdefault(step, []).append(
                    f"{data.asset_key.to_user_string()}:{data.check_name} ({data.severity.value})"
                )
        elif kind in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            self.done += 1
            made = self._assets.pop(step, [])
            counts = [r for _, r in made if isinstance(r, int)]
            failed = kind == DagsterEventType.STEP_FAILURE
            checks = tuple(self._failed.pop(step, []))
            cause = innermost_error(data.error) if failed and data.error else None
            # a blocking check's failure is its check, named on the line: the error only repeats it
            told = checks and cause is not None and cause.cls_name == "DagsterAssetCheckFailedError"
            self.on_update(
                StepUpdate(
                    "failed" if failed else "succeeded",
                    step,
                    total=self.total,
                    done=self.done,
                    seconds=data.duration_ms / 1000 if getattr(data, "duration_ms", None) else None,
                    assets=tuple(a for a, _ in made),
                    rows=sum(counts) if counts else None,
                    failed_checks=checks,
                    message=cause.message.strip() if cause is not None and not told else None,
                )
            )


# ---------------------------------------------------------------- what failed, and whether it was the data

# Blocking checks on a training set that judge whether the cohort's data allows training the task at all (not
# the platform's correctness): a task that fails one is "not trainable on this cohort" and the others go on
TRAINABILITY_CHECKS = {"label_prevalence"}
TRAINING_SET_PREFIX = "gold/training_set_"


def _percent(value: Any) -> str:
    return f"{float(value):.1%}" if value is not None else "n/a"


def trainability_reason(check: str, metadata: dict[str, Any], split_sizes: dict | None) -> str:
    """What was measured against what threshold, in words, from a failed trainability check's metadata."""
    if check != "label_prevalence":
        return ", ".join(f"{k} {v}" for k, v in metadata.items())
    low, high = (float(x) for x in str(metadata["range"]).split("-"))
    prevalence = float(metadata["prevalence"])
    positives = metadata.get("positives_by_split") or {}
    sizes = split_sizes or {}
    reasons = []
    one_class = [s.strip() for s in str(metadata.get("splits_with_one_class", "none")).split(",")]
    for split in ("train", "validation"):
        if split in one_class:
            pos, rows = positives.get(split), sizes.get(split)
            of = f" of {rows:,} rows" if isinstance(rows, int) else ""
            reasons.append(
                f"{split} split measured {pos} positive{of} vs threshold at least 1 positive and 1 "
                "negative (no model fit or selection without both classes)"
            )
    if not low <= prevalence <= high:
        reasons.append(
            f"label prevalence measured {_percent(prevalence)} vs threshold {_percent(low)}-"
            f"{_percent(high)}"
        )
    if not sum(sizes.values()) and not reasons:
        reasons.append("no index event measured vs threshold at least one")
    return "; ".join(reasons) or ", ".join(f"{k} {v}" for k, v in metadata.items())


def judge(summary: PipelineSummary, events: list[Any]) -> None:
    """Fill in what failed and why: a step that failed only a trainability check of a task's training set
    blocks that task (``summary.blocked``); any other failed step is a failure (``summary.failed_steps``);
    planned assets never materialized are listed, and so are tasks not blocked whose model was not built."""
    failed_checks: dict[str, list[Any]] = {}
    planned: list[str] = []
    for event in events:
        if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            check = event.event_specific_data
            if not check.passed and check.severity.value == "ERROR":
                failed_checks.setdefault(event.step_key, []).append(check)
        elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION_PLANNED:
            planned.append(event.event_specific_data.asset_key.to_user_string())
    built = {a["asset"] for a in summary.assets}
    summary.not_materialized = [a for a in dict.fromkeys(planned) if a not in built]
    for event in events:
        if event.event_type != DagsterEventType.STEP_FAILURE:
            continue
        error = event.event_specific_data.error
        checks = failed_checks.get(event.step_key, [])
        blocking = [
            c
            for c in checks
            if c.check_name in TRAINABILITY_CHECKS
            and c.asset_key.to_user_string().startswith(TRAINING_SET_PREFIX)
        ]
        if (
            checks
            and len(blocking) == len(checks)
            and innermost_error(error).cls_name == "DagsterAssetCheckFailedError"
        ):
            for c in blocking:
                task = c.asset_key.to_user_string().removeprefix(TRAINING_SET_PREFIX)
                metadata = {k: _plain(v) for k, v in c.metadata.items()}
                sizes = (summary.training_sets.get(task) or {}).get("split_sizes")
                model = TASKS[task].registered_model if task in TASKS else None
                summary.blocked[task] = {
                    "check": f"{c.asset_key.to_user_string()}:{c.check_name}",
                    "reason": trainability_reason(c.check_name, metadata, sizes),
                    "measured": metadata,
                    "not_built": [
                        a for a in summary.not_materialized if model and a.endswith(f"/{model}")
                    ],
                }
            continue
        summary.failed_steps.append(
            {
                "step": event.step_key,
                "error": _root_cause(error) if error else str(event.message),
                "error_class": innermost_error(error).cls_name if error else None,
            }
        )
    summary.untrained = [
        task
        for task, definition in TASKS.items()
        if task not in summary.blocked
        and f"models/{definition.registered_model}" in summary.not_materialized
    ]


def run_pipeline(
    settings: Settings,
    job_name: str | None = None,
    log_level: str = "WARNING",
    on_step: Callable[[StepUpdate], None] | None = None,
) -> PipelineSummary:
    """Execute the job in this process; the full event log lands in the Dagster instance (see the UI).
    ``log_level``: Dagster's console logger; ``on_step``: called with each step's progress as it happens."""
    from orchestration.definitions import (  # lazy: cycle (definitions -> automation -> run); loads every asset
        PIPELINE_JOB,
        defs,
    )

    prepare_dagster_home(settings)
    with (
        hold_home(settings, f"pipeline run ({job_name or PIPELINE_JOB})") as lock,
        DagsterInstance.get() as instance,
    ):
        recovered = recover(settings, instance, lock)  # what a killed run left: failed, removed
        job = defs.resolve_job_def(job_name or PIPELINE_JOB)
        run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
        run_id = str(uuid.uuid4())
        if on_step is not None:
            instance.add_event_listener(run_id, StepTracker(on_step))
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config=run_config,
            tags=run_tags(lock),
            run_id=run_id,
        )
        summary = PipelineSummary(run_id=result.run_id, success=result.success)
        summary.recovered = recovery_summary(recovered) if recovered else None
        for event in result.get_asset_materialization_events():
            mat = event.event_specific_data.materialization
            meta = {k: _plain(v) for k, v in mat.metadata.items()}
            summary.assets.append(
                {
                    "asset": mat.asset_key.to_user_string(),
                    "data_version": mat.tags.get("dagster/data_version") if mat.tags else None,
                    "delta_version": meta.get("delta_version", meta.get("manifest_delta_version")),
                    "rows": meta.get("row_count"),
                    "snapshot_id": meta.get("snapshot_id"),
                    "table_uri": meta.get("table_uri", meta.get("manifest_table")),
                    "engine": meta.get("engine"),
                }
            )
            if mat.asset_key.to_user_string().startswith("gold/index_events_"):
                summary.tasks[mat.asset_key.to_user_string().removeprefix("gold/index_events_")] = {
                    k: meta.get(k) for k in ("row_count", "positives", "prevalence", "censored")
                }
            if mat.asset_key.to_user_string().startswith("gold/training_set_"):
                summary.training_sets[
                    mat.asset_key.to_user_string().removeprefix("gold/training_set_")
                ] = {
                    k: meta.get(k)
                    for k in (
                        "row_count",
                        "split_sizes",
                        "purged",
                        "patient_overlap",
                        "content_digest",
                        "feature_service",
                        "delta_version",
                    )
                }
            if mat.asset_key.to_user_string().startswith("models/"):
                summary.models[mat.asset_key.to_user_string().removeprefix("models/")] = {
                    k: meta.get(k)
                    for k in (
                        "model_version",
                        "mlflow_run_id",
                        "best_val_auroc",
                        "best_epoch",
                        "model_uri",
                        "training_set_digest",
                        "fit_s",
                        "ray_start_s",
                    )
                }
            if mat.asset_key.to_user_string().startswith("evaluations/"):
                summary.evaluations[mat.asset_key.to_user_string().removeprefix("evaluations/")] = {
                    k: meta.get(k)
                    for k in (
                        "model_version",
                        "decision",
                        "promoted",
                        "champion_version",
                        "compared_with",
                        "test_rows",
                        "test_positives",
                        "metrics",
                        "reasons",
                        "artifacts",
                    )
                }
            if mat.asset_key.to_user_string().startswith("bentos/"):
                summary.bentos[mat.asset_key.to_user_string().removeprefix("bentos/")] = {
                    k: meta.get(k)
                    for k in (
                        "bento_tag",
                        "model_version",
                        "threshold",
                        "feature_service",
                        "training_set_digest",
                        "landing_snapshot_id",
                    )
                }
            if mat.asset_key.to_user_string() == "feast/online_store":
                summary.online_store = {
                    k: meta.get(k)
                    for k in (
                        "online_store",
                        "materialized_until",
                        "materialized_views",
                        "entities",
                    )
                }
            if mat.asset_key.to_user_string() == "silver/deid_reports":
                summary.deid = {
                    k: meta.get(k)
                    for k in (
                        "deid_policy_version",
                        "date_mode",
                        "deid_key_fingerprint",
                        "replacements_total",
                        "replacements",
                        "k_min",
                        "k_share_below_5",
                    )
                }
        gate = [e for e in result.get_asset_check_evaluations() if e.check_name == "phi_leak_gate"]
        if gate:
            findings = [
                line
                for e in gate
                for line in str(_plain(e.metadata.get("findings", "none"))).splitlines()
                if line != "none"
            ]
            summary.gate = {
                "passed": all(e.passed for e in gate),
                "tables": len(gate),
                "patients_checked": max(
                    int(_plain(e.metadata.get("patients_checked", 0))) for e in gate
                ),
                "leaked_values": sum(int(_plain(e.metadata.get("leaked_values", 0))) for e in gate),
                "findings": findings,
            }
        for evaluation in result.get_asset_check_evaluations():
            summary.checks.append(
                {
                    "check": f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}",
                    "passed": evaluation.passed,
                    "severity": evaluation.severity.value,
                }
            )
        if not result.success:
            judge(
                summary,
                [r.dagster_event for r in instance.all_logs(result.run_id) if r.dagster_event],
            )
            failures = [e for e in result.all_events if e.is_failure and e.step_key] or [
                e for e in result.all_events if e.is_failure
            ]  # the run-level failure repeats the first step's: only when no step failed
            summary.failure = (
                "; ".join(
                    f"{e.step_key}: {_root_cause(e.event_specific_data.error)}"
                    if getattr(e.event_specific_data, "error", None)
                    else str(e.message)
                    for e in failures
                )
                or "run failed"
            )
    return summary
