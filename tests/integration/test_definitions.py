"""The Dagster code location loads, and its asset graph matches the reviewed snapshot.

After an intended graph change, regenerate the snapshot with
``UPDATE_SNAPSHOTS=1 python -m pytest tests/integration/test_definitions.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dagster import AssetKey, Definitions

SNAPSHOT = Path(__file__).resolve().parents[1] / "snapshots" / "asset_graph.json"


def _graph() -> dict:
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    assets = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets.append({
            "key": key.to_user_string(),
            "group": node.group_name,
            "upstream": sorted(k.to_user_string() for k in node.parent_keys),
        })
    checks = []
    for check_key in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        spec = graph.get_check_spec(check_key)
        checks.append({"asset": check_key.asset_key.to_user_string(), "name": check_key.name,
                       "blocking": bool(spec.blocking)})
    return {"assets": assets, "checks": checks}


def test_definitions_load():
    from orchestration.definitions import PIPELINE_JOB, defs

    assert isinstance(defs, Definitions)
    job = defs.resolve_job_def(PIPELINE_JOB)
    assert job.name == "clinical_pipeline"
    assert set(defs.resolve_all_asset_keys()) >= {AssetKey(["landing", "snapshot"]),
                                                   AssetKey(["bronze", "patients"])}


def test_every_bronze_output_is_an_asset_with_a_schema_check():
    from ingestion.ingest import BRONZE_OUTPUTS

    graph = _graph()
    keys = {a["key"] for a in graph["assets"]}
    checks = {(c["asset"], c["name"]) for c in graph["checks"]}
    for name in BRONZE_OUTPUTS:
        assert f"bronze/{name}" in keys
        assert (f"bronze/{name}", f"{name}_schema") in checks


def test_asset_graph_snapshot():
    actual = _graph()
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.parent.mkdir(parents=True, exist_ok=True)
        SNAPSHOT.write_text(json.dumps(actual, indent=2) + "\n")
    assert SNAPSHOT.exists(), f"{SNAPSHOT} is missing: run with UPDATE_SNAPSHOTS=1 to write it"
    expected = json.loads(SNAPSHOT.read_text())
    assert actual == expected, ("the asset graph changed; if intended, regenerate with UPDATE_SNAPSHOTS=1 "
                                "and review the diff of tests/snapshots/asset_graph.json")
