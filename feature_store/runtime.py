"""The store configuration and the FeatureServices a run uses, from the settings and the task definitions."""

from __future__ import annotations

from clinical_mlops.settings import Settings
from feature_store.config import StoreConfig
from features.tasks import TASKS


def store_config(settings: Settings) -> StoreConfig:
    redis_url = settings.redis_url.get_secret_value() if settings.redis_url else None
    if settings.online_store == "redis" and not redis_url:
        raise ValueError(
            "CLINICAL_MLOPS_ONLINE_STORE=redis needs CLINICAL_MLOPS_REDIS_URL (redis://host:port/db)"
        )
    return StoreConfig(
        home=settings.feast_home, online_store=settings.online_store, redis_url=redis_url
    )


def task_services() -> dict[str, list[str]]:
    """One FeatureService per task version (e.g. ``readmission_v1``) over the task's feature views."""
    return {task.feature_service: list(task.feature_views) for task in TASKS.values()}
