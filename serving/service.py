"""The BentoML service of a task's champion model: risk by patient pseudonym (features from the Feast online
store) or by raw feature rows, each answer carrying the model version and its training lineage.

Pinning. Everything that identifies the served model is a BentoML template argument (``ServiceArgs``, read
with ``bentoml.use_arguments`` when this module is imported). ``serving.build.build_bento`` passes them to
``bentoml.bentos.build(args=...)``; BentoML stores them in the bento (``bento.info.args``) and sets them again
before importing this module whenever the bento is served, so a bento always serves the model version it was
built for. ``model_tag`` names the BentoML model (imported from the MLflow registry at build time) and becomes
the class-level ``bentoml.models.BentoModel``, which is how the bento carries that model.

Without arguments (a plain ``import serving.service`` in a test, or a tool reading the API) the module imports
with the defaults below and no model; starting the service then fails with a clear message. During
development it can be served straight from source: ``bentoml serve serving.service:ClinicalRiskService
--arg model_tag=clinical-readmission:v1-... --arg model_version=1 ...``.

Endpoints (POST, JSON in and out): ``/predict_by_id``, ``/predict_by_id_batch``, ``/predict_row``,
``/predict_row_batch``.
- A request that does not validate is HTTP 400 with pydantic's error list; each error's ``loc`` names the field.
- An unknown patient (no feature row in the online store) is HTTP 404 ``{"error": ..., "unknown_patient_ids":
  [...]}``. Batches are all or nothing: one unknown id fails the call and the 404 lists every unknown id (a
  caller acting on risk scores should not get a silently shorter list).
- Pickled bodies (BentoML's internal ``application/vnd.bentoml+pickle``) and any non-JSON body are 415, bodies
  over ``max_body_bytes`` 413 (``serving.guard.RequestGuard``); requests slower than ``timeout_s`` are cut off
  by BentoML (``traffic.timeout``). The server binds 127.0.0.1 unless told otherwise.

Settings (``CLINICAL_MLOPS_*``: the Feast home, the online store) are read when the service starts, in
``__init__``, never at import.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import bentoml
from starlette.responses import JSONResponse

from serving.args import ServiceArgs
from serving.batching import PatientBatcher
from serving.guard import RequestGuard
from serving.schemas import PredictByIdRequest, Prediction, PredictionBatch, schemas_for
from serving.scoring import UnknownPatients, load_scorer

logger = logging.getLogger(__name__)

SERVICE_NAME = "clinical_risk"

args: ServiceArgs = bentoml.use_arguments(ServiceArgs)
SCHEMAS = schemas_for(args.task, args.max_batch)
# module-level names: BentoML resolves the endpoint annotations against this module's globals. The models are
# built at run time (create_model in serving.schemas), so to the type checker they are Any
PredictByIdBatchRequest: Any = SCHEMAS.PredictByIdBatchRequest
PredictRowRequest: Any = SCHEMAS.PredictRowRequest
PredictRowBatchRequest: Any = SCHEMAS.PredictRowBatchRequest


def unknown_response(error: UnknownPatients) -> JSONResponse:
    return JSONResponse(
        {"error": str(error), "unknown_patient_ids": error.patient_ids}, status_code=404
    )


# without ``tracing`` these paths are excluded from BentoML's OpenTelemetry middleware (``ServiceArgs.tracing``)
PREDICT_PATHS = ["/predict_by_id", "/predict_by_id_batch", "/predict_row", "/predict_row_batch"]


@bentoml.service(
    name=SERVICE_NAME,
    workers=args.workers,
    traffic={"timeout": args.timeout_s},
    http={"host": "127.0.0.1"},
    logging={"access": {"enabled": args.access_log}},
    metrics={"enabled": args.metrics},
    **({} if args.tracing else {"tracing": {"excluded_urls": PREDICT_PATHS}}),
)
class ClinicalRiskService:
    if args.model_tag:
        bento_model = bentoml.models.BentoModel(args.model_tag)

    def __init__(self) -> None:
        if not args.model_tag:
            raise RuntimeError(
                "no model is pinned: serve a bento built by serving.build.build_bento, or pass "
                "--arg model_tag=<bentoml model tag> (and model_version, ...) to bentoml serve"
            )
        self.scorer = load_scorer(args, self.bento_model)
        self.batcher = PatientBatcher(self.scorer.score_ids, max_batch=args.max_batch)

    @bentoml.api
    async def predict_by_id(self, request: PredictByIdRequest, /) -> Prediction:
        try:  # concurrent requests are scored together (serving.batching)
            return await self.batcher.score(request.patient_id)
        except UnknownPatients as unknown:
            # a 404: BentoML sends a starlette Response as it is, whatever the annotated output type
            return unknown_response(unknown)  # type: ignore[return-value]

    @bentoml.api
    def predict_by_id_batch(self, request: PredictByIdBatchRequest, /) -> PredictionBatch:
        try:
            return PredictionBatch(predictions=self.scorer.score_ids(request.patient_ids))
        except UnknownPatients as unknown:
            # a 404: BentoML sends a starlette Response as it is, whatever the annotated output type
            return unknown_response(unknown)  # type: ignore[return-value]

    @bentoml.api
    def predict_row(self, request: PredictRowRequest, /) -> Prediction:
        return self.scorer.score_rows([request.features.model_dump()])[0]

    @bentoml.api
    def predict_row_batch(self, request: PredictRowBatchRequest, /) -> PredictionBatch:
        return PredictionBatch(
            predictions=self.scorer.score_rows([r.model_dump() for r in request.rows])
        )


# @bentoml.service made the class a bentoml Service; mypy keeps a decorated class's own type
cast(Any, ClinicalRiskService).add_asgi_middleware(RequestGuard, max_body_bytes=args.max_body_bytes)
