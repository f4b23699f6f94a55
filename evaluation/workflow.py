"""Evaluate a registered version on its held-out temporal test split, compare it with the current champion on
the same rows, decide the gate and record everything: what the evaluation asset calls.

Order matters for auditability: the evaluation row is written to ``gold/model_evaluations`` first, then the
MLflow run and version get the metrics, plots, model card and tags (naming that row's Delta version), and
the alias moves last. A failure before the alias leaves the previous champion serving.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from evaluation.dataset import ATTRIBUTES, evaluation_data
from evaluation.gate import GateDecision, GatePolicy, decide
from evaluation.metrics import paired_difference
from evaluation.model_card import model_card
from evaluation.plots import render_plots
from evaluation.registry import (
    CHAMPION,
    alias_version,
    client,
    load_version,
    record,
    score,
    version_tags,
)
from evaluation.report import EvaluationReport, evaluate
from features.tasks import TaskDefinition
from lakehouse.delta import DeltaRef, write

EVALUATIONS_TABLE = "model_evaluations"
INTENDED_USE = (
    "Decision support for care-transition planning at inpatient discharge: ranks adult inpatients by "
    "their risk of an unplanned readmission within 30 days so that a care team can prioritise "
    "follow-up. Not a diagnosis and not a reason to withhold care."
)


@dataclass
class EvaluationOutcome:
    report: EvaluationReport
    champion_report: EvaluationReport | None
    decision: GateDecision
    compared_with: str | None  # the champion before the decision
    champion_version: str | None  # the champion after it
    plots: dict[str, Path]
    card: str
    evaluations: DeltaRef
    lineage: dict[str, str]


def evaluate_candidate(
    *,
    tracking_uri: str,
    name: str,
    version: str,
    run_id: str,
    task: TaskDefinition,
    silver_dir: Path,
    gold_dir: Path,
    out_dir: Path,
    n_boot: int = 1000,
    seed: int = 0,
    commit: Mapping[str, Any] | None = None,
) -> EvaluationOutcome:
    """Evaluate ``name`` v``version`` (trained in MLflow run ``run_id``) and move its alias.

    The rows are the validation (threshold choice) and test (every reported figure) splits of the version's
    own pinned training set, read through the lineage its tags recorded, never "latest"."""
    lineage = {
        k: v
        for k, v in version_tags(tracking_uri, name, version).items()
        if k.startswith("lineage.")
    }
    for key in (
        "lineage.training_set.uri",
        "lineage.training_set.version",
        "lineage.silver.patients",
    ):
        if key not in lineage:
            raise ValueError(
                f"model {name} v{version} has no tag {key!r}: cannot find the data it was trained on"
            )
    data = evaluation_data(
        lineage["lineage.training_set.uri"],
        int(lineage["lineage.training_set.version"]),
        task.name,
        silver_dir,
        int(lineage["lineage.silver.patients"]),
    )

    def scored(model) -> tuple[pl.DataFrame, pl.DataFrame]:
        return tuple(
            rows.with_columns(score=pl.Series(score(model, rows, task.name)))
            for rows in (data.validation, data.test)
        )

    split_digest = f"{lineage.get('lineage.training_set.digest', '')}@v{lineage['lineage.training_set.version']}:test"

    def report_of(
        validation: pl.DataFrame, test: pl.DataFrame, model_version: str
    ) -> EvaluationReport:
        return evaluate(
            test,
            validation,
            task.operating_point,
            model_name=name,
            model_version=model_version,
            n_boot=n_boot,
            seed=seed,
            attributes=ATTRIBUTES,
            split_digest=split_digest,
        )

    validation, test = scored(load_version(tracking_uri, name, version))
    report = report_of(validation, test, version)
    previous = alias_version(tracking_uri, name, CHAMPION)
    compared_with = previous if previous and previous != version else None
    champion_report, paired = None, None
    if compared_with:
        champion_validation, champion_test = scored(load_version(tracking_uri, name, compared_with))
        champion_report = report_of(champion_validation, champion_test, compared_with)
        paired = {
            metric: paired_difference(
                test["label"].to_numpy(),
                test["score"].to_numpy(),
                champion_test["score"].to_numpy(),
                metric=metric,
                n_boot=n_boot,
                seed=seed,
            )
            for metric in ("auroc", "brier")
        }
    decision = decide(
        report, champion_report, GatePolicy.from_operating_point(task.operating_point), paired
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    plots = render_plots(test, report, out_dir)
    card = model_card(
        report,
        task_description=task.description,
        intended_use=INTENDED_USE,
        lineage=lineage,
        decision=decision,
        training={
            "registered_model": name,
            "version": version,
            "run_id": run_id,
            "task": f"{task.name} {task.version}",
            "compared_with": compared_with or "none",
        },
    )
    (out_dir / "model_card.md").write_text(card)
    document = {
        "candidate": report.to_dict(),
        "champion": champion_report.to_dict() if champion_report else None,
        "decision": decision.to_dict(),
        "compared_with": compared_with,
        "lineage": lineage,
    }
    (out_dir / "evaluation.json").write_text(json.dumps(document, indent=1, default=str))

    evaluations = _write_row(
        gold_dir,
        name,
        version,
        run_id,
        task,
        report,
        decision,
        compared_with,
        lineage,
        document,
        commit or {},
    )
    champion_after = version if decision.promoted else previous
    tags = {
        **report.flat_tags(),
        **decision.tags(),
        "evaluation.table": evaluations.uri,
        "evaluation.table_version": str(evaluations.version),
        "evaluation.compared_with": compared_with or "none",
    }
    metrics = {
        f"test_{k}": v.estimate
        for k, v in report.metrics.items()
        if v is not None and v.estimate is not None
    }
    record(
        tracking_uri,
        name,
        version,
        run_id,
        alias=decision.alias,
        tags=tags,
        metrics=metrics,
        artifacts=out_dir,
        description=card,
    )
    if not decision.promoted and previous == version:
        # the champion itself re-evaluated and now below the floors: it must not keep serving
        client(tracking_uri).delete_registered_model_alias(name, CHAMPION)
        champion_after = None
    return EvaluationOutcome(
        report,
        champion_report,
        decision,
        compared_with,
        champion_after,
        plots,
        card,
        evaluations,
        lineage,
    )


def _write_row(
    gold_dir: Path,
    name: str,
    version: str,
    run_id: str,
    task: TaskDefinition,
    report: EvaluationReport,
    decision: GateDecision,
    compared_with: str | None,
    lineage: Mapping[str, str],
    document: Mapping[str, Any],
    commit: Mapping[str, Any],
) -> DeltaRef:
    """Append this evaluation to ``gold/model_evaluations`` (one row per evaluated version and run)."""

    def estimate(metric: str) -> float | None:
        value = report.metrics.get(metric)
        return None if value is None else value.estimate

    row = {
        "evaluated_at": datetime.now(UTC),
        "registered_model": name,
        "model_version": version,
        "mlflow_run_id": run_id,
        "task": task.name,
        "task_version": task.version,
        "training_set_uri": lineage["lineage.training_set.uri"],
        "training_set_version": int(lineage["lineage.training_set.version"]),
        "training_set_digest": lineage.get("lineage.training_set.digest", ""),
        "landing_snapshot_id": lineage.get("lineage.landing.snapshot_id", ""),
        "test_rows": report.n,
        "test_positives": report.positives,
        "auroc": estimate("auroc"),
        "auprc": estimate("auprc"),
        "brier": estimate("brier"),
        "decision": decision.alias,
        "promoted": decision.promoted,
        "compared_with": compared_with,
        "reasons": json.dumps(decision.reasons),
        "report_json": json.dumps(document, default=str),
    }
    frame = pl.DataFrame(
        [row],
        schema_overrides={
            "evaluated_at": pl.Datetime("us", "UTC"),
            "auroc": pl.Float64,
            "auprc": pl.Float64,
            "brier": pl.Float64,
            "compared_with": pl.String,
        },
    )
    uri = str(gold_dir / EVALUATIONS_TABLE)
    return write(
        uri,
        frame.to_arrow(),
        mode="append",
        table=EVALUATIONS_TABLE,
        metadata={
            **dict(commit),
            "registered_model": name,
            "model_version": version,
            "training_set_version": lineage["lineage.training_set.version"],
            "silver_versions": json.dumps({"patients": int(lineage["lineage.silver.patients"])}),
            "compared_with": compared_with or "",
            "decision": decision.alias,
        },
    )
