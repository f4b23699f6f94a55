"""Known identifiers, the leak scanner behind the gate, and k-anonymity."""

from __future__ import annotations

from datetime import date

import polars as pl

from deid.known_identifiers import date_spellings, from_patient_row, name_tokens, phone_spellings
from deid.leak_scan import Leak, describe, scan
from deid.risk import k_anonymity

ROW = {
    "patient_key": "p1",
    "family_name": "O'Brien-Smith",
    "given_names": "Mary Jo",
    "mrn": "MRN12345",
    "ssn": "123-45-6789",
    "phone": "(555) 186-2275",
    "email": "Mary.OBrien@example.org",
    "address_line": "412 Marrowfield Arcade",
    "birth_date": date(1949, 11, 29),
    "contacts": [{"relationship": "daughter", "name": "Ann Lee", "phone": "555.222.3333"}],
}


def test_name_tokens_keep_words_of_three_or_more_letters() -> None:
    assert name_tokens("Mary Jo", "O'Brien-Smith", "Ann Lee") == {
        "mary",
        "o'brien-smith",
        "ann",
        "lee",
    }


def test_spellings() -> None:
    assert {"555-186-2275", "(555) 186-2275", "5551862275"} <= phone_spellings("+1 555 186 2275")
    assert {"1949-11-29", "11/29/1949", "november 29, 1949", "nov 29, 1949"} <= date_spellings(
        date(1949, 11, 29)
    )


def test_scan_counts_each_kind_per_table_and_column_and_never_names_the_value() -> None:
    known = {"p1": from_patient_row(ROW)}
    rows = [
        (
            "p1",
            "notes",
            "text",
            "Seen with her daughter Ann today. Call 555-186-2275. DOB 11/29/1949.",
        ),
        ("p1", "notes", "text", "MRN mrn12345; lives at 412 Marrowfield Arcade; ssn 123 45 6789"),
        (
            "p1",
            "notes",
            "text",
            "Mr. Mary-Jo? no: Maryland, Annapolis and Leeds are not names of hers",
        ),
        ("p1", "patients", "email", "mary.obrien@example.org"),
        (
            "p2",
            "notes",
            "text",
            "Mary Lee",
        ),  # another patient's row: not this patient's identifiers
        ("p1", "notes", "text", None),
    ]
    leaks = scan(known, rows)
    assert (
        leaks[Leak("notes", "text", "name")] == 3
    )  # Ann, Mary and Jo (two letters, from "Mary-Jo"); not Maryland/Annapolis/Leeds
    assert leaks[Leak("notes", "text", "phone")] == 1
    assert leaks[Leak("notes", "text", "birth_date")] == 1
    assert leaks[Leak("notes", "text", "mrn")] == 1
    assert leaks[Leak("notes", "text", "street")] == 1
    assert leaks[Leak("notes", "text", "ssn")] == 1
    assert leaks[Leak("patients", "email", "email")] == 1
    lines = describe(leaks)
    assert any(line.startswith("notes.text: 3 name value(s)") for line in lines)
    assert not any(
        secret in " ".join(lines).lower() for secret in ("mary", "555", "mrn12345", "daugherty")
    )


def test_clean_text_has_no_leak() -> None:
    known = {"p1": from_patient_row(ROW)}
    assert not scan(
        known, [("p1", "notes", "text", "[NAME] was admitted on 2024. Follow up with [PHONE].")]
    )


def test_k_anonymity() -> None:
    frame = pl.DataFrame(
        {
            "age_band": ["40-49"] * 6 + ["90+"],
            "sex": ["F"] * 6 + ["M"],
            "zip3": ["021"] * 7,
            "race": ["White"] * 7,
            "ethnicity": ["Not Hispanic"] * 7,
        }
    )
    result = k_anonymity(frame)
    assert (result.records, result.min_k, result.groups) == (7, 1, 2)
    assert abs(result.share_below_5 - 1 / 7) < 1e-9
    assert k_anonymity(frame.head(0)).records == 0


def test_a_name_that_is_a_month_counts_except_inside_a_date() -> None:
    from deid.known_identifiers import KnownIdentifiers
    from deid.leak_scan import PatientMatcher

    matcher = PatientMatcher(KnownIdentifiers("p1", {"name": frozenset({"jun", "may"})}))
    assert matcher.kinds_in("Admit: 04 Jun 2026; seen May 3, 2021 and on 12 may") == []
    assert matcher.kinds_in("Jun visited with her mother. May called.") == ["name", "name"]
    assert matcher.kinds_in("Daughter Jun (phone 555)") == ["name"]
