"""GitHub's REST API, through PyGithub: the calls s2i-bot makes. Only this module imports
`github` (import-linter). Rate limits follow "Rate limits for the REST API"
(bot/forges/rate_limits.py decides how long to wait).
"""

from __future__ import annotations

import threading
import urllib.parse
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from github import (
    Auth,
    BadCredentialsException,
    Github,
    GithubException,
    GithubIntegration,
    UnknownObjectException,
)
from github.HookDelivery import HookDeliverySummary
from github.PaginatedList import PaginatedList

from bot.events import PullRequest, Repo
from bot.forges.base import (
    READ_LIMIT,
    Annotation,
    CheckRun,
    CommitStatus,
    FileTooLarge,
    ForgeError,
    FoundRepository,
    HookDeliveryItem,
    LoggedDelivery,
    PermanentForgeError,
    ReleaseAsset,
    StatusState,
    confirmed_repo,
)
from bot.forges.fields import PayloadError
from bot.forges.github_webhooks import NAME, pull_from_json
from bot.forges.rate_limits import forge_error, wait_hint_for_status
from bot.metrics import Metrics
from bot.pull_comment import MARKER
from bot.retry import RetryPolicy, call_with_retry

# GitHub truncates nothing for us: a status description longer than 140 characters is a 422.
_DESCRIPTION_MAX = 140
_WRITERS = ("admin", "maintain", "write")
T = TypeVar("T")
APP_HOOK = "app"  # the GitHub App's own webhook, as hook_deliveries names it
_PAGE = 100  # the most entries GitHub's delivery logs give per page
# "Compare two commits" lists at most 300 files; with that many, which changed is unknown.
_COMPARE_FILES = 300


def wait_hint(exc: BaseException) -> float | None:
    """How long GitHub asked us to wait before trying again (None: do not retry)."""
    if isinstance(exc, GithubException):
        return wait_hint_for_status(exc.status, exc.headers or {}, str(exc.data))
    return 0.0 if isinstance(exc, ConnectionError | OSError) else None


def _forge_error(exc: GithubException) -> ForgeError:
    return forge_error(f"GitHub answered {exc.status}: {exc.data}", wait_hint(exc))


def web_url(api_url: str) -> str:
    """The web (and git) URL that goes with a REST API URL: https://api.github.com ->
    https://github.com; GitHub Enterprise Server https://HOST/api/v3 -> https://HOST;
    GitHub Enterprise Cloud with data residency https://api.SUB.ghe.com -> https://SUB.ghe.com.
    ValueError for any other shape: then github.git_url must say it."""
    parts = urllib.parse.urlsplit(api_url.rstrip("/"))
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{api_url} is not an http(s) URL")
    if parts.path == "" and parts.netloc.startswith("api."):
        return f"{parts.scheme}://{parts.netloc.removeprefix('api.')}"
    if parts.path.endswith("/api/v3"):
        return f"{parts.scheme}://{parts.netloc}{parts.path.removesuffix('/api/v3')}"
    raise ValueError(
        f"cannot tell GitHub's web URL from api_url {api_url} (neither https://api.HOST nor "
        "https://HOST/api/v3)"
    )


def _check_run_fields(run: CheckRun, annotations: Sequence[Annotation]) -> dict[str, Any]:
    """The fields "Create a check run" and "Update a check run" share: status, times,
    conclusion, and the output (title and summary are required with each output)."""
    fields: dict[str, Any] = {
        "status": run.status,
        "output": {
            "title": run.title, "summary": run.summary,
            **({"annotations": [_annotation(a) for a in annotations]} if annotations else {}),
        },
    }  # fmt: skip
    if run.started_at is not None:
        fields["started_at"] = run.started_at
    if run.conclusion is not None:
        fields["conclusion"] = run.conclusion.value
        if run.completed_at is not None:
            fields["completed_at"] = run.completed_at
    return fields


def _annotation(annotation: Annotation) -> dict[str, str | int]:
    """An annotation as GitHub takes it; columns only on one line (its rule)."""
    out: dict[str, str | int] = {
        "path": annotation.path, "start_line": annotation.start_line,
        "end_line": annotation.end_line, "annotation_level": annotation.level,
        "message": annotation.message,
    }  # fmt: skip
    if annotation.title:
        out["title"] = annotation.title
    if annotation.start_column is not None and annotation.start_line == annotation.end_line:
        out["start_column"] = out["end_column"] = annotation.start_column
    return out


class GitHubApi:
    """GitHub through PyGithub, authenticated with a token or as a GitHub App."""

    name = NAME

    def __init__(
        self,
        api_url: str,
        token: str | None,
        *,
        app_id: int | None = None,
        private_key: str | None = None,
        retry: RetryPolicy | None = None,
        git_url: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._api_url = api_url.rstrip("/")
        self._metrics = metrics or Metrics()
        # Where repositories are cloned from: https://github.com/<owner>/<name>.git (GitHub's
        # docs, "About remote repositories"); the token is only ever sent there.
        self._git_url = (git_url or web_url(api_url)).rstrip("/")
        self._token = token
        self._retry = retry or RetryPolicy()
        self._lock = threading.Lock()
        self._app_auth = Auth.AppAuth(app_id, private_key) if app_id and private_key else None
        self._installations: dict[str, Github] = {}  # owner -> client with an installation token
        self._installation_auth: dict[str, Auth.AppInstallationAuth] = {}
        self._gh = self._client(Auth.Token(token) if token else None)
        self._bot_login: str | None = None

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
            with self._metrics.forge_call(NAME):
                return self._call_once(fn)
        finally:
            self._metrics.rate_limit(NAME, self._rate_limit_remaining())

    def _rate_limit_remaining(self) -> int | None:
        """The fewest requests left of any client's window (the token's, or each App
        installation's), from the `x-ratelimit-remaining` header of its last answer ("Rate
        limits for the REST API": GitHub sends it with each response); None before any."""
        # Not under self._lock: _github() calls _call while holding it (a copy is atomic).
        clients = [self._gh, *tuple(self._installations.values())]
        known = [c.requester.rate_limiting[0] for c in clients]
        return min((n for n in known if n >= 0), default=None)

    def _call_once(self, fn: Callable[[], T]) -> T:
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
            # GitHub serves a file over 1 MB without its content ("encoding": "none", REST
            # docs "Get repository content"); the bot reads none that large.
            if content.encoding != "base64" or content.size > READ_LIMIT:
                raise FileTooLarge(path, content.size)
            return content.decoded_content.decode(errors="replace")

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

    # -- check runs (a GitHub App only: "Checks", REST docs; a token gets 403) -------------
    def create_check_run(self, repo: str, run: CheckRun, annotations: Sequence[Annotation]) -> int:
        def create() -> int:
            created = self._github(repo).get_repo(repo).create_check_run(
                name=run.name, head_sha=run.head_sha, details_url=run.details_url,
                external_id=run.external_id, **_check_run_fields(run, annotations),
            )  # fmt: skip
            return int(created.id)

        return self._call(create)

    def update_check_run(
        self, repo: str, check_run_id: int, run: CheckRun, annotations: Sequence[Annotation]
    ) -> None:
        def update() -> None:
            try:
                self._github(repo).get_repo(repo).get_check_run(check_run_id).edit(
                    details_url=run.details_url, **_check_run_fields(run, annotations)
                )
            except UnknownObjectException:  # check runs are never deleted: not ours to edit
                raise PermanentForgeError(
                    f"GitHub has no check run {check_run_id} in {repo}"
                ) from None

        self._call(update)

    def find_check_run(self, repo: str, run: CheckRun) -> tuple[int, int] | None:
        """From "List check runs for a Git reference" (every run of the name, not only the
        latest: filter=all)."""

        def find() -> tuple[int, int] | None:
            commit = self._github(repo).get_repo(repo).get_commit(run.head_sha)
            for found in commit.get_check_runs(check_name=run.name, filter="all"):
                if found.external_id == run.external_id:
                    return int(found.id), int(found.output.annotations_count or 0)
            return None

        return self._call(find)

    def pull_request(self, repo: str, number: int) -> PullRequest:
        pull = self._call(lambda: self._github(repo).get_repo(repo).get_pull(number))
        return pull_from_json(pull.raw_data)

    def repository(self, full_name: str, repo_id: int | None) -> Repo:
        def get() -> FoundRepository | None:
            try:
                # The client is lazy: the request goes out when an attribute is first read.
                found = self._github(full_name).get_repo(full_name)
                html_url = str(found.html_url or "")
                return FoundRepository(int(found.id), str(found.full_name), html_url)
            except UnknownObjectException:  # no such repository, or the bot may not see it
                return None

        return confirmed_repo(
            NAME, full_name, repo_id, self._call(get), where=self._api_url, noun="repository",
            name_field="full_name", git_url=self._git_url,
        )  # fmt: skip

    def can_write(self, repo: str, user: str, user_id: int | None) -> bool:
        """A writer is a collaborator with admin, maintain or write permission. The
        permission endpoint takes a login ("Get repository permissions for a user"), and a
        login can change hands: with an id, the login is the one that id has now (GitHub's
        "Get a user using their ID", GET /user/{account_id})."""

        def permission() -> str:
            gh = self._github(repo)
            try:
                login = gh.get_user_by_id(user_id).login if user_id is not None else user
                return gh.get_repo(repo).get_collaborator_permission(login)
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
                    # Ours only: anyone can post a comment that carries the marker.
                    mine = comment.user is not None and comment.user.login == self.bot_login()
                    if mine and MARKER in (comment.body or ""):
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

    def bot_login(self) -> str:
        """The account the bot comments as: the token's user (`GET /user`), or a GitHub
        App's bot account `<slug>[bot]` (the app's slug from `GET /app`, with its JWT)."""
        if self._bot_login is None:
            if self._app_auth is not None:
                integration = GithubIntegration(auth=self._app_auth, base_url=self._api_url)
                self._bot_login = f"{self._call(lambda: integration.get_app().slug)}[bot]"
            else:
                self._bot_login = str(self._call(lambda: self._gh.get_user().login))
        return self._bot_login

    # -- the hook's delivery log: what GitHub sent, and what it got back ------------------
    def _integration(self) -> GithubIntegration:
        assert self._app_auth is not None
        return GithubIntegration(
            auth=self._app_auth, base_url=self._api_url, retry=None,
            seconds_between_requests=None, seconds_between_writes=None,
        )  # fmt: skip

    def _repository_hook(self, hook: str) -> tuple[str, int]:
        repo, _, hook_id = hook.rpartition(":")
        return repo, int(hook_id)

    def _hook_log(self, hook: str) -> Iterable[HookDeliverySummary]:
        if hook == APP_HOOK:
            if self._app_auth is None:
                raise PermanentForgeError("the app's hook needs github.app_id (a GitHub App)")
            # "List deliveries for an app webhook" (GET /app/hook/deliveries): a JWT, which
            # GithubIntegration's requester sends; PyGithub has no method of its own for it.
            return PaginatedList(
                HookDeliverySummary, self._integration().requester, "/app/hook/deliveries",
                {"per_page": _PAGE},
            )  # fmt: skip
        repo, hook_id = self._repository_hook(hook)
        # "List deliveries for a repository webhook": the token needs the repository's hooks.
        return self._github(repo).get_repo(repo).get_hook_deliveries(hook_id)

    def hook_deliveries(
        self, hook: str, newer_than: datetime, limit: int
    ) -> list[HookDeliveryItem]:
        """The hook's delivery log, newest first, back to `newer_than` and at most `limit`
        entries. GitHub pages it with a `cursor` in the Link header's next URL ("Using
        pagination in the REST API"), which PaginatedList follows page by page, so the
        listing stops as soon as it reaches older entries."""

        def listing() -> list[HookDeliveryItem]:
            items: list[HookDeliveryItem] = []
            for entry in self._hook_log(hook):
                delivered = entry.delivered_at
                if delivered is None or entry.id is None or not entry.guid:
                    continue
                if delivered.tzinfo is None:
                    delivered = delivered.replace(tzinfo=UTC)
                if delivered < newer_than or len(items) >= limit:
                    break
                items.append(
                    HookDeliveryItem(
                        hook, int(entry.id), str(entry.guid), str(entry.event or ""),
                        entry.action, delivered, int(entry.status_code or 0),
                    )
                )  # fmt: skip
            return items

        return self._call(listing)

    def hook_delivery(self, hook: str, delivery_id: int) -> LoggedDelivery | None:
        """One entry of the hook's log with the request GitHub sent: its headers and payload
        ("Get a delivery for an app webhook", "... for a repository webhook"); None when the
        log no longer has it or keeps no payload for it."""

        def get() -> dict[str, Any] | None:
            try:
                if hook == APP_HOOK:
                    requester = self._integration().requester
                    url = f"/app/hook/deliveries/{delivery_id}"
                    answer: dict[str, Any] = requester.requestJsonAndCheck("GET", url)[1]
                    return answer
                repo, hook_id = self._repository_hook(hook)
                gh_repo = self._github(repo).get_repo(repo)
                return dict(gh_repo.get_hook_delivery(hook_id, delivery_id).raw_data)
            except UnknownObjectException:
                return None

        data = self._call(get)
        request = (data or {}).get("request") or {}
        payload, headers = request.get("payload"), request.get("headers")
        if data is None or not isinstance(payload, dict):
            return None
        sent = {str(k): str(v) for k, v in (headers or {}).items()}
        return LoggedDelivery(str(data["guid"]), str(data["event"]), sent, payload)

    def branch_head(self, repo: str, branch: str) -> str | None:
        def head() -> str | None:
            try:
                # "Get a reference" (heads/<branch>): exactly that branch, 404 otherwise.
                return str(
                    self._github(repo).get_repo(repo).get_git_ref(f"heads/{branch}").object.sha
                )
            except UnknownObjectException:
                return None

        return self._call(head)

    def tag_head(self, repo: str, tag: str) -> str | None:
        """ "Get a reference" (tags/<tag>), 404 for no such tag; an annotated tag's object
        is the tag, whose own object is the commit ("Get a tag")."""

        def head() -> str | None:
            gh_repo = self._github(repo).get_repo(repo)
            try:
                target = gh_repo.get_git_ref(f"tags/{tag}").object
            except UnknownObjectException:
                return None
            if target.type == "tag":
                return str(gh_repo.get_git_tag(target.sha).object.sha)
            return str(target.sha)

        return self._call(head)

    def default_branch(self, repo: str) -> str:
        return self._call(lambda: str(self._github(repo).get_repo(repo).default_branch))

    def changed_paths(self, repo: str, base: str, head: str) -> tuple[str, ...] | None:
        """From "Compare two commits" (base...head: since the merge base), a renamed file
        under both its names."""

        def compare() -> tuple[str, ...] | None:
            try:
                files = self._github(repo).get_repo(repo).compare(base, head).files
            except UnknownObjectException:  # a commit GitHub no longer has
                return None
            if len(files) >= _COMPARE_FILES:
                return None
            paths = {f.filename for f in files} | {f.previous_filename for f in files}
            return tuple(sorted(p for p in paths if p))

        return self._call(compare)
