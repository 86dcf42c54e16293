"""What every forge driver offers, and the plain data that crosses that boundary.

A driver has two halves: a WebhookParser (pure: bytes in, Event out) and a ForgeApi (the
forge's REST API through its client library). bot.forges.make_forges pairs them per forge.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from bot.events import Event, PullRequest, Repo
from bot.forges.fields import PayloadError, header, repo_path


class SignatureError(Exception):
    """The webhook is not signed by someone who knows the secret: answer 401, store nothing."""


class ForgeError(Exception):
    """A forge API call failed after the driver's retries; worth trying again later."""


class RateLimited(ForgeError):
    """The forge asked us to wait (Retry-After, X-RateLimit-Reset, RateLimit-Reset)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentForgeError(ForgeError):
    """The forge refused the call for good (e.g. 404, 422): retrying cannot help."""


# The most the bot reads of a repository's file (`.s2i.yaml`, template markers): whoever can
# push decides its size, and a file is read into memory whole.
READ_LIMIT = 1024 * 1024


class FileTooLarge(PermanentForgeError):
    """A repository's file is larger than READ_LIMIT (or than the forge's API serves inline):
    it was not read."""

    def __init__(self, path: str, size: int) -> None:
        super().__init__(f"{path} is {size} bytes; at most {READ_LIMIT} are read")
        self.path, self.size = path, size


class UnknownRepository(PermanentForgeError):
    """The webhook names a repository the configured forge does not have (or has under
    another id): nothing is fetched or built for it."""


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


# "The Checks API limits the number of annotations to a maximum of 50 per API request"; more
# take further updates, each appending its own (GitHub REST, "Update a check run").
ANNOTATIONS_PER_REQUEST = 50


class CheckConclusion(enum.StrEnum):
    # The conclusions a check run ends with (GitHub REST, "Create a check run").
    SUCCESS = "success"
    FAILURE = "failure"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"


@dataclass(frozen=True, slots=True)
class Annotation:
    """A message on lines of a repository's file (GitHub check run `output.annotations`)."""

    path: str  # relative to the repository's root
    start_line: int
    end_line: int
    message: str
    title: str = ""
    start_column: int | None = None  # only when start_line == end_line (GitHub's rule)
    level: str = "failure"  # notice, warning, failure


@dataclass(frozen=True, slots=True)
class CheckRun:
    """A build as a GitHub check run: queued, in progress, or completed with a conclusion;
    what GitHub shows of it (title, Markdown summary, annotations)."""

    name: str
    head_sha: str
    status: str  # queued, in_progress, completed
    details_url: str
    external_id: str
    title: str
    summary: str
    conclusion: CheckConclusion | None = None
    started_at: datetime | None = None  # naive UTC, as the store keeps times
    completed_at: datetime | None = None
    annotations: tuple[Annotation, ...] = ()


@dataclass(frozen=True, slots=True)
class HookDeliveryItem:
    """One entry of a hook's delivery log (GitHub's `hook-delivery-item`): one attempt to
    deliver an event; redeliveries of an event share its `guid`, the X-GitHub-Delivery."""

    hook: str  # "app" (the GitHub App's hook) or "owner/repo:hook_id"
    id: int  # this attempt's id in the log
    guid: str
    event: str
    action: str | None
    delivered_at: datetime
    status_code: int  # what the bot answered (0 or 5xx: it was down or refused)


@dataclass(frozen=True, slots=True)
class LoggedDelivery:
    """A delivery as the hook's log keeps it (GitHub's `hook-delivery`): the request's
    headers and payload, as the forge sent them."""

    guid: str
    event: str
    headers: dict[str, str]
    payload: dict[str, Any]


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

    def vouch(self, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
        """`headers` with the signature (or token) `parse` checks, for a body the bot itself
        vouches for: one it read from the forge's API, never one a request brought."""
        ...


class ForgeApi(Protocol):
    """The API half of a forge driver: the calls s2i-bot makes to the forge."""

    @property
    def name(self) -> str: ...

    def read_file(self, repo: str, path: str, sha: str) -> str | None:
        """The file's text at sha, or None when the repository has no such file."""
        ...

    def set_status(self, repo: str, sha: str, status: CommitStatus) -> None: ...

    def pull_request(self, repo: str, number: int) -> PullRequest: ...

    def repository(self, full_name: str, repo_id: int | None) -> Repo:
        """The repository a webhook names, as the configured forge knows it: its full name
        as the forge spells it, and the clone URL built from the forge's configured git URL
        (never the payload's). UnknownRepository when the forge has no such repository, or
        has it under another id than the webhook's."""
        ...

    def can_write(self, repo: str, user: str, user_id: int | None) -> bool:
        """Whether the user may push to the repository (and so run `/s2i` commands). The id,
        where the webhook gave one, decides who the user is: a name can change hands."""
        ...

    def upsert_comment(self, repo: str, number: int, comment_id: int | None, body: str) -> int:
        """Edit the bot's comment on a pull request in place, or create it; returns its id."""
        ...

    def comment(self, repo: str, number: int, body: str) -> None: ...

    def bot_login(self) -> str:
        """The login of the account the bot acts as (its comments are its own)."""
        ...

    def tag_sha(self, repo: str, tag: str) -> str:
        """The commit a tag points at (annotated tags peeled)."""
        ...

    def release_assets(self, repo: str, release_id: int) -> list[ReleaseAsset]: ...

    def clone_token(self, repo: str) -> str | None:
        """A token that may clone the repository over HTTPS (the password of Basic auth)."""
        ...

    def branch_head(self, repo: str, branch: str) -> str | None:
        """The commit a branch points at now; None when the repository has no such branch."""
        ...

    def changed_paths(self, repo: str, base: str, head: str) -> tuple[str, ...] | None:
        """The files `head` changed since its merge base with `base` (a push's changed
        paths, for path filters); None when the forge cannot say (a commit gone, too many)."""
        ...

    def tag_head(self, repo: str, tag: str) -> str | None:
        """The commit a tag points at (annotated tags peeled); None when there is no such
        tag (a manual trigger's ref, bot/manual_trigger.py)."""
        ...

    def default_branch(self, repo: str) -> str:
        """The repository's default branch (what a manual trigger builds unless told)."""
        ...


@runtime_checkable
class CheckRunApi(Protocol):
    """A forge that shows builds as check runs (GitHub, as a GitHub App)."""

    def create_check_run(self, repo: str, run: CheckRun, annotations: Sequence[Annotation]) -> int:
        """Create the check run with these annotations (at most ANNOTATIONS_PER_REQUEST);
        returns its id."""
        ...

    def update_check_run(
        self, repo: str, check_run_id: int, run: CheckRun, annotations: Sequence[Annotation]
    ) -> None:
        """Bring the check run to `run`'s state, adding these annotations (GitHub appends
        each request's annotations to those the run has)."""
        ...

    def find_check_run(self, repo: str, run: CheckRun) -> tuple[int, int] | None:
        """The check run made for `run`'s build already (its name and external id on its
        commit), if any: its id and how many annotations it has."""
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
    # The headers that carry the secret's proof for a body (the driver's `sealed`).
    sealer: Callable[[Mapping[str, str], bytes, str | None], dict[str, str]]

    def parse(self, headers: Mapping[str, str], body: bytes) -> Webhook:
        return self.parser(headers, body, self.secret)

    def vouch(self, headers: Mapping[str, str], body: bytes) -> dict[str, str]:
        return self.sealer(headers, body, self.secret)

    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        return header(headers, self.delivery_header)

    def event_name(self, headers: Mapping[str, str]) -> str:
        return header(headers, self.event_header) or ""


@dataclass(frozen=True)
class Forge:
    """One configured forge: its webhook parser and its API client."""

    webhooks: WebhookParser
    api: ForgeApi


@dataclass(frozen=True, slots=True)
class FoundRepository:
    """What a forge's API answered for a repository name: its id, canonical name, web page."""

    id: int
    full_name: str
    html_url: str


def confirmed_repo(
    forge: str,
    asked: str,
    repo_id: int | None,
    found: FoundRepository | None,
    *,
    where: str,
    noun: str,
    name_field: str,
    git_url: str,
) -> Repo:
    """The repository a webhook named, as the forge's API knows it: it must exist (for the
    bot's credentials) and, when the webhook gave an id, have that id. Its clone URL is built
    from the configured git URL and the canonical name, never from the payload."""
    label = "GitHub" if forge == "github" else "GitLab"
    if found is None:
        raise UnknownRepository(f"{label} has no {noun} {asked} that the bot can see ({where})")
    if repo_id is not None and found.id != repo_id:
        raise UnknownRepository(
            f"the webhook names {asked} with id {repo_id}, but {label}'s {found.full_name} "
            f"has id {found.id}"
        )
    try:
        name = repo_path(found.full_name, name_field)
    except PayloadError as exc:
        raise UnknownRepository(f"{label}'s answer for {asked} {exc}") from None
    return Repo(forge, name, f"{git_url}/{name}.git", found.html_url, found.id)
