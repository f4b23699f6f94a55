"""De-identification stage: bronze (pinned versions) -> silver, the blocking PHI-leak gate, the report.

Only this stage and ingestion may read bronze (tests/integration/test_no_bronze_reads.py enforces it).
"""

from collections.abc import Iterator

import polars as pl
from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    AssetOut,
    DataVersion,
    MetadataValue,
    Output,
    asset,
    multi_asset,
    multi_asset_check,
)

from assets.resources import PlatformResource, commit_metadata
from cohort import vocab as v
from deid.gate import GATE_BRONZE_COLUMNS, run_gate
from deid.notes import NoteDeidentifier
from deid.report import REPORT_TABLE, build_report, markdown, write_report
from deid.runtime import key_from_settings, policy_from_settings
from deid.silver import RUNS_TABLE, build_silver, run_record
from deid.spark import build_silver_spark
from deid.structured import SPECS
from deid.terminology import STANDARD, Terminology
from lakehouse.delta import DeltaRef, commit_metadata_of, current_version, table_uri
from lakehouse.spark import engine_session

SILVER_TABLES = list(SPECS)
GATE = "phi_leak_gate"


def source_terminology() -> Terminology:
    """The coded vocabulary the gate lets a name or city appear in: the standard value sets plus every
    concept the platform's source (the cohort generator) codes, in its own code systems."""
    return STANDARD.with_concepts(
        [
            *((v.SNOMED, c.snomed, c.snomed_display) for c in v.CONDITIONS.values()),
            *((v.ICD10CM, c.icd10, c.icd10_display) for c in v.CONDITIONS.values()),
            *((v.LOINC, lab.loinc, lab.display) for lab in v.LABS.values()),
            *((v.RXNORM, m.rxcui, m.name) for m in v.MEDS.values()),
            *((v.SNOMED, p.snomed, p.display) for p in v.PROCEDURES.values()),
            *((v.SNOMED, code, display) for code, display in v.ENC_TYPE.values()),
        ]
    )


def silver_key(name: str) -> AssetKey:
    return AssetKey(["silver", name])


@multi_asset(
    outs={
        **{
            name: AssetOut(
                key=silver_key(name),
                kinds={"delta"},
                description=f"Silver {name}: de-identified (keyed pseudonyms, policy dates, no raw JSON).",
            )
            for name in SILVER_TABLES
        },
        RUNS_TABLE: AssetOut(
            key=silver_key(RUNS_TABLE),
            kinds={"delta"},
            description="One row per silver build: inputs digest, bronze and silver versions, "
            "policy, key fingerprint and replacements per PHI type.",
        ),
    },
    ins={f"bronze_{name}": AssetIn(key=["bronze", name]) for name in SILVER_TABLES},
    group_name="silver",
    description="De-identify every bronze table at the version its asset recorded into silver Delta tables.",
)
def silver_tables(
    context: AssetExecutionContext, platform: PlatformResource, **bronze: DeltaRef
) -> Iterator[Output]:
    settings = platform.settings
    policy, key = policy_from_settings(settings), key_from_settings(settings)
    refs = {name.removeprefix("bronze_"): ref for name, ref in bronze.items()}
    common = dict(
        key=key,
        policy=policy,
        text_deidentifier=NoteDeidentifier(key, policy),
        commit_metadata=lambda asset: commit_metadata(context, asset),
        on_table=lambda name: context.log.debug(f"de-identifying {name}"),
    )
    if settings.engine == "spark":
        with engine_session(settings.spark_master, settings.spark_home) as spark:
            build = build_silver_spark(refs, settings.silver, spark, **common)
    else:
        build = build_silver(refs, settings.silver, workers=settings.deid_workers, **common)
    context.log.info(
        ("rebuilt" if build.rebuilt else "already current:")
        + f" silver from bronze versions {build.bronze_versions}; policy {policy.version} "
        f"({policy.date_mode}), key fingerprint {key.fingerprint}"
    )
    common = {
        **policy.describe(),
        "deid_key_fingerprint": key.fingerprint,
        "deid_input_digest": build.input_digest,
        "rebuilt": build.rebuilt,
        "engine": settings.engine,
    }
    for name in SILVER_TABLES:
        ref = build.refs[name]
        yield Output(
            ref,
            output_name=name,
            data_version=DataVersion(str(ref.version)),
            metadata={
                **common,
                "table_uri": MetadataValue.path(ref.uri),
                "delta_version": ref.version,
                "row_count": build.rows.get(name),
                "bronze_version": refs[name].version,
            },
        )
    runs_uri = table_uri(settings.silver, RUNS_TABLE)
    runs = DeltaRef(table=RUNS_TABLE, uri=runs_uri, version=current_version(runs_uri) or 0)
    yield Output(
        runs,
        output_name=RUNS_TABLE,
        data_version=DataVersion(str(runs.version)),
        metadata={
            **common,
            "table_uri": MetadataValue.path(runs_uri),
            "delta_version": runs.version,
            "bronze_versions": MetadataValue.json(build.bronze_versions),
            "replacements": MetadataValue.json(dict(sorted(build.replacements.items()))),
            "texts_deidentified": build.texts,
            "seconds": MetadataValue.json({k: round(v, 3) for k, v in build.seconds.items()}),
        },
    )


@multi_asset_check(
    specs=[
        AssetCheckSpec(
            GATE,
            asset=silver_key(name),
            blocking=True,
            additional_deps=[AssetKey(["bronze", "patients"])],
            description="None of a patient's known identifiers (names of 2+ letters, MRN, SSN, "
            "phone, email, street line, city, full ZIP, full birth date) appears in that patient's "
            "silver rows or text, in any column.",
        )
        for name in SILVER_TABLES
    ],
    ins={
        **{name: AssetIn(key=silver_key(name)) for name in SILVER_TABLES},
        "bronze_patients": AssetIn(key=["bronze", "patients"]),
    },
    description="The blocking PHI-leak gate: failures stop everything downstream of silver and name the "
    "table, column, kind and count, never the identifier.",
)
def phi_leak_gate(
    platform: PlatformResource, bronze_patients: DeltaRef, **silver: DeltaRef
) -> Iterator[AssetCheckResult]:
    settings = platform.settings
    key = key_from_settings(settings)
    frames = {name: pl.from_arrow(ref.read()) for name, ref in silver.items()}
    result = run_gate(
        frames,
        pl.from_arrow(bronze_patients.read(columns=GATE_BRONZE_COLUMNS)),
        key,
        settings.deid_date_mode,
        terminology=source_terminology(),
    )
    for name in SILVER_TABLES:
        lines = [line for line in result.describe() if line.startswith(f"{name}.")]
        leaks = sum(c for leak, c in result.leaks.items() if leak.table == name)
        yield AssetCheckResult(
            check_name=GATE,
            asset_key=silver_key(name),
            passed=not lines,
            metadata={
                "delta_version": silver[name].version,
                "leaked_values": leaks,
                "patients_checked": result.patients,
                "patient_scoped": SPECS[name].patient_scoped,
                "findings": "\n".join(lines) or "none",
                "bronze_patients_version": bronze_patients.version,
            },
        )


@asset(
    key=silver_key(REPORT_TABLE),
    group_name="silver",
    kinds={"delta"},
    ins={
        "runs": AssetIn(key=silver_key(RUNS_TABLE)),
        **{name: AssetIn(key=silver_key(name)) for name in SILVER_TABLES},
    },
    description="Replacements per PHI type, policy version, key fingerprint, bronze versions read and "
    "k-anonymity over age band, sex, ZIP3, race and ethnicity.",
)
def deid_report(
    context: AssetExecutionContext, platform: PlatformResource, runs: DeltaRef, **silver: DeltaRef
) -> Output[DeltaRef]:
    settings = platform.settings
    patients = silver["patients"]
    digest = commit_metadata_of(patients.uri, patients.version).get("deid_input_digest")
    run = run_record(settings.silver, digest)
    if run is None:
        raise RuntimeError(
            f"no silver build with input digest {digest} in {table_uri(settings.silver, RUNS_TABLE)}"
        )
    report = build_report(run, silver["patients"], silver, settings.deid_date_mode)
    ref = write_report(settings.silver, report, commit_metadata(context, f"silver/{REPORT_TABLE}"))
    k = report["k_anonymity"]
    return Output(
        ref,
        data_version=DataVersion(str(ref.version)),
        metadata={
            "table_uri": MetadataValue.path(ref.uri),
            "delta_version": ref.version,
            "deid_policy_version": report["deid_policy_version"],
            "date_mode": report["date_mode"],
            "deid_key_fingerprint": report["deid_key_fingerprint"],
            "bronze_versions": MetadataValue.json(report["bronze_versions"]),
            "replacements": MetadataValue.json(report["replacements"]),
            "replacements_total": report["replacements_total"],
            "k_min": k["min_k"],
            "k_share_below_5": k["share_k_below_5"],
            "report": MetadataValue.md(markdown(report)),
        },
    )


DEID_ASSETS = [silver_tables, deid_report]
DEID_CHECKS = [phi_leak_gate]
