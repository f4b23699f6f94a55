"""Dagster resources: the platform settings (read when a run starts) and the commit-metadata helper."""

from __future__ import annotations

from typing import Any

from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr

from clinical_mlops.settings import Settings, load_settings
from lineage.code_version import code_version


class PlatformResource(ConfigurableResource):
    """Gives assets the typed settings. ``home`` overrides CLINICAL_MLOPS_HOME (tests use it)."""

    home: str | None = None
    _settings: Settings | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._settings = load_settings(home=self.home)
        self._settings.ensure_layout()

    @property
    def settings(self) -> Settings:
        if self._settings is None:  # used outside a run (e.g. a sensor evaluation)
            self._settings = load_settings(home=self.home)
        return self._settings


def commit_metadata(context: Any, asset_key: str, **extra: Any) -> dict[str, Any]:
    """What every Delta commit written by an asset carries: the Dagster run, asset key and code version."""
    return {"dagster_run_id": context.run.run_id, "asset_key": asset_key, **code_version(), **extra}
