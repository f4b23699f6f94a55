"""One retry policy for the assets that talk to services (MLflow, Feast's stores, Ray, BentoML).

How Dagster decides (dagster 1.13, ``dagster._core.execution.plan.utils.op_execution_error_boundary``): when
an op with a ``RetryPolicy`` raises, Dagster requests a retry for *any* exception except (a) a Dagster
framework error, (b) ``dagster.Failure(allow_retries=False)``; a ``RetryRequested`` raised by the op itself
always escalates under its own limits. Resource initialisation errors (e.g. invalid settings in
``PlatformResource``) are framework errors and are never retried.

So a plain ``RetryPolicy`` would also retry permanent failures: bad configuration, a missing
de-identification key, failed data validation, broken lineage - each attempt failing the same way after a
growing wait. ``ServiceRetryPolicy`` classifies the exception instead: Dagster asks the policy for the
delay while it handles the exception, and for a permanent one the policy raises
``Failure(allow_retries=False)`` (chained to the original), which ends the step at once with the real
error message. tests/integration/test_automation.py pins this behaviour (a permanent error runs once, a
transient one is retried), so a Dagster upgrade that changes the call order is caught.

Permanent (never retried, ``_permanent_types`` below): configuration and validation errors (pydantic
``ValidationError``, ``ValueError`` and its subclasses such as ``TrainingSetError``, ``TypeError``,
``KeyError``/``LookupError``), lineage (``LineageError``), a missing key (``MissingKeyError``), missing
inputs (``FileNotFoundError``, ``PermissionError``) and programming errors. Everything else - connection
and timeout errors, database locks, Ray/MLflow/Redis service errors - is treated as transient and retried
``MAX_RETRIES`` times with exponential backoff (``DELAY_S`` * (2**n - 1)) and +/- ``DELAY_S`` jitter, so
replicas retrying together do not hit a recovering service at the same instant.

The numbers are code, not settings: Dagster fixes a policy when the definitions load, and settings are read
when a run starts (docs/design.md, "Conventions").
"""

from __future__ import annotations

import sys

from dagster import Backoff, Failure, Jitter, RetryPolicy
from pydantic import ValidationError

from deid.keys import MissingKeyError
from lineage.chain import LineageError

MAX_RETRIES = 3
DELAY_S = 2.0


def _permanent_types() -> tuple[type[BaseException], ...]:
    return (
        ValidationError,
        LineageError,
        MissingKeyError,
        ValueError,
        TypeError,
        LookupError,
        AttributeError,
        NotImplementedError,
        AssertionError,
        FileNotFoundError,
        PermissionError,
        IsADirectoryError,
        NotADirectoryError,
    )


def is_permanent(exc: BaseException) -> bool:
    """Would retrying fail the same way? (a permanent type, or a ``Failure`` that forbids retries.)"""
    if isinstance(exc, Failure):
        return not exc.allow_retries
    return isinstance(exc, _permanent_types())


class ServiceRetryPolicy(RetryPolicy):
    """A RetryPolicy that refuses to retry permanent errors (see the module docstring)."""

    __slots__ = ()

    def calculate_delay(self, attempt_num: int):
        exc = sys.exc_info()[1]
        if exc is not None and is_permanent(exc):
            raise Failure(
                description=f"not retried ({type(exc).__name__} is a permanent error): {exc}",
                allow_retries=False,
            ) from exc
        return super().calculate_delay(attempt_num)


def service_retry_policy(
    max_retries: int = MAX_RETRIES, delay_s: float = DELAY_S
) -> ServiceRetryPolicy:
    return ServiceRetryPolicy(
        max_retries=max_retries,
        delay=delay_s,
        backoff=Backoff.EXPONENTIAL,
        jitter=Jitter.PLUS_MINUS,
    )


SERVICE_RETRY = service_retry_policy()
