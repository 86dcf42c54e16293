"""A fake GitHub that the real PyGithub client and the real ``git`` talk to.

One Starlette app on 127.0.0.1, port 0, serving:

* the REST API under ``/api/v3`` (GitHub Enterprise's layout, so PyGithub is pointed at it
  with ``base_url``); every request body and JSON answer is checked against GitHub's OpenAPI
  description (:mod:`tests.fakes.openapi`) and each violation lands in :attr:`FakeGitHub.errors`;
* git's smart HTTP protocol at ``/{owner}/{name}.git`` through ``git http-backend``.

Anything else answers 500 and is recorded in :attr:`FakeGitHub.errors`, so a gap in the fake
(or a client that dropped the ``/api/v3`` prefix) fails the test instead of passing quietly.
A test fixture asserts ``fake.errors == []`` at teardown.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import tempfile
import threading
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes import github_objects as objects
from tests.fakes import openapi
from tests.fakes.git import BareRepo, http_backend
from tests.fakes.github_objects import FakeRepo
from tests.fakes.server import ThreadedServer

__all__ = ["API_PREFIX", "FakeGitHub", "FakeRepo", "RecordedRequest"]

JSON = Any
API_PREFIX = "/api/v3"
DOCS = "https://docs.github.com/rest"
_GIT_PATH = re.compile(r"/([^/]+)/([^/]+)\.git(/.*)")
_SHA = re.compile(r"[0-9a-f]{40}")
# ``GET /repos/{owner}/{repo}/statuses/{ref}`` is the legacy spelling of "List commit statuses
# for a reference"; GitHub still serves it but no longer documents it, and PyGithub's
# ``Commit.get_statuses()`` calls it. Validate it as the documented operation.
_ALIASES = [
    ("GET", re.compile(r"(/repos/[^/]+/[^/]+)/statuses/(.+)"), r"\1/commits/\2/statuses"),
]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # as sent, e.g. /api/v3/repos/o/r/statuses/<sha>
    query: str
    status: int


@dataclass
class _Failure:
    method: str
    path: re.Pattern[str]
    status: int
    headers: dict[str, str]
    body: JSON
    times: int


@dataclass(frozen=True)
class _Reply:
    status: int
    body: JSON
    headers: dict[str, str] | None = None


class _Refused(Exception):
    """A handler's early answer (404, 422) in GitHub's error shape."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.reply = _Reply(status, {"message": message, "documentation_url": DOCS})


class _Gap(Exception):
    """A request the fake cannot answer faithfully: 500 and recorded in ``errors``."""


class FakeGitHub:
    """The fake; use as a context manager or call :meth:`start` / :meth:`stop`."""

    def __init__(self, token: str, *, login: str = "s2i-bot") -> None:
        self.token = token
        self.login = login  # the token's user: creator of the statuses it posts
        self.errors: list[str] = []
        self._requests: list[RecordedRequest] = []
        self._repos: dict[str, FakeRepo] = {}
        self._failures: list[_Failure] = []
        self._status_ids = 0
        self._cond = threading.Condition()  # guards all state above; notified per request
        self._tmp = tempfile.TemporaryDirectory(prefix="fake-github-")
        self.root = Path(self._tmp.name)  # GIT_PROJECT_ROOT: <root>/<owner>/<name>.git
        self._api = openapi.load()
        self._handlers: dict[str, Callable[[FakeRepo, dict[str, str], Request, JSON], _Reply]] = {
            "repos/get": self._get_repo,
            "repos/get-content": self._get_content,
            "repos/get-commit": self._get_commit,
            "repos/create-commit-status": self._create_status,
            "repos/list-commit-statuses-for-ref": self._list_statuses,
        }
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        self.app = Starlette(routes=[Route("/{path:path}", self._dispatch, methods=methods)])
        self._server = ThreadedServer(self.app)
        self.url = ""

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return self.url + API_PREFIX

    def start(self) -> FakeGitHub:
        try:
            self.url = self._server.start()
        except BaseException:
            self._tmp.cleanup()
            raise
        return self

    def stop(self) -> None:
        self._server.stop()
        self._tmp.cleanup()

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

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
            )
            # GitHub matches owner and repository names case-insensitively.
            self._repos[full_name.lower()] = repo
        return repo

    def repo(self, full_name: str) -> FakeRepo:
        with self._cond:
            return self._repos[full_name.lower()]

    def statuses(self, full_name: str, sha: str) -> list[dict[str, JSON]]:
        """Statuses posted for ``sha``, in the order they were posted."""
        with self._cond:
            return copy.deepcopy(self.repo(full_name).statuses.get(sha, []))

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._cond:
            return list(self._requests)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Block until ``predicate()`` holds; it is re-checked after every request served."""
        with self._cond:
            if not self._cond.wait_for(predicate, timeout):
                raise TimeoutError(f"condition not met in {timeout}s; requests: {self._requests}")

    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        headers: Mapping[str, str] | None = None,
        body: JSON = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests whose path ``re.search``-matches with ``status``.

        E.g. a rate limit: ``fail_next("POST", "/statuses/", 403, {"X-RateLimit-Remaining":
        "0", ...}, {"message": "API rate limit exceeded ..."})``. Injected answers skip auth
        and validation (they are the test's to shape).
        """
        if body is None:
            body = {"message": f"injected {status}", "documentation_url": DOCS}
        with self._cond:
            self._failures.append(
                _Failure(
                    method.upper(), re.compile(path_regex), status, dict(headers or {}), body, times
                )
            )

    # -- dispatch ----------------------------------------------------------------------
    async def _dispatch(self, request: Request) -> Response:
        path = request.url.path
        body = await request.body()
        response = self._injected(request.method, path)
        if response is None:
            if path.startswith(API_PREFIX + "/"):
                response = await anyio.to_thread.run_sync(
                    self._api_request, request, path[len(API_PREFIX) :], body
                )
            elif (m := _GIT_PATH.fullmatch(path)) is not None:
                response = await anyio.to_thread.run_sync(self._git_request, request, m, body)
            else:
                response = self._gap(
                    f"FakeGitHub has no route for {request.method} {path} "
                    f"(REST clients must use base_url={self.api_url})"
                )
        with self._cond:
            self._requests.append(
                RecordedRequest(request.method, path, request.url.query, response.status_code)
            )
            self._cond.notify_all()
        return response

    def _injected(self, method: str, path: str) -> Response | None:
        with self._cond:
            for failure in self._failures:
                if failure.method == method and failure.path.search(path):
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    return JSONResponse(failure.body, failure.status, failure.headers)
        return None

    def _gap(self, message: str, status: int = 500) -> Response:
        with self._cond:
            self.errors.append(message)
        return JSONResponse({"message": message, "documentation_url": DOCS}, status)

    def _api_request(self, request: Request, path: str, raw: bytes) -> Response:
        # GitHub accepts "token <t>" and "Bearer <t>"; anything else is "Bad credentials".
        scheme, _, credential = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("token", "bearer") or credential.strip() != self.token:
            return JSONResponse({"message": "Bad credentials", "documentation_url": DOCS}, 401)
        method = request.method
        match = self._api.find(method, path)
        for alias_method, pattern, replacement in _ALIASES:
            if match is None and method == alias_method and pattern.fullmatch(path):
                match = self._api.find(method, pattern.sub(replacement, path))
        if match is None:
            return self._gap(f"{method} {path} is not a route of GitHub's REST API")
        op = match.operation
        handler = self._handlers.get(op.operation_id)
        if handler is None:
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
            repo = self._find_repo(match.params["owner"], match.params["repo"])
            reply = handler(repo, match.params, request, body)
        except _Refused as refused:
            reply = refused.reply
        except _Gap as gap:
            return self._gap(str(gap))
        problems = self._api.validate_response(op, reply.status, reply.body)
        if problems:
            return self._gap("; ".join(problems))
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
        user, password = _basic_credentials(request.headers.get("authorization", ""))
        if password != self.token:
            return Response(
                "Invalid username or token.\n",
                401,
                {"WWW-Authenticate": 'Basic realm="GitHub"'},
                media_type="text/plain",
            )
        try:
            repo = self._find_repo(m[1], m[2])
        except _Refused:
            return Response("Repository not found.\n", 404, media_type="text/plain")
        result = http_backend(
            self.root,
            method=request.method,
            path_info=f"/{repo.owner}/{repo.name}.git{m[3]}",
            query=request.url.query,
            headers=request.headers,
            body=body,
            remote_user=user or "x-access-token",
        )
        if result.status >= 500:
            self._gap(f"git http-backend failed: {result.body.decode(errors='replace')}")
        return Response(result.body, result.status, dict(result.headers))

    # -- REST handlers: each cites the GitHub behaviour it follows ----------------------
    def _get_repo(
        self, repo: FakeRepo, params: dict[str, str], request: Request, body: JSON
    ) -> _Reply:
        return _Reply(200, objects.repository(repo))

    def _resolve(self, repo: FakeRepo, ref: str | None) -> str:
        sha = repo.bare.resolve(ref or repo.default_branch)
        if sha is None:
            # GitHub: 404 for an unknown ref in contents, 422 "No commit found for SHA" in
            # commits; both use GitHub's basic-error shape.
            raise _Refused(404, f"No commit found for the ref {ref}")
        return sha

    def _get_content(
        self, repo: FakeRepo, params: dict[str, str], request: Request, body: JSON
    ) -> _Reply:
        ref = request.query_params.get("ref")
        sha = self._resolve(repo, ref)
        path = params["path"].strip("/")
        kind = repo.bare.kind(sha, path)
        if kind is None:
            raise _Refused(404, "Not Found")
        blob = repo.bare.read_file(sha, path)
        if blob is None:
            raise _Gap(f"FakeGitHub does not list a {kind} in contents ({path})")
        return _Reply(200, objects.content_file(repo, path, ref or repo.default_branch, blob))

    def _get_commit(
        self, repo: FakeRepo, params: dict[str, str], request: Request, body: JSON
    ) -> _Reply:
        sha = repo.bare.resolve(params["ref"])
        if sha is None:
            raise _Refused(422, f"No commit found for SHA: {params['ref']}")
        return _Reply(200, objects.commit(repo, repo.bare.commit_info(sha)))

    def _create_status(
        self, repo: FakeRepo, params: dict[str, str], request: Request, body: JSON
    ) -> _Reply:
        sha = params["sha"]
        # GitHub wants the full commit sha here, and 422s for a commit it does not have.
        if not _SHA.fullmatch(sha) or repo.bare.resolve(sha) != sha:
            raise _Refused(422, f"No commit found for SHA: {sha}")
        creator = objects.user(self.login, self.url, self.api_url)
        with self._cond:
            self._status_ids += 1
            status = objects.status(repo, sha, self._status_ids, body, creator)
            repo.statuses.setdefault(sha, []).append(status)
        return _Reply(201, status, {"Location": status["url"]})

    def _list_statuses(
        self, repo: FakeRepo, params: dict[str, str], request: Request, body: JSON
    ) -> _Reply:
        sha = self._resolve(repo, params["ref"])
        with self._cond:
            newest_first = list(reversed(repo.statuses.get(sha, [])))
        # GitHub paginates with per_page (default 30, max 100) and page, linked by Link.
        per_page = min(int(request.query_params.get("per_page", 30)), 100)
        page = int(request.query_params.get("page", 1))
        items = newest_first[(page - 1) * per_page : page * per_page]
        headers = {}
        if page * per_page < len(newest_first):
            query = urllib.parse.urlencode({"per_page": per_page, "page": page + 1})
            headers["Link"] = f'<{self.url}{request.url.path}?{query}>; rel="next"'
        return _Reply(200, items, headers)


def _basic_credentials(header: str) -> tuple[str, str]:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        return "", ""
    return user, password
