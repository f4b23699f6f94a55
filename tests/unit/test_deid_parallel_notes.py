"""Note text de-identified in worker processes gives exactly what the serial path gives, in order."""

from __future__ import annotations

import pytest

from deid.keys import DeidKey
from deid.notes import NoteDeidentifier
from deid.policy import DeidPolicy
from deid.structured import PARALLEL_MIN_TEXTS, SilverBuilder

KEY = DeidKey(b"p" * 32, "test")


@pytest.mark.slow
def test_worker_processes_match_the_serial_path():
    policy = DeidPolicy()
    jobs = [
        (
            f"Seen by Dr. Agnes Roach on {1 + i % 12}/{1 + i % 28}/2020; call 202-555-{1000 + i:04d}. Note {i}.",
            f"patient-{i % 7}",
            None,
            1 + i % 300,
        )
        for i in range(PARALLEL_MIN_TEXTS + 20)
    ]
    serial = SilverBuilder(KEY, policy, NoteDeidentifier(KEY, policy), workers=1)._deidentify_all(
        jobs
    )
    parallel = SilverBuilder(KEY, policy, NoteDeidentifier(KEY, policy), workers=2)._deidentify_all(
        jobs
    )
    assert [o.text for o in parallel] == [o.text for o in serial]
    assert [o.replacements for o in parallel] == [o.replacements for o in serial]
    assert all("Roach" not in o.text and "202-555" not in o.text for o in parallel)
