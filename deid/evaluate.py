"""Run the note PHI detector over an evaluation corpus and score it (deid.scoring), overall, on the
HIPAA-relevant gold spans, and per gold / detected label.

Gold labels of each corpus map to our categories below; ``None`` marks gold types that are not HIPAA
Safe Harbor identifiers (organizations, job titles, nationalities/religions/political groups, and ages
of 89 or less): they are reported, but not part of the "hipaa_relevant" line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from deid.corpora import Document, Span
from deid.notes import detect_phi
from deid.scoring import Score, f_beta, score

# corpus gold label -> our category (deid.notes.spans), or None when not a HIPAA identifier
HIPAA_LABELS: dict[str, str | None] = {
    # presidio-research synthetic data
    "PERSON": "NAME",
    "STREET_ADDRESS": "STREET",
    "GPE": "LOCATION",
    "PHONE_NUMBER": "PHONE",
    "DATE_TIME": "DATE",
    "EMAIL_ADDRESS": "EMAIL",
    "ZIP_CODE": "ZIP",
    "US_SSN": "SSN",
    "IP_ADDRESS": "IP",
    "US_DRIVER_LICENSE": "ID",
    "DOMAIN_NAME": "URL",
    "CREDIT_CARD": "ACCOUNT",
    "IBAN_CODE": "ACCOUNT",
    "AGE": "AGE",  # only ages over 89 (see AGE_NOT_PHI); split below
    "ORGANIZATION": None,
    "TITLE": None,
    "NRP": None,
    # PhysioNet deid gold standard
    "PTName": "NAME",
    "PTNameInitial": "NAME",
    "HCPName": "NAME",
    "RelativeProxyName": "NAME",
    "Date": "DATE",
    "DateYear": "DATE",
    "Location": "LOCATION",
    "Phone": "PHONE",
    "Age": "AGE",
    "Other": "ID",
    # i2b2 / n2c2 2014 (TYPE attribute)
    "PATIENT": "NAME",
    "DOCTOR": "NAME",
    "USERNAME": "NAME",
    "HOSPITAL": "HOSPITAL",
    "STREET": "STREET",
    "CITY": "CITY",
    "STATE": "STATE",
    "COUNTRY": "COUNTRY",
    "ZIP": "ZIP",
    "LOCATION-OTHER": "LOCATION",
    "DATE": "DATE",
    "PHONE": "PHONE",
    "FAX": "PHONE",
    "EMAIL": "EMAIL",
    "URL": "URL",
    "IPADDR": "IP",
    "SSN": "SSN",
    "MEDICALRECORD": "MRN",
    "HEALTHPLAN": "ID",
    "ACCOUNT": "ACCOUNT",
    "LICENSE": "ID",
    "VEHICLE": "ID",
    "DEVICE": "ID",
    "BIOID": "ID",
    "IDNUM": "ID",
    "PROFESSION": None,
    "ORGANIZATION_I2B2": None,
}
AGE_LABELS = frozenset({"AGE", "Age"})
AGE_NOT_PHI = "AGE<=89"  # gold ages of 89 or less: not identifiers, reported apart
AGE_CEILING = 90


def gold_label(span: Span) -> str:
    """The gold label as scored: ages split into over-89 (PHI) and the rest."""
    if span.label in AGE_LABELS:
        m = re.search(r"\d+", span.text or "")
        if m and int(m.group(0)) < AGE_CEILING:
            return AGE_NOT_PHI
    return span.label


def is_hipaa(label: str) -> bool:
    return label != AGE_NOT_PHI and HIPAA_LABELS.get(label) is not None


def detect_corpus(
    docs: Iterable[Document], progress: Callable[[int], None] | None = None
) -> dict[str, list[Span]]:
    out: dict[str, list[Span]] = {}
    for doc in docs:
        out[doc.doc_id] = detect_phi(doc.text)
        if progress:
            progress(1)
    return out


def write_spans_jsonl(detected: dict[str, list[Span]], path: Path) -> int:
    """One JSON object per span: {"doc_id", "start", "end", "label", "text"} (end exclusive)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for doc_id, spans in detected.items():
            for s in spans:
                fh.write(
                    json.dumps(
                        {
                            "doc_id": doc_id,
                            "start": s.start,
                            "end": s.end,
                            "label": s.label,
                            "text": s.text,
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                )
                n += 1
    return n


def evaluate(
    docs: list[Document],
    detected: dict[str, list[Span]] | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict:
    """Metrics as a JSON-ready dict: overall, hipaa_relevant, by_gold_label, by_detected_label.

    ``hipaa_relevant`` recall counts only gold spans whose label maps to a HIPAA category (HIPAA_LABELS);
    its precision is the overall precision (a detection overlapping any gold span is correct)."""
    if detected is None:
        detected = detect_corpus(docs, progress)
    gold = {d.doc_id: [Span(s.start, s.end, gold_label(s), s.text) for s in d.gold] for d in docs}
    result = score(gold, detected)
    hipaa_gold = {doc_id: [s for s in spans if is_hipaa(s.label)] for doc_id, spans in gold.items()}
    hipaa = score(hipaa_gold, detected)["overall"]
    overall: Score = result["overall"]
    hipaa_line = {
        "gold": hipaa.gold,
        "found": hipaa.found,
        "detected": overall.detected,
        "correct": overall.correct,
        "recall": round(hipaa.recall, 4),
        "precision": round(overall.precision, 4),
        "f2": round(f_beta(overall.precision, hipaa.recall), 4),
    }
    return {
        "documents": len(docs),
        "overall": overall.to_dict(),
        "hipaa_relevant": hipaa_line,
        "by_gold_label": {
            label: {
                **s.to_dict(),
                "hipaa": is_hipaa(label),
                "category": HIPAA_LABELS.get(label) if is_hipaa(label) else None,
            }
            for label, s in result["by_gold_label"].items()
        },
        "by_detected_label": {
            label: s.to_dict() for label, s in result["by_detected_label"].items()
        },
    }
