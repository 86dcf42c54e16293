"""GitHub: webhook parsing (pure) and the API calls s2i-bot makes, through PyGithub.

Only this module imports `github`. Webhook facts follow GitHub's docs, "Webhook events and
payloads" and "Validating webhook deliveries"; rate limits follow "Rate limits for the REST API".
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from github import (
    Auth,
    BadCredentialsException,
    Github,
    GithubException,
    GithubIntegration,
    UnknownObjectException,
)

from bot.events import Comment, Event, EventKind, PullAction, PullRequest, Repo
from bot.forges.base import (
    CommitStatus,
    ForgeError,
    Ignored,
    PayloadError,
    PermanentForgeError,
    Ping,
    RateLimited,
    ReleaseAsset,
    SignatureError,
    StatusState,
    Webhook,
    header,
    json_object,
)
from bot.pull_comment import MARKER
from bot.retry import RetryPolicy, call_with_retry

NAME = "github"
_ZERO_SHA = "0" * 40
# GitHub truncates nothing for us: a status description longer than 140 characters is a 422.
_DESCRIPTION_MAX = 140
_WRITERS = ("admin", "maintain", "write")
# GitHub: without Retry-After or a reset time, wait at least a minute after a secondary limit.
_SECONDARY_LIMIT_WAIT = 60.0
_PULL_ACTIONS = {
    "opened": PullAction.OPENED,
    "synchronize": PullAction.CHANGED,
    "reopened": PullAction.REOPENED,
    "ready_for_review": PullAction.READY,
    "closed": PullAction.CLOSED,
}
T = TypeVar("T")


def verify_signature(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """X-Hub-Signature-256 is `sha256=` + the hex HMAC-SHA256 of the raw body, keyed with the
    webhook secret; compare in constant time (GitHub docs: "Validating webhook deliveries")."""
    signature = header(headers, "X-Hub-Signature-256")
    if not signature:
        raise SignatureError("missing X-Hub-Signature-256 header")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise SignatureError("X-Hub-Signature-256 does not match the payload")


def _repo(payload: Mapping[str, Any]) -> Repo:
    repository = payload["repository"]
    return Repo(
        forge=NAME,
        full_name=repository["full_name"],
        clone_url=repository["clone_url"],
        html_url=repository.get("html_url", ""),
    )


def _changed_paths(payload: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The files a push changed, when the payload lists them all: GitHub lists at most 20
    commits in a push payload, and none for a new branch, so then we do not know."""
    commits = payload.get("commits") or []
    if not commits or len(commits) >= 20:
        return None
    paths: set[str] = set()
    for commit in commits:
        for key in ("added", "modified", "removed"):
            paths.update(commit.get(key) or [])
    return tuple(sorted(paths))


def _push(payload: Mapping[str, Any], delivery_id: str) -> Webhook:
    ref, after = payload["ref"], payload["after"]
    if payload.get("deleted") or after == _ZERO_SHA:
        return Ignored(f"{ref} was deleted")
    if ref.startswith("refs/tags/"):
        kind = EventKind.TAG
    elif ref.startswith("refs/heads/"):
        kind = EventKind.PUSH
    else:
        return Ignored(f"push to {ref} is neither a branch nor a tag")
    actor = (payload.get("sender") or {}).get("login") or payload["pusher"]["name"]
    changed = _changed_paths(payload) if kind is EventKind.PUSH else None
    return Event(kind, _repo(payload), ref, after, actor, delivery_id, changed_paths=changed)


def _pull(payload: Mapping[str, Any]) -> PullRequest:
    pull = payload.get("pull_request", payload)  # a webhook payload, or the API's PR object
    head_repo = pull["head"].get("repo")  # null when the fork was deleted
    base_repo = pull["base"]["repo"]
    number = int(pull["number"])
    return PullRequest(
        number=number,
        head_sha=pull["head"]["sha"],
        head_branch=pull["head"]["ref"],
        base_branch=pull["base"]["ref"],
        author=pull["user"]["login"],
        from_fork=head_repo is None or head_repo["full_name"] != base_repo["full_name"],
        draft=bool(pull.get("draft")),
        base_sha=pull["base"]["sha"],
        fetch_ref=f"refs/pull/{number}/head",  # GitHub keeps every PR's head here
    )


def _pull_request(payload: Mapping[str, Any], delivery_id: str) -> Webhook:
    action = _PULL_ACTIONS.get(payload["action"])
    if action is None:
        return Ignored(f"pull_request action '{payload['action']}' is not handled")
    pull = _pull(payload)
    return Event(
        EventKind.PULL_REQUEST, _repo(payload), pull.fetch_ref, pull.head_sha,
        payload["sender"]["login"], delivery_id, pull=pull, pull_action=action,
    )  # fmt: skip


def _issue_comment(payload: Mapping[str, Any], delivery_id: str) -> Webhook:
    # Commands in edited or deleted comments do nothing: only a new comment is a request.
    if payload["action"] != "created":
        return Ignored(f"issue_comment action '{payload['action']}' is not handled")
    issue = payload["issue"]
    if not issue.get("pull_request"):
        return Ignored("a comment on an issue, not a pull request")
    comment = payload["comment"]
    author = comment["user"]["login"]
    return Event(
        EventKind.COMMENT, _repo(payload), "", "", author, delivery_id,
        comment=Comment(int(comment["id"]), comment["body"] or "", author),
        pr_number=int(issue["number"]),
    )  # fmt: skip


def _release(payload: Mapping[str, Any], delivery_id: str) -> Webhook:
    # "published" is the moment a release is public (drafts are not); B2I builds then.
    if payload["action"] != "published":
        return Ignored(f"release action '{payload['action']}' is not handled")
    release = payload["release"]
    return Event(
        EventKind.RELEASE, _repo(payload), f"refs/tags/{release['tag_name']}", "",
        payload["sender"]["login"], delivery_id, release_id=int(release["id"]),
    )  # fmt: skip


_PARSERS: dict[str, Callable[[Mapping[str, Any], str], Webhook]] = {
    "push": _push,
    "pull_request": _pull_request,
    "issue_comment": _issue_comment,
    "release": _release,
}


def parse(headers: Mapping[str, str], body: bytes, secret: str | None) -> Webhook:
    """Verify the signature (when a secret is configured) and normalise the payload."""
    if secret is not None:
        verify_signature(headers, body, secret)
    event = header(headers, "X-GitHub-Event") or ""
    delivery_id = header(headers, "X-GitHub-Delivery") or ""
    payload = json_object(body)
    if event == "ping":
        return Ping(str(payload.get("zen", "")))
    parser = _PARSERS.get(event)
    if parser is None:
        return Ignored(f"event '{event}' is not handled")
    try:
        return parser(payload, delivery_id)
    except (KeyError, TypeError, ValueError) as exc:
        raise PayloadError(f"{event} payload lacks {exc}") from exc


def wait_hint(exc: BaseException) -> float | None:
    """How long GitHub asked us to wait before trying again (None: do not retry)."""
    if isinstance(exc, GithubException):
        headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
        limited = exc.status == 429 or (
            exc.status == 403
            and (
                "rate limit" in str(exc.data).lower() or headers.get("x-ratelimit-remaining") == "0"
            )
        )
        if limited:
            if "retry-after" in headers:
                return float(headers["retry-after"])
            if "x-ratelimit-reset" in headers:
                return max(float(headers["x-ratelimit-reset"]) - time.time(), 1.0)
            return _SECONDARY_LIMIT_WAIT
        return 0.0 if exc.status >= 500 else None
    return 0.0 if isinstance(exc, ConnectionError | OSError) else None


def _forge_error(exc: GithubException) -> ForgeError:
    hint = wait_hint(exc)
    message = f"GitHub answered {exc.status}: {exc.data}"
    if hint:
        return RateLimited(message, hint)
    return PermanentForgeError(message) if hint is None else ForgeError(message)


class GitHubForge:
    """GitHub through PyGithub, authenticated with a token or as a GitHub App."""

    name = NAME

    def __init__(
        self,
        api_url: str,
        token: str | None,
        webhook_secret: str | None,
        *,
        app_id: int | None = None,
        private_key: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._api_url = api_url.rstrip("/")
        self._secret = webhook_secret
        self._token = token
        self._retry = retry or RetryPolicy()
        self._lock = threading.Lock()
        self._app_auth = Auth.AppAuth(app_id, private_key) if app_id and private_key else None
        self._installations: dict[str, Github] = {}  # owner -> client with an installation token
        self._installation_auth: dict[str, Auth.AppInstallationAuth] = {}
        self._gh = self._client(Auth.Token(token) if token else None)

    def _client(self, auth: Auth.Auth | None) -> Github:
        # PyGithub's own retry and throttle are off: retries live in bot.retry, and the outbox
        # spaces writes (bot/outbox.py), where it can also drop superseded ones.
        return Github(
            base_url=self._api_url, auth=auth, retry=None, lazy=True,
            seconds_between_requests=None, seconds_between_writes=None,
        )  # fmt: skip

    def _github(self, repo: str) -> Github:
        """The client for a repository: with a GitHub App, one per installation, whose token
        PyGithub refreshes shortly before it expires."""
        if self._app_auth is None:
            return self._gh
        owner, name = repo.split("/", 1)
        with self._lock:
            if owner not in self._installations:
                integration = GithubIntegration(auth=self._app_auth, base_url=self._api_url)
                installation = self._call(lambda: integration.get_repo_installation(owner, name))
                auth = self._app_auth.get_installation_auth(installation.id)
                self._installations[owner] = self._client(auth)
                self._installation_auth[owner] = auth
            return self._installations[owner]

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            try:
                return call_with_retry(fn, self._retry, wait_hint=wait_hint)
            except BadCredentialsException:
                if self._app_auth is None:
                    raise
                # An installation token revoked or expired early (clock skew): forget the
                # installations' tokens and try once more with fresh ones.
                with self._lock:
                    self._installations.clear()
                    self._installation_auth.clear()
                return call_with_retry(fn, self._retry, wait_hint=wait_hint)
        except GithubException as exc:
            if isinstance(exc, UnknownObjectException):
                raise
            raise _forge_error(exc) from exc

    def parse(self, headers: Mapping[str, str], body: bytes) -> Webhook:
        return parse(headers, body, self._secret)

    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        return header(headers, "X-GitHub-Delivery")

    def event_name(self, headers: Mapping[str, str]) -> str:
        return header(headers, "X-GitHub-Event") or ""

    def clone_token(self, repo: str) -> str | None:
        if self._app_auth is None:
            return self._token
        self._github(repo)
        owner = repo.split("/", 1)[0]
        return self._call(lambda: self._installation_auth[owner].token)

    def read_file(self, repo: str, path: str, sha: str) -> str | None:
        def read() -> str | None:
            try:
                content = self._github(repo).get_repo(repo).get_contents(path, ref=sha)
            except UnknownObjectException:
                return None
            if isinstance(content, list):
                raise PayloadError(f"{path} is a directory in {repo}")
            return content.decoded_content.decode()

        return self._call(read)

    def set_status(self, repo: str, sha: str, status: CommitStatus) -> None:
        # GitHub's statuses know neither "running" nor "cancelled".
        state = {
            StatusState.CANCELLED: StatusState.ERROR,
            StatusState.RUNNING: StatusState.PENDING,
        }.get(status.state, status.state)
        description = status.description
        if status.state is StatusState.CANCELLED and not description.startswith("cancel"):
            description = f"cancelled: {description}"

        def post() -> None:
            self._github(repo).get_repo(repo).get_commit(sha).create_status(
                state=state.value,
                target_url=status.target_url,
                description=description[:_DESCRIPTION_MAX],
                context=status.context,
            )

        self._call(post)

    def pull_request(self, repo: str, number: int) -> PullRequest:
        pull = self._call(lambda: self._github(repo).get_repo(repo).get_pull(number))
        return _pull(pull.raw_data)

    def can_write(self, repo: str, user: str) -> bool:
        def permission() -> str:
            try:
                return self._github(repo).get_repo(repo).get_collaborator_permission(user)
            except UnknownObjectException:
                return "none"

        return self._call(permission) in _WRITERS

    def upsert_comment(self, repo: str, number: int, comment_id: int | None, body: str) -> int:
        def upsert() -> int:
            issue = self._github(repo).get_repo(repo).get_issue(number)
            if comment_id is not None:
                try:
                    issue.get_comment(comment_id).edit(body)
                    return comment_id
                except UnknownObjectException:
                    pass  # someone deleted it: make a new one
            else:  # the store lost track (a new database): find ours by its marker
                for comment in issue.get_comments():
                    if MARKER in (comment.body or ""):
                        comment.edit(body)
                        return int(comment.id)
            return int(issue.create_comment(body).id)

        return self._call(upsert)

    def tag_sha(self, repo: str, tag: str) -> str:
        def resolve() -> str:
            gh_repo = self._github(repo).get_repo(repo)
            target = gh_repo.get_git_ref(f"tags/{tag}").object
            if target.type == "tag":  # an annotated tag: its object is the commit
                return str(gh_repo.get_git_tag(target.sha).object.sha)
            return str(target.sha)

        return self._call(resolve)

    def release_assets(self, repo: str, release_id: int) -> list[ReleaseAsset]:
        def assets() -> list[ReleaseAsset]:
            release = self._github(repo).get_repo(repo).get_release(release_id)
            # The API URL (with Accept: application/octet-stream) works for private repos too.
            return [ReleaseAsset(a.name, a.url) for a in release.get_assets()]

        return self._call(assets)

    def comment(self, repo: str, number: int, body: str) -> None:
        self._call(lambda: self._github(repo).get_repo(repo).get_issue(number).create_comment(body))
