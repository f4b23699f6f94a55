"""Run the Dagster graph in process against the persistent local instance (what `pipeline run` does)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from dagster import DagsterInstance

from clinical_mlops.settings import Settings

DAGSTER_YAML = """# written by clinical-mlops: local SQLite instance under the lakehouse home
telemetry:
  enabled: false
"""


def prepare_dagster_home(settings: Settings) -> None:
    """Create the Dagster home with its config; point this process (and its children) at it."""
    settings.ensure_layout()
    config = settings.dagster_home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)
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

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "success": self.success, "failure": self.failure,
                "assets": self.assets, "checks": self.checks}


def _plain(value: Any) -> Any:
    return getattr(value, "value", value)


def run_pipeline(settings: Settings, job_name: str | None = None, log_level: str = "WARNING") -> PipelineSummary:
    """Execute the job in this process; the full event log lands in the Dagster instance (see the UI)."""
    from orchestration.definitions import PIPELINE_JOB, defs

    prepare_dagster_home(settings)
    with DagsterInstance.get() as instance:
        job = defs.resolve_job_def(job_name or PIPELINE_JOB)
        run_config = {"loggers": {"console": {"config": {"log_level": log_level}}}}
        result = job.execute_in_process(instance=instance, raise_on_error=False, run_config=run_config)
        summary = PipelineSummary(run_id=result.run_id, success=result.success)
        for event in result.get_asset_materialization_events():
            mat = event.event_specific_data.materialization
            meta = {k: _plain(v) for k, v in mat.metadata.items()}
            summary.assets.append({
                "asset": mat.asset_key.to_user_string(),
                "data_version": mat.tags.get("dagster/data_version") if mat.tags else None,
                "delta_version": meta.get("delta_version", meta.get("manifest_delta_version")),
                "rows": meta.get("row_count"),
                "snapshot_id": meta.get("snapshot_id"),
                "table_uri": meta.get("table_uri", meta.get("manifest_table")),
            })
        for evaluation in result.get_asset_check_evaluations():
            summary.checks.append({
                "check": f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}",
                "passed": evaluation.passed,
                "severity": evaluation.severity.value,
            })
        if not result.success:
            failures = [e for e in result.all_events if e.is_failure]
            summary.failure = "; ".join(
                f"{e.step_key}: {e.event_specific_data.error.message.strip()}" if getattr(e.event_specific_data, "error", None)
                else str(e.message) for e in failures) or "run failed"
    return summary
