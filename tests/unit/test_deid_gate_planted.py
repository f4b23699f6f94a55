"""The PHI-leak gate against planted identifiers: every kind of a patient's identifier, planted for 1, 5
and 50 patients who share a common name (and city and ZIP), in a free-text column and in columns named
like categorical ones, fails the gate naming table, column, kind and the (pseudonymized) patients;
vocabulary passes only as coded vocabulary (the display of the row's own code, or a value-set member),
never by column name or by how many patients share a value; ZIP3 and restricted prefixes per policy."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from deid.gate import GATE_BRONZE_COLUMNS, run_gate
from deid.keys import DeidKey
from deid.leak_scan import Leak
from deid.terminology import STANDARD

KEY = DeidKey(b"g" * 32, "test")
SNOMED = "http://snomed.info/sct"
COUNTS = (1, 5, 50)
COLUMNS = ("text", "category", "status")  # free text, and two columns named like categorical ones
UNPLANTED_SAME_NAME = 5  # patients of the same name in silver without a plant: never reported
FILLERS = 5

# what is planted -> the kind the gate must report
KINDS = {
    "full_name": "name",
    "family_name": "name",
    "family_name_2_letters": "name",
    "mrn": "mrn",
    "ssn": "ssn",
    "phone": "phone",
    "email": "email",
    "street": "street",
    "city": "city",
    "zip5": "zip",
    "birth_date": "birth_date",
}


def _patient(key: str, i: int, given: str, family: str, city: str, postal: str) -> dict:
    return {
        "patient_key": key,
        "family_name": family,
        "given_names": given,
        "contacts": [{"relationship": "spouse", "name": f"Pat {family}", "phone": None}],
        "mrn": f"MRN{10_000_000 + i}",
        "ssn": f"{100 + i % 800:03d}-{10 + i % 89:02d}-{1000 + i:04d}",
        "phone": f"(617) {200 + i % 700:03d}-{1000 + i:04d}",
        "email": f"{given.lower()}.{family.lower()}{i}@example.org",
        "address_line": f"{100 + i} Elm Street",
        "city": city,
        "postal_code": postal,
        "birth_date": date(1950 + i % 40, 1 + i % 12, 1 + i % 28),
    }


def _bronze() -> pl.DataFrame:
    rows = []
    for i in range(max(COUNTS) + UNPLANTED_SAME_NAME):
        rows.append(_patient(f"smith-{i}", i, "John", "Smith", "Springfield", "01103"))
        rows.append(_patient(f"ng-{i}", 500 + i, "Anna", "Ng", "Springfield", "01103"))
    fillers = [("Maria", "Garcia"), ("Robert", "Brown"), ("Linda", "Okafor")]
    for i in range(FILLERS):
        given, family = fillers[i % len(fillers)]
        rows.append(_patient(f"other-{i}", 900 + i, given, family, "Boston", "02118"))
    return pl.DataFrame(rows).select(GATE_BRONZE_COLUMNS)


BRONZE = _bronze()
ROWS = {row["patient_key"]: row for row in BRONZE.iter_rows(named=True)}


def _pid(patient_key: str) -> str:
    return KEY.pseudonym(patient_key, "patient")


def _value(kind: str, row: dict) -> str:
    return {
        "full_name": f"{row['given_names']} {row['family_name']}",
        "family_name": row["family_name"],
        "family_name_2_letters": row["family_name"],
        "mrn": row["mrn"],
        "ssn": row["ssn"],
        "phone": row["phone"],
        "email": row["email"],
        "street": row["address_line"],
        "city": row["city"],
        "zip5": row["postal_code"],
        "birth_date": row["birth_date"].isoformat(),
    }[kind]


def _notes(rows: list[tuple[str, str, str, str]]) -> pl.DataFrame:
    """(patient_key, status, category, text) -> silver notes rows."""
    return pl.DataFrame(
        [
            {
                "note_id": f"note_{i}",
                "patient_id": _pid(key),
                "status": status,
                "category": category,
                "doc_type_code": "11506-3",
                "doc_type_display": "Progress note",
                "text": text,
            }
            for i, (key, status, category, text) in enumerate(rows)
        ]
    )


CLEAN_TEXT = "Seen in clinic. BP 128/76, HbA1c 6.1 %. Troponin < 5 ng/mL. Follow up in 3 months."


def plant(kind: str, count: int, column: str):
    """Silver notes where ``count`` patients of one common name carry their own ``kind`` in ``column``
    (the rest of silver clean); returns (gate result, the planted patients' pseudonyms)."""
    group = "ng" if kind == "family_name_2_letters" else "smith"
    planted = [f"{group}-{i}" for i in range(count)]
    same_name = [f"{group}-{i}" for i in range(count, count + UNPLANTED_SAME_NAME)]
    others = [f"other-{i}" for i in range(FILLERS)]
    rows = []
    for key in planted:
        value = _value(kind, ROWS[key])
        cells = {"status": "current", "category": "clinical-note", "text": CLEAN_TEXT}
        cells[column] = f"Seen today; {value} noted." if column == "text" else value
        rows.append((key, cells["status"], cells["category"], cells["text"]))
    for key in planted + same_name + others:
        rows.append((key, "current", "clinical-note", CLEAN_TEXT))
    result = run_gate({"notes": _notes(rows)}, BRONZE, KEY)
    return result, {_pid(k) for k in planted}


MATRIX = [(kind, count, column) for kind in KINDS for count in COUNTS for column in COLUMNS]


@pytest.mark.parametrize(("kind", "count", "column"), MATRIX)
def test_a_planted_identifier_fails_the_gate_whatever_the_column_and_however_shared(
    kind: str, count: int, column: str
) -> None:
    result, planted = plant(kind, count, column)
    leak = Leak("notes", column, KINDS[kind])
    assert not result.passed
    assert result.leaks[leak] >= count  # at least one per planted patient
    assert result.leak_patients[leak] == planted  # exactly the planted patients, by pseudonym
    assert set().union(*result.leak_patients.values()) == planted  # nobody else
    report = "\n".join(result.describe())
    assert f"notes.{column}: " in report and f" {KINDS[kind]} value(s)" in report
    secret = _value(kind, ROWS["ng-0" if kind == "family_name_2_letters" else "smith-0"])
    assert secret.lower() not in report.lower()  # the gate never names the identifier


def test_the_planted_leak_matrix(capsys: pytest.CaptureFixture) -> None:
    """kind x patients sharing the name x column -> caught; printed for the record."""
    caught = {}
    for kind, count, column in MATRIX:
        result, planted = plant(kind, count, column)
        caught[(kind, count, column)] = (
            result.leak_patients.get(Leak("notes", column, KINDS[kind])) == planted
        )
    header = f"{'planted identifier':<24}{'patients':>9}  " + "".join(f"{c:<10}" for c in COLUMNS)
    lines = [header, "-" * len(header)]
    for kind in KINDS:
        for count in COUNTS:
            marks = "".join(
                f"{'caught' if caught[(kind, count, c)] else 'MISSED':<10}" for c in COLUMNS
            )
            lines.append(f"{kind:<24}{count:>9}  {marks}")
    with capsys.disabled():
        print("\n\nPHI-leak gate, planted identifiers (notes.<column>):\n" + "\n".join(lines))
    assert all(caught.values())


# ---------------------------------------------------------------------------- no false alarms


def test_a_clean_silver_table_passes() -> None:
    keys = ["smith-0", "ng-0", "other-0"]
    notes = _notes(
        [(k, "current", "clinical-note", CLEAN_TEXT) for k in keys]
        + [
            (
                "ng-0",
                "final",
                "clinical-note",
                "Pt to do PT; NG/ML units; 10 ng; do not resuscitate.",
            )
        ]
    )
    result = run_gate({"notes": notes}, BRONZE, KEY)
    assert result.passed, result.describe()
    assert result.values_scanned > 0


def _colon_patient() -> pl.DataFrame:
    row = _patient("colon", 7, "Ray", "Colon", "Jackson", "39201")
    return pl.DataFrame([row]).select(GATE_BRONZE_COLUMNS)


COLON_CANCER = (SNOMED, "363406005", "Malignant tumor of colon")
XRAY = (SNOMED, "399208008", "Plain chest X-ray")
TERMINOLOGY = STANDARD.with_concepts([COLON_CANCER, XRAY])


def _conditions(system: str, code: str, display: str, category: str = "problem-list-item"):
    return pl.DataFrame(
        [
            {
                "condition_id": "c1",
                "patient_id": _pid("colon"),
                "code_system": system,
                "code": code,
                "display": display,
                "category": category,
                "clinical_status": "active",
            }
        ]
    )


def test_a_coded_display_equal_to_a_name_passes_only_as_the_display_of_its_own_code() -> None:
    patients = _colon_patient()
    silver = {
        "conditions": _conditions(*COLON_CANCER),
        "procedures": pl.DataFrame(
            [
                {
                    "patient_id": _pid("colon"),
                    "code_system": XRAY[0],
                    "code": XRAY[1],
                    "display": XRAY[2],
                }
            ]
        ),
    }
    assert run_gate(silver, patients, KEY, terminology=TERMINOLOGY).passed
    # the same words are a leak everywhere the coded-concept rule does not vouch for them:
    # a terminology that does not know the code,
    assert run_gate(silver, patients, KEY).by_table() == {
        "conditions.display": 1,
        "procedures.display": 1,
    }
    # the display beside another code (here diabetes) or another code system,
    for system, code in ((SNOMED, "44054006"), ("http://loinc.org", "363406005")):
        other = {"conditions": _conditions(system, code, COLON_CANCER[2])}
        assert run_gate(other, patients, KEY, terminology=TERMINOLOGY).by_table() == {
            "conditions.display": 1
        }
    # and the display text written into a column that is not its display
    moved = {"conditions": _conditions(*COLON_CANCER, category=COLON_CANCER[2])}
    assert run_gate(moved, patients, KEY, terminology=TERMINOLOGY).by_table() == {
        "conditions.category": 1
    }


def test_a_coded_display_inside_a_struct_column_is_judged_with_its_own_code() -> None:
    patients = _colon_patient()

    def observations(display: str, code: str) -> pl.DataFrame:
        component = {"code_system": SNOMED, "code": code, "display": display, "value_num": 1.0}
        return pl.DataFrame(
            [{"patient_id": _pid("colon"), "status": "final", "components": [component]}]
        )

    coded = {"observations": observations(XRAY[2], XRAY[1])}
    assert run_gate(coded, patients, KEY, terminology=TERMINOLOGY).passed
    wrong = {"observations": observations(XRAY[2], "44054006")}
    assert run_gate(wrong, patients, KEY, terminology=TERMINOLOGY).by_table() == {
        "observations.components": 1
    }


def test_value_sets_vouch_for_whole_values_only() -> None:
    white = pl.DataFrame([_patient("white", 3, "Ma", "White", "Boston", "02118")]).select(
        GATE_BRONZE_COLUMNS
    )

    def patients_row(**cells) -> dict:
        return {"patients": pl.DataFrame([{"patient_id": _pid("white"), **cells}])}

    # race "White" of a patient named White, state "MA" of a patient named Ma: vocabulary
    assert run_gate(patients_row(race="White", state="MA", zip3="021"), white, KEY).passed
    # the same words outside their value set, or beside other words, are leaks
    assert run_gate(patients_row(race="White Ma"), white, KEY).by_kind() == {"name": 2}
    assert run_gate(patients_row(status="White"), white, KEY).by_table() == {"patients.status": 1}
    # an identifier of another kind is a leak even in a value-set column
    assert run_gate(patients_row(race="02118"), white, KEY).by_kind() == {"zip": 1}


def test_two_letter_names_and_cities_match_whole_tokens_only() -> None:
    wu = pl.DataFrame([_patient("wu", 4, "Li", "Wu", "Salem", "97301")]).select(GATE_BRONZE_COLUMNS)

    def text(value: str) -> dict:
        return {"notes": _notes([("wu", "current", "clinical-note", value)])}

    clean = "Dr. Wulf and Dr. Lima saw the patient in Salemburg; lithium level 0.8; 5 li/min? no."
    assert run_gate(text(clean.replace("5 li/min? no.", "")), wu, KEY).passed
    for leak in ("Mr. Wu called.", "WU, LI", "seen by li", "Wu's daughter", "lives in SALEM"):
        assert not run_gate(text(leak), wu, KEY).passed, leak


def test_zip3_passes_a_full_zip_fails_and_a_restricted_prefix_must_be_000() -> None:
    patients = pl.DataFrame(
        [
            _patient("plain", 1, "Ann", "Moss", "Springfield", "01103"),
            _patient("restricted", 2, "Bea", "Hart", "Walpole", "03608"),
        ]
    ).select(GATE_BRONZE_COLUMNS)

    def silver(zip_plain: str, zip_restricted: str, note: str = CLEAN_TEXT) -> dict:
        return {
            "patients": pl.DataFrame(
                {
                    "patient_id": [_pid("plain"), _pid("restricted")],
                    "zip3": [zip_plain, zip_restricted],
                }
            ),
            "notes": _notes([("restricted", "current", "clinical-note", note)]),
        }

    assert run_gate(silver("011", "000"), patients, KEY).passed  # Safe Harbor ZIP3
    assert run_gate(silver("011", "000", "Lives in 00000 area."), patients, KEY).passed
    assert run_gate(silver("01103", "000"), patients, KEY).by_kind() == {"zip": 1}
    restricted = run_gate(silver("011", "036"), patients, KEY)
    assert restricted.by_kind() == {"zip3": 1} and restricted.by_table() == {"patients.zip3": 1}
    assert run_gate(silver("011", "000", "ZIP 03699."), patients, KEY).by_kind() == {"zip3": 1}
    assert run_gate(silver("011", "000", "ZIP 03608-1234."), patients, KEY).by_kind() == {"zip": 1}


def test_the_platform_terminology_knows_every_coded_value_the_source_writes(tmp_path) -> None:
    """The Dagster gate's terminology (assets.deid.source_terminology) vouches for every coded display and
    every value-set column value of a generated cohort, so vocabulary never raises a false alarm there."""
    from assets.deid import source_terminology
    from cohort.generator import generate_cohort
    from deid.structured import SPECS
    from deid.terminology import normalize
    from ingestion.ingest import ingest_directory
    from lakehouse.delta import DeltaRef, current_version

    generate_cohort(tmp_path / "landing", 60, 3)
    ingest_directory(tmp_path / "landing", tmp_path / "bronze")
    terminology = source_terminology()
    unknown_displays, unknown_values = set(), set()
    for name, spec in SPECS.items():
        if not spec.patient_scoped:
            continue
        uri = str(tmp_path / "bronze" / name)
        frame = pl.from_arrow(DeltaRef(table=name, uri=uri, version=current_version(uri)).read())
        for system, code, display in (
            ("code_system", "code", "display"),
            ("type_system", "type_code", "type_display"),
        ):
            if display in frame.columns:
                for s, c, d in frame.select(system, code, display).unique().drop_nulls().rows():
                    if (s, c, normalize(d)) not in terminology.concepts:
                        unknown_displays.add((name, s, c, d))
        for column in set(frame.columns) & set(terminology.value_sets) & set(spec.keep):
            for value in frame[column].drop_nulls().unique():
                if normalize(value) not in terminology.value_sets[column]:
                    unknown_values.add((name, column, value))
    assert not unknown_displays
    assert not unknown_values
