"""The forge-neutral Event: what happened, independent of GitHub or GitLab.

Forge drivers (bot/forges/*) turn a webhook into one of these; nothing downstream reads
forge payloads. Forge-only fields stay in the driver (see docs/architecture.md).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class EventKind(enum.StrEnum):
    PUSH = "push"
    TAG = "tag"
    PULL_REQUEST = "pull_request"
    COMMENT = "comment"
    RELEASE = "release"


@dataclass(frozen=True, slots=True)
class Repo:
    """A repository on a forge: its name and where to clone it from."""

    forge: str  # "github" | "gitlab"
    full_name: str  # "owner/name"
    clone_url: str
    html_url: str = ""


@dataclass(frozen=True, slots=True)
class Event:
    kind: EventKind
    repo: Repo
    ref: str  # the full git ref, e.g. "refs/heads/main"
    sha: str  # the commit to build
    actor: str
    delivery_id: str

    @property
    def branch(self) -> str | None:
        prefix = "refs/heads/"
        return self.ref[len(prefix) :] if self.ref.startswith(prefix) else None
