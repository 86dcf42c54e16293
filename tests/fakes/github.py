"""A fake GitHub that the real PyGithub client and the real ``git`` talk to.

One Starlette app on 127.0.0.1, port 0, serving:

* the REST API under ``/api/v3`` (GitHub Enterprise's layout, so PyGithub is pointed at it
  with ``base_url``); every request body and JSON answer is checked against GitHub's OpenAPI
  description (:mod:`tests.fakes.openapi`) and each violation lands in :attr:`FakeGitHub.errors`;
* git's smart HTTP protocol at ``/{owner}/{name}.git`` through ``git http-backend``;
* release assets: the API answers ``Accept: application/octet-stream`` with a 302 to a signed,
  short-lived URL under ``/_downloads/`` on :attr:`FakeGitHub.storage_url` (the same server
  under the name ``localhost``: another host to clients, as GitHub's storage host is, so they
  drop the token on the redirect); ``browser_download_url``
  (``/{owner}/{name}/releases/download/{tag}/{file}``) redirects there too. Downloads land in
  :attr:`FakeGitHub.downloads` with whether they carried a valid token.

Both take the fake's ``token`` (its user: ``login``) or a GitHub App installation's token
until it expires; the app endpoints take the app's JWT (:mod:`tests.fakes.github_app`).
Repository state (pull requests, comments, roles) lives in :mod:`tests.fakes.github_repo`.

Anything else answers 500 and is recorded in :attr:`FakeGitHub.errors`, so a gap in the fake
(or a client that dropped the ``/api/v3`` prefix) fails the test instead of passing quietly.
A test fixture asserts ``fake.errors == []`` at teardown.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NamedTuple

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes import github_objects as objects
from tests.fakes import openapi
from tests.fakes.forge_server import (
    ForgeServer,
    RecordedRequest,
    basic_challenge,
    basic_credentials,
)
from tests.fakes.git import BareRepo
from tests.fakes.github_app import (
    UNDECODABLE,
    App,
    AppRegistry,
    AuthRefused,
    Installation,
    InstallationToken,
)
from tests.fakes.github_checks import (
    HTML_PREFIX,
    CheckRunRecord,
    CheckRunRefused,
    CheckRuns,
    annotation_body,
    check_run_body,
    check_run_html,
)
from tests.fakes.github_hooks import FAILED, HookLogs, LoggedDelivery, cursor_page
from tests.fakes.github_repo import ROLES, FakeRepo, Pull

__all__ = ["API_PREFIX", "STORAGE_PREFIX", "Download", "FakeGitHub", "FakeRepo", "RecordedRequest"]

JSON = Any
API_PREFIX = "/api/v3"
DOCS = "https://docs.github.com/rest"
RATE_LIMIT = 5000  # a token's primary rate limit per hour ("Rate limits for the REST API")
RATE_LIMIT_DOCS = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"
_NOT_ACCESSIBLE = (
    "There is at least one repository that does not exist or is not accessible to the parent "
    "installation."
)
_GIT_PATH = re.compile(r"/([^/]+)/([^/]+)\.git(/.*)")
_SHA = re.compile(r"[0-9a-f]{40}")
# The storage host's paths: /_downloads/<repo id>/<asset id>/<file name>?expires=&signature=
STORAGE_PREFIX = "/_downloads/"
_STORAGE_PATH = re.compile(re.escape(STORAGE_PREFIX) + r"(\d+)/(\d+)/([^/]+)")
_BROWSER_DOWNLOAD = re.compile(r"/([^/]+)/([^/]+)/releases/download/([^/]+)/([^/]+)")
# GitHub's signed asset URLs are short-lived ("the link expires after five minutes").
SIGNED_URL_TTL = 300
# ``GET /repos/{owner}/{repo}/statuses/{ref}`` is the legacy spelling of "List commit statuses
# for a reference"; GitHub still serves it but no longer documents it, and PyGithub's
# ``Commit.get_statuses()`` calls it. Validate it as the documented operation.
_ALIASES = [
    ("GET", re.compile(r"(/repos/[^/]+/[^/]+)/statuses/(.+)"), r"\1/commits/\2/statuses"),
]


class Download(NamedTuple):
    """A request that fetched (or was redirected to) a release asset's bytes."""

    path: str  # as requested, e.g. /api/v3/repos/o/r/releases/assets/7 or /_downloads/1/7/x
    authorized: bool  # carried the fake's token or a live installation token


@dataclass(frozen=True)
class _Reply:
    status: int
    body: JSON
    headers: dict[str, str] | None = None


@dataclass(frozen=True)
class _Caller:
    """Who a REST request authenticated as: the fake's token user, an app (JWT), or an
    app installation (its token)."""

    login: str
    bot: bool = False
    app: App | None = None
    installation_token: InstallationToken | None = None

    def may_write(self, repo: FakeRepo) -> bool:
        token = self.installation_token
        return token is None or token.covers(repo)


@dataclass(frozen=True)
class _Call:
    """One REST request to a repository's operation, as a handler sees it."""

    repo: FakeRepo
    params: dict[str, str]
    request: Request
    body: JSON
    caller: _Caller


@dataclass(frozen=True)
class _AppCall:
    """One REST request to an operation that takes a GitHub App's JWT."""

    app: App
    params: dict[str, str]
    request: Request
    body: JSON


class _Refused(Exception):
    """A handler's early answer (404, 422) in GitHub's error shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.reply = _Reply(status, {"message": message, "documentation_url": DOCS})


class _Gap(Exception):
    """A request the fake cannot answer faithfully: 500 and recorded in ``errors``."""


class FakeGitHub(ForgeServer):
    """The fake; use as a context manager or call :meth:`start` / :meth:`stop`."""

    _API_PREFIX = API_PREFIX
    _GIT_PATH = _GIT_PATH
    _TMP_PREFIX = "fake-github-"
    _INJECTED = "injected {status}"

    def __init__(self, token: str, *, login: str = "s2i-bot") -> None:
        super().__init__(token)  # self.root: <root>/<owner>/<name>.git
        self.login = login  # the token's user: creator of the statuses it posts
        # all state below is guarded by self._cond
        self._downloads: list[Download] = []
        self._signing_key = secrets.token_bytes(32)  # signs storage URLs, as GitHub's do
        self._repos: dict[str, FakeRepo] = {}
        self._status_ids = 0
        self._comment_ids = itertools.count(1).__next__  # comment ids are global on GitHub
        self._apps = AppRegistry()
        self._hooks = HookLogs()
        self._checks = CheckRuns()  # tests/fakes/github_checks.py
        self._requests_by: dict[str, int] = {}  # API requests per caller login: rate limits
        self._api = openapi.load()
        self._handlers: dict[str, Callable[[_Call], _Reply]] = {
            "repos/get": self._get_repo,
            "repos/get-content": self._get_content,
            "repos/get-commit": self._get_commit,
            "repos/compare-commits-with-basehead": self._compare,
            "repos/compare-commits": self._compare,  # the same, as the description also has it
            "repos/create-commit-status": self._create_status,
            "repos/list-commit-statuses-for-ref": self._list_statuses,
            "pulls/get": self._get_pull,
            "issues/get": self._get_issue,
            "issues/list-comments": self._list_comments,
            "issues/create-comment": self._create_comment,
            "issues/get-comment": self._get_comment,
            "issues/update-comment": self._update_comment,
            "repos/get-collaborator-permission-level": self._get_permission,
            "repos/get-release": self._get_release,
            "repos/get-release-by-tag": self._get_release_by_tag,
            "repos/list-release-assets": self._list_release_assets,
            "repos/get-release-asset": self._get_release_asset,
            "git/get-ref": self._get_ref,
            "git/get-tag": self._get_tag,
            "checks/create": self._create_check_run,
            "checks/update": self._update_check_run,
            "checks/get": self._get_check_run,
            "checks/list-for-ref": self._list_check_runs_for_ref,
            "checks/list-annotations": self._list_check_run_annotations,
            "repos/list-webhook-deliveries": self._list_repo_hook_deliveries,
            "repos/get-webhook-delivery": self._get_repo_hook_delivery,
        }
        # Operations on the authenticated user, not on a repository.
        self._user_handlers: dict[str, Callable[[_Caller], _Reply]] = {
            "users/get-authenticated": self._get_authenticated_user,
        }
        # Operations on any account, by its id.
        self._account_handlers: dict[str, Callable[[dict[str, str]], _Reply]] = {
            "users/get-by-id": self._get_user_by_id,
        }
        # Operations that take an app's JWT instead of a token ("Authenticating as a GitHub
        # App": the endpoint docs say "You must use a JWT to access this endpoint").
        self._app_handlers: dict[str, Callable[[_AppCall], _Reply]] = {
            "apps/get-authenticated": self._get_authenticated_app,
            "apps/create-installation-access-token": self._create_installation_token,
            "apps/get-installation": self._get_installation,
            "apps/get-repo-installation": self._get_repo_installation,
            "apps/list-webhook-deliveries": self._list_app_hook_deliveries,
            "apps/get-webhook-delivery": self._get_app_hook_delivery,
        }

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def storage_url(self) -> str:
        """The base URL of the storage host that asset downloads redirect to: this server
        under another host name, so clients treat it as another origin."""
        return "http://localhost:" + str(urllib.parse.urlsplit(self.url).port)

    # -- test-facing state -------------------------------------------------------------
    def create_repo(self, full_name: str, default_branch: str = "main") -> FakeRepo:
        if not self.url:
            raise RuntimeError("start FakeGitHub before create_repo: repo URLs need its port")
        owner, _, name = full_name.partition("/")
        path = self.root / owner / f"{name}.git"
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._cond:
            repo = FakeRepo(
                owner=owner,
                name=name,
                id=len(self._repos) + 1,
                bare=BareRepo(path, default_branch),
                web_url=self.url,
                api_url=self.api_url,
                lock=self._cond,
                next_id=self._comment_ids,
            )
            # GitHub matches owner and repository names case-insensitively.
            self._repos[full_name.lower()] = repo
        return repo

    def fork_repo(self, source: FakeRepo, owner: str) -> FakeRepo:
        """``owner``'s fork of ``source``: its branches as they are now, ``fork: true``."""
        fork = self.create_repo(f"{owner}/{source.name}", source.default_branch)
        fork.parent = source
        fork.bare.fetch(source.path, "refs/heads/*", "refs/heads/*")
        return fork

    def repo(self, full_name: str) -> FakeRepo:
        with self._cond:
            return self._repos[full_name.lower()]

    def statuses(self, full_name: str, sha: str) -> list[dict[str, JSON]]:
        """Statuses posted for ``sha``, in the order they were posted."""
        with self._cond:
            return copy.deepcopy(self.repo(full_name).statuses.get(sha, []))

    def comments(self, full_name: str, number: int) -> list[dict[str, JSON]]:
        """The comments on issue or pull request ``number``, oldest first, as REST shows them
        (``id``, ``body``, ``user.login``, ``created_at``, ``updated_at``...)."""
        repo = self.repo(full_name)
        with self._cond:
            return [objects.issue_comment(repo, c) for c in repo.comments_on(number)]

    def check_runs(self, full_name: str) -> list[CheckRunRecord]:
        """The check runs of a repository, oldest first, as the fake keeps them (fields,
        every annotation, each request's body)."""
        return sorted(self._checks.all(full_name), key=lambda r: r.id)

    def check_run_page_url(self, check_run_id: int) -> str:
        """Where the fake shows a check run as HTML (its summary's Markdown rendered)."""
        return f"{self.url}{HTML_PREFIX}{check_run_id}.html"

    # -- GitHub Apps -------------------------------------------------------------------
    def register_app(self, app_id: int, private_key_pem: str, *, slug: str | None = None) -> None:
        """Register a GitHub App by its private key (see ``github_app.make_app_key``); its
        bot account is ``<slug>[bot]`` (default slug ``app-<id>``)."""
        self._apps.register(app_id, private_key_pem, slug)

    def install_app(
        self, app_id: int, owner_or_repo: str, *, permissions: Mapping[str, str] | None = None
    ) -> int:
        """Install the app on an account (all its repositories) or on one ``owner/name``;
        the installation id."""
        return self._apps.install(app_id, owner_or_repo, dict(permissions or {}) or None).id

    @property
    def installation_token_ttl(self) -> timedelta:
        """How long new installation tokens live (GitHub: one hour)."""
        return self._apps.token_ttl

    @installation_token_ttl.setter
    def installation_token_ttl(self, ttl: timedelta) -> None:
        self._apps.token_ttl = ttl

    @property
    def tokens_issued(self) -> int:
        """How many installation tokens the fake has issued."""
        return self._apps.tokens_issued

    def expire_tokens(self) -> None:
        """Every installation token issued so far expires now."""
        self._apps.expire_tokens()

    # -- webhooks and their delivery logs (tests/fakes/github_hooks.py) -------------------
    def create_hook(self, full_name: str, url: str) -> int:
        """A webhook of repository ``full_name`` delivering to ``url``; its id."""
        return self._hooks.create(url=url, repo=self.repo(full_name).full_name).id

    def app_hook(self, app_id: int, url: str) -> int:
        """The id of the registered app's one webhook (delivering to ``url``)."""
        return self._hooks.app_hook(app_id, url).id

    def record_delivery(
        self,
        hook_id: int,
        event: str,
        payload: dict[str, JSON],
        *,
        secret: str | None,
        status_code: int = FAILED[0],
        status: str = FAILED[1],
        guid: str | None = None,
    ) -> LoggedDelivery:
        """Log what GitHub sent (or tried to send) to hook ``hook_id``, signed with
        ``secret``; nothing is POSTed. By default an attempt that failed: a delivery the
        receiver missed. The logged ``headers`` and ``body`` are what a test POSTs to deliver
        the same event itself (then log it again with its ``guid`` and the answer's status)."""
        hook = self._hooks.hook(hook_id)
        if hook is None:
            raise KeyError(f"no hook {hook_id}: create_hook() or app_hook() first")
        return self._hooks.record(
            hook, event, payload, secret=secret, status_code=status_code, status=status,
            guid=guid,
        )  # fmt: skip

    def hook_log(self, hook_id: int) -> list[LoggedDelivery]:
        """Hook ``hook_id``'s log, newest first."""
        hook = self._hooks.hook(hook_id)
        if hook is None:
            raise KeyError(f"no hook {hook_id}")
        return self._hooks.of(hook)

    @property
    def downloads(self) -> list[Download]:
        """Asset downloads in order: each API request answered with the redirect, each
        ``browser_download_url`` request, each file the storage host served."""
        with self._cond:
            return list(self._downloads)

    def rate_limit_next(
        self,
        method: str,
        path_regex: str,
        *,
        retry_after: int | None = None,
        reset_in: int | None = None,
        secondary: bool = True,
        status: int = 403,
        times: int = 1,
    ) -> None:
        """Answer the next matching requests as GitHub does when a rate limit is exceeded
        (REST docs, "Rate limits for the REST API", "Exceeding the rate limit").

        Secondary: 403 or 429, the "You have exceeded a secondary rate limit" message, a
        ``Retry-After`` header if ``retry_after`` is given, and ``X-RateLimit-Remaining: 0``
        with ``X-RateLimit-Reset`` only if ``reset_in`` is given (otherwise the primary quota
        is not used up). Primary: 403 or 429, ``X-RateLimit-Remaining: 0`` and
        ``X-RateLimit-Reset`` = now + ``reset_in`` (default 60) seconds in UTC epoch seconds.
        """
        if status not in (403, 429):
            raise ValueError("GitHub answers an exceeded rate limit with 403 or 429")
        now = int(time.time())
        limit = 5000
        exhausted = not secondary or reset_in is not None
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": "0" if exhausted else str(limit - 10),
            "X-RateLimit-Used": str(limit) if exhausted else "10",
            "X-RateLimit-Reset": str(now + (60 if reset_in is None else reset_in)),
            "X-RateLimit-Resource": "core",
        }
        if not exhausted:
            headers["X-RateLimit-Reset"] = str(now + 3600)
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        request_id = f"{uuid.uuid4().hex[:4].upper()}:{uuid.uuid4().hex[:6].upper()}"
        support = (
            "If you reach out to GitHub Support for help, please include the request ID "
            f"{request_id}."
        )
        if secondary:
            message = (
                "You have exceeded a secondary rate limit. Please wait a few minutes before "
                f"you try again. {support}"
            )
            docs = RATE_LIMIT_DOCS + "#about-secondary-rate-limits"
        else:
            message = f"API rate limit exceeded for user ID 1. {support}"
            docs = RATE_LIMIT_DOCS + "#about-primary-rate-limits"
        body = {"message": message, "documentation_url": docs}
        self.fail_next(method, path_regex, status, headers, body, times)

    # -- dispatch ----------------------------------------------------------------------
    def _other_request(self, request: Request, sent: str) -> Response:
        if sent.startswith(HTML_PREFIX) and sent.endswith(".html") and request.method == "GET":
            run_id = sent[len(HTML_PREFIX) : -len(".html")]
            run = self._checks.get(int(run_id)) if run_id.isdigit() else None
            if run is None:
                return Response("no such check run\n", 404, media_type="text/plain")
            return Response(check_run_html(run), 200, media_type="text/html")
        if (m := _STORAGE_PATH.fullmatch(sent)) is not None:
            return self._storage_request(request, m)
        if (m := _BROWSER_DOWNLOAD.fullmatch(sent)) is not None:
            return self._browser_download(request, m)
        return self._gap(
            f"FakeGitHub has no route for {request.method} {sent} "
            f"(REST clients must use base_url={self.api_url})"
        )

    def _error_body(self, message: str) -> JSON:
        return {"message": message, "documentation_url": DOCS}

    def _authenticate(self, request: Request) -> _Caller | Response:
        # GitHub accepts "token <t>" and "Bearer <t>" for tokens, and a JWT as "Bearer <jwt>";
        # anything else is "Bad credentials".
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        credential = credential.strip()
        if scheme.lower() in ("token", "bearer") and credential:
            if credential == self.token:
                return _Caller(self.login)
            if credential.count(".") == 2:  # header.claims.signature: a JWT
                try:
                    app = self._apps.verify_jwt(credential)
                except AuthRefused as refused:
                    return _unauthorized(str(refused))
                return _Caller(app.slug, app=app)
            token = self._apps.token(credential)
            if token is not None:
                return _Caller(token.installation.app.bot_login, True, installation_token=token)
        return _unauthorized("Bad credentials")

    def rate_limit_remaining(self, login: str) -> int:
        """Requests left in the window of the caller `login` (the token's user, an app's
        slug, an installation's bot login), as the last answer's X-RateLimit-Remaining said."""
        with self._cond:
            return RATE_LIMIT - self._requests_by.get(login, 0)

    def _api_request(self, request: Request, path: str, raw: bytes) -> Response:
        caller = self._authenticate(request)
        if isinstance(caller, Response):
            return caller
        response = self._answer(request, path, raw, caller)
        # "Rate limits for the REST API", "Checking the status of your rate limit": GitHub
        # sends the primary rate limit's headers with each response; every request counts.
        with self._cond:
            used = self._requests_by[caller.login] = self._requests_by.get(caller.login, 0) + 1
        for name, value in {
            "X-RateLimit-Limit": str(RATE_LIMIT), "X-RateLimit-Remaining": str(RATE_LIMIT - used),
            "X-RateLimit-Used": str(used), "X-RateLimit-Reset": str(int(time.time()) + 3600),
            "X-RateLimit-Resource": "core",
        }.items():  # fmt: skip
            response.headers.setdefault(name, value)
        return response

    def _answer(self, request: Request, path: str, raw: bytes, caller: _Caller) -> Response:
        method = request.method
        match = self._api.find(method, path)
        for alias_method, pattern, replacement in _ALIASES:
            if match is None and method == alias_method and pattern.fullmatch(path):
                match = self._api.find(method, pattern.sub(replacement, path))
        if match is None:
            return self._gap(f"{method} {path} is not a route of GitHub's REST API")
        op = match.operation
        handler = self._handlers.get(op.operation_id)
        app_handler = self._app_handlers.get(op.operation_id)
        user_handler = self._user_handlers.get(op.operation_id)
        account_handler = self._account_handlers.get(op.operation_id)
        if not (handler or app_handler or user_handler or account_handler):
            return self._gap(f"FakeGitHub does not implement {method} {op.template} ({path})")
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return self._gap(f"{method} {path}: body is not JSON", 400)  # "Problems parsing JSON"
        problems = self._api.validate_request(op, body)
        if problems:
            self._gap("; ".join(problems))
            return JSONResponse(
                {
                    "message": "Invalid request.\n\n" + "\n".join(problems),
                    "documentation_url": DOCS,
                },
                422,
            )
        try:
            if app_handler is not None:
                if caller.app is None:  # what GitHub says to a token on a JWT endpoint
                    raise _Refused(401, UNDECODABLE)
                reply = app_handler(_AppCall(caller.app, match.params, request, body))
            elif user_handler is not None:
                if caller.app is not None:
                    raise _Refused(401, UNDECODABLE)
                reply = user_handler(caller)
            elif account_handler is not None:
                if caller.app is not None:
                    raise _Refused(401, UNDECODABLE)
                reply = account_handler(match.params)
            else:
                assert handler is not None
                if caller.app is not None:
                    raise _Refused(401, UNDECODABLE)  # a JWT is for app endpoints only
                repo = self._find_repo(match.params["owner"], match.params["repo"])
                # An installation token reads public repositories anywhere but writes only to
                # its installation's ("Resource not accessible by integration").
                if method != "GET" and not caller.may_write(repo):
                    raise _Refused(403, "Resource not accessible by integration")
                reply = handler(_Call(repo, match.params, request, body, caller))
        except _Refused as refused:
            reply = refused.reply
        except _Gap as gap:
            return self._gap(str(gap))
        problems = self._api.validate_response(op, reply.status, reply.body)
        if problems:
            return self._gap("; ".join(problems))
        if reply.body is None:  # a redirect: no body at all
            return Response(None, reply.status, reply.headers)
        return JSONResponse(reply.body, reply.status, reply.headers)

    def _find_repo(self, owner: str, name: str) -> FakeRepo:
        with self._cond:
            repo = self._repos.get(f"{owner}/{name}".lower())
        if repo is None:
            raise _Refused(404, "Not Found")
        return repo

    def _git_request(self, request: Request, m: re.Match[str], body: bytes) -> Response:
        # GitHub takes the token as the password of HTTP Basic auth, any user name (its docs
        # use "x-access-token"); without it, 401 + a Basic challenge so git asks its helper.
        # An expired installation token is refused the same way.
        user, password = basic_credentials(request.headers.get("authorization", ""))
        token = None if password == self.token else self._apps.token(password)
        if password != self.token and token is None:
            return basic_challenge("Invalid username or token.\n", "GitHub")
        try:
            repo = self._find_repo(m[1], m[2])
        except _Refused:
            return Response("Repository not found.\n", 404, media_type="text/plain")
        pushing = "git-receive-pack" in m[3] or "service=git-receive-pack" in request.url.query
        if pushing and token is not None and not token.covers(repo):
            # An installation token pushes only to its installation's repositories.
            message = f"Permission to {repo.full_name}.git denied to {user}.\n"
            return Response(message, 403, media_type="text/plain")
        return self._serve_git(
            request,
            m,
            body,
            repo_path=f"{repo.owner}/{repo.name}",
            remote_user=user or "x-access-token",
            pushed=repo.branch_moved,  # pull requests from the pushed branches follow them
        )

    # -- REST handlers: each cites the GitHub behaviour it follows ----------------------
    def _get_repo(self, call: _Call) -> _Reply:
        return _Reply(200, objects.repository(call.repo))

    def _resolve(self, repo: FakeRepo, ref: str | None) -> str:
        sha = repo.bare.resolve(ref or repo.default_branch)
        if sha is None:
            # GitHub: 404 for an unknown ref in contents, 422 "No commit found for SHA" in
            # commits; both use GitHub's basic-error shape.
            raise _Refused(404, f"No commit found for the ref {ref}")
        return sha

    def _get_content(self, call: _Call) -> _Reply:
        repo = call.repo
        ref = call.request.query_params.get("ref")
        sha = self._resolve(repo, ref)
        path = call.params["path"].strip("/")
        kind = repo.bare.kind(sha, path)
        if kind is None:
            raise _Refused(404, "Not Found")
        blob = repo.bare.read_file(sha, path)
        if blob is None:
            raise _Gap(f"FakeGitHub does not list a {kind} in contents ({path})")
        return _Reply(200, objects.content_file(repo, path, ref or repo.default_branch, blob))

    def _get_commit(self, call: _Call) -> _Reply:
        sha = call.repo.bare.resolve(call.params["ref"])
        if sha is None:
            raise _Refused(422, f"No commit found for SHA: {call.params['ref']}")
        return _Reply(200, objects.commit(call.repo, call.repo.bare.commit_info(sha)))

    def _compare(self, call: _Call) -> _Reply:
        # "Compare two commits": BASE...HEAD, each a branch, tag or sha; 404 when one is
        # unknown. The fake compares within one repository (no owner:branch of a fork).
        params = call.params
        basehead = params.get("basehead") or f"{params.get('base')}...{params.get('head')}"
        base_ref, dots, head_ref = basehead.partition("...")
        if not dots:
            raise _Gap(f"FakeGitHub compares BASE...HEAD only, not {basehead}")
        base, head = call.repo.bare.resolve(base_ref), call.repo.bare.resolve(head_ref)
        merge_base = None if base is None or head is None else call.repo.bare.merge_base(base, head)
        if base is None or head is None or merge_base is None:
            raise _Refused(404, "Not Found")
        return _Reply(200, objects.comparison(call.repo, base, head, merge_base))

    def _create_status(self, call: _Call) -> _Reply:
        repo, sha = call.repo, call.params["sha"]
        # GitHub wants the full commit sha here, and 422s for a commit it does not have.
        if not _SHA.fullmatch(sha) or repo.bare.resolve(sha) != sha:
            raise _Refused(422, f"No commit found for SHA: {sha}")
        creator = objects.user(call.caller.login, self.url, self.api_url, bot=call.caller.bot)
        with self._cond:
            self._status_ids += 1
            status = objects.status(repo, sha, self._status_ids, call.body, creator)
            repo.statuses.setdefault(sha, []).append(status)
        return _Reply(201, status, {"Location": status["url"]})

    def _list_statuses(self, call: _Call) -> _Reply:
        sha = self._resolve(call.repo, call.params["ref"])
        with self._cond:
            newest_first = list(reversed(call.repo.statuses.get(sha, [])))
        return self._page(call.request, newest_first)

    def _page(self, request: Request, items: list[JSON]) -> _Reply:
        # GitHub paginates with per_page (default 30, max 100) and page, linked by Link.
        per_page = min(int(request.query_params.get("per_page", 30)), 100)
        page = int(request.query_params.get("page", 1))
        headers = {}
        if page * per_page < len(items):
            query = urllib.parse.urlencode({"per_page": per_page, "page": page + 1})
            headers["Link"] = f'<{self.url}{request.url.path}?{query}>; rel="next"'
        return _Reply(200, items[(page - 1) * per_page : page * per_page], headers)

    def _number(self, call: _Call) -> int:
        number = int(call.params["issue_number"])
        if number not in call.repo.issues:
            raise _Refused(404, "Not Found")
        return number

    def _get_pull(self, call: _Call) -> _Reply:
        with self._cond:
            pull = call.repo.issues.get(int(call.params["pull_number"]))
            if not isinstance(pull, Pull):
                raise _Refused(404, "Not Found")
            return _Reply(200, objects.pull_request(call.repo, pull))

    def _get_issue(self, call: _Call) -> _Reply:
        with self._cond:
            number = self._number(call)
            return _Reply(200, objects.issue(call.repo, call.repo.issues[number]))

    def _list_comments(self, call: _Call) -> _Reply:
        with self._cond:
            number = self._number(call)
            comments = [objects.issue_comment(call.repo, c) for c in call.repo.comments_on(number)]
        return self._page(call.request, comments)

    def _create_comment(self, call: _Call) -> _Reply:
        caller = call.caller
        with self._cond:
            number = self._number(call)
            comment = call.repo.add_comment(number, call.body["body"], caller.login, bot=caller.bot)
        return _Reply(201, comment, {"Location": comment["url"]})

    def _comment(self, call: _Call) -> int:
        comment_id = int(call.params["comment_id"])
        if comment_id not in call.repo.comments:
            raise _Refused(404, "Not Found")
        return comment_id

    def _get_comment(self, call: _Call) -> _Reply:
        with self._cond:
            comment = call.repo.comments[self._comment(call)]
            return _Reply(200, objects.issue_comment(call.repo, comment))

    def _update_comment(self, call: _Call) -> _Reply:
        with self._cond:
            comment_id = self._comment(call)
            # A comment's author may edit it, and so may anyone with write access.
            author = call.repo.comments[comment_id].author
            may_edit = ROLES.index(call.repo.role(call.caller.login)) >= ROLES.index("write")
            if author != call.caller.login and not may_edit:
                raise _Refused(403, "Resource not accessible by integration")
            return _Reply(200, call.repo.edit_comment(comment_id, call.body["body"]))

    def _get_permission(self, call: _Call) -> _Reply:
        login = call.params["username"]
        return _Reply(200, objects.collaborator_permission(call.repo, login))

    def _get_authenticated_user(self, caller: _Caller) -> _Reply:
        # An installation token is no user: "Resource not accessible by integration" (403),
        # which is why an app's bot account is `<slug>[bot]`, read from GET /app.
        if caller.installation_token is not None:
            raise _Refused(403, "Resource not accessible by integration")
        return _Reply(200, objects.authenticated_user(caller.login, self.url, self.api_url))

    def _get_user_by_id(self, params: dict[str, str]) -> _Reply:
        # "Get a user using their ID" (GET /user/{account_id}): 404 for an id nobody has.
        login = objects.login_of(int(params["account_id"]))
        if login is None:
            raise _Refused(404, "Not Found")
        return _Reply(200, objects.public_user(login, self.url, self.api_url))

    # -- releases and the git database ------------------------------------------------
    def _get_release(self, call: _Call) -> _Reply:
        with self._cond:
            release = call.repo.releases.get(int(call.params["release_id"]))
            if release is None:
                raise _Refused(404, "Not Found")
            return _Reply(200, objects.release(call.repo, release))

    def _get_release_by_tag(self, call: _Call) -> _Reply:
        # "Get a published release with the specified tag": drafts are not found by tag.
        release = call.repo.release_of_tag(call.params["tag"])
        if release is None:
            raise _Refused(404, "Not Found")
        with self._cond:
            return _Reply(200, objects.release(call.repo, release))

    def _list_release_assets(self, call: _Call) -> _Reply:
        with self._cond:
            release = call.repo.releases.get(int(call.params["release_id"]))
            if release is None:
                raise _Refused(404, "Not Found")
            assets = [objects.release_asset(call.repo, release, a) for a in release.assets.values()]
        return self._page(call.request, assets)

    def _get_release_asset(self, call: _Call) -> _Reply:
        found = call.repo.asset(int(call.params["asset_id"]))
        if found is None:
            raise _Refused(404, "Not Found")
        release, asset = found
        # "set the Accept header of the request to application/octet-stream. The API will
        # either redirect the client to the location, or stream it directly" (REST docs, "Get
        # a release asset"); github.com redirects to a signed URL on its storage host.
        if "application/octet-stream" in call.request.headers.get("accept", ""):
            self._record_download(call.request.url.path, authorized=True)
            return _Reply(
                302, None, {"Location": self._signed_url(call.repo, asset.id, asset.name)}
            )
        with self._cond:
            return _Reply(200, objects.release_asset(call.repo, release, asset))

    def _get_ref(self, call: _Call) -> _Reply:
        # "The :ref in the URL must be formatted as heads/<branch name> for branches and
        # tags/<tag name> for tags. If the :ref doesn't match an existing ref, a 404 is
        # returned." (REST docs, "Get a reference")
        ref = "refs/" + call.params["ref"]
        found = call.repo.ref_object(ref)
        if found is None:
            raise _Refused(404, "Not Found")
        kind, sha = found
        return _Reply(200, objects.git_ref(call.repo, ref, kind, sha))

    def _get_tag(self, call: _Call) -> _Reply:
        sha = call.params["tag_sha"]
        tag = call.repo.annotated_tag(sha) if _SHA.fullmatch(sha) else None
        if tag is None:
            raise _Refused(404, "Not Found")
        return _Reply(200, objects.git_tag(call.repo, tag))

    # -- asset downloads outside the API -----------------------------------------------
    def _record_download(self, path: str, *, authorized: bool) -> None:
        with self._cond:
            self._downloads.append(Download(path, authorized))

    def _signature(self, repo_id: int, asset_id: int, expires: int) -> str:
        message = f"{repo_id}/{asset_id}/{expires}".encode()
        return hmac.new(self._signing_key, message, hashlib.sha256).hexdigest()

    def _signed_url(self, repo: FakeRepo, asset_id: int, name: str) -> str:
        """Where GitHub would redirect an asset download: a URL on another host that needs
        no token, signed and valid for :data:`SIGNED_URL_TTL` seconds."""
        expires = int(time.time()) + SIGNED_URL_TTL
        query = urllib.parse.urlencode(
            {"expires": expires, "signature": self._signature(repo.id, asset_id, expires)}
        )
        quoted = urllib.parse.quote(name, safe="")
        return f"{self.storage_url}{STORAGE_PREFIX}{repo.id}/{asset_id}/{quoted}?{query}"

    def _has_token(self, request: Request) -> bool:
        return isinstance(self._authenticate(request), _Caller)

    def _storage_request(self, request: Request, m: re.Match[str]) -> Response:
        if request.method not in ("GET", "HEAD"):
            return self._gap(f"the storage host serves GET only, not {request.method}")
        repo_id, asset_id = int(m[1]), int(m[2])
        query = request.query_params
        try:
            expires = int(query.get("expires", ""))
        except ValueError:
            expires = 0
        expected = self._signature(repo_id, asset_id, expires)
        if not hmac.compare_digest(query.get("signature", ""), expected):
            return Response("Signature mismatch.\n", 403, media_type="text/plain")
        if expires < time.time():
            return Response("Request has expired.\n", 403, media_type="text/plain")
        with self._cond:
            repo = next((r for r in self._repos.values() if r.id == repo_id), None)
        found = None if repo is None else repo.asset(asset_id)
        if found is None or found[1].name != m[3]:
            return Response("The specified blob does not exist.\n", 404, media_type="text/plain")
        asset = found[1]
        with self._cond:
            asset.download_count += 1
        self._record_download(request.url.path, authorized=self._has_token(request))
        disposition = f"attachment; filename*=UTF-8''{urllib.parse.quote(asset.name)}"
        return Response(
            asset.data,
            200,
            {"Content-Disposition": disposition},
            media_type="application/octet-stream",
        )

    def _browser_download(self, request: Request, m: re.Match[str]) -> Response:
        # github.com answers browser_download_url with a 302 to the same storage host.
        try:
            repo = self._find_repo(m[1], m[2])
        except _Refused:
            repo = None
        release = None if repo is None else repo.release_of_tag(m[3])
        asset = None if release is None else release.assets.get(m[4])
        if repo is None or asset is None:
            return Response("Not Found", 404, media_type="text/plain")
        self._record_download(request.url.path, authorized=self._has_token(request))
        return Response(None, 302, {"Location": self._signed_url(repo, asset.id, asset.name)})

    # -- check runs (tests/fakes/github_checks.py: GitHub's rules) ----------------------
    def _check_run_app(self, call: _Call) -> App:
        token = call.caller.installation_token
        if token is None:  # "Create a check run": "only GitHub Apps can create check runs"
            raise _Refused(403, "You must authenticate via a GitHub App.")
        if token.permissions.get("checks") != "write":
            raise _Refused(403, "Resource not accessible by integration")
        return token.installation.app

    def _app_body(self, app: App) -> JSON:
        return objects.app(
            app_id=app.app_id, slug=app.slug, client_id=app.client_id, owner=self.login,
            web_url=self.url, api_url=self.api_url,
        )  # fmt: skip

    def _create_check_run(self, call: _Call) -> _Reply:
        app = self._check_run_app(call)
        sha = call.body["head_sha"]
        if not _SHA.fullmatch(sha) or call.repo.bare.resolve(sha) != sha:
            raise _Refused(422, f"No commit found for SHA: {sha}")
        try:
            run = self._checks.create(
                call.repo.full_name, app.app_id, self._app_body(app), call.body
            )
        except CheckRunRefused as refused:
            raise _Refused(refused.status, str(refused)) from None
        body = check_run_body(run, self.url, self.api_url)
        return _Reply(201, body, {"Location": body["url"]})

    def _update_check_run(self, call: _Call) -> _Reply:
        app = self._check_run_app(call)
        try:
            run = self._checks.update(
                call.repo.full_name, int(call.params["check_run_id"]), app.app_id, call.body
            )
        except CheckRunRefused as refused:
            raise _Refused(refused.status, str(refused)) from None
        return _Reply(200, check_run_body(run, self.url, self.api_url))

    def _found_check_run(self, call: _Call) -> CheckRunRecord:
        run = self._checks.get(int(call.params["check_run_id"]))
        if run is None or run.repo.lower() != call.repo.full_name.lower():
            raise _Refused(404, "Not Found")
        return run

    def _get_check_run(self, call: _Call) -> _Reply:
        return _Reply(200, check_run_body(self._found_check_run(call), self.url, self.api_url))

    def _list_check_runs_for_ref(self, call: _Call) -> _Reply:
        sha = self._resolve(call.repo, call.params["ref"])
        name = call.request.query_params.get("check_name")
        runs = [
            check_run_body(r, self.url, self.api_url)
            for r in sorted(self._checks.all(call.repo.full_name), key=lambda r: -r.id)
            if r.head_sha == sha and (name is None or r.name == name)
        ]
        page = self._page(call.request, runs)
        return _Reply(200, {"total_count": len(runs), "check_runs": page.body}, page.headers)

    def _list_check_run_annotations(self, call: _Call) -> _Reply:
        run = self._found_check_run(call)
        return self._page(
            call.request, [annotation_body(run, a, self.url) for a in run.annotations]
        )

    # -- GitHub App handlers (JWT) -----------------------------------------------------
    def _installation_body(self, installation: Installation) -> JSON:
        return objects.installation(
            installation_id=installation.id,
            app_id=installation.app.app_id,
            app_slug=installation.app.slug,
            client_id=installation.app.client_id,
            account=installation.account,
            all_repositories=installation.repo_names is None,
            permissions=installation.permissions,
            created_at=installation.created_at,
            web_url=self.url,
            api_url=self.api_url,
        )

    def _create_installation_token(self, call: _AppCall) -> _Reply:
        installation = self._apps.installation(int(call.params["installation_id"]), call.app)
        if installation is None:
            raise _Refused(404, "Not Found")
        body = call.body or {}
        repos: list[FakeRepo] | None = None
        if "repositories" in body or "repository_ids" in body:
            with self._cond:
                known = list(self._repos.values())
            names = {f"{installation.account}/{n}".lower() for n in body.get("repositories", [])}
            ids = set(body.get("repository_ids", []))
            repos = [r for r in known if r.full_name.lower() in names or r.id in ids]
            found = {r.full_name.lower() for r in repos} | {r.id for r in repos}
            if not names | ids <= found or not all(map(installation.covers, repos)):
                raise _Refused(422, _NOT_ACCESSIBLE)
        try:
            token = self._apps.issue(installation, repos, body.get("permissions"))
        except ValueError as e:
            raise _Refused(422, str(e)) from e
        return _Reply(
            201,
            objects.installation_token(
                token.token,
                token.expires_at,
                token.permissions,
                repos,
                all_repositories=repos is None and installation.repo_names is None,
            ),
        )

    def _get_authenticated_app(self, call: _AppCall) -> _Reply:
        app = call.app
        return _Reply(
            200,
            objects.app(
                app_id=app.app_id, slug=app.slug, client_id=app.client_id, owner=self.login,
                web_url=self.url, api_url=self.api_url,
            ),
        )  # fmt: skip

    def _get_installation(self, call: _AppCall) -> _Reply:
        installation = self._apps.installation(int(call.params["installation_id"]), call.app)
        if installation is None:
            raise _Refused(404, "Not Found")
        return _Reply(200, self._installation_body(installation))

    def _get_repo_installation(self, call: _AppCall) -> _Reply:
        repo = self._find_repo(call.params["owner"], call.params["repo"])
        installation = self._apps.installation_for(call.app, repo)
        if installation is None:
            raise _Refused(404, "Not Found")
        return _Reply(200, self._installation_body(installation))

    # -- webhook delivery logs -----------------------------------------------------------
    def _delivery_page(self, request: Request, logged: list[LoggedDelivery]) -> _Reply:
        # "Using pagination in the REST API": the delivery logs page by a cursor, the next
        # page's URL in the Link header (per_page default 30, at most 100).
        per_page = min(int(request.query_params.get("per_page", 30)), 100)
        page, cursor = cursor_page(logged, per_page, request.query_params.get("cursor"))
        headers = {}
        if cursor is not None:
            query = urllib.parse.urlencode({"per_page": per_page, "cursor": cursor})
            headers["Link"] = f'<{self.url}{request.url.path}?{query}>; rel="next"'
        return _Reply(200, [d.item() for d in page], headers)

    def _repo_hook(self, call: _Call) -> Any:
        hook = self._hooks.hook(int(call.params["hook_id"]))
        if hook is None or hook.repo != call.repo.full_name.lower():
            raise _Refused(404, "Not Found")
        # Repository hooks are an admin's ("Repository webhooks": admin:repo_hook scope).
        if call.caller.installation_token is None and call.repo.role(call.caller.login) != "admin":
            raise _Refused(404, "Not Found")
        return hook

    def _list_repo_hook_deliveries(self, call: _Call) -> _Reply:
        return self._delivery_page(call.request, self._hooks.of(self._repo_hook(call)))

    def _get_repo_hook_delivery(self, call: _Call) -> _Reply:
        found = self._hooks.find(self._repo_hook(call), int(call.params["delivery_id"]))
        if found is None:
            raise _Refused(404, "Not Found")
        return _Reply(200, found.detail())

    def _list_app_hook_deliveries(self, call: _AppCall) -> _Reply:
        hook = self._hooks.app_hook(call.app.app_id, "")
        return self._delivery_page(call.request, self._hooks.of(hook))

    def _get_app_hook_delivery(self, call: _AppCall) -> _Reply:
        hook = self._hooks.app_hook(call.app.app_id, "")
        found = self._hooks.find(hook, int(call.params["delivery_id"]))
        if found is None:
            raise _Refused(404, "Not Found")
        return _Reply(200, found.detail())


def _unauthorized(message: str) -> Response:
    return JSONResponse({"message": message, "documentation_url": DOCS}, 401)
