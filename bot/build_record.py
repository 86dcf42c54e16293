"""Build: a BuildSpec with identity, state and result, as the store keeps it."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from bot.build_spec import BuildSpec


class BuildState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    ERROR = "error"

    @property
    def finished(self) -> bool:
        return self not in (BuildState.QUEUED, BuildState.RUNNING)


@dataclass(frozen=True)
class Build:
    id: int
    delivery_id: str
    name: str
    forge: str
    repo: str
    sha: str
    spec: BuildSpec | None
    state: BuildState
    reason: str
    digest: str | None
    size: int | None
    # What a newer build of the same name supersedes: the branch/tag ref, or "pr/<number>".
    ref_key: str = ""
    pr: int | None = None
    # The unguessable name its links use (/builds/<key>); the id is never published.
    key: str = ""
    # When it was recorded, started and ended (naive UTC, as stored): its queue and run times.
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # The digests of the builder and runtime images it was built from (None: not recorded,
    # a build before they were, or one that did not get that far).
    builder_digest: str | None = None
    runtime_digest: str | None = None
