"""GitLab (gitlab.com or self-managed): webhook parsing (pure) and the API calls s2i-bot makes,
through python-gitlab. Only this module imports `gitlab`.

Webhook facts follow GitLab's docs, "Webhook events" (doc/user/project/integrations/
webhook_events.md) and "Webhooks" (the X-Gitlab-Token secret); API facts follow doc/api/.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import gitlab
import requests
from gitlab.exceptions import GitlabError, GitlabGetError, GitlabHttpError

from bot.events import Comment, Event, EventKind, PullAction, PullRequest, Repo
from bot.forges.base import (
    CommitStatus,
    ForgeError,
    Ignored,
    PayloadError,
    PermanentForgeError,
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

NAME = "gitlab"
_ZERO_SHA = "0" * 40
DEVELOPER = 30  # GitLab access levels: 30 Developer may push; 40 Maintainer, 50 Owner
_STATES = {  # GitLab commit status states (doc/api/commits.md, "Set the pipeline status")
    StatusState.PENDING: "pending",
    StatusState.RUNNING: "running",
    StatusState.SUCCESS: "success",
    StatusState.FAILURE: "failed",
    StatusState.ERROR: "failed",
    StatusState.CANCELLED: "canceled",
}
_MR_ACTIONS = {
    "open": PullAction.OPENED,
    "reopen": PullAction.REOPENED,
    "update": PullAction.CHANGED,
    "close": PullAction.CLOSED,
    "merge": PullAction.CLOSED,
}
T = TypeVar("T")
# python-gitlab sleeps through 429s by itself (time.sleep, up to 10 times); we retry in
# bot.retry instead, where the wait is bounded and injectable.
_NO_SLEEP: dict[str, Any] = {"obey_rate_limit": False}


def verify_token(headers: Mapping[str, str], secret: str) -> None:
    """GitLab sends the webhook's secret token as is in X-Gitlab-Token; compare in constant
    time."""
    token = header(headers, "X-Gitlab-Token")
    if not token:
        raise SignatureError("missing X-Gitlab-Token header")
    if not hmac.compare_digest(token.encode(), secret.encode()):
        raise SignatureError("X-Gitlab-Token does not match the webhook secret")


def _repo(payload: Mapping[str, Any]) -> Repo:
    project = payload["project"]
    return Repo(NAME, project["path_with_namespace"], project["git_http_url"], project["web_url"])


def _changed_paths(payload: Mapping[str, Any]) -> tuple[str, ...] | None:
    """GitLab lists at most 20 commits (total_commits_count says how many there were)."""
    commits = payload.get("commits") or []
    if not commits or payload.get("total_commits_count", len(commits)) > len(commits):
        return None
    paths: set[str] = set()
    for commit in commits:
        for key in ("added", "modified", "removed"):
            paths.update(commit.get(key) or [])
    return tuple(sorted(paths))


def _push(payload: Mapping[str, Any], delivery_id: str, kind: EventKind) -> Webhook:
    ref, after = payload["ref"], payload["after"]
    if after == _ZERO_SHA:
        return Ignored(f"{ref} was deleted")
    sha = payload.get("checkout_sha") or after
    changed = _changed_paths(payload) if kind is EventKind.PUSH else None
    return Event(
        kind,
        _repo(payload),
        ref,
        sha,
        payload.get("user_username") or payload.get("user_name", ""),
        delivery_id,
        changed_paths=changed,
    )


def _merge_request(payload: Mapping[str, Any], delivery_id: str) -> Webhook:
    attrs = payload["object_attributes"]
    action = _MR_ACTIONS.get(attrs.get("action", ""))
    # "update" fires for title and label edits too; only new commits (oldrev) change the code.
    if action is None or (action is PullAction.CHANGED and not attrs.get("oldrev")):
        return Ignored(f"merge request action '{attrs.get('action')}' changes no code")
    iid = int(attrs["iid"])
    pull = PullRequest(
        number=iid,
        head_sha=attrs["last_commit"]["id"],
        head_branch=attrs["source_branch"],
        base_branch=attrs["target_branch"],
        author="",  # the hook names only author_id: the driver looks the author up
        from_fork=attrs["source_project_id"] != attrs["target_project_id"],
        draft=bool(attrs.get("draft") or attrs.get("work_in_progress")),
        base_sha=attrs["target_branch"],  # the hook has no target sha; a branch works as ref
        fetch_ref=f"refs/merge-requests/{iid}/head",  # GitLab keeps every MR's head here
    )
    return Event(
        EventKind.PULL_REQUEST, _repo(payload), pull.fetch_ref, pull.head_sha,
        payload["user"]["username"], delivery_id, pull=pull, pull_action=action,
    )  # fmt: skip


def _note(payload: Mapping[str, Any], delivery_id: str) -> Webhook:
    attrs = payload["object_attributes"]
    if attrs.get("noteable_type") != "MergeRequest":
        return Ignored(f"a comment on a {attrs.get('noteable_type')}, not a merge request")
    # Commands in edited comments do nothing (newer GitLabs send action "update" for edits).
    if attrs.get("action", "create") != "create" or attrs.get("system"):
        return Ignored("an edited or system note")
    author = payload["user"]["username"]
    return Event(
        EventKind.COMMENT, _repo(payload), "", "", author, delivery_id,
        comment=Comment(int(attrs["id"]), attrs.get("note") or "", author),
        pr_number=int(payload["merge_request"]["iid"]),
    )  # fmt: skip


def parse(headers: Mapping[str, str], body: bytes, secret: str | None) -> Webhook:
    """Verify the token (when a secret is configured) and normalise the payload."""
    if secret is not None:
        verify_token(headers, secret)
    event = header(headers, "X-Gitlab-Event") or ""
    delivery_id = header(headers, "X-Gitlab-Event-UUID") or ""
    payload = json_object(body)
    try:
        match event:
            case "Push Hook":
                return _push(payload, delivery_id, EventKind.PUSH)
            case "Tag Push Hook":
                return _push(payload, delivery_id, EventKind.TAG)
            case "Merge Request Hook":
                return _merge_request(payload, delivery_id)
            case "Note Hook":
                return _note(payload, delivery_id)
    except (KeyError, TypeError, ValueError) as exc:
        raise PayloadError(f"{event} payload lacks {exc}") from exc
    return Ignored(f"event '{event}' is not handled")


class GitLabForge:
    """GitLab through python-gitlab, with a project, group or personal access token."""

    name = NAME

    def __init__(
        self, url: str, token: str | None, webhook_secret: str | None, *,
        retry: RetryPolicy | None = None,
    ) -> None:  # fmt: skip
        self._token, self._secret = token, webhook_secret
        self._retry = retry or RetryPolicy()
        self._local = threading.local()  # the headers of this thread's last failed answer
        session = requests.Session()
        session.hooks["response"].append(self._remember)
        self._gl = gitlab.Gitlab(
            url.rstrip("/"), private_token=token, retry_transient_errors=False, session=session
        )
        self._user_ids: dict[str, int | None] = {}

    def _remember(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        if response.status_code >= 400:
            self._local.headers = dict(response.headers)

    def wait_hint(self, exc: BaseException) -> float | None:
        """How long GitLab asked us to wait (429: Retry-After or RateLimit-Reset)."""
        if isinstance(exc, GitlabHttpError | GitlabError) and exc.response_code is not None:
            if exc.response_code == 429:
                headers = {k.lower(): v for k, v in getattr(self._local, "headers", {}).items()}
                if "retry-after" in headers:
                    return float(headers["retry-after"])
                if "ratelimit-reset" in headers:
                    return max(float(headers["ratelimit-reset"]) - time.time(), 1.0)
                return 60.0
            return 0.0 if exc.response_code >= 500 else None
        return (
            0.0 if isinstance(exc, ConnectionError | OSError | requests.ConnectionError) else None
        )

    def _call(self, fn: Callable[[], T]) -> T:
        try:
            return call_with_retry(fn, self._retry, wait_hint=self.wait_hint)
        except GitlabError as exc:
            hint = self.wait_hint(exc)
            message = f"GitLab answered {exc.response_code}: {exc.error_message}"
            if hint:
                raise RateLimited(message, hint) from exc
            raise (PermanentForgeError if hint is None else ForgeError)(message) from exc

    def _project(self, repo: str) -> Any:
        return self._gl.projects.get(repo, lazy=True)

    def parse(self, headers: Mapping[str, str], body: bytes) -> Webhook:
        return parse(headers, body, self._secret)

    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        return header(headers, "X-Gitlab-Event-UUID")

    def event_name(self, headers: Mapping[str, str]) -> str:
        return header(headers, "X-Gitlab-Event") or ""

    def clone_token(self, repo: str) -> str | None:
        return self._token

    def read_file(self, repo: str, path: str, sha: str) -> str | None:
        def read() -> str | None:
            try:
                raw = self._project(repo).files.raw(file_path=path, ref=sha, **_NO_SLEEP)
            except GitlabGetError as exc:
                if exc.response_code == 404:
                    return None
                raise
            return bytes(raw).decode()

        return self._call(read)

    def set_status(self, repo: str, sha: str, status: CommitStatus) -> None:
        data = {
            "state": _STATES[status.state],
            "name": status.context,
            "target_url": status.target_url,
            "description": status.description[:255],
        }
        if status.ref:
            data["ref"] = status.ref  # a fork MR's head is on no branch of this project

        def post() -> None:
            try:
                commit = self._project(repo).commits.get(sha, lazy=True)
                commit.statuses.create(data, **_NO_SLEEP)
            except GitlabError as exc:
                # GitLab refuses a status that is already in that state ("Cannot transition
                # status via :run from :running"): what we wanted to say is said already.
                if exc.response_code == 400 and "Cannot transition status" in str(
                    exc.error_message
                ):
                    return
                raise

        self._call(post)

    def pull_request(self, repo: str, number: int) -> PullRequest:
        mr = self._call(lambda: self._project(repo).mergerequests.get(number, **_NO_SLEEP))
        diff_refs = mr.attributes.get("diff_refs") or {}
        return PullRequest(
            number=int(mr.iid),
            head_sha=mr.sha,
            head_branch=mr.source_branch,
            base_branch=mr.target_branch,
            author=mr.author["username"],
            from_fork=mr.source_project_id != mr.target_project_id,
            draft=bool(mr.attributes.get("draft") or mr.attributes.get("work_in_progress")),
            base_sha=diff_refs.get("base_sha") or mr.target_branch,
            fetch_ref=f"refs/merge-requests/{int(mr.iid)}/head",
        )

    def _user_id(self, username: str) -> int | None:
        if username not in self._user_ids:
            users = self._call(lambda: self._gl.users.list(username=username, get_all=False))
            self._user_ids[username] = int(users[0].id) if users else None
        return self._user_ids[username]

    def can_write(self, repo: str, user: str) -> bool:
        """Developer (30) or higher may push; inherited group membership counts
        (`members/all`)."""
        user_id = self._user_id(user)
        if user_id is None:
            return False

        def level() -> int:
            try:
                member = self._project(repo).members_all.get(user_id, **_NO_SLEEP)
            except GitlabGetError as exc:
                if exc.response_code == 404:
                    return 0
                raise
            return int(member.access_level)

        return self._call(level) >= DEVELOPER

    def upsert_comment(self, repo: str, number: int, comment_id: int | None, body: str) -> int:
        def upsert() -> int:
            notes = self._project(repo).mergerequests.get(number, lazy=True).notes
            if comment_id is not None:
                try:
                    notes.update(comment_id, {"body": body}, **_NO_SLEEP)
                    return comment_id
                except GitlabError as exc:
                    if exc.response_code != 404:
                        raise
            else:  # the store lost track (a new database): find ours by its marker
                for note in notes.list(iterator=True):
                    if MARKER in (note.body or ""):
                        notes.update(note.id, {"body": body}, **_NO_SLEEP)
                        return int(note.id)
            return int(notes.create({"body": body}, **_NO_SLEEP).id)

        return self._call(upsert)

    def tag_sha(self, repo: str, tag: str) -> str:
        tag_object = self._call(lambda: self._project(repo).tags.get(tag, **_NO_SLEEP))
        return str(tag_object.commit["id"])

    def release_assets(self, repo: str, release_id: int) -> list[ReleaseAsset]:
        # GitLab's Release Hook is not handled yet (the driver ignores it), so no build asks.
        raise PermanentForgeError("release assets are not supported on GitLab yet")

    def comment(self, repo: str, number: int, body: str) -> None:
        notes = self._project(repo).mergerequests.get(number, lazy=True).notes
        self._call(lambda: notes.create({"body": body}, **_NO_SLEEP))
