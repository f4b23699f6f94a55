"""Independent checks of an ingestion run, read back from the bronze tables it wrote."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from ingestion.bronze_tables import AUDIT_SCHEMA, QUARANTINE_SCHEMA, TABLES
from ingestion.landing import LandingSnapshot


@dataclass
class Accounting:
    read: int
    written: int
    quarantined: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def quarantine_rate(self) -> float:
        return self.quarantined / self.read if self.read else 0.0


def _for_snapshot(table: pa.Table, snapshot_id: str) -> pa.Table:
    return table.filter(pc.equal(table["snapshot_id"], snapshot_id))


def check_accounting(
    snapshot: LandingSnapshot, audit: pa.Table, quarantine: pa.Table
) -> Accounting:
    """read == written + quarantined for every (file, resource type); every manifest file is accounted
    for; and the quarantine table holds exactly the rows the audit says were quarantined."""
    audit = _for_snapshot(audit, snapshot.snapshot_id)
    quarantine = _for_snapshot(quarantine, snapshot.snapshot_id)
    problems = []
    for row in audit.to_pylist():
        if row["read"] != row["written"] + row["quarantined"]:
            problems.append(
                f"{row['source_file']} {row['resource_type']}: read {row['read']} != written "
                f"{row['written']} + quarantined {row['quarantined']}"
            )
    audited = set(audit["source_file"].to_pylist())
    for entry in snapshot.files:
        if entry.path not in audited:
            problems.append(
                f"{entry.path}: in the landing snapshot but not accounted for by ingestion"
            )
    quarantined = pc.sum(audit["quarantined"]).as_py() or 0
    if quarantine.num_rows != quarantined:
        problems.append(
            f"quarantine table holds {quarantine.num_rows} rows for this snapshot, audit says {quarantined}"
        )
    return Accounting(
        pc.sum(audit["read"]).as_py() or 0,
        pc.sum(audit["written"]).as_py() or 0,
        quarantined,
        problems,
    )


def schema_differences(table: str, actual: pa.Schema) -> list[str]:
    """Columns missing, unexpected or of another type than the declared bronze schema."""
    declared = {"quarantine": QUARANTINE_SCHEMA, "ingest_audit": AUDIT_SCHEMA}.get(table) or TABLES[
        table
    ].schema
    problems = []
    for field in declared:
        if field.name not in actual.names:
            problems.append(f"missing column {field.name}")
            continue
        got = actual.field(field.name).type
        if not _same_type(got, field.type):
            problems.append(f"column {field.name} is {got}, expected {field.type}")
    for name in actual.names:
        if name not in declared.names:
            problems.append(f"unexpected column {name}")
    return problems


def _same_type(a: pa.DataType, b: pa.DataType) -> bool:
    # Delta stores strings as large/view types depending on the reader; compare logical types
    def norm(t: pa.DataType) -> str:
        return (
            str(t)
            .replace("large_string", "string")
            .replace("string_view", "string")
            .replace("large_list", "list")
            .replace("large_binary", "binary")
            .replace("<element: ", "<item: ")
            .replace(" not null", "")
        )

    return norm(a) == norm(b)
