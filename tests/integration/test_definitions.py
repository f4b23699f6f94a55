"""The Dagster code location loads, and its definitions match the reviewed snapshot: assets (group, kinds,
upstream, automation condition), checks, jobs (selection), schedules and sensors.

After an intended graph change, regenerate the snapshot with
``UPDATE_SNAPSHOTS=1 python -m pytest tests/integration/test_definitions.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from dagster import AssetKey, Definitions

SNAPSHOT = Path(__file__).resolve().parents[1] / "snapshots" / "definitions.json"


def _graph() -> dict:
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    assets = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        condition = node.automation_condition
        assets.append(
            {
                "key": key.to_user_string(),
                "group": node.group_name,
                "kinds": sorted(node.kinds),
                "upstream": sorted(k.to_user_string() for k in node.parent_keys),
                "automation": condition.get_label() or type(condition).__name__
                if condition is not None
                else None,
            }
        )
    checks = []
    for check_key in sorted(
        graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)
    ):
        spec = graph.get_check_spec(check_key)
        checks.append(
            {
                "asset": check_key.asset_key.to_user_string(),
                "name": check_key.name,
                "blocking": bool(spec.blocking),
            }
        )
    jobs = []
    for job in sorted(defs.resolve_all_job_defs(), key=lambda j: j.name):
        if job.name.startswith("__"):  # Dagster's implicit asset job
            continue
        selected = job.asset_layer.selected_asset_keys if job.asset_layer else set()
        jobs.append({"name": job.name, "assets": sorted(k.to_user_string() for k in selected)})
    schedules = [
        {
            "name": s.name,
            "cron": s.cron_schedule,
            "timezone": s.execution_timezone,
            "job": s.job_name,
            "default_status": s.default_status.value,
        }
        for s in sorted(defs.schedules or [], key=lambda s: s.name)
    ]
    sensors = [
        {
            "name": s.name,
            "type": type(s).__name__,
            "jobs": sorted(t.job_name for t in s.targets),
            "asset": s.asset_key.to_user_string() if getattr(s, "asset_key", None) else None,
            "interval_s": s.minimum_interval_seconds,
            "default_status": s.default_status.value,
        }
        for s in sorted(defs.sensors or [], key=lambda s: s.name)
    ]
    return {
        "assets": assets,
        "checks": checks,
        "jobs": jobs,
        "schedules": schedules,
        "sensors": sensors,
    }


def test_definitions_load():
    from orchestration.definitions import PIPELINE_JOB, defs

    assert isinstance(defs, Definitions)
    job = defs.resolve_job_def(PIPELINE_JOB)
    assert job.name == "clinical_pipeline"
    assert set(defs.resolve_all_asset_keys()) >= {
        AssetKey(["landing", "snapshot"]),
        AssetKey(["bronze", "patients"]),
    }


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
    assert actual == expected, (
        "the definitions changed; if intended, regenerate with UPDATE_SNAPSHOTS=1 "
        "and review the diff of tests/snapshots/definitions.json"
    )
