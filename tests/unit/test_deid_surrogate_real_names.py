"""Surrogate names never collide with real people: no surrogate written into a note is the given, family or
full name of any patient or listed relative of the snapshot, even when every name of the surrogate lists
(and of the gazetteer) is a real name; picks stay keyed and consistent within a patient."""

from __future__ import annotations

from datetime import date

import pytest

from deid.keys import DeidKey
from deid.known_identifiers import avoiding_real_names, from_patient_row, real_names
from deid.notes import NoteDeidentifier
from deid.notes import surrogates as S
from deid.notes.tokens import WORD, fold
from deid.policy import DeidPolicy

KEY = DeidKey(b"surrogate-real-names-key-012345", "test")


@pytest.fixture
def recorded(monkeypatch) -> list[tuple[str, str, str]]:
    """(patient, original, surrogate) of every person-name surrogate written."""
    calls: list[tuple[str, str, str]] = []
    original = S.Surrogates.name

    def name(self, text: str) -> str:
        out = original(self, text)
        calls.append((self.patient, text, out))
        return out

    monkeypatch.setattr(S.Surrogates, "name", name)
    return calls


def _collisions(calls, real: frozenset[str]) -> list[tuple[str, str]]:
    folded = {fold(n) for n in real}
    bad = []
    for _, text, out in calls:
        originals = {fold(w) for w in WORD.findall(text)}
        words = [fold(w) for w in WORD.findall(out)]
        # every word the surrogate introduced (kept particles and initials are the original's own)
        new = [w for w in words if w not in originals and len(w) > 1]
        if any(w in folded for w in new) or (new and fold(" ".join(out.split())) in folded):
            bad.append((text, out))
    return bad


def _patient(i: int, given: str, family: str, contact: str) -> dict:
    return {
        "patient_key": f"p{i}",
        "family_name": family,
        "given_names": given,
        "contacts": [{"relationship": "spouse", "name": contact, "phone": None}],
        "mrn": f"MRN{5_000_000 + i}",
        "birth_date": date(1960, 1, 1 + i % 28),
        "city": "Springfield",
        "postal_code": "01103",
    }


def test_no_surrogate_is_a_real_name_when_every_list_name_is_real(recorded) -> None:
    # the snapshot's people carry every first and last name the surrogate lists hold, so every list pick
    # collides: surrogates must come from elsewhere (gazetteer names, then made-up names)
    firsts, lasts = S.FIRST_NAMES, S.LAST_NAMES
    rows = [
        _patient(
            i, firsts[i % len(firsts)], lasts[i % len(lasts)], f"{lasts[-1 - i]} {firsts[-1 - i]}"
        )
        for i in range(max(len(firsts), len(lasts)))
    ]
    real = real_names(rows)
    assert {n.lower() for n in firsts + lasts} <= real
    nd = avoiding_real_names(NoteDeidentifier(KEY, DeidPolicy()), rows)
    assert nd.real_names  # the de-identifier was told the snapshot's names
    outs = []
    for row in rows[:12]:
        other = rows[-1 - int(row["patient_key"][1:])]
        note = (
            f"Patient: {row['given_names']} {row['family_name']}   MRN: {row['mrn']}\n"
            f"Mrs. {row['family_name']} was seen by Dr. {other['given_names']} {other['family_name']}; "
            f"{row['family_name'].upper()}, {row['given_names'].upper()} to follow up.\n"
            f"Spouse {row['contacts'][0]['name']} at bedside. Dr. Anh Le consulted; "
            f"Mrs. {row['family_name']}'s labs reviewed."
        )
        out = nd.deidentify(
            note, patient_key=row["patient_key"], known=from_patient_row(row), shift_days=7
        ).text
        outs.append(out)
        assert row["family_name"] not in out and other["family_name"] not in out
    assert recorded, "names were replaced through Surrogates.name"
    assert _collisions(recorded, real) == []
    # consistent within a patient: the same real word, the same surrogate, in every case style
    by_word: dict[tuple[str, str], set[str]] = {}
    for patient, text, out in recorded:
        if len(WORD.findall(text)) == 1:
            by_word.setdefault((patient, fold(text)), set()).add(fold(out))
    assert by_word and all(len(v) == 1 for v in by_word.values())
    # keyed and deterministic: the same inputs give the same text
    again = avoiding_real_names(NoteDeidentifier(KEY, DeidPolicy()), rows)
    row = rows[0]
    assert (
        again.deidentify(
            f"Patient: {row['given_names']} {row['family_name']}",
            patient_key="p0",
            known=from_patient_row(row),
            shift_days=7,
        ).text
        in outs[0]
    )


def test_made_up_names_when_the_gazetteer_names_are_real_too(recorded) -> None:
    pool_first, pool_last = S._gazetteer_names(True), S._gazetteer_names(False)
    everyone = [n.lower() for n in S.FIRST_NAMES + S.LAST_NAMES + pool_first + pool_last]
    row = _patient(1, "Cheryl", "Gibson", "George Gibson")
    nd = NoteDeidentifier(KEY, DeidPolicy(), real_names=everyone + ["cheryl", "gibson", "george"])
    out = nd.deidentify(
        "Patient: Cheryl Gibson. Her husband George Gibson called Dr. Agnes Roach.",
        patient_key="p1",
        known=from_patient_row(row),
        shift_days=3,
    ).text
    assert "Gibson" not in out and "Cheryl" not in out and "Roach" not in out
    assert _collisions(recorded, frozenset(everyone)) == []


def test_a_generated_cohort_writes_no_real_name_as_a_surrogate(tmp_path, recorded) -> None:
    """The silver build passes the bronze snapshot's names to the note path (deid.silver)."""
    import polars as pl

    from cohort.generator import generate_cohort
    from deid.silver import build_silver
    from deid.structured import SPECS
    from ingestion.ingest import ingest_directory
    from lakehouse.delta import DeltaRef, current_version

    generate_cohort(tmp_path / "landing", 40, 11)
    ingest_directory(tmp_path / "landing", tmp_path / "bronze")
    bronze = {}
    for n in SPECS:
        uri = str(tmp_path / "bronze" / n)
        bronze[n] = DeltaRef(table=n, uri=uri, version=current_version(uri))
    policy = DeidPolicy()
    build = build_silver(
        bronze,
        tmp_path / "silver",
        key=KEY,
        policy=policy,
        text_deidentifier=NoteDeidentifier(KEY, policy),
    )
    patients = pl.from_arrow(bronze["patients"].read())
    real = real_names(patients.iter_rows(named=True))
    assert build.texts > 0 and len(recorded) > 0
    assert _collisions(recorded, real) == []
    # and no real patient's full name shows in another patient's de-identified note
    notes = pl.from_arrow(build.refs["notes"].read())
    pid = {KEY.pseudonym(r["patient_key"], "patient"): r for r in patients.iter_rows(named=True)}
    full = {
        key: f"{r['given_names'].split()[0]} {r['family_name']}".lower()
        for key, r in ((r["patient_key"], r) for r in patients.iter_rows(named=True))
    }
    for note in notes.iter_rows(named=True):
        own = pid[note["patient_id"]]["patient_key"]
        text = " ".join(note["text"].split()).lower()
        assert not [k for k, name in full.items() if k != own and name in text], note["note_id"]
