"""A bounded closed-loop HTTP load generator (aiohttp, keep-alive): ``clients`` concurrent clients each send
their next request as soon as the previous answer arrives, until ``requests`` answers or ``seconds`` pass.

Every request must answer 200: an error is counted and fails the benchmark rather than flattering it.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass
class LoadResult:
    clients: int
    requests: int
    errors: int
    seconds: float
    throughput_rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def _run(
    url: str, bodies: Sequence[bytes], clients: int, requests: int, seconds: float, warmup: int
) -> LoadResult:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    headers = {"Content-Type": "application/json"}
    latencies: list[float] = []
    errors: list[str] = []
    cycle = itertools.cycle(bodies)
    async with aiohttp.ClientSession(connector=connector) as session:
        for body in itertools.islice(cycle, warmup):  # connections, caches, lazy imports
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
        deadline = time.perf_counter() + seconds
        sent = 0

        async def client() -> None:
            nonlocal sent
            while sent < requests and time.perf_counter() < deadline:
                sent += 1
                body = next(cycle)
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    payload = await response.read()
                    if response.status != 200:
                        errors.append(f"{response.status}: {payload[:200]!r}")
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    ms = np.asarray(latencies) * 1000.0
    return LoadResult(
        clients=clients,
        requests=len(latencies),
        errors=len(errors),
        seconds=round(elapsed, 3),
        throughput_rps=round(len(latencies) / elapsed, 1),
        p50_ms=round(float(np.percentile(ms, 50)), 2),
        p90_ms=round(float(np.percentile(ms, 90)), 2),
        p99_ms=round(float(np.percentile(ms, 99)), 2),
        max_ms=round(float(ms.max()), 2),
    )


def run_load(
    url: str,
    bodies: Sequence[bytes],
    *,
    clients: int,
    requests: int,
    seconds: float = 30.0,
    warmup: int = 20,
) -> LoadResult:
    try:
        import uvloop

        runner: Callable = uvloop.run
    except ImportError:  # pragma: no cover - uvloop ships with the lock
        runner = asyncio.run
    return runner(_run(url, bodies, clients, requests, seconds, warmup))
