"""GitLab's REST API (gitlab.com or self-managed), through python-gitlab: the calls s2i-bot
makes. Only this module imports `gitlab` (import-linter). API facts follow doc/api/.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import gitlab
import requests
from gitlab.exceptions import GitlabError, GitlabGetError

from bot.events import PullRequest, Repo
from bot.forges.base import (
    READ_LIMIT,
    CommitStatus,
    FileTooLarge,
    FoundRepository,
    PermanentForgeError,
    ReleaseAsset,
    StatusState,
    confirmed_repo,
)
from bot.forges.gitlab_webhooks import NAME
from bot.forges.rate_limits import forge_error, wait_hint_for_status
from bot.metrics import Metrics
from bot.pull_comment import MARKER
from bot.retry import RetryPolicy, call_with_retry

DEVELOPER = 30  # GitLab access levels: 30 Developer may push; 40 Maintainer, 50 Owner
_STATES = {  # GitLab commit status states (doc/api/commits.md, "Set the pipeline status")
    StatusState.PENDING: "pending",
    StatusState.RUNNING: "running",
    StatusState.SUCCESS: "success",
    StatusState.FAILURE: "failed",
    StatusState.ERROR: "failed",
    StatusState.CANCELLED: "canceled",
}
T = TypeVar("T")
# python-gitlab sleeps through 429s by itself (time.sleep, up to 10 times); we retry in
# bot.retry instead, where the wait is bounded and injectable.
_NO_SLEEP: dict[str, Any] = {"obey_rate_limit": False}


class GitLabApi:
    """GitLab through python-gitlab, with a project, group or personal access token."""

    name = NAME

    def __init__(
        self, url: str, token: str | None, *,
        retry: RetryPolicy | None = None, git_url: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:  # fmt: skip
        self._token = token
        self._metrics = metrics or Metrics()
        # Where projects are cloned from: <url>/<path_with_namespace>.git, the project's
        # http_url_to_repo (doc/api/projects.md); the token is only ever sent there.
        self._git_url = (git_url or url).rstrip("/")
        self._retry = retry or RetryPolicy()
        self._local = threading.local()  # the headers of this thread's last failed answer
        session = requests.Session()
        session.hooks["response"].append(self._remember)
        self._gl = gitlab.Gitlab(
            url.rstrip("/"), private_token=token, retry_transient_errors=False, session=session
        )
        self._bot_login: str | None = None

    def _remember(self, response: requests.Response, *args: object, **kwargs: object) -> None:
        # GitLab sends RateLimit-Remaining with answers of a rate-limited path (doc/
        # administration/settings/user_and_ip_rate_limits.md, "Response headers").
        remaining = response.headers.get("RateLimit-Remaining", "")
        if remaining.isdigit():
            self._metrics.rate_limit(NAME, int(remaining))
        if response.status_code >= 400:
            self._local.headers = dict(response.headers)

    def wait_hint(self, exc: BaseException) -> float | None:
        """How long GitLab asked us to wait (429: Retry-After or RateLimit-Reset)."""
        if isinstance(exc, GitlabError) and exc.response_code is not None:
            headers = getattr(self._local, "headers", {})
            return wait_hint_for_status(exc.response_code, headers, str(exc.error_message))
        network = ConnectionError | OSError | requests.ConnectionError
        return 0.0 if isinstance(exc, network) else None

    def _call(self, fn: Callable[[], T]) -> T:
        with self._metrics.forge_call(NAME):
            return self._call_once(fn)

    def _call_once(self, fn: Callable[[], T]) -> T:
        try:
            return call_with_retry(fn, self._retry, wait_hint=self.wait_hint)
        except GitlabError as exc:
            message = f"GitLab answered {exc.response_code}: {exc.error_message}"
            raise forge_error(message, self.wait_hint(exc)) from exc

    def _project(self, repo: str) -> Any:
        return self._gl.projects.get(repo, lazy=True)

    def clone_token(self, repo: str) -> str | None:
        return self._token

    def read_file(self, repo: str, path: str, sha: str) -> str | None:
        def read() -> str | None:
            chunks: list[bytes] = []

            def take(chunk: bytes) -> None:  # streamed, so a huge file is never held whole
                chunks.append(chunk)
                if sum(map(len, chunks)) > READ_LIMIT:
                    raise FileTooLarge(path, sum(map(len, chunks)))

            try:
                self._project(repo).files.raw(
                    file_path=path, ref=sha, streamed=True, action=take, **_NO_SLEEP
                )
            except GitlabGetError as exc:
                if exc.response_code == 404:
                    return None
                raise
            return b"".join(chunks).decode(errors="replace")

        return self._call(read)

    def set_status(self, repo: str, sha: str, status: CommitStatus) -> None:
        data = {
            "state": _STATES[status.state],
            "name": status.context,
            "target_url": status.target_url,
            "description": status.description[:255],
        }
        # Without `ref` GitLab picks the first branch holding the commit, and answers 404
        # when none does (a fork MR's head is only in refs/merge-requests/N/head).
        if status.ref:
            data["ref"] = status.ref

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
            author_id=int(mr.author["id"]),
            fetch_ref=f"refs/merge-requests/{int(mr.iid)}/head",
        )

    def repository(self, full_name: str, repo_id: int | None) -> Repo:
        def get() -> FoundRepository | None:
            try:
                found = self._gl.projects.get(full_name, **_NO_SLEEP)
            except GitlabGetError as exc:
                if exc.response_code == 404:  # no such project, or the token may not see it
                    return None
                raise
            web_url = str(found.web_url or "")
            return FoundRepository(int(found.id), str(found.path_with_namespace), web_url)

        return confirmed_repo(
            NAME, full_name, repo_id, self._call(get), where=self._gl.url, noun="project",
            name_field="path_with_namespace", git_url=self._git_url,
        )  # fmt: skip

    def can_write(self, repo: str, user: str, user_id: int | None) -> bool:
        """Developer (30) or higher may push; inherited group membership counts
        (`members/all`). GitLab's hooks and API name every user by id, and only the id is
        trusted: a username is free again once its owner renames the account, so a name
        looked up later may be someone else's. Without an id nobody is a writer."""
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
                    # Ours only: anyone can post a note that carries the marker.
                    mine = (note.author or {}).get("username") == self.bot_login()
                    if mine and MARKER in (note.body or ""):
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

    def bot_login(self) -> str:
        """The token's user (`GET /user`, doc/api/users.md "Get the current user"): for a
        project or group access token, its bot user."""

        def current() -> str:
            self._gl.auth()
            assert self._gl.user is not None
            return str(self._gl.user.username)

        if self._bot_login is None:
            self._bot_login = self._call(current)
        return self._bot_login

    def branch_head(self, repo: str, branch: str) -> str | None:
        """doc/api/branches.md, "Get single repository branch": its `commit.id`."""

        def head() -> str | None:
            try:
                found = self._project(repo).branches.get(branch, **_NO_SLEEP)
            except GitlabGetError as exc:
                if exc.response_code == 404:
                    return None
                raise
            return str(found.commit["id"])

        return self._call(head)

    def tag_head(self, repo: str, tag: str) -> str | None:
        """doc/api/tags.md, "Get a single repository tag": its `commit.id` (the commit an
        annotated tag points at too); 404 for no such tag."""

        def head() -> str | None:
            try:
                found = self._project(repo).tags.get(tag, **_NO_SLEEP)
            except GitlabGetError as exc:
                if exc.response_code == 404:
                    return None
                raise
            return str(found.commit["id"])

        return self._call(head)

    def default_branch(self, repo: str) -> str:
        """doc/api/projects.md, "Get a single project": its `default_branch`."""
        return self._call(
            lambda: str(self._gl.projects.get(repo, **_NO_SLEEP).default_branch or "")
        )

    def changed_paths(self, repo: str, base: str, head: str) -> tuple[str, ...] | None:
        """doc/api/repositories.md, "Compare branches, tags or commits" (from...to: since the
        merge base); None when GitLab timed out comparing."""

        def compare() -> tuple[str, ...] | None:
            try:
                result = self._project(repo).repository_compare(base, head, **_NO_SLEEP)
            except GitlabGetError as exc:
                if exc.response_code == 404:
                    return None
                raise
            if not isinstance(result, dict) or result.get("compare_timeout"):
                return None
            diffs = result.get("diffs") or []
            paths = {d.get("new_path") for d in diffs} | {d.get("old_path") for d in diffs}
            return tuple(sorted(str(p) for p in paths if p))

        return self._call(compare)
