"""Reading a request body with a cap: refused while it arrives, never buffered whole.

A webhook body is read before anyone knows who sent it (the signature covers the whole body),
so an unsigned sender must not be able to make the bot hold more than the cap: the declared
Content-Length is checked first, then the stream is counted as it arrives and dropped at the
cap (chunked bodies declare no length).
"""

from __future__ import annotations

import tempfile

from starlette.requests import Request

# GitHub caps webhook payloads at 25 MB ("Webhook events and payloads": "Payloads are capped
# at 25 MB. If an event generates a larger payload, GitHub will not deliver a payload for
# that webhook event"); GitLab's own payloads are far smaller.
MAX_WEBHOOK_BODY = 25 * 1024 * 1024
IN_MEMORY = 1024 * 1024


class BodyTooLarge(Exception):
    """The body is over the cap: answer 413."""


class BadContentLength(Exception):
    """Content-Length is not a number: answer 400."""


async def read_capped(request: Request, limit: int) -> bytes:
    """The whole body, or BodyTooLarge as soon as it is known to pass `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadContentLength(f"Content-Length {declared[:40]!r} is not a number")
        if int(declared) > limit:
            raise BodyTooLarge(f"the body is {declared} bytes; at most {limit} are accepted")
    size = 0
    # Past the first MiB the body waits on disk: a body that turns out too large (a chunked
    # one declares no length) has then cost no more memory than that.
    with tempfile.SpooledTemporaryFile(max_size=IN_MEMORY) as spool:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge(f"the body is over {limit} bytes; at most {limit} are accepted")
            spool.write(chunk)
        spool.seek(0)
        return spool.read()
