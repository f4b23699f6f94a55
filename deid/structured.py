"""Bronze -> silver for every bronze table: what each silver table keeps, and the transform that applies
the policy (keyed pseudonyms, dates shifted or reduced to year, ZIP3, ages over 89, free text through
the note path). Pure Polars/Arrow in, Polars out: the Dagster asset and the Spark engine call this.

Nothing here reads a table: callers hand over bronze frames read at pinned versions.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import polars as pl

from deid.keys import DeidKey
from deid.known_identifiers import PATIENT_IDENTIFIER_COLUMNS, KnownIdentifiers, from_patient_row
from deid.notes import detect_phi
from deid.policy import DeidPolicy
from deid.pseudonyms import pseudonymize, pseudonymize_list, shift_days_map
from deid.rules import age_band_expr, age_years_expr, zip3_expr

# columns every bronze table carries that never reach silver: the raw resource (with every identifier),
# where it came from (Synthea bundle file names carry patient names) and the source's own timestamps
DROPPED_COMMON = (
    "resource_key",
    "resource_id",
    "source_file",
    "source_locator",
    "raw_json",
    "last_updated",
)
KEPT_COMMON = ("resource_type", "profile", "snapshot_id", "ingested_at")


@dataclass(frozen=True)
class SilverSpec:
    """One silver table: which bronze columns survive and how each is transformed."""

    name: str
    key: str  # the silver row key (a pseudonymized id)
    keep: tuple[str, ...] = ()  # copied as they are (codes, statuses, numbers)
    ids: dict[str, str] = field(default_factory=dict)  # column -> pseudonym kind
    id_lists: dict[str, str] = field(default_factory=dict)  # list column -> pseudonym kind
    dates: tuple[str, ...] = ()  # timestamps/dates of the patient: shifted or reduced to year
    free_text: tuple[str, ...] = ()  # through the note de-identifier
    zip_column: str | None = None  # postal code -> zip3
    patient_scoped: bool = True  # has patient_key (-> patient_id)
    resource_id: bool = False  # key is the pseudonym of the bronze resource_key (no own id column)


CODE = ("code_system", "code", "display")
SPECS: dict[str, SilverSpec] = {
    s.name: s
    for s in [
        SilverSpec(
            "patients",
            "patient_id",
            keep=(
                "gender",
                "birth_sex",
                "race",
                "ethnicity",
                "marital_status",
                "state",
                "country",
                "deceased",
            ),
            ids={"managing_organization_id": "organization"},
            dates=("birth_date", "deceased_at"),
            zip_column="postal_code",
        ),
        SilverSpec(
            "encounters",
            "encounter_id",
            keep=(
                "status",
                "class_code",
                "type_system",
                "type_code",
                "type_display",
                "priority_code",
                "service_type",
                "admit_source",
                "discharge_disposition",
                "reason_code",
                "reason_display",
            ),
            ids={
                "encounter_id": "encounter",
                "service_provider_id": "organization",
                "part_of_id": "encounter",
            },
            id_lists={"location_ids": "location", "practitioner_ids": "practitioner"},
            dates=("period_start", "period_end"),
        ),
        SilverSpec(
            "conditions",
            "condition_id",
            keep=(*CODE, "category", "clinical_status", "verification_status"),
            ids={"condition_id": "condition", "encounter_id": "encounter"},
            dates=("onset_at", "abatement_at", "recorded_at"),
        ),
        SilverSpec(
            "observations",
            "observation_id",
            keep=(
                "status",
                "category",
                *CODE,
                "value_num",
                "value_unit",
                "value_code",
                "interpretation",
                "components",
            ),
            ids={
                "observation_id": "observation",
                "encounter_id": "encounter",
                "specimen_id": "specimen",
            },
            dates=("effective_at", "issued_at"),
            free_text=("value_text",),
        ),
        SilverSpec(
            "medications",
            "resource_id",
            keep=("kind", "status", "intent", *CODE, "route"),
            ids={"encounter_id": "encounter", "medication_id": "medication"},
            dates=("start_at", "end_at"),
            free_text=("dosage_text",),
            resource_id=True,
        ),
        SilverSpec(
            "procedures",
            "procedure_id",
            keep=("status", *CODE),
            ids={"procedure_id": "procedure", "encounter_id": "encounter"},
            dates=("performed_start", "performed_end"),
        ),
        SilverSpec(
            "notes",
            "note_id",
            keep=("status", "doc_type_code", "doc_type_display", "category", "content_type"),
            ids={"note_id": "note", "encounter_id": "encounter"},
            id_lists={"author_ids": "practitioner"},
            dates=("note_date",),
            free_text=("text",),
        ),
        SilverSpec(
            "organizations",
            "organization_id",
            keep=("type_code", "state", "country"),
            ids={"organization_id": "organization", "part_of_id": "organization"},
            zip_column="postal_code",
            patient_scoped=False,
        ),
        SilverSpec(
            "locations",
            "location_id",
            keep=("status", "type_code", "physical_type", "state", "country"),
            ids={
                "location_id": "location",
                "managing_organization_id": "organization",
                "part_of_id": "location",
            },
            zip_column="postal_code",
            patient_scoped=False,
        ),
        SilverSpec(
            "practitioners",
            "practitioner_id",
            keep=("gender", "state", "country"),
            ids={"practitioner_id": "practitioner"},
            patient_scoped=False,
        ),
        SilverSpec(
            "medication_catalog",
            "medication_id",
            keep=(*CODE, "status", "form_code"),
            ids={"medication_id": "medication"},
            id_lists={"ingredient_ids": "medication"},
            patient_scoped=False,
        ),
        SilverSpec(
            "other_resources",
            "resource_id",
            ids={"encounter_id": "encounter"},
            patient_scoped=True,
            resource_id=True,
        ),
    ]
}

PARALLEL_MIN_TEXTS = 400  # below this, starting workers costs more than it saves
_WORKER_DEIDENTIFIER: TextDeidentifier | None = None


def _deidentify(deidentifier: TextDeidentifier, job: tuple):
    text, patient_key, known, shift_days = job
    return deidentifier.deidentify(
        text, patient_key=patient_key, known=known, shift_days=shift_days
    )


def _init_worker(deidentifier: TextDeidentifier) -> None:
    global _WORKER_DEIDENTIFIER
    _WORKER_DEIDENTIFIER = deidentifier


def _worker_deidentify(job: tuple):
    return _deidentify(_WORKER_DEIDENTIFIER, job)


def _generic_detect(text: str) -> list:
    return detect_phi(text)


class TextDeidentifier(Protocol):
    """What the note path offers (deid.notes.NoteDeidentifier)."""

    def deidentify(
        self, text: str, *, patient_key: str | None, known: KnownIdentifiers | None, shift_days: int
    ): ...


@dataclass
class SilverResult:
    tables: dict[str, pl.DataFrame]
    replacements: Counter[str] = field(
        default_factory=Counter
    )  # PHI label -> spans replaced in free text
    texts: int = 0  # free-text values de-identified
    pseudonymized_patients: int = 0


def shared_flag(column: str) -> str:
    """The optional boolean column that marks a free-text value shared by several patients table-wide."""
    return f"{column}__shared"


def _utc(frame: pl.DataFrame, column: str) -> pl.Expr:
    dtype = frame.schema[column]
    if dtype == pl.Date:
        return pl.col(column).cast(pl.Datetime("us", "UTC"))
    return pl.col(column)


def patient_timeline(bronze: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Per bronze patient key: the first and last date recorded anywhere (the safe_harbor anchor and
    the as-of date for ages). Birth dates are excluded: they are not events."""
    parts = []
    for name, spec in SPECS.items():
        frame = bronze.get(name)
        if frame is None or not spec.patient_scoped or frame.height == 0:
            continue
        dates = [c for c in spec.dates if c in frame.columns and c != "birth_date"]
        if not dates:
            continue
        values = frame.select("patient_key", *[_utc(frame, c).alias(c) for c in dates])
        parts.append(
            values.select(
                "patient_key",
                pl.min_horizontal(dates).alias("first"),
                pl.max_horizontal(dates).alias("last"),
            )
        )
    if not parts:
        return pl.DataFrame(
            schema={
                "patient_key": pl.String,
                "first": pl.Datetime("us", "UTC"),
                "last": pl.Datetime("us", "UTC"),
            }
        )
    return (
        pl.concat(parts)
        .drop_nulls("patient_key")
        .group_by("patient_key")
        .agg(pl.col("first").min(), pl.col("last").max())
    )


class SilverBuilder:
    """Applies one policy with one key to a set of bronze frames read at pinned versions."""

    def __init__(
        self,
        key: DeidKey,
        policy: DeidPolicy,
        text_deidentifier: TextDeidentifier,
        *,
        as_of: datetime | None = None,
        detect: Callable[[str], list] | None = None,
        workers: int = 1,
    ):
        self.key = key
        self.workers = workers
        self.detect = detect or _generic_detect
        self.policy = policy
        self.text = text_deidentifier
        self.as_of = as_of or datetime.now(UTC)

    # ------------------------------------------------------------ patients context

    def _context(self, bronze: dict[str, pl.DataFrame]) -> pl.DataFrame:
        """patient_key -> patient_id, shift_days, first/last event (anchor and age as-of)."""
        keys = pl.concat(
            [
                bronze[n].select(pl.col("patient_key").cast(pl.String))
                for n, s in SPECS.items()
                if s.patient_scoped and n in bronze and bronze[n].height
            ]
        )
        return self.key_context(keys.drop_nulls().unique()).join(
            patient_timeline(bronze), on="patient_key", how="left"
        )

    def key_context(self, keys: pl.DataFrame) -> pl.DataFrame:
        """Distinct patient keys -> patient_id (keyed pseudonym) and shift_days: a function of each key alone,
        so any slice of the keys can be done apart (the Spark engine maps it over batches)."""
        shifts = shift_days_map(
            keys["patient_key"], self.key, self.policy.shift_min_days, self.policy.shift_max_days
        )
        return keys.with_columns(
            pseudonymize(keys, "patient_key", self.key, "patient", alias="patient_id"),
            pl.col("patient_key").replace_strict(shifts, return_dtype=pl.Int32).alias("shift_days"),
        )

    def _known(self, patients: pl.DataFrame | None) -> dict[str, KnownIdentifiers]:
        if patients is None or patients.height == 0:
            return {}
        return {row["patient_key"]: from_patient_row(row) for row in patients.iter_rows(named=True)}

    # ------------------------------------------------------------ per table

    def _dates(self, frame: pl.DataFrame, columns: Iterable[str]) -> list[pl.Expr]:
        out = []
        for column in columns:
            if column not in frame.columns:
                continue
            if self.policy.date_mode == "shift":
                out.append((pl.col(column) + pl.duration(days=pl.col("shift_days"))).alias(column))
            else:  # safe_harbor: the year only, plus the interval to the patient's anchor in days
                value = _utc(frame, column)
                out.append(pl.col(column).dt.truncate("1y").alias(column))
                out.append(
                    (value - pl.col("first")).dt.total_days().cast(pl.Int32).alias(f"{column}_day")
                )
        return out

    def _free_text(
        self,
        frame: pl.DataFrame,
        column: str,
        known: dict[str, KnownIdentifiers],
        result: SilverResult,
    ) -> pl.DataFrame:
        """De-identify each distinct (patient, text) once and join the result back.

        Short structured texts (dosage instructions, coded result text) repeat across patients: each
        distinct text is first screened once with the generic detectors; a text with no PHI span and none
        of the patient's own identifiers (the gate's matcher) is kept as it is, anything else goes through
        the full note path for that patient."""
        if column not in frame.columns:
            return frame
        has_patient = "patient_key" in frame.columns
        cols = ["patient_key", "shift_days", column] if has_patient else [column]
        distinct = frame.select(cols).filter(pl.col(column).is_not_null()).unique().sort(cols[0])
        # screening pays off only for texts shared by several patients; a text seen once goes straight
        # to the note path (notes are all distinct: screening them would detect twice). A caller that sees
        # only a slice of the table (the Spark engine) says which texts are shared in the whole table.
        flag = shared_flag(column)
        if flag in frame.columns:
            shared = frame.filter(pl.col(flag))[column].unique().drop_nulls().to_list()
            frame = frame.drop(flag)
        else:
            shared = distinct.group_by(column).len().filter(pl.col("len") > 1)[column].to_list()
        screened = dict.fromkeys(distinct[column].to_list(), False)
        screened.update({text: not self.detect(text) for text in shared})
        spellings: dict[str, tuple[str, ...]] = {}
        cleaned: list[str | None] = []
        jobs: list[tuple[int, str, str | None, KnownIdentifiers | None, int]] = []
        for row in distinct.iter_rows(named=True):
            patient_key, text = row.get("patient_key"), row[column]
            identifiers = known.get(patient_key)
            if screened[text]:
                if identifiers is None:
                    cleaned.append(text)
                    continue
                own = spellings.get(patient_key)
                if own is None:
                    own = spellings[patient_key] = tuple(s for _, s in identifiers.all())
                lowered = text.lower()  # a substring test: wider than the gate's whole-word match
                if not any(spelling in lowered for spelling in own):
                    cleaned.append(text)
                    continue
            jobs.append(
                (len(cleaned), text, patient_key, identifiers, int(row.get("shift_days") or 0))
            )
            cleaned.append(None)
        for index, outcome in zip(
            [j[0] for j in jobs], self._deidentify_all([j[1:] for j in jobs])
        ):
            result.replacements.update(outcome.replacements)
            result.texts += 1
            cleaned[index] = outcome.text
        mapping = distinct.with_columns(pl.Series(f"{column}__deid", cleaned, dtype=pl.String))
        on = ["patient_key", column] if has_patient else [column]
        mapping = mapping.select(*on, f"{column}__deid")
        return (
            frame.join(mapping, on=on, how="left", nulls_equal=False)
            .with_columns(pl.col(f"{column}__deid").alias(column))
            .drop(f"{column}__deid")
        )

    def _deidentify_all(self, jobs: list[tuple]) -> Iterable:
        """Each (text, patient_key, known, shift_days) through the note path, in order; in worker processes
        when there are many (each worker loads the gazetteers once)."""
        if self.workers <= 1 or len(jobs) < PARALLEL_MIN_TEXTS:
            return [_deidentify(self.text, job) for job in jobs]
        context = multiprocessing.get_context(
            "forkserver"
        )  # never fork a process running native pools
        with ProcessPoolExecutor(
            self.workers, mp_context=context, initializer=_init_worker, initargs=(self.text,)
        ) as pool:
            return list(
                pool.map(
                    _worker_deidentify, jobs, chunksize=max(1, len(jobs) // (self.workers * 8))
                )
            )

    def build_table(
        self,
        spec: SilverSpec,
        frame: pl.DataFrame,
        context: pl.DataFrame,
        known: dict[str, KnownIdentifiers],
        result: SilverResult,
    ) -> pl.DataFrame:
        if spec.patient_scoped:
            frame = frame.join(context, on="patient_key", how="left")
        for column in spec.free_text:
            frame = self._free_text(frame, column, known, result)
        exprs: list[pl.Expr] = [pl.col(c) for c in KEPT_COMMON if c in frame.columns]
        if spec.resource_id:
            exprs.append(
                pseudonymize(frame, "resource_key", self.key, "resource", alias="resource_id")
            )
        if spec.patient_scoped:
            exprs.append(pl.col("patient_id"))
        exprs += [
            pseudonymize(frame, c, self.key, kind)
            for c, kind in spec.ids.items()
            if c in frame.columns
        ]
        exprs += [
            pseudonymize_list(frame, c, self.key, kind)
            for c, kind in spec.id_lists.items()
            if c in frame.columns
        ]
        exprs += [pl.col(c) for c in spec.keep if c in frame.columns]
        exprs += self._dates(frame, spec.dates)
        exprs += [pl.col(c) for c in spec.free_text if c in frame.columns]
        if spec.zip_column and spec.zip_column in frame.columns:
            exprs.append(zip3_expr(spec.zip_column, self.policy.restricted_zip3).alias("zip3"))
        if spec.name == "notes" and "text" in frame.columns:
            exprs.append(pl.col("text").str.len_chars().cast(pl.Int64).alias("text_chars"))
        if spec.name == "patients":
            frame, extra = self._ages(frame)
            exprs += extra
        out = frame.select(exprs)
        if (
            spec.name == "patients"
        ):  # a birth date that shows an age over 89 is withheld (both policies)
            out = out.with_columns(
                pl.when(pl.col("age_band") == f"{self.policy.age_ceiling}+")
                .then(None)
                .otherwise(pl.col("birth_date"))
                .alias("birth_date")
            )
            if "birth_date_day" in out.columns:
                out = out.with_columns(
                    pl.when(pl.col("birth_date").is_null())
                    .then(None)
                    .otherwise(pl.col("birth_date_day"))
                    .alias("birth_date_day")
                )
        return out

    def _ages(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, list[pl.Expr]]:
        """Age at the patient's last recorded date (death, else last event, else when bronze first received
        the patient, else the run date): the same bronze gives the same ages on every rebuild."""
        fallback = pl.col("ingested_at") if "ingested_at" in frame.columns else pl.lit(None)
        as_of = pl.coalesce(
            pl.col("deceased_at"),
            pl.col("last"),
            fallback,
            pl.lit(self.as_of).cast(pl.Datetime("us", "UTC")),
        )
        frame = frame.with_columns(age_years_expr("birth_date", as_of).alias("__age"))
        ceiling = self.policy.age_ceiling
        return frame, [
            pl.when(pl.col("__age") >= ceiling)
            .then(pl.lit(f"{ceiling}+"))
            .otherwise(pl.col("__age").cast(pl.String))
            .alias("age_at_last_record"),
            age_band_expr(pl.col("__age"), ceiling).alias("age_band"),
        ]

    # ------------------------------------------------------------ all tables

    def build(
        self, bronze: dict[str, pl.DataFrame], on_table: Callable[[str], None] | None = None
    ) -> SilverResult:
        unknown = set(bronze) - set(SPECS)
        if unknown:
            raise ValueError(f"no silver specification for bronze table(s) {sorted(unknown)}")
        context = self._context(bronze)
        known = self._known(bronze.get("patients"))
        result = SilverResult(tables={}, pseudonymized_patients=context.height)
        for name, frame in bronze.items():
            if on_table:
                on_table(name)
            result.tables[name] = self.build_table(SPECS[name], frame, context, known, result)
        return result


def bronze_columns(name: str, available: Iterable[str]) -> list[str]:
    """The bronze columns the silver transform of ``name`` reads (raw JSON and lineage columns are not read)."""
    spec = SPECS[name]
    wanted = {*KEPT_COMMON, *spec.keep, *spec.ids, *spec.id_lists, *spec.dates, *spec.free_text}
    if spec.patient_scoped:
        wanted.add("patient_key")
    if spec.resource_id:
        wanted.add("resource_key")
    if spec.zip_column:
        wanted.add(spec.zip_column)
    if name == "patients":
        wanted |= {*PATIENT_IDENTIFIER_COLUMNS, "identifiers"}
    return [c for c in available if c in wanted]
