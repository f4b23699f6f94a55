"""A seeded corpus of synthetic notes written in the styles of real clinical text, with gold PHI spans.

Three styles, from templates and vocabulary written for this module:

* ``icu``: ICU / nursing progress notes in capitals, telegraphic, semicolons, abbreviations (vital
  signs, ventilator settings, lines, drips, care units), signed with the nurse's initials;
* ``radiology``: reports with an exam line, CLINICAL HISTORY, COMPARISON dates, FINDINGS, IMPRESSION;
* ``discharge``: discharge summaries with section headings, mixed case.

Every identifier the generator inserts is a gold span (category from deid.notes.spans, character
offsets end exclusive): patient, relative and clinician names (full, "DR. X", "LAST, First",
initials), dates (with and without a year), ages over 89, phone numbers (with extensions), MRNs,
hospital and ward names, towns. Times of day, ages of 89 or less, care-unit abbreviations (MICU, CCU)
and eponyms (Foley, Swan-Ganz) are written too but are not PHI: they test precision.

Names and towns are passed in (``first_names``, ``last_names``, ``towns``), so this module holds no
name lists of its own; the benchmark passes the cohort generator's vocabularies. Each note also gives
the patient's own identifiers (name, MRN, phone) as a bronze-shaped row, for "with known identifiers"
runs (:func:`deid.known_identifiers.from_patient_row`).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from deid.corpora import Document, Span, split_docs
from deid.notes.spans import AGE, CITY, DATE, HOSPITAL, MRN, NAME, PHONE

Style = Literal["icu", "radiology", "discharge"]
STYLES: tuple[Style, ...] = ("icu", "radiology", "discharge")
_MONTHS = (
    "January February March April May June July August September October November December".split()
)


@dataclass(frozen=True)
class StyleNote:
    document: Document  # text and gold spans
    style: Style
    patient_row: dict[str, Any]  # patient_key, family_name, given_names, mrn, phone (bronze shape)


class _Writer:
    """Builds a note piece by piece, recording the offsets of every inserted identifier."""

    def __init__(self, upper: bool):
        self.upper = upper
        self.parts: list[str] = []
        self.gold: list[Span] = []
        self.length = 0

    def text(self, value: str) -> None:
        value = value.upper() if self.upper else value
        self.parts.append(value)
        self.length += len(value)

    def phi(self, value: str, label: str) -> None:
        value = value.upper() if self.upper else value
        self.gold.append(Span(self.length, self.length + len(value), label, value))
        self.parts.append(value)
        self.length += len(value)

    def line(self, *pieces: tuple[str, str | None] | str) -> None:
        """A line of plain strings and (value, label) identifier pieces."""
        for piece in pieces:
            if isinstance(piece, str):
                self.text(piece)
            else:
                value, label = piece
                if label is None:
                    self.text(value)
                else:
                    self.phi(value, label)
        self.text("\n")

    def document(self, doc_id: str) -> Document:
        return Document(doc_id, "".join(self.parts), list(self.gold))


class _Draw:
    """Seeded draws of identifier values in the spellings notes use."""

    def __init__(
        self,
        rng: random.Random,
        first: Sequence[str],
        last: Sequence[str],
        towns: Sequence[str],
    ):
        self.rng, self.first, self.last, self.towns = rng, first, last, towns

    def pick(self, options: Sequence[str]) -> str:
        return self.rng.choice(options)

    def surname(self) -> str:
        return self.rng.choice(self.last)

    def given(self) -> str:
        return self.rng.choice(self.first)

    def date(self, with_year: bool | None = None) -> str:
        r = self.rng
        m, d, y = r.randint(1, 12), r.randint(1, 28), r.randint(2008, 2024)
        if with_year is None:
            with_year = r.random() < 0.5
        if not with_year:
            return r.choice(
                (
                    f"{m}/{d}",
                    f"{m:02d}/{d:02d}",
                    f"{_MONTHS[m - 1]} {d}",
                    f"{_MONTHS[m - 1][:3]} {d}",
                    f"{d}-{_MONTHS[m - 1][:3]}",
                )
            )
        return r.choice(
            (
                f"{m}/{d}/{y}",
                f"{m:02d}/{d:02d}/{y % 100:02d}",
                f"{y}-{m:02d}-{d:02d}",
                f"{_MONTHS[m - 1]} {d}, {y}",
                f"{d} {_MONTHS[m - 1][:3]} {y}",
            )
        )

    def time(self) -> str:
        r = self.rng
        h, mnt = r.randint(0, 23), r.choice((0, 15, 30, 45, 10, 20))
        return r.choice(
            (
                f"{h:02d}{mnt:02d}",
                f"{h:02d}:{mnt:02d}",
                f"{(h % 12) or 12}:{mnt:02d} " + ("AM" if h < 12 else "PM"),
            )
        )

    def phone(self, extension: bool | None = None) -> str:
        r = self.rng
        area, line = r.choice((617, 508, 781, 978, 413, 860, 401)), r.randint(100, 9999)
        base = r.choice(
            (f"{area}-555-{line:04d}", f"({area}) 555-{line:04d}", f"{area}.555.{line:04d}")
        )
        if extension is None:
            extension = r.random() < 0.5
        if extension:
            base += r.choice(
                (
                    f" x{r.randint(100, 9999)}",
                    f" ext. {r.randint(100, 9999)}",
                    f" X{r.randint(10, 999)}",
                )
            )
        return base

    def pager(self) -> str:
        return f"{self.rng.randint(1, 9)}-{self.rng.randint(1000, 9999)}"

    def mrn(self) -> str:
        return str(self.rng.randint(1_000_000, 99_999_999)).zfill(8)

    def hospital(self) -> str:
        r = self.rng
        return r.choice(
            (
                f"{r.choice(self.towns)} General Hospital",
                f"{r.choice(self.towns)} Medical Center",
                f"St. {r.choice(self.first)}'s Hospital",
                f"{self.surname()} Memorial Hospital",
                f"{r.choice(self.towns)} Community Hospital",
            )
        )

    def ward(self) -> str:
        r = self.rng
        return r.choice(
            (
                f"{self.surname()} {r.randint(2, 12)}",
                f"{self.surname()} {r.randint(2, 9)} {r.choice(('North', 'South', 'West'))}",
                f"{self.surname()} Pavilion",
            )
        )

    def old_age(self) -> str:
        return str(self.rng.randint(90, 104))

    def young_age(self) -> str:
        return str(self.rng.randint(19, 89))


_ICU_NEURO = (
    "A+OX3, MAE, FOLLOWS COMMANDS",
    "SEDATED ON PROPOFOL 30 MCG/KG/MIN, RASS -2",
    "ARROUSABLE TO VOICE, PERRL 3MM BRISK",
    "NONVERBAL, WITHDRAWS X4, GCS 9T",
)
_ICU_CV = (
    "HR 80S-90S SR, NO ECTOPY; SBP 100-120S",
    "AFIB 110S, DILT GTT @ 10MG/HR; BP 130/70S",
    "ON LEVO 0.06 MCG/KG/MIN, MAP >65; K 3.6 REPLETED",
    "HR 70S NSR; SWAN-GANZ CI 2.4, PAD 18",
)
_ICU_RESP = (
    "VENT CMV 450 X 16, PEEP 8, FIO2 50%; SATS 95-98%",
    "ON 4L NC, RR 20S, LS CLEAR UPPER, DIM BASES",
    "PSV 10/5, FIO2 40%, RSBI 62; SX Q2H THICK TAN",
    "EXTUBATED TO 50% FACE TENT, ABG 7.41/38/92",
)
_ICU_GI = (
    "ABD SOFT, +BS; TF AT GOAL 60CC/HR VIA OGT",
    "NPO; FOLEY DRAINING CLEAR YELLOW 40-60CC/HR",
    "LOOSE STOOL X2, GUAIAC NEG; FS 140-180 ON SSRI",
    "TPN VIA PICC; LFTS TRENDING DOWN",
)
_ICU_LINES = (
    "R IJ TLC",
    "L RADIAL A-LINE",
    "PIV X2",
    "L SC CORDIS",
    "R FEM HD CATH",
    "PICC R BASILIC",
)
_ICU_UNITS = ("MICU", "SICU", "CCU", "CVICU", "TSICU", "NEURO ICU")
_RELATIVES = ("WIFE", "HUSBAND", "DAUGHTER", "SON", "SISTER", "NIECE", "HCP")

_EXAMS = (
    "CHEST (PORTABLE AP)",
    "CT HEAD W/O CONTRAST",
    "CHEST PA AND LAT",
    "CT ABD/PELVIS W/ CONTRAST",
    "MR BRAIN W/WO CONTRAST",
    "US RUQ",
)
_HISTORIES = (
    "with dyspnea and fever, evaluate for pneumonia",
    "status post fall, evaluate for bleed",
    "with new line placement, confirm position",
    "with abdominal pain and elevated LFTs",
)
_FINDINGS = (
    "The endotracheal tube terminates 4 cm above the carina. A right internal jugular line ends in the "
    "SVC. Patchy left basilar opacity is new. No pneumothorax.",
    "No acute intracranial hemorrhage, mass effect or shift. Chronic small vessel ischemic change. "
    "Ventricles are stable in size.",
    "Heart size is top normal. Mild pulmonary vascular congestion. Small bilateral effusions, unchanged.",
    "The gallbladder is distended with sludge; wall measures 5 mm. Negative sonographic Murphy's sign. "
    "No ductal dilatation.",
)
_IMPRESSIONS = (
    "Left lower lobe opacity, atelectasis versus pneumonia.",
    "No acute intracranial process.",
    "Mild congestion with small effusions.",
    "Gallbladder sludge without cholecystitis.",
)
_DIAGNOSES = (
    "community-acquired pneumonia",
    "NSTEMI",
    "CHF exacerbation",
    "urosepsis",
    "COPD flare",
    "GI bleed",
    "hip fracture after a mechanical fall",
)
_MEDS = (
    "Metoprolol succinate 25 mg PO daily",
    "Aspirin 81 mg PO daily",
    "Furosemide 20 mg PO BID",
    "Atorvastatin 40 mg PO QHS",
    "Levofloxacin 750 mg PO q48h x 3 doses",
    "Pantoprazole 40 mg PO daily",
)


def _age_phrase(d: _Draw) -> tuple[str, str | None]:
    """An age: over 89 (an identifier) or 89 and under (not one)."""
    return (d.old_age(), AGE) if d.rng.random() < 0.4 else (d.young_age(), None)


def _icu(d: _Draw, pt: dict) -> _Writer:
    w, r = _Writer(upper=True), d.rng
    nurse = (d.given(), d.surname())
    doc = d.surname()
    w.line(
        d.pick(("NPN", "NURSING PROGRESS NOTE", "MICU NSG NOTE")),
        " ",
        (d.time(), None),
        "-",
        (d.time(), None),
    )
    age, age_label = _age_phrase(d)
    w.line(
        "PT IS A ",
        (age, age_label),
        " YO ",
        d.pick(("M", "F")),
        " ADMITTED FROM ",
        (d.hospital(), HOSPITAL),
        " ON ",
        (d.date(False), DATE),
        " W/ ",
        d.pick(_DIAGNOSES).upper(),
        ".",
    )
    w.line("NEURO: ", d.pick(_ICU_NEURO), ".")
    w.line("CV: ", d.pick(_ICU_CV), ".")
    w.line("RESP: ", d.pick(_ICU_RESP), ".")
    w.line("GI/GU: ", d.pick(_ICU_GI), ".")
    w.line(
        "LINES: ", d.pick(_ICU_LINES), " (", (d.date(False), DATE), "); ", d.pick(_ICU_LINES), "."
    )
    if r.random() < 0.6:
        w.line(
            "ID: TMAX 101.2 @ ",
            (d.time(), None),
            "; CX SENT ",
            (d.date(False), DATE),
            "; ON VANCO/ZOSYN.",
        )
    rel = d.pick(_RELATIVES)
    w.line(
        "SOCIAL: ",
        rel,
        " ",
        (d.given(), NAME),
        " IN TO VISIT; UPDATED BY DR. ",
        (doc, NAME),
        ". ",
        rel,
        " CAN BE REACHED @ ",
        (d.phone(), PHONE),
        ".",
    )
    if r.random() < 0.5:
        w.line("PT ", (pt["family_name"], NAME), " AWARE OF PLAN; MRN ", (pt["mrn"], MRN), ".")
    if r.random() < 0.5:
        w.line(
            "CALLED ",
            (d.pick(_ICU_UNITS), None),
            " RESIDENT DR. ",
            (d.surname(), NAME),
            " RE: BP; PAGER ",
            (d.pager(), PHONE),
            ".",
        )
    w.line(
        "PLAN: WEAN AS TOL; ",
        d.pick(("TRANSFER TO ", "CALL OUT TO ")),
        (d.ward(), HOSPITAL),
        " WHEN STABLE; F/U ",
        (d.date(False), DATE),
        ".",
    )
    w.line((nurse[0][0] + nurse[1][0], NAME), " RN")
    return w


def _radiology(d: _Draw, pt: dict) -> _Writer:
    w, r = _Writer(upper=False), d.rng
    w.line(d.pick(_EXAMS), "  ", (d.date(True), DATE), " ", (d.time(), None))
    if r.random() < 0.5:
        w.line(
            "MRN: ",
            (pt["mrn"], MRN),
            "   PATIENT: ",
            (f"{pt['family_name'].upper()}, {pt['given_names'].upper()}", NAME),
        )
    age, age_label = _age_phrase(d)
    w.line(
        "CLINICAL HISTORY: ",
        (age, age_label),
        "-year-old ",
        d.pick(("man", "woman")),
        " ",
        d.pick(_HISTORIES),
        ".",
    )
    if r.random() < 0.8:
        w.line("COMPARISON: ", (d.date(), DATE), d.pick((" and ", ", ")), (d.date(), DATE), ".")
    else:
        w.line("COMPARISON: None.")
    w.line("FINDINGS: ", d.pick(_FINDINGS))
    w.text("IMPRESSION: " + d.pick(_IMPRESSIONS))
    if r.random() < 0.6:
        w.line(
            " Findings discussed with Dr. ",
            (f"{d.given()} {d.surname()}", NAME),
            " by telephone at ",
            (d.time(), None),
            " on ",
            (d.date(False), DATE),
            ".",
        )
    else:
        w.line("")
    w.line("Reading radiologist: ", (f"{d.given()[0]}. {d.surname()}", NAME), ", MD")
    return w


def _discharge(d: _Draw, pt: dict) -> _Writer:
    w, r = _Writer(upper=False), d.rng
    attending = f"{d.given()} {d.surname()}"
    w.line("Admission Date: ", (d.date(True), DATE), "     Discharge Date: ", (d.date(True), DATE))
    w.line(
        "Name: ",
        (f"{pt['family_name']}, {pt['given_names']}", NAME),
        "     Unit No: ",
        (pt["mrn"], MRN),
    )
    w.line(
        "Service: ",
        d.pick(("MEDICINE", "CARDIOLOGY", "ORTHOPAEDICS")),
        "     Attending: ",
        (attending, NAME),
        ", M.D.",
    )
    w.line("")
    w.line("HISTORY OF PRESENT ILLNESS:")
    age, age_label = _age_phrase(d)
    title = d.pick(("Mr.", "Ms.", "Mrs."))
    w.line(
        title,
        " ",
        (pt["family_name"], NAME),
        " is a ",
        (age, age_label),
        " year old with ",
        d.pick(_DIAGNOSES),
        " who presented to ",
        (d.hospital(), HOSPITAL),
        " on ",
        (d.date(False), DATE),
        " and was transferred to the ",
        d.pick(_ICU_UNITS),
        ".",
    )
    w.line("")
    w.line("HOSPITAL COURSE:")
    w.line(
        "Treated with IV antibiotics; cultures from ",
        (d.date(False), DATE),
        " were negative. Seen by Dr. ",
        (d.surname(), NAME),
        " of cardiology, who advised ",
        "continuing beta blockade. Moved to ",
        (d.ward(), HOSPITAL),
        " on hospital day 3.",
    )
    w.line("")
    w.line("DISCHARGE MEDICATIONS:")
    for i, med in enumerate(r.sample(_MEDS, 3), 1):
        w.line(f"{i}. {med}")
    w.line("")
    w.line(
        "DISCHARGE DISPOSITION: ",
        d.pick(("Home with services", "Extended care facility", "Home")),
        " in ",
        (r.choice(d.towns), CITY),
        ".",
    )
    w.line("")
    w.line("FOLLOWUP INSTRUCTIONS:")
    w.line(
        "Dr. ",
        (d.surname(), NAME),
        " on ",
        (d.date(False), DATE),
        " at ",
        (d.time(), None),
        "; call ",
        (d.phone(True), PHONE),
        " to confirm.",
    )
    if r.random() < 0.5:
        w.line(
            "Daughter ",
            (f"{d.given()} {pt['family_name']}", NAME),
            " (HCP) at ",
            (pt["phone"], PHONE),
            ".",
        )
    w.line("")
    initials = (attending.split()[0][0] + attending.split()[-1][0]).lower()
    w.line(
        (initials, NAME),
        "/",
        (d.given()[0].lower() + d.surname()[0].lower(), NAME),
        " ",
        (d.date(True), DATE),
    )
    return w


_WRITERS = {"icu": _icu, "radiology": _radiology, "discharge": _discharge}


def generate(
    n: int,
    seed: int,
    *,
    first_names: Sequence[str],
    last_names: Sequence[str],
    towns: Sequence[str],
) -> list[StyleNote]:
    """``n`` notes, styles in turn, each one seeded by ``seed`` and its index (the same arguments give
    the same notes). ``first_names``, ``last_names`` and ``towns`` are the vocabularies drawn from;
    each must be non-empty."""
    for what, values in (
        ("first_names", first_names),
        ("last_names", last_names),
        ("towns", towns),
    ):
        if not values or any(not str(v).strip() for v in values):
            raise ValueError(f"style corpus: {what} must be a non-empty list of non-blank strings")
    if n < 0:
        raise ValueError(f"style corpus: n must be >= 0, got {n}")
    first, last, places = tuple(first_names), tuple(last_names), tuple(towns)
    notes = []
    for i in range(n):
        digest = hashlib.sha256(f"style:{seed}:{i}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        d = _Draw(rng, first, last, places)
        style = STYLES[i % len(STYLES)]
        doc_id = f"style-{seed}-{i:05d}"
        patient = {
            "patient_key": doc_id,
            "family_name": d.surname(),
            "given_names": d.given(),
            "mrn": d.mrn(),
            "phone": d.phone(False),
        }
        writer = _WRITERS[style](d, patient)
        notes.append(StyleNote(writer.document(doc_id), style, patient))
    return notes


def split(notes: list[StyleNote]) -> tuple[list[StyleNote], list[StyleNote]]:
    """(development, held-out) by the hash of the note id (deid.corpora.split_of, 70 / 30)."""
    by_id = {n.document.doc_id: n for n in notes}
    dev, held = split_docs([n.document for n in notes])
    return [by_id[d.doc_id] for d in dev], [by_id[d.doc_id] for d in held]
