"""The blocking PHI-leak gate: for every patient, none of that patient's known identifiers (from bronze
patients) may appear in any of that patient's silver rows or text.

Silver rows carry pseudonyms, so the gate maps each bronze patient key to its pseudonym with the same
key. Each silver column is reduced to one string per patient (values joined by newlines, so identifiers
still match as whole tokens) and scanned with that patient's matcher. Results are counts per
(table, column, kind): the identifiers themselves are never returned or logged.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import polars as pl

from deid.keys import DeidKey
from deid.known_identifiers import KnownIdentifiers, from_patient_row
from deid.leak_scan import Leak, PatientMatcher, describe
from deid.structured import SPECS

GATE_BRONZE_COLUMNS = [
    "patient_key",
    "family_name",
    "given_names",
    "contacts",
    "mrn",
    "ssn",
    "phone",
    "email",
    "address_line",
    "birth_date",
]

SHARED_BY = 5  # the k-anonymity threshold the report uses
PLATFORM_DATES = {"ingested_at"}
# categorical columns whose values come from a value set: "White" as a race is the category, not the
# surname White. Name-kind matches are not counted there; every other kind (MRN, SSN, phone, email,
# street, birth date) still is.
CATEGORICAL = {
    "race",
    "ethnicity",
    "gender",
    "birth_sex",
    "marital_status",
    "state",
    "country",
    "zip3",
    "age_band",
    "age_at_last_record",
    "status",
    "kind",
    "intent",
    "category",
    "class_code",
}  # when the platform received the row: not a date of the patient


@dataclass
class GateResult:
    leaks: Counter[Leak] = field(default_factory=Counter)
    patients: int = 0  # patients whose identifiers were checked
    values_scanned: int = 0  # (patient, table, column) strings scanned
    tables: list[str] = field(default_factory=list)
    problems: list[str] = field(
        default_factory=list
    )  # structural failures (e.g. a date not reduced to year)

    @property
    def passed(self) -> bool:
        return not self.leaks and not self.problems

    @property
    def leak_count(self) -> int:
        return sum(self.leaks.values())

    def describe(self) -> list[str]:
        return describe(self.leaks) + self.problems

    def by_table(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for leak, count in self.leaks.items():
            out[f"{leak.table}.{leak.column}"] += count
        return dict(sorted(out.items()))

    def by_kind(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for leak, count in self.leaks.items():
            out[leak.kind] += count
        return dict(sorted(out.items()))


def known_by_pseudonym(bronze_patients: pl.DataFrame, key: DeidKey) -> dict[str, KnownIdentifiers]:
    return {
        key.pseudonym(row["patient_key"], "patient"): from_patient_row(row)
        for row in bronze_patients.iter_rows(named=True)
    }


def _as_text(frame: pl.DataFrame, column: str, date_mode: str = "shift") -> pl.Expr | None:
    """Every value of a column as scannable text; None for types that cannot hold an identifier."""
    dtype = frame.schema[column]
    col = pl.col(column)
    if dtype == pl.String:
        return col
    if isinstance(dtype, pl.List) and dtype.inner == pl.String:
        return col.list.join("\n")
    if isinstance(dtype, pl.List) and isinstance(dtype.inner, pl.Struct):
        return col.list.eval(pl.element().struct.json_encode()).list.join("\n")
    if isinstance(dtype, pl.Struct):
        return col.struct.json_encode()
    if dtype in (pl.Date,) or isinstance(dtype, pl.Datetime):
        if date_mode == "safe_harbor":
            return None  # year-only dates (checked by year_only_problems) cannot show a full birth date
        return col.cast(pl.Date).cast(pl.String)  # a real full birth date would show as YYYY-MM-DD
    return None  # numbers and booleans


def scan_table(
    name: str,
    frame: pl.DataFrame,
    known: dict[str, KnownIdentifiers],
    matchers: dict[str, PatientMatcher],
    result: GateResult,
    date_mode: str = "shift",
) -> None:
    if "patient_id" not in frame.columns or frame.height == 0:
        return
    for column in frame.columns:
        if column == "patient_id":
            continue
        text = _as_text(frame, column, date_mode)
        if text is None:
            continue
        values = frame.select(pl.col("patient_id"), text.alias("v")).drop_nulls()
        # a value that at least SHARED_BY patients have is vocabulary ("Malignant tumor of colon"), not one
        # patient's identifier: name-kind matches inside it are not counted (every other kind is)
        shared = (
            values.group_by("v")
            .agg(pl.col("patient_id").n_unique().alias("n"))
            .filter(pl.col("n") >= SHARED_BY)
        )
        values = values.with_columns(pl.col("v").is_in(shared["v"].implode()).alias("shared"))
        per_patient = values.group_by("patient_id").agg(
            pl.col("v").str.join("\n").alias("all"),
            pl.col("v").filter(~pl.col("shared")).str.join("\n").alias("private"),
            pl.col("shared").any().alias("any_shared"),
        )
        for patient_id, blob, private, any_shared in per_patient.iter_rows():
            identifiers = known.get(patient_id)
            if identifiers is None:
                continue
            matcher = matchers.get(patient_id)
            if matcher is None:
                matcher = matchers[patient_id] = PatientMatcher(identifiers)
            result.values_scanned += 1
            kinds = matcher.kinds_in(blob)
            if any_shared and "name" in kinds:
                kinds = [k for k in kinds if k != "name"] + [
                    k for k in matcher.kinds_in(private) if k == "name"
                ]
            for kind in kinds:
                if kind == "name" and column in CATEGORICAL:
                    continue
                result.leaks[Leak(name, column, kind)] += 1


def year_only_problems(name: str, frame: pl.DataFrame) -> list[str]:
    """Under safe_harbor every date must be reduced to its year (January 1st, midnight)."""
    problems = []
    for column, dtype in frame.schema.items():
        if column in PLATFORM_DATES:
            continue
        if dtype == pl.Date or isinstance(dtype, pl.Datetime):
            values = frame[column].drop_nulls()
            bad = values.filter(values.dt.truncate("1y") != values)
            if bad.len():
                problems.append(
                    f"{name}.{column}: {bad.len()} date value(s) not reduced to the year"
                )
    return problems


def run_gate(
    silver: dict[str, pl.DataFrame],
    bronze_patients: pl.DataFrame,
    key: DeidKey,
    date_mode: str = "shift",
) -> GateResult:
    known = known_by_pseudonym(bronze_patients, key)
    result = GateResult(patients=len(known))
    matchers: dict[str, PatientMatcher] = {}
    for name, frame in silver.items():
        if name in SPECS and SPECS[name].patient_scoped:
            result.tables.append(name)
            scan_table(name, frame, known, matchers, result, date_mode)
        if date_mode == "safe_harbor":
            result.problems += year_only_problems(name, frame)
    return result
