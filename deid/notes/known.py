"""The patient's own known identifiers (from bronze), found in the patient's notes: exact spellings
(any case, whole words) plus fuzzy forms: accents dropped, possessives ("Gibson's"), parts of
hyphenated or multi-word names, "LAST, First", initials ("CG", "C.G."), digits of phones/SSNs/MRNs in
any grouping, and the patient's city and postal code when bronze has them. A two-letter name ("Li",
"Ng") counts where ``known_identifiers.short_name_counts`` says so: the gate's own rule, so that the
note path replaces every occurrence the gate would report."""

from __future__ import annotations

import re

from deid.corpora import Span
from deid.known_identifiers import KnownIdentifiers, short_name_counts
from deid.notes.spans import CITY, DATE, EMAIL, MRN, NAME, PHONE, SSN, STREET, ZIP
from deid.notes.tokens import fold, tokenize

_KIND_LABEL = {
    "name": NAME,
    "mrn": MRN,
    "ssn": SSN,
    "phone": PHONE,
    "email": EMAIL,
    "street": STREET,
    "birth_date": DATE,
    "city": CITY,
    "postal_code": ZIP,
    "zip": ZIP,
}

_NUMBER = re.compile(r"(?<![\w])[A-Za-z]{0,4}\d(?:[\s().-]{0,2}\d){5,14}(?!\w)")


class KnownMatcher:
    def __init__(self, known: KnownIdentifiers):
        self.known = known
        exact: dict[str, str] = {}
        for kind, spelling in known.all():
            exact.setdefault(spelling, _KIND_LABEL.get(kind, NAME))
        for kind, value in (
            ("city", getattr(known, "city", None)),
            ("postal_code", getattr(known, "postal_code", None)),
        ):
            if value and len(value.strip()) >= 3:
                exact.setdefault(value.strip().lower(), _KIND_LABEL[kind])
        parts = sorted(exact, key=len, reverse=True)
        self.labels = {" ".join(k.split()): v for k, v in exact.items()}
        self.pattern = (
            re.compile(
                r"(?<!\w)(?:"
                + "|".join(r"\s+".join(re.escape(w) for w in p.split()) for p in parts)
                + r")(?!\w)",
                re.IGNORECASE,
            )
            if parts
            else None
        )
        # folded name tokens (accents, hyphen parts): matched token by token
        self.name_keys: set[str] = set()
        for spelling in known.values.get("name", ()):
            for part in re.split(r"[\s\-]+", spelling):
                if sum(ch.isalpha() for ch in part) >= 3:
                    self.name_keys.add(fold(part.strip("'")))
            self.name_keys.add(fold(spelling))
        for raw in getattr(known, "name_parts", ()) or ():
            for part in re.split(r"[\s\-]+", raw):
                if sum(ch.isalpha() for ch in part) >= 2:
                    self.name_keys.add(fold(part.strip("'.")))
        # digit-only forms of identifier numbers: any grouping of the same digits
        self.digit_forms: dict[str, str] = {}
        for kind in ("mrn", "ssn", "phone"):
            for spelling in known.values.get(kind, ()):
                digits = "".join(ch for ch in spelling if ch.isdigit())
                if len(digits) >= 6:
                    self.digit_forms[digits] = _KIND_LABEL[kind]
        self.initials = {i for i in (getattr(known, "initials", ()) or ()) if len(i) >= 2}
        self.initial_patterns = [
            re.compile(r"(?<![\w.])(" + r"\.?\s?".join(re.escape(ch) for ch in i) + r"\.?)(?![\w])")
            for i in sorted(self.initials)
        ]

    def find(self, text: str) -> list[Span]:
        out: list[Span] = []
        if self.pattern is not None:
            for m in self.pattern.finditer(text):
                label = self.labels.get(" ".join(m.group(0).lower().split()), NAME)
                if (
                    label == NAME
                    and len(m.group(0)) == 2
                    and not short_name_counts(text, m.start(), m.end())
                ):
                    continue  # "do not", "5 ng/mL": a word or a unit, not the name Do or Ng
                out.append(Span(m.start(), m.end(), label, m.group(0)))
        if self.name_keys:
            for t in tokenize(text):
                if t.key in self.name_keys and (
                    len(t.key) >= 3 or short_name_counts(text, t.start, t.end)
                ):
                    out.append(Span(t.start, t.end, NAME, t.text))
        if self.digit_forms:
            for m in _NUMBER.finditer(text):
                digits = "".join(ch for ch in m.group(0) if ch.isdigit())
                for form, label in self.digit_forms.items():
                    if form in digits:
                        out.append(Span(m.start(), m.end(), label, m.group(0)))
                        break
        for pattern in self.initial_patterns:
            for m in pattern.finditer(text):
                out.append(Span(m.start(1), m.end(1), NAME, m.group(1)))
        return out


_CACHE: dict[tuple, KnownMatcher] = {}
_CACHE_SIZE = 512


def matcher(known: KnownIdentifiers) -> KnownMatcher:
    """The compiled matcher of ``known``, reused across that patient's notes."""
    cache_key = (
        known.patient_key,
        frozenset(known.all()),
        getattr(known, "name_parts", ()),
        getattr(known, "initials", ()),
        getattr(known, "city", None),
        getattr(known, "postal_code", None),
    )
    found = _CACHE.get(cache_key)
    if found is None:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        found = _CACHE[cache_key] = KnownMatcher(known)
    return found


def detect(text: str, known: KnownIdentifiers | None) -> list[Span]:
    if known is None:
        return []
    return matcher(known).find(text)
