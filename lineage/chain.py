"""Walk the recorded lineage of a training set back to the landing snapshot, through Delta commit metadata.

Every asset stamps its commit with what it read (docs/design.md, "Zones and the lineage contract"):
the training set records its gold sources and the silver versions behind them; each silver commit records
the bronze versions it read, the landing snapshot they reflect, the de-identification policy and the key
fingerprint. ``training_set_lineage`` follows those links (never "latest") and returns flat string tags,
the form MLflow runs and model versions carry. It never opens bronze, not even its log: the ML side of
the platform stays above silver.
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


def training_set_lineage(ref: DeltaRef, silver_dir: Path | str) -> dict[str, str]:
    """Tags ``lineage.*`` for the pinned training set ``ref``."""
    where = f"{ref.uri}@{ref.version}"
    meta = commit_metadata_of(ref.uri, ref.version)
    tags = {
        "lineage.training_set.uri": ref.uri,
        "lineage.training_set.version": str(ref.version),
        "lineage.training_set.digest": meta.get("content_digest", ""),
        "lineage.feature_service": meta.get("feature_service", ""),
        "lineage.task": meta.get("task", ""),
        "lineage.task_version": meta.get("task_version", ""),
        "lineage.training_set.dagster_run_id": meta.get("dagster_run_id", ""),
    }
    if not tags["lineage.training_set.digest"]:
        raise LineageError(f"{where}: the commit records no content digest")
    upstream = _json(meta, "upstream_versions", where)
    for name, source in upstream["gold"].items():
        tags[f"lineage.gold.{name}"] = str(source["version"])
    bronze: dict[str, int] = {}
    policies, fingerprints, landing, snapshot_ids = set(), set(), set(), set()
    for name, version in upstream["silver"].items():
        tags[f"lineage.silver.{name}"] = str(version)
        where_silver = f"silver/{name}@{version}"
        silver_meta = commit_metadata_of(str(Path(silver_dir) / name), int(version))
        bronze.update(_json(silver_meta, "bronze_versions", where_silver))
        policies.add(silver_meta.get("deid_policy_version"))
        fingerprints.add(silver_meta.get("deid_key_fingerprint"))
        if not silver_meta.get("landing_snapshot_id"):
            raise LineageError(
                f"{where_silver}: the commit records no 'landing_snapshot_id' (written before "
                "silver recorded it: rebuild silver with `pipeline run`)"
            )
        landing.add(silver_meta["landing_snapshot_id"])
        snapshot_ids.update(_json(silver_meta, "landing_snapshot_ids", where_silver))
    if len(policies) != 1 or len(fingerprints) != 1 or None in policies | fingerprints:
        raise LineageError(
            f"{where}: its silver tables disagree on the de-identification policy or key "
            f"({sorted(map(str, policies))}, {sorted(map(str, fingerprints))})"
        )
    if len(landing) != 1:
        raise LineageError(
            f"{where}: its silver tables were built from different landing snapshots {sorted(landing)}"
        )
    tags["lineage.deid.policy_version"] = policies.pop()
    tags["lineage.deid.key_fingerprint"] = fingerprints.pop()
    for name, version in sorted(bronze.items()):
        tags[f"lineage.bronze.{name}"] = str(version)
    tags["lineage.landing.snapshot_id"] = landing.pop()
    tags["lineage.landing.snapshot_ids"] = ",".join(sorted(snapshot_ids))
    return tags
