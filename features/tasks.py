"""Prediction tasks as data: which silver events are index events, what the label is, which feature views
a model of the task reads. One generic function (``index_events``) turns any definition into
(patient_id, event_timestamp, encounter_id, label) rows; a new task is a new definition, not new code.

Point in time: ``event_timestamp`` is when the model scores (the index encounter's end plus an optional
delay, e.g. until the discharge summary is signed). Features may use only data timestamped at or before
it; the label looks only forward from the index encounter's end.

Censoring: a label window that ends after the data horizon (the newest timestamp in silver, or a horizon
the caller passes) is not fully observed, so such index events are dropped and counted. Under per-patient date
shifting each patient's own horizon is the extract date plus that patient's (secret) offset, i.e. up to
``shift_max_days - shift_min_days`` earlier than the global one: pass ``horizon_margin_days`` to be
conservative. Censoring looks at the window only, never at the outcome: keeping early positives while
dropping unobserved negatives would inflate the prevalence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

import polars as pl

from features.spec import ENTITY_KEY, EVENT_TIMESTAMP
from lakehouse.delta import DeltaRef

UTC_US = pl.Datetime("us", "UTC")
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"

EVENTS_SCHEMA = {
    ENTITY_KEY: pl.String,
    EVENT_TIMESTAMP: UTC_US,
    "encounter_id": pl.String,
    "label": pl.Int8,
}


@dataclass(frozen=True)
class CodeSet:
    """A clinical concept by codes: exact codes (any system) and ICD-10-style prefixes."""

    name: str
    codes: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()

    def expr(self, column: str = "code") -> pl.Expr:
        hit = pl.col(column).is_in(list(self.codes)) if self.codes else pl.lit(False)
        for prefix in self.prefixes:
            hit = hit | pl.col(column).str.starts_with(prefix)
        return hit.fill_null(False)


T2D = CodeSet("type_2_diabetes", codes=("44054006",), prefixes=("E11",))


@dataclass(frozen=True)
class EncounterIndex:
    """Index events: encounters of some classes, at their end (+ delay)."""

    class_codes: tuple[str, ...]
    delay_hours: float = 0.0  # scoring time = period_end + delay
    exclude_dispositions: tuple[
        str, ...
    ] = ()  # e.g. died in hospital, transferred to another acute hospital
    exclude_if_condition: CodeSet | None = (
        None  # patient already has it at the event time (recorded_at <= t)
    )
    per_patient: Literal["all", "first_per_year"] = "all"
    description: str = ""


@dataclass(frozen=True)
class EncounterLabel:
    """Label 1 when a qualifying encounter starts within ``window_days`` after the index end."""

    class_codes: tuple[str, ...]
    window_days: int
    exclude_priority_codes: tuple[str, ...] = ()  # planned (elective) admissions do not count
    exclude_admit_sources: tuple[str, ...] = ()  # transfers in from another hospital do not count
    description: str = ""


@dataclass(frozen=True)
class ConditionLabel:
    """Label 1 when a condition of ``codes`` is recorded within ``window_days`` after the index end."""

    codes: CodeSet
    window_days: int
    description: str = ""


@dataclass(frozen=True)
class OperatingPoint:
    """How a model of the task is judged: the threshold policy (chosen on the validation split), the absolute
    floors on the test split, and the tolerances against the current champion (evaluation.gate)."""

    policy: Literal["sensitivity", "alert_rate"] = "sensitivity"
    target: float = 0.7
    min_auroc: float = 0.65
    min_auprc_lift: float = 1.5  # AUPRC / prevalence
    # champion/challenger tolerances: how much worse than the champion, on the same test rows, is still fine
    max_auroc_drop: float = 0.02
    max_brier_increase: float = 0.01


@dataclass(frozen=True)
class TemporalSplit:
    """Train/validation/test by index time (fractions of the index events, test gets the rest). An event whose
    label window reaches past the start of the next split is purged: its label would be decided by what
    happens during the next split's period."""

    train: float = 0.7
    validation: float = 0.15
    purge: bool = True

    def __post_init__(self) -> None:
        if not (
            0 < self.train < 1 and 0 < self.validation < 1 and self.train + self.validation < 1
        ):
            raise ValueError(f"split fractions must be in (0, 1) and leave room for test: {self}")


@dataclass(frozen=True)
class TaskDefinition:
    name: str
    version: str
    registered_model: str
    index: EncounterIndex
    label: EncounterLabel | ConditionLabel
    feature_service: str
    feature_views: tuple[str, ...]
    operating_point: OperatingPoint = field(default_factory=OperatingPoint)
    split: TemporalSplit = field(default_factory=TemporalSplit)
    prevalence_range: tuple[float, float] = (
        0.005,
        0.5,
    )  # outside it the label definition is suspect
    train: bool = (
        True  # the graph trains and registers a model for it (its training set is built either way)
    )
    description: str = ""

    @property
    def window_days(self) -> int:
        return self.label.window_days

    @property
    def label_window(self) -> tuple[timedelta, timedelta]:
        """The label window relative to the event time (scoring time): (index end, index end + window]."""
        start = -timedelta(hours=self.index.delay_hours)
        return start, start + timedelta(days=self.window_days)


READMISSION_30D = TaskDefinition(
    name="readmission_30d",
    version="v1",
    registered_model="clinical-readmission",
    index=EncounterIndex(
        class_codes=("IMP",),
        delay_hours=6.0,
        exclude_dispositions=("exp", "other-hcf"),
        description="live inpatient discharges not transferred to another acute hospital, scored 6 h after "
        "discharge (when the discharge summary is signed)",
    ),
    label=EncounterLabel(
        class_codes=("IMP",),
        window_days=30,
        exclude_priority_codes=("EL",),
        exclude_admit_sources=("hosp-trans",),
        description="an unplanned inpatient admission (not elective, not a transfer in) starting within 30 days",
    ),
    feature_service="readmission_v1",
    feature_views=(
        "demographics",
        "utilization",
        "labs",
        "conditions",
        "medications",
        "discharge_note",
    ),
    description="30-day unplanned readmission at inpatient discharge",
)

T2D_ONSET_1Y = TaskDefinition(
    name="t2d_onset_1y",
    version="v1",
    registered_model="clinical-t2d-onset",
    index=EncounterIndex(
        class_codes=("AMB",),
        exclude_if_condition=T2D,
        per_patient="first_per_year",
        description="the first outpatient visit per patient and calendar year of a patient without type 2 diabetes",
    ),
    label=ConditionLabel(
        T2D, window_days=365, description="type 2 diabetes recorded within 365 days"
    ),
    feature_service="t2d_onset_v1",
    feature_views=("demographics", "utilization", "labs", "conditions", "medications"),
    operating_point=OperatingPoint(policy="alert_rate", target=0.1),
    # a 1-year label window purges a year of events before each cutoff: validation needs a longer period
    split=TemporalSplit(train=0.45, validation=0.3),
    train=False,  # proves the task plumbing; too few onsets in the demo cohort to be worth a model
    description="one-year onset of type 2 diabetes at an outpatient visit",
)

TASKS: dict[str, TaskDefinition] = {t.name: t for t in (READMISSION_30D, T2D_ONSET_1Y)}

# the silver columns index_events reads, per table
TASK_COLUMNS = {
    "encounters": [
        "patient_id",
        "encounter_id",
        "class_code",
        "priority_code",
        "admit_source",
        "discharge_disposition",
        "part_of_id",
        "period_start",
        "period_end",
    ],
    "conditions": ["patient_id", "code", "recorded_at"],
}
HORIZON_COLUMNS = {
    "encounters": ("period_start", "period_end"),
    "conditions": ("recorded_at",),
    "observations": ("effective_at",),
    "medications": ("start_at",),
    "notes": ("note_date",),
}


def read_silver(
    silver: Mapping[str, DeltaRef | pl.DataFrame], table: str, columns: list[str] | None = None
) -> pl.DataFrame:
    """A silver table as a Polars frame (a pinned DeltaRef is read at its version, only ``columns``)."""
    source = silver[table]
    if isinstance(source, pl.DataFrame):
        return source.select([c for c in columns if c in source.columns]) if columns else source
    available = [f.name for f in source.open().schema().fields]
    wanted = [c for c in columns if c in available] if columns else None
    return pl.from_arrow(source.read(columns=wanted))


def data_horizon(silver: Mapping[str, DeltaRef | pl.DataFrame]) -> datetime | None:
    """The newest timestamp in the silver event tables: nothing after it can have been observed."""
    latest = []
    for table, columns in HORIZON_COLUMNS.items():
        if table not in silver:
            continue
        frame = read_silver(silver, table, list(columns))
        for column in columns:
            if column in frame.columns and frame.height:
                latest.append(frame[column].max())
    latest = [v for v in latest if v is not None]
    return max(latest) if latest else None


@dataclass
class IndexEvents:
    frame: pl.DataFrame  # patient_id, event_timestamp, encounter_id, label
    task: str
    horizon: datetime | None
    candidates: int  # index encounters of the right class
    excluded: dict[str, int]  # reason -> index events dropped
    censored: int  # label window not fully observed before the horizon

    @property
    def prevalence(self) -> float:
        return float(self.frame["label"].mean()) if self.frame.height else 0.0

    def summary(self) -> dict:
        return {
            "task": self.task,
            "events": self.frame.height,
            "positives": int(self.frame["label"].sum()),
            "prevalence": round(self.prevalence, 4),
            "candidates": self.candidates,
            "excluded": self.excluded,
            "censored": self.censored,
            "horizon": self.horizon.isoformat() if self.horizon else None,
        }


def _utc(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    return frame.with_columns([pl.col(c).cast(UTC_US) for c in columns if c in frame.columns])


def index_events(
    task: TaskDefinition,
    silver: Mapping[str, DeltaRef | pl.DataFrame],
    *,
    horizon: datetime | None = None,
    horizon_margin_days: int = 0,
) -> pl.DataFrame:
    """The task's labelled index events (see ``build_index_events`` for the counts of what was dropped)."""
    return build_index_events(
        task, silver, horizon=horizon, horizon_margin_days=horizon_margin_days
    ).frame


def build_index_events(
    task: TaskDefinition,
    silver: Mapping[str, DeltaRef | pl.DataFrame],
    *,
    horizon: datetime | None = None,
    horizon_margin_days: int = 0,
) -> IndexEvents:
    encounters = _utc(
        read_silver(silver, "encounters", TASK_COLUMNS["encounters"]),
        ["period_start", "period_end"],
    )
    if (
        "part_of_id" in encounters.columns
    ):  # a sub-encounter of a stay is neither an index nor an outcome
        encounters = encounters.filter(pl.col("part_of_id").is_null())
    conditions = None
    if isinstance(task.label, ConditionLabel) or task.index.exclude_if_condition is not None:
        conditions = _utc(
            read_silver(silver, "conditions", TASK_COLUMNS["conditions"]), ["recorded_at"]
        )
    if horizon is None:
        horizon = data_horizon(silver)
    if horizon is not None and horizon_margin_days:
        horizon = horizon - timedelta(days=horizon_margin_days)

    spec = task.index
    cand = (
        encounters.filter(
            pl.col("class_code").is_in(list(spec.class_codes)) & pl.col("period_end").is_not_null()
        )
        .select(
            ENTITY_KEY,
            "encounter_id",
            pl.col("period_end").alias("index_end"),
            "discharge_disposition",
        )
        .with_columns(
            (
                pl.col("index_end")
                + pl.duration(microseconds=int(spec.delay_hours * 3_600_000_000))
            ).alias(EVENT_TIMESTAMP)
        )
    )
    excluded: dict[str, int] = {}
    candidates = cand.height

    def drop(frame: pl.DataFrame, keep: pl.Expr, reason: str) -> pl.DataFrame:
        kept = frame.filter(keep)
        excluded[reason] = excluded.get(reason, 0) + frame.height - kept.height
        return kept

    if spec.exclude_dispositions:
        cand = drop(
            cand,
            ~pl.col("discharge_disposition")
            .is_in(list(spec.exclude_dispositions))
            .fill_null(False),
            "disposition",
        )
    if spec.exclude_if_condition is not None:
        prior = (
            conditions.filter(spec.exclude_if_condition.expr())
            .group_by(ENTITY_KEY)
            .agg(pl.col("recorded_at").min().alias("__first"))
        )
        cand = cand.join(prior, on=ENTITY_KEY, how="left")
        cand = drop(
            cand,
            pl.col("__first").is_null() | (pl.col("__first") > pl.col(EVENT_TIMESTAMP)),
            "prior_condition",
        ).drop("__first")

    # label: look forward from the index end
    window = pl.duration(days=task.label.window_days)
    if isinstance(task.label, EncounterLabel):
        lab = task.label
        outcomes = encounters.filter(
            pl.col("class_code").is_in(list(lab.class_codes))
            & ~pl.col("priority_code").is_in(list(lab.exclude_priority_codes)).fill_null(False)
            & ~pl.col("admit_source").is_in(list(lab.exclude_admit_sources)).fill_null(False)
        )
        outcomes = outcomes.select(
            ENTITY_KEY,
            pl.col("encounter_id").alias("__outcome"),
            pl.col("period_start").alias("__at"),
        )
    else:
        outcomes = conditions.filter(task.label.codes.expr()).select(
            ENTITY_KEY,
            pl.col("recorded_at").alias("__at"),
            pl.lit(None, pl.String).alias("__outcome"),
        )
    hits = (
        cand.select(ENTITY_KEY, "encounter_id", "index_end", EVENT_TIMESTAMP)
        .join(outcomes, on=ENTITY_KEY, how="inner")
        .filter(
            (pl.col("__at") > pl.col("index_end"))
            & (pl.col("__at") <= pl.col("index_end") + window)
            & (pl.col("__outcome").is_null() | (pl.col("__outcome") != pl.col("encounter_id")))
        )
        .group_by("encounter_id")
        .agg(
            pl.col("__at").min().alias("__first_outcome"),
            pl.col(EVENT_TIMESTAMP).first().alias("__t"),
        )
    )
    cand = cand.join(hits.drop("__t"), on="encounter_id", how="left")
    # the outcome already happened when the model scores (delay): not a prediction any more
    cand = drop(
        cand,
        pl.col("__first_outcome").is_null() | (pl.col("__first_outcome") > pl.col(EVENT_TIMESTAMP)),
        "outcome_before_scoring",
    )
    cand = cand.with_columns(pl.col("__first_outcome").is_not_null().cast(pl.Int8).alias("label"))

    if (
        spec.per_patient == "first_per_year"
    ):  # one index per patient and calendar year (first eligible visit)
        cand = drop(
            cand.sort(ENTITY_KEY, EVENT_TIMESTAMP),
            pl.int_range(pl.len()).over(ENTITY_KEY, pl.col(EVENT_TIMESTAMP).dt.year()) == 0,
            "not_first_in_year",
        )

    censored = 0
    if (
        horizon is not None
    ):  # decided on the window alone, never on the outcome (that would bias prevalence)
        before = cand.height
        cand = cand.filter(pl.col("index_end") + window <= pl.lit(horizon).cast(UTC_US))
        censored = before - cand.height
    frame = (
        cand.select(ENTITY_KEY, EVENT_TIMESTAMP, "encounter_id", "label")
        .cast(EVENTS_SCHEMA)
        .sort(ENTITY_KEY, EVENT_TIMESTAMP)
    )
    return IndexEvents(frame, task.name, horizon, candidates, excluded, censored)


def event_times(*events: pl.DataFrame) -> pl.DataFrame:
    """The distinct (patient_id, event_timestamp) of one or more tasks' index events: the rows features are
    computed for."""
    frames = [
        e.select(pl.col(ENTITY_KEY).cast(pl.String), pl.col(EVENT_TIMESTAMP).cast(UTC_US))
        for e in events
    ]
    if not frames:
        return pl.DataFrame(schema={ENTITY_KEY: pl.String, EVENT_TIMESTAMP: UTC_US})
    return pl.concat(frames).unique().sort(ENTITY_KEY, EVENT_TIMESTAMP)
