"""What every forge driver offers, and the plain data that crosses that boundary."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from bot.events import Event


class SignatureError(Exception):
    """The webhook is not signed by someone who knows the secret: answer 401, store nothing."""


class PayloadError(Exception):
    """The webhook body is not what the forge documents (e.g. not JSON): answer 400."""


@dataclass(frozen=True, slots=True)
class Ping:
    """The forge checking that the hook works (GitHub `ping`)."""

    zen: str = ""


@dataclass(frozen=True, slots=True)
class Ignored:
    reason: str


Webhook = Event | Ping | Ignored


class StatusState(enum.StrEnum):
    # GitHub's commit status states; GitLab's driver maps them to its own.
    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class CommitStatus:
    state: StatusState
    context: str
    description: str
    target_url: str


class Forge(Protocol):
    name: str

    def parse(self, headers: Mapping[str, str], body: bytes) -> Webhook:
        """Verify and normalise one webhook; raises SignatureError or PayloadError."""
        ...

    def delivery_id(self, headers: Mapping[str, str]) -> str | None: ...

    def event_name(self, headers: Mapping[str, str]) -> str: ...

    def read_file(self, repo: str, path: str, sha: str) -> str | None:
        """The file's text at sha, or None when the repository has no such file."""
        ...

    def set_status(self, repo: str, sha: str, status: CommitStatus) -> None: ...

    def clone_token(self) -> str | None: ...
