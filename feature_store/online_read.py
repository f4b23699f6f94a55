"""Direct online reads: each view's rows straight from the online store, through Feast's own online store
API (``provider.online_read``, one query per view for all the patients asked for).

Why: ``FeatureStore.get_online_features`` builds a request plan, response protos and type-converted
columns on every call, most of a one-patient read's time (p99 8 ms on a 2-core machine, 13.6 ms with our
TTL pass on top, against a 5 ms target). Reading the views directly gives the same values (a test compares
both paths on every column) with the TTL applied to each view's own event time while decoding.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from feast.protos.feast.types.EntityKey_pb2 import EntityKey as EntityKeyProto
from feast.protos.feast.types.Value_pb2 import Value as ValueProto
from feast.type_map import feast_value_type_to_python_type

from features.spec import ENTITY_KEY

_SCALARS = {
    "int64_val",
    "double_val",
    "bool_val",
    "string_val",
    "int32_val",
    "float_val",
    "bytes_val",
}


def _python(value: ValueProto) -> Any:
    """A stored value as Python, like Feast's response: scalars directly, the rest through Feast's converter."""
    kind = value.WhichOneof("val")
    if kind is None or kind == "null_val":
        return None
    if kind in _SCALARS:
        return getattr(value, kind)
    return feast_value_type_to_python_type(value)


def read_views(
    store,
    service,
    views,
    patient_ids: Sequence[str],
    refs: Sequence[datetime] | None,
    full_feature_names: bool = False,
) -> dict[str, list]:
    """Column -> one value per patient (None: nothing stored, or older than ``ref - ttl`` when ``refs``)."""
    provider = store._get_provider()  # noqa: SLF001 - a third-party or sibling internal with no public API
    keys = [
        EntityKeyProto(join_keys=[ENTITY_KEY], entity_values=[ValueProto(string_val=p)])
        for p in patient_ids
    ]
    data: dict[str, list] = {ENTITY_KEY: list(patient_ids)}
    for view, projection in zip(views, service.feature_view_projections):
        names = [f.name for f in projection.features]
        rows = provider.online_read(
            config=store.config, table=view, entity_keys=keys, requested_features=names
        )
        limits: list[datetime | None] = [None] * len(rows)
        if refs is not None and view.ttl and view.ttl > timedelta(0):
            limits = [ref - view.ttl for ref in refs]
        valid = [
            values if values and (limit is None or _utc(stamp) >= limit) else None
            for (stamp, values), limit in zip(rows, limits)
        ]
        prefix = f"{projection.name_to_use()}__" if full_feature_names else ""
        for name in names:
            data[prefix + name] = [
                _python(values[name]) if values and name in values else None for values in valid
            ]
    return data


def _utc(stamp: datetime) -> datetime:
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp
