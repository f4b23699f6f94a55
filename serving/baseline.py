"""A bare FastAPI server (uvicorn, one process) serving exactly what the BentoML service serves: the baseline of
the "BentoML vs bare FastAPI" serving benchmark.

Same everything but the framework: the pinned arguments of the given Bento (``bento.info.args``), the same
BentoML model loaded the same way and the same Feast lookup (``serving.scoring.load_scorer``), the same request
and response models, the same guard (pickle and non-JSON 415, body limit 413), the same 404 for unknown
patients and 400 (not FastAPI's 422) with pydantic's error list for bad requests.

    python -m serving.baseline <bento_tag> [--host 127.0.0.1] [--port 3001]

(``serving.server.baseline_server`` starts it as a managed child process.)
"""

import argparse
import logging
from typing import Any

from serving.answers import error_response, request_id_of
from serving.args import ServiceArgs
from serving.batching import PatientBatcher
from serving.guard import RequestGuard
from serving.schemas import PredictByIdRequest, Prediction, PredictionBatch, schemas_for
from serving.scoring import Scorer, load_scorer


def pinned_args(bento_tag: str) -> ServiceArgs:
    """The template arguments a Bento was built with."""
    import bentoml

    return ServiceArgs(**bentoml.bentos.get(bento_tag).info.args)


def create_app(scorer_factory, pinned: ServiceArgs):
    """The FastAPI app; ``scorer_factory()`` is called once at start-up (lifespan) and must return a Scorer."""
    from contextlib import asynccontextmanager

    from fastapi import FastAPI, Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse

    schemas = schemas_for(pinned.task, pinned.max_batch)
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_app):
        state["scorer"] = scorer_factory()
        state["batcher"] = PatientBatcher(state["scorer"].score_ids, max_batch=pinned.max_batch)
        yield
        await state["batcher"].close()
        state.clear()

    app = FastAPI(
        title="clinical risk (FastAPI baseline)", lifespan=lifespan, docs_url=None, redoc_url=None
    )
    app.add_middleware(RequestGuard, max_body_bytes=pinned.max_body_bytes)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{k: v for k, v in e.items() if k not in ("input", "ctx")} for e in exc.errors()]
        return JSONResponse(
            {"error": f"{len(errors)} validation error(s)", "detail": errors}, status_code=400
        )

    @app.get("/readyz")
    def readyz() -> dict[str, str]:
        return {"status": "ready" if "scorer" in state else "starting"}

    @app.get("/livez")
    def livez() -> dict[str, str]:
        return {"status": "alive"}

    # built at run time (create_model in serving.schemas), so to the type checker they are Any
    ByIdBatch: Any = schemas.PredictByIdBatchRequest
    Row: Any = schemas.PredictRowRequest
    RowBatch: Any = schemas.PredictRowBatchRequest

    # errors as the BentoML service answers them (serving.answers): 404 unknown, 422 refused, 500 with the id
    @app.post("/predict_by_id", response_model=Prediction)
    async def predict_by_id(request: PredictByIdRequest, http: Request) -> Any:
        try:  # the same batching as the BentoML service
            return await state["batcher"].score(request.patient_id)
        except Exception as error:  # noqa: BLE001
            return error_response(error, request_id_of(http.headers))

    @app.post("/predict_by_id_batch", response_model=PredictionBatch)
    def predict_by_id_batch(request: ByIdBatch, http: Request) -> Any:
        try:
            return PredictionBatch(predictions=state["scorer"].score_ids(request.patient_ids))
        except Exception as error:  # noqa: BLE001
            return error_response(error, request_id_of(http.headers))

    @app.post("/predict_row", response_model=Prediction)
    def predict_row(request: Row, http: Request) -> Any:
        try:
            return state["scorer"].score_rows([request.features.model_dump()])[0]
        except Exception as error:  # noqa: BLE001
            return error_response(error, request_id_of(http.headers))

    @app.post("/predict_row_batch", response_model=PredictionBatch)
    def predict_row_batch(request: RowBatch, http: Request) -> Any:
        try:
            return PredictionBatch(
                predictions=state["scorer"].score_rows([r.model_dump() for r in request.rows])
            )
        except Exception as error:  # noqa: BLE001
            return error_response(error, request_id_of(http.headers))

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "bento_tag", help="the Bento whose pinned model to serve (its args and BentoML model)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3001)
    opts = parser.parse_args(argv)
    import bentoml
    import uvicorn

    logging.basicConfig(level=logging.INFO)
    pinned = pinned_args(opts.bento_tag)
    model_tag = pinned.model_tag
    if not model_tag:
        raise SystemExit(f"bento {opts.bento_tag} pins no model")

    def factory() -> Scorer:
        return load_scorer(pinned, bentoml.models.get(model_tag))

    uvicorn.run(
        create_app(factory, pinned),
        host=opts.host,
        port=opts.port,
        log_level="warning",
        workers=1,
        timeout_keep_alive=30,
    )


if __name__ == "__main__":
    main()
