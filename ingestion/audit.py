"""Independent checks of an ingestion run, read back from the bronze tables it wrote."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from ingestion.bronze_tables import AUDIT_SCHEMA, DUPLICATES_SCHEMA, QUARANTINE_SCHEMA, TABLES
from ingestion.landing import LandingSnapshot


@dataclass
class Accounting:
    read: int
    written: int
    quarantined: int
    problems: list[str]
    superseded: int = 0
    conflicting: int = 0
    in_bronze: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def quarantine_rate(self) -> float:
        return self.quarantined / self.read if self.read else 0.0


def _for_snapshot(table: pa.Table, snapshot_id: str) -> pa.Table:
    return table.filter(pc.equal(table["snapshot_id"], snapshot_id))


def check_accounting(
    snapshot: LandingSnapshot,
    audit: pa.Table,
    quarantine: pa.Table,
    duplicates: pa.Table | None = None,
) -> Accounting:
    """For every (file, resource type): read == written + quarantined, and written == in_bronze +
    superseded; every manifest file is accounted for; the quarantine table holds exactly the rows the audit
    says were quarantined, and the duplicates table exactly the occurrences it says were superseded (and
    conflicting), file by file."""
    audit = _for_snapshot(audit, snapshot.snapshot_id)
    quarantine = _for_snapshot(quarantine, snapshot.snapshot_id)
    problems = []
    rows = audit.to_pylist()
    for row in rows:
        where = f"{row['source_file']} {row['resource_type']}"
        if row["read"] != row["written"] + row["quarantined"]:
            problems.append(
                f"{where}: read {row['read']} != written {row['written']} + quarantined "
                f"{row['quarantined']}"
            )
        superseded = row.get("superseded") or 0
        in_bronze = row.get("in_bronze")
        if in_bronze is not None and row["written"] != in_bronze + superseded:
            problems.append(
                f"{where}: written {row['written']} != rows in bronze {in_bronze} + duplicates "
                f"superseded {superseded}"
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
    if duplicates is not None:
        recorded: dict[tuple[str, str], list[int]] = {}
        for dup in _for_snapshot(duplicates, snapshot.snapshot_id).to_pylist():
            counts = recorded.setdefault((dup["superseded_file"], dup["resource_type"]), [0, 0])
            counts[0] += 1
            counts[1] += int(dup["conflicting"])
        audited_dups = {
            (r["source_file"], r["resource_type"]): [
                r.get("superseded") or 0,
                r.get("conflicting") or 0,
            ]
            for r in rows
        }
        for key in sorted(set(recorded) | {k for k, v in audited_dups.items() if v[0]}):
            got, said = recorded.get(key, [0, 0]), audited_dups.get(key, [0, 0])
            if got != said:
                problems.append(
                    f"{key[0]} {key[1]}: duplicates table holds {got[0]} superseded ({got[1]} conflicting) "
                    f"for this snapshot, audit says {said[0]} ({said[1]})"
                )

    def total(column: str) -> int:
        return (pc.sum(audit[column]).as_py() or 0) if column in audit.column_names else 0

    return Accounting(
        total("read"),
        total("written"),
        quarantined,
        problems,
        total("superseded"),
        total("conflicting"),
        total("in_bronze"),
    )


def schema_differences(table: str, actual: pa.Schema) -> list[str]:
    """Columns missing, unexpected or of another type than the declared bronze schema."""
    declared = {
        "quarantine": QUARANTINE_SCHEMA,
        "ingest_audit": AUDIT_SCHEMA,
        "duplicates": DUPLICATES_SCHEMA,
    }.get(table) or TABLES[table].schema
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
