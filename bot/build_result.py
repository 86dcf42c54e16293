"""BuildResult: how one build ended, as the runner reports it back to its executor."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

# How `python -m bot.runner` and `s2i-bot build` end: 0 succeeded, 1 failed, 2 error.
EXIT_CODES = {"succeeded": 0, "failed": 1, "error": 2}


class BuildResult(BaseModel):
    """What the runner reports back (locally a file; in a Job, the termination message)."""

    state: Literal["succeeded", "failed", "error"]
    reason: str = ""
    image: str | None = None
    digest: str | None = None
    size: int | None = None  # bytes a pull transfers (compressed layers + config)
    # The builder and runtime images it was built from, as the registry served them when the
    # build read their labels: `sha256:...` (a change rebuilds it, bot/base_images.py).
    builder_digest: str | None = None
    runtime_digest: str | None = None
