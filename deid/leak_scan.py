"""The core of the blocking PHI-leak gate: does any of a patient's known identifiers appear in that
patient's silver values? Counts per (table, column, kind) — never the identifier itself."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Iterable

from deid.known_identifiers import KnownIdentifiers


@dataclass(frozen=True)
class Leak:
    table: str
    column: str
    kind: str


class PatientMatcher:
    """One compiled pattern per patient: identifiers as whole words/tokens, case-insensitive."""

    def __init__(self, known: KnownIdentifiers):
        self.kinds: dict[str, str] = {}
        parts = []
        for kind, spelling in sorted(known.all(), key=lambda ks: -len(ks[1])):
            self.kinds.setdefault(spelling, kind)
            parts.append(re.escape(spelling))
        # (?<![\w]) / (?![\w]) instead of \b so that spellings starting or ending in punctuation still match
        self.pattern = re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")(?!\w)", re.IGNORECASE) if parts else None

    def kinds_in(self, text: str) -> list[str]:
        if self.pattern is None or not text:
            return []
        return [self.kinds[m.group(0).lower()] for m in self.pattern.finditer(text)]


def scan(known: dict[str, KnownIdentifiers],
         rows: Iterable[tuple[str, str, str, str | None]]) -> Counter[Leak]:
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
    return [f"{leak.table}.{leak.column}: {count} {leak.kind} value(s) of the patient's own identifiers"
            for leak, count in sorted(leaks.items(), key=lambda kv: (kv[0].table, kv[0].column, kv[0].kind))]
