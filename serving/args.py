"""The template arguments of the prediction service (``serving.service``), pinned into a Bento at build time.

A module of its own so that the build (``serving.build``) can validate them without importing the service
module: BentoML imports that module once per process, and it must first see the arguments it is built with.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from serving.policy import DEFAULT_RANGE_POLICY, RangePolicy
from serving.schemas import DEFAULT_MAX_BATCH, DEFAULT_TASK


class ServiceArgs(BaseModel):
    """Template arguments pinned into a bento at build time (``serving.build``)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_tag: str | None = Field(default=None, description="BentoML model tag (name:version)")
    registered_model: str = Field(
        default="clinical-readmission", description="MLflow registered model"
    )
    model_version: str = Field(default="", description="MLflow model version")
    mlflow_run_id: str = ""
    task: str = DEFAULT_TASK
    feature_service: str = "readmission_v1"
    training_set_digest: str = ""
    landing_snapshot_id: str = ""
    threshold: float | None = Field(
        default=None, ge=0.0, le=1.0, description="operating point, if chosen"
    )
    max_batch: int = Field(default=DEFAULT_MAX_BATCH, ge=1, le=10_000)
    max_body_bytes: int = Field(default=4_000_000, ge=1_024)
    timeout_s: float = Field(default=30.0, gt=0)
    workers: int = Field(default=1, ge=1)
    enforce_ttl: bool = Field(
        default=True, description="null feature values older than their view's TTL"
    )
    range_policy: RangePolicy = Field(
        default=DEFAULT_RANGE_POLICY,
        description=(
            "numeric values outside the training range the model's preprocessor recorded (train min..max): "
            "`clip` (default) clips them to the nearest bound before scoring and lists them in the answer's "
            "`clipped`; `refuse` answers 422 naming the features and their training range; `off` scores them "
            "as they are (serving.policy). A model without a recorded range gets no range policy"
        ),
    )
    torch_threads: int = Field(
        default=1, ge=1, description="intra-op threads per worker (small batches)"
    )
    access_log: bool = Field(default=True, description="BentoML's per-request access log")
    metrics: bool = Field(default=True, description="BentoML's Prometheus metrics (/metrics)")
    tracing: bool = Field(
        default=False,
        description=(
            "BentoML's OpenTelemetry spans on the prediction endpoints. Off by default: no span exporter is "
            "configured, "
            "so the spans would be built and dropped, and building them was the largest part of BentoML's own cost "
            "per request (benchmarks/results/serving.json). Turn on together with a tracing exporter in the BentoML "
            "configuration (BENTOML_CONFIG: tracing.exporter_type)."
        ),
    )
