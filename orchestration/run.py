"""Run the Dagster graph in process against the persistent local instance (what `pipeline run` does)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from dagster import DagsterInstance

from clinical_mlops.settings import Settings, postgres_driver_url

DAGSTER_YAML = """# written by clinical-mlops: local SQLite instance under the lakehouse home
telemetry:
  enabled: false
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
    return DAGSTER_YAML + POSTGRES_STORAGE if settings.dagster_postgres_url else DAGSTER_YAML


def prepare_dagster_home(settings: Settings) -> None:
    """Create the Dagster home with its config (rewritten whenever the configured storage changes); point this
    process (and its children) at it."""
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


def run_pipeline(
    settings: Settings, job_name: str | None = None, log_level: str = "WARNING"
) -> PipelineSummary:
    """Execute the job in this process; the full event log lands in the Dagster instance (see the UI)."""
    from orchestration.definitions import (  # lazy: cycle (definitions -> automation -> run); loads every asset
        PIPELINE_JOB,
        defs,
    )

    prepare_dagster_home(settings)
    with DagsterInstance.get() as instance:
        job = defs.resolve_job_def(job_name or PIPELINE_JOB)
        run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
        result = job.execute_in_process(
            instance=instance, raise_on_error=False, run_config=run_config
        )
        summary = PipelineSummary(run_id=result.run_id, success=result.success)
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
            failures = [e for e in result.all_events if e.is_failure]
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
