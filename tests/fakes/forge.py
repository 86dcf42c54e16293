"""An in-memory Forge for unit tests of what sits behind the forge boundary (outbox,
reporter). Anything that talks HTTP to a forge is tested against tests/fakes/github.py."""

from __future__ import annotations

import time
from collections.abc import Mapping

from bot.forges.base import CommitStatus, Ignored, Webhook


class RecordingForge:
    name = "github"

    def __init__(self) -> None:
        self.statuses: list[tuple[float, str, str, CommitStatus]] = []  # time, repo, sha, status

    def parse(self, headers: Mapping[str, str], body: bytes) -> Webhook:
        return Ignored("RecordingForge parses nothing")

    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        return None

    def event_name(self, headers: Mapping[str, str]) -> str:
        return ""

    def read_file(self, repo: str, path: str, sha: str) -> str | None:
        return None

    def set_status(self, repo: str, sha: str, status: CommitStatus) -> None:
        self.statuses.append((time.monotonic(), repo, sha, status))

    def clone_token(self) -> str | None:
        return None
