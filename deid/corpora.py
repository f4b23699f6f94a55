"""Readers for de-identification evaluation corpora: PhysioNet deid, i2b2/n2c2 2014 XML, Presidio JSON,
plain text. Each gives documents with their gold PHI spans (character offsets, end exclusive)."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
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
