"""What the prediction service refuses, and what it declines to score, in one place (``serving.scoring``
applies it to every request, by id or by row; ``docs/serving.md`` documents it).

Input range. The fitted preprocessor (``training/preprocessing.py``) records each numeric feature's train
median, mean and standard deviation, not its training range, so the service cannot clip to the range the
model saw. What it can refuse is what no training row could have held: a value that is not finite, or whose
magnitude exceeds ``MAX_ABS_VALUE`` (1e12). Such a value is refused with HTTP 422 naming the feature (and
the patient, for an online-store value), never scored: standardized and cast to float32, a value of 1e40
becomes infinite and the risk NaN. Requests cannot carry NaN or infinity at all (JSON has no such number and
the request models refuse them with a field-level 400); the online store can, so its values are checked too.

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
from typing import Any, Final, Literal

from features.tasks import TASKS
from training.spec import InputSpec

MAX_ABS_VALUE = 1e12
REQUIRED_VIEWS = ("demographics", "utilization")
SCORED: Final[Literal["scored"]] = "scored"
INSUFFICIENT_DATA: Final[Literal["insufficient_data"]] = "insufficient_data"


@dataclass(frozen=True)
class InputProblem:
    """One refused value: which row (and patient), which feature, why."""

    row: int
    feature: str
    reason: str
    patient_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class InputRefused(ValueError):
    """Values the model must not be given (HTTP 422): every problem found, each naming its feature."""

    def __init__(self, problems: Sequence[InputProblem]):
        self.problems = list(problems)
        shown = "; ".join(
            f"{p.feature} {p.reason}"
            + (f" (patient {p.patient_id})" if p.patient_id else f" (row {p.row})")
            for p in self.problems[:10]
        )
        more = f" and {len(self.problems) - 10} more" if len(self.problems) > 10 else ""
        super().__init__(
            f"{len(self.problems)} input value(s) refused, not scored: {shown}{more}; values must be "
            f"finite with magnitude at most {MAX_ABS_VALUE:g}"
        )


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
