"""The blocking PHI-leak gate: for every patient, none of that patient's known identifiers (from bronze
patients) may appear in any of that patient's silver rows or text.

Silver rows carry pseudonyms, so the gate maps each bronze patient key to its pseudonym with the same
key. Every column of a patient-scoped silver table is scanned, whatever it is called (struct and list
columns field by field), with that patient's matcher (``deid.leak_scan``): names of two or more letters,
city, street, email, MRN, SSN, phone, the full ZIP (the three-digit prefix alone is allowed; a restricted
prefix must show as 000) and the birth date. Each column is reduced to one string per patient (values
joined by newlines, so identifiers still match as whole tokens). Results are counts per
(table, column, kind): the identifiers themselves are never returned or logged.

False alarms from vocabulary (the race "White" of a patient named White, "Malignant tumor of colon" for a
patient named Colon) are told apart by the value, never by the column's name nor by how many patients
share it: a name or city match inside a value is not counted only when the whole value is coded
vocabulary, i.e. the display its own code system gives the row's code, or a member of the value set of
the code system the column holds (``deid.terminology``). Every other kind is counted there too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import polars as pl

from deid.keys import DeidKey
from deid.known_identifiers import PATIENT_IDENTIFIER_COLUMNS, KnownIdentifiers, from_patient_row
from deid.leak_scan import Leak, PatientMatcher, describe
from deid.policy import RESTRICTED_ZIP3
from deid.structured import SPECS
from deid.terminology import STANDARD, Terminology

GATE_BRONZE_COLUMNS = PATIENT_IDENTIFIER_COLUMNS

PLATFORM_DATES = {"ingested_at"}  # when the platform received the row: not a date of the patient
# kinds a whole vocabulary value may contain without leaking: words ("White", "Colon", "Jackson")
VOCABULARY_KINDS = frozenset({"name", "city"})


@dataclass
class GateResult:
    leaks: Counter[Leak] = field(default_factory=Counter)
    # the patients (silver pseudonyms, not identifiers) each leak was found for: safe to log
    leak_patients: dict[Leak, set[str]] = field(default_factory=dict)
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


def _as_text(dtype: pl.DataType, col: pl.Expr, date_mode: str = "shift") -> pl.Expr | None:
    """Every value of a column as scannable text; None for types that cannot hold an identifier."""
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


def _display_siblings(name: str, names: Iterable[str]) -> tuple[str | None, str] | None:
    """For a coded concept's display (``display`` or ``<prefix>_display``) beside its code: the names of
    its system (None when there is none) and code columns/fields."""
    if name != "display" and not name.endswith("_display"):
        return None
    names = set(names)
    prefix = name[: -len("display")]
    code = f"{prefix}code"
    if code not in names:
        return None
    for system in (f"{prefix}system", f"{prefix}code_system"):
        if system in names:
            return system, code
    return None, code


def _vocabulary(
    name: str, names: Iterable[str], col: pl.Expr, of, terminology: Terminology
) -> pl.Expr:
    """Per row: is the value of ``name`` (a string column or struct field) coded vocabulary? ``of`` gives
    the expression of a sibling column/field by name."""
    siblings = _display_siblings(name, names)
    if siblings is not None:
        system, code = siblings
        return terminology.is_display(of(system) if system else None, of(code), col)
    in_set = terminology.in_value_set(name, col)
    return in_set if in_set is not None else pl.lit(False)


def _cells(
    frame: pl.DataFrame, date_mode: str, terminology: Terminology
) -> Iterator[tuple[str, pl.DataFrame]]:
    """Per silver column: a frame of (patient_id, v: the value as text, vocabulary: bool). Struct columns
    and lists of structs are scanned field by field, so a coded display inside them is judged with its
    own code and system; the findings name the silver column."""
    names = [c for c in frame.columns if c != "patient_id"]
    for column in names:
        dtype = frame.schema[column]
        inner = dtype.inner if isinstance(dtype, pl.List) else dtype
        if isinstance(inner, pl.Struct):
            rows = frame.select("patient_id", pl.col(column))
            if isinstance(dtype, pl.List):
                rows = rows.explode(column)
            rows = rows.filter(pl.col(column).is_not_null())
            fields = {f.name: f.dtype for f in inner.fields}
            parts = []
            for name, fdtype in fields.items():
                col = pl.col(column).struct.field(name)
                text = _as_text(fdtype, col, date_mode)
                if text is None:
                    continue
                vocabulary = (
                    _vocabulary(
                        name,
                        fields,
                        col,
                        lambda n, column=column: pl.col(column).struct.field(n),
                        terminology,
                    )
                    if fdtype == pl.String
                    else pl.lit(False)
                )
                parts.append(
                    rows.select(
                        pl.col("patient_id"), text.alias("v"), vocabulary.alias("vocabulary")
                    )
                )
            if parts:
                yield column, pl.concat(parts).drop_nulls(["patient_id", "v"])
            continue
        text = _as_text(dtype, pl.col(column), date_mode)
        if text is None:
            continue
        vocabulary = (
            _vocabulary(column, names, pl.col(column), pl.col, terminology)
            if dtype == pl.String
            else pl.lit(False)
        )
        yield (
            column,
            frame.select(
                pl.col("patient_id"), text.alias("v"), vocabulary.alias("vocabulary")
            ).drop_nulls(["patient_id", "v"]),
        )


def scan_table(
    name: str,
    frame: pl.DataFrame,
    known: dict[str, KnownIdentifiers],
    matchers: dict[str, PatientMatcher],
    result: GateResult,
    date_mode: str = "shift",
    terminology: Terminology | None = None,
    restricted_zip3: Iterable[str] = RESTRICTED_ZIP3,
) -> None:
    """Scan every column of one patient-scoped silver table; leaks are added to ``result``."""
    if "patient_id" not in frame.columns or frame.height == 0:
        return
    terminology = terminology or STANDARD
    restricted_zip3 = tuple(restricted_zip3)
    for column, values in _cells(frame, date_mode, terminology):
        per_patient = values.group_by("patient_id").agg(
            pl.col("v").filter(~pl.col("vocabulary")).str.join("\n").alias("text"),
            pl.col("v").filter(pl.col("vocabulary")).str.join("\n").alias("vocabulary"),
        )
        for patient_id, text, vocabulary in per_patient.iter_rows():
            identifiers = known.get(patient_id)
            if identifiers is None:
                continue
            matcher = matchers.get(patient_id)
            if matcher is None:
                matcher = matchers[patient_id] = PatientMatcher(identifiers, restricted_zip3)
            result.values_scanned += 1
            kinds = matcher.kinds_in(text) + [
                kind for kind in matcher.kinds_in(vocabulary) if kind not in VOCABULARY_KINDS
            ]
            for kind in kinds:
                leak = Leak(name, column, kind)
                result.leaks[leak] += 1
                result.leak_patients.setdefault(leak, set()).add(patient_id)


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
    terminology: Terminology | None = None,
    restricted_zip3: Iterable[str] = RESTRICTED_ZIP3,
) -> GateResult:
    """``terminology``: the coded vocabulary a name or city may appear in (default: the standard value
    sets only; the platform adds its source's code systems). ``restricted_zip3``: the policy's."""
    known = known_by_pseudonym(bronze_patients, key)
    result = GateResult(patients=len(known))
    matchers: dict[str, PatientMatcher] = {}
    for name, frame in silver.items():
        if name in SPECS and SPECS[name].patient_scoped:
            result.tables.append(name)
            scan_table(
                name, frame, known, matchers, result, date_mode, terminology, restricted_zip3
            )
        if date_mode == "safe_harbor":
            result.problems += year_only_problems(name, frame)
    return result
