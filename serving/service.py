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
- A value no training row could hold (not finite, magnitude over 1e12) is HTTP 422 naming the feature; a value
  outside the model's training range is clipped and listed in the answer's ``clipped`` (``range_policy`` clip,
  the default), refused with HTTP 422 naming its training range (refuse), or scored as it is (off); a row
  without a required feature view is answered ``status: "insufficient_data"`` with no risk
  (``serving.policy``); a failure while scoring is HTTP 500 with the request id, never a 400
  (``serving.answers``).
- An unknown patient (no feature row in the online store) is HTTP 404 ``{"error": ..., "unknown_patient_ids":
  [...]}``. Batches are all or nothing: one unknown id fails the call and the 404 lists every unknown id (a
  caller acting on risk scores should not get a silently shorter list).
- Pickled bodies (BentoML's internal ``application/vnd.bentoml+pickle``) and any non-JSON body are 415, bodies
  over ``max_body_bytes`` 413 (``serving.guard.RequestGuard``); requests slower than ``timeout_s`` are cut off
  by BentoML (``traffic.timeout``). The server binds 127.0.0.1 unless told otherwise.

Settings (``CLINICAL_MLOPS_HOME``, the online store: ``serving.runtime.RUNTIME_ENVS``) are read when the service
starts, never at import: checked once in ``bentoml serve``'s main process before workers start
(``@bentoml.on_deployment``: a missing or empty feature store stops the server with one line naming the
setting), then in each worker's ``__init__``.
"""

from __future__ import annotations

import logging
from typing import Any, cast

import bentoml
from bentoml.exceptions import BentoMLException

from serving.answers import error_response, request_id_of
from serving.args import ServiceArgs
from serving.batching import PatientBatcher
from serving.guard import RequestGuard
from serving.runtime import RuntimeConfigError, check_runtime
from serving.schemas import PredictByIdRequest, Prediction, PredictionBatch, schemas_for
from serving.scoring import load_scorer

logger = logging.getLogger(__name__)

SERVICE_NAME = "clinical_risk"

args: ServiceArgs = bentoml.use_arguments(ServiceArgs)
SCHEMAS = schemas_for(args.task, args.max_batch)
# module-level names: BentoML resolves the endpoint annotations against this module's globals. The models are
# built at run time (create_model in serving.schemas), so to the type checker they are Any
PredictByIdBatchRequest: Any = SCHEMAS.PredictByIdBatchRequest
PredictRowRequest: Any = SCHEMAS.PredictRowRequest
PredictRowBatchRequest: Any = SCHEMAS.PredictRowBatchRequest
NO_MODEL = (
    "no model is pinned: serve a bento built by serving.build.build_bento, or pass "
    "--arg model_tag=<bentoml model tag> (and model_version, ...) to bentoml serve"
)


def _failed(error: Exception, ctx: bentoml.Context) -> Any:
    """The error answer (``serving.answers``). BentoML sends a starlette Response as it is, whatever the annotated
    output type, except that with a ``ctx`` parameter it sets the status from ``ctx.response``: set it there."""
    response = error_response(error, request_id_of(ctx.request.headers))
    ctx.response.status_code = response.status_code
    return response


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

    @bentoml.on_deployment
    def check_configuration() -> None:
        """Once, in ``bentoml serve``'s main process before any worker starts: the feature store this Bento
        serves from is configured and present (``serving.runtime``). Otherwise the server exits at once with
        one line naming the setting, instead of workers that crash and restart."""
        if not args.model_tag:
            raise BentoMLException(NO_MODEL)
        try:
            check_runtime(args.feature_service)
        except RuntimeConfigError as err:
            raise BentoMLException(str(err)) from None

    def __init__(self) -> None:
        if not args.model_tag:
            raise RuntimeError(NO_MODEL)
        # again, in this worker: bentoml.load and to_asgi() skip the deployment hook
        settings = check_runtime(args.feature_service)
        self.scorer = load_scorer(args, self.bento_model, settings)
        self.batcher = PatientBatcher(self.scorer.score_ids, max_batch=args.max_batch)

    @bentoml.api
    async def predict_by_id(
        self, request: PredictByIdRequest, /, ctx: bentoml.Context
    ) -> Prediction:
        try:  # concurrent requests are scored together (serving.batching)
            return await self.batcher.score(request.patient_id)
        except Exception as error:  # noqa: BLE001 - 404/422/500 by kind (serving.answers)
            return _failed(error, ctx)

    @bentoml.api
    def predict_by_id_batch(
        self, request: PredictByIdBatchRequest, /, ctx: bentoml.Context
    ) -> PredictionBatch:
        try:
            return PredictionBatch(predictions=self.scorer.score_ids(request.patient_ids))
        except Exception as error:  # noqa: BLE001 - 404/422/500 by kind (serving.answers)
            return _failed(error, ctx)

    @bentoml.api
    def predict_row(self, request: PredictRowRequest, /, ctx: bentoml.Context) -> Prediction:
        try:
            return self.scorer.score_rows([request.features.model_dump()])[0]
        except Exception as error:  # noqa: BLE001 - 422/500 by kind (serving.answers)
            return _failed(error, ctx)

    @bentoml.api
    def predict_row_batch(
        self, request: PredictRowBatchRequest, /, ctx: bentoml.Context
    ) -> PredictionBatch:
        try:
            return PredictionBatch(
                predictions=self.scorer.score_rows([r.model_dump() for r in request.rows])
            )
        except Exception as error:  # noqa: BLE001 - 422/500 by kind (serving.answers)
            return _failed(error, ctx)


# @bentoml.service made the class a bentoml Service; mypy keeps a decorated class's own type
cast(Any, ClinicalRiskService).add_asgi_middleware(RequestGuard, max_body_bytes=args.max_body_bytes)
