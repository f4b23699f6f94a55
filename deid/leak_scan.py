"""The core of the blocking PHI-leak gate: does any of a patient's known identifiers appear in that
patient's silver values? Counts per (table, column, kind) — never the identifier itself."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from deid.known_identifiers import KnownIdentifiers


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
    """One compiled pattern per patient: identifiers as whole words/tokens, case-insensitive."""

    def __init__(self, known: KnownIdentifiers):
        self.kinds: dict[str, str] = {}
        parts = []
        for kind, spelling in sorted(known.all(), key=lambda ks: -len(ks[1])):
            self.kinds.setdefault(spelling, kind)
            parts.append(re.escape(spelling))
        # (?<![\w]) / (?![\w]) instead of \b so that spellings starting or ending in punctuation still match
        self.pattern = (
            re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE)
            if parts
            else None
        )

    def kinds_in(self, text: str) -> list[str]:
        if self.pattern is None or not text:
            return []
        kinds = []
        for m in self.pattern.finditer(text):
            kind = self.kinds[m.group(0).lower()]
            if kind == "name" and _calendar_word_in_date(text, m):
                continue  # a relative named "Jun" vs the month of "04 Jun 2026"
            kinds.append(kind)
        return kinds


def scan(
    known: dict[str, KnownIdentifiers], rows: Iterable[tuple[str, str, str, str | None]]
) -> Counter[Leak]:
    """``rows``: (patient_key, table, column, value) of silver data keyed by the *original* patient key
    (the gate joins pseudonyms back through the de-identification map). Returns leak counts."""
    matchers: dict[str, PatientMatcher] = {}
    leaks: Counter[Leak] = Counter()
    for patient_key, table, column, value in rows:
        if value is None or patient_key not in known:
            continue
        matcher = matchers.get(patient_key)
        if matcher is None:
            matcher = matchers[patient_key] = PatientMatcher(known[patient_key])
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
