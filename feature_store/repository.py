"""One call that brings the Feast repository in line with pinned gold tables: export each pinned Delta
version to its parquet snapshot, (re)build the definitions and apply them to the registry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from features.spec import FeatureViewSpec
from lakehouse.delta import DeltaRef

from .config import StoreConfig, open_store
from .definitions import Definitions, apply, build_definitions
from .offline import export_snapshot


def sync_repository(
    cfg: StoreConfig,
    specs: Sequence[FeatureViewSpec],
    refs: Mapping[str, DeltaRef],
    services: Mapping[str, Sequence[str]],
):
    """Returns ``(store, definitions)``. ``refs``: view name -> pinned gold version (its lineage is tagged
    on the view as ``delta_uri``/``delta_version``)."""
    store = open_store(cfg)
    sources = {name: export_snapshot(ref, cfg.offline_dir) for name, ref in refs.items()}
    tags = {
        name: {"delta_uri": ref.uri, "delta_version": str(ref.version)}
        for name, ref in refs.items()
    }
    defs: Definitions = build_definitions(specs, sources, services, tags)
    apply(store, defs)
    return store, defs
