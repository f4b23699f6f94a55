"""The gate inside a real Dagster run: a leak planted through a broken note path fails the blocking check
and stops the report downstream; a non-demo profile without a key refuses to de-identify."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from deltalake import DeltaTable

from clinical_mlops.settings import load_settings
from cohort.generator import generate_cohort
from orchestration.definitions import FEATURE_JOB
from orchestration.run import run_pipeline

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::dagster.BetaWarning")]


@dataclass
class _Same:
    text: str
    replacements: Counter


class LeakyNotes:
    """A note path that forgets to de-identify: every identifier in the notes reaches silver."""

    def __init__(self, key, policy):
        pass

    def deidentify(self, text, **kwargs):
        return _Same(text, Counter())


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("gate-landing")
    generate_cohort(root, 15, 5, gzip=True)
    return root


@pytest.fixture
def env(tmp_path, monkeypatch, landing) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.setenv("CLINICAL_MLOPS_HOME", str(home))
    monkeypatch.setenv("CLINICAL_MLOPS_LANDING_DIR", str(landing))
    for name in (
        "CLINICAL_MLOPS_DEID_KEY",
        "CLINICAL_MLOPS_PROFILE",
        "CLINICAL_MLOPS_DEID_DATE_MODE",
    ):
        monkeypatch.delenv(name, raising=False)
    return home


def test_a_planted_leak_fails_the_gate_and_blocks_the_report(env, monkeypatch):
    monkeypatch.setattr("assets.deid.NoteDeidentifier", LeakyNotes)
    summary = run_pipeline(load_settings(home=env), FEATURE_JOB)

    assert not summary.success
    assert summary.gate is not None and not summary.gate["passed"]
    assert summary.gate["leaked_values"] > 0
    assert any(
        line.startswith("notes.text:") and "name" in line for line in summary.gate["findings"]
    )
    checks = {c["check"]: c for c in summary.checks}
    assert not checks["silver/notes:phi_leak_gate"]["passed"]
    assert checks["silver/encounters:phi_leak_gate"]["passed"]  # structured tables stay clean
    materialized = {a["asset"] for a in summary.assets}
    assert "silver/notes" in materialized and "silver/deid_reports" not in materialized
    assert not any(
        a.startswith("gold/") for a in materialized
    )  # nothing downstream of a failed gate
    # findings name table, column, kind and count, never the identifier
    surnames = {
        row["family_name"].lower()
        for row in DeltaTable(str(env / "bronze" / "patients"))
        .to_pyarrow_table(columns=["family_name"])
        .to_pylist()
    }
    text = "\n".join(summary.gate["findings"]).lower()
    assert not any(s in text for s in surnames)


def test_a_non_demo_profile_without_a_key_refuses_to_deidentify(env, monkeypatch):
    monkeypatch.setenv("CLINICAL_MLOPS_PROFILE", "dev")
    summary = run_pipeline(load_settings(home=env), FEATURE_JOB)

    assert not summary.success
    assert "CLINICAL_MLOPS_DEID_KEY is not set" in (summary.failure or "")
    materialized = {a["asset"] for a in summary.assets}
    assert "bronze/patients" in materialized and not any(
        a.startswith("silver/") for a in materialized
    )
    assert not (env / "secrets" / "deid.key").exists()


def test_a_configured_key_is_used_and_only_its_fingerprint_recorded(env, monkeypatch):
    secret = "0123456789abcdef0123456789abcdef"
    monkeypatch.setenv("CLINICAL_MLOPS_PROFILE", "prod")
    monkeypatch.setenv("CLINICAL_MLOPS_DEID_KEY", secret)
    summary = run_pipeline(load_settings(home=env), FEATURE_JOB)

    assert summary.success, summary.failure
    assert summary.gate["passed"]
    history = DeltaTable(str(env / "silver" / "notes")).history()
    assert history and all(secret not in str(entry) for entry in history)
    assert not (env / "secrets" / "deid.key").exists()
    from deid.keys import DeidKey

    assert summary.deid["deid_key_fingerprint"] == DeidKey(bytes.fromhex(secret), "env").fingerprint
