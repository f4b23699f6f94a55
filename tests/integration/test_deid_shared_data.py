"""De-identification on real third-party exports (../shared/data): Synthea bundles carry full synthetic
identities; MIMIC-IV demo is already de-identified at the source. Zero known identifiers may survive."""

from __future__ import annotations

import polars as pl
import pytest

from deid.gate import GATE_BRONZE_COLUMNS, run_gate
from deid.keys import DeidKey
from deid.notes import NoteDeidentifier
from deid.policy import DeidPolicy
from deid.silver import build_silver
from deid.structured import SPECS
from ingestion.ingest import ingest_directory
from lakehouse.delta import DeltaRef, current_version

pytestmark = [pytest.mark.shared_data, pytest.mark.slow]
KEY = DeidKey(b"shared-data-test-key-0123456789", "test")


def _silver(landing, tmp_path, policy=DeidPolicy()):
    bronze_dir = tmp_path / "bronze"
    ingest_directory(landing, bronze_dir)
    bronze = {
        n: DeltaRef(table=n, uri=str(bronze_dir / n), version=current_version(str(bronze_dir / n)))
        for n in SPECS
    }
    build = build_silver(
        bronze,
        tmp_path / "silver",
        key=KEY,
        policy=policy,
        text_deidentifier=NoteDeidentifier(KEY, policy),
    )
    silver = {n: pl.from_arrow(r.read()) for n, r in build.refs.items()}
    patients = pl.from_arrow(bronze["patients"].read(columns=GATE_BRONZE_COLUMNS))
    return build, silver, patients


def test_synthea_bundles_leave_no_known_identifier_in_silver(synthea_dir, tmp_path):
    build, silver, patients = _silver(synthea_dir, tmp_path)
    assert (
        patients.height >= 20 and patients["ssn"].drop_nulls().len() > 0
    )  # identities were there to remove
    gate = run_gate(silver, patients, KEY)
    print(
        f"synthea: {gate.patients} patients, {gate.values_scanned} values scanned, {gate.leak_count} leaks"
    )
    assert gate.passed, gate.describe()
    assert silver["encounters"].height > 0 and silver["observations"].height > 0


def test_mimic_demo_leaves_no_known_identifier_in_silver(mimic_dir, tmp_path):
    build, silver, patients = _silver(mimic_dir, tmp_path)
    gate = run_gate(silver, patients, KEY)
    print(
        f"mimic: {gate.patients} patients, {gate.values_scanned} values scanned, {gate.leak_count} leaks"
    )
    assert gate.passed, gate.describe()
    assert silver["patients"].height == patients.height == 100
