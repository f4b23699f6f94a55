"""Trace a registered model version back to the raw export it learned from.

The chain an auditor asks for (docs/design.md, "Zones and the lineage contract") is already recorded, just in
several places: the model version's tags (``lineage.*``, ``code.*``, ``dagster.*``, ``eval.*``, ``gate.*``),
its MLflow run, the custom metadata of every Delta commit (training set -> gold -> silver -> bronze), the
landing manifest table and the Bento labels. ``trace_model`` reads them, in that order, into one JSON-able
dict and notes every disagreement between two records of the same fact (``problems``). It reads only logs and
tags, never table rows; the only rows it opens are the landing manifest's (paths and hashes, no patient data).

The functions take the MLflow client and the commit reader as arguments so tests can pass small fakes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from lakehouse.delta import commit_metadata_of

CommitReader = Callable[[str, int], Mapping[str, Any]]
ZONES = ("landing", "bronze", "silver", "gold")
MANIFEST_TABLE = "landing_snapshots"


class TraceError(RuntimeError):
    """The model reference cannot be resolved at all (unknown model, version or alias)."""


def parse_model_ref(text: str) -> tuple[str, str]:
    """``name@version`` or ``name@alias`` -> (name, ref). Why strict: "latest" is never what an audit means."""
    name, sep, ref = text.rpartition("@")
    if not sep or not name or not ref:
        raise TraceError(
            f"expected MODEL@VERSION or MODEL@ALIAS (e.g. clinical-readmission@champion), got {text!r}"
        )
    return name, ref


@dataclass(frozen=True)
class HomePaths:
    """Where recorded absolute paths are read in *this* home.

    Commits and tags record absolute URIs. When a home was restored or copied elsewhere, a recorded path like
    ``/old/home/gold/features/labs`` names a table that now lives at ``<home>/gold/features/labs``: the
    auditor's ``--home`` is authoritative, so a path is re-rooted into it when the re-rooted path exists, and
    the relocation is reported. Paths already inside the home, or with no counterpart in it, are kept.
    """

    zones: Mapping[str, Path]

    @classmethod
    def of(cls, settings) -> HomePaths:
        return cls({zone: Path(getattr(settings, zone)) for zone in ZONES})

    def locate(self, recorded: str, zone: str | None = None) -> str:
        if "://" in recorded and not recorded.startswith("file://"):
            return recorded  # object-store URIs are global
        path = Path(recorded.removeprefix("file://"))
        candidates = [zone] if zone else list(self.zones)
        for name in candidates:
            root = self.zones[name]
            if path == root or root in path.parents:
                return str(path)
        for name in candidates:
            parts = path.parts
            if name not in parts:
                continue
            idx = len(parts) - 1 - parts[::-1].index(name)
            moved = self.zones[name].joinpath(*parts[idx + 1 :])
            if moved.exists():
                return str(moved)
        return str(path)

    def table(self, zone: str, name: str) -> str:
        return str(self.zones[zone] / name)


def resolve_version(client, name: str, ref: str):
    """The MLflow ``ModelVersion`` for a version number or an alias; names what was not found."""
    try:
        if ref.isdigit():
            return client.get_model_version(name, ref)
        return client.get_model_version_by_alias(name, ref)
    except Exception as exc:  # noqa: BLE001 - MLflow raises its own RestException/MlflowException
        kind = "version" if ref.isdigit() else "alias"
        raise TraceError(f"model {name!r} has no {kind} {ref!r} in the registry: {exc}") from exc


def _loads(value: Any, default: Any) -> Any:
    if value in (None, ""):
        return default
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return default


def _prefixed(tags: Mapping[str, str], prefix: str) -> dict[str, str]:
    return {k[len(prefix) :]: v for k, v in sorted(tags.items()) if k.startswith(prefix)}


def _commit(
    read: CommitReader, uri: str, version: int, problems: list[str], link: str
) -> dict[str, Any]:
    try:
        return dict(read(uri, version))
    except Exception as exc:  # noqa: BLE001 - missing table / vacuumed log: a broken link, reported
        problems.append(
            f"{link}: {uri}@{version} has no readable commit ({type(exc).__name__}: {exc})"
        )
        return {}


def manifest_version(manifest_uri: str, snapshot_id: str) -> int | None:
    """The Delta version of the landing manifest table that recorded ``snapshot_id`` (from its log)."""
    from deltalake import DeltaTable

    found = [
        int(e["version"])
        for e in DeltaTable(manifest_uri).history()
        if e.get("snapshot_id") == snapshot_id
    ]
    return min(found) if found else None


def find_bentos(bentoml_home: Path | str, name: str, version: str) -> list[dict[str, Any]]:
    """Bentos in the local store whose labels name this model version.

    Read from each Bento's ``bento.yaml`` rather than through ``bentoml.bentos.list``: BentoML fixes its
    store at first import (``BENTOML_HOME``), and the auditor's home may not be the process's.
    """
    import yaml

    found = []
    for spec in sorted(Path(bentoml_home, "bentos").glob("*/*/bento.yaml")):
        info = yaml.safe_load(spec.read_text()) or {}
        labels = info.get("labels") or {}
        if labels.get("registered_model") == name and str(labels.get("model_version")) == str(
            version
        ):
            found.append(
                {
                    "tag": f"{info.get('name')}:{info.get('version')}",
                    "created": str(info.get("creation_time")),
                    "labels": {k: str(v) for k, v in labels.items()},
                }
            )
    return found


def trace_model(
    client,
    name: str,
    ref: str,
    paths: HomePaths,
    *,
    read_commit: CommitReader = commit_metadata_of,
    bentos: Iterable[Mapping[str, Any]] = (),
    manifest: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The whole chain of ``name@ref`` as a JSON-able dict (see the module doc); ``problems`` lists every
    link that is missing or disagrees with another record of it."""
    mv = resolve_version(client, name, ref)
    version = str(mv.version)
    tags = dict(mv.tags)
    problems: list[str] = []
    run_id = mv.run_id or tags.get("mlflow.run_id", "")
    run_info: dict[str, Any] = {"run_id": run_id}
    try:
        run = client.get_run(run_id)
        run_tags = dict(run.data.tags)
        run_info.update(
            {
                "status": run.info.status,
                "experiment_id": run.info.experiment_id,
                "run_name": run_tags.get("mlflow.runName", ""),
                "dagster_run_id": run_tags.get("dagster.run_id", ""),
                "inputs": [
                    {
                        "name": d.dataset.name,
                        "digest": d.dataset.digest,
                        "source": _loads(d.dataset.source, d.dataset.source),
                    }
                    for d in getattr(run.inputs, "dataset_inputs", []) or []
                ],
            }
        )
        for key in ("lineage.training_set.digest", "lineage.training_set.version", "code.git_sha"):
            if run_tags.get(key) != tags.get(key):
                problems.append(
                    f"MLflow run {run_id}: tag {key}={run_tags.get(key)!r} but the model version "
                    f"carries {tags.get(key)!r}"
                )
    except Exception as exc:  # noqa: BLE001
        problems.append(f"MLflow run {run_id!r} of {name} v{version} is missing: {exc}")

    ts_uri = paths.locate(tags.get("lineage.training_set.uri", ""), "gold")
    ts_version = int(tags.get("lineage.training_set.version", "-1") or -1)
    ts_commit = (
        _commit(read_commit, ts_uri, ts_version, problems, "training set")
        if ts_version >= 0
        else {}
    )
    if ts_version < 0:
        problems.append(f"{name} v{version}: no lineage.training_set.version tag")
    digest = tags.get("lineage.training_set.digest", "")
    if ts_commit and ts_commit.get("content_digest") != digest:
        problems.append(
            f"training set {ts_uri}@{ts_version}: commit digest {ts_commit.get('content_digest')!r} "
            f"!= model tag {digest!r}"
        )
    training_set = {
        "uri": ts_uri,
        "recorded_uri": tags.get("lineage.training_set.uri", ""),
        "version": ts_version,
        "digest": digest,
        "task": tags.get("lineage.task", ""),
        "task_version": tags.get("lineage.task_version", ""),
        "dagster_run_id": ts_commit.get(
            "dagster_run_id", tags.get("lineage.training_set.dagster_run_id", "")
        ),
        "asset_key": ts_commit.get("asset_key", ""),
        "split_summary": _loads(ts_commit.get("split_summary"), {}),
    }

    upstream = _loads(ts_commit.get("upstream_versions"), {"gold": {}, "silver": {}})
    gold = []
    for table, version_text in _prefixed(tags, "lineage.gold.").items():
        recorded = upstream.get("gold", {}).get(table, {})
        uri = paths.locate(recorded.get("uri") or paths.table("gold", table), "gold")
        v = int(version_text)
        if recorded and int(recorded.get("version", -1)) != v:
            problems.append(
                f"gold {table}: model tag says version {v}, the training set commit {recorded.get('version')}"
            )
        commit = _commit(read_commit, uri, v, problems, f"gold {table}")
        gold.append(
            {
                "table": table,
                "uri": uri,
                "version": v,
                "dagster_run_id": commit.get("dagster_run_id", ""),
                "asset_key": commit.get("asset_key", ""),
                "silver_versions": _loads(commit.get("silver_versions"), {}),
            }
        )

    silver, policies = [], set()
    for table, version_text in _prefixed(tags, "lineage.silver.").items():
        uri, v = paths.table("silver", table), int(version_text)
        commit = _commit(read_commit, uri, v, problems, f"silver {table}")
        policy = commit.get("deid_policy_version", "")
        policies.add(policy)
        if commit and commit.get("landing_snapshot_id") != tags.get("lineage.landing.snapshot_id"):
            problems.append(
                f"silver {table}@{v}: built from landing snapshot {commit.get('landing_snapshot_id')!r}, "
                f"the model tag says {tags.get('lineage.landing.snapshot_id')!r}"
            )
        silver.append(
            {
                "table": table,
                "uri": uri,
                "version": v,
                "dagster_run_id": commit.get("dagster_run_id", ""),
                "deid_policy_version": policy,
                "deid_key_fingerprint": commit.get("deid_key_fingerprint", ""),
                "deid_date_mode": commit.get("deid_date_mode", ""),
                "bronze_versions": _loads(commit.get("bronze_versions"), {}),
            }
        )
    if policies - {tags.get("lineage.deid.policy_version")}:
        problems.append(
            f"silver commits record de-identification policies {sorted(policies)}, the model tag "
            f"{tags.get('lineage.deid.policy_version')!r}"
        )

    bronze = []
    for table, version_text in _prefixed(tags, "lineage.bronze.").items():
        uri, v = paths.table("bronze", table), int(version_text)
        commit = _commit(
            read_commit, uri, v, problems, f"bronze {table}"
        )  # the log only, never its rows
        bronze.append(
            {
                "table": table,
                "uri": uri,
                "version": v,
                "dagster_run_id": commit.get("dagster_run_id", ""),
                "snapshot_id": commit.get("snapshot_id", ""),
            }
        )

    snapshot_id = tags.get("lineage.landing.snapshot_id", "")
    landing = {
        "snapshot_id": snapshot_id,
        "snapshot_ids": [s for s in tags.get("lineage.landing.snapshot_ids", "").split(",") if s],
        "manifest_table": paths.table("bronze", MANIFEST_TABLE),
        **dict(manifest or {}),
    }

    evaluation = {
        "table": paths.locate(tags.get("evaluation.table", ""), "gold")
        if tags.get("evaluation.table")
        else "",
        "table_version": tags.get("evaluation.table_version", ""),
        "compared_with": tags.get("evaluation.compared_with", ""),
        "metrics": _prefixed(tags, "eval."),
    }
    gate = _prefixed(tags, "gate.")
    bento_list = [dict(b) for b in bentos]
    for bento in bento_list:
        labels = bento.get("labels", {})
        for label, tag in (
            ("training_set_digest", "lineage.training_set.digest"),
            ("feature_service", "lineage.feature_service"),
            ("landing_snapshot_id", "lineage.landing.snapshot_id"),
            ("mlflow_run_id", None),
        ):
            expected = run_id if tag is None else tags.get(tag, "")
            if labels.get(label) != expected:
                problems.append(
                    f"Bento {bento.get('tag')}: label {label}={labels.get(label)!r}, the registry says {expected!r}"
                )

    dagster_runs = sorted(
        {
            r
            for r in [
                tags.get("dagster.run_id", ""),
                training_set["dagster_run_id"],
                *(x["dagster_run_id"] for x in gold + silver + bronze),
            ]
            if r
        }
    )
    return {
        "model": {
            "name": name,
            "ref": ref,
            "version": version,
            "aliases": _aliases(client, name, version),
            "run_id": run_id,
            "source": str(getattr(mv, "source", "")),
            "status": str(getattr(mv, "status", "")),
            "dagster_run_id": tags.get("dagster.run_id", ""),
            "dagster_asset_key": tags.get("dagster.asset_key", ""),
        },
        "run": run_info,
        "code": _prefixed(tags, "code."),
        "training_set": training_set,
        "feature_service": {
            "name": tags.get("lineage.feature_service", ""),
            "views": [
                g["table"].split("/", 1)[1] for g in gold if g["table"].startswith("features/")
            ],
        },
        "gold": gold,
        "silver": silver,
        "bronze": bronze,
        "deid": {
            "policy_version": tags.get("lineage.deid.policy_version", ""),
            "key_fingerprint": tags.get("lineage.deid.key_fingerprint", ""),
        },
        "landing": landing,
        "dagster_run_ids": dagster_runs,
        "evaluation": evaluation,
        "gate": gate,
        "bentos": bento_list,
        "problems": problems,
    }


def _aliases(client, name: str, version: str) -> list[str]:
    try:
        aliases = client.get_registered_model(name).aliases or {}
    except Exception:  # noqa: BLE001 - a fake or an old server without aliases
        return []
    return sorted(a for a, v in aliases.items() if str(v) == str(version))


RESPONSE_FIELDS = {
    "training_set_digest": "lineage.training_set.digest",
    "feature_service": "lineage.feature_service",
    "landing_snapshot_id": "lineage.landing.snapshot_id",
}


def response_lineage(response: Mapping[str, Any]) -> dict[str, str]:
    """The lineage fields of a served prediction (``Prediction``) or a batch (``{"predictions": [...]}``, all of
    which must name the same model version)."""
    items = list(response.get("predictions", [])) if "predictions" in response else [response]
    if not items:
        raise TraceError("the response holds no prediction")
    keys = ("model_name", "model_version", *RESPONSE_FIELDS)
    seen = {tuple(str(item.get(k, "")) for k in keys) for item in items}
    if len(seen) != 1:
        raise TraceError(
            f"the response's predictions name different model versions: {sorted(seen)}"
        )
    fields = dict(zip(keys, seen.pop()))
    missing = [k for k in ("model_name", "model_version") if not fields[k]]
    if missing:
        raise TraceError(f"the response lacks {missing}: not a clinical-mlops prediction response")
    return fields


def response_mismatches(fields: Mapping[str, str], tags: Mapping[str, str]) -> list[str]:
    """Where a served response's lineage disagrees with the registry's tags on that model version."""
    return [
        f"response {field}={fields.get(field)!r} but {fields['model_name']} v{fields['model_version']} "
        f"is tagged {tag}={tags.get(tag)!r}"
        for field, tag in RESPONSE_FIELDS.items()
        if fields.get(field) and fields.get(field) != tags.get(tag)
    ]


def landing_manifest(paths: HomePaths, snapshot_id: str) -> dict[str, Any]:
    """Where the snapshot's manifest is recorded (table, Delta version) and what it lists (root, files, bytes)."""
    import pyarrow.compute as pc
    from deltalake import DeltaTable

    uri = paths.table("bronze", MANIFEST_TABLE)
    version = manifest_version(uri, snapshot_id)
    if version is None:
        return {"manifest_version": None}
    dataset = DeltaTable(uri, version=version).to_pyarrow_dataset()
    rows = dataset.to_table(columns=["root", "size"], filter=pc.field("snapshot_id") == snapshot_id)
    root = rows.column("root")[0].as_py() if rows.num_rows else ""
    return {
        "manifest_version": version,
        "root": paths.locate(root, "landing") if root else "",
        "recorded_root": root,
        "files": rows.num_rows,
        "total_bytes": int(pc.sum(rows.column("size")).as_py() or 0),
    }


def trace_in_home(settings, name: str, ref: str) -> dict[str, Any]:
    """``trace_model`` against a home's registry, Delta logs, landing manifest and Bento store."""
    from evaluation.registry import client as registry_client  # lazy: imports torch, scikit-learn

    client = registry_client(settings.tracking_uri)
    paths = HomePaths.of(settings)
    mv = resolve_version(client, name, ref)
    snapshot_id = dict(mv.tags).get("lineage.landing.snapshot_id", "")
    try:
        manifest = (
            landing_manifest(paths, snapshot_id) if snapshot_id else {"manifest_version": None}
        )
    except Exception as exc:  # noqa: BLE001 - reported as a problem by the caller's view of the dict
        manifest = {"manifest_version": None, "error": f"{type(exc).__name__}: {exc}"}
    bentos = find_bentos(settings.bentoml_home, name, str(mv.version))
    result = trace_model(client, name, str(mv.version), paths, bentos=bentos, manifest=manifest)
    result["model"]["ref"] = ref
    if result["landing"].get("manifest_version") is None:
        result["problems"].append(
            f"landing snapshot {snapshot_id}: not recorded in "
            f"{paths.table('bronze', MANIFEST_TABLE)} {manifest.get('error', '')}".rstrip()
        )
    return result


def local_path(uri: str) -> str:
    """A ``file://`` URI or plain path as a path; other URIs (s3://...) unchanged."""
    return uri.removeprefix("file://")
