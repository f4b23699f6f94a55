"""The ASGI guard in front of the prediction servers: pickle and non-JSON bodies 415 before the app sees them,
oversized bodies 413 (declared or streamed), everything else passed through with its body intact."""

from __future__ import annotations

import asyncio
import json

import pytest

from serving.guard import RequestGuard


class Recorder:
    """An ASGI app that records what reached it and echoes the body."""

    def __init__(self):
        self.bodies: list[bytes] = []

    async def __call__(self, scope, receive, send):
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


def call(app, method="POST", content_type="application/json", chunks=(b"{}",), length=True):
    headers = []
    if content_type is not None:
        headers.append((b"content-type", content_type.encode()))
    if length:
        headers.append((b"content-length", str(sum(map(len, chunks))).encode()))
    scope = {"type": "http", "method": method, "path": "/predict_by_id", "headers": headers}
    pending = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]
    sent = []

    async def receive():
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = sent[0]["status"]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return status, body


@pytest.mark.parametrize(
    "content_type",
    [
        "application/vnd.bentoml+pickle",
        "application/vnd.bentoml+pickle; a=b",
        "Application/VND.BentoML+Pickle",
        "application/x-python-pickle",
    ],
)
@pytest.mark.parametrize("method", ["POST", "GET", "PUT"])
def test_pickle_never_reaches_the_app(content_type, method):
    inner = Recorder()
    status, body = call(
        RequestGuard(inner), method=method, content_type=content_type, chunks=(b"\x80\x05.",)
    )
    assert status == 415 and "pickle" in json.loads(body)["error"]
    assert inner.bodies == []


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "multipart/form-data; boundary=x", "application/x-www-form-urlencoded"],
)
def test_bodies_must_be_json(content_type):
    inner = Recorder()
    assert call(RequestGuard(inner), content_type=content_type)[0] == 415
    assert inner.bodies == []


def test_oversized_bodies_are_413_declared_or_streamed():
    inner = Recorder()
    guard = RequestGuard(inner, max_body_bytes=100)
    assert call(guard, chunks=(b"x" * 101,))[0] == 413
    assert call(guard, chunks=(b"x" * 60, b"x" * 60), length=False)[0] == 413
    assert inner.bodies == []


def test_json_within_the_limit_reaches_the_app_unchanged():
    inner = Recorder()
    guard = RequestGuard(inner, max_body_bytes=100)
    payload = (b'{"patient_id": ', b'"pat_0"}')
    assert call(guard, chunks=payload, length=False) == (200, b"".join(payload))
    assert (
        call(guard, content_type="application/json; charset=utf-8", chunks=(b"x" * 100,))[0] == 200
    )
    assert (
        call(guard, content_type=None)[0] == 200
    )  # no content type: JSON by default, as BentoML reads it
    assert call(guard, method="GET", chunks=(b"",))[0] == 200
    assert inner.bodies[0] == b"".join(payload)
