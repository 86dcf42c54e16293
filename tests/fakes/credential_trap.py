"""A host that should never see the forge token: it records every request it receives, and
asks for HTTP Basic credentials (401 with a challenge, as a git host does), so a client that
holds credentials for it would send them.

Optionally it is the forge's side of a redirect: with ``redirect_to`` set, it answers every
request that carries an ``Authorization`` header (or, with ``redirect_first``, every request)
with a 302 to the same path on ``redirect_to``, the way a moved repository or a hostile proxy
would point git at another host.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.fakes.server import ThreadedServer


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    authorization: str | None


class CredentialTrap:
    """Use as a context manager; :attr:`url` is its base URL (on ``host``)."""

    def __init__(
        self, *, host: str = "127.0.0.1", redirect_to: str = "", redirect_first: bool = False
    ) -> None:
        self.host = host
        self.redirect_to = redirect_to.rstrip("/")
        self.redirect_first = redirect_first
        self._seen: list[Seen] = []
        self._lock = threading.Lock()
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        self._server = ThreadedServer(
            Starlette(routes=[Route("/{path:path}", self._answer, methods=methods)])
        )
        self.url = ""

    def __enter__(self) -> Self:
        port = self._server.start().rsplit(":", 1)[1]
        self.url = f"http://{self.host}:{port}"
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.stop()

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def credentials_seen(self) -> list[str]:
        """Every Authorization header any request brought."""
        return [s.authorization for s in self.seen if s.authorization is not None]

    async def _answer(self, request: Request) -> Response:
        authorization = request.headers.get("authorization")
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        with self._lock:
            self._seen.append(Seen(request.method, path, authorization))
        if self.redirect_to and (authorization is not None or self.redirect_first):
            return Response(status_code=302, headers={"Location": self.redirect_to + path})
        return Response(
            "credentials, please\n",
            401,
            headers={"WWW-Authenticate": 'Basic realm="git"'},
            media_type="text/plain",
        )
