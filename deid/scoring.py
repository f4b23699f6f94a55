"""Span-level scoring of PHI detection: recall, precision and F2, overall and per category.

A gold span counts as found when any detected span overlaps it by at least one character (ends are
exclusive: spans that only touch, ``[0, 4)`` and ``[4, 9)``, do not overlap); a detected span counts as
correct when it overlaps any gold span. ``inclusive=True`` gives the PhysioNet reference scorer's older
rule, where touching spans count. F2 weighs recall
four times as much as precision: a missed identifier costs more than an extra redaction.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from deid.corpora import Span


def overlaps(a: Span, b: Span, inclusive: bool = False) -> bool:
    return (
        a.start <= b.end and b.start <= a.end if inclusive else a.start < b.end and b.start < a.end
    )


def f_beta(precision: float, recall: float, beta: float = 2.0) -> float:
    if precision == 0 and recall == 0:
        return 0.0
    b2 = beta * beta
    return (1 + b2) * precision * recall / (b2 * precision + recall)


@dataclass
class Score:
    gold: int = 0
    found: int = 0
    detected: int = 0
    correct: int = 0

    @property
    def recall(self) -> float:
        return self.found / self.gold if self.gold else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.detected if self.detected else 1.0

    @property
    def f2(self) -> float:
        return f_beta(self.precision, self.recall)

    def to_dict(self) -> dict[str, float | int]:
        return {
            "gold": self.gold,
            "found": self.found,
            "detected": self.detected,
            "correct": self.correct,
            "recall": round(self.recall, 4),
            "precision": round(self.precision, 4),
            "f2": round(self.f2, 4),
        }


def score(
    gold: dict[str, list[Span]], detected: dict[str, list[Span]], inclusive: bool = False
) -> dict:
    """{"overall": Score, "by_gold_label": {label: Score (recall)}, "by_detected_label": {label: Score (precision)}}"""
    overall = Score()
    by_gold: dict[str, Score] = {}
    by_detected: dict[str, Score] = {}
    for doc_id in set(gold) | set(detected):
        g, d = gold.get(doc_id, []), detected.get(doc_id, [])
        for span in g:
            hit = any(overlaps(span, other, inclusive) for other in d)
            for bucket in (overall, by_gold.setdefault(span.label, Score())):
                bucket.gold += 1
                bucket.found += hit
        for span in d:
            hit = any(overlaps(span, other, inclusive) for other in g)
            for bucket in (overall, by_detected.setdefault(span.label, Score())):
                bucket.detected += 1
                bucket.correct += hit
    return {
        "overall": overall,
        "by_gold_label": dict(sorted(by_gold.items())),
        "by_detected_label": dict(sorted(by_detected.items())),
    }


def label_counts(spans: dict[str, list[Span]]) -> Counter:
    return Counter(span.label for doc in spans.values() for span in doc)
