"""Evaluation figures as small PNGs: ROC, precision-recall, reliability diagram, AUROC per subgroup.

Figures are built with ``matplotlib.figure.Figure`` on an explicit Agg canvas, never through ``pyplot``:
no global backend switch, no figure manager holding figures open, nothing to close, safe in worker threads
and processes without a display. Importing this module has no side effects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from evaluation.metrics import check_inputs, one_class_reason
from evaluation.report import EvaluationReport

SIZE = (5, 4)  # inches
DPI = 100
CALIBRATION_BINS = 10


def _figure(size: tuple[float, float] = SIZE):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: Path) -> Path:
    fig.savefig(path, dpi=DPI)
    return path


def _undefined(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True, transform=ax.transAxes)


def _title(report: EvaluationReport, what: str) -> str:
    return (
        f"{what}: {report.model_name} v{report.model_version}\n{report.split} split, n={report.n}, "
        f"positives={report.positives}"
    )


def roc_plot(y: np.ndarray, p: np.ndarray, report: EvaluationReport, path: Path) -> Path:
    from sklearn.metrics import roc_curve

    fig = _figure()
    ax = fig.add_subplot()
    reason = one_class_reason(y, f"{report.split} split")
    if reason:
        _undefined(ax, f"ROC undefined: {reason}")
    else:
        fpr, tpr, _ = roc_curve(y, p)
        ax.plot(fpr, tpr, lw=1.5, label=f"AUROC {report.metrics['auroc'].format()}")
        tm = report.threshold_metrics
        if tm is not None and tm.specificity is not None and tm.sensitivity is not None:
            ax.plot(
                [1 - tm.specificity],
                [tm.sensitivity],
                "o",
                color="C3",
                label=f"threshold {tm.threshold:.3f}",
            )
        ax.legend(loc="lower right", fontsize=8)
    ax.plot([0, 1], [0, 1], ls="--", lw=0.8, color="grey")
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", xlim=(0, 1), ylim=(0, 1.01))
    ax.set_title(_title(report, "ROC"), fontsize=9)
    return _save(fig, path)


def precision_recall_plot(
    y: np.ndarray, p: np.ndarray, report: EvaluationReport, path: Path
) -> Path:
    from sklearn.metrics import precision_recall_curve

    fig = _figure()
    ax = fig.add_subplot()
    reason = one_class_reason(y, f"{report.split} split")
    if reason:
        _undefined(ax, f"precision-recall undefined: {reason}")
    else:
        precision, recall, _ = precision_recall_curve(y, p)
        ax.step(
            recall,
            precision,
            where="post",
            lw=1.5,
            label=f"AUPRC {report.metrics['auprc'].format()}",
        )
        ax.axhline(
            report.prevalence,
            ls="--",
            lw=0.8,
            color="grey",
            label=f"prevalence {report.prevalence:.3f}",
        )
        tm = report.threshold_metrics
        if tm is not None and tm.ppv is not None and tm.sensitivity is not None:
            ax.plot(
                [tm.sensitivity], [tm.ppv], "o", color="C3", label=f"threshold {tm.threshold:.3f}"
            )
        ax.legend(loc="upper right", fontsize=8)
    ax.set(xlabel="recall (sensitivity)", ylabel="precision (PPV)", xlim=(0, 1), ylim=(0, 1.01))
    ax.set_title(_title(report, "Precision-recall"), fontsize=9)
    return _save(fig, path)


def calibration_plot(y: np.ndarray, p: np.ndarray, report: EvaluationReport, path: Path) -> Path:
    """Reliability diagram (10 equal-frequency bins: informative when scores crowd near 0) above a score
    histogram. The ECE in the legend uses equal-width bins, see ``evaluation.metrics``."""
    from sklearn.calibration import calibration_curve

    fig = _figure((5, 5))
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3, 1))
    observed, predicted = calibration_curve(y, p, n_bins=CALIBRATION_BINS, strategy="quantile")
    m = report.metrics
    top.plot([0, 1], [0, 1], ls="--", lw=0.8, color="grey", label="ideal")
    top.plot(
        predicted,
        observed,
        "o-",
        ms=3,
        lw=1.2,
        label=f"ECE {m['ece'].format()}\nslope {m['calibration_slope'].format(2)}\n"
        f"intercept {m['calibration_intercept'].format(2)}",
    )
    top.set(ylabel="observed rate", ylim=(0, 1.01))
    top.legend(loc="upper left", fontsize=7)
    top.set_title(_title(report, "Calibration"), fontsize=9)
    bottom.hist(p, bins=40, range=(0, 1), color="C0", alpha=0.7)
    bottom.set(xlabel="predicted risk", ylabel="rows", xlim=(0, 1))
    return _save(fig, path)


def subgroup_plot(report: EvaluationReport, path: Path) -> Path:
    """Horizontal AUROC bars per ``attribute=group``; groups without an AUROC are labelled n/a."""
    rows = [
        (f"{attr}={g.group}", g)
        for attr, summary in report.subgroups.items()
        for g in summary.groups
    ]
    fig = _figure((6, max(4.0, 0.3 * len(rows) + 1.2)))
    ax = fig.add_subplot()
    if not rows:
        _undefined(ax, "no subgroup attributes evaluated")
    positions = np.arange(len(rows))[::-1]
    base = min(
        [0.5] + [np.floor(g.auroc * 10) / 10 for _, g in rows if g.auroc is not None]
    )  # AUROC < 0.5 shows
    for pos, (_name, g) in zip(positions, rows):
        if g.auroc is None:
            ax.text(
                base + 0.005, pos, f"n/a ({g.reason})", va="center", fontsize=7, color="dimgrey"
            )
        else:
            ax.barh(pos, g.auroc - base, left=base, height=0.6, color="C0")
            ax.text(g.auroc + 0.005, pos, f"{g.auroc:.2f}", va="center", fontsize=7)
    overall = report.value("auroc")
    if overall is not None:
        ax.axvline(overall, color="C3", lw=1, ls="--", label=f"overall {overall:.3f}")
        ax.legend(loc="lower right", fontsize=7)
    ax.set_yticks(
        positions, [f"{name} (n={g.n}, pos={g.positives})" for name, g in rows], fontsize=7
    )
    ax.set(xlim=(base, 1.0), ylim=(-0.7, len(rows) - 0.3), xlabel="AUROC")
    ax.set_title(_title(report, "AUROC by subgroup"), fontsize=9)
    return _save(fig, path)


def render_plots(
    test: pl.DataFrame,
    report: EvaluationReport,
    out_dir: Path,
    *,
    label: str = "label",
    score: str = "score",
) -> dict[str, Path]:
    """Write roc.png, precision_recall.png, calibration.png and subgroups.png under ``out_dir`` (created);
    returns name -> path. ``test`` is the scored frame the report was computed from."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    y, p = check_inputs(test[label].to_numpy(), test[score].to_numpy())
    if len(y) != report.n:
        raise ValueError(f"test frame has {len(y)} rows but the report was computed on {report.n}")
    return {
        "roc": roc_plot(y, p, report, out_dir / "roc.png"),
        "precision_recall": precision_recall_plot(y, p, report, out_dir / "precision_recall.png"),
        "calibration": calibration_plot(y, p, report, out_dir / "calibration.png"),
        "subgroups": subgroup_plot(report, out_dir / "subgroups.png"),
    }
