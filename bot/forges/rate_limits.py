"""How long a forge asked us to wait, from the status code and headers of its answer. Pure.

GitHub ("Rate limits for the REST API"): a primary limit is 403 or 429 with
`x-ratelimit-remaining: 0` and `x-ratelimit-reset` (Unix time); a secondary limit is 403 or
429 whose message names the rate limit, with `retry-after` or, without it, "wait at least one
minute". GitLab ("Rate limits"): 429 with `Retry-After` and `RateLimit-Reset` (Unix time).
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from bot.forges.base import ForgeError, PermanentForgeError, RateLimited

# GitHub: without Retry-After or a reset time, wait at least a minute after a secondary limit.
SECONDARY_LIMIT_WAIT = 60.0


def wait_hint_for_status(
    status: int, headers: Mapping[str, str], message: str = "", *, now: float | None = None
) -> float | None:
    """Seconds the forge asked us to wait; 0.0 for "retry with back-off" (a server error);
    None for "do not retry" (the forge refused the request itself)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    limited = status == 429 or (
        status == 403
        and ("rate limit" in message.lower() or lowered.get("x-ratelimit-remaining") == "0")
    )
    if limited:
        if "retry-after" in lowered:
            return float(lowered["retry-after"])
        for reset in ("x-ratelimit-reset", "ratelimit-reset"):
            if reset in lowered:
                return max(float(lowered[reset]) - (time.time() if now is None else now), 1.0)
        return SECONDARY_LIMIT_WAIT
    return 0.0 if status >= 500 else None


def forge_error(message: str, hint: float | None) -> ForgeError:
    """The exception the rest of the bot sees: rate limited (wait `hint`), refused for good,
    or worth trying again later."""
    if hint:
        return RateLimited(message, hint)
    return PermanentForgeError(message) if hint is None else ForgeError(message)
