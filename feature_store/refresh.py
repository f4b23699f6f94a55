"""Keep the online store in line with new gold versions, incrementally.

Feast's incremental materialization resumes each view where its last window ended, which is right for
appended rows but misses a new Delta version that changed (or removed) rows stamped before that point,
e.g. late-arriving data that changes the features of past events. So for every view we remember which gold
version the online store was last loaded from (``<feast home>/online/materialized.json``); when the version
changes, the rows that differ between the two versions are found and the window restarts at the earliest of
their timestamps. A previous version that can no longer be read (vacuumed) or belongs to an earlier table at
the same path (the Delta table id differs) restarts from the epoch: a full reload, never a silent skip.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import polars as pl

from features.spec import ENTITY_KEY, EVENT_TIMESTAMP
from lakehouse.delta import DeltaRef

from .config import StoreConfig
from .online import EPOCH, materialize

_HASH = "__row_hash"


def state_path(cfg: StoreConfig) -> Path:
    return cfg.online_path.parent / "materialized.json"


def store_identity(cfg: StoreConfig) -> str:
    """Which online store the state describes: switching stores (sqlite, packed, redis) reloads everything."""
    if cfg.online_store == "redis":
        from urllib.parse import urlparse

        url = urlparse(cfg.redis_url or "")
        return f"redis://{url.hostname}:{url.port}{url.path}"
    if cfg.online_store == "packed":  # the payload format too: a new format reloads everything
        from .packed_store import FORMAT  # lazy: imports feast (~7 s)

        return f"packed/{FORMAT}:{cfg.packed_online_path}"
    return f"{cfg.online_store}:{cfg.online_path}"


def _load_state(cfg: StoreConfig) -> dict[str, dict]:
    path = state_path(cfg)
    return json.loads(path.read_text()) if path.exists() else {}


def _save_state(cfg: StoreConfig, state: dict[str, dict]) -> None:
    path = state_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True))
    os.replace(tmp, path)


def _hashed(ref: DeltaRef) -> pl.DataFrame:
    frame = pl.from_arrow(ref.read())
    assert isinstance(frame, pl.DataFrame)
    return frame.select(ENTITY_KEY, EVENT_TIMESTAMP, frame.hash_rows().alias(_HASH))


def earliest_change(old: DeltaRef, new: DeltaRef) -> datetime | None:
    """The earliest event time of a row added, changed or removed between two versions (None: same rows)."""
    before, after = _hashed(old), _hashed(new)
    keys = [ENTITY_KEY, EVENT_TIMESTAMP, _HASH]
    changed = pl.concat(
        [after.join(before, on=keys, how="anti"), before.join(after, on=keys, how="anti")]
    )
    return changed[EVENT_TIMESTAMP].min() if changed.height else None


def refresh_online_store(
    store, cfg: StoreConfig, refs: Mapping[str, DeltaRef], end: datetime
) -> dict[str, dict]:
    """Materialize each view of ``refs`` (view -> the gold version the registry serves) up to ``end``, in
    one ``materialize`` call (each view with its own window). Returns, per view, the window loaded (or
    none) and why."""
    state = _load_state(cfg)
    starts: dict[str, datetime] = {}
    reasons: dict[str, str] = {}
    table_ids: dict[str, str] = {}
    for view, ref in refs.items():
        previous = state.get(view)
        table_ids[view] = table_id = str(ref.open().metadata().id)
        start, reason = None, "incremental"
        if (
            previous is None
        ):  # nothing loaded into this store yet, whatever the registry's intervals say
            start, reason = EPOCH, "first load"
        elif previous.get("online_store") != store_identity(cfg):
            start, reason = (
                EPOCH,
                f"full reload (online store changed from {previous.get('online_store')})",
            )
        elif previous.get("table_id") != table_id:
            start, reason = EPOCH, "full reload (the gold table was recreated)"
        elif (previous["uri"], previous["version"]) != (ref.uri, ref.version):
            try:
                changed = earliest_change(DeltaRef.model_validate(previous["ref"]), ref)
            except Exception as exc:  # noqa: BLE001 - any unreadable old version means: reload everything
                start, reason = (
                    EPOCH,
                    f"full reload (previous version unreadable: {type(exc).__name__})",
                )
            else:
                if changed is not None:
                    start, reason = (
                        changed,
                        f"version {previous['version']} -> {ref.version} changed rows",
                    )
        if start is not None:
            last = _last_end(store, view)
            starts[view] = (
                min(start, last) if last else start
            )  # also cover what incremental would load
        reasons[view] = reason
    windows = materialize(store, end, views=list(refs), starts=starts)
    report: dict[str, dict] = {}
    for view, ref in refs.items():
        window = windows.get(view)
        report[view] = {
            "reason": reasons[view],
            "window": [t.isoformat() for t in window] if window else None,
            "gold_version": ref.version,
        }
        state[view] = {
            "uri": ref.uri,
            "version": ref.version,
            "table_id": table_ids[view],
            "ref": ref.model_dump(mode="json"),
            "online_store": store_identity(cfg),
        }
    _save_state(cfg, state)
    return report


def _last_end(store, view: str) -> datetime | None:
    intervals = store.get_feature_view(view).materialization_intervals
    return max(i[1] for i in intervals) if intervals else None
