"""Asset checks on the bronze tables: nothing lost, declared schema, quarantine rate."""

from dagster import AssetCheckResult, AssetChecksDefinition, AssetCheckSeverity, AssetIn, asset_check

from assets.ingestion import LANDING_KEY
from ingestion.audit import check_accounting, schema_differences
from ingestion.bronze_tables import AUDIT_TABLE, QUARANTINE_TABLE
from ingestion.ingest import BRONZE_OUTPUTS
from ingestion.landing import SnapshotRef
from lakehouse.delta import DeltaRef
from orchestration.resources import PlatformResource


@asset_check(asset=["bronze", AUDIT_TABLE], blocking=True,
             additional_ins={"snapshot": AssetIn(key=LANDING_KEY),
                             "quarantine": AssetIn(key=["bronze", QUARANTINE_TABLE])},
             description="Per snapshot, file and resource type: read == written + quarantined; "
                         "every landing file is accounted for; the quarantine table agrees.")
def bronze_nothing_lost(ingest_audit: DeltaRef, snapshot: SnapshotRef, quarantine: DeltaRef) -> AssetCheckResult:
    accounting = check_accounting(snapshot.load(), ingest_audit.read(), quarantine.read())
    return AssetCheckResult(passed=accounting.ok, metadata={
        "snapshot_id": snapshot.snapshot_id, "read": accounting.read, "written": accounting.written,
        "quarantined": accounting.quarantined, "problems": "\n".join(accounting.problems[:50]) or "none",
    })


@asset_check(asset=["bronze", QUARANTINE_TABLE],
             additional_ins={"snapshot": AssetIn(key=LANDING_KEY),
                             "ingest_audit": AssetIn(key=["bronze", AUDIT_TABLE])},
             description="Warns when the share of quarantined resources exceeds the configured threshold.")
def bronze_quarantine_rate(quarantine: DeltaRef, snapshot: SnapshotRef, ingest_audit: DeltaRef,
                           platform: PlatformResource) -> AssetCheckResult:
    accounting = check_accounting(snapshot.load(), ingest_audit.read(), quarantine.read())
    threshold = platform.settings.quarantine_warn_rate
    return AssetCheckResult(
        passed=accounting.quarantine_rate <= threshold,
        severity=AssetCheckSeverity.WARN,
        metadata={"quarantine_rate": round(accounting.quarantine_rate, 6), "threshold": threshold,
                  "quarantined": accounting.quarantined, "read": accounting.read},
    )


def _schema_check(table: str) -> AssetChecksDefinition:
    @asset_check(asset=["bronze", table], name=f"{table}_schema", blocking=True,
                 description=f"bronze/{table} has exactly the declared columns and types.")
    def check(ref: DeltaRef) -> AssetCheckResult:
        problems = schema_differences(table, ref.read().schema)
        return AssetCheckResult(passed=not problems,
                                metadata={"delta_version": ref.version, "problems": "\n".join(problems) or "none"})

    return check


INGESTION_CHECKS = [bronze_nothing_lost, bronze_quarantine_rate,
                    *(_schema_check(t) for t in BRONZE_OUTPUTS)]
