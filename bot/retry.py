"""Retries in one place (tenacity), honouring what the forge asks for. The policy is
injectable (including how to sleep) so tests never wait.

A driver says, per exception, how long the forge asked us to wait (Retry-After, a rate-limit
reset), 0 for "retry with back-off", or None for "do not retry". A wait longer than the
policy's `max_wait` is not slept through here: the caller gets the exception and, for a
status or comment, the outbox schedules it for later instead of holding a thread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import tenacity

T = TypeVar("T")

WaitHint = Callable[[BaseException], float | None]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    initial_wait: float = 1.0
    max_wait: float = 30.0
    sleep: Callable[[float], None] = time.sleep


def call_with_retry(fn: Callable[[], T], policy: RetryPolicy, *, wait_hint: WaitHint) -> T:
    backoff = tenacity.wait_exponential(multiplier=policy.initial_wait, max=policy.max_wait)

    def retryable(exc: BaseException) -> bool:
        hint = wait_hint(exc)
        return hint is not None and hint <= policy.max_wait

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hint = wait_hint(exc) if exc is not None else None
        return hint if hint else backoff(state)

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(policy.attempts),
        wait=wait,
        retry=tenacity.retry_if_exception(retryable),
        sleep=policy.sleep,
        reraise=True,
    )
    return retrying(fn)
