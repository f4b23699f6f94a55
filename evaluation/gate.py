"""Champion/challenger gate: should a newly trained model take the ``champion`` alias?

Rules, all on point estimates of the candidate's test split:

1. Absolute floors (from the task's ``OperatingPoint``): AUROC >= ``min_auroc`` and AUPRC / prevalence >=
   ``min_auprc_lift``. An undefined AUROC (test split with one class) fails, naming why.
2. Only when a champion exists, and only if both reports describe the SAME rows (the caller scores the
   champion on the candidate's test split; equal n, positives and, when both are known, split digest):
   AUROC >= champion AUROC - ``max_auroc_drop`` and Brier <= champion Brier + ``max_brier_increase``.
   Reports of different rows fail the comparison rather than compare apples with oranges.

No champion: the candidate becomes champion when it passes the floors. Otherwise it is a ``challenger``.
A paired-bootstrap interval (``evaluation.metrics.paired_difference``), when given, is reported as evidence;
it does not decide (a small test split would make an interval-based rule block every model).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from evaluation.metrics import Interval
from evaluation.report import TAG_VALUE_LIMIT, EvaluationReport, truncate_tag

TOLERANCE = 1e-9  # boundary values pass: 0.78 vs 0.80 - 0.02 must not fail on float rounding


@dataclass(frozen=True)
class GatePolicy:
    """Floors a model must reach and how much worse than the champion it may be."""

    min_auroc: float = 0.65
    min_auprc_lift: float = 1.5
    max_auroc_drop: float = 0.02
    max_brier_increase: float = 0.01

    @classmethod
    def from_operating_point(cls, op: Any, **tolerances: float) -> GatePolicy:
        """Floors from a ``features.tasks.OperatingPoint``; tolerances from the op when it has them
        (``max_auroc_drop``, ``max_brier_increase``), else the keyword arguments, else the defaults."""
        values = {
            name: getattr(op, name)
            for name in ("max_auroc_drop", "max_brier_increase")
            if hasattr(op, name)
        }
        values.update(tolerances)
        return cls(min_auroc=op.min_auroc, min_auprc_lift=op.min_auprc_lift, **values)


@dataclass(frozen=True)
class GateDecision:
    """The outcome: ``alias`` is the registry alias the candidate gets."""

    alias: Literal["champion", "challenger"]
    promoted: bool
    reasons: list[
        str
    ]  # failed rules first ("FAIL: ..."), then passed ones ("pass: ...") and evidence notes
    evidence: dict[str, Any] = field(default_factory=dict)
    compared_with: str | None = None  # "name vVERSION" of the champion, None when there was none

    def to_dict(self) -> dict[str, Any]:
        return {
            "alias": self.alias,
            "promoted": self.promoted,
            "reasons": list(self.reasons),
            "evidence": self.evidence,
            "compared_with": self.compared_with,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateDecision:
        return cls(
            alias=data["alias"],
            promoted=data["promoted"],
            reasons=list(data["reasons"]),
            evidence=dict(data.get("evidence", {})),
            compared_with=data.get("compared_with"),
        )

    def tags(self, prefix: str = "gate.") -> dict[str, str]:
        """MLflow tags; values cut to MLflow's 5000-character limit."""
        failed = [r for r in self.reasons if r.startswith("FAIL")]
        tags = {
            "decision": "promoted" if self.promoted else "rejected",
            "alias": self.alias,
            "compared_with": self.compared_with or "none",
            "failed_rules": str(len(failed)),
            "reasons": "; ".join(self.reasons),
        }
        return {f"{prefix}{k}": truncate_tag(v, TAG_VALUE_LIMIT) for k, v in tags.items()}


def _summary(report: EvaluationReport) -> dict[str, Any]:
    out: dict[str, Any] = {
        "model": report.model_name,
        "version": report.model_version,
        "split": report.split,
        "split_digest": report.split_digest,
        "n": report.n,
        "positives": report.positives,
        "prevalence": report.prevalence,
    }
    for name in (
        "auroc",
        "auprc",
        "auprc_lift",
        "brier",
        "ece",
        "calibration_slope",
        "calibration_intercept",
    ):
        interval = report.metrics.get(name)
        out[name] = interval.to_dict() if interval else None
    return out


def _undefined_reason(report: EvaluationReport) -> str:
    if report.positives == 0:
        return f"{report.split} split has no positives (n={report.n})"
    if report.positives == report.n:
        return f"{report.split} split has no negatives (n={report.n})"
    return "not computable"


def _same_rows(candidate: EvaluationReport, champion: EvaluationReport) -> str | None:
    """Why the two reports are not about the same rows, or None when they are (as far as can be told)."""
    problems = []
    if (candidate.n, candidate.positives) != (champion.n, champion.positives):
        problems.append(
            f"n/positives {candidate.n}/{candidate.positives} vs {champion.n}/{champion.positives}"
        )
    if (
        candidate.split_digest
        and champion.split_digest
        and candidate.split_digest != champion.split_digest
    ):
        problems.append(f"split digest {candidate.split_digest} vs {champion.split_digest}")
    return "; ".join(problems) or None


def decide(
    candidate: EvaluationReport,
    champion: EvaluationReport | None,
    policy: GatePolicy,
    paired: Mapping[str, Interval] | None = None,
) -> GateDecision:
    """Apply the rules in the module docstring. ``paired`` maps a metric name to the paired-bootstrap
    interval of (candidate - champion) on the candidate's test rows."""
    failed: list[str] = []
    passed: list[str] = []
    rules: list[dict[str, Any]] = []

    def rule(name: str, ok: bool, text: str, value: float | None, limit: float | None) -> None:
        (passed if ok else failed).append(f"{'pass' if ok else 'FAIL'}: {text}")
        rules.append({"rule": name, "passed": ok, "value": value, "limit": limit})

    split = candidate.split
    auroc, lift = candidate.value("auroc"), candidate.value("auprc_lift")
    if auroc is None:
        rule(
            "min_auroc",
            False,
            f"{split} AUROC undefined: {_undefined_reason(candidate)}",
            None,
            policy.min_auroc,
        )
    else:
        ok = auroc >= policy.min_auroc - TOLERANCE
        rule(
            "min_auroc",
            ok,
            f"{split} AUROC {auroc:.3f} {'>=' if ok else '<'} floor {policy.min_auroc:.3f}",
            auroc,
            policy.min_auroc,
        )
    if lift is None:
        rule(
            "min_auprc_lift",
            False,
            f"{split} AUPRC lift undefined: {_undefined_reason(candidate)}",
            None,
            policy.min_auprc_lift,
        )
    else:
        ok = lift >= policy.min_auprc_lift - TOLERANCE
        rule(
            "min_auprc_lift",
            ok,
            f"{split} AUPRC/prevalence {lift:.2f} (AUPRC {candidate.value('auprc'):.3f} / prevalence "
            f"{candidate.prevalence:.3f}) {'>=' if ok else '<'} floor {policy.min_auprc_lift:.2f}",
            lift,
            policy.min_auprc_lift,
        )

    deltas: dict[str, float | None] = {}
    compared_with = None
    if champion is not None:
        compared_with = f"{champion.model_name} v{champion.model_version}"
        mismatch = _same_rows(candidate, champion)
        if mismatch:
            rule(
                "same_rows",
                False,
                f"champion {compared_with} was evaluated on different rows ({mismatch}); "
                f"score it on the candidate's {split} split",
                None,
                None,
            )
        else:
            _compare(
                rule,
                deltas,
                "auroc",
                "AUROC",
                candidate,
                champion,
                compared_with,
                allowed=-policy.max_auroc_drop,
                higher_is_better=True,
            )
            _compare(
                rule,
                deltas,
                "brier",
                "Brier",
                candidate,
                champion,
                compared_with,
                allowed=policy.max_brier_increase,
                higher_is_better=False,
            )

    notes = []
    for metric, interval in (paired or {}).items():
        notes.append(
            f"paired {metric} difference (candidate - champion) {_signed(interval)} "
            f"over {interval.n_boot_used} resamples"
        )
    promoted = not failed
    if champion is None:
        notes.append("no current champion: the candidate is judged on the floors alone")
    evidence = {
        "policy": asdict(policy),
        "candidate": _summary(candidate),
        "champion": _summary(champion) if champion is not None else None,
        "deltas": deltas,
        "paired": {k: v.to_dict() for k, v in (paired or {}).items()},
        "rules": rules,
    }
    return GateDecision(
        alias="champion" if promoted else "challenger",
        promoted=promoted,
        reasons=failed + passed + notes,
        evidence=evidence,
        compared_with=compared_with,
    )


def _compare(
    rule,
    deltas: dict[str, float | None],
    metric: str,
    label: str,
    candidate: EvaluationReport,
    champion: EvaluationReport,
    compared_with: str,
    *,
    allowed: float,
    higher_is_better: bool,
) -> None:
    """One champion comparison rule: candidate - champion must be >= allowed (AUROC, allowed = -drop) or
    <= allowed (Brier, allowed = +increase)."""
    mine, theirs = candidate.value(metric), champion.value(metric)
    name = f"max_{metric}_{'drop' if higher_is_better else 'increase'}"
    if mine is None or theirs is None:
        deltas[metric] = None
        rule(
            name,
            False,
            f"{label} of candidate or champion {compared_with} undefined; cannot compare",
            None,
            allowed,
        )
        return
    delta = mine - theirs
    deltas[metric] = delta
    ok = delta >= allowed - TOLERANCE if higher_is_better else delta <= allowed + TOLERANCE
    bound = "allowed drop" if higher_is_better else "allowed increase"
    rule(
        name,
        ok,
        f"{label} {mine:.3f} vs champion {compared_with} {theirs:.3f} (delta {delta:+.4f}) "
        f"{'within' if ok else 'exceeds'} {bound} {abs(allowed):.3f}",
        delta,
        allowed,
    )


def _signed(interval: Interval) -> str:
    if interval.estimate is None:
        return "n/a"
    text = f"{interval.estimate:+.3f}"
    if interval.low is not None and interval.high is not None:
        text += f" [{interval.low:+.3f}, {interval.high:+.3f}]"
    return text
