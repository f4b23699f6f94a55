"""Replace detected PHI in a note with surrogates or tags, per the de-identification policy."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from deid.keys import DeidKey
from deid.known_identifiers import KnownIdentifiers
from deid.notes.detect import detect_phi
from deid.notes.spans import KEPT_LABELS
from deid.notes.surrogates import Surrogates, fold_names
from deid.policy import DeidPolicy


@dataclass
class DeidentifiedText:
    text: str
    replacements: Counter = field(default_factory=Counter)  # label -> count of replaced spans


class NoteDeidentifier:
    def __init__(self, key: DeidKey, policy: DeidPolicy, real_names: Iterable[str] = ()):
        """``real_names``: every real person name of the snapshot (``known_identifiers.real_names``);
        surrogate names are never one of them."""
        self.key = key
        self.policy = policy
        self.real_names = fold_names(real_names)

    def with_real_names(self, real_names: Iterable[str]) -> NoteDeidentifier:
        """This de-identifier, drawing surrogates outside ``real_names`` (the silver build calls it with
        the names of the bronze snapshot it de-identifies)."""
        return type(self)(self.key, self.policy, real_names)

    def deidentify(
        self, text: str, *, patient_key: str | None, known: KnownIdentifiers | None, shift_days: int
    ) -> DeidentifiedText:
        if not text:
            return DeidentifiedText(text or "", Counter())
        spans = detect_phi(text, known, age_ceiling=self.policy.age_ceiling)
        surrogates = Surrogates(
            self.key, self.policy, patient_key, known, shift_days, self.real_names
        )
        out: list[str] = []
        counts: Counter = Counter()
        pos = 0
        for span in spans:
            if span.label in KEPT_LABELS:
                continue
            replacement = surrogates.replace(span.label, text[span.start : span.end])
            if replacement == text[span.start : span.end]:
                continue
            out.append(text[pos : span.start])
            out.append(replacement)
            counts[span.label] += 1
            pos = span.end
        out.append(text[pos:])
        return DeidentifiedText("".join(out), counts)
