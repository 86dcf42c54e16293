"""A web server that B2I downloads are pointed at: small files, redirects anywhere, and a huge
file streamed from a generator (5 GB by default) without ever existing, counting what it sent.

    with ArtifactHost() as host:
        host.url + "/files/tool"            # the bytes given to add()
        host.url + "/huge"                  # HUGE_BYTES of zeros, chunked (no Content-Length)
        host.url + "/huge?announce=1"       # the same, announcing its Content-Length
        host.url + "/redirect?to=<url>"     # 302 to <url>
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.server import ServedApp

HUGE_BYTES = 5 * 1000**3  # 5 GB
CHUNK = 1 << 20


class ArtifactHost(ServedApp):
    def __init__(self, huge_bytes: int = HUGE_BYTES) -> None:
        self.huge_bytes = huge_bytes
        self.files: dict[str, bytes] = {}
        self.requests: list[str] = []  # path?query of every request, in order
        self.authorizations: list[str | None] = []  # each request's Authorization header
        self._sent = 0
        self._lock = threading.Lock()
        app = Starlette(
            routes=[
                Route("/files/{name}", self._file),
                Route("/huge", self._huge),
                Route("/redirect", self._redirect),
            ]
        )
        super().__init__(app)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    @property
    def huge_sent(self) -> int:
        """Bytes of /huge the server has handed to the connection so far."""
        with self._lock:
            return self._sent

    def add(self, name: str, data: bytes) -> str:
        self.files[name] = data
        return f"{self.url}/files/{name}"

    def _record(self, request: Request) -> None:
        query = f"?{request.url.query}" if request.url.query else ""
        self.requests.append(request.url.path + query)
        self.authorizations.append(request.headers.get("authorization"))

    async def _file(self, request: Request) -> Response:
        self._record(request)
        data = self.files.get(request.path_params["name"])
        if data is None:
            return Response("no such file\n", 404, media_type="text/plain")
        return Response(data, media_type="application/octet-stream")

    async def _huge(self, request: Request) -> Response:
        self._record(request)

        async def zeros() -> AsyncIterator[bytes]:
            chunk = bytes(CHUNK)
            left = self.huge_bytes
            while left > 0:
                # A client that hung up stops the stream (uvicorn drops what is sent on a closed
                # connection without waiting, so without this check it would "send" it all).
                if await request.is_disconnected():
                    return
                piece = chunk[: min(CHUNK, left)]
                left -= len(piece)
                with self._lock:
                    self._sent += len(piece)
                yield piece

        announce = "announce" in request.query_params
        headers = {"Content-Length": str(self.huge_bytes)} if announce else {}
        return StreamingResponse(zeros(), media_type="application/octet-stream", headers=headers)

    async def _redirect(self, request: Request) -> Response:
        self._record(request)
        return RedirectResponse(request.query_params["to"], status_code=302)
