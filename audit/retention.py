"""Delta retention that never breaks a registered model's lineage: ``clinical-mlops lineage vacuum``.

A plain ``VACUUM`` deletes every file the *current* version no longer needs once it is older than the
retention period, so time travel to the version a model was trained on stops working (and ``lineage
verify`` with it). Here the protected versions are computed from the tags of every registered model version
(``lineage.training_set.*``, ``lineage.gold.*``, ``lineage.silver.*``, ``lineage.bronze.*``, the evaluation
table): deltalake's own vacuum (dry run) lists the candidates, and only those no protected version needs are
deleted. The Delta log itself is never cleaned here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .trace import MANIFEST_TABLE, HomePaths, local_path, manifest_version

Protected = dict[str, set[int]]  # table URI -> versions that must stay readable


def protected_from_tags(tag_sets: Iterable[Mapping[str, str]], paths: HomePaths) -> Protected:
    """Table URI -> versions that registered model versions (their ``tags``) refer to."""
    protected: Protected = defaultdict(set)
    for tags in tag_sets:
        if (
            tags.get("lineage.training_set.uri")
            and tags.get("lineage.training_set.version", "").isdigit()
        ):
            protected[paths.locate(tags["lineage.training_set.uri"], "gold")].add(
                int(tags["lineage.training_set.version"])
            )
        for zone in ("gold", "silver", "bronze"):
            prefix = f"lineage.{zone}."
            for key, version in tags.items():
                if key.startswith(prefix) and version.isdigit():
                    protected[paths.table(zone, key[len(prefix) :])].add(int(version))
        if tags.get("evaluation.table") and tags.get("evaluation.table_version", "").isdigit():
            protected[paths.locate(tags["evaluation.table"], "gold")].add(
                int(tags["evaluation.table_version"])
            )
    return dict(protected)


def registered_tag_sets(client) -> list[dict[str, str]]:
    """The tags of every version of every registered model (all pages)."""
    out, token = [], None
    while True:
        page = client.search_model_versions(max_results=1000, page_token=token)
        out.extend(dict(mv.tags) for mv in page)
        token = getattr(page, "token", None)
        if not token:
            return out


def protect_manifest(
    protected: Protected, paths: HomePaths, tag_sets: Iterable[Mapping[str, str]]
) -> Protected:
    """Add the landing manifest versions that recorded each model's snapshot (found from the manifest's log)."""
    uri = paths.table("bronze", MANIFEST_TABLE)
    if not Path(uri, "_delta_log").is_dir():
        return protected
    for snapshot in {t.get("lineage.landing.snapshot_id") for t in tag_sets} - {None, ""}:
        version = manifest_version(uri, snapshot)
        if version is not None:
            protected.setdefault(uri, set()).add(version)
    return protected


def _relative(uri: str, file_uri: str) -> str:
    return Path(local_path(file_uri)).relative_to(Path(local_path(uri))).as_posix()


def needed_files(uri: str, versions: Iterable[int]) -> set[str]:
    """Paths (relative to the table) of the data files each of ``versions`` reads."""
    from deltalake import DeltaTable

    needed: set[str] = set()
    for version in versions:
        needed.update(_relative(uri, f) for f in DeltaTable(uri, version=version).file_uris())
    return needed


@dataclass
class VacuumResult:
    uri: str
    protected_versions: list[int]
    deleted: list[str] = field(default_factory=list)
    kept_for_protected: list[str] = field(default_factory=list)


def vacuum_table(
    uri: str, protected: Iterable[int], *, retention_hours: int = 168, dry_run: bool = False
) -> VacuumResult:
    """Delete the files deltalake's vacuum would delete, except those a protected version reads."""
    from deltalake import DeltaTable

    dt = DeltaTable(uri)
    keep_versions = sorted(set(protected))
    candidates = dt.vacuum(
        retention_hours=retention_hours, enforce_retention_duration=False, dry_run=True
    )
    needed = needed_files(uri, [v for v in keep_versions if v <= dt.version()])
    result = VacuumResult(uri, keep_versions)
    for rel in sorted(candidates):
        if rel in needed:
            result.kept_for_protected.append(rel)
            continue
        if not dry_run:
            Path(local_path(uri), rel).unlink(missing_ok=True)
        result.deleted.append(rel)
    return result


def delta_tables(roots: Iterable[Path]) -> list[str]:
    """Every Delta table (a directory with ``_delta_log``) under the given zone roots."""
    found = {
        str(p.parent)
        for root in roots
        if Path(root).is_dir()
        for p in Path(root).rglob("_delta_log")
    }
    return sorted(found)


def vacuum_home(
    settings, *, retention_hours: int = 168, dry_run: bool = False, client=None
) -> tuple[Protected, list[VacuumResult]]:
    """Vacuum every Delta table of a home's bronze, silver and gold zones, protecting every version a
    registered model refers to."""
    from evaluation.registry import client as registry_client  # lazy: imports torch, scikit-learn

    paths = HomePaths.of(settings)
    tag_sets = registered_tag_sets(client or registry_client(settings.tracking_uri))
    protected = protect_manifest(protected_from_tags(tag_sets, paths), paths, tag_sets)
    results = [
        vacuum_table(
            uri, protected.get(uri, set()), retention_hours=retention_hours, dry_run=dry_run
        )
        for uri in delta_tables([settings.bronze, settings.silver, settings.gold])
    ]
    return protected, results
