"""What `pipeline run` shows: each step as it finishes (with a live bar on a terminal), third-party warnings and
log chatter kept out unless ``--verbose``, full asset keys at any width, and which task could not be trained on
this cohort, why, and what that means for the exit code."""

from __future__ import annotations

import contextlib
import logging
import os
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

# our top-level packages (pyproject's [tool.importlinter] root_packages): a warning attributed to a file outside
# them is third-party noise at the default level (ibis's and SQLAlchemy's deprecations, Ray Data's, Dagster's beta
# notices ...)
PROJECT_ROOT = Path(__file__).resolve().parents[1]
OUR_PACKAGES = (
    "cli",
    "orchestration",
    "assets",
    "audit",
    "serving",
    "monitoring",
    "evaluation",
    "feature_store",
    "training",
    "features",
    "deid",
    "ingestion",
    "cohort",
    "lineage",
    "lakehouse",
    "clinical_mlops",
)
# third-party loggers that talk at INFO (MLflow creating its tables, Alembic migrating them, Feast, BentoML):
# WARNING and up only. Ray's notice that it turned token authentication on for the local cluster (a WARNING)
# is the secure default, not news: ERROR and up only
MLFLOW_PROGRESS_BARS = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
QUIET_LOGGERS = {
    "mlflow": logging.WARNING,
    "alembic": logging.WARNING,
    "feast": logging.WARNING,
    "bentoml": logging.WARNING,
    "httpx": logging.WARNING,
    "urllib3": logging.WARNING,
    "ray._private.authentication": logging.ERROR,
}


def is_ours(filename: str) -> bool:
    """Whether a warning's file is one of our packages' modules (not a library's, not the virtualenv's)."""
    try:
        relative = Path(filename).resolve().relative_to(PROJECT_ROOT)
    except ValueError:
        return False
    return relative.parts[0] in OUR_PACKAGES


@contextlib.contextmanager
def quiet_third_party(verbose: bool) -> Iterator[None]:
    """Unless ``verbose``: drop warnings attributed to files outside our packages, and hold the chatty
    third-party loggers at ``QUIET_LOGGERS``; both are restored afterwards.

    Warnings are dropped where they are shown (``warnings.showwarning``), not by a filter: libraries add their
    own filters when they are imported, in front of ours (Feast puts ``once`` for every DeprecationWarning
    first), and most of them are imported during the run."""
    if verbose:
        yield
        return
    saved = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    with warnings.catch_warnings(), _mlflow_warnings_only():  # catch_warnings restores showwarning
        shown = warnings.showwarning

        def show_ours(message, category, filename, lineno, file=None, line=None) -> None:
            if is_ours(filename):
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show_ours
        for name, level in QUIET_LOGGERS.items():
            logging.getLogger(name).setLevel(level)
        try:
            yield
        finally:
            for name, level in saved.items():
                logging.getLogger(name).setLevel(level)


@contextlib.contextmanager
def _mlflow_warnings_only() -> Iterator[None]:
    """MLflow prints its event log (INFO logs, "Successfully registered model ...", "Created version ...")
    through a stream of its own, whatever the logger levels: that stream off, its warnings and errors shown
    through a handler of ours instead, and no artifact download progress bars.

    The stream is held off with MLflow's own counted switch (what its autologging uses): a plain
    ``disable_logging()`` is undone by the next module that toggles it (``mlflow.types.responses`` does when
    imported)."""
    from mlflow.utils.autologging_utils.logging_and_warnings import (
        MlflowEventsAndWarningsBehaviorGlobally as MlflowEvents,
    )

    logger = logging.getLogger("mlflow")
    handler = logging.StreamHandler()  # stderr
    handler.setLevel(logging.WARNING)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    bars_was = os.environ.get(MLFLOW_PROGRESS_BARS)
    os.environ[MLFLOW_PROGRESS_BARS] = "false"
    logger.addHandler(handler)
    try:
        with MlflowEvents(disable_event_logs=True, disable_warnings=False, reroute_warnings=False):
            yield
    finally:
        logger.removeHandler(handler)
        if bars_was is None:
            os.environ.pop(MLFLOW_PROGRESS_BARS, None)
        else:
            os.environ[MLFLOW_PROGRESS_BARS] = bars_was


def print_wide(console: Console, renderable: RenderableType) -> None:
    """Print without cutting anything: off a terminal (a pipe, a log file: 80 columns by default) at the
    renderable's own full width; on a terminal at its width (tables fold long cells, never truncate them)."""
    if console.is_terminal:
        console.print(renderable)
        return
    width = console.measure(renderable, options=console.options.update_width(10_000)).maximum
    narrow = console.width
    console.width = max(narrow, width)  # print() never goes wider than the console
    try:
        console.print(renderable, soft_wrap=False)
    finally:
        console.width = narrow


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


class StepView:
    """Receives ``orchestration.run.StepUpdate``s: prints one line per finished step (elapsed run time, steps
    done of the plan, duration, what it materialized with row counts, failed checks, the root cause of a
    failure) and each step's warnings; on a terminal a live bar below names the steps running now."""

    def __init__(self, console: Console):
        self.console = console
        self.began = time.monotonic()
        self.running: dict[str, float] = {}
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        self.task = self.progress.add_task("materializing", total=None)

    def __enter__(self) -> StepView:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _line(self, text: str) -> None:
        self.progress.console.print(text, soft_wrap=True, highlight=False)

    def _describe_running(self) -> None:
        names = ", ".join(self.running) or "…"
        self.progress.update(self.task, description=f"running {names}")

    def __call__(self, update: Any) -> None:
        now = f"{_clock(time.monotonic() - self.began):>5}"
        if update.kind == "plan":
            self.progress.update(self.task, total=update.total)
            self._line(f"{now}  {update.total} steps to run")
        elif update.kind == "started":
            self.running[update.step] = time.monotonic()
            self._describe_running()
        elif update.kind == "warning":
            self._line(f"{now}  [yellow]warning[/yellow] {update.step}: {update.message}")
        elif update.kind in ("succeeded", "failed"):
            self.running.pop(update.step, None)
            self.progress.update(self.task, completed=update.done)
            self._describe_running()
            count = f"{update.done}/{update.total}" if update.total else str(update.done)
            took = f" {update.seconds:.1f}s" if update.seconds is not None else ""
            status = "[green]done[/green]  " if update.kind == "succeeded" else "[red]FAILED[/red]"
            detail = ""
            if len(update.assets) == 1:
                detail = f"  {update.assets[0]}"
            elif update.assets:
                detail = f"  {len(update.assets)} assets"
            if update.rows is not None:
                detail += f", {update.rows:,} rows"
            if update.failed_checks:
                detail += f"  check failed: {', '.join(update.failed_checks)}"
            if update.message:
                detail += f"\n         {update.message.splitlines()[0]}"
            self._line(f"{now}  {count:>7}  {status} {update.step}{took}{detail}")


def print_outcome(console: Console, summary: Any, strict: bool) -> int:
    """Which tasks were trained, which are not trainable on this cohort and why (the check, what it measured
    against what threshold, what was not built), any other failure; returns the exit code of the policy
    (``PipelineSummary.exit_code``)."""
    for task in summary.trained():
        console.print(f"task {task}: [green]trained[/green]", soft_wrap=True)
    for task in summary.without_model():
        console.print(
            f"task {task}: training set built; the graph trains no model for it (train=False in "
            "features/tasks.py)",
            soft_wrap=True,
        )
    for task, blocked in summary.blocked.items():
        console.print(
            f"task {task}: [yellow]not trainable on this cohort[/yellow]: {blocked['check']} "
            f"{blocked['reason']}"
            + (f"; not built: {', '.join(blocked['not_built'])}" if blocked["not_built"] else ""),
            soft_wrap=True,
        )
    for task in summary.untrained:
        console.print(
            f"task {task}: [red]not trained[/red] although its data passed the checks",
            soft_wrap=True,
        )
    for failed in summary.failed_steps:
        console.print(f"[red]step {failed['step']} failed:[/red] {failed['error']}", soft_wrap=True)
    code = summary.exit_code(strict)
    if summary.success:
        return code
    if code == 0:
        console.print(
            "pipeline finished: every task the cohort's data allows was trained; the others are reported "
            "above (exit 0; `--strict` makes a task that cannot be trained fail the command)",
            soft_wrap=True,
        )
    elif summary.failed_steps:
        console.print(
            f"[red]pipeline failed:[/red] {len(summary.failed_steps)} step(s) failed (above; exit 1)",
            soft_wrap=True,
        )
    elif summary.untrained:
        console.print(
            f"[red]pipeline failed:[/red] {', '.join(summary.untrained)} not trained (exit 1)",
            soft_wrap=True,
        )
    elif summary.blocked:
        why = (
            "a task is not trainable on this cohort and --strict is set"
            if strict and summary.trained()
            else "no task is trainable on this cohort"
        )
        console.print(f"[red]pipeline failed:[/red] {why} (exit 1)", soft_wrap=True)
    else:
        console.print(f"[red]pipeline failed:[/red] {summary.failure} (exit 1)", soft_wrap=True)
    return code
