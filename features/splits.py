"""Temporal train/validation/test splits of a task's index events, and the checks a training set must pass.

The split is by index time (the task's ``TemporalSplit`` fractions of the events, in time order), so a
model is validated and tested on a later period than it learned from. Patients may appear in more than
one split (that is temporal validation, and it is recorded as overlap). What may not happen is a label
decided inside the next split's period: with ``purge`` an event whose label window ends after the next
split starts is dropped and counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from features.spec import ENTITY_KEY, EVENT_TIMESTAMP
from features.tasks import TaskDefinition

SPLITS = ("train", "validation", "test")
SPLIT = "split"


@dataclass
class SplitResult:
    frame: pl.DataFrame  # the events with a ``split`` column, purged events removed, in time order
    starts: dict[str, datetime | None]  # split -> the first event time it may hold (cutoff)
    purged: dict[
        str, int
    ]  # split -> events dropped because their label window crossed into the next

    def summary(self) -> dict:
        return split_summary(self.frame) | {
            "starts": {k: v.isoformat() if v else None for k, v in self.starts.items()},
            "purged": self.purged,
        }


def window_end(task: TaskDefinition) -> pl.Expr:
    """When each event's label window closes (index end + window)."""
    _, end = task.label_window
    return pl.col(EVENT_TIMESTAMP) + pl.duration(microseconds=int(end / timedelta(microseconds=1)))


def temporal_split(events: pl.DataFrame, task: TaskDefinition) -> SplitResult:
    """Assign each index event to train, validation or test by its event time (ties stay together)."""
    if events.height < len(SPLITS):
        raise ValueError(
            f"{task.name}: {events.height} index events cannot be split into {', '.join(SPLITS)}"
        )
    frame = events.sort(EVENT_TIMESTAMP, ENTITY_KEY)
    times = frame[EVENT_TIMESTAMP]
    n = frame.height
    val_start = times[min(int(n * task.split.train), n - 1)]
    test_start = times[min(int(n * (task.split.train + task.split.validation)), n - 1)]
    frame = frame.with_columns(
        pl.when(pl.col(EVENT_TIMESTAMP) < val_start)
        .then(pl.lit("train"))
        .when(pl.col(EVENT_TIMESTAMP) < test_start)
        .then(pl.lit("validation"))
        .otherwise(pl.lit("test"))
        .alias(SPLIT)
    )
    purged = {s: 0 for s in SPLITS}
    if task.split.purge:
        next_start = (
            pl.when(pl.col(SPLIT) == "train")
            .then(pl.lit(val_start))
            .when(pl.col(SPLIT) == "validation")
            .then(pl.lit(test_start))
            .otherwise(None)
        )
        crossing = (window_end(task) > next_start).fill_null(False)
        counts = frame.filter(crossing).group_by(SPLIT).len()
        purged.update(dict(zip(counts[SPLIT].to_list(), counts["len"].to_list())))
        frame = frame.filter(~crossing)
    return SplitResult(
        frame, {"train": times[0], "validation": val_start, "test": test_start}, purged
    )


def split_summary(frame: pl.DataFrame) -> dict:
    """Per split: events, positives, prevalence, patients, time range; and the patients shared by splits."""
    out: dict = {"splits": {}}
    patients: dict[str, set[str]] = {}
    for name in SPLITS:
        part = frame.filter(pl.col(SPLIT) == name)
        positives = int(part["label"].sum()) if part.height else 0
        patients[name] = set(part[ENTITY_KEY].to_list())
        out["splits"][name] = {
            "events": part.height,
            "positives": positives,
            "prevalence": round(positives / part.height, 4) if part.height else None,
            "patients": len(patients[name]),
            "first": part[EVENT_TIMESTAMP].min().isoformat() if part.height else None,
            "last": part[EVENT_TIMESTAMP].max().isoformat() if part.height else None,
        }
    out["patient_overlap"] = {
        f"{a}&{b}": len(patients[a] & patients[b])
        for i, a in enumerate(SPLITS)
        for b in SPLITS[i + 1 :]
    }
    out["events"] = frame.height
    return out


def window_crossings(frame: pl.DataFrame, task: TaskDefinition) -> dict[str, int]:
    """For each split and the one after it: events whose label window closes after the next split's first
    event. All zero for a valid temporal split."""
    out = {}
    for current, following in zip(SPLITS, SPLITS[1:]):
        nxt = frame.filter(pl.col(SPLIT) == following)[EVENT_TIMESTAMP].min()
        part = frame.filter(pl.col(SPLIT) == current)
        out[f"{current}->{following}"] = (
            0 if nxt is None else int(part.select((window_end(task) > nxt).sum()).item())
        )
    return out


def split_order_violations(frame: pl.DataFrame) -> dict[str, int]:
    """Events of a split earlier than the last event of the split before it (a split not by time)."""
    out = {}
    for current, following in zip(SPLITS, SPLITS[1:]):
        last = frame.filter(pl.col(SPLIT) == current)[EVENT_TIMESTAMP].max()
        nxt = frame.filter(pl.col(SPLIT) == following)
        out[f"{current}->{following}"] = (
            0 if last is None else int((nxt[EVENT_TIMESTAMP] < last).sum())
        )
    return out


def feature_time_violations(
    frame: pl.DataFrame, stamps: Iterable[tuple[str, str, int]]
) -> dict[str, dict[str, int]]:
    """Per view (name, stamp column, TTL days): joined feature rows stamped after the index time ("future")
    or older than the TTL ("stale"). Both must be zero: Feast joins neither."""
    out = {}
    for view, column, ttl_days in stamps:
        stamp, at = pl.col(column), pl.col(EVENT_TIMESTAMP)
        counts = frame.select(
            future=(stamp > at).sum(),
            stale=(stamp < at - pl.duration(days=ttl_days)).sum(),
            missing=stamp.is_null().sum(),
        )
        out[view] = {k: int(v) for k, v in counts.row(0, named=True).items()}
    return out
