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


def exchange(app, request_id=None, content_type="application/json"):
    """(the app's view of the request headers, the response start message, the response body)."""
    headers = [(b"content-type", content_type.encode())]
    if request_id is not None:
        headers.append((b"x-request-id", request_id.encode()))
    seen: dict = {}

    async def inner(scope, receive, send):
        seen.update({k.decode(): v.decode() for k, v in scope["headers"]})
        await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    sent = []

    async def receive():
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/predict_row", "headers": headers}
    asyncio.run(app(inner)(scope, receive, send))
    start = sent[0]
    return seen, dict((k.decode(), v.decode()) for k, v in start["headers"]), sent[1]["body"]


def test_every_answer_carries_a_request_id_the_app_also_sees():
    seen, headers, _ = exchange(RequestGuard)
    rid = headers["x-request-id"]
    assert len(rid) == 32 and seen["x-request-id"] == rid
    other = exchange(RequestGuard)[1]["x-request-id"]
    assert other != rid, "each request gets its own id"


def test_a_plain_caller_request_id_is_kept_and_anything_else_replaced():
    seen, headers, _ = exchange(RequestGuard, request_id="trace-42:a.b_c")
    assert headers["x-request-id"] == seen["x-request-id"] == "trace-42:a.b_c"
    for bad in ("x" * 65, "a b", "<script>", ""):
        seen, headers, _ = exchange(RequestGuard, request_id=bad)
        assert headers["x-request-id"] == seen["x-request-id"] != bad


def test_refusals_carry_the_request_id_in_header_and_body():
    _, headers, body = exchange(RequestGuard, request_id="rid-7", content_type="text/plain")
    assert headers["x-request-id"] == "rid-7" and json.loads(body)["request_id"] == "rid-7"
