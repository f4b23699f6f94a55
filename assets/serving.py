"""Packaging: the champion of each trained task built into a Bento (BentoML store under CLINICAL_MLOPS_HOME),
with the model version, its operating threshold and its lineage pinned as template arguments and labels.

The champion is whatever the registry's ``champion`` alias points at after the evaluation decided: a
challenger leaves the previous champion's Bento in place (rebuilt only if the serving code changed). With no
champion at all (the first version failed the gate) nothing is built and the asset is skipped, not failed.
``clinical-mlops serve`` starts the Bento this asset built.
"""

from collections.abc import Iterator

from dagster import AssetExecutionContext, AssetIn, AssetKey, MetadataValue, Output, asset

from assets.evaluation import evaluation_key
from assets.resources import PlatformResource
from assets.retries import SERVICE_RETRY
from evaluation.refs import EvaluationRef
from features.tasks import TASKS, TaskDefinition
from serving.build import build_bento
from serving.refs import BentoRef


def bento_key(task: TaskDefinition) -> AssetKey:
    return AssetKey(["bentos", task.registered_model])


def _bento_asset(task: TaskDefinition):
    @asset(
        key=bento_key(task),
        group_name="serving",
        kinds={"bentoml"},
        output_required=False,
        retry_policy=SERVICE_RETRY,
        ins={"evaluation": AssetIn(key=evaluation_key(task))},
        description=f"The {task.registered_model} champion as a Bento: predict by patient pseudonym (Feast "
        f"online features, {task.feature_service}) or by feature row, each answer carrying the "
        "model version and its training data snapshot.",
    )
    def champion_bento(
        context: AssetExecutionContext, platform: PlatformResource, evaluation: EvaluationRef
    ) -> Iterator[Output]:
        from evaluation.registry import version_tags  # lazy: imports torch, scikit-learn

        settings = platform.settings
        model = evaluation.model
        if (
            evaluation.champion_version is None
        ):  # a decision, not a failure: nothing is served until a champion
            context.log.warning(
                f"{model.name} has no champion: version {model.version} became {evaluation.alias} "
                f"(the champion_gate check of {evaluation_key(task).to_user_string()} says why) and "
                "no earlier version holds the alias; no Bento is built"
            )
            return
        version = evaluation.champion_version
        tags = version_tags(model.tracking_uri, model.name, version)
        threshold = tags.get("eval.threshold")
        tag = build_bento(
            model.name,
            version,
            settings=settings,
            tracking_uri=model.tracking_uri,
            git_sha=tags.get("code.git_sha"),
            threshold=float(threshold) if threshold not in (None, "", "n/a") else None,
            max_batch=settings.serve_max_batch,
            max_body_bytes=settings.serve_max_request_bytes,
            timeout_s=settings.serve_timeout_s,
            enforce_ttl=settings.serving_enforces_ttl,
        )
        context.log.info(f"champion {model.name} v{version} packaged as Bento {tag}")
        ref = BentoRef(
            tag=tag,
            registered_model=model.name,
            model_version=version,
            task=task.name,
            feature_service=tags.get("lineage.feature_service", task.feature_service),
            training_set_digest=tags.get("lineage.training_set.digest", ""),
            landing_snapshot_id=tags.get("lineage.landing.snapshot_id", ""),
        )
        yield Output(
            ref,
            metadata={
                "bento_tag": tag,
                "model_version": version,
                "evaluated_version": model.version,
                "evaluated_became": evaluation.alias,
                "threshold": threshold or "none",
                "enforce_ttl": settings.serving_enforces_ttl,
                "feature_service": ref.feature_service,
                "training_set_digest": ref.training_set_digest,
                "landing_snapshot_id": ref.landing_snapshot_id,
                "bentoml_home": MetadataValue.path(str(settings.bentoml_home)),
                "serve": MetadataValue.md(
                    f"`clinical-mlops serve` (Bento `{tag}`, 127.0.0.1:{settings.serve_port})"
                ),
            },
        )

    return champion_bento


BENTO_ASSETS = [_bento_asset(task) for task in TASKS.values() if task.train]
