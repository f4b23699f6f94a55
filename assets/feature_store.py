"""Feast stage: apply the repository over the pinned gold feature tables, then materialize the online store."""

from datetime import timedelta

import polars as pl
from dagster import (
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    DataVersion,
    MetadataValue,
    Output,
    asset,
)

from assets.features import feature_key
from assets.resources import PlatformResource
from assets.retries import SERVICE_RETRY
from feature_store.config import open_store
from feature_store.refresh import refresh_online_store
from feature_store.refs import FeastRef
from feature_store.runtime import store_config, task_services
from features.build import FEATURE_VIEWS, VIEWS
from features.spec import ENTITY_KEY, EVENT_TIMESTAMP
from lakehouse.delta import DeltaRef

REGISTRY_KEY = AssetKey(["feast", "registry"])
ONLINE_KEY = AssetKey(["feast", "online_store"])


@asset(
    key=REGISTRY_KEY,
    group_name="feast",
    kinds={"feast"},
    retry_policy=SERVICE_RETRY,
    ins={view.name: AssetIn(key=feature_key(view.name)) for view in FEATURE_VIEWS},
    description="feast apply: entity patient, one feature view per gold table (sources: parquet snapshots "
    "of the pinned Delta versions), one FeatureService per task version.",
)
def feast_registry(
    context: AssetExecutionContext, platform: PlatformResource, **views: DeltaRef
) -> Output[FeastRef]:
    from feature_store.repository import sync_repository  # lazy: imports feast (~7 s)

    config = store_config(platform.settings)
    services = task_services()
    sync_repository(config, [VIEWS[name] for name in views], views, services)
    versions = {name: ref.version for name, ref in sorted(views.items())}
    ref = FeastRef(
        home=str(config.home),
        project=config.project,
        views=versions,
        services=services,
        online_store=config.online_store,
    )
    return Output(
        ref,
        data_version=DataVersion(",".join(f"{n}={v}" for n, v in versions.items())),
        metadata={
            "registry": MetadataValue.path(str(config.registry_path)),
            "project": config.project,
            "gold_versions": MetadataValue.json(versions),
            "feature_services": MetadataValue.json(services),
            "online_store": config.online_store,
        },
    )


@asset(
    key=ONLINE_KEY,
    group_name="feast",
    kinds={"feast"},
    retry_policy=SERVICE_RETRY,
    ins={
        "registry": AssetIn(key=REGISTRY_KEY),
        **{view.name: AssetIn(key=feature_key(view.name)) for view in FEATURE_VIEWS},
    },
    description="Materialize the latest feature row per patient into the online store (incremental: each "
    "view resumes where its last window ended, or earlier where a new gold version changed rows).",
)
def feast_online_store(
    context: AssetExecutionContext,
    platform: PlatformResource,
    registry: FeastRef,
    **views: DeltaRef,
) -> Output[FeastRef]:
    keys = [
        pl.from_arrow(ref.read(columns=[ENTITY_KEY, EVENT_TIMESTAMP])) for ref in views.values()
    ]
    latest = [k[EVENT_TIMESTAMP].max() for k in keys if k.height]
    if not latest:
        context.log.warning("the gold feature tables are empty: nothing to materialize")
        return Output(registry, metadata={"materialized_views": 0, "entities": 0})
    end = max(latest) + timedelta(seconds=1)
    config = store_config(platform.settings)
    report = refresh_online_store(open_store(config), config, views, end)
    return Output(
        registry,
        metadata={
            "online_store": registry.online_store,
            "materialized_until": end.isoformat(),
            "windows": MetadataValue.json(report),
            "materialized_views": sum(1 for r in report.values() if r["window"]),
            "gold_versions": MetadataValue.json(registry.views),
            "entities": pl.concat([k.select(ENTITY_KEY) for k in keys]).n_unique(),
        },
    )


FEAST_ASSETS = [feast_registry, feast_online_store]
