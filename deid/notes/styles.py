"""Cues of the written styles of clinical notes that the general layers miss or misread.

Found here (identifiers):

* signature initials: a line that is only initials and a credential ("JM RN", "AB, NP") and the
  dictation line of a discharge summary ("ab/cd" with a date after it);
* an initial and a surname before a credential ("L. Turner, MD");
* ward names after a transfer cue: a capitalized word and a floor number, optionally a wing
  ("transfer to Baker 7 North"), or a word and "Pavilion" / "Tower" / "Building" / "Wing".

Weighed out here (not identifiers): times of day read as years ("@ 1945", "1810-2:15 PM", a shift
"0700-1900" read as a phone number), care-unit abbreviations and modal verbs read as names in notes
written in capitals ("MICU", "CAN").
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from deid.corpora import Span
from deid.notes import vocabulary
from deid.notes.spans import DATE, HOSPITAL, ID, NAME, PHONE

_CREDENTIAL = r"(?:RN|MD|M\.D\.|NP|PA|PA-C|RRT|LPN|SN|DO|PT|OT|SW|LICSW|CNS)"
_SIGNATURE_RE = re.compile(rf"(?m)^[ \t]*(?P<i>[A-Z]{{2,3}})[ \t]*,?[ \t]+{_CREDENTIAL}\.?[ \t]*$")
_DICTATION_RE = re.compile(
    r"(?m)^[ \t]*(?P<a>[a-z]{2,3})/(?P<b>[a-z]{2,3})(?=[ \t]+\d|[ \t]+[A-Z][a-z]+ \d|[ \t]*$)"
)
_INITIAL_SURNAME_RE = re.compile(
    rf"(?<![\w.])[A-Z]\.[ \t]?[A-Z][a-z'’-]+(?:[ \t][A-Z][a-z'’-]+)?(?=,?[ \t]+{_CREDENTIAL}\b)"
)
_WARD_RE = re.compile(
    r"\b(?i:transfer(?:red)?\s+to|call(?:ed)?\s+out\s+to|moved\s+to|sent\s+to|back\s+to|"
    r"admitted\s+to|arrived\s+(?:on|to))\s+(?:the\s+)?"
    r"(?P<w>[A-Z][A-Za-z'’-]+[ \t]+(?:\d{1,2}(?:[ \t]+(?i:north|south|east|west))?\b"
    r"|(?i:pavilion|tower|building|wing)\b))"
)
_TIME4 = re.compile(r"(?:[01]\d|2[0-3])[0-5]\d")
_TIME_BEFORE = re.compile(r"(?:@|\bat|\bby|\bfrom|\buntil|\d[ \t]*-)[ \t]*$", re.IGNORECASE)
_TIME_AFTER = re.compile(r"[ \t]*-[ \t]*\d")
_SHIFT_PHONE = re.compile(r"(?:[01]\d|2[0-3])[0-5]\d-(?:[01]\d|2[0-3])[0-5]\d")
#: generic words before a number after a transfer cue: a room or a bed, not a named ward
_NOT_WARD = frozenset(
    "room rm bed bay floor fl level unit pod station suite step phase week hospital or pacu "
    "ed er icu ccu stage grade".split()
)
#: words that notes in capitals use as verbs right after "wife", "son", "called" ...
_VERBS = frozenset(
    "can will may might must shall should could would did does has had is was".split()
)


def detect(text: str) -> Iterator[Span]:
    for m in _SIGNATURE_RE.finditer(text):
        yield Span(m.start("i"), m.end("i"), NAME, m.group("i"))
    for m in _DICTATION_RE.finditer(text):
        for g in ("a", "b"):
            yield Span(m.start(g), m.end(g), NAME, m.group(g))
    for m in _INITIAL_SURNAME_RE.finditer(text):
        yield Span(m.start(), m.end(), NAME, m.group(0))
    for m in _WARD_RE.finditer(text):
        word = m.group("w").split()[0].lower()
        if word not in _NOT_WARD and not vocabulary.is_clinical(word):
            yield Span(m.start("w"), m.end("w"), HOSPITAL, m.group("w"))


def misread(text: str, span: Span) -> bool:
    """Whether ``span`` is a time of day, a shift or a care-unit word or verb read as PHI."""
    if span.label == DATE and _TIME4.fullmatch(span.text):
        return bool(_TIME_BEFORE.search(text, 0, span.start) or _TIME_AFTER.match(text, span.end))
    if span.label in (PHONE, ID) and _SHIFT_PHONE.fullmatch(span.text):
        return True
    if span.label == NAME and " " not in span.text:
        key = span.text.lower()
        if key in _VERBS and span.text.isupper():
            return True
        if vocabulary.is_clinical(key) and span.text.isupper() and len(key) >= 3:
            before = text[max(0, span.start - 6) : span.start]
            return not re.search(r"\b(?:dr|mr|mrs|ms)\.?\s*$", before, re.IGNORECASE)
    return False
