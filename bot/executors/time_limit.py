"""How long a build may run, and how one that ran longer ends. Pure; both executors use it.

A build's limit is its `.s2i.yaml` `timeout`, capped by the setting `max_build_seconds`, which
is also the limit of a build without one. Past it the executor stops the build (the local
runner's process group; the Job, through its activeDeadlineSeconds) and it ends `failed`:
like a compile error, it is the repository's to fix (docs/security.md, "Bounded builds").
"""

from __future__ import annotations

from bot.build_result import BuildResult
from bot.build_spec import BuildSpec

DEFAULT_MAX_BUILD_SECONDS = 1800


def time_limit(spec: BuildSpec, max_build_seconds: int = DEFAULT_MAX_BUILD_SECONDS) -> int:
    """Seconds the build may take."""
    return min(spec.timeout or max_build_seconds, max_build_seconds)


def timed_out(seconds: int | None) -> BuildResult:
    after = f"after {seconds} s" if seconds is not None else "after its time limit"
    return BuildResult(state="failed", reason=f"timed out {after}")
