"""Walk the recorded lineage of a training set back to the landing snapshot, through Delta commit metadata.

Every asset stamps its commit with what it read (see DESIGN.md, the lineage contract): the training set
records its gold sources and the silver versions behind them, each silver commit records the bronze
versions it read and the de-identification policy and key fingerprint, each bronze commit the landing
snapshot id. ``training_set_lineage`` follows those links (never "latest") and returns flat string tags,
the form MLflow runs and model versions carry.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from lakehouse.delta import DeltaRef, commit_metadata_of


class LineageError(RuntimeError):
    """A link in the chain is missing: names the table and version whose commit lacks it."""


def _json(meta: dict[str, Any], key: str, where: str) -> Any:
    if key not in meta:
        raise LineageError(f"{where}: the commit records no {key!r}")
    return orjson.loads(meta[key])


def training_set_lineage(ref: DeltaRef, silver_dir: Path | str, bronze_dir: Path | str) -> dict[str, str]:
    """Tags ``lineage.*`` for the pinned training set ``ref``."""
    where = f"{ref.uri}@{ref.version}"
    meta = commit_metadata_of(ref.uri, ref.version)
    tags = {
        "lineage.training_set.uri": ref.uri, "lineage.training_set.version": str(ref.version),
        "lineage.training_set.digest": meta.get("content_digest", ""),
        "lineage.feature_service": meta.get("feature_service", ""),
        "lineage.task": meta.get("task", ""), "lineage.task_version": meta.get("task_version", ""),
        "lineage.training_set.dagster_run_id": meta.get("dagster_run_id", ""),
    }
    if not tags["lineage.training_set.digest"]:
        raise LineageError(f"{where}: the commit records no content digest")
    upstream = _json(meta, "upstream_versions", where)
    for name, source in upstream["gold"].items():
        tags[f"lineage.gold.{name}"] = str(source["version"])
    bronze: dict[str, int] = {}
    policies, fingerprints = set(), set()
    for name, version in upstream["silver"].items():
        tags[f"lineage.silver.{name}"] = str(version)
        silver_meta = commit_metadata_of(str(Path(silver_dir) / name), int(version))
        bronze.update(_json(silver_meta, "bronze_versions", f"silver/{name}@{version}"))
        policies.add(silver_meta.get("deid_policy_version"))
        fingerprints.add(silver_meta.get("deid_key_fingerprint"))
    if len(policies) != 1 or len(fingerprints) != 1 or None in policies | fingerprints:
        raise LineageError(f"{where}: its silver tables disagree on the de-identification policy or key "
                           f"({sorted(map(str, policies))}, {sorted(map(str, fingerprints))})")
    tags["lineage.deid.policy_version"] = policies.pop()
    tags["lineage.deid.key_fingerprint"] = fingerprints.pop()
    # a bronze table a later snapshot did not change keeps the commit (and snapshot id) of an earlier one:
    # the data state is that of the newest snapshot ingested
    snapshots: dict[str, int] = {}
    for name, version in sorted(bronze.items()):
        tags[f"lineage.bronze.{name}"] = str(version)
        bronze_meta = commit_metadata_of(str(Path(bronze_dir) / name), int(version))
        if bronze_meta.get("snapshot_id"):
            snapshot = bronze_meta["snapshot_id"]
            snapshots[snapshot] = max(snapshots.get(snapshot, 0), int(bronze_meta.get("timestamp", 0)))
    if not snapshots:
        raise LineageError(f"{where}: none of its bronze commits records a landing snapshot id")
    ordered = sorted(snapshots, key=lambda sid: snapshots[sid])
    tags["lineage.landing.snapshot_id"] = ordered[-1]
    tags["lineage.landing.snapshot_ids"] = ",".join(ordered)
    return tags
