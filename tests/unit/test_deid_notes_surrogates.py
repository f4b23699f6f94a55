"""Surrogates: consistent within a patient, different across patients, dates shifted in their own format
or cut to the year, tags, ages over 89; and no known identifier left in generated notes."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest

from deid.keys import DeidKey
from deid.known_identifiers import from_patient_row
from deid.leak_scan import PatientMatcher
from deid.notes import NoteDeidentifier
from deid.policy import DeidPolicy

KEY = DeidKey(b"unit-test-key-0123456789", "test")
ROW = {
    "patient_key": "p1",
    "family_name": "Gibson",
    "given_names": "Cheryl",
    "mrn": "MRN01007922",
    "ssn": "123-45-6789",
    "phone": "(202) 826-7092",
    "email": "cheryl.gibson@example.org",
    "address_line": "412 Marrowfield Arcade",
    "city": "Reno",
    "postal_code": "89501",
    "birth_date": date(1961, 7, 11),
    "contacts": [{"relationship": "husband", "name": "George Gibson", "phone": None}],
}
NOTE = (
    "Patient: Cheryl Gibson   DOB: 11 Jul 1961   MRN: MRN01007922\n"
    "Admitted 03/05/2024, discharged 03/09/2024. Mrs. Gibson's husband George visited on March 7, 2024.\n"
    "GIBSON, CHERYL; call 202-826-7092. She is a 93-year-old woman. BP 101/73, HbA1c 5.3 %."
)


def run(policy: DeidPolicy = DeidPolicy(), patient: str = "p1", shift: int = 10, text: str = NOTE):
    known = from_patient_row({**ROW, "patient_key": patient})
    return NoteDeidentifier(KEY, policy).deidentify(
        text, patient_key=patient, known=known, shift_days=shift
    )


def test_surrogates_are_consistent_within_a_patient_and_never_the_original() -> None:
    out = run().text
    assert not PatientMatcher(from_patient_row(ROW)).kinds_in(out)
    first_line = out.splitlines()[0]
    surrogate_family = first_line.split()[2]
    assert surrogate_family != "Gibson"
    assert f"Mrs. {surrogate_family}'s" in out  # possessive keeps the same surrogate
    assert surrogate_family.upper() in out  # "GIBSON, CHERYL" -> same surrogate, upper case
    assert "BP 101/73" in out and "HbA1c 5.3 %" in out
    assert run().text == out  # deterministic


def test_surrogates_differ_across_patients() -> None:
    outs = {run(patient=f"p{i}").text.splitlines()[0] for i in range(6)}
    assert len(outs) > 1


def test_date_shift_keeps_format_and_intervals() -> None:
    out = run(shift=10).text
    assert "03/15/2024" in out and "03/19/2024" in out  # 4 days apart, same format
    assert "March 17, 2024" in out and "21 Jul 1961" in out


def test_safe_harbor_keeps_only_the_year() -> None:
    out = run(DeidPolicy(date_mode="safe_harbor")).text
    assert "Admitted 2024, discharged 2024" in out and "DOB: 1961" in out and "March" not in out


def test_tag_mode_and_age_ceiling() -> None:
    out = run(DeidPolicy(note_replacement="tag")).text
    assert "[NAME]" in out and "[MRN]" in out and "[PHONE]" in out
    assert "Cheryl" not in out and "202-826-7092" not in out
    assert "90+-year-old" in out
    assert "03/15/2024" in out  # dates still follow date_mode


def test_replacement_counts_and_no_known_identifiers() -> None:
    result = run()
    assert result.replacements["NAME"] >= 5 and result.replacements["DATE"] >= 4
    assert result.replacements["PHONE"] == 1 and result.replacements["AGE"] == 1


def test_without_patient_or_known_identifiers() -> None:
    result = NoteDeidentifier(KEY, DeidPolicy()).deidentify(
        "Dr. Agnes Roach saw Zsófia Kertészné on 2/3/2020.",
        patient_key=None,
        known=None,
        shift_days=3,
    )
    assert (
        "Roach" not in result.text and "Kertészné" not in result.text and "2/6/2020" in result.text
    )


@pytest.mark.slow
def test_generated_notes_leave_no_known_identifier(tmp_path) -> None:
    from cohort.generator import generate_cohort
    from ingestion.bronze_tables import flatten_document_reference, flatten_patient

    generate_cohort(tmp_path, 25, 7)
    patients = {}
    for line in (tmp_path / "Patient.ndjson").read_text().splitlines():
        row = flatten_patient(json.loads(line), {})
        patients[row["patient_key"]] = row
    nd = NoteDeidentifier(KEY, DeidPolicy())
    notes = [
        flatten_document_reference(json.loads(line), {})
        for line in (tmp_path / "DocumentReference.ndjson").read_text().splitlines()
    ]
    assert notes
    clinical = 0
    for note in notes:
        known = from_patient_row(patients[note["patient_key"]])
        out = nd.deidentify(
            note["text"],
            patient_key=note["patient_key"],
            known=known,
            shift_days=KEY.shift_days(note["patient_key"]),
        ).text
        assert PatientMatcher(known).kinds_in(out) == [], note["note_id"]
        # clinical content survives: vitals, lab values, follow-up intervals
        for pattern in (r"BP \d+/\d+", r"HbA1c [\d.]+ %", r"RTC 3-4 months", r"\d+ MG Oral Tablet"):
            for m in re.finditer(pattern, note["text"]):
                assert m.group(0) in out
                clinical += 1
    assert clinical > 0
