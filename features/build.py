"""Silver (pinned versions) + event times -> gold feature tables, one per feature view.

``FEATURE_VIEWS`` is the contract with the feature store (features/spec.py); ``build_feature_tables`` runs
the point-in-time transforms of features/transforms.py; ``write_feature_tables`` overwrites each gold
Delta table in one commit whose metadata records the silver versions read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from features import transforms as tf
from features.spec import ENTITY_KEY, EVENT_TIMESTAMP, FeatureViewSpec
from features.tasks import IndexEvents, read_silver
from lakehouse.delta import DeltaRef, table_uri, write

_LABS = {name: "float64" for name in tf.lab_features()}
_LABS.update({f"{lab}_count_365d": "int64" for lab in tf.LAB_PANEL})

FEATURE_VIEWS: list[FeatureViewSpec] = [
    FeatureViewSpec(
        "demographics",
        {"age_years": "int64", "age_band": "string", "sex": "string"},
        ttl_days=365,
        description="age (capped at 90) and age band at the event, sex",
        stamped=True,
        tags={"source": "patients"},
    ),
    FeatureViewSpec(
        "utilization",
        {
            **{f"{k}_{d}d": "int64" for d in (30, 180, 365) for k in ("admissions", "ed_visits")},
            "outpatient_visits_365d": "int64",
            "inpatient_days_365d": "float64",
            "last_los_days": "float64",
            "last_stay_elective": "bool",
            "last_stay_disposition": "string",
            "days_since_last_discharge": "float64",
        },
        ttl_days=7,
        description="admissions, ED and clinic visits in 30/180/365 days; the last finished stay",
        stamped=True,
        tags={"source": "encounters"},
    ),
    FeatureViewSpec(
        "labs",
        _LABS,
        ttl_days=7,
        description="last, mean/min/max over 30/365 days, count and slope per year over 365 days, "
        "for a fixed LOINC panel (9 labs, 4 vitals)",
        stamped=True,
        tags={"source": "observations"},
    ),
    FeatureViewSpec(
        "conditions",
        {
            **{f"cm_{n}": "bool" for n in tf.COMORBIDITIES},
            "comorbidity_count": "int64",
            "charlson_score": "int64",
            "diagnoses_30d": "int64",
            "acute_cardiopulmonary_30d": "bool",
        },
        ttl_days=365,
        description="Charlson/Elixhauser-style comorbidity flags recorded by the event, count, "
        "weighted score",
        stamped=True,
        tags={"source": "conditions"},
    ),
    FeatureViewSpec(
        "medications",
        {
            "active_med_count": "int64",
            "new_meds_30d": "int64",
            **{f"rx_{c}": "bool" for c in tf.DRUG_CLASSES},
        },
        ttl_days=30,
        description="ingredients active at the event and drug-class flags",
        stamped=True,
        tags={"source": "medications"},
    ),
    FeatureViewSpec(
        "discharge_note",
        {
            "note_embedding": "float32_list",
            "has_note": "bool",
            "note_age_days": "float64",
            "note_chars": "int64",
        },
        ttl_days=30,
        description=f"latest de-identified discharge summary at the event: {tf.NOTE_DIM}-dim signed "
        "hashed bag of unigrams+bigrams, L2-normalized",
        stamped=True,
        tags={"source": "notes", "dim": str(tf.NOTE_DIM)},
    ),
]
VIEWS: dict[str, FeatureViewSpec] = {v.name: v for v in FEATURE_VIEWS}

# view -> (silver table, columns read, transform)
SOURCES: dict[str, tuple[str, list[str], Callable[[pl.DataFrame, pl.DataFrame], pl.DataFrame]]] = {
    "demographics": (
        "patients",
        ["patient_id", "birth_date", "gender", "age_band"],
        tf.demographics,
    ),
    "utilization": (
        "encounters",
        [
            "patient_id",
            "class_code",
            "priority_code",
            "discharge_disposition",
            "period_start",
            "period_end",
        ],
        tf.utilization,
    ),
    "labs": ("observations", ["patient_id", "code", "value_num", "effective_at"], tf.labs),
    "conditions": ("conditions", ["patient_id", "code", "recorded_at"], tf.conditions),
    "medications": ("medications", ["patient_id", "code", "start_at"], tf.medications),
    "discharge_note": (
        "notes",
        ["patient_id", "doc_type_code", "note_date", "text"],
        tf.discharge_note,
    ),
}

POLARS_TYPES = {
    "int64": pl.Int64,
    "float64": pl.Float64,
    "bool": pl.Boolean,
    "string": pl.String,
    "float32_list": pl.List(pl.Float32),
    "timestamp": pl.Datetime("us", "UTC"),
}


def build_feature_tables(
    silver: Mapping[str, DeltaRef | pl.DataFrame],
    events: pl.DataFrame,
    views: list[str] | None = None,
) -> dict[str, pl.DataFrame]:
    """One frame per feature view, keyed by (patient_id, event_timestamp), one row per distinct event."""
    events = tf.normalize_events(events)
    out = {}
    for name in views or list(VIEWS):
        table, columns, transform = SOURCES[name]
        frame = transform(read_silver(silver, table, columns), events)
        spec = VIEWS[name]
        if spec.stamped:
            frame = frame.with_columns(pl.col(EVENT_TIMESTAMP).alias(spec.feature_ts))
        out[name] = frame.select(
            pl.col(ENTITY_KEY),
            pl.col(EVENT_TIMESTAMP),
            *[pl.col(c).cast(POLARS_TYPES[t]) for c, t in spec.columns.items()],
        )
    return out


def silver_versions(silver: Mapping[str, DeltaRef | pl.DataFrame]) -> dict[str, int]:
    return {n: r.version for n, r in sorted(silver.items()) if isinstance(r, DeltaRef)}


def write_feature_tables(
    frames: Mapping[str, pl.DataFrame],
    gold_dir: Path | str,
    commit_metadata: Mapping[str, Any] | Callable[[str], Mapping[str, Any]] | None = None,
    *,
    silver: Mapping[str, DeltaRef | pl.DataFrame] | None = None,
) -> dict[str, DeltaRef]:
    """Overwrite ``<gold_dir>/<view>`` with each frame in one commit. The commit metadata carries the caller's
    (Dagster run id, asset key, ...; a mapping or a function of the table name) plus the silver versions read
    (``silver_versions`` JSON, when ``silver`` refs are given) and the feature view's columns."""
    refs = {}
    versions = silver_versions(silver) if silver else {}
    for name, frame in frames.items():
        uri = table_uri(Path(gold_dir), name)
        base = commit_metadata(name) if callable(commit_metadata) else dict(commit_metadata or {})
        meta = {**base, "feature_view": name, "rows": frame.height}
        if versions:
            meta["silver_versions"] = orjson.dumps(versions).decode()
            source = SOURCES.get(name, (None,))[0]
            if source in versions:
                meta["silver_table"], meta["silver_version"] = source, versions[source]
        refs[name] = write(uri, frame.to_arrow(), metadata=meta, table=name)
    return refs


def index_events_table(task: str) -> str:
    return f"index_events_{task}"


def write_index_events(
    events: Mapping[str, IndexEvents],
    gold_dir: Path | str,
    commit_metadata: Callable[[str], Mapping[str, Any]] | None = None,
    *,
    silver: Mapping[str, DeltaRef | pl.DataFrame] | None = None,
) -> dict[str, DeltaRef]:
    """Overwrite ``<gold_dir>/index_events_<task>`` per task; the commit records the task's counts
    (events, positives, exclusions, censoring, horizon) and the silver versions read."""
    refs = {}
    versions = silver_versions(silver) if silver else {}
    for task, result in events.items():
        name = index_events_table(task)
        uri = table_uri(Path(gold_dir), name)
        meta = {
            **(commit_metadata(name) if commit_metadata else {}),
            "task": task,
            "task_summary": orjson.dumps(result.summary()).decode(),
            "silver_versions": orjson.dumps(versions).decode(),
        }
        refs[task] = write(uri, result.frame.to_arrow(), metadata=meta, table=name)
    return refs
