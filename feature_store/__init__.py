"""Feast feature store over the gold Delta tables: entity ``patient``, one FeatureView per gold table
(TTL from its spec), one FeatureService per task version; point-in-time correct offline retrieval (DuckDB
store over pinned-version snapshots), SQLite (default) or Redis online store under the Feast home.

Names are imported lazily: ``import feast`` takes seconds, and ``feature_store.asof`` or the config
helpers must not pay for it.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "PROJECT": "config",
    "StoreConfig": "config",
    "open_store": "config",
    "write_feature_store_yaml": "config",
    "build_definitions": "definitions",
    "export_snapshot": "offline",
    "get_historical_features": "offline",
    "get_online_features": "online",
    "get_online_columns": "online",
    "materialize": "online",
    "EPOCH": "online",
    "asof_join": "asof",
    "sync_repository": "repository",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
