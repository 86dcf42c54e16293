"""What every forge driver offers, and the plain data that crosses that boundary.

A driver has two halves: a WebhookParser (pure: bytes in, Event out) and a ForgeApi (the
forge's REST API through its client library). bot.forges.make_forges pairs them per forge.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from bot.events import Event, PullRequest


class SignatureError(Exception):
    """The webhook is not signed by someone who knows the secret: answer 401, store nothing."""


class PayloadError(Exception):
    """The webhook body is not what the forge documents (e.g. not JSON): answer 400."""


class ForgeError(Exception):
    """A forge API call failed after the driver's retries; worth trying again later."""


class RateLimited(ForgeError):
    """The forge asked us to wait (Retry-After, X-RateLimit-Reset, RateLimit-Reset)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentForgeError(ForgeError):
    """The forge refused the call for good (e.g. 404, 422): retrying cannot help."""


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, in any case (HTTP header names are case-insensitive)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    return lowered.get(name.lower())


def json_object(body: bytes) -> dict[str, Any]:
    """A webhook body as the JSON object both forges send; PayloadError otherwise."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"the body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise PayloadError("the body is not a JSON object")
    return payload


# Both forges name a deleted branch or tag by the all-zero sha in `after`.
ZERO_SHA = "0" * 40


def paths_of(commits: list[dict[str, Any]]) -> tuple[str, ...]:
    """Every path the listed commits added, modified or removed (both forges list them so)."""
    paths: set[str] = set()
    for commit in commits:
        for key in ("added", "modified", "removed"):
            paths.update(commit.get(key) or [])
    return tuple(sorted(paths))


@dataclass(frozen=True, slots=True)
class Ping:
    """The forge checking that the hook works (GitHub `ping`)."""

    zen: str = ""


@dataclass(frozen=True, slots=True)
class Ignored:
    reason: str


Webhook = Event | Ping | Ignored


class StatusState(enum.StrEnum):
    # GitHub's commit status states, plus cancelled; each driver maps them to its own.
    PENDING = "pending"
    RUNNING = "running"  # GitHub has no such state: its driver sends "pending"
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"
    CANCELLED = "cancelled"  # GitHub has no such state: its driver sends "error"


@dataclass(frozen=True, slots=True)
class CommitStatus:
    state: StatusState
    context: str
    description: str
    target_url: str
    # The branch or tag built, a PR's head branch, a fork PR's refs/merge-requests/N/head:
    # GitLab files the status under it (GitHub has no such field).
    ref: str = ""


@dataclass(frozen=True, slots=True)
class ReleaseAsset:
    name: str
    url: str  # where the runner downloads it (with the forge token)


class WebhookParser(Protocol):
    """The pure half of a forge driver: a webhook's bytes in, a Webhook out (no I/O)."""

    @property
    def name(self) -> str: ...

    def parse(self, headers: Mapping[str, str], body: bytes) -> Webhook:
        """Verify and normalise one webhook; raises SignatureError or PayloadError."""
        ...

    def delivery_id(self, headers: Mapping[str, str]) -> str | None: ...

    def event_name(self, headers: Mapping[str, str]) -> str: ...


class ForgeApi(Protocol):
    """The API half of a forge driver: the calls s2i-bot makes to the forge."""

    @property
    def name(self) -> str: ...

    def read_file(self, repo: str, path: str, sha: str) -> str | None:
        """The file's text at sha, or None when the repository has no such file."""
        ...

    def set_status(self, repo: str, sha: str, status: CommitStatus) -> None: ...

    def pull_request(self, repo: str, number: int) -> PullRequest: ...

    def can_write(self, repo: str, user: str) -> bool:
        """Whether the user may push to the repository (and so run `/s2i` commands)."""
        ...

    def upsert_comment(self, repo: str, number: int, comment_id: int | None, body: str) -> int:
        """Edit the bot's comment on a pull request in place, or create it; returns its id."""
        ...

    def comment(self, repo: str, number: int, body: str) -> None: ...

    def tag_sha(self, repo: str, tag: str) -> str:
        """The commit a tag points at (annotated tags peeled)."""
        ...

    def release_assets(self, repo: str, release_id: int) -> list[ReleaseAsset]: ...

    def clone_token(self, repo: str) -> str | None:
        """A token that may clone the repository over HTTPS (the password of Basic auth)."""
        ...


@dataclass(frozen=True)
class Webhooks:
    """A forge's webhook endpoint: its pure `parse` bound to the configured secret, and the
    headers that carry the delivery id and the event name."""

    name: str
    secret: str | None
    parser: Callable[[Mapping[str, str], bytes, str | None], Webhook]
    delivery_header: str
    event_header: str

    def parse(self, headers: Mapping[str, str], body: bytes) -> Webhook:
        return self.parser(headers, body, self.secret)

    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        return header(headers, self.delivery_header)

    def event_name(self, headers: Mapping[str, str]) -> str:
        return header(headers, self.event_header) or ""


@dataclass(frozen=True)
class Forge:
    """One configured forge: its webhook parser and its API client."""

    webhooks: WebhookParser
    api: ForgeApi
