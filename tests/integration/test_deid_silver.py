"""Bronze -> silver on a small generated cohort: pseudonyms, date shift across tables and notes, Safe
Harbor rules, the gate (passing, and failing on a planted leak), the skip when inputs are unchanged."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable

from cohort.generator import generate_cohort
from deid.gate import GATE_BRONZE_COLUMNS, run_gate
from deid.keys import DeidKey
from deid.notes import NoteDeidentifier
from deid.policy import DeidPolicy
from deid.silver import build_silver, read_bronze, run_record
from deid.structured import DROPPED_COMMON, SPECS
from deid.terminology import STANDARD
from ingestion.ingest import ingest_directory
from lakehouse.delta import DeltaRef, commit_metadata_of, current_version

KEY = DeidKey(b"k" * 32, "test")
IDENTIFYING_BRONZE_COLUMNS = {
    "mrn",
    "ssn",
    "identifiers",
    "family_name",
    "given_names",
    "name_prefix",
    "phone",
    "email",
    "address_line",
    "city",
    "postal_code",
    "contacts",
    "npi",
    "name",
}


@pytest.fixture(scope="module")
def bronze(tmp_path_factory) -> dict[str, DeltaRef]:
    root = tmp_path_factory.mktemp("deid")
    generate_cohort(root / "landing", 40, 7, gzip=False)
    ingest_directory(root / "landing", root / "bronze")
    return {
        name: DeltaRef(
            table=name,
            uri=str(root / "bronze" / name),
            version=current_version(str(root / "bronze" / name)),
        )
        for name in SPECS
    }


def _build(bronze, out: Path, policy: DeidPolicy, **kwargs):
    return build_silver(
        bronze,
        out,
        key=KEY,
        policy=policy,
        text_deidentifier=NoteDeidentifier(KEY, policy),
        **kwargs,
    )


@pytest.fixture(scope="module")
def shifted(bronze, tmp_path_factory):
    out = tmp_path_factory.mktemp("silver-shift")
    build = _build(bronze, out, DeidPolicy(date_mode="shift"))
    return build, {n: pl.from_arrow(r.read()) for n, r in build.refs.items()}


def test_silver_has_every_table_and_no_identifying_columns(bronze, shifted):
    build, silver = shifted
    assert set(silver) == set(SPECS)
    for name, frame in silver.items():
        assert not set(frame.columns) & (
            IDENTIFYING_BRONZE_COLUMNS | set(DROPPED_COMMON) - {"resource_id"} | {"patient_key"}
        ), name
        if (
            "resource_id" in frame.columns
        ):  # the pseudonym of the bronze resource key, not the FHIR id
            assert frame["resource_id"].str.starts_with("res_").all(), name
        assert (
            frame.height
            == DeltaTable(bronze[name].uri).to_pyarrow_table(columns=["resource_key"]).num_rows
        )
    assert build.rebuilt and build.texts > 0
    assert build.replacements["NAME"] > 0 or sum(build.replacements.values()) > 0


def test_patient_pseudonyms_agree_across_tables(bronze, shifted):
    _, silver = shifted
    patients = set(silver["patients"]["patient_id"])
    bronze_patients = pl.from_arrow(bronze["patients"].read(columns=["patient_key"]))["patient_key"]
    assert patients == {KEY.pseudonym(k, "patient") for k in bronze_patients}
    for name in ("encounters", "conditions", "observations", "notes", "medications", "procedures"):
        assert set(silver[name]["patient_id"].drop_nulls()) <= patients, name
    # encounter references resolve to silver encounters
    encounters = set(silver["encounters"]["encounter_id"])
    assert set(silver["notes"]["encounter_id"].drop_nulls()) <= encounters


def test_date_shift_is_one_offset_per_patient_across_tables(bronze, shifted):
    _, silver = shifted
    raw = pl.from_arrow(
        bronze["encounters"].read(
            columns=["encounter_id", "patient_key", "period_start", "period_end"]
        )
    )
    raw = raw.with_columns(
        pl.col("encounter_id")
        .map_elements(lambda v: KEY.pseudonym(v, "encounter"), return_dtype=pl.String)
        .alias("encounter_pid")
    )
    joined = raw.join(
        silver["encounters"], left_on="encounter_pid", right_on="encounter_id", suffix="_silver"
    )
    offsets = joined.select(
        "patient_key", (pl.col("period_start_silver") - pl.col("period_start")).alias("d")
    )
    per_patient = offsets.group_by("patient_key").agg(
        pl.col("d").n_unique().alias("n"), pl.col("d").first()
    )
    assert per_patient["n"].max() == 1  # one offset per patient
    for key, delta in per_patient.select("patient_key", "d").iter_rows():
        assert delta == timedelta(days=KEY.shift_days(key)) and 1 <= delta.days <= 365
    # intervals are preserved (length of stay)
    los_raw = (joined["period_end"] - joined["period_start"]).to_list()
    los_silver = (joined["period_end_silver"] - joined["period_start_silver"]).to_list()
    assert los_raw == los_silver
    # the same offset moves the note dates of the same patient
    notes_raw = pl.from_arrow(bronze["notes"].read(columns=["note_id", "patient_key", "note_date"]))
    notes_raw = notes_raw.with_columns(
        pl.col("note_id").map_elements(lambda v: KEY.pseudonym(v, "note"), return_dtype=pl.String)
    )
    notes = notes_raw.join(silver["notes"], on="note_id", suffix="_silver")
    assert notes.height > 0
    for key, before, after in notes.select(
        "patient_key", "note_date", "note_date_silver"
    ).iter_rows():
        assert after - before == timedelta(days=KEY.shift_days(key))


def test_notes_dates_are_shifted_inside_the_text(bronze, shifted):
    _, silver = shifted
    notes_raw = pl.from_arrow(bronze["notes"].read(columns=["note_id", "text"]))
    assert notes_raw.height == silver["notes"].height
    raw_texts = set(notes_raw["text"])
    assert not raw_texts & set(silver["notes"]["text"])  # every note changed


def test_safe_harbor_reduces_dates_to_year_and_keeps_intervals(bronze, tmp_path):
    build = _build(bronze, tmp_path, DeidPolicy(date_mode="safe_harbor"))
    encounters = pl.from_arrow(build.refs["encounters"].read())
    starts = encounters["period_start"].drop_nulls()
    assert (starts.dt.truncate("1y") == starts).all()
    raw = pl.from_arrow(bronze["encounters"].read(columns=["period_start", "period_end"]))
    raw_days = sorted((raw["period_end"] - raw["period_start"]).dt.total_days().to_list())
    # day offsets of start and end differ by the stay in whole days (floor of each side)
    silver_days = sorted((encounters["period_end_day"] - encounters["period_start_day"]).to_list())
    assert all(abs(a - b) <= 1 for a, b in zip(raw_days, silver_days))
    assert encounters["period_start_day"].min() >= 0  # anchor = the patient's first recorded date
    silver = {n: pl.from_arrow(r.read()) for n, r in build.refs.items()}
    gate = run_gate(
        silver,
        pl.from_arrow(bronze["patients"].read(columns=GATE_BRONZE_COLUMNS)),
        KEY,
        "safe_harbor",
    )
    assert gate.passed, gate.describe()


def test_zip3_and_ages_over_89(bronze, shifted):
    _, silver = shifted
    raw = pl.from_arrow(
        bronze["patients"].read(columns=["patient_key", "postal_code", "birth_date"])
    )
    patients = silver["patients"]
    assert patients["zip3"].drop_nulls().str.len_chars().eq(3).all()
    restricted = raw.filter(
        pl.col("postal_code").str.slice(0, 3).is_in(list(DeidPolicy().restricted_zip3))
    )
    assert restricted.height > 0, "the generated cohort plants restricted ZIP3 areas"
    pseudonyms = [KEY.pseudonym(k, "patient") for k in restricted["patient_key"]]
    assert set(patients.filter(pl.col("patient_id").is_in(pseudonyms))["zip3"]) == {"000"}
    old = patients.filter(pl.col("age_band") == "90+")
    assert old.height > 0, "the generated cohort plants patients over 89"
    assert old["birth_date"].null_count() == old.height
    assert set(old["age_at_last_record"]) == {"90+"}


def test_gate_passes_on_generated_cohort_and_fails_on_a_planted_name(bronze, shifted):
    _, silver = shifted
    patients = pl.from_arrow(bronze["patients"].read(columns=GATE_BRONZE_COLUMNS))
    clean = run_gate(silver, patients, KEY)
    assert clean.passed, clean.describe()
    assert clean.patients == patients.height and clean.values_scanned > 0

    victim = patients.row(0, named=True)
    surname = victim["family_name"]
    pid = KEY.pseudonym(victim["patient_key"], "patient")
    notes = silver["notes"]
    planted = notes.with_columns(
        pl.when(pl.col("patient_id") == pid)
        .then(pl.col("text") + f"\nSeen with {surname.upper()}'s daughter.")
        .otherwise(pl.col("text"))
        .alias("text")
    )
    if planted.filter(pl.col("patient_id") == pid).height == 0:  # the patient has no note: add one
        planted = pl.concat(
            [
                notes,
                notes.head(1).with_columns(
                    pl.lit(pid).alias("patient_id"), pl.lit(f"Seen with {surname}.").alias("text")
                ),
            ]
        )
    leaked = run_gate({**silver, "notes": planted}, patients, KEY)
    assert not leaked.passed
    assert (
        leaked.by_table() == {"notes.text": pytest.approx(leaked.leak_count)}
        and leaked.leak_count >= 1
    )
    report = "\n".join(leaked.describe())
    assert "notes.text" in report and "name" in report
    assert surname.lower() not in report.lower()  # the gate never names the identifier

    # an MRN copied into a structured column of the same patient is caught too
    mrn = pl.from_arrow(bronze["patients"].read(columns=["patient_key", "mrn"])).row(0, named=True)
    obs = silver["observations"].with_columns(
        pl.when(pl.col("patient_id") == KEY.pseudonym(mrn["patient_key"], "patient"))
        .then(pl.lit(mrn["mrn"]))
        .otherwise(pl.col("value_text"))
        .alias("value_text")
    )
    assert run_gate({**silver, "observations": obs}, patients, KEY).by_kind().get("mrn", 0) > 0


def test_unchanged_inputs_write_no_new_versions(bronze, tmp_path, monkeypatch):
    monkeypatch.setattr(
        "deid.silver.code_version",
        lambda: {"git_sha": "abc", "git_dirty": "false", "lock_sha256": "x"},
    )
    policy = DeidPolicy()
    first = _build(bronze, tmp_path, policy, commit_metadata=lambda name: {"asset_key": name})
    second = _build(bronze, tmp_path, policy)
    assert first.rebuilt and not second.rebuilt
    assert {n: r.version for n, r in first.refs.items()} == {
        n: r.version for n, r in second.refs.items()
    }
    meta = commit_metadata_of(first.refs["notes"].uri, first.refs["notes"].version)
    assert (
        meta["deid_policy_version"] == policy.version
        and meta["deid_key_fingerprint"] == KEY.fingerprint
    )
    assert meta["bronze_version"] == str(bronze["notes"].version)
    # the landing snapshot travels with silver, so lineage above silver never opens bronze
    snapshot = commit_metadata_of(bronze["patients"].uri, bronze["patients"].version)["snapshot_id"]
    assert meta["landing_snapshot_id"] == snapshot and json.loads(meta["landing_snapshot_ids"]) == [
        snapshot
    ]
    assert KEY.secret.decode() not in str(meta)
    record = run_record(tmp_path, first.input_digest)
    assert record is not None and record["deid_key_fingerprint"] == KEY.fingerprint
    # another policy is another input: everything is rebuilt
    third = _build(bronze, tmp_path, DeidPolicy(date_mode="safe_harbor"))
    assert third.rebuilt and third.refs["notes"].version == first.refs["notes"].version + 1


def test_a_failing_note_leaves_silver_untouched(bronze, tmp_path):
    policy = DeidPolicy()
    first = _build(bronze, tmp_path, policy, force=True)

    class Broken:
        def deidentify(self, text, **kwargs):
            raise RuntimeError("detector crashed")

    with pytest.raises(RuntimeError, match="detector crashed"):
        build_silver(
            bronze, tmp_path, key=KEY, policy=policy, text_deidentifier=Broken(), force=True
        )
    assert {n: current_version(r.uri) for n, r in first.refs.items()} == {
        n: r.version for n, r in first.refs.items()
    }


def test_bronze_is_read_without_raw_json(bronze):
    frames = read_bronze(bronze)
    assert all(
        "raw_json" not in f.columns and "source_file" not in f.columns for f in frames.values()
    )


def test_a_surname_that_is_also_a_race_category_is_not_a_leak_but_an_mrn_there_is(bronze, shifted):
    _, silver = shifted
    patients = pl.from_arrow(bronze["patients"].read(columns=GATE_BRONZE_COLUMNS))
    victim = patients.row(0, named=True)
    pid = KEY.pseudonym(victim["patient_key"], "patient")
    white = patients.with_columns(
        pl.when(pl.col("patient_key") == victim["patient_key"])
        .then(pl.lit("White"))
        .otherwise(pl.col("family_name"))
        .alias("family_name")
    )
    rows = silver["patients"].with_columns(
        pl.when(pl.col("patient_id") == pid)
        .then(pl.lit("White"))
        .otherwise(pl.col("race"))
        .alias("race")
    )
    assert run_gate({**silver, "patients": rows}, white, KEY).passed
    mrn = rows.with_columns(
        pl.when(pl.col("patient_id") == pid)
        .then(pl.lit(victim["mrn"]))
        .otherwise(pl.col("race"))
        .alias("race")
    )
    assert run_gate({**silver, "patients": mrn}, white, KEY).by_table() == {"patients.race": 1}


def test_a_surname_inside_a_shared_vocabulary_value_is_not_a_leak_but_in_a_note_it_is(
    bronze, shifted
):
    _, silver = shifted
    patients = pl.from_arrow(bronze["patients"].read(columns=GATE_BRONZE_COLUMNS))
    victim = patients.row(0, named=True)
    pid = KEY.pseudonym(victim["patient_key"], "patient")
    colon = patients.with_columns(
        pl.when(pl.col("patient_key") == victim["patient_key"])
        .then(pl.lit("Colon"))
        .otherwise(pl.col("family_name"))
        .alias("family_name")
    )
    others = silver["conditions"]["patient_id"].unique().to_list()[:6]
    colon_cancer = ("http://snomed.info/sct", "363406005", "Malignant tumor of colon")
    conditions = silver["conditions"].with_columns(
        pl.when(pl.col("patient_id").is_in([pid, *others]))
        .then(pl.lit(value))
        .otherwise(pl.col(column))
        .alias(column)
        for column, value in zip(("code_system", "code", "display"), colon_cancer)
    )
    if conditions.filter(pl.col("patient_id") == pid).height == 0:
        conditions = pl.concat(
            [conditions, conditions.head(1).with_columns(pl.lit(pid).alias("patient_id"))]
        )
    # the display its own code system gives the row's code: vocabulary (not: shared by >= 5 patients)
    terminology = STANDARD.with_concepts([colon_cancer])
    assert run_gate(
        {**silver, "conditions": conditions}, colon, KEY, terminology=terminology
    ).passed
    unknown = run_gate({**silver, "conditions": conditions}, colon, KEY)  # a code it does not know
    assert unknown.by_table() == {
        "conditions.display": conditions.filter(pl.col("patient_id") == pid).height
    }
    notes = silver["notes"].with_columns(
        pl.when(pl.col("patient_id") == pid)
        .then(pl.col("text") + "\nColon's wife called.")
        .otherwise(pl.col("text"))
        .alias("text")
    )
    planted = notes.filter(pl.col("patient_id") == pid).height
    if planted:  # one leak per note of that patient
        assert run_gate({**silver, "notes": notes}, colon, KEY).by_table() == {
            "notes.text": planted
        }
