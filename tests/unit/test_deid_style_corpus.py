"""The style corpus (deid.style_corpus) and the note-style cues of the detector (deid.notes.styles)."""

from __future__ import annotations

import pytest

from deid import style_corpus
from deid.known_identifiers import from_patient_row
from deid.notes import detect_phi, styles
from deid.notes.spans import LABELS

FIRST = ("Avery", "Jordan", "Priya", "Tomas", "Ingrid", "Kwame")
LAST = ("Okafor", "Lindqvist", "Marchetti", "Haverford", "Quintero", "Abernathy")
TOWNS = ("Riverton", "Millbrook", "Ashford Falls")


def _gen(n: int = 30, seed: int = 3):
    return style_corpus.generate(n, seed, first_names=FIRST, last_names=LAST, towns=TOWNS)


def test_deterministic_per_seed():
    a, b = _gen(), _gen()
    assert [(n.document.text, n.document.gold) for n in a] == [
        (n.document.text, n.document.gold) for n in b
    ]
    other = _gen(seed=4)
    assert [n.document.text for n in other] != [n.document.text for n in a]


def test_gold_spans_slice_to_the_inserted_values():
    notes = _gen(60)
    assert {n.style for n in notes} == set(style_corpus.STYLES)
    labels = set()
    for note in notes:
        doc = note.document
        assert doc.gold, doc.doc_id
        previous_end = 0
        for span in doc.gold:
            assert doc.text[span.start : span.end] == span.text
            assert span.text.strip() == span.text and span.text
            assert span.label in LABELS
            assert span.start >= previous_end  # sorted, not overlapping
            previous_end = span.end
            labels.add(span.label)
        if note.style == "icu":
            assert doc.text == doc.text.upper()
    assert {"NAME", "DATE", "PHONE", "MRN", "HOSPITAL", "AGE"} <= labels


def test_patient_row_gives_known_identifiers_found_in_the_note():
    for note in _gen(12):
        known = from_patient_row(note.patient_row)
        assert note.patient_row["mrn"].lower() in known.values["mrn"]
        mrn_spans = [s for s in note.document.gold if s.label == "MRN"]
        assert all(s.text == note.patient_row["mrn"] for s in mrn_spans)


def test_split_is_deterministic_and_partitions():
    notes = _gen(80)
    dev, held = style_corpus.split(notes)
    assert len(dev) + len(held) == len(notes) and dev and held
    assert not {n.document.doc_id for n in dev} & {n.document.doc_id for n in held}
    again_dev, _ = style_corpus.split(_gen(80))
    assert [n.document.doc_id for n in again_dev] == [n.document.doc_id for n in dev]


def test_bad_vocabularies_are_named():
    with pytest.raises(ValueError, match="last_names"):
        style_corpus.generate(3, 1, first_names=FIRST, last_names=(), towns=TOWNS)
    with pytest.raises(ValueError, match="towns"):
        style_corpus.generate(3, 1, first_names=FIRST, last_names=LAST, towns=("Riverton", " "))


def _labels_at(text: str, value: str) -> set[str]:
    start = text.index(value)
    end = start + len(value)
    return {s.label for s in detect_phi(text) if s.start < end and start < s.end}


def test_note_style_cues():
    note = (
        "NPN 0700-1900\nRESP: PSV 10/5, FIO2 40%. TMAX 101 @ 1945.\n"
        "CALLED MICU RESIDENT RE: BP; PAGER 4-8812.\n"
        "PLAN: CALL OUT TO HAVERFORD 6 WEST WHEN STABLE. WIFE CAN BE REACHED AT HOME.\nQK RN\n"
    )
    assert _labels_at(note, "QK") == {"NAME"}
    assert _labels_at(note, "4-8812") == {"PHONE"}
    assert _labels_at(note, "HAVERFORD 6 WEST") == {"HOSPITAL"}
    for not_phi in ("0700-1900", "10/5", "1945", "MICU", "CAN"):
        assert _labels_at(note, not_phi) == set(), not_phi
    # a room, bed or floor number after a transfer cue is not a ward name
    assert list(styles.detect("Transferred to Floor 7, then moved to Bed 4.\n")) == []
    summary = "Reading radiologist: T. Abernathy, MD\n\nqk/lm 3/14/2021\n"
    assert _labels_at(summary, "T. Abernathy") == {"NAME"}
    assert _labels_at(summary, "qk") == {"NAME"} and _labels_at(summary, "lm") == {"NAME"}
