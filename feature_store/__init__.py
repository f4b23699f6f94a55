"""Feast feature store over the gold Delta tables: entity ``patient``, one FeatureView per gold table
(TTL from its spec), one FeatureService per task version; point-in-time correct offline retrieval (DuckDB
store over pinned-version snapshots), SQLite (default) or Redis online store under the Feast home."""

from .asof import asof_join
from .config import PROJECT, StoreConfig, open_store, write_feature_store_yaml
from .definitions import build_definitions
from .offline import export_snapshot, get_historical_features
from .online import EPOCH, get_online_features, materialize
from .repository import sync_repository

__all__ = ["PROJECT", "StoreConfig", "open_store", "write_feature_store_yaml", "build_definitions",
           "export_snapshot", "get_historical_features", "get_online_features", "materialize", "EPOCH",
           "asof_join", "sync_repository"]
