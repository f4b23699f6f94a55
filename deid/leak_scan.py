"""The core of the blocking PHI-leak gate: does any of a patient's known identifiers appear in that
patient's silver values? Counts per (table, column, kind) — never the identifier itself.

Every identifier is matched as a whole token, case-insensitively: names (two letters and more), city,
street, email, MRN, SSN, phone, full ZIP and birth date in their usual spellings. Two exceptions keep
clinical text from raising false alarms, both about the token, never about the column it sits in: a month
name inside a date ("04 Jun 2026" for a relative named Jun) and a two-letter name used as a word or a unit
(``known_identifiers.short_name_counts``). A patient whose ZIP prefix is restricted (Safe Harbor: shown as
000) also leaks that prefix when a value is the prefix itself ("036") or a five-digit ZIP starting with it."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from deid.known_identifiers import KnownIdentifiers, short_name_counts, zip_prefix


@dataclass(frozen=True)
class Leak:
    table: str
    column: str
    kind: str


CALENDAR_WORDS = frozenset(
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_DIGIT_AFTER = re.compile(r"\.?,?\s{0,2}\d")
_DIGIT_BEFORE = re.compile(r"\d(?:st|nd|rd|th)?,?\s{0,2}$")


def _calendar_word_in_date(text: str, match: re.Match) -> bool:
    """A month name written as part of a date ("04 Jun 2026", "June 3") is the calendar, not a name."""
    if match.group(0).lower() not in CALENDAR_WORDS:
        return False
    return bool(
        _DIGIT_AFTER.match(text, match.end())
        or _DIGIT_BEFORE.search(text[max(0, match.start() - 8) : match.start()])
    )


class PatientMatcher:
    """One compiled pattern per patient: identifiers as whole words/tokens, case-insensitive.

    ``restricted_zip3``: the policy's restricted ZIP prefixes; when the patient's ZIP has one, that prefix
    shown as a value of its own or as the start of a five-digit ZIP is a leak of kind ``zip3``."""

    def __init__(self, known: KnownIdentifiers, restricted_zip3: Iterable[str] = ()):
        self.kinds: dict[str, str] = {}
        parts = []
        for kind, spelling in sorted(known.all(), key=lambda ks: -len(ks[1])):
            self.kinds.setdefault(" ".join(spelling.split()), kind)
            # any run of white space where the spelling has one ("New  York", a street over two lines)
            parts.append(r"\s+".join(re.escape(piece) for piece in spelling.split()))
        # (?<![\w]) / (?![\w]) instead of \b so that spellings starting or ending in punctuation still match
        self.pattern = (
            re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)
            if parts
            else None
        )
        prefix = zip_prefix(getattr(known, "postal_code", None))
        self.restricted = (
            re.compile(rf"(?m)^\s*{prefix}\s*$|(?<![\w.,]){prefix}\d\d(?:-\d{{4}})?(?![\w]|[.,]\d)")
            if prefix and prefix in set(restricted_zip3)
            else None
        )

    def kinds_in(self, text: str) -> list[str]:
        if not text:
            return []
        kinds = []
        if self.pattern is not None:
            for m in self.pattern.finditer(text):
                kind = self.kinds.get(" ".join(m.group(0).lower().split()), "name")
                if kind == "name" and _calendar_word_in_date(text, m):
                    continue  # a relative named "Jun" vs the month of "04 Jun 2026"
                if (
                    kind == "name"
                    and len(m.group(0)) == 2
                    and not short_name_counts(text, m.start(), m.end())
                ):
                    continue  # "do not", "5 ng/mL": a word or a unit, not the name Do or Ng
                kinds.append(kind)
        if self.restricted is not None:
            kinds += [
                "zip3"
                for m in self.restricted.finditer(text)
                if self.kinds.get(m.group(0).strip()[:5])
                != "zip"  # the full ZIP counted once, as zip
            ]
        return kinds


def scan(
    known: dict[str, KnownIdentifiers],
    rows: Iterable[tuple[str, str, str, str | None]],
    restricted_zip3: Iterable[str] = (),
) -> Counter[Leak]:
    """``rows``: (patient_key, table, column, value) of silver data keyed by the *original* patient key
    (the gate joins pseudonyms back through the de-identification map). Returns leak counts."""
    restricted_zip3 = tuple(restricted_zip3)
    matchers: dict[str, PatientMatcher] = {}
    leaks: Counter[Leak] = Counter()
    for patient_key, table, column, value in rows:
        if value is None or patient_key not in known:
            continue
        matcher = matchers.get(patient_key)
        if matcher is None:
            matcher = matchers[patient_key] = PatientMatcher(known[patient_key], restricted_zip3)
        for kind in matcher.kinds_in(str(value)):
            leaks[Leak(table, column, kind)] += 1
    return leaks


def describe(leaks: Counter[Leak]) -> list[str]:
    """Human-readable lines naming table, column, kind and count; safe to log (no identifiers)."""
    return [
        f"{leak.table}.{leak.column}: {count} {leak.kind} value(s) of the patient's own identifiers"
        for leak, count in sorted(
            leaks.items(), key=lambda kv: (kv[0].table, kv[0].column, kv[0].kind)
        )
    ]
