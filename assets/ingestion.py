"""Ingestion stage: the landing snapshot, then the bronze Delta tables (landing -> bronze), and their checks
(nothing lost, declared schema, quarantine rate)."""

from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetIn,
    AssetOut,
    DataVersion,
    Failure,
    MetadataValue,
    Output,
    asset,
    asset_check,
    multi_asset,
)

from assets.resources import PlatformResource, commit_metadata
from ingestion.audit import check_accounting, schema_differences
from ingestion.bronze_tables import (
    AUDIT_TABLE,
    DUPLICATES_TABLE,
    QUARANTINE_TABLE,
    SNAPSHOT_TABLE,
    TABLES,
)
from ingestion.ingest import BRONZE_OUTPUTS, ingest_snapshot, record_snapshot
from ingestion.landing import SnapshotRef, take_snapshot
from ingestion.spark import ingest_snapshot_spark
from lakehouse.delta import DeltaRef, row_count
from lakehouse.spark import engine_session

LANDING_KEY = ["landing", "snapshot"]

DESCRIPTIONS = {
    **{
        name: f"Bronze {name}: typed, flattened FHIR resources with raw JSON (holds PHI)."
        for name in TABLES
    },
    QUARANTINE_TABLE: "Resources (or files) that could not be ingested, with the reason, file and line.",
    DUPLICATES_TABLE: "Resources repeated within a snapshot: the occurrence kept and each one superseded, "
    "with file, line and content digests (conflicting when the contents differ).",
    AUDIT_TABLE: "Per snapshot, file and resource type: resources read, written, quarantined, "
    "superseded by a later duplicate and in bronze.",
}


@asset(
    key=LANDING_KEY,
    group_name="ingestion",
    kinds={"fhir", "delta"},
    description="Manifest (path, size, sha256) of the raw FHIR export in the landing zone; "
    "its digest is the snapshot id every bronze write records.",
)
def landing_snapshot(
    context: AssetExecutionContext, platform: PlatformResource
) -> Output[SnapshotRef]:
    settings = platform.settings
    snapshot = take_snapshot(settings.landing)
    if not snapshot.files:
        raise Failure(
            f"no FHIR files (*.ndjson[.gz], *.json[.gz]) under the landing directory {settings.landing}"
        )
    written = record_snapshot(
        snapshot, settings.bronze, commit_metadata(context, f"bronze/{SNAPSHOT_TABLE}")
    )
    ref = SnapshotRef(
        snapshot_id=snapshot.snapshot_id,
        root=snapshot.root,
        files=len(snapshot.files),
        total_bytes=snapshot.total_bytes,
        manifest=written.ref(),
    )
    return Output(
        ref,
        data_version=DataVersion(snapshot.snapshot_id),
        metadata={
            "snapshot_id": snapshot.snapshot_id,
            "landing_root": snapshot.root,
            "files": len(snapshot.files),
            "bytes": snapshot.total_bytes,
            "ignored_files": len(snapshot.ignored),
            "manifest_table": MetadataValue.path(written.uri),
            "manifest_delta_version": written.version,
        },
    )


@multi_asset(
    outs={
        name: AssetOut(key=["bronze", name], description=DESCRIPTIONS[name], kinds={"delta"})
        for name in BRONZE_OUTPUTS
    },
    ins={"snapshot": AssetIn(key=LANDING_KEY)},
    group_name="bronze",
    description="Parse the landing snapshot's FHIR files into typed bronze Delta tables (one commit each).",
)
def bronze_tables(
    context: AssetExecutionContext, platform: PlatformResource, snapshot: SnapshotRef
) -> Iterator[Output]:
    settings = platform.settings
    common = dict(
        commit_metadata=lambda name: commit_metadata(context, f"bronze/{name}"),
        run_id=context.run.run_id,
        batch_rows=settings.ingest_batch_rows,
    )
    if settings.engine == "spark":
        with engine_session(settings.spark_master, settings.spark_home) as spark:
            report = ingest_snapshot_spark(
                snapshot.load(),
                settings.bronze,
                spark,
                staging_root=settings.spark_home / "staging",
                **common,
            )
    else:
        report = ingest_snapshot(
            snapshot.load(),
            settings.bronze,
            on_file=lambda path: context.log.debug(f"ingested {path}"),
            **common,
        )
    totals = report.totals
    context.log.info(
        f"snapshot {snapshot.snapshot_id[:12]} ({settings.engine} engine): read {totals.read}, "
        f"written {totals.written}, "
        f"quarantined {totals.quarantined} in {report.seconds:.1f}s"
    )
    for name in BRONZE_OUTPUTS:
        write = report.writes[name]
        yield Output(
            write.ref(),
            output_name=name,
            data_version=DataVersion(str(write.version)),
            metadata={
                "table_uri": MetadataValue.path(write.uri),
                "delta_version": write.version,
                "snapshot_id": snapshot.snapshot_id,
                "row_count": row_count(write.uri, write.version),
                "rows_in_snapshot": write.rows_in_source,
                "inserted": write.inserted,
                "updated": write.updated,
                "unchanged": write.unchanged,
                "upstream_manifest_version": snapshot.manifest.version,
                "engine": settings.engine,
            },
        )


@asset_check(
    asset=["bronze", AUDIT_TABLE],
    blocking=True,
    additional_ins={
        "snapshot": AssetIn(key=LANDING_KEY),
        "quarantine": AssetIn(key=["bronze", QUARANTINE_TABLE]),
        "duplicates": AssetIn(key=["bronze", DUPLICATES_TABLE]),
    },
    description="Per snapshot, file and resource type: read == written + quarantined and "
    "written == in bronze + duplicates superseded; every landing file is accounted for; the quarantine "
    "and duplicates tables agree.",
)
def bronze_nothing_lost(
    ingest_audit: DeltaRef, snapshot: SnapshotRef, quarantine: DeltaRef, duplicates: DeltaRef
) -> AssetCheckResult:
    accounting = check_accounting(
        snapshot.load(), ingest_audit.read(), quarantine.read(), duplicates.read()
    )
    return AssetCheckResult(
        passed=accounting.ok,
        metadata={
            "snapshot_id": snapshot.snapshot_id,
            "read": accounting.read,
            "written": accounting.written,
            "quarantined": accounting.quarantined,
            "in_bronze": accounting.in_bronze,
            "duplicates_superseded": accounting.superseded,
            "duplicates_conflicting": accounting.conflicting,
            "problems": "\n".join(accounting.problems[:50]) or "none",
        },
    )


@asset_check(
    asset=["bronze", QUARANTINE_TABLE],
    additional_ins={
        "snapshot": AssetIn(key=LANDING_KEY),
        "ingest_audit": AssetIn(key=["bronze", AUDIT_TABLE]),
    },
    description="Warns when the share of quarantined resources exceeds the configured threshold.",
)
def bronze_quarantine_rate(
    quarantine: DeltaRef, snapshot: SnapshotRef, ingest_audit: DeltaRef, platform: PlatformResource
) -> AssetCheckResult:
    accounting = check_accounting(snapshot.load(), ingest_audit.read(), quarantine.read())
    threshold = platform.settings.quarantine_warn_rate
    return AssetCheckResult(
        passed=accounting.quarantine_rate <= threshold,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "quarantine_rate": round(accounting.quarantine_rate, 6),
            "threshold": threshold,
            "quarantined": accounting.quarantined,
            "read": accounting.read,
        },
    )


def _schema_check(table: str) -> AssetChecksDefinition:
    @asset_check(
        asset=["bronze", table],
        name=f"{table}_schema",
        blocking=True,
        description=f"bronze/{table} has exactly the declared columns and types.",
    )
    def check(ref: DeltaRef) -> AssetCheckResult:
        problems = schema_differences(table, ref.read().schema)
        return AssetCheckResult(
            passed=not problems,
            metadata={"delta_version": ref.version, "problems": "\n".join(problems) or "none"},
        )

    return check


INGESTION_CHECKS = [
    bronze_nothing_lost,
    bronze_quarantine_rate,
    *(_schema_check(t) for t in BRONZE_OUTPUTS),
]
