"""The single Dagster entry point (`dagster dev -m orchestration.definitions`, `[tool.dagster]`)."""

from __future__ import annotations

import warnings

from dagster import (
    AssetSelection,
    BetaWarning,
    Definitions,
    define_asset_job,
    load_asset_checks_from_package_module,
    load_assets_from_package_module,
)

import assets
from assets.io_manager import RefIOManager
from assets.resources import PlatformResource
from assets.training_set import training_set_key
from features.tasks import TASKS
from orchestration.automation import JOBS as AUTOMATION_JOBS
from orchestration.automation import SCHEDULES, SENSORS
from orchestration.openlineage_hooks import OPENLINEAGE_HOOKS

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
    selection=AssetSelection.all()
    - AssetSelection.assets(*map(training_set_key, TASKS)).downstream(),
    description="Landing through the online store (checks included): refresh the serving features without "
    "rebuilding training sets or models.",
)

# Every asset and check of every stage module under assets/ (one module per stage): adding an asset to its
# stage's module is all it takes; tests/snapshots/definitions.json shows the change for review.
# OpenLineage hooks go on the assets themselves, not on jobs: every job runs them, including the ad-hoc asset
# job the UI's Materialize button launches.
ASSETS = [a.with_hooks(OPENLINEAGE_HOOKS) for a in load_assets_from_package_module(assets)]
ASSET_CHECKS = load_asset_checks_from_package_module(assets)

defs = Definitions(
    assets=ASSETS,
    asset_checks=ASSET_CHECKS,
    jobs=[clinical_pipeline, feature_refresh, *AUTOMATION_JOBS],
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources={"platform": PlatformResource(), "io_manager": RefIOManager()},
)
