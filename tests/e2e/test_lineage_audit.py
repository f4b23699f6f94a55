"""End to end: an auditor traces and verifies the demo's model on the same home the pipeline built
(the session-scoped ``demo`` fixture in conftest.py: no extra pipeline run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
MODEL = "clinical-readmission"


def lineage(home: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CLINICAL_MLOPS_", "DAGSTER_"))}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "lineage", *args, "--home", str(home)],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=600,
    )


def test_trace_links_every_record_of_the_run(demo) -> None:
    home, first, _ = demo
    done = lineage(home, "trace", f"{MODEL}@1", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    t = json.loads(done.stdout)
    assets = {a["asset"]: a for a in first["assets"]}
    recorded = first["training_sets"]["readmission_30d"]
    assert t["problems"] == []
    assert t["model"]["version"] == "1" and t["model"]["run_id"]
    assert t["training_set"]["digest"] == recorded["content_digest"]
    assert (
        t["training_set"]["version"] == assets["gold/training_set_readmission_30d"]["delta_version"]
    )
    assert t["feature_service"]["name"] == "readmission_v1" and t["feature_service"]["views"]
    for zone in ("gold", "silver", "bronze"):
        assert t[zone], zone
        for link in t[zone]:
            asset = assets.get(f"{zone}/{link['table']}")
            if asset is not None:
                assert link["version"] == asset["delta_version"], link
    assert t["landing"]["snapshot_id"] == assets["landing/snapshot"]["snapshot_id"]
    assert t["landing"]["manifest_version"] is not None and t["landing"]["files"] > 0
    assert (
        first["run_id"] in t["dagster_run_ids"] and t["model"]["dagster_run_id"] == first["run_id"]
    )
    assert t["code"]["git_sha"] and t["deid"]["policy_version"]
    evaluation = first["evaluations"][MODEL]
    assert t["gate"]["alias"] == evaluation["decision"]
    if evaluation["promoted"]:
        assert [b["tag"] for b in t["bentos"]] == [first["bentos"][MODEL]["bento_tag"]]


def test_trace_of_the_champion_prints_the_chain(demo) -> None:
    home, first, second = demo
    champion = second["evaluations"][MODEL]["champion_version"]
    if champion == "none":
        pytest.skip("no champion on this cohort")
    done = lineage(home, "trace", f"{MODEL}@champion")
    assert done.returncode == 0, done.stderr[-3000:]
    text = " ".join(done.stderr.split())
    assert f"{MODEL} v{champion} (champion)" in text
    assert "readmission_v1" in text and "landing snapshot" in text and "gate:" in text


def test_trace_from_a_served_response_checks_it_against_the_registry(demo, tmp_path: Path) -> None:
    home, first, _ = demo
    if first["prediction"] is None:
        pytest.skip("version 1 was not served on this cohort")
    answer = first["prediction"]["response"]
    saved = tmp_path / "response.json"
    saved.write_text(json.dumps(answer))
    done = lineage(home, "trace", "--response", str(saved), "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    t = json.loads(done.stdout)
    assert (
        t["model"]["version"] == answer["model_version"] and t["response"]["agrees_with_registry"]
    )
    forged = lineage(
        home,
        "trace",
        "--response",
        "-",
        stdin=json.dumps({**answer, "feature_service": "other_v9"}),
    )
    assert forged.returncode == 1
    assert "response feature_service='other_v9'" in " ".join(forged.stderr.split())


def test_verify_passes_on_the_untouched_home(demo) -> None:
    home, _, _ = demo
    done = lineage(home, "verify", f"{MODEL}@1", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert report["ok"] and report["broken_link"] is None
    links = [c["link"] for c in report["checks"]]
    assert "re-derived training set" in links and any(
        link.startswith("landing files") for link in links
    )


def test_verify_names_a_changed_landing_file(demo) -> None:
    home, _, _ = demo
    target = sorted((home / "landing").glob("*.ndjson.gz"))[0]
    original, stat = target.read_bytes(), target.stat()
    try:
        target.write_bytes(original + b"\n")
        done = lineage(home, "verify", f"{MODEL}@1")
        assert done.returncode == 1
        message = " ".join(done.stderr.split())
        assert f"broken at landing file {target.name}" in message and str(target) in message
    finally:
        target.write_bytes(original)
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert lineage(home, "verify", f"{MODEL}@1", "--no-rederive").returncode == 0


def test_vacuum_dry_run_protects_both_registered_versions(demo) -> None:
    home, _, _ = demo
    done = lineage(home, "vacuum", "--dry-run", "--retention-hours", "0", "--json")
    assert done.returncode == 0, done.stderr[-3000:]
    protected = json.loads(done.stdout)["protected"]
    training_set = str((home / "gold" / "training_set_readmission_30d").resolve())
    assert training_set in protected and len(protected[training_set]) >= 1
