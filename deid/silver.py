"""Bronze (pinned versions) -> silver Delta tables: read, de-identify, write, and record what was done.

Every silver build is a function of its inputs: the bronze table versions, the policy, the key (by
fingerprint) and the code version. Their digest is stamped on each silver commit; when every silver
table already carries the digest of the current inputs, nothing is rewritten (no new versions, same
Dagster data versions). Otherwise all tables are rebuilt together: ages and safe_harbor anchors span
tables, so a partial rebuild could disagree with itself. All tables are built in memory before the
first write, so a failure while de-identifying leaves silver untouched.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pyarrow as pa
from deltalake import DeltaTable

from deid.keys import DeidKey
from deid.known_identifiers import avoiding_real_names
from deid.policy import DeidPolicy
from deid.structured import SPECS, SilverBuilder, TextDeidentifier, bronze_columns
from lakehouse.delta import (
    DeltaRef,
    commit_metadata_of,
    current_version,
    row_count,
    table_uri,
    write,
)
from lineage.code_version import code_version

RUNS_TABLE = "deid_runs"
RUNS_SCHEMA = pa.schema(
    [
        pa.field("input_digest", pa.large_string(), nullable=False),
        pa.field("recorded_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("dagster_run_id", pa.large_string()),
        pa.field("snapshot_ids", pa.large_string()),  # JSON list
        pa.field("bronze_versions", pa.large_string(), nullable=False),  # JSON {table: version}
        pa.field("silver_versions", pa.large_string(), nullable=False),  # JSON {table: version}
        pa.field("deid_policy", pa.large_string(), nullable=False),  # JSON of the policy
        pa.field("deid_policy_version", pa.large_string(), nullable=False),
        pa.field("deid_key_fingerprint", pa.large_string(), nullable=False),
        pa.field("replacements", pa.large_string(), nullable=False),  # JSON {PHI label: count}
        pa.field("texts", pa.int64(), nullable=False),
        pa.field("rows", pa.large_string(), nullable=False),  # JSON {table: rows}
        pa.field("seconds", pa.float64(), nullable=False),
    ]
)


@dataclass
class SilverBuild:
    refs: dict[str, DeltaRef]
    input_digest: str
    rebuilt: bool
    bronze_versions: dict[str, int]
    replacements: Counter[str] = field(default_factory=Counter)
    texts: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # phase -> seconds


def input_digest(bronze: dict[str, DeltaRef], policy: DeidPolicy, key: DeidKey) -> str:
    code = code_version()
    if code.get("git_dirty") == "true":  # uncommitted code: never trust an earlier build
        code = {**code, "nonce": str(time.time_ns())}
    payload = {
        "bronze": {n: r.version for n, r in sorted(bronze.items())},
        "policy": policy.digest,
        "key": key.fingerprint,
        "code": code,
    }
    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


def read_bronze(refs: dict[str, DeltaRef]) -> dict[str, pl.DataFrame]:
    """Each bronze table at its pinned version, only the columns its silver transform needs (never raw JSON)."""
    frames = {}
    for name, ref in refs.items():
        table = ref.open()
        columns = bronze_columns(name, [f.name for f in table.schema().fields])
        frames[name] = pl.from_arrow(table.to_pyarrow_table(columns=columns))
    return frames


def _current_digest(uri: str) -> str | None:
    if current_version(uri) is None:
        return None
    history = DeltaTable(uri).history(limit=1)
    return history[0].get("deid_input_digest") if history else None


def build_silver(
    bronze: dict[str, DeltaRef],
    silver_dir: Path,
    *,
    key: DeidKey,
    policy: DeidPolicy,
    text_deidentifier: TextDeidentifier,
    commit_metadata: Callable[[str], dict[str, Any]] = lambda name: {},
    on_table: Callable[[str], None] | None = None,
    force: bool = False,
    workers: int = 1,
) -> SilverBuild:
    digest = input_digest(bronze, policy, key)
    current = current_build(bronze, silver_dir, digest)
    if current is not None and not force:
        return current
    started = time.perf_counter()
    frames = read_bronze(bronze)
    # no surrogate name in the notes may be a real person's name of this snapshot
    text_deidentifier = avoiding_real_names(
        text_deidentifier, frames["patients"].iter_rows(named=True)
    )
    read_s = time.perf_counter() - started
    result = SilverBuilder(key, policy, text_deidentifier, workers=workers).build(
        frames, on_table=on_table
    )
    build_s = time.perf_counter() - started - read_s
    snapshot_ids = sorted(
        {
            s
            for f in frames.values()
            if "snapshot_id" in f.columns
            for s in f["snapshot_id"].unique().drop_nulls().to_list()
        }
    )
    meta = silver_metadata(
        bronze, policy, key, digest, snapshot_ids, commit_metadata, engine="local"
    )
    refs = {
        name: write(table_uri(silver_dir, name), frame.to_arrow(), metadata=meta(name), table=name)
        for name, frame in result.tables.items()
    }
    write_s = time.perf_counter() - started - read_s - build_s
    build = SilverBuild(
        refs,
        digest,
        True,
        {n: r.version for n, r in bronze.items()},
        result.replacements,
        result.texts,
        {n: f.height for n, f in result.tables.items()},
        {"read": read_s, "deidentify": build_s, "write": write_s},
    )
    record_run(
        silver_dir, build, policy, key, snapshot_ids, commit_metadata(f"silver/{RUNS_TABLE}")
    )
    return build


def current_build(bronze: dict[str, DeltaRef], silver_dir: Path, digest: str) -> SilverBuild | None:
    """The silver tables as they are, when every one already carries the digest of these inputs (nothing to do)."""
    missing = set(SPECS) - set(bronze)
    if missing:
        raise ValueError(f"silver needs every bronze table; missing {sorted(missing)}")
    uris = {n: table_uri(silver_dir, n) for n in SPECS}
    if not all(_current_digest(u) == digest for u in uris.values()):
        return None
    refs = {n: DeltaRef(table=n, uri=u, version=current_version(u) or 0) for n, u in uris.items()}
    return SilverBuild(
        refs,
        digest,
        False,
        {n: r.version for n, r in bronze.items()},
        rows={n: row_count(r.uri, r.version) for n, r in refs.items()},
    )


def silver_metadata(
    bronze: dict[str, DeltaRef],
    policy: DeidPolicy,
    key: DeidKey,
    digest: str,
    snapshot_ids: list[str],
    commit_metadata: Callable[[str], dict[str, Any]],
    **extra: Any,
) -> Callable[[str], dict[str, Any]]:
    """The commit metadata of each silver table: who wrote it, the policy and key, and what it was built from."""
    versions = {n: r.version for n, r in bronze.items()}
    landing = landing_snapshot(bronze)

    def meta(name: str) -> dict[str, Any]:
        return {
            **commit_metadata(f"silver/{name}"),
            **policy.describe(),
            "deid_key_fingerprint": key.fingerprint,
            "deid_input_digest": digest,
            "bronze_table": name,
            "bronze_version": versions[name],
            "bronze_versions": orjson.dumps(versions).decode(),
            # so lineage downstream never has to open bronze (even its log) to name the landing snapshot
            "landing_snapshot_id": landing,
            "landing_snapshot_ids": orjson.dumps(snapshot_ids).decode(),
            **extra,
        }

    return meta


def landing_snapshot(bronze: dict[str, DeltaRef]) -> str | None:
    """The snapshot of the newest bronze commit read: the landing state this silver build reflects (a table
    the latest snapshot did not change keeps an earlier snapshot's commit)."""
    newest: tuple[int, str] | None = None
    for ref in bronze.values():
        meta = commit_metadata_of(ref.uri, ref.version)
        if meta.get("snapshot_id"):
            stamp = (int(meta.get("timestamp", 0)), meta["snapshot_id"])
            newest = stamp if newest is None or stamp > newest else newest
    return newest[1] if newest else None


def record_run(
    silver_dir: Path,
    build: SilverBuild,
    policy: DeidPolicy,
    key: DeidKey,
    snapshot_ids: list[str],
    meta: dict[str, Any],
) -> None:
    from datetime import datetime

    row = {
        "input_digest": build.input_digest,
        "recorded_at": datetime.now(UTC),
        "dagster_run_id": meta.get("dagster_run_id"),
        "snapshot_ids": orjson.dumps(snapshot_ids).decode(),
        "bronze_versions": orjson.dumps(build.bronze_versions).decode(),
        "silver_versions": orjson.dumps({n: r.version for n, r in build.refs.items()}).decode(),
        "deid_policy": orjson.dumps(policy.model_dump(mode="json")).decode(),
        "deid_policy_version": policy.version,
        "deid_key_fingerprint": key.fingerprint,
        "replacements": orjson.dumps(dict(sorted(build.replacements.items()))).decode(),
        "texts": build.texts,
        "rows": orjson.dumps(build.rows).decode(),
        "seconds": round(sum(build.seconds.values()), 3),
    }
    write(
        table_uri(silver_dir, RUNS_TABLE),
        pa.Table.from_pylist([row], schema=RUNS_SCHEMA),
        mode="append",
        metadata=meta,
    )


def run_record(silver_dir: Path, digest: str) -> dict[str, Any] | None:
    """The newest recorded build with this input digest."""
    uri = table_uri(silver_dir, RUNS_TABLE)
    if current_version(uri) is None:
        return None
    frame = pl.from_arrow(DeltaTable(uri).to_pyarrow_table()).filter(
        pl.col("input_digest") == digest
    )
    if frame.height == 0:
        return None
    return frame.sort("recorded_at").row(-1, named=True)
