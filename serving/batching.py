"""Concurrent single-patient requests scored together ("natural" micro-batching).

One online read and one forward pass for N patients cost far less than N of each (the feature store
answers all keys of a view in one query; the model runs one matrix product). The batcher adds no waiting:
the first request in an idle server is scored at once; requests that arrive while a batch is being scored
queue up and become the next batch (at most ``max_batch``). Scoring runs in a worker thread so the event
loop keeps accepting requests meanwhile.

BentoML's own adaptive batching dispatches only HTTP calls to a batchable endpoint whose body is itself a
batch; ``/predict_by_id`` takes one patient, so the service batches behind it with this class (and the
FastAPI baseline uses the same class, so the benchmark compares the frameworks, not the batching).

Errors stay per request: an unknown patient fails only its own request (404), so does a refused stored
value (422, ``serving.policy``); the other patients of the batch are scored again without it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

from serving.policy import InputRefused
from serving.scoring import UnknownPatients


class PatientBatcher:
    def __init__(self, score_ids: Callable[[Sequence[str]], list], max_batch: int = 64):
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._score_ids = score_ids
        self.max_batch = max_batch
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        self.batches = 0  # scored batches and requests, for tests and metrics
        self.requests = 0

    async def score(self, patient_id: str):
        """The prediction for one patient (raises ``UnknownPatients`` for an unknown one)."""
        if self._queue is None:  # created on first use, inside the server's event loop
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._run())
        future = asyncio.get_running_loop().create_future()
        await self._queue.put((patient_id, future))
        return await future

    async def _run(self) -> None:
        queue = self._queue
        assert queue is not None, "score() creates the queue before it starts this worker"
        while True:
            batch = [await queue.get()]
            while len(batch) < self.max_batch and not queue.empty():
                batch.append(queue.get_nowait())
            await self._score_batch(batch)

    async def _score_batch(self, batch: list) -> None:
        pending = [
            (pid, future) for pid, future in batch if not future.done()
        ]  # a cancelled client: skip it
        self.batches += 1
        self.requests += len(pending)
        while pending:
            try:
                predictions = await asyncio.to_thread(self._score_ids, [pid for pid, _ in pending])
            except UnknownPatients as unknown:
                missing = set(unknown.patient_ids)
                if not missing.intersection(
                    pid for pid, _ in pending
                ):  # not about this batch: fail it all
                    missing = {pid for pid, _ in pending}
                for pid, future in pending:
                    if pid in missing and not future.done():
                        future.set_exception(UnknownPatients([pid]))
                pending = [(pid, future) for pid, future in pending if pid not in missing]
                continue
            except (
                InputRefused
            ) as refused:  # a refused stored value fails only its own patient's request
                by_patient: dict[str, list] = {}
                for problem in refused.problems:
                    by_patient.setdefault(problem.patient_id or "", []).append(problem)
                if not by_patient.keys() & {pid for pid, _ in pending}:
                    by_patient = {pid: refused.problems for pid, _ in pending}
                for pid, future in pending:
                    if pid in by_patient and not future.done():
                        future.set_exception(InputRefused(by_patient[pid]))
                pending = [(pid, future) for pid, future in pending if pid not in by_patient]
                continue
            except Exception as error:  # noqa: BLE001 - every waiting request gets the failure
                for _, future in pending:
                    if not future.done():
                        future.set_exception(error)
                return
            for (_, future), prediction in zip(pending, predictions):
                if not future.done():
                    future.set_result(prediction)
            return

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
            self._worker = None
