"""The de-identification report: what one silver build replaced, under which policy and key (fingerprint),
from which bronze versions, and the re-identification risk left on the quasi-identifiers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pyarrow as pa
from deltalake import DeltaTable

from deid.risk import QUASI_IDENTIFIERS, k_anonymity
from lakehouse.delta import DeltaRef, current_version, table_uri, write

REPORT_TABLE = "deid_reports"
SILVER_COLUMN = {"sex": "gender"}  # quasi-identifier -> silver patients column
REPORT_SCHEMA = pa.schema(
    [
        pa.field("input_digest", pa.large_string(), nullable=False),
        pa.field("reported_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("report", pa.large_string(), nullable=False),  # the JSON below
    ]
)


def build_report(
    run: dict[str, Any], patients: DeltaRef, silver_refs: dict[str, DeltaRef], date_mode: str
) -> dict[str, Any]:
    columns = [SILVER_COLUMN.get(q, q) for q in QUASI_IDENTIFIERS]
    frame = pl.from_arrow(patients.read(columns=columns)).rename(
        {v: k for k, v in SILVER_COLUMN.items()}
    )
    risk = k_anonymity(frame)
    return {
        "input_digest": run["input_digest"],
        "deid_policy_version": run["deid_policy_version"],
        "deid_policy": orjson.loads(run["deid_policy"]),
        "date_mode": date_mode,
        "date_mode_note": (
            "dates reduced to year (HIPAA Safe Harbor); intervals kept as day offsets"
            if date_mode == "safe_harbor"
            else "dates shifted by a keyed per-patient offset: needs an Expert Determination "
            "to count as de-identified under HIPAA"
        ),
        "deid_key_fingerprint": run["deid_key_fingerprint"],
        "snapshot_ids": orjson.loads(run["snapshot_ids"]),
        "bronze_versions": orjson.loads(run["bronze_versions"]),
        "silver_versions": {n: r.version for n, r in sorted(silver_refs.items())},
        "replacements": orjson.loads(run["replacements"]),
        "replacements_total": sum(orjson.loads(run["replacements"]).values()),
        "texts_deidentified": run["texts"],
        "rows": orjson.loads(run["rows"]),
        "k_anonymity": {
            "quasi_identifiers": list(QUASI_IDENTIFIERS),
            "records": risk.records,
            "min_k": risk.min_k,
            "share_k_below_5": round(risk.share_below_5, 4),
            "equivalence_classes": risk.groups,
        },
        "silver_build_seconds": run["seconds"],
        "built_by_dagster_run": run["dagster_run_id"],
    }


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"**Policy** {report['deid_policy_version']} ({report['date_mode']}), "
        f"key fingerprint `{report['deid_key_fingerprint']}`",
        "",
        "| PHI type | replaced |",
        "|---|---:|",
    ]
    lines += [f"| {label} | {count:,} |" for label, count in report["replacements"].items()]
    k = report["k_anonymity"]
    lines += [
        "",
        f"**k-anonymity** over {', '.join(k['quasi_identifiers'])}: min k = {k['min_k']}, "
        f"{k['share_k_below_5']:.1%} of {k['records']:,} patients in classes smaller than 5",
        "",
        "| bronze table | version read |",
        "|---|---:|",
    ]
    lines += [
        f"| {name} | {version} |" for name, version in sorted(report["bronze_versions"].items())
    ]
    return "\n".join(lines)


def write_report(silver_dir: Path, report: dict[str, Any], meta: dict[str, Any]) -> DeltaRef:
    uri = table_uri(silver_dir, REPORT_TABLE)
    version = current_version(uri)
    if version is not None:  # the same silver build was reported already: no new version
        last = DeltaTable(uri).to_pyarrow_table(columns=["input_digest", "reported_at"]).to_pylist()
        if (
            last
            and max(last, key=lambda r: r["reported_at"])["input_digest"] == report["input_digest"]
        ):
            return DeltaRef(table=REPORT_TABLE, uri=uri, version=version)
    row = {
        "input_digest": report["input_digest"],
        "reported_at": datetime.now(UTC),
        "report": orjson.dumps(report, option=orjson.OPT_SORT_KEYS).decode(),
    }
    return write(
        uri, pa.Table.from_pylist([row], schema=REPORT_SCHEMA), mode="append", metadata=meta
    )
