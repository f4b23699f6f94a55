"""The patient batcher: concurrent requests share one scoring call, an idle request waits for nobody, and an
unknown patient fails only its own request."""

from __future__ import annotations

import asyncio
import threading

import pytest

from serving.batching import PatientBatcher
from serving.scoring import UnknownPatients


class SlowScorer:
    """Scores ids as their length; ids starting with 'x' are unknown. Records every call."""

    def __init__(self, delay: float = 0.05):
        self.calls: list[list[str]] = []
        self.delay = delay
        self.threads: set[str] = set()

    def __call__(self, ids):
        self.calls.append(list(ids))
        self.threads.add(threading.current_thread().name)
        unknown = [i for i in ids if i.startswith("x")]
        if unknown:
            raise UnknownPatients(unknown)
        threading.Event().wait(self.delay)
        return [len(i) for i in ids]


def test_concurrent_requests_are_scored_together_and_in_order() -> None:
    scorer = SlowScorer()

    async def main():
        batcher = PatientBatcher(scorer, max_batch=16)
        first = asyncio.create_task(batcher.score("a"))  # an idle batcher scores it at once
        await asyncio.sleep(0.01)
        rest = [asyncio.create_task(batcher.score("b" * n)) for n in range(1, 9)]
        results = [await first] + [await r for r in rest]
        await batcher.close()
        return batcher, results

    batcher, results = asyncio.run(main())
    assert results == [1, *range(1, 9)]
    assert (
        scorer.calls[0] == ["a"] and len(scorer.calls) == 2
    )  # the 8 that queued meanwhile: one call
    assert batcher.batches == 2 and batcher.requests == 9
    assert "MainThread" not in scorer.threads  # scoring never blocks the event loop


def test_max_batch_is_respected() -> None:
    scorer = SlowScorer(delay=0.02)

    async def main():
        batcher = PatientBatcher(scorer, max_batch=3)
        blocker = asyncio.create_task(batcher.score("z"))
        await asyncio.sleep(0.005)
        out = await asyncio.gather(*(batcher.score(f"p{i}") for i in range(7)))
        await blocker
        await batcher.close()
        return out

    assert asyncio.run(main()) == [2] * 7
    assert max(len(c) for c in scorer.calls) == 3


def test_an_unknown_patient_fails_only_its_own_request() -> None:
    scorer = SlowScorer()

    async def main():
        batcher = PatientBatcher(scorer, max_batch=16)
        blocker = asyncio.create_task(batcher.score("q"))
        await asyncio.sleep(0.01)
        results = await asyncio.gather(
            batcher.score("aa"), batcher.score("xyz"), batcher.score("bbb"), return_exceptions=True
        )
        await blocker
        await batcher.close()
        return results

    good, bad, other = asyncio.run(main())
    assert (good, other) == (2, 3)
    assert isinstance(bad, UnknownPatients) and bad.patient_ids == ["xyz"]
    assert scorer.calls[-2:] == [["aa", "xyz", "bbb"], ["aa", "bbb"]]


def test_other_failures_reach_every_waiting_request() -> None:
    def broken(ids):
        raise RuntimeError("store down")

    async def main():
        batcher = PatientBatcher(broken)
        results = await asyncio.gather(
            batcher.score("a"), batcher.score("b"), return_exceptions=True
        )
        await batcher.close()
        return results

    assert all(isinstance(r, RuntimeError) for r in asyncio.run(main()))
    with pytest.raises(ValueError):
        PatientBatcher(broken, max_batch=0)


def test_a_refused_stored_value_fails_only_its_own_patients_request() -> None:
    from serving.policy import InputProblem, InputRefused

    calls: list[list[str]] = []

    def score(ids):
        calls.append(list(ids))
        bad = [
            InputProblem(i, "age_years", "is not finite", pid)
            for i, pid in enumerate(ids)
            if pid == "bad"
        ]
        if bad:
            raise InputRefused(bad)
        return [len(i) for i in ids]

    async def main():
        batcher = PatientBatcher(score, max_batch=8)
        results = await asyncio.gather(
            batcher.score("aa"), batcher.score("bad"), batcher.score("cccc"), return_exceptions=True
        )
        await batcher.close()
        return results

    good, refused, other = asyncio.run(main())
    assert (good, other) == (2, 4)
    assert isinstance(refused, InputRefused) and [p.patient_id for p in refused.problems] == ["bad"]
