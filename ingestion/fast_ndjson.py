"""Vectorized fast path for Bulk ndjson files of high-volume resource types.

Arrow's JSON reader parses a whole file against a fixed schema, the field shapes of ``ingestion.fhir_shapes``
(strictly: a value of another JSON type fails the file, as the per-resource path's check of the same shapes
quarantines it), and the flattening runs as Polars column expressions, giving the same rows as the
per-resource flatteners in ``bronze_tables`` (a test holds the two paths to each other). It only accelerates
the happy path: a file it cannot parse (invalid JSON, wrong types, corrupt gzip) falls back to the
per-resource reader whole, and any row it has a doubt about (no id, odd references, dates it cannot read, a
subject that is not a Patient, a ``null``) is handed back as a leftover for the per-resource path, which
decides, and quarantines with the reason.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import orjson
import polars as pl
import pyarrow as pa
import pyarrow.json as pa_json

from ingestion.bronze_tables import MEDICATION_KINDS, TABLE_OF_TYPE, TABLES
from ingestion.fhir_shapes import OTHER_SHAPE, OTHER_SHAPE_OVERRIDES, SHAPES
from ingestion.fhir_types import R4_RESOURCE_TYPES
from ingestion.sources import decompress_verified

S = pl.String
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.f%:z"


# ------------------------------------------------------------------ expression helpers (mirror fhir_values)


def ref_id(ref: pl.Expr) -> pl.Expr:
    r = ref.struct.field("reference")
    return (
        pl.when(r == "")
        .then(None)
        .when(r.str.starts_with("urn:"))
        .then(r.str.split(":").list.last())
        .otherwise(r.str.split("/").list.last())
    )


def ref_type(ref: pl.Expr) -> pl.Expr:
    r = ref.struct.field("reference")
    parsed = (
        pl.when(r.str.starts_with("urn:"))
        .then(None)
        .otherwise(r.str.split("/").list.get(-2, null_on_oob=True))
    )
    return pl.coalesce(
        pl.when(ref.struct.field("type") != "").then(ref.struct.field("type")), parsed
    )


def ref_ids(items: pl.Expr, inner: str | None = None) -> pl.Expr:
    element = pl.element().struct.field(inner) if inner else pl.element()
    ids = items.list.eval(ref_id(element)).list.eval(
        pl.element().filter(pl.element().is_not_null() & (pl.element() != ""))
    )
    return ids.fill_null(pl.lit([], dtype=pl.List(S)))


def _coding(concept: pl.Expr) -> tuple[pl.Expr, pl.Expr, pl.Expr]:
    coding = concept.struct.field("coding").list.first()
    return (
        coding.struct.field("system"),
        coding.struct.field("code"),
        pl.coalesce(coding.struct.field("display"), concept.struct.field("text")),
    )


def code_columns(concept: pl.Expr, prefix: str = "") -> list[pl.Expr]:
    system, code, display = _coding(concept)
    return [
        system.alias(prefix + "code_system"),
        code.alias(prefix + "code"),
        display.alias(prefix + "display"),
    ]


def concept_code(concept: pl.Expr, is_list: bool = False) -> pl.Expr:
    if is_list:
        concept = concept.list.first()
    return concept.struct.field("coding").list.first().struct.field("code")


def instant(value: pl.Expr) -> pl.Expr:
    """FHIR date/dateTime string -> UTC timestamp; null when this path cannot read it (leftover)."""
    n = value.str.len_chars()
    normalized = (
        pl.when(n == 4)
        .then(value + "-01-01T00:00:00+00:00")
        .when(n == 7)
        .then(value + "-01T00:00:00+00:00")
        .when(n == 10)
        .then(value + "T00:00:00+00:00")
        .when(value.str.ends_with("Z"))
        .then(value.str.slice(0, n - 1) + "+00:00")
        .when(value.str.contains(r"[+-]\d\d:\d\d$"))
        .then(value)
        .otherwise(value + "+00:00")
    )
    return normalized.str.to_datetime(
        DATETIME_FORMAT, time_zone="UTC", strict=False, time_unit="us"
    )


def period(field: str) -> tuple[pl.Expr, pl.Expr, list[pl.Expr]]:
    """Start/end of a `<field>Period` / `<field>DateTime` choice, plus the raw strings to verify."""
    p = pl.col(field + "Period")
    dt = pl.col(field + "DateTime")
    start_raw = pl.when(p.is_not_null()).then(p.struct.field("start")).otherwise(dt)
    end_raw = pl.when(p.is_not_null()).then(p.struct.field("end")).otherwise(dt)
    return instant(start_raw), instant(end_raw), [start_raw, end_raw]


def encounter_of(*fields: str) -> pl.Expr:
    out = pl.lit(None, dtype=S)
    for field in reversed(fields):
        ref = pl.col(field)
        ok = ref.is_not_null() & (ref_type(ref).is_null() | (ref_type(ref) == "Encounter"))
        out = pl.when(ok).then(ref_id(ref)).otherwise(out)
    return out


# ------------------------------------------------------------------ per resource type


@dataclass(frozen=True)
class FastSpec:
    table: str
    schema: dict[str, pl.DataType]
    patient_fields: tuple[
        str, ...
    ]  # the patient reference must resolve through one of these (else leftover)
    columns: list[pl.Expr]
    dates: list[
        tuple[pl.Expr, pl.Expr]
    ]  # (raw string, parsed) pairs: raw set but unparsed -> leftover
    doubtful: pl.Expr | None = None  # further rows for the per-resource path to decide


def _observation() -> FastSpec:
    start, _, raws = period("effective")
    issued = instant(pl.col("issued"))
    vq = pl.col("valueQuantity")
    vcc_system, vcc_code, vcc_display = _coding(pl.col("valueCodeableConcept"))
    has_q = vq.struct.field("value").is_not_null()
    comp = pl.element()
    comp_coding = comp.struct.field("code").struct.field("coding").list.first()
    comp_q = comp.struct.field("valueQuantity")
    components = pl.col("component").list.eval(
        pl.struct(
            comp_coding.struct.field("system").alias("code_system"),
            comp_coding.struct.field("code").alias("code"),
            pl.coalesce(
                comp_coding.struct.field("display"), comp.struct.field("code").struct.field("text")
            ).alias("display"),
            comp_q.struct.field("value").alias("value_num"),
            pl.when(comp_q.struct.field("value").is_not_null())
            .then(pl.coalesce(comp_q.struct.field("unit"), comp_q.struct.field("code")))
            .alias("value_unit"),
        )
    )
    return FastSpec(
        "observations",
        SHAPES["Observation"],
        ("subject",),
        [
            pl.col("id").alias("observation_id"),
            encounter_of("encounter").alias("encounter_id"),
            pl.col("status"),
            concept_code(pl.col("category"), is_list=True).alias("category"),
            *code_columns(pl.col("code")),
            start.alias("effective_at"),
            issued.alias("issued_at"),
            pl.when(has_q)
            .then(vq.struct.field("value"))
            .otherwise(pl.col("valueInteger").cast(pl.Float64))
            .alias("value_num"),
            pl.when(has_q)
            .then(pl.coalesce(vq.struct.field("unit"), vq.struct.field("code")))
            .alias("value_unit"),
            pl.coalesce(
                pl.col("valueString"),
                vcc_display,
                pl.col("valueBoolean").cast(S).str.to_lowercase(),
                pl.col("valueDateTime"),
            ).alias("value_text"),
            vcc_code.alias("value_code"),
            concept_code(pl.col("interpretation"), is_list=True).alias("interpretation"),
            components.fill_null(
                pl.lit(
                    [],
                    dtype=pl.List(
                        pl.Struct(
                            {
                                "code_system": S,
                                "code": S,
                                "display": S,
                                "value_num": pl.Float64,
                                "value_unit": S,
                            }
                        )
                    ),
                )
            ).alias("components"),
            ref_id(pl.col("specimen")).alias("specimen_id"),
        ],
        [(raws[0], start), (pl.col("issued"), issued)],
        doubtful=pl.col("effectiveInstant").is_not_null(),  # the rare choice: per resource
    )


def _condition() -> FastSpec:
    onset, _, onset_raw = period("onset")
    abatement, _, abatement_raw = period("abatement")
    recorded = instant(pl.col("recordedDate"))
    return FastSpec(
        "conditions",
        SHAPES["Condition"],
        ("subject",),
        [
            pl.col("id").alias("condition_id"),
            encounter_of("encounter").alias("encounter_id"),
            *code_columns(pl.col("code")),
            concept_code(pl.col("category"), is_list=True).alias("category"),
            concept_code(pl.col("clinicalStatus")).alias("clinical_status"),
            concept_code(pl.col("verificationStatus")).alias("verification_status"),
            onset.alias("onset_at"),
            abatement.alias("abatement_at"),
            recorded.alias("recorded_at"),
        ],
        [(onset_raw[0], onset), (abatement_raw[0], abatement), (pl.col("recordedDate"), recorded)],
    )


def _procedure() -> FastSpec:
    start, end, raws = period("performed")
    return FastSpec(
        "procedures",
        SHAPES["Procedure"],
        ("subject",),
        [
            pl.col("id").alias("procedure_id"),
            encounter_of("encounter").alias("encounter_id"),
            pl.col("status"),
            *code_columns(pl.col("code")),
            start.alias("performed_start"),
            end.alias("performed_end"),
        ],
        [(raws[0], start), (raws[1], end)],
    )


def _encounter() -> FastSpec:
    p = pl.col("period")
    start_raw, end_raw = p.struct.field("start"), p.struct.field("end")
    start, end = instant(start_raw), instant(end_raw)
    typ_system, typ_code, typ_display = _coding(pl.col("type").list.first())
    reason_system, reason_code, reason_display = _coding(pl.col("reasonCode").list.first())
    hosp = pl.col("hospitalization")
    return FastSpec(
        "encounters",
        SHAPES["Encounter"],
        ("subject",),
        [
            pl.col("id").alias("encounter_id"),
            pl.col("status"),
            pl.col("class").struct.field("code").alias("class_code"),
            typ_system.alias("type_system"),
            typ_code.alias("type_code"),
            typ_display.alias("type_display"),
            concept_code(pl.col("priority")).alias("priority_code"),
            concept_code(pl.col("serviceType")).alias("service_type"),
            start.alias("period_start"),
            end.alias("period_end"),
            concept_code(hosp.struct.field("admitSource")).alias("admit_source"),
            concept_code(hosp.struct.field("dischargeDisposition")).alias("discharge_disposition"),
            reason_code.alias("reason_code"),
            reason_display.alias("reason_display"),
            ref_id(pl.col("serviceProvider")).alias("service_provider_id"),
            ref_ids(pl.col("location"), "location").alias("location_ids"),
            ref_ids(pl.col("participant"), "individual").alias("practitioner_ids"),
            ref_id(pl.col("partOf")).alias("part_of_id"),
        ],
        [(start_raw, start), (end_raw, end)],
    )


def _medication(resource_type: str) -> FastSpec:
    kind = MEDICATION_KINDS[resource_type]
    if kind == "request":
        start_raw = pl.col("authoredOn")
        end_raw = pl.col("dispenseRequest").struct.field("validityPeriod").struct.field("end")
        dose = pl.col("dosageInstruction").list.first()
    elif kind == "dispense":
        start_raw = pl.coalesce(pl.col("whenHandedOver"), pl.col("whenPrepared"))
        end_raw = pl.lit(None, dtype=S)
        dose = pl.col("dosageInstruction").list.first()
    else:
        _, _, (start_raw, end_raw) = period("effective")
        dose = pl.col("dosage") if kind == "administration" else pl.col("dosage").list.first()
    start, end = instant(start_raw), instant(end_raw)
    encounter = encounter_of("encounter", "context")
    return FastSpec(
        "medications",
        SHAPES[resource_type],
        ("subject",),
        [
            pl.lit(kind).alias("kind"),
            encounter.alias("encounter_id"),
            pl.col("status"),
            pl.col("intent"),
            *code_columns(pl.col("medicationCodeableConcept")),
            ref_id(pl.col("medicationReference")).alias("medication_id"),
            start.alias("start_at"),
            end.alias("end_at"),
            dose.struct.field("text").alias("dosage_text"),
            concept_code(dose.struct.field("route")).alias("route"),
        ],
        [(start_raw, start), (end_raw, end)],
    )


def _document_reference() -> FastSpec:
    content = pl.col("content")
    attachment = content.list.first().struct.field("attachment")
    content_type, data = attachment.struct.field("contentType"), attachment.struct.field("data")
    charset = content_type.str.to_lowercase().str.extract(r"charset=\s*([^;\s]+)")
    decoded = data.str.replace_all(r"\s", "").str.decode("base64", strict=False).cast(S)
    text = pl.when(data.is_not_null()).then(decoded)
    typ_system, typ_code, typ_display = _coding(pl.col("type"))
    context_encounter = pl.col("context").struct.field("encounter").list.first()
    encounter_ok = context_encounter.is_not_null() & (
        ref_type(context_encounter).is_null() | (ref_type(context_encounter) == "Encounter")
    )
    date = instant(pl.col("date"))
    return FastSpec(
        "notes",
        SHAPES["DocumentReference"],
        ("subject",),
        [
            pl.col("id").alias("note_id"),
            pl.when(encounter_ok).then(ref_id(context_encounter)).alias("encounter_id"),
            pl.col("status"),
            typ_code.alias("doc_type_code"),
            typ_display.alias("doc_type_display"),
            concept_code(pl.col("category"), is_list=True).alias("category"),
            date.alias("note_date"),
            ref_ids(pl.col("author")).alias("author_ids"),
            pl.when(data.is_not_null()).then(content_type).alias("content_type"),
            text.alias("text"),
            text.str.len_chars().fill_null(0).cast(pl.Int64).alias("text_chars"),
        ],
        [(pl.col("date"), date)],
        # several attachments, another charset, or data that does not decode: the per-resource path decides
        doubtful=(
            (content.list.len() > 1)
            | (charset.is_not_null() & ~charset.is_in(["utf-8", "utf8"]))
            | (data.is_not_null() & decoded.is_null())
        ),
    )


def _other() -> FastSpec:
    fields = ("subject", "patient", "beneficiary")
    patient = pl.lit(None, dtype=S)
    for field in reversed(fields):
        ref = pl.col(field)
        candidate = ref_id(ref)
        ok = (
            ref.is_not_null()
            & (ref_type(ref).is_null() | (ref_type(ref) == "Patient"))
            & candidate.is_not_null()
            & (candidate != "")
        )
        patient = pl.when(ok).then(candidate).otherwise(patient)
    return FastSpec(
        "other_resources",
        OTHER_SHAPE,
        (),
        [patient.alias("patient_key"), encounter_of("encounter", "context").alias("encounter_id")],
        [],
    )


_SPECS: dict[str, FastSpec] = {}
_ARROW_SCHEMAS: dict[str, pa.Schema] = {}


def _plain_arrow(t: pa.DataType) -> pa.DataType:
    """The Arrow JSON reader wants plain string/list types, not Polars' large/view ones."""
    if pa.types.is_string_view(t) or pa.types.is_large_string(t):
        return pa.string()
    if pa.types.is_large_list(t) or pa.types.is_list(t) or pa.types.is_list_view(t):
        return pa.list_(_plain_arrow(t.value_type))
    if pa.types.is_struct(t):
        return pa.struct([pa.field(f.name, _plain_arrow(f.type)) for f in t])
    return t


def arrow_schema(resource_type: str, spec: FastSpec) -> pa.Schema:
    if resource_type not in _ARROW_SCHEMAS:
        polars_arrow = pl.DataFrame(schema=spec.schema).to_arrow().schema
        _ARROW_SCHEMAS[resource_type] = pa.schema(
            [pa.field(f.name, _plain_arrow(f.type)) for f in polars_arrow]
        )
    return _ARROW_SCHEMAS[resource_type]


def spec_for(resource_type: str) -> FastSpec | None:
    if resource_type not in _SPECS:
        builders = {
            "Observation": _observation,
            "Condition": _condition,
            "Procedure": _procedure,
            "Encounter": _encounter,
            "DocumentReference": _document_reference,
        }
        if resource_type in builders:
            _SPECS[resource_type] = builders[resource_type]()
        elif resource_type in MEDICATION_KINDS:
            _SPECS[resource_type] = _medication(resource_type)
        elif (
            resource_type in R4_RESOURCE_TYPES
            and resource_type not in TABLE_OF_TYPE
            and resource_type not in OTHER_SHAPE_OVERRIDES  # links of other shapes: per resource
            and resource_type != "Bundle"
        ):
            _SPECS[resource_type] = _other()
        else:
            return None
    return _SPECS[resource_type]


# ------------------------------------------------------------------ the file-level entry point


@dataclass
class FastResult:
    table: str
    resource_type: str
    data: pa.Table  # rows in the table's bronze schema
    leftovers: list[tuple[int, bytes]]  # (line number, raw line) for the per-resource path


@dataclass
class _Lines:
    document: bytes  # one resource per line, no blank lines, every line ends with "\n"
    raw_json: pa.Array  # each line without its newline (large_string)
    linenos: np.ndarray  # 1-based line numbers in the file as delivered

    def raw(self, i: int) -> bytes:
        return self.raw_json[i].as_py().encode("utf-8")


def _split_plain(document: bytes) -> pa.Array | None:
    """Lines of a plain document (no blank lines, no CR) via a multi-threaded CSV read of one column.

    JSON text cannot hold a raw U+0001, so it never splits a line; anything unexpected (a blank line, a
    stray CR, invalid UTF-8) shows up as a length mismatch and sends the file to the exact splitter.
    """
    try:
        column = pl.read_csv(
            io.BytesIO(document),
            has_header=False,
            separator="\x01",
            quote_char=None,
            new_columns=["raw_json"],
            schema={"raw_json": S},
        )["raw_json"]
    except (pl.exceptions.PolarsError, ValueError):
        return None
    if column.null_count() or int(column.str.len_bytes().sum() or 0) + len(column) != len(document):
        return None
    return column.to_arrow(compat_level=pl.CompatLevel.oldest())


def _split_exact(document: bytes) -> tuple[bytes, pa.Array, np.ndarray] | None:
    """Line by line, dropping blank lines and CRs and keeping the original line numbers."""
    kept = [
        (n, line.rstrip(b"\r")) for n, line in enumerate(document.split(b"\n"), 1) if line.strip()
    ]
    try:
        raw_json = pa.array([line for _, line in kept], pa.large_binary()).cast(pa.large_string())
    except pa.ArrowInvalid:  # not UTF-8
        return None
    return (
        b"".join(line + b"\n" for _, line in kept),
        raw_json,
        np.array([n for n, _ in kept], dtype=np.int64),
    )


def _lines(name: str, data: bytes) -> _Lines | None:
    data, damage = decompress_verified(name, data)
    if damage is not None or not data or data.isspace():
        return None  # the per-resource reader keeps the verified members and quarantines the rest
    document = data if data.endswith(b"\n") else data + b"\n"
    raw_json = _split_plain(document) if b"\r" not in document else None
    if raw_json is not None:
        return _Lines(document, raw_json, np.arange(1, len(raw_json) + 1, dtype=np.int64))
    exact = _split_exact(document)
    return _Lines(*exact) if exact is not None else None


def parse_ndjson(
    name: str, data: bytes, *, source_file: str, snapshot_id: str, now: datetime
) -> FastResult | None:
    """Vectorized parse of one ndjson file, or None when the file is not suitable (use the slow path)."""
    lines = _lines(name, data)
    if lines is None:
        return None
    try:
        first = orjson.loads(lines.raw(0))
    except orjson.JSONDecodeError:
        return None
    resource_type = first.get("resourceType") if isinstance(first, dict) else None
    spec = spec_for(resource_type) if isinstance(resource_type, str) else None
    if spec is None:
        return None
    options = pa_json.ParseOptions(
        explicit_schema=arrow_schema(resource_type, spec), unexpected_field_behavior="ignore"
    )
    try:
        parsed = pa_json.read_json(io.BytesIO(lines.document), parse_options=options)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None  # invalid JSON or an unexpected type somewhere: the per-resource path decides
    raw_json = lines.raw_json
    if parsed.num_rows != len(raw_json):
        return None

    patient = pl.lit(None, dtype=S)
    patient_ok = pl.lit(True)
    if spec.patient_fields:
        ref = pl.col(spec.patient_fields[0])
        patient = ref_id(ref)
        patient_ok = (
            patient.is_not_null()
            & (patient != "")
            & (ref_type(ref).is_null() | (ref_type(ref) == "Patient"))
        )
    doubtful = pl.lit(False)
    for raw, parsed_value in spec.dates:
        doubtful = doubtful | (raw.is_not_null() & parsed_value.is_null())
    if spec.doubtful is not None:
        doubtful = doubtful | spec.doubtful
    last_updated_raw = pl.col("meta").struct.field("lastUpdated")
    last_updated = instant(last_updated_raw)
    leftover = (
        (pl.col("resourceType") != resource_type)
        | pl.col("resourceType").is_null()
        | pl.col("id").is_null()
        | (pl.col("id").str.strip_chars() == "")
        | pl.col("_history")
        | pl.col(
            "_null"
        )  # null values (absent) or null array elements (invalid): the per-resource path decides
        | ~patient_ok
        | doubtful
        | (last_updated_raw.is_not_null() & last_updated.is_null())
    ).fill_null(True)
    raw_lines = pl.from_arrow(raw_json)
    frame = pl.from_arrow(parsed).with_columns(
        raw_lines.str.contains("/_history/", literal=True).alias("_history"),
        raw_lines.str.contains("null", literal=True).alias("_null"),
        pl.Series("_line", lines.linenos, dtype=pl.Int64),
    )
    select = [
        (pl.col("resourceType") + "/" + pl.col("id")).alias("resource_key"),
        pl.col("resourceType").alias("resource_type"),
        pl.col("id").alias("resource_id"),
        pl.col("meta").struct.field("profile").list.first().alias("profile"),
        last_updated.alias("last_updated"),
        pl.lit(snapshot_id).alias("snapshot_id"),
        pl.lit(source_file).alias("source_file"),
        pl.format("line {}", pl.col("_line")).alias("source_locator"),
        pl.lit(now, dtype=pl.Datetime("us", "UTC")).alias("ingested_at"),
        *([patient.alias("patient_key")] if spec.patient_fields else []),
        *spec.columns,
        leftover.alias("_leftover"),
    ]
    try:
        columns = frame.select(select)
    except pl.exceptions.ComputeError:
        return None  # e.g. a note whose bytes are not UTF-8 although it says so: the per-resource path decides
    mask = columns["_leftover"].to_numpy()
    left = np.flatnonzero(mask)
    keep = np.flatnonzero(~mask)
    if len(left):
        columns = columns.filter(~pl.col("_leftover"))
        raw_json = raw_json.take(pa.array(keep))
    table = TABLES[spec.table]
    arrow = (
        columns.drop("_leftover")
        .to_arrow(compat_level=pl.CompatLevel.oldest())
        .append_column("raw_json", raw_json)
    )
    arrow = arrow.select(table.schema.names).cast(table.schema)
    return FastResult(
        spec.table, resource_type, arrow, [(int(lines.linenos[i]), lines.raw(i)) for i in left]
    )
