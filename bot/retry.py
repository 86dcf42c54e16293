"""Retries in one place (tenacity). The policy is injectable so tests never sleep."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    initial_wait: float = 1.0
    max_wait: float = 30.0


def call_with_retry(
    fn: Callable[[], T], policy: RetryPolicy, *, retryable: Callable[[BaseException], bool]
) -> T:
    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.attempts),
        wait=tenacity.wait_exponential(multiplier=policy.initial_wait, max=policy.max_wait),
        retry=tenacity.retry_if_exception(retryable),
        reraise=True,
    )
    return retrying(fn)
