"""Which training split a model's drift is measured against: the champion's, as pinned in its version tags."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from lakehouse.delta import DeltaRef, current_version, table_uri


@dataclass(frozen=True)
class Reference:
    ref: DeltaRef
    source: str  # e.g. "champion v3" or "latest training set (no champion)"


def champion_reference(tracking_uri: str, model_name: str) -> Reference | None:
    """The champion version's training set (``lineage.training_set.uri/version`` tags), or None."""
    from evaluation.registry import (  # lazy: imports torch, scikit-learn
        CHAMPION,
        alias_version,
        version_tags,
    )

    version = alias_version(tracking_uri, model_name, CHAMPION)
    if version is None:
        return None
    tags = version_tags(tracking_uri, model_name, version)
    uri, pinned = tags.get("lineage.training_set.uri"), tags.get("lineage.training_set.version")
    if not uri or pinned is None:
        raise ValueError(
            f"{model_name} v{version} (champion) has no lineage.training_set tags: "
            "cannot tell which training split it learned from"
        )
    return Reference(
        DeltaRef(table=Path(uri).name, uri=uri, version=int(pinned)), f"champion v{version}"
    )


def latest_training_set(uri: str) -> Reference | None:
    version = current_version(uri)
    if version is None:
        return None
    return Reference(
        DeltaRef(table=Path(uri).name, uri=uri, version=version),
        "latest training set (no champion)",
    )


def training_split(ref: DeltaRef, columns: list[str]) -> pl.DataFrame:
    """The ``train`` rows of a pinned training set, only ``columns`` that it has."""
    available = {f.name for f in ref.open().schema().fields}
    frame = pl.from_arrow(ref.read(columns=[c for c in ["split", *columns] if c in available]))
    return frame.filter(pl.col("split") == "train").drop("split")


def reference_for(settings, task) -> Reference | None:
    """The champion's training set; before any champion (or any local registry), the task's latest training set."""
    local_db = (
        settings.mlflow_tracking_uri is None and not (settings.mlflow_home / "mlflow.db").exists()
    )
    champion = (
        None if local_db else champion_reference(settings.tracking_uri, task.registered_model)
    )
    return champion or latest_training_set(table_uri(settings.gold, f"training_set_{task.name}"))
