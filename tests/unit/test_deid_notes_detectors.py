"""Each detector layer of the note PHI detector, and the clinical content it must leave alone."""

from __future__ import annotations

from datetime import date

from deid.corpora import Span
from deid.known_identifiers import from_patient_row
from deid.notes import context, detect_phi, known, patterns
from deid.notes.spans import merge

ROW = {
    "patient_key": "p1",
    "family_name": "Gibson",
    "given_names": "Cheryl Ann",
    "mrn": "MRN01007922",
    "ssn": "123-45-6789",
    "phone": "(202) 826-7092",
    "email": "cheryl.gibson@example.org",
    "address_line": "412 Marrowfield Arcade",
    "city": "Reno",
    "postal_code": "89501",
    "birth_date": date(1961, 7, 11),
    "contacts": [{"relationship": "husband", "name": "George Gibson", "phone": "555.222.3333"}],
}


def labels(spans, text):
    return {text[s.start : s.end]: s.label for s in spans}


def test_patterns_find_identifiers_and_dates() -> None:
    text = (
        "Seen 03/05/2024 and on March 5, 2024 (DOB 11 Jul 1961, 1961-07-11 08:30). Call 202-826-7092 or "
        "+44 (0)20 7946 0958. SSN 512-34-7781, MRN: A1234567, card 4111111111111111, IBAN "
        "GB82WEST12345698765432, mail a.b@example.org, www.example.com, 192.168.10.12. She is 93 years old."
    )
    found = labels(detect_phi(text), text)
    assert (
        found["03/05/2024"] == "DATE"
        and found["March 5, 2024"] == "DATE"
        and found["11 Jul 1961"] == "DATE"
    )
    assert found["202-826-7092"] == "PHONE" and found["+44 (0)20 7946 0958"] == "PHONE"
    assert found["512-34-7781"] == "SSN"
    assert found["A1234567"] in ("MRN", "ID")
    assert found["4111111111111111"] == "ACCOUNT" and found["GB82WEST12345698765432"] == "ACCOUNT"
    assert found["a.b@example.org"] == "EMAIL" and found["www.example.com"] == "URL"
    assert found["192.168.10.12"] == "IP" and found["93"] == "AGE"


def test_ages_under_the_ceiling_are_not_phi() -> None:
    assert not list(patterns.ages("A 79-year-old man, 45 y/o, age 60."))
    assert [s.text for s in patterns.ages("a 102-year-old woman; age: 95")] == ["102", "95"]


def test_streets_and_units() -> None:
    text = "Lives at 412 Marrowfield Arcade, Apt. 12. Office: 88 Vellinkatu 14 Suite 300; Via Cardello 27."
    found = [s.text for s in patterns.streets(text)]
    assert any("412 Marrowfield Arcade" in f for f in found)
    assert any("Vellinkatu 14" in f for f in found) and any("Via Cardello 27" in f for f in found)
    assert "Apt. 12" in found


def test_clinical_values_are_not_phi() -> None:
    text = (
        "BP 101/73, HR 80, BMI 31.2. HbA1c 5.3 %. RTC 3-4 months. Labs today: glucose 82 mg/dL, "
        "creatinine 0.90 mg/dL, eGFR 104 mL/min, WBC 6.9 K/uL.\n2. Chronic kidney disease\n"
        "- lisinopril 10 MG Oral Tablet, 10 mg by mouth once daily\nHome health services were declined."
    )
    assert detect_phi(text) == []


def test_gazetteer_names_and_context_cues() -> None:
    text = (
        "Zsófia Kertészné visited the ward. My name is Aurelija. Provider: Dr. Agnes Roach. "
        "Accompanied by her husband George. Will is a common word here."
    )
    names = [s.text for s in context.names(text)]
    assert "Zsófia Kertészné" in names and "Aurelija" in names and "George" in names
    assert any("Agnes Roach" in n for n in names)
    assert not any(n.startswith("Will") for n in names)


def test_places_and_facilities() -> None:
    text = "She moved to Egilsstaðir from Mongolia; seen at Reno Primary Care and Boston Regional Medical Center."
    _, places = context.detect(text)
    found = labels(merge(places, text), text)
    assert found["Egilsstaðir"] in ("CITY", "LOCATION") and found["Mongolia"] == "COUNTRY"
    assert (
        found["Reno Primary Care"] == "HOSPITAL"
        and found["Boston Regional Medical Center"] == "HOSPITAL"
    )


def test_address_block_lines() -> None:
    text = "Address:\n4410 Vellinkatu 9 Apt. 21\nMarrenhoek\n, CO\n Paraguay 51203"
    spans = detect_phi(text)
    covered = "".join(text[s.start : s.end] for s in spans)
    for part in ("Vellinkatu", "Marrenhoek", "Paraguay", "51203"):
        assert part in covered


def test_known_identifiers_exact_and_fuzzy() -> None:
    kn = from_patient_row(ROW)
    text = (
        "GIBSON, CHERYL seen; Gibson's husband George; pt (CG) and C.G.; call 202 826 7092; mrn mrn01007922; "
        "SSN 123456789; Kertészné"
    )
    found = [text[s.start : s.end] for s in known.detect(text, kn)]
    for value in (
        "GIBSON",
        "CHERYL",
        "Gibson",
        "George",
        "CG",
        "C.G.",
        "202 826 7092",
        "mrn01007922",
        "123456789",
    ):
        assert value in found, value
    assert known.detect(text, None) == []


def test_detect_phi_is_sorted_non_overlapping_and_exclusive() -> None:
    text = "Patient: Cheryl Gibson   DOB: 11 Jul 1961   MRN: MRN01007922\nProvider: Dr. Agnes Roach"
    spans = detect_phi(text, from_patient_row(ROW))
    assert spans == sorted(spans, key=lambda s: s.start)
    assert all(a.end <= b.start for a, b in zip(spans, spans[1:]))
    assert all(text[s.start : s.end] == s.text for s in spans)
    assert detect_phi("") == [] and detect_phi("no identifiers here.") == []


def test_merge_keeps_the_specific_label_and_the_container() -> None:
    text = "call 202-826-7092 at Reno Primary Care"
    merged = merge(
        [Span(5, 17, "PHONE"), Span(5, 8, "ID"), Span(21, 25, "NAME"), Span(21, 38, "HOSPITAL")],
        text,
    )
    assert [(s.label, s.text) for s in merged] == [
        ("PHONE", "202-826-7092"),
        ("HOSPITAL", "Reno Primary Care"),
    ]
