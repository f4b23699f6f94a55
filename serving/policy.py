"""What the prediction service refuses, clips, and declines to score, in one place (``serving.scoring``
applies it to every request, by id or by row; ``docs/serving.md`` documents it).

Impossible values. What no training row could have held is refused first, whatever the range policy: a value
that is not finite, or whose magnitude exceeds ``MAX_ABS_VALUE`` (1e12). Such a value is refused with HTTP 422
naming the feature (and the patient, for an online-store value), never scored: standardized and cast to
float32, a value of 1e40 becomes infinite and the risk NaN. Requests cannot carry NaN or infinity at all (JSON
has no such number and the request models refuse them with a field-level 400); the online store can, so its
values are checked too.

Training range (``RangePolicy``, the service argument ``range_policy``). The fitted preprocessor
(``training/preprocessing.py``) records each numeric feature's training range: the min and max of its observed
TRAIN values. A served value outside it is one the model never saw; far outside, its z-score runs to the
thousands and the float32 sigmoid saturates to a risk of exactly 0 or 1. The policy for such a value:

- ``clip`` (the default): the value is clipped to the nearest bound before scoring, and the answer lists it in
  ``clipped`` (feature, value received, bound used) so the client knows what was scored;
- ``refuse``: HTTP 422 naming every such feature with its training range (``OutOfTrainingRange``);
- ``off``: no range policy; the value is scored as it is.

A model whose preprocessor state predates the range (no ``min``/``max``) gets no range policy whatever the
setting: its answers say ``range_policy: "unavailable"``. A feature never observed in train has no range and is
never clipped. Note-embedding components have no recorded range.

Insufficient data. A view whose every input feature is null (absent from the online store, or older than
its TTL) is a missing view. The model would still produce a number (medians and missing flags), but that
number describes a patient the service knows nothing current about. Such a row is answered with
``status: "insufficient_data"``, the missing views and no risk when any *required* view is missing
(``REQUIRED_VIEWS``: demographics and utilization, the views every index event of every task has: the
patient and the encounter being scored) or when every view of the task is missing. Other views may be
legitimately empty (no labs drawn, no medications, no discharge note yet): the row is scored and the
response lists them in ``missing_views``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal, cast, get_args

from features.tasks import TASKS
from training.spec import InputSpec

MAX_ABS_VALUE = 1e12
REQUIRED_VIEWS = ("demographics", "utilization")
SCORED: Final[Literal["scored"]] = "scored"
INSUFFICIENT_DATA: Final[Literal["insufficient_data"]] = "insufficient_data"

RangePolicy = Literal["clip", "refuse", "off"]
RANGE_POLICIES: tuple[str, ...] = get_args(RangePolicy)
DEFAULT_RANGE_POLICY: Final[RangePolicy] = "clip"
# the policy an answer reports: the setting, or "unavailable" when the model records no training range
AppliedRangePolicy = Literal["clip", "refuse", "off", "unavailable"]
NO_RANGE: Final[Literal["unavailable"]] = "unavailable"


@dataclass(frozen=True)
class InputProblem:
    """One refused value: which row (and patient), which feature, why (and, for a value outside the training
    range, that range)."""

    row: int
    feature: str
    reason: str
    patient_id: str | None = None
    training_range: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class InputRefused(ValueError):
    """Values the model must not be given (HTTP 422): every problem found, each naming its feature."""

    rule = f"values must be finite with magnitude at most {MAX_ABS_VALUE:g}"

    def __init__(self, problems: Sequence[InputProblem]):
        self.problems = list(problems)
        shown = "; ".join(
            f"{p.feature} {p.reason}"
            + (f" (patient {p.patient_id})" if p.patient_id else f" (row {p.row})")
            for p in self.problems[:10]
        )
        more = f" and {len(self.problems) - 10} more" if len(self.problems) > 10 else ""
        super().__init__(
            f"{len(self.problems)} input value(s) refused, not scored: {shown}{more}; {self.rule}"
        )


class OutOfTrainingRange(InputRefused):
    """Values outside the model's training range under the ``refuse`` range policy (HTTP 422): each problem
    names its feature and carries the training range."""

    rule = "range policy 'refuse': numeric values must lie within the training range the model was fitted on"


@dataclass(frozen=True)
class ClippedValue:
    """One value the ``clip`` range policy changed: the feature, the value received, the bound scored."""

    feature: str
    value: float
    bound: float


def applied_range_policy(
    policy: str, training_range: Mapping[str, tuple[float, float]] | None
) -> AppliedRangePolicy:
    """The policy answers report: ``policy``, or ``"unavailable"`` when there is no training range to apply."""
    if policy not in RANGE_POLICIES:
        raise ValueError(f"unknown range policy {policy!r}; one of {list(RANGE_POLICIES)}")
    if policy != "off" and training_range is None:
        return NO_RANGE
    return cast(AppliedRangePolicy, policy)


def apply_training_range(
    columns: Mapping[str, Sequence[Any]],
    training_range: Mapping[str, tuple[float, float]] | None,
    policy: str,
    patient_ids: Sequence[str | None],
) -> tuple[dict[str, Sequence[Any]], list[list[ClippedValue]]]:
    """The columns to score and, per row, the values clipped (``clip``); ``refuse`` raises
    ``OutOfTrainingRange`` listing every value outside its feature's [min, max]; ``off`` or no recorded range
    (``training_range`` None) passes everything through. Run after ``check_inputs`` (values are finite);
    nulls are missing values, never clipped. ``columns`` is not modified: a clipped column is a new list."""
    clipped: list[list[ClippedValue]] = [[] for _ in patient_ids]
    out: dict[str, Sequence[Any]] = dict(columns)
    if applied_range_policy(policy, training_range) in ("off", NO_RANGE):
        return out, clipped
    assert training_range is not None
    problems: list[InputProblem] = []
    for name, (low, high) in training_range.items():
        values = columns.get(name)
        if values is None:
            continue
        changed: list[Any] | None = None
        for i, value in enumerate(values):
            if value is None or isinstance(value, (bool, str)):
                continue
            try:
                number = float(value)
            except (TypeError, ValueError, OverflowError):
                continue  # not a number: check_inputs or the transform names it
            if low <= number <= high:
                continue
            bound = low if number < low else high
            if policy == "refuse":
                problems.append(
                    InputProblem(
                        i,
                        name,
                        f"is {number:g}, outside the training range [{low:g}, {high:g}]",
                        patient_ids[i],
                        (low, high),
                    )
                )
                continue
            if changed is None:
                changed = list(values)
            changed[i] = bound
            clipped[i].append(ClippedValue(name, number, bound))
        if changed is not None:
            out[name] = changed
    if problems:
        raise OutOfTrainingRange(problems)
    return out, clipped


def _number_problem(value: Any) -> str | None:
    if value is None or isinstance(value, (bool, str)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return f"has magnitude above {MAX_ABS_VALUE:g}"
    except (TypeError, ValueError):
        return f"is not a number ({value!r})"
    if not math.isfinite(number):
        return f"is not finite ({value!r})"
    if abs(number) > MAX_ABS_VALUE:
        return f"has magnitude {number:.3g} above {MAX_ABS_VALUE:g}"
    return None


def check_inputs(
    columns: Mapping[str, Sequence[Any]],
    spec: InputSpec,
    patient_ids: Sequence[str | None],
) -> None:
    """Raise ``InputRefused`` listing every numeric value (numbers and note-embedding components) that is not
    finite or exceeds ``MAX_ABS_VALUE``; nulls are missing values, not problems."""
    problems: list[InputProblem] = []
    for name in spec.numeric:
        for i, value in enumerate(columns[name]):
            reason = _number_problem(value)
            if reason:
                problems.append(InputProblem(i, name, reason, patient_ids[i]))
    for name in spec.embeddings:
        for i, vector in enumerate(columns[name]):
            if vector is None:
                continue
            for j, value in enumerate(vector):
                reason = _number_problem(value)
                if reason:
                    problems.append(InputProblem(i, f"{name}[{j}]", reason, patient_ids[i]))
                    break  # one problem per embedding row is enough to name it
    if problems:
        raise InputRefused(problems)


def required_views(task: str) -> tuple[str, ...]:
    """The views of ``task`` without which a row is not scored (``REQUIRED_VIEWS`` it reads)."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known tasks: {sorted(TASKS)}")
    return tuple(v for v in TASKS[task].feature_views if v in REQUIRED_VIEWS)


def insufficient_reason(
    missing: Sequence[str], required: Sequence[str], views: Sequence[str]
) -> str | None:
    """Why a row with these missing views is not scored, or None when it is scored."""
    absent = [v for v in required if v in missing]
    if absent:
        return (
            f"required feature view(s) {absent} have no current features (absent from the online store or "
            "older than their TTL): no risk is given"
        )
    if views and all(v in missing for v in views):
        return "no feature view has current features: no risk is given"
    return None
