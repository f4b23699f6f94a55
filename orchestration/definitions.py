"""The single Dagster entry point (`dagster dev -m orchestration.definitions`, `[tool.dagster]`)."""

from __future__ import annotations

import warnings

from dagster import AssetSelection, BetaWarning, Definitions, define_asset_job

from assets.deid import DEID_ASSETS, DEID_CHECKS
from assets.evaluation import EVALUATION_ASSETS, EVALUATION_CHECKS
from assets.feature_store import FEAST_ASSETS
from assets.features import FEATURE_ASSETS, FEATURE_CHECKS
from assets.ingestion import bronze_tables, landing_snapshot
from assets.ingestion_checks import INGESTION_CHECKS
from assets.models import MODEL_ASSETS
from assets.monitoring import MONITORING_ASSETS
from assets.serving import BENTO_ASSETS
from assets.training_set import TRAINING_SET_ASSETS, TRAINING_SET_CHECKS, training_set_key
from features.tasks import TASKS
from orchestration.automation import JOBS as AUTOMATION_JOBS
from orchestration.automation import SCHEDULES, SENSORS
from orchestration.io_manager import RefIOManager
from orchestration.openlineage_hooks import OPENLINEAGE_HOOKS
from orchestration.resources import PlatformResource

# Output(data_version=...) is how assets record their Delta version; Dagster still labels it beta
warnings.filterwarnings("ignore", category=BetaWarning, message=".*data_version.*")

PIPELINE_JOB = "clinical_pipeline"
FEATURE_JOB = "feature_refresh"

clinical_pipeline = define_asset_job(
    PIPELINE_JOB,
    selection=AssetSelection.all(),
    description="Materialize the whole graph built so far, checks included (the README's demo).",
)

feature_refresh = define_asset_job(
    FEATURE_JOB,
    selection=AssetSelection.all() - AssetSelection.assets(*map(training_set_key, TASKS)).downstream(),
    description="Landing through the online store (checks included): refresh the serving features without "
                "rebuilding training sets or models.",
)

# OpenLineage hooks on the assets themselves, not on jobs: every job runs them, including the ad-hoc asset job
# the UI's Materialize button launches
ASSETS = [a.with_hooks(OPENLINEAGE_HOOKS) for a in (
    landing_snapshot, bronze_tables, *DEID_ASSETS, *FEATURE_ASSETS, *FEAST_ASSETS, *TRAINING_SET_ASSETS,
    *MODEL_ASSETS, *EVALUATION_ASSETS, *BENTO_ASSETS, *MONITORING_ASSETS)]

defs = Definitions(
    assets=ASSETS,
    asset_checks=[*INGESTION_CHECKS, *DEID_CHECKS, *FEATURE_CHECKS, *TRAINING_SET_CHECKS, *EVALUATION_CHECKS],
    jobs=[clinical_pipeline, feature_refresh, *AUTOMATION_JOBS],
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources={"platform": PlatformResource(), "io_manager": RefIOManager()},
)
