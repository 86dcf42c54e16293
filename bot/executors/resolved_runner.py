"""The runner image resolved to a digest once per build, as the builder is
(bot/executors/resolved_builder.py): the Job's runner containers run `repository@sha256:...`,
so a node that still has an older runner under `kubernetes.runner_image`'s tag cannot run it
with imagePullPolicy IfNotPresent after the bot was upgraded (the unprivileged pod's steps
need a runner at least as new as the bot: bot/runner/handover.py).

- A runner_image that already names a digest is run as it is, with no registry request.
- A resolution less than TTL_SECONDS old serves the next builds (RunnerCache), as
  bot/executors/builder_cache.py does for builders and for the same reason: the pod still
  runs a digest, at most TTL_SECONDS older than the tag's.
- When the tag cannot be resolved (the registry refuses the bot's credentials or has none
  of it, where nodes pull with their own; unreachable; too slow), the Job runs the reference
  as configured and the build log says why: never a failed build for this. That outcome is
  kept TTL_SECONDS too, so a registry that does not answer delays one build, not each.

`resolve_runner` asks the registry with crane; the rest is pure (the clock is the caller's).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path

from bot.runner.crane import Crane, repository_of

TTL_SECONDS = 30.0
DIGEST_MARK = "@sha256:"


def is_digest_ref(image: str) -> bool:
    """`repository@sha256:...`: runs what it names whatever a tag says."""
    return DIGEST_MARK in image


@dataclass(frozen=True)
class RunnerImage:
    configured: str  # kubernetes.runner_image
    ref: str  # what the Job runs: repository@sha256:..., or `configured` when unresolved
    how: str  # "resolved now", "as resolved less than 30 s ago", or why it is not resolved
    resolved: bool = True

    def log_line(self) -> str:
        """The build log's line about the runner, beside the builder's."""
        if is_digest_ref(self.configured):
            return f"runner {self.configured} (a digest, as configured)\n"
        if not self.resolved:
            return (
                f"runner {self.configured} runs as configured, by its tag, not resolved to a "
                f"digest: {self.how}\n"
            )
        return f"runner {self.configured} is {self.ref} ({self.how})\n"


def as_configured(configured: str) -> RunnerImage | None:
    """The runner as configured when it needs no resolution (it is a digest already)."""
    if is_digest_ref(configured):
        return RunnerImage(configured, configured, "a digest, as configured")
    return None


def resolved(configured: str, digest: str, how: str = "resolved now") -> RunnerImage:
    return RunnerImage(configured, f"{repository_of(configured)}@{digest}", how)


def unresolved(configured: str, reason: str) -> RunnerImage:
    """The fallback: the Job runs the configured reference (nodes pull it as they can)."""
    return RunnerImage(configured, configured, reason.strip() or "no reason given", False)


@dataclass
class RunnerCache:
    """What became of the runner's tag less than ttl ago, by configured reference: its
    digest, or why it could not be resolved (a registry that refuses or does not answer is
    not asked again by every build)."""

    ttl: float = TTL_SECONDS
    _entries: dict[str, tuple[float, RunnerImage]] = field(default_factory=dict)

    def get(self, configured: str, now: float) -> RunnerImage | None:
        entry = self._entries.get(configured)
        if entry is None or not 0 <= now - entry[0] < self.ttl:
            return None
        runner, ago = entry[1], f"less than {self.ttl:.0f} s ago"
        if runner.resolved:
            return replace(runner, how=f"as resolved {ago}")
        return replace(runner, how=f"{runner.how} (tried {ago})")

    def put(self, runner: RunnerImage, now: float) -> None:
        self._entries = {k: e for k, e in self._entries.items() if now - e[0] < self.ttl}
        self._entries[runner.configured] = (now, runner)


def resolve_runner(
    image: str, authfile: Path | None, insecure_registries: Collection[str] = ()
) -> RunnerImage:
    """The digest the runner's tag names now (one small request). Raises BuildError."""
    return resolved(image, Crane(authfile, insecure_registries).digest(image))
