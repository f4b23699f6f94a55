"""Feast repository configuration under the Feast home (``settings.feast_home``).

The ``feature_store.yaml`` is generated, never hand-edited: a file registry and the SQLite online store
live under the Feast home; Redis is the production online store when a URL is given; ``packed`` is our own
SQLite online store, one row per (patient, feature view) (``feature_store.packed_store``). The offline store
is Feast's DuckDB store (ibis), whose point-in-time join keeps entity rows without a feature inside the
TTL (nulls) and never joins a value stamped after the entity timestamp (``tests/integration/
test_feature_store_pit.py`` proves it). Its sources are parquet snapshots of pinned Delta versions
(``offline.export_snapshot``), so the Delta transaction log is honoured.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

import yaml

PROJECT = "clinical_mlops"
OnlineStoreKind = Literal["sqlite", "redis", "packed"]
PACKED_STORE_TYPE = "feature_store.packed_store.PackedSqliteOnlineStore"


def _quiet_feast() -> None:
    # Feast 0.67 has no usage telemetry module left, but older releases read FEAST_USAGE; keep it off.
    os.environ.setdefault("FEAST_USAGE", "False")
    os.environ.setdefault("FEAST_TELEMETRY", "False")


@dataclass(frozen=True)
class StoreConfig:
    """Where and how the Feast repository lives. ``home`` is ``settings.feast_home``."""

    home: Path
    project: str = PROJECT
    online_store: OnlineStoreKind = "sqlite"
    redis_url: str | None = (
        None  # redis://[:password@]host:port[/db]; required when online_store="redis"
    )
    registry_cache_ttl_seconds: int = (
        60  # other processes see an apply within this (0 = never refresh)
    )
    offline_store: Literal["duckdb", "file"] = (
        "duckdb"  # "file" (Feast's Dask store) only to show its bugs
    )

    @property
    def yaml_path(self) -> Path:
        return Path(self.home) / "feature_store.yaml"

    @property
    def registry_path(self) -> Path:
        return Path(self.home) / "registry" / "registry.pb"

    @property
    def online_path(self) -> Path:
        return Path(self.home) / "online" / "online.db"

    @property
    def packed_online_path(self) -> Path:
        """The packed store's SQLite file (``online_store="packed"``), beside Feast's layout's file."""
        return Path(self.home) / "online" / "online-packed.db"

    @property
    def offline_dir(self) -> Path:
        return Path(self.home) / "offline"


def redis_connection_string(url: str) -> str:
    """``redis://:pw@host:port/db`` -> Feast's ``host:port,db=N[,password=...]``."""
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss"):
        raise ValueError(f"redis_url must be redis://host:port[/db], got {url!r}")
    parts = [f"{parsed.hostname or '127.0.0.1'}:{parsed.port or 6379}"]
    db = (parsed.path or "/").strip("/")
    if db:
        parts.append(f"db={int(db)}")
    if parsed.password:
        parts.append(f"password={parsed.password}")
    if parsed.scheme == "rediss":
        parts.append("ssl=true")
    return ",".join(parts)


def repo_config_dict(cfg: StoreConfig) -> dict:
    if cfg.online_store == "redis":
        if not cfg.redis_url:
            raise ValueError("online_store='redis' needs redis_url (redis://host:port/db)")
        online = {"type": "redis", "connection_string": redis_connection_string(cfg.redis_url)}
    elif cfg.online_store == "sqlite":
        online = {"type": "sqlite", "path": str(cfg.online_path)}
    elif cfg.online_store == "packed":  # one row per (patient, view): feature_store/packed_store.py
        online = {"type": PACKED_STORE_TYPE, "path": str(cfg.packed_online_path)}
    else:
        raise ValueError(f"unknown online store {cfg.online_store!r} (sqlite|redis|packed)")
    return {
        "project": cfg.project,
        "provider": "local",
        "registry": {
            "registry_type": "file",
            "path": str(cfg.registry_path),
            "cache_ttl_seconds": cfg.registry_cache_ttl_seconds,
        },
        "offline_store": {"type": cfg.offline_store},
        "online_store": online,
        "entity_key_serialization_version": 3,
    }


def write_feature_store_yaml(cfg: StoreConfig) -> Path:
    """Create the Feast home layout and (re)write its ``feature_store.yaml``; returns its path."""
    for d in (cfg.registry_path.parent, cfg.online_path.parent, cfg.offline_dir):
        d.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(repo_config_dict(cfg), sort_keys=False)
    if not cfg.yaml_path.exists() or cfg.yaml_path.read_text() != text:
        cfg.yaml_path.write_text(text)
    return cfg.yaml_path


def open_store(cfg: StoreConfig):
    """A ``feast.FeatureStore`` over the generated repository (writes the yaml first)."""
    _quiet_feast()
    write_feature_store_yaml(cfg)
    from feast import FeatureStore

    return FeatureStore(repo_path=str(cfg.home))
