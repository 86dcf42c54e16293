"""What the forge fakes (:mod:`tests.fakes.github`, :mod:`tests.fakes.gitlab`) share: one
Starlette app on 127.0.0.1, port 0 (:class:`tests.fakes.server.ThreadedServer`), that records
every request, answers the ones a test injected (:meth:`ForgeServer.fail_next`), and routes the
rest to the forge's REST API under its prefix or to git's smart HTTP protocol through
``git http-backend``.

Anything a fake cannot answer faithfully answers 500 and is recorded in
:attr:`ForgeServer.errors` (:meth:`ForgeServer._gap`), so a gap in the fake fails the test
instead of passing quietly.
"""

from __future__ import annotations

import asyncio
import base64
import re
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

import anyio.to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes.git import http_backend
from tests.fakes.server import ThreadedServer

__all__ = ["ForgeServer", "RecordedRequest", "basic_challenge", "basic_credentials"]

JSON = Any


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str  # as sent, e.g. /api/v3/repos/o/r/statuses/<sha> (GitLab's still %-encoded)
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


class ForgeServer:
    """The fake; use as a context manager or call :meth:`start` / :meth:`stop`.

    A subclass names its REST prefix, its git path (a pattern whose last group is the part
    after ``.git``), its temporary directory's prefix and the message of an injected failure,
    and answers :meth:`_api_request`, :meth:`_git_request` and :meth:`_other_request`.
    """

    _API_PREFIX: ClassVar[str]
    _GIT_PATH: ClassVar[re.Pattern[str]]
    _TMP_PREFIX: ClassVar[str]
    _INJECTED: ClassVar[str]  # the default message of fail_next, formatted with ``status``

    def __init__(self, token: str) -> None:
        self.token = token
        self.errors: list[str] = []
        # Seconds every REST API request waits before it is answered (the real forge's round
        # trip; benchmarks and intake tests set it), without holding a thread.
        self.api_delay = 0.0
        self._requests: list[RecordedRequest] = []
        self._failures: list[_Failure] = []
        self._cond = threading.Condition()  # guards all state; notified per request
        self._tmp = tempfile.TemporaryDirectory(prefix=self._TMP_PREFIX)
        self.root = Path(self._tmp.name)  # GIT_PROJECT_ROOT: <root>/<namespace>/<name>.git
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        self.app = Starlette(routes=[Route("/{path:path}", self._dispatch, methods=methods)])
        self._server = ThreadedServer(self.app)
        self.url = ""

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def api_url(self) -> str:
        return self.url + self._API_PREFIX

    def start(self) -> Self:
        try:
            self.url = self._server.start()
        except BaseException:
            self._tmp.cleanup()
            raise
        return self

    def stop(self) -> None:
        self._server.stop()
        self._tmp.cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- test-facing state -------------------------------------------------------------
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
        """Answer the next ``times`` requests whose path as sent (as :attr:`requests` records
        it: GitLab's still percent-encoded, e.g. ``/api/v4/projects/g%2Fp/statuses/...``)
        ``re.search``-matches with ``status``.

        A str ``body`` is sent as text/plain, anything else as JSON; without one, the forge's
        error shape. Injected answers skip auth and validation (they are the test's to shape).
        """
        if body is None:
            body = self._error_body(self._INJECTED.format(status=status))
        with self._cond:
            self._failures.append(
                _Failure(
                    method.upper(), re.compile(path_regex), status, dict(headers or {}), body, times
                )
            )

    # -- dispatch ----------------------------------------------------------------------
    async def _dispatch(self, request: Request) -> Response:
        sent = self._sent_path(request)
        body = await request.body()
        response = self._injected(request.method, sent)
        if response is None:
            if sent.startswith(self._API_PREFIX + "/"):
                if self.api_delay:
                    await asyncio.sleep(self.api_delay)
                response = await anyio.to_thread.run_sync(
                    self._api_request, request, sent[len(self._API_PREFIX) :], body
                )
            elif (m := self._GIT_PATH.fullmatch(request.url.path)) is not None:
                response = await anyio.to_thread.run_sync(self._git_request, request, m, body)
            else:
                response = self._other_request(request, sent)
        with self._cond:
            self._requests.append(
                RecordedRequest(request.method, sent, request.url.query, response.status_code)
            )
            self._cond.notify_all()
        return response

    def _sent_path(self, request: Request) -> str:
        """The path as :class:`RecordedRequest` records it and :meth:`fail_next` matches it."""
        return request.url.path

    def _injected(self, method: str, path: str) -> Response | None:
        with self._cond:
            for failure in self._failures:
                if failure.method == method and failure.path.search(path):
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    if isinstance(failure.body, str):
                        return Response(
                            failure.body, failure.status, failure.headers, media_type="text/plain"
                        )
                    return JSONResponse(failure.body, failure.status, failure.headers)
        return None

    def _gap(self, message: str, status: int = 500) -> Response:
        """Record ``message`` in :attr:`errors`; an answer with it in the forge's error shape."""
        with self._cond:
            self.errors.append(message)
        return JSONResponse(self._error_body(message), status)

    def _error_body(self, message: str) -> JSON:
        return {"message": message}

    def _api_request(self, request: Request, path: str, raw: bytes) -> Response:
        """Answer a REST request; ``path`` is what follows the API prefix."""
        raise NotImplementedError

    def _git_request(self, request: Request, m: re.Match[str], body: bytes) -> Response:
        """Answer a request that ``_GIT_PATH`` matched, e.g. with :meth:`_serve_git`."""
        raise NotImplementedError

    def _other_request(self, request: Request, sent: str) -> Response:
        """Answer a request neither to the API nor to git (a :meth:`_gap` if not served)."""
        raise NotImplementedError

    def _serve_git(
        self,
        request: Request,
        m: re.Match[str],
        body: bytes,
        *,
        repo_path: str,
        remote_user: str,
        pushed: Callable[[], None],
    ) -> Response:
        """Serve git's smart HTTP for the repository at ``<root>/<repo_path>.git``; after a
        push (``git-receive-pack``), call ``pushed``."""
        service = m[m.lastindex or 0]  # what follows .git, e.g. /info/refs
        result = http_backend(
            self.root,
            method=request.method,
            path_info=f"/{repo_path}.git{service}",
            query=request.url.query,
            headers=request.headers,
            body=body,
            remote_user=remote_user,
        )
        if result.status >= 500:
            self._gap(f"git http-backend failed: {result.body.decode(errors='replace')}")
        elif service == "/git-receive-pack":
            pushed()
        return Response(result.body, result.status, dict(result.headers))


def basic_credentials(header: str) -> tuple[str, str]:
    """(user, password) of an ``Authorization: Basic`` header; ("", "") for anything else."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return "", ""
    try:
        user, _, password = base64.b64decode(encoded).decode().partition(":")
    except ValueError:
        return "", ""
    return user, password


def basic_challenge(message: str, realm: str) -> Response:
    """401 with a Basic challenge, so git asks its credential helper."""
    return Response(
        message, 401, {"WWW-Authenticate": f'Basic realm="{realm}"'}, media_type="text/plain"
    )
