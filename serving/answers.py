"""The error answers of both prediction servers (the BentoML service and the FastAPI baseline), so that the
two answer alike and the status says whose fault it is.

- 404: an unknown patient (``UnknownPatients``), listing every unknown id.
- 422: values the model must not be given (``serving.policy.InputRefused``), each naming its feature; values
  outside the training range under the ``refuse`` range policy (``OutOfTrainingRange``) also carry it.
- 500: anything that fails while scoring a valid request - a model output that is not a probability
  (``ModelOutputError``), a feature-store failure - is the service's fault: never a 400 that blames the
  caller. The body carries the request id (``RequestGuard`` gives every request one and returns it in the
  ``X-Request-ID`` header); the server log has the traceback under the same id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.responses import JSONResponse

from serving.guard import REQUEST_ID_HEADER
from serving.policy import InputRefused
from serving.scoring import ModelOutputError, UnknownPatients

logger = logging.getLogger(__name__)


def request_id_of(headers: Mapping[str, str]) -> str:
    """The id ``RequestGuard`` put on the request (``"unknown"`` when served without the guard)."""
    return headers.get(REQUEST_ID_HEADER) or "unknown"


def error_response(error: Exception, request_id: str) -> JSONResponse:
    """The answer to ``error`` raised while serving request ``request_id``."""
    headers = {REQUEST_ID_HEADER: request_id}
    if isinstance(error, UnknownPatients):
        return JSONResponse(
            {
                "error": str(error),
                "unknown_patient_ids": error.patient_ids,
                "request_id": request_id,
            },
            status_code=404,
            headers=headers,
        )
    if isinstance(error, InputRefused):
        return JSONResponse(
            {
                "error": str(error),
                "refused": [p.to_dict() for p in error.problems],
                "request_id": request_id,
            },
            status_code=422,
            headers=headers,
        )
    logger.error("request %s failed while scoring", request_id, exc_info=error)
    what = (
        str(error)
        if isinstance(error, ModelOutputError)
        else f"{type(error).__name__} while scoring"
    )
    return JSONResponse(
        {
            "error": f"the prediction service failed on this request (a server error, not a problem with the "
            f"request): {what}; the server log has the details under request id {request_id}",
            "request_id": request_id,
        },
        status_code=500,
        headers=headers,
    )
