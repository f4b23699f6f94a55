"""Clinical-style notes written for these tests (no corpus text): the vocabulary guard keeps ward jargon,
abbreviations and capitals out of the PHI spans, and planted identifiers are still found."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from deid.corpora import (
    IU_REPORTS_MEMBER,
    Document,
    fill_redactions,
    outside_redactions,
    read_iu_xray,
    split_docs,
    split_of,
)
from deid.notes import detect_phi
from deid.notes.spans import KEPT_LABELS

ICU_CAPS = (
    "NEURO: ALERT, ORIENTED X3, MAE, FOLLOWS COMMANDS. PERRL 3MM BRISK.\n"
    "CV: HR 88-96 SR, NO ECTOPY. BP 110-130/60S. K 3.8, MG 1.9 REPLETED. CVP 8-10.\n"
    "RESP: VENT AC 500 X 14, PEEP 5, FIO2 40%. SATS 97-99%. LS COARSE, SX SM AMT TAN SPUTUM.\n"
    "GI: ABD SOFT, +BS, TF AT GOAL 60CC/HR VIA OGT. BONY PROMINENCES PADDED.\n"
    "GU: FOLEY DRAINING CLEAR YELLOW URINE 50-100CC/HR. ID: TMAX 100.2, ON VANCO/ZOSYN.\n"
    "ACCESS: R IJ TLC, L RADIAL A-LINE, PICC. MIDLINE INCISION C/D/I. TRANSFERRED FROM MICU.\n"
    "PLAN: CONT TO MONITOR, WEAN VENT AS TOL, LASIX 40 IV, LEVO TITRATED TO MAP > 65.\n"
)
ICU_MIXED = (
    "Pt lethargic overnight, EtOH level pending. Propofol gtt at 30 mcg/kg/min, Fentanyl 50 mcg/hr.\n"
    "O2 sats 95% on 4L NC. Swan placed, CVP 12, PA 40/18. Bony prominences padded, turned q2h.\n"
    "Midline incision clean. Walks with PT, dry mucosa, IVF at 100/hr. Pain 4/10, strength 5/5.\n"
    "Heels offloaded, skin intact over the sacrum. Chin strap on. Onset of agitation at night.\n"
    "Plan: RTC 3-4 months, f/u in CCU, Lopressor 25 mg bid, 1/2 tab qhs.\n"
)
ICU_LOWER = ICU_CAPS.lower()


@pytest.mark.parametrize("text", [ICU_CAPS, ICU_MIXED, ICU_LOWER], ids=["caps", "mixed", "lower"])
def test_clinical_jargon_is_not_phi(text: str) -> None:
    flagged = [(s.label, s.text) for s in detect_phi(text) if s.label not in KEPT_LABELS]
    assert len(flagged) <= 1, flagged


PLANTED = [
    ("SEEN BY DR. X ON 7/22, PLAN REVIEWED. ", "X", "NAME"),
    ("Pt seen by Dr. Hartley on 07-22 at 14:30. ", "Hartley", "NAME"),
    ("Follow-up on 7/22/ with cardiology. ", "7/22/", "DATE"),
    (
        "Transferred from Riverside General Hospital on 7/19. ",
        "Riverside General Hospital",
        "HOSPITAL",
    ),
    ("TRANSFERRED FROM MERCY GENERAL HOSPITAL 7/19. ", "MERCY GENERAL HOSPITAL", "HOSPITAL"),
    ("Wife called, phone 617-555-0143 x221, asked for update. ", "617-555-0143 x221", "PHONE"),
    ("Page covering MD at pager 41234 with results. ", "41234", "PHONE"),
    ("Call the unit at ext. 5521 overnight. ", "ext. 5521", "PHONE"),
    ("Pt is a 92 yo man admitted on March 3. ", "92", "AGE"),
    ("Pt is a 92 yo man admitted on March 3. ", "March 3", "DATE"),
]


@pytest.mark.parametrize(("text", "value", "label"), PLANTED)
def test_planted_phi_is_found(text: str, value: str, label: str) -> None:
    note = "NEURO: A+OX3, MAE. RESP: PEEP 5, FIO2 40%. " + text + "BP 120/80, pain 5/10."
    start = note.index(text) + text.index(value)
    hits = [s for s in detect_phi(note) if s.start < start + len(value) and start < s.end]
    assert hits and hits[0].label == label, (value, [(s.label, s.text) for s in detect_phi(note)])
    # the clinical values beside it stay
    assert not any(s.text in ("120/80", "5/10", "PEEP", "5") for s in detect_phi(note))


def _fake_wheel(tmp_path: Path) -> Path:
    reports = {
        "1": (
            "Short of breath",
            "Old films dated XXXX.",
            "Lungs look clear.",
            "Nothing new XXXX.",
        ),
        "2": (
            "XXXX-year-old with cough",
            "None.",
            "Ribs look fine.",
            "Talked it over with Dr. XXXX.",
        ),
    }
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for rid, (ind, comp, find, imp) in reports.items():
            xml = (
                f'<eCitation><uId id="CXR{rid}"/><MedlineCitation><Article><Abstract>'
                f'<AbstractText Label="COMPARISON">{comp}</AbstractText>'
                f'<AbstractText Label="INDICATION">{ind}</AbstractText>'
                f'<AbstractText Label="FINDINGS">{find}</AbstractText>'
                f'<AbstractText Label="IMPRESSION">{imp}</AbstractText>'
                "</Abstract></Article></MedlineCitation></eCitation>"
            ).encode()
            info = tarfile.TarInfo(f"ecgen-radiology/{rid}.xml")
            info.size = len(xml)
            tar.addfile(info, io.BytesIO(xml))
    wheel = tmp_path / "fake-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr(IU_REPORTS_MEMBER, buf.getvalue())
    return wheel


def test_iu_reader_split_and_fill(tmp_path: Path) -> None:
    docs = read_iu_xray(_fake_wheel(tmp_path))
    assert [d.doc_id for d in docs] == ["CXR1", "CXR2"]
    assert docs[0].text.startswith("INDICATION: Short of breath\nCOMPARISON: Old films dated XXXX.")
    dev, held = split_docs(docs)
    assert len(dev) + len(held) == 2 and split_of("CXR1") == split_of("CXR1")
    filled = [fill_redactions(d, seed=3) for d in docs]
    assert [s.label for s in filled[0].gold] == ["DATE"]
    assert [s.label for s in filled[1].gold] == ["AGE", "NAME"]
    for doc in filled:
        assert all(doc.text[s.start : s.end] == s.text for s in doc.gold)
    assert fill_redactions(docs[0], seed=3) == filled[0]  # seeded: the same surrogates every time
    assert fill_redactions(Document("x", "No redaction here.")) is None
    # the precision view: nothing flagged outside XXXX in the redacted reports
    assert all(not outside_redactions(d.text, detect_phi(d.text)) for d in docs)
