"""Feast objects built from ``features.spec.FeatureViewSpec``: the ``patient`` entity, one file source per
gold table (a parquet snapshot of a pinned Delta version), one FeatureView per spec (TTL from the spec)
and one FeatureService per task version (e.g. ``readmission_v1``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.data_format import ParquetFormat
from feast.types import Array, Bool, Float32, Float64, Int64, String, UnixTimestamp

from features.spec import ENTITY, ENTITY_KEY, EVENT_TIMESTAMP, FeatureViewSpec

FEAST_DTYPES: dict[str, Any] = {
    "int64": Int64,
    "float64": Float64,
    "bool": Bool,
    "string": String,
    "float32_list": Array(Float32),
    "timestamp": UnixTimestamp,
}


def patient_entity() -> Entity:
    return Entity(
        name=ENTITY,
        join_keys=[ENTITY_KEY],
        value_type=ValueType.STRING,
        description="A patient, by the keyed pseudonym from silver.",
    )


def file_source(spec: FeatureViewSpec, parquet_path: Path | str) -> FileSource:
    return FileSource(
        name=f"{spec.name}_source",
        path=str(parquet_path),
        file_format=ParquetFormat(),
        timestamp_field=EVENT_TIMESTAMP,
    )


def feature_view(
    spec: FeatureViewSpec, source: FileSource, entity: Entity, tags: Mapping[str, str] = {}
) -> FeatureView:
    unknown = {n: d for n, d in spec.columns.items() if d not in FEAST_DTYPES}
    if unknown:
        raise ValueError(f"{spec.name}: unsupported dtypes {unknown}")
    return FeatureView(
        name=spec.name,
        entities=[entity],
        ttl=timedelta(days=spec.ttl_days),
        schema=[Field(name=n, dtype=FEAST_DTYPES[d]) for n, d in spec.columns.items()],
        source=source,
        online=True,
        description=spec.description,
        tags={**spec.tags, **tags},
    )


@dataclass(frozen=True)
class Definitions:
    entity: Entity
    views: dict[str, FeatureView]
    services: dict[str, FeatureService]

    def objects(self) -> list:
        return [
            self.entity,
            *(v.batch_source for v in self.views.values()),
            *self.views.values(),
            *self.services.values(),
        ]


def build_definitions(
    specs: Sequence[FeatureViewSpec],
    sources: Mapping[str, Path | str],
    services: Mapping[str, Sequence[str]],
    view_tags: Mapping[str, Mapping[str, str]] | None = None,
) -> Definitions:
    """``sources``: view name -> parquet snapshot; ``services``: service name -> view names."""
    entity = patient_entity()
    views: dict[str, FeatureView] = {}
    for spec in specs:
        if spec.name not in sources:
            raise KeyError(f"no source snapshot for feature view {spec.name!r}")
        views[spec.name] = feature_view(
            spec,
            file_source(spec, sources[spec.name]),
            entity,
            (view_tags or {}).get(spec.name, {}),
        )
    fs: dict[str, FeatureService] = {}
    for name, view_names in services.items():
        missing = [v for v in view_names if v not in views]
        if missing:
            raise KeyError(f"feature service {name!r} names unknown views {missing}")
        fs[name] = FeatureService(
            name=name, features=[views[v] for v in view_names], tags={"views": ",".join(view_names)}
        )
    return Definitions(entity, views, fs)


def apply(store, defs: Definitions) -> None:
    """Register (or update) every object; views/services no longer defined are left in place."""
    store.apply(defs.objects())
