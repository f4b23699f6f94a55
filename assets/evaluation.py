"""Evaluation: each new model version on its held-out temporal test split, against the current champion on
the same rows; the champion/challenger gate moves the MLflow alias. The check says what the gate decided and
why, read back from the registry.
"""

import base64

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    MetadataValue,
    Output,
    asset,
    asset_check,
)

from assets.models import model_key
from assets.resources import PlatformResource, commit_metadata
from assets.retries import SERVICE_RETRY
from evaluation.refs import EvaluationRef
from features.tasks import TASKS, TaskDefinition
from training.refs import ModelRef


def evaluation_key(task: TaskDefinition) -> AssetKey:
    return AssetKey(["evaluations", task.registered_model])


def _images(plots: dict) -> str:
    """Plots as markdown images (data URIs): the Dagster UI shows them in the asset's metadata."""
    return "\n\n".join(
        f"**{name}**\n\n![{name}](data:image/png;base64,{base64.b64encode(path.read_bytes()).decode()})"
        for name, path in plots.items()
    )


def _evaluation_asset(task: TaskDefinition):
    @asset(
        key=evaluation_key(task),
        group_name="evaluation",
        kinds={"mlflow", "delta"},
        retry_policy=SERVICE_RETRY,
        ins={"model": AssetIn(key=model_key(task))},
        description=f"{task.registered_model}: test-split metrics with bootstrap 95% CIs, subgroups, operating "
        "point, plots and model card; champion/challenger gate against the current champion.",
    )
    def model_evaluation(
        context: AssetExecutionContext, platform: PlatformResource, model: ModelRef
    ) -> Output:
        from evaluation.workflow import (  # lazy: imports torch, lightning, scikit-learn
            evaluate_candidate,
        )

        settings = platform.settings
        key = evaluation_key(task).to_user_string()
        out_dir = (
            settings.gold
            / "evaluation_artifacts"
            / model.name
            / f"v{model.version}-{context.run.run_id[:8]}"
        )
        outcome = evaluate_candidate(
            tracking_uri=model.tracking_uri,
            name=model.name,
            version=model.version,
            run_id=model.run_id,
            task=task,
            silver_dir=settings.silver,
            gold_dir=settings.gold,
            out_dir=out_dir,
            n_boot=settings.eval_bootstrap,
            seed=settings.train_seed,
            commit=commit_metadata(context, key),
        )
        report, decision = outcome.report, outcome.decision
        context.log.info(
            f"{model.name} v{model.version} -> {decision.alias}: " + "; ".join(decision.reasons)
        )
        metrics = {k: v.to_dict() for k, v in report.metrics.items() if v is not None}
        ref = EvaluationRef(
            model=model,
            alias=decision.alias,
            promoted=decision.promoted,
            champion_version=outcome.champion_version,
            compared_with=outcome.compared_with,
            evaluations=outcome.evaluations,
        )
        return Output(
            ref,
            metadata={
                "model_version": model.version,
                "decision": decision.alias,
                "promoted": decision.promoted,
                "champion_version": outcome.champion_version or "none",
                "compared_with": outcome.compared_with or "none",
                "reasons": MetadataValue.md("\n".join(f"- {r}" for r in decision.reasons)),
                "test_rows": report.n,
                "test_positives": report.positives,
                "metrics": MetadataValue.json(metrics),
                "evaluations_table": MetadataValue.path(outcome.evaluations.uri),
                "evaluations_version": outcome.evaluations.version,
                "artifacts": MetadataValue.path(str(out_dir)),
                "model_card": MetadataValue.md(outcome.card),
                "plots": MetadataValue.md(_images(outcome.plots)),
                # what it read, with versions: the model version (above), its pinned training set, silver patients
                "training_set_digest": outcome.lineage.get("lineage.training_set.digest", ""),
                "training_set": (
                    f"{outcome.lineage['lineage.training_set.uri']}"
                    f"@v{outcome.lineage['lineage.training_set.version']}"
                ),
                "silver_patients_version": int(outcome.lineage["lineage.silver.patients"]),
            },
        )

    @asset_check(
        asset=evaluation_key(task),
        name="champion_gate",
        description="Did the evaluated version become champion? WARN with the gate's reasons when it "
        "became challenger (the previous champion keeps serving).",
    )
    def champion_gate(evaluation: EvaluationRef) -> AssetCheckResult:
        from evaluation.registry import (  # lazy: imports torch, scikit-learn
            CHAMPION,
            alias_version,
            version_tags,
        )

        model = evaluation.model
        tags = version_tags(model.tracking_uri, model.name, model.version)
        champion = alias_version(model.tracking_uri, model.name, CHAMPION)
        reasons = tags.get("gate.reasons", "no gate decision recorded on the version").split("; ")
        promoted = champion == model.version
        return AssetCheckResult(
            passed=promoted,
            severity=AssetCheckSeverity.WARN,
            metadata={
                "alias": tags.get("gate.alias", "none"),
                "decision": tags.get("gate.decision", "not evaluated"),
                "champion_version": champion or "none",
                "reasons": MetadataValue.md("\n".join(f"- {r}" for r in reasons)),
            },
        )

    return model_evaluation, champion_gate


_BUILT = [_evaluation_asset(task) for task in TASKS.values() if task.train]
EVALUATION_ASSETS = [a for a, _ in _BUILT]
EVALUATION_CHECKS = [c for _, c in _BUILT]
