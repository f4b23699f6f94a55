"""Request and response models of the prediction service (pydantic v2).

Requests are validated before anything is scored; a bad request is a field-level 4xx (BentoML answers a
pydantic ``ValidationError`` with HTTP 400 and the error list, each error naming its field in ``loc``).

- ``PredictByIdRequest`` / ``PredictByIdBatchRequest``: patient pseudonyms (``pat_`` + 24 lowercase hex, as
  ``deid.keys.DeidKey.pseudonym`` makes them); anything else - a raw MRN, a name - is refused before it reaches
  the feature store or a log line.
- ``PredictRowRequest`` / ``PredictRowBatchRequest``: raw feature rows. The row model is generated from the
  task's input spec (``training.spec.input_spec``): one field per model input with its type, every one
  *required but nullable* (send ``null`` for an unknown value: an omitted feature is an error, as in
  ``training.preprocessing.to_input_frame``), unknown keys forbidden (a misspelled feature is an error, never a
  silently missing value), no NaN/infinity, the note embedding exactly ``embedding_dim`` floats or null.
- ``Prediction`` / ``PredictionBatch``: the risk with the model version and the lineage it was trained on, or
  ``status: "insufficient_data"`` with the missing views and no risk (``serving.policy``); the values clipped
  to the training range before scoring (``clipped``) and the range policy that applied (``range_policy``).

``schemas_for(task, max_batch)`` builds (and caches) the set for one task and batch limit; the module-level
names are the default task's with the default limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated, Any, Literal, Optional

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    create_model,
    model_validator,
)

from serving.policy import AppliedRangePolicy
from training.spec import input_spec

DEFAULT_TASK = "readmission_30d"
DEFAULT_MAX_BATCH = 256
PSEUDONYM_PATTERN = r"^pat_[0-9a-f]{24}$"

PatientId = Annotated[
    str,
    Field(
        pattern=PSEUDONYM_PATTERN,
        description="patient pseudonym: pat_ + 24 hex digits",
        examples=["pat_0123456789abcdef01234567"],
    ),
]

_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False, str_max_length=10_000)


class PredictByIdRequest(BaseModel):
    model_config = _STRICT

    patient_id: PatientId


class ClippedFeature(BaseModel):
    """A value outside the model's training range, clipped to the nearest bound before scoring."""

    model_config = ConfigDict(allow_inf_nan=False)

    feature: str
    value: float = Field(description="the value received (from the request or the online store)")
    bound: float = Field(description="the training-range bound (train min or max) that was scored")


class Prediction(BaseModel):
    """One scored patient (or row) and what scored it; or, with ``status: "insufficient_data"``, why it was not
    scored (``serving.policy``): no risk, the missing views and the reason in ``detail``."""

    model_config = ConfigDict(protected_namespaces=(), allow_inf_nan=False)

    status: Literal["scored", "insufficient_data"] = Field(
        default="scored",
        description="scored: `risk` is the model's answer; insufficient_data: too few current features to "
        "score (see `missing_views` and `detail`), no risk",
    )
    risk: float | None = Field(
        default=None,
        ge=0.0,
        le=1.0,
        description="predicted probability of the task's outcome (null when not scored)",
    )
    patient_id: str | None = None
    model_name: str = Field(description="MLflow registered model")
    model_version: str = Field(description="MLflow model version")
    feature_service: str
    training_set_digest: str = Field(
        description="content digest of the training set the model learned from"
    )
    landing_snapshot_id: str = Field(
        description="the raw export snapshot the training data came from"
    )
    threshold: float | None = Field(
        default=None, description="operating point, when the service has one"
    )
    flagged: bool | None = Field(
        default=None, description="risk >= threshold, when a threshold is set and a risk is given"
    )
    missing_views: list[str] = Field(
        default_factory=list,
        description="feature views with no value for this patient (absent or older "
        "than the view's TTL): scored as missing, or the reason for insufficient_data",
    )
    detail: str | None = Field(default=None, description="why the row was not scored")
    clipped: list[ClippedFeature] = Field(
        default_factory=list,
        description="values outside the training range that were clipped to its nearest bound before scoring "
        "(range policy `clip`); empty when nothing was clipped",
    )
    range_policy: AppliedRangePolicy | None = Field(
        default=None,
        description="the out-of-training-range policy applied: clip, refuse or off; unavailable when the model "
        "records no training range (trained before ranges were recorded), so no range policy applies",
    )

    @model_validator(mode="after")
    def _risk_matches_status(self) -> Prediction:
        if self.status == "scored" and self.risk is None:
            raise ValueError("a scored prediction needs a risk")
        if self.status != "scored" and (self.risk is not None or self.flagged is not None):
            raise ValueError(f"a prediction with status {self.status!r} carries no risk")
        return self


class PredictionBatch(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    predictions: list[Prediction]


@dataclass(frozen=True)
class Schemas:
    """The request models of one task and batch limit."""

    task: str
    max_batch: int
    Row: type[BaseModel]
    PredictRowRequest: type[BaseModel]
    PredictRowBatchRequest: type[BaseModel]
    PredictByIdBatchRequest: type[BaseModel]


def _feature_type(dtype: str, embedding_dim: int) -> Any:
    """Strict types: JSON ``"3"`` is not a number, ``1`` is not a boolean (an int is fine for a float)."""
    if dtype == "int64":
        return StrictInt
    if dtype == "float64":
        return StrictFloat
    if dtype == "bool":
        return StrictBool
    if dtype == "string":
        return StrictStr
    if dtype == "float32_list":
        return Annotated[
            list[StrictFloat], Field(min_length=embedding_dim, max_length=embedding_dim)
        ]
    raise ValueError(f"no request type for feature dtype {dtype!r}")


@lru_cache(maxsize=16)
def schemas_for(task: str = DEFAULT_TASK, max_batch: int = DEFAULT_MAX_BATCH) -> Schemas:
    """Request models for ``task`` (fields from its input spec) with batches of 1..``max_batch``."""
    if max_batch < 1:
        raise ValueError(f"max_batch must be >= 1, got {max_batch}")
    spec = input_spec(task)
    fields: dict[str, Any] = {
        name: (Optional[_feature_type(dtype, spec.embedding_dim)], ...)  # noqa: UP045 - pydantic create_model field spec
        for name, dtype in spec.features
    }
    # a class built at run time: a value, not a type, to the type checker (Any lets it parametrize list[row])
    row: Any = create_model(f"FeatureRow_{task}", __config__=_STRICT, __module__=__name__, **fields)
    one = create_model(
        f"PredictRowRequest_{task}", __config__=_STRICT, __module__=__name__, features=(row, ...)
    )
    many = create_model(
        f"PredictRowBatchRequest_{task}",
        __config__=_STRICT,
        __module__=__name__,
        rows=(Annotated[list[row], Field(min_length=1, max_length=max_batch)], ...),
    )
    ids = create_model(
        f"PredictByIdBatchRequest_{max_batch}",
        __config__=_STRICT,
        __module__=__name__,
        patient_ids=(Annotated[list[PatientId], Field(min_length=1, max_length=max_batch)], ...),
    )
    return Schemas(task, max_batch, row, one, many, ids)


def __getattr__(name: str) -> Any:
    """``Row``, ``PredictRowRequest``, ``PredictRowBatchRequest``, ``PredictByIdBatchRequest`` of the default
    task and batch limit."""
    if name in ("Row", "PredictRowRequest", "PredictRowBatchRequest", "PredictByIdBatchRequest"):
        return getattr(schemas_for(DEFAULT_TASK, DEFAULT_MAX_BATCH), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
