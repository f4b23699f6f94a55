"""ASGI middleware in front of every endpoint of the prediction servers (BentoML and the FastAPI baseline).

- Pickle is refused (HTTP 415) for every path and method: ``application/vnd.bentoml+pickle`` is BentoML's
  internal serialization between services and unpickling a request body runs arbitrary code. BentoML 1.4's
  *main* server already refuses that exact media type, but a service mounted as a dependency (``is_main``
  false) unpickles it; this guard refuses any content type mentioning pickle, in any case, everywhere.
- A request with a body must be JSON (``application/json``, any parameters, or no content type): anything
  else is 415 - the endpoints only speak JSON.
- Bodies larger than ``max_body_bytes`` are refused with 413, by Content-Length before reading and while
  reading otherwise (chunked uploads); the accepted body is handed to the app unchanged.
- Every request gets a request id: the caller's ``X-Request-ID`` when it is a plain token (letters, digits,
  ``.``, ``_``, ``:``, ``-``; at most 64), a new UUID otherwise. The app sees it as the request's
  ``x-request-id`` header and every answer carries it back in ``X-Request-ID`` (refusals here also in the
  body), so a failed request can be found in the server log (``serving.answers``).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

JSON_TYPES = ("application/json",)
BODY_METHODS = ("POST", "PUT", "PATCH")
REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id(offered: str | None) -> str:
    """The caller's request id when it is a plain token, else a new one."""
    if offered and _REQUEST_ID.fullmatch(offered):
        return offered
    return uuid.uuid4().hex


class RequestGuard:
    def __init__(self, app, max_body_bytes: int = 1_000_000):
        if max_body_bytes < 1:
            raise ValueError("max_body_bytes must be >= 1")
        self.app = app
        self.max_body_bytes = int(max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])
        }
        rid = request_id(headers.get(REQUEST_ID_HEADER))
        rid_header = (REQUEST_ID_HEADER.encode(), rid.encode())
        scope = {
            **scope,
            "headers": [
                (k, v)
                for k, v in scope.get("headers", [])
                if k.lower() != REQUEST_ID_HEADER.encode()
            ]
            + [rid_header],
        }

        async def send_with_id(
            message: dict[str, Any],
        ) -> None:  # every answer carries the request id
            if message["type"] == "http.response.start":
                kept = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() != REQUEST_ID_HEADER.encode()
                ]
                message = {**message, "headers": [*kept, rid_header]}
            await send(message)

        def reject(status: int, message: str) -> Awaitable[None]:
            return _reject(send_with_id, status, message, rid)

        content_type = headers.get("content-type", "")
        media_type = content_type.split(";")[0].strip().lower()
        if "pickle" in content_type.lower():
            await reject(
                415,
                f"content type {media_type!r} is not accepted: pickled payloads are refused; "
                "send application/json",
            )
            return
        if scope.get("method") in BODY_METHODS and media_type and media_type not in JSON_TYPES:
            await reject(415, f"content type {media_type!r} is not accepted; send application/json")
            return
        length = headers.get("content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await reject(400, f"invalid Content-Length {length!r}")
                return
            if declared > self.max_body_bytes:
                await reject(
                    413,
                    f"request body of {declared} bytes exceeds the limit of "
                    f"{self.max_body_bytes} bytes",
                )
                return
        if scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send_with_id)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body_bytes:
                await reject(413, f"request body exceeds the limit of {self.max_body_bytes} bytes")
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send_with_id)


async def _reject(send: Send, status: int, message: str, rid: str) -> None:
    body = json.dumps({"error": message, "request_id": rid}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
