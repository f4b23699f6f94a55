"""Online (serving) features: incremental materialization into the online store and reads by patient.

Feast's online reads ignore the TTL (open upstream issue), so ``get_online_features`` applies it itself
against ``as_of`` (default: now): a value whose event timestamp is older than ``as_of - ttl`` is null,
exactly as the offline point-in-time join would give it.
"""

from __future__ import annotations

import contextlib
import io
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

import polars as pl

from features.spec import ENTITY_KEY

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=timezone.utc) if ts.tzinfo is None else ts.astimezone(timezone.utc)


def _service_views(store, service: str):
    """The service and its views, from the registry cache (StoreConfig.registry_cache_ttl_seconds).

    Uncached lookups re-read the registry file (~10 ms) and even cached ones rebuild the Python objects
    from protobuf (~5 ms), so the pair is memoized on the store until Feast swaps its cached registry."""
    memo = store.__dict__.setdefault("_clinical_service_memo", {})
    key = _registry_stamp(store)
    hit = memo.get(service)
    if hit is not None and key is not None and hit[0] == key and hit[1] is _cached_proto(store):
        return hit[2], hit[3]
    fs = store.get_feature_service(service, allow_cache=True)
    fvs = [store.get_feature_view(p.name, allow_registry_cache=True) for p in fs.feature_view_projections]
    key = _registry_stamp(store)
    if key is not None:
        memo[service] = (key, _cached_proto(store), fs, fvs)
    return fs, fvs


def _cached_proto(store):
    return getattr(getattr(store, "_registry", None), "cached_registry_proto", None)


def _registry_stamp(store):
    """Changes whenever Feast reloads its registry cache or commits a change (apply, materialize)."""
    proto = _cached_proto(store)
    if proto is None:
        return None
    return (proto.last_updated.seconds, proto.last_updated.nanos,
            getattr(store._registry, "cached_registry_proto_created", None))


def materialize(store, end: datetime, start: datetime | None = None, *,
                views: Sequence[str] | None = None) -> dict[str, tuple[datetime, datetime]]:
    """Load the latest row per patient with event_timestamp in [start, end] into the online store.

    ``start=None`` is incremental: each view resumes where its last materialization ended (from the
    epoch the first time, not Feast's ``now - ttl``, so historical gold tables load). Returns the window
    materialized per view. Rows rewritten in a new Delta version with timestamps before the last window
    are only picked up by an explicit ``start`` (e.g. ``EPOCH``).
    """
    end = _utc(end)
    names = list(views) if views else [v.name for v in store.list_feature_views()]
    windows: dict[str, tuple[datetime, datetime]] = {}
    for name in names:
        fv = store.get_feature_view(name)
        if start is not None:
            begin = _utc(start)
        elif fv.materialization_intervals:
            begin = _utc(max(i[1] for i in fv.materialization_intervals))
        else:
            begin = EPOCH
        if begin >= end:
            continue
        with contextlib.redirect_stdout(io.StringIO()):  # Feast prints coloured progress lines
            store.materialize(start_date=begin, end_date=end, feature_views=[name])
        windows[name] = (begin, end)
    return windows


def get_online_features(store, patient_ids: Sequence[str], service: str, *,
                        as_of: datetime | Sequence[datetime] | None = None,
                        enforce_ttl: bool = True, full_feature_names: bool = False) -> pl.DataFrame:
    """Features of ``service`` per patient (input order, one row each); unknown patients give nulls.

    ``as_of`` (one instant, or one per patient) is the reference time of the TTL check (default now)."""
    fs, fvs = _service_views(store, service)
    ids = [str(p) for p in patient_ids]
    resp = store.get_online_features(features=fs, entity_rows=[{ENTITY_KEY: p} for p in ids],
                                     full_feature_names=full_feature_names)
    data = resp.to_dict()
    if enforce_ttl:
        if as_of is None:
            refs = [datetime.now(timezone.utc)] * len(ids)
        elif isinstance(as_of, datetime):
            refs = [_utc(as_of)] * len(ids)
        else:
            refs = [_utc(t) for t in as_of]
            if len(refs) != len(ids):
                raise ValueError("as_of needs one instant per patient")
        names = list(resp.proto.metadata.feature_names.val)
        ttl_of: dict[str, timedelta] = {}
        for fv, proj in zip(fvs, fs.feature_view_projections):
            for f in proj.features:
                col = f"{proj.name_to_use()}__{f.name}" if full_feature_names else f.name
                if fv.ttl:
                    ttl_of[col] = fv.ttl
        for col, vec in zip(names, resp.proto.results):
            ttl = ttl_of.get(col)
            if ttl is None:
                continue
            values = data[col]
            for i, ts in enumerate(vec.event_timestamps):
                if not (ts.seconds or ts.nanos):
                    continue  # nothing stored for this patient
                stamped = datetime.fromtimestamp(ts.seconds, timezone.utc) + timedelta(microseconds=ts.nanos // 1000)
                if stamped < refs[i] - ttl:
                    values[i] = None
    order = [ENTITY_KEY] + [(f"{proj.name_to_use()}__{f.name}" if full_feature_names else f.name)
                            for proj in fs.feature_view_projections for f in proj.features]
    dtypes: dict[str, Any] = {ENTITY_KEY: pl.String}
    for proj in fs.feature_view_projections:
        for f in proj.features:
            col = f"{proj.name_to_use()}__{f.name}" if full_feature_names else f.name
            dtypes[col] = _POLARS.get(str(f.dtype), None)
    frame = pl.DataFrame({c: data[c] for c in order}, strict=False)
    return frame.with_columns(pl.col(c).cast(t) for c, t in dtypes.items() if t is not None)


_POLARS = {"Int64": pl.Int64, "Float64": pl.Float64, "Bool": pl.Boolean, "String": pl.String,
           "Array(Float32)": pl.List(pl.Float32), "Float32": pl.Float32, "Int32": pl.Int32}
