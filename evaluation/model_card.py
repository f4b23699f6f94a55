"""A model card in Markdown from an evaluation report, the gate decision and lineage: pure string building.

Sections follow Mitchell et al., "Model Cards for Model Reporting" (2019), cut to what this platform knows:
intended and out-of-scope use, data and lineage, metrics with intervals, the operating point, subgroups,
the promotion decision, and limitations derived from the numbers (few positives, undefined subgroups).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from evaluation.gate import GateDecision
from evaluation.report import FEW_POSITIVES, EvaluationReport

METRIC_LABELS = {
    "auroc": "AUROC",
    "auprc": "AUPRC (average precision)",
    "auprc_lift": "AUPRC / prevalence",
    "brier": "Brier score",
    "ece": "ECE (10 equal-width bins)",
    "calibration_slope": "Calibration slope (ideal 1)",
    "calibration_intercept": "Calibration-in-the-large (ideal 0)",
    "prevalence": "Prevalence",
}

OUT_OF_SCOPE = (
    "Diagnosis, triage or any automated decision without clinician review.",
    "Patients outside the population above: children, outpatients, other health systems, or dates outside "
    "the data window, without re-validation.",
    "Denying or rationing care or coverage, or any use as a sole criterion for a patient.",
)


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> list[str]:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines


def _metrics_section(report: EvaluationReport) -> list[str]:
    level = report.bootstrap.get("level", 0.95)
    rows = []
    for name, interval in report.metrics.items():
        ci = (
            f"{interval.low:.3f} – {interval.high:.3f}"
            if interval.low is not None and interval.high is not None
            else "n/a"
        )
        rows.append((METRIC_LABELS.get(name, name), _num(interval.estimate), ci))
    return [
        f"## Metrics ({report.split} split)",
        "",
        f"n = {report.n}, positives = {report.positives}, prevalence = {report.prevalence:.3f}. "
        f"{level:.0%} intervals: percentile bootstrap over rows, {report.bootstrap.get('n_boot')} resamples, "
        f"seed {report.bootstrap.get('seed')}.",
        "",
        *_table(("Metric", "Estimate", f"{level:.0%} CI"), rows),
        "",
    ]


def _operating_point_section(report: EvaluationReport) -> list[str]:
    op = report.operating_point
    lines = [
        "## Operating point",
        "",
        f"Policy `{op.get('policy')}` with target {op.get('target')}, threshold chosen on the "
        f"{op.get('chosen_on', 'validation')} split (n = {op.get('validation_n')}, positives = "
        f"{op.get('validation_positives')}) and measured on the {report.split} split.",
        "",
    ]
    tm = report.threshold_metrics
    if tm is None or report.threshold is None:
        reasons = [n for n in report.notes if n.startswith("no operating threshold")]
        return lines + [f"No threshold: {reasons[0] if reasons else 'not chosen'}.", ""]

    def with_ci(name: str) -> str:
        interval = tm.intervals.get(name)
        value = getattr(tm, name)
        if interval is None or interval.low is None or interval.high is None:
            return _num(value)
        return f"{_num(value)} ({interval.low:.3f} – {interval.high:.3f})"

    rows = [
        ("Threshold (score ≥)", _num(tm.threshold, 4)),
        (
            "Validation sensitivity / alert rate",
            f"{_num(op.get('validation_sensitivity'))} / {_num(op.get('validation_alert_rate'))}",
        ),
        ("Sensitivity", with_ci("sensitivity")),
        ("Specificity", with_ci("specificity")),
        ("PPV", with_ci("ppv")),
        ("NPV", _num(tm.npv)),
        ("Alert rate", _num(tm.alert_rate)),
        ("Number needed to evaluate (1/PPV)", _num(tm.nne, 1)),
        ("TP / FP / TN / FN", f"{tm.tp} / {tm.fp} / {tm.tn} / {tm.fn}"),
    ]
    return lines + _table((f"At the threshold ({report.split})", "Value"), rows) + [""]


def _subgroup_section(report: EvaluationReport) -> list[str]:
    lines = ["## Subgroups", ""]
    if not report.subgroups:
        return lines + ["No subgroup attributes were evaluated.", ""]
    first = next(iter(report.subgroups.values()))
    lines += [
        f"AUROC and calibration are reported for groups with n ≥ {first.min_n} and at least "
        f"{first.min_positives} positives and negatives. O/E = observed / expected (mean label / mean "
        "score; > 1: risk under-predicted).",
        "",
    ]
    rows = []
    for attribute, summary in report.subgroups.items():
        for g in summary.groups:
            rows.append(
                (
                    attribute,
                    g.group,
                    g.n,
                    g.positives,
                    _num(g.prevalence),
                    _num(g.auroc),
                    _num(g.oe_ratio, 2),
                    _num(g.calibration_intercept, 2),
                    g.reason or "",
                )
            )
    lines += _table(
        (
            "Attribute",
            "Group",
            "n",
            "Positives",
            "Prevalence",
            "AUROC",
            "O/E",
            "Calibration-in-the-large",
            "Not evaluated because",
        ),
        rows,
    ) + [""]
    gaps = []
    for attribute, summary in report.subgroups.items():
        for what, gap in (("AUROC", summary.auroc_gap), ("O/E", summary.calibration_gap)):
            gaps.append(
                (
                    attribute,
                    what,
                    f"{gap.value:.3f} ({gap.high_group} {gap.high:.3f} vs {gap.low_group} {gap.low:.3f})"
                    if gap
                    else f"n/a ({summary.gap_reason})",
                )
            )
    return lines + [
        "Largest gaps between evaluable groups:",
        "",
        *_table(("Attribute", "Metric", "Largest gap"), gaps),
        "",
    ]


def _decision_section(decision: GateDecision | None) -> list[str]:
    lines = ["## Promotion decision", ""]
    if decision is None:
        return lines + ["No gate decision recorded.", ""]
    outcome = (
        "promoted to **champion**" if decision.promoted else "kept as **challenger** (not promoted)"
    )
    compared = (
        f" Compared with {decision.compared_with}."
        if decision.compared_with
        else " No champion existed."
    )
    return lines + [
        f"The model was {outcome}.{compared}",
        "",
        *[f"- {r}" for r in decision.reasons],
        "",
    ]


def _limitations(report: EvaluationReport) -> list[str]:
    items = []
    if report.positives < FEW_POSITIVES:
        items.append(
            f"The {report.split} split has only {report.positives} positives (< {FEW_POSITIVES}); "
            "confidence intervals are wide and point estimates unstable. Synthetic or demo data "
            "does not reflect real performance."
        )
    items.append(
        "Validation is temporal only (a later period of the same health system); there is no external "
        "validation at another site, and performance drifts as practice and coding change."
    )
    skipped = [
        f"{attr}={g.group} ({g.reason})"
        for attr, s in report.subgroups.items()
        for g in s.groups
        if not g.evaluable
    ]
    if skipped:
        items.append(
            "Subgroups with too few rows or positives were not evaluated: "
            + ", ".join(skipped)
            + "."
        )
    items.append(
        "Subgroup attributes are as recorded in the EHR; missing values are grouped as `unknown`."
    )
    items.extend(
        note for note in report.notes if "intervals are wide" not in note
    )  # that one is said above
    return ["## Limitations", "", *[f"- {item}" for item in items], ""]


def model_card(
    report: EvaluationReport,
    *,
    task_description: str,
    intended_use: str | None = None,
    lineage: Mapping[str, str],
    decision: GateDecision | None = None,
    training: Mapping[str, Any] | None = None,
    population: str | None = None,
) -> str:
    """Markdown model card. ``lineage`` keys are printed sorted (training-set digest, Delta versions, landing
    snapshot, de-identification policy version, feature service, ...); ``training`` likewise (hyper-
    parameters, epochs, run id)."""
    intended = intended_use or (
        "Clinical decision **support** for care-transition planning: flag adult "
        "inpatients at discharge for follow-up resources. Not a diagnosis; a clinician "
        "reviews every flag."
    )
    population = population or (
        "The health system's adult inpatients in the data window the model was trained "
        "and tested on."
    )
    lines = [
        f"# Model card: {report.model_name} v{report.model_version}",
        "",
        "## Task",
        "",
        task_description,
        "",
        "## Intended use",
        "",
        intended,
        "",
        f"Population: {population}",
        "",
        "## Out-of-scope use",
        "",
        *[f"- {item}" for item in OUT_OF_SCOPE],
        "",
        "## Data snapshot and lineage",
        "",
    ]
    lines += (
        _table(("Key", "Value"), sorted((k, f"`{v}`") for k, v in lineage.items()))
        if lineage
        else ["No lineage recorded."]
    )
    lines.append("")
    if training:
        lines += [
            "## Training",
            "",
            *_table(("Setting", "Value"), sorted((k, v) for k, v in training.items())),
            "",
        ]
    lines += _metrics_section(report) + _operating_point_section(report) + _subgroup_section(report)
    lines += _decision_section(decision) + _limitations(report)
    return "\n".join(lines).rstrip() + "\n"
