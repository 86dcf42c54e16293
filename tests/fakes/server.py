"""Serve an ASGI app with uvicorn on 127.0.0.1, port 0, in a background thread.

Readiness without sleeping: the listening socket is bound here before the thread starts,
so a client connecting early waits in the kernel's backlog; :meth:`start` then waits on an
event set by the app's lifespan startup, which proves uvicorn's loop runs.
"""

from __future__ import annotations

import socket
import threading

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

START_TIMEOUT = 10.0


class ThreadedServer:
    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        self._ready = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.url = ""

    def start(self) -> str:
        """Start serving; the base URL, e.g. ``http://127.0.0.1:40123``."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        config = uvicorn.Config(
            self._asgi,
            lifespan="on",
            log_level="warning",
            access_log=False,
            http="h11",
            ws="none",
            interface="asgi3",
        )
        self._server = uvicorn.Server(config)
        self._sock = sock
        self._thread = threading.Thread(target=self._run, name="fake-forge", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT) or not self._thread.is_alive():
            self.stop()
            raise RuntimeError("the fake's uvicorn server did not start (see its log above)")
        host, port = sock.getsockname()
        self.url = f"http://{host}:{port}"
        return self.url

    def _run(self) -> None:
        assert self._server is not None and self._sock is not None
        try:
            self._server.run(sockets=[self._sock])
        finally:
            self._ready.set()  # also when startup failed, so start() stops waiting

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(START_TIMEOUT)
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self._app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._ready.set()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
