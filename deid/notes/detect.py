"""All detector layers together: the patient's known identifiers, patterns, gazetteers and context."""

from __future__ import annotations

from deid.corpora import Span
from deid.known_identifiers import KnownIdentifiers
from deid.notes import context, patterns, styles
from deid.notes import known as known_layer
from deid.notes.spans import ACCOUNT, DATE, ID, PHONE, STREET, merge

_NUMBERISH = (PHONE, ID, ACCOUNT, STREET)


def detect_phi(
    text: str, known: KnownIdentifiers | None = None, *, age_ceiling: int = patterns.AGE_CEILING
) -> list[Span]:
    """PHI spans of ``text``: sorted, non-overlapping, end exclusive, labels from deid.notes.spans."""
    if not text:
        return []
    found = patterns.detect(text, age_ceiling)
    # a date that also reads as digit groups ("2018-02-24", "03-05-2024") is a date
    date_spans = [s for s in found if s.label == DATE and any(ch.isdigit() for ch in s.text)]
    if date_spans:
        found = [
            s
            for s in found
            if s.label not in _NUMBERISH
            or not any(d.start <= s.start and s.end <= d.end for d in date_spans)
            and not (
                s.label == STREET and any(d.start < s.end and s.start < d.end for d in date_spans)
            )
        ]
    names, places = context.detect(text)
    found.extend(names)
    found.extend(places)
    found.extend(context.address_blocks(text, [s for s in found if s.label == STREET]))
    found.extend(styles.detect(text))
    found = [s for s in found if not styles.misread(text, s)]
    found.extend(known_layer.detect(text, known))
    return merge(found, text)
