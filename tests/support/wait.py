"""Wait for a condition, never for a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable

# How long between two checks: at most 50 ms in a wait's first seconds, where most waits end
# (a wait overshoots its condition by that much at most), then at most half a second, so that
# the long waits of real builds do not keep a shared machine busy checking.
SHORT_INTERVAL, LONG_INTERVAL, SHORT_FOR = 0.05, 0.5, 5.0


def wait_until(predicate: Callable[[], bool], *, timeout: float, what: str) -> None:
    """Re-check predicate (with a short back-off) until it holds; fail naming what we awaited."""
    started = time.monotonic()
    deadline = started + timeout
    delay = 0.01
    while not predicate():
        now = time.monotonic()
        if now > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(delay)
        ceiling = SHORT_INTERVAL if now - started < SHORT_FOR else LONG_INTERVAL
        delay = min(delay * 2, ceiling)
