"""What a task's model reads: the input spec derived from the task's feature views.

Nothing in training/ hard-codes a feature name. The model inputs are exactly the features of the feature
views the task declares (``features.tasks.TASKS[task].feature_views``), in view order, with the dtypes the
feature views promise (``features.build.VIEWS``). Key, label, split and ``<view>_feature_ts`` metadata
columns of a training set are never inputs. The spec is a small frozen value that round-trips through
plain JSON types, so it can travel inside a saved model and be compared at load time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from features.build import VIEWS
from features.tasks import TASKS
from features.transforms import NOTE_DIM

NUMERIC = ("int64", "float64")
BOOLEAN = ("bool",)
CATEGORICAL = ("string",)
EMBEDDING = ("float32_list",)
KNOWN_DTYPES = NUMERIC + BOOLEAN + CATEGORICAL + EMBEDDING


@dataclass(frozen=True)
class InputSpec:
    """The ordered (name, dtype) model inputs of one task, plus the embedding width."""

    task: str
    features: tuple[tuple[str, str], ...]
    embedding_dim: int = NOTE_DIM

    def __post_init__(self) -> None:
        names = [n for n, _ in self.features]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(
                f"task {self.task!r}: feature names appear in more than one view: {dupes}"
            )
        unknown = sorted({d for _, d in self.features if d not in KNOWN_DTYPES})
        if unknown:
            raise ValueError(
                f"task {self.task!r}: unsupported feature dtypes {unknown} (known: {KNOWN_DTYPES})"
            )
        if len(self.embeddings) > 1:
            raise ValueError(
                f"task {self.task!r}: the model has one note tower, got embeddings {self.embeddings}"
            )

    def _of(self, dtypes: tuple[str, ...]) -> list[str]:
        return [n for n, d in self.features if d in dtypes]

    @property
    def columns(self) -> list[str]:
        """Every input column, in spec order."""
        return [n for n, _ in self.features]

    @property
    def dtypes(self) -> dict[str, str]:
        return dict(self.features)

    @property
    def numeric(self) -> list[str]:
        return self._of(NUMERIC)

    @property
    def boolean(self) -> list[str]:
        return self._of(BOOLEAN)

    @property
    def categorical(self) -> list[str]:
        return self._of(CATEGORICAL)

    @property
    def embeddings(self) -> list[str]:
        return self._of(EMBEDDING)

    @property
    def embedding(self) -> str | None:
        """The note embedding column, or None for a task without a note view."""
        return self.embeddings[0] if self.embeddings else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "features": [[n, d] for n, d in self.features],
            "embedding_dim": self.embedding_dim,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputSpec:
        return cls(
            task=data["task"],
            features=tuple((str(n), str(d)) for n, d in data["features"]),
            embedding_dim=int(data["embedding_dim"]),
        )


def input_spec(task: str) -> InputSpec:
    """The model inputs of ``task``: the features of its feature views, in declaration order."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known tasks: {sorted(TASKS)}")
    views = TASKS[task].feature_views
    missing = [v for v in views if v not in VIEWS]
    if missing:
        raise ValueError(f"task {task!r} reads feature views that do not exist: {missing}")
    features = tuple((name, dtype) for v in views for name, dtype in VIEWS[v].features.items())
    return InputSpec(task=task, features=features, embedding_dim=NOTE_DIM)
