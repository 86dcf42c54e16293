"""Resolved builders remembered for a short time (issue 13: push -> pod running): a build
that starts within TTL_SECONDS of another on the same builder tag runs the digest that one
resolved, without asking the registry again (two crane calls: the digest, then its config).

Why a short TTL is safe:
- a build still runs a digest and records it (BuildResult.builder_digest), so it stays
  reproducible; the cache can only make it run the digest its tag named at most TTL_SECONDS
  ago, as if it had started that much earlier — the same race any build has with a push of
  its builder that happens while it runs;
- a rebuild on a new base image (bot/base_images.py: its spec's `rebuilt_on` names the image
  and the digest that tag moved to) never takes the builder from the cache: it asks the
  registry, which has the new digest, and what it resolves replaces the cached one;
- a build that recorded the old digest is rebuilt by the base image watch as any build on
  the old base is (its recorded digest differs from the tag's).

Pure: the clock is given by the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.build_spec import BuildSpec
from bot.executors.resolved_builder import ResolvedBuilder

TTL_SECONDS = 30.0


def rebuilds_on_builder(spec: BuildSpec) -> bool:
    """Whether the build is a rebuild because its builder image's tag moved (`rebuilt_on`:
    `image@digest`, bot/base_images.py)."""
    return spec.rebuilt_on.split("@", 1)[0] == spec.builder_image


@dataclass
class BuilderCache:
    ttl: float = TTL_SECONDS
    _entries: dict[str, tuple[float, ResolvedBuilder]] = field(default_factory=dict)

    def get(self, spec: BuildSpec, now: float) -> ResolvedBuilder | None:
        """The builder resolved for the spec's builder tag less than ttl ago; None when
        there is none, or the build must ask the registry (a rebuild on its builder)."""
        if rebuilds_on_builder(spec):
            return None
        entry = self._entries.get(spec.builder_image)
        if entry is None or not 0 <= now - entry[0] < self.ttl:
            return None
        return entry[1]

    def images(self) -> list[str]:
        """The builder tags held (expired ones go at the next put)."""
        return list(self._entries)

    def put(self, builder: ResolvedBuilder, now: float) -> None:
        self._entries = {
            image: entry for image, entry in self._entries.items() if now - entry[0] < self.ttl
        }
        self._entries[builder.image] = (now, builder)
