"""Prove a model version's lineage instead of trusting it: ``clinical-mlops lineage verify``.

Walks the chain ``trace`` prints, from the model down to the raw export, and stops at the first link that
does not hold:

1. the records agree (model tags, MLflow run, Delta commits, Bento labels: ``trace``'s problems);
2. every recorded Delta version can still be time-travelled to: its log entry and every data file it
   needs are present (a vacuum or a lost file breaks this). Bronze is checked from its log only: the
   ML side never reads bronze rows;
3. the stored training set rows hash to the recorded digest;
4. the training set re-derived from the recorded inputs hashes to the recorded digest. It goes through Feast,
   as training did, but in a throw-away repository whose views point at the *pinned* gold versions, so a
   registry that has since moved on to newer versions does not change the answer;
5. the landing manifest still hashes to the snapshot id, and every landing file still has its recorded size
   and sha256.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from feature_store.config import StoreConfig
from feature_store.training_set import SORT_KEY, build_training_set
from features.build import VIEWS
from features.tasks import TASKS
from ingestion.landing import sha256_file, snapshot_from_rows
from lakehouse.delta import DeltaRef
from lineage.digest import table_digest

from .trace import MANIFEST_TABLE, HomePaths, local_path

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Check:
    link: str  # what was checked, e.g. "gold features/labs@0"
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def missing_files(uri: str, version: int) -> list[str]:
    """Data files that version ``version`` of ``uri`` needs but that are gone; raises when the version's log is
    gone (the table cannot be opened at that version). Reads the log only, never rows."""
    from deltalake import DeltaTable

    dt = DeltaTable(uri, version=version)
    return (
        [f for f in dt.file_uris() if not Path(local_path(f)).exists()]
        if "://" not in local_path(uri)
        else []
    )


def check_version(zone: str, table: str, uri: str, version: int) -> Check:
    link = f"{zone} {table}@{version}"
    try:
        gone = missing_files(uri, version)
    except Exception as exc:  # noqa: BLE001 - TableNotFoundError / DeltaError for a vacuumed log
        return Check(link, False, f"{uri} cannot be opened at version {version}: {exc}")
    if gone:
        return Check(
            link,
            False,
            f"{uri}@{version} needs {len(gone)} data file(s) that are gone "
            f"(vacuumed?), first {gone[0]}",
        )
    return Check(link, True, f"{uri}@{version} readable")


def stored_digest(uri: str, version: int) -> str:
    return table_digest(DeltaRef(table=Path(uri).name, uri=uri, version=version).read(), SORT_KEY)


def rederive_digest(trace: Mapping[str, Any]) -> str:
    """The digest of the training set rebuilt from the recorded index events and feature table versions, through
    a temporary Feast repository (file registry, DuckDB offline store) whose views pin those versions."""
    import polars as pl

    from feature_store.repository import (  # lazy: imports feast (~7 s); only --rederive needs it
        sync_repository,
    )

    ts = trace["training_set"]
    task = TASKS.get(ts["task"])
    if task is None:
        raise LookupError(
            f"task {ts['task']!r} is not defined in this code version (features/tasks.py)"
        )
    if (
        task.version != ts["task_version"]
        or task.feature_service != trace["feature_service"]["name"]
    ):
        raise LookupError(
            f"task {task.name} is now {task.version}/{task.feature_service}, the model was trained on "
            f"{ts['task_version']}/{trace['feature_service']['name']}: check out code {trace['code'].get('git_sha')}"
        )
    gold = {g["table"]: g for g in trace["gold"]}
    events = gold.get(f"index_events_{task.name}")
    if events is None:
        raise LookupError(f"no index events version recorded for task {task.name}")
    refs = {}
    for view in task.feature_views:
        pinned = gold.get(f"features/{view}")
        if pinned is None:
            raise LookupError(
                f"no version of gold features/{view} recorded for {task.feature_service}"
            )
        refs[view] = DeltaRef(table=view, uri=pinned["uri"], version=pinned["version"])
    with tempfile.TemporaryDirectory(prefix="lineage-verify-feast-") as tmp:
        cfg = StoreConfig(home=Path(tmp), online_store="sqlite")
        store, _ = sync_repository(
            cfg,
            [VIEWS[v] for v in task.feature_views],
            refs,
            {task.feature_service: list(task.feature_views)},
        )
        frame = pl.from_arrow(
            DeltaRef(table=events["table"], uri=events["uri"], version=events["version"]).read()
        )
        return build_training_set(store, frame, task).digest


def landing_checks(
    paths: HomePaths, snapshot_id: str, manifest_version: int | None
) -> Iterator[Check]:
    """The manifest hashes to the snapshot id; each file has its recorded size and sha256 (first mismatch)."""
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    uri = paths.table("bronze", MANIFEST_TABLE)
    link = f"landing manifest {snapshot_id[:12]}"
    if manifest_version is None:
        yield Check(link, False, f"snapshot {snapshot_id} is not recorded in {uri}")
        return
    try:
        rows = (
            DeltaTable(uri, version=manifest_version)
            .to_pyarrow_dataset()
            .to_table(
                columns=["snapshot_id", "root", "path", "size", "sha256"],
                filter=pc.field("snapshot_id") == snapshot_id,
            )
            .to_pylist()
        )
        snapshot = snapshot_from_rows(rows, snapshot_id)
    except Exception as exc:  # noqa: BLE001 - LookupError / ValueError from snapshot_from_rows, Delta errors
        yield Check(link, False, f"{uri}@{manifest_version}: {exc}")
        return
    yield Check(
        link, True, f"{uri}@{manifest_version}: {len(snapshot.files)} files hash to the snapshot id"
    )
    root = Path(paths.locate(snapshot.root, "landing"))
    for entry in snapshot.files:
        if entry.sha256.startswith("refused:"):  # a link or special file: listed, never read
            continue
        path = root / entry.path
        if not path.is_file():
            yield Check(
                f"landing file {entry.path}", False, f"{path} is missing (snapshot {snapshot_id})"
            )
            return
        size, digest = path.stat().st_size, sha256_file(path)
        if size != entry.size or digest != entry.sha256:
            yield Check(
                f"landing file {entry.path}",
                False,
                f"{path} changed since snapshot {snapshot_id[:12]}: size {size} (recorded {entry.size}), "
                f"sha256 {digest[:16]}… (recorded {entry.sha256[:16]}…)",
            )
            return
    yield Check(
        f"landing files of {snapshot_id[:12]}",
        True,
        f"{len(snapshot.files)} files under {root} unchanged",
    )


def verify_trace(
    trace: Mapping[str, Any],
    paths: HomePaths,
    *,
    rederive: bool = True,
    progress: Progress = lambda _: None,
) -> Iterator[Check]:
    """Yield checks in chain order; the caller stops at the first failed one (later links depend on it)."""
    for problem in trace["problems"]:
        yield Check("records", False, problem)
    yield Check("records", True, "model tags, MLflow run, Delta commits and Bento labels agree")
    ts = trace["training_set"]
    progress(f"time-travelling to training set {ts['uri']}@{ts['version']}")
    yield check_version("gold", Path(ts["uri"]).name, ts["uri"], ts["version"])
    got = stored_digest(ts["uri"], ts["version"])
    yield Check(
        f"training set digest @{ts['version']}",
        got == ts["digest"],
        f"stored rows hash to {got}"
        + ("" if got == ts["digest"] else f", recorded {ts['digest']}"),
    )
    for g in trace["gold"]:
        yield check_version("gold", g["table"], g["uri"], g["version"])
    if rederive:
        progress("re-deriving the training set through Feast from the pinned gold versions")
        try:
            again = rederive_digest(trace)
        except Exception as exc:  # noqa: BLE001 - named and reported as the broken link
            yield Check(
                "re-derived training set",
                False,
                f"cannot re-derive {ts['uri']}@{ts['version']}: {exc}",
            )
            return
        yield Check(
            "re-derived training set",
            again == ts["digest"],
            f"re-derived from the pinned versions: {again}"
            + ("" if again == ts["digest"] else f", recorded {ts['digest']}"),
        )
    for s in trace["silver"]:
        yield check_version("silver", s["table"], s["uri"], s["version"])
    for b in trace["bronze"]:
        yield check_version("bronze", b["table"], b["uri"], b["version"])
    progress(f"re-hashing landing snapshot {trace['landing']['snapshot_id'][:12]}")
    yield from landing_checks(
        paths, trace["landing"]["snapshot_id"], trace["landing"].get("manifest_version")
    )


def verify(
    trace: Mapping[str, Any],
    paths: HomePaths,
    *,
    rederive: bool = True,
    progress: Progress = lambda _: None,
) -> tuple[list[Check], Check | None]:
    """All checks up to and including the first failure, and that failure (None when the chain holds)."""
    done: list[Check] = []
    for check in verify_trace(trace, paths, rederive=rederive, progress=progress):
        done.append(check)
        if not check.ok:
            return done, check
    return done, None
