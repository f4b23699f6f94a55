"""ASGI middleware in front of every endpoint of the prediction servers (BentoML and the FastAPI baseline).

- Pickle is refused (HTTP 415) for every path and method: ``application/vnd.bentoml+pickle`` is BentoML's
  internal serialization between services and unpickling a request body runs arbitrary code. BentoML 1.4's
  *main* server already refuses that exact media type, but a service mounted as a dependency (``is_main``
  false) unpickles it; this guard refuses any content type mentioning pickle, in any case, everywhere.
- A request with a body must be JSON (``application/json``, any parameters, or no content type): anything
  else is 415 - the endpoints only speak JSON.
- Bodies larger than ``max_body_bytes`` are refused with 413, by Content-Length before reading and while
  reading otherwise (chunked uploads); the accepted body is handed to the app unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

JSON_TYPES = ("application/json",)
BODY_METHODS = ("POST", "PUT", "PATCH")


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
        content_type = headers.get("content-type", "")
        media_type = content_type.split(";")[0].strip().lower()
        if "pickle" in content_type.lower():
            await _reject(
                send,
                415,
                f"content type {media_type!r} is not accepted: pickled payloads are refused; "
                "send application/json",
            )
            return
        if scope.get("method") in BODY_METHODS and media_type and media_type not in JSON_TYPES:
            await _reject(
                send, 415, f"content type {media_type!r} is not accepted; send application/json"
            )
            return
        length = headers.get("content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                await _reject(send, 400, f"invalid Content-Length {length!r}")
                return
            if declared > self.max_body_bytes:
                await _reject(
                    send,
                    413,
                    f"request body of {declared} bytes exceeds the limit of "
                    f"{self.max_body_bytes} bytes",
                )
                return
        if scope.get("method") not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body = message.get("body", b"")
            size += len(body)
            if size > self.max_body_bytes:
                await _reject(
                    send, 413, f"request body exceeds the limit of {self.max_body_bytes} bytes"
                )
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

        await self.app(scope, replay, send)


async def _reject(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
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
