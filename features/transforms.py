"""Point-in-time feature transforms: (silver frames, event times) -> one row per (patient_id, event_timestamp).

Every function joins a silver table to the event times on the patient and keeps only rows whose
timestamp is at or before the event (``_as_of``); nothing after the event can contribute. Pure Polars
on plain columns, so the same functions run on Arrow batches grouped by patient under Spark
``mapInArrow`` (every aggregation is per patient).

Timestamps used as "known at": encounters period_start (counts) and period_end (stays that are over),
conditions recorded_at (not onset_at: a historic onset is known only once recorded), observations
effective_at, medications start_at (silver ``status`` is the status at extract time, i.e. the future:
never read), notes note_date.
"""

from __future__ import annotations

import hashlib
import math
from functools import lru_cache

import numpy as np
import polars as pl

from deid.rules import age_band_expr, age_years_expr
from features.spec import ENTITY_KEY, EVENT_TIMESTAMP

KEYS = [ENTITY_KEY, EVENT_TIMESTAMP]
UTC_US = pl.Datetime("us", "UTC")
DAY_US = 86_400_000_000

# ------------------------------------------------------------------ vocabularies (codes in docs/cohort.md)

LAB_PANEL: dict[str, str] = {  # feature prefix -> LOINC
    "hba1c": "4548-4",
    "glucose": "2345-7",
    "creatinine": "2160-0",
    "egfr": "62238-1",
    "hemoglobin": "718-7",
    "wbc": "6690-2",
    "sodium": "2951-2",
    "potassium": "2823-3",
    "bnp": "30934-4",
    "heart_rate": "8867-4",
    "sbp": "8480-6",
    "dbp": "8462-4",
    "bmi": "39156-5",
}
LAB_WINDOWS = (30, 365)
LAB_STATS = ("mean", "min", "max")

# comorbidity groups after Charlson / Elixhauser: (SNOMED codes, ICD-10-CM prefixes, Charlson weight)
COMORBIDITIES: dict[str, tuple[tuple[str, ...], tuple[str, ...], int]] = {
    "chf": (("42343007",), ("I50", "I11.0", "I13.0"), 1),
    "mi": (("22298006", "401314000"), ("I21", "I22", "I25.2"), 1),
    "cad": (("53741008",), ("I25.1",), 0),
    "cerebrovascular": (("230690007",), ("I63", "I64", "G45", "Z86.73"), 1),
    "dementia": (("52448006",), ("F00", "F01", "F02", "F03", "G30"), 1),
    "copd": (("13645005", "195951007"), ("J44", "J43"), 1),
    "diabetes": (("44054006",), ("E11", "E10"), 1),
    "renal": (("709044004", "431857002"), ("N18",), 2),
    "liver": (("19943007", "13920009"), ("K70", "K74", "K76.82"), 1),
    "cancer": (("254837009", "399068003", "363406005", "93880001"), ("C",), 2),
    "arrhythmia": (("49436004",), ("I48", "I47", "I49"), 0),
    "hypertension": (("59621000",), ("I10",), 0),
    "depression": (("35489007",), ("F32", "F33"), 0),
    "obesity": (("414916001",), ("E66",), 0),
    "anemia": (("271737000",), ("D64", "D63"), 0),
}
ACUTE_CARDIOPULMONARY = (
    "42343007",
    "195951007",
)  # CHF / COPD exacerbation as an encounter diagnosis

DRUG_CLASSES: dict[str, tuple[str, ...]] = {  # class -> RxNorm ingredient RxCUIs
    "antidiabetic_oral": ("6809", "1545653"),
    "insulin": ("274783", "86009"),
    "ace_arb": ("29046", "52175"),
    "beta_blocker": ("6918", "20352"),
    "loop_diuretic": ("4603",),
    "other_diuretic": ("5487", "9997"),
    "ccb": ("17767",),
    "anticoagulant": ("1364430", "11289", "67108"),
    "antiplatelet": ("1191", "32968"),
    "statin": ("83367",),
    "bronchodilator": ("435", "69120"),
    "antidepressant": ("36437", "321988"),
    "antibiotic": ("2193", "18631", "11124", "20481", "19711", "2231", "7454"),
    "opioid": ("7804",),
    "corticosteroid": ("8640",),
}
# a request counts as active for this many days after it starts (chronic prescriptions are renewed yearly)
ACTIVE_DAYS_DEFAULT = 365
SHORT_COURSE = {
    "2193",
    "18631",
    "11124",
    "20481",
    "19711",
    "2231",
    "7454",
    "8640",
    "26225",
    "7804",
    "161",
    "5640",
    "67108",
    "86009",
}  # antibiotics, steroid burst, PRN/analgesics, inpatient-only
ACTIVE_DAYS_SHORT = 14

DISCHARGE_SUMMARY = "18842-5"
NOTE_DIM = 256

# ------------------------------------------------------------------ helpers


def normalize_events(events: pl.DataFrame) -> pl.DataFrame:
    return (
        events.select(pl.col(ENTITY_KEY).cast(pl.String), pl.col(EVENT_TIMESTAMP).cast(UTC_US))
        .unique()
        .sort(KEYS)
    )


def _as_of(
    events: pl.DataFrame, frame: pl.DataFrame, at: str, lookback_days: int | None = None
) -> pl.DataFrame:
    """Rows of ``frame`` joined to each event of the same patient, timestamped at or before the event (and
    within ``lookback_days``), with ``age_days``: how long before the event."""
    frame = frame.filter(pl.col(at).is_not_null()).with_columns(pl.col(at).cast(UTC_US))
    joined = events.join(frame, on=ENTITY_KEY, how="inner").filter(
        pl.col(at) <= pl.col(EVENT_TIMESTAMP)
    )
    joined = joined.with_columns(
        ((pl.col(EVENT_TIMESTAMP) - pl.col(at)).dt.total_microseconds() / DAY_US).alias("age_days")
    )
    if lookback_days is not None:
        joined = joined.filter(pl.col("age_days") <= lookback_days)
    return joined


def _complete(
    events: pl.DataFrame,
    features: pl.DataFrame,
    zero: list[str] | None = None,
    false: list[str] | None = None,
) -> pl.DataFrame:
    """Every event gets a row; counts default to 0 and flags to False where the patient had nothing."""
    out = events.join(features, on=KEYS, how="left")
    fills = [pl.col(c).fill_null(0) for c in zero or []] + [
        pl.col(c).fill_null(False) for c in false or []
    ]
    return out.with_columns(fills) if fills else out


# ------------------------------------------------------------------ demographics


def demographics(patients: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """Age and age band at the event (from the shifted birth date: event dates are shifted alike), sex.
    Silver withholds the birth date of patients aged 90+ at their last record: they are 90+ here too."""
    events = normalize_events(events)
    people = patients.select(ENTITY_KEY, pl.col("birth_date").cast(pl.Date), "gender", "age_band")
    joined = events.join(people, on=ENTITY_KEY, how="left")
    years = age_years_expr("birth_date", pl.col(EVENT_TIMESTAMP).dt.date())
    withheld = pl.col("birth_date").is_null() & (pl.col("age_band") == "90+")
    age = (
        pl.when(withheld)
        .then(pl.lit(90))
        .otherwise(pl.min_horizontal(years, pl.lit(90)))
        .cast(pl.Int64)
    )
    return joined.select(
        *KEYS,
        age.alias("age_years"),
        age_band_expr(age, 90).alias("age_band"),
        pl.col("gender").alias("sex"),
    )


# ------------------------------------------------------------------ utilization


def utilization(encounters: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """Inpatient admissions, ED and outpatient visits started in the 30/180/365 days up to the event
    (an admission still under way at the event counts: its start is known), inpatient days of stays
    ended in 365 days, and the last finished stay: length of stay, elective, disposition, days since."""
    events = normalize_events(events)
    enc = encounters.select(
        ENTITY_KEY,
        "class_code",
        "priority_code",
        "discharge_disposition",
        pl.col("period_start").cast(UTC_US),
        pl.col("period_end").cast(UTC_US),
    )
    started = _as_of(events, enc, "period_start", 365)
    aggs = []
    for days in (30, 180, 365):
        inwin = pl.col("age_days") <= days
        aggs += [
            ((pl.col("class_code") == "IMP") & inwin)
            .sum()
            .cast(pl.Int64)
            .alias(f"admissions_{days}d"),
            ((pl.col("class_code") == "EMER") & inwin)
            .sum()
            .cast(pl.Int64)
            .alias(f"ed_visits_{days}d"),
        ]
    aggs.append(
        (pl.col("class_code") == "AMB").sum().cast(pl.Int64).alias("outpatient_visits_365d")
    )
    counts = started.group_by(KEYS).agg(aggs)

    stays = enc.filter(pl.col("class_code") == "IMP").with_columns(
        ((pl.col("period_end") - pl.col("period_start")).dt.total_microseconds() / DAY_US).alias(
            "los"
        )
    )
    ended = _as_of(events, stays, "period_end")  # finished stays only: their length is known
    last = (
        ended.sort("period_end")
        .group_by(KEYS)
        .agg(
            pl.col("los").last().alias("last_los_days"),
            (pl.col("priority_code").last() == "EL").alias("last_stay_elective"),
            pl.col("discharge_disposition").last().alias("last_stay_disposition"),
            pl.col("age_days").last().alias("days_since_last_discharge"),
            pl.col("los").filter(pl.col("age_days") <= 365).sum().alias("inpatient_days_365d"),
        )
    )
    zero = [f"{k}_{d}d" for d in (30, 180, 365) for k in ("admissions", "ed_visits")] + [
        "outpatient_visits_365d",
        "inpatient_days_365d",
    ]
    out = _complete(events, counts.join(last, on=KEYS, how="full", coalesce=True), zero=zero)
    return out.with_columns(
        pl.col("inpatient_days_365d").cast(pl.Float64),
        pl.col("last_stay_elective").fill_null(False),
    )


# ------------------------------------------------------------------ labs


def lab_features() -> list[str]:
    names = []
    for lab in LAB_PANEL:
        names += [f"{lab}_last", f"{lab}_days_since_last"]
        names += [f"{lab}_{s}_{w}d" for w in LAB_WINDOWS for s in LAB_STATS]
        names += [f"{lab}_count_365d", f"{lab}_trend_365d"]
    return names


def labs(observations: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """Per LOINC of the panel: last value and its age in days, mean/min/max over 30 and 365 days, count and
    trend (least-squares slope per year) over 365 days."""
    events = normalize_events(events)
    code_to_lab = {v: k for k, v in LAB_PANEL.items()}
    obs = observations.filter(
        pl.col("code").is_in(list(code_to_lab)) & pl.col("value_num").is_not_null()
    ).select(
        ENTITY_KEY,
        pl.col("code").replace_strict(code_to_lab, return_dtype=pl.String).alias("lab"),
        pl.col("value_num").cast(pl.Float64).alias("v"),
        pl.col("effective_at").cast(UTC_US),
    )
    joined = _as_of(events, obs, "effective_at")
    y = pl.col("v").filter(pl.col("age_days") <= 365)
    x = (-pl.col("age_days") / 365.25).filter(pl.col("age_days") <= 365)
    slope = ((x * y).mean() - x.mean() * y.mean()) / ((x * x).mean() - x.mean() ** 2)
    aggs = [
        pl.col("v").sort_by("effective_at").last().alias("last"),
        pl.col("age_days").min().alias("days_since_last"),
    ]
    for w in LAB_WINDOWS:
        inwin = pl.col("v").filter(pl.col("age_days") <= w)
        aggs += [
            inwin.mean().alias(f"mean_{w}d"),
            inwin.min().alias(f"min_{w}d"),
            inwin.max().alias(f"max_{w}d"),
        ]
    aggs += [
        y.count().cast(pl.Int64).alias("count_365d"),
        pl.when(y.count() >= 2).then(slope).otherwise(None).alias("trend_365d"),
    ]
    long = joined.group_by(*KEYS, "lab").agg(aggs)
    wide = events
    for lab in LAB_PANEL:
        part = long.filter(pl.col("lab") == lab).drop("lab")
        part = part.rename({c: f"{lab}_{c}" for c in part.columns if c not in KEYS})
        wide = wide.join(part, on=KEYS, how="left")
    wide = wide.with_columns([pl.col(f"{lab}_count_365d").fill_null(0) for lab in LAB_PANEL])
    # a zero-variance window (all samples at one instant) has no trend
    wide = wide.with_columns([pl.col(f"{lab}_trend_365d").fill_nan(None) for lab in LAB_PANEL])
    return wide.select(*KEYS, *lab_features())


# ------------------------------------------------------------------ conditions


def condition_features() -> list[str]:
    return [f"cm_{name}" for name in COMORBIDITIES] + [
        "comorbidity_count",
        "charlson_score",
        "diagnoses_30d",
        "acute_cardiopulmonary_30d",
    ]


def conditions(frame: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """Comorbidity flags (any matching condition recorded at or before the event), their count, a
    Charlson-style weighted score, diagnoses recorded in the last 30 days and whether one of them was a
    CHF/COPD exacerbation."""
    events = normalize_events(events)
    cond = frame.select(
        ENTITY_KEY, pl.col("code").cast(pl.String), pl.col("recorded_at").cast(UTC_US)
    )
    joined = _as_of(events, cond, "recorded_at")
    flags = []
    for name, (codes, prefixes, _) in COMORBIDITIES.items():
        hit = pl.col("code").is_in(list(codes))
        for prefix in prefixes:
            hit = hit | pl.col("code").str.starts_with(prefix)
        flags.append(hit.any().alias(f"cm_{name}"))
    recent = pl.col("age_days") <= 30
    agg = joined.group_by(KEYS).agg(
        *flags,
        recent.sum().cast(pl.Int64).alias("diagnoses_30d"),
        (recent & pl.col("code").is_in(list(ACUTE_CARDIOPULMONARY)))
        .any()
        .alias("acute_cardiopulmonary_30d"),
    )
    names = [f"cm_{n}" for n in COMORBIDITIES]
    out = _complete(
        events, agg, zero=["diagnoses_30d"], false=names + ["acute_cardiopulmonary_30d"]
    )
    weights = [pl.col(f"cm_{n}").cast(pl.Int64) * w for n, (_, _, w) in COMORBIDITIES.items()]
    return out.with_columns(
        pl.sum_horizontal([pl.col(c).cast(pl.Int64) for c in names]).alias("comorbidity_count"),
        pl.sum_horizontal(weights).cast(pl.Int64).alias("charlson_score"),
    ).select(*KEYS, *condition_features())


# ------------------------------------------------------------------ medications


def medication_features() -> list[str]:
    return ["active_med_count", "new_meds_30d", *[f"rx_{c}" for c in DRUG_CLASSES]]


def medications(frame: pl.DataFrame, events: pl.DataFrame) -> pl.DataFrame:
    """Medications active at the event: an ingredient whose latest request started at or before the event
    and less than 365 days before it (14 for short courses: antibiotics, PRN, inpatient-only); count,
    ingredients first requested in the last 30 days, and one flag per drug class."""
    events = normalize_events(events)
    meds = frame.select(ENTITY_KEY, pl.col("code").cast(pl.String), pl.col("start_at").cast(UTC_US))
    joined = _as_of(events, meds, "start_at")
    per_drug = joined.group_by(*KEYS, "code").agg(
        pl.col("age_days").min().alias("latest"), pl.col("age_days").max().alias("first")
    )
    limit = (
        pl.when(pl.col("code").is_in(list(SHORT_COURSE)))
        .then(ACTIVE_DAYS_SHORT)
        .otherwise(ACTIVE_DAYS_DEFAULT)
    )
    per_drug = per_drug.with_columns((pl.col("latest") <= limit).alias("active"))
    agg = per_drug.group_by(KEYS).agg(
        pl.col("active").sum().cast(pl.Int64).alias("active_med_count"),
        (pl.col("first") <= 30).sum().cast(pl.Int64).alias("new_meds_30d"),
        *[
            (pl.col("active") & pl.col("code").is_in(list(codes))).any().alias(f"rx_{c}")
            for c, codes in DRUG_CLASSES.items()
        ],
    )
    return _complete(
        events,
        agg,
        zero=["active_med_count", "new_meds_30d"],
        false=[f"rx_{c}" for c in DRUG_CLASSES],
    ).select(*KEYS, *medication_features())


# ------------------------------------------------------------------ notes


TOKEN_PATTERN = r"[a-z][a-z0-9]+"


@lru_cache(maxsize=1 << 16)
def token_bucket(token: str, dim: int = NOTE_DIM) -> tuple[int, float]:
    """Stable across processes and Python versions (unlike ``hash``): blake2b of the token picks a bucket
    and a sign (signed feature hashing keeps collisions unbiased)."""
    digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dim, (1.0 if (value >> 63) & 1 else -1.0)


def hash_texts(texts: list[str | None], dim: int = NOTE_DIM) -> np.ndarray:
    """Texts -> L2-normalized signed hashed bag of unigrams and bigrams (log 1 + tf), float32 [n, dim]."""
    frame = pl.DataFrame({"text": texts}, schema={"text": pl.String}).with_row_index("row")
    tokens = frame.select(
        "row", pl.col("text").str.to_lowercase().str.extract_all(TOKEN_PATTERN).alias("t")
    )
    out = np.zeros((len(texts), dim), dtype=np.float32)
    for row, toks in tokens.iter_rows():
        if not toks:
            continue
        grams = toks + [f"{a}_{b}" for a, b in zip(toks, toks[1:])]
        counts: dict[int, float] = {}
        for gram in grams:
            bucket, sign = token_bucket(gram, dim)
            counts[bucket] = counts.get(bucket, 0.0) + sign
        for bucket, tf in counts.items():
            out[row, bucket] = math.copysign(math.log1p(abs(tf)), tf)
        norm = float(np.linalg.norm(out[row]))
        if norm > 0:
            out[row] /= norm
    return out


def note_features() -> list[str]:
    return ["note_embedding", "has_note", "note_age_days", "note_chars"]


def discharge_note(
    notes: pl.DataFrame,
    events: pl.DataFrame,
    *,
    doc_type: str = DISCHARGE_SUMMARY,
    dim: int = NOTE_DIM,
) -> pl.DataFrame:
    """The latest de-identified note of ``doc_type`` dated at or before the event as a fixed-size float32
    vector (hashed bag of words, computed here: no model), with its age in days and length."""
    events = normalize_events(events)
    docs = notes.filter(pl.col("doc_type_code") == doc_type).select(
        ENTITY_KEY, pl.col("note_date").cast(UTC_US), "text"
    )
    latest = (
        _as_of(events, docs, "note_date")
        .sort("note_date")
        .group_by(KEYS)
        .agg(pl.col("text").last(), pl.col("age_days").last().alias("note_age_days"))
    )
    vectors = hash_texts(latest["text"].to_list(), dim)
    latest = latest.with_columns(
        pl.Series("note_embedding", vectors, dtype=pl.Array(pl.Float32, dim)).cast(
            pl.List(pl.Float32)
        ),
        pl.col("text").str.len_chars().cast(pl.Int64).alias("note_chars"),
    ).drop("text")
    out = events.join(latest, on=KEYS, how="left")
    return out.with_columns(
        pl.col("note_embedding").is_not_null().alias("has_note"),
        pl.col("note_embedding").fill_null(pl.lit([0.0] * dim, pl.List(pl.Float32))),
        pl.col("note_chars").fill_null(0),
    ).select(*KEYS, *note_features())
