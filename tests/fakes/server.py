"""Serve an ASGI app with uvicorn on 127.0.0.1 (port 0: any free one) in a background thread.

Readiness without sleeping: the listening socket is bound here before the thread starts,
so a client connecting early waits in the kernel's backlog; :meth:`start` then waits on an
event set when the app's lifespan startup completed, which proves uvicorn's loop runs and
the app's own startup (the bot's recovery and workers, for tests/support/bot_in_process.py)
is done. The app's lifespan shutdown runs in :meth:`stop`.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from pathlib import Path
from types import TracebackType
from typing import Self

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

START_TIMEOUT = 10.0


class _Server(uvicorn.Server):
    """uvicorn's server, stopped as soon as asked: uvicorn's own main loop looks at
    `should_exit` every 0.1 s and its shutdown first sleeps 0.1 s, and a test suite starts and
    stops hundreds of servers. The shutdown's steps are uvicorn's (0.54, Server.shutdown)."""

    _exit: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._exit, self._loop = asyncio.Event(), asyncio.get_running_loop()
        if not self.should_exit:
            await self._exit.wait()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # no new connections
        for sock in sockets or []:
            sock.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()  # idle ones close now, busy ones after their response
        while self.server_state.connections or self.server_state.tasks:
            await asyncio.sleep(0.005)
        for server in self.servers:
            await server.wait_closed()
        await self.lifespan.shutdown()

    def exit_now(self) -> None:
        self.should_exit = True
        if self._loop is not None and self._exit is not None:
            self._loop.call_soon_threadsafe(self._exit.set)


class ThreadedServer:
    def __init__(self, app: ASGIApp, port: int = 0, tls: tuple[Path, Path] | None = None) -> None:
        """`tls`: (certificate, key) files: serve HTTPS."""
        self._app = app
        self._port = port
        self._tls = tls
        self._ready = threading.Event()
        self._failed = ""  # the app's lifespan.startup.failed message
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._sock: socket.socket | None = None
        self.url = ""

    def start(self, timeout: float = START_TIMEOUT) -> str:
        """Start serving; the base URL, e.g. ``http://127.0.0.1:40123``."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # A server started again on its port (a bot restarted by a test) binds it while the
        # connections it closed are in TIME_WAIT, as uvicorn's own sockets do.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self._port))
        sock.listen(128)
        config = uvicorn.Config(
            self._asgi,
            lifespan="on",
            log_level="warning",
            access_log=False,
            http="h11",
            ws="none",
            interface="asgi3",
            ssl_certfile=str(self._tls[0]) if self._tls else None,
            ssl_keyfile=str(self._tls[1]) if self._tls else None,
        )
        self._server = _Server(config)
        self._sock = sock
        self._thread = threading.Thread(target=self._run, name="threaded-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout) or self._failed or not self._thread.is_alive():
            self.stop()
            raise RuntimeError(
                f"the uvicorn server did not start: {self._failed or 'see its log above'}"
            )
        host, port = sock.getsockname()
        self.url = f"{'https' if self._tls else 'http'}://{host}:{port}"
        return self.url

    def _run(self) -> None:
        assert self._server is not None and self._sock is not None
        try:
            self._server.run(sockets=[self._sock])
        finally:
            self._ready.set()  # also when startup failed, so start() stops waiting

    def stop(self, timeout: float = START_TIMEOUT) -> None:
        """Stop serving: the app's lifespan shutdown runs, within `timeout` seconds."""
        if self._server is not None:
            self._server.exit_now()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError(f"the uvicorn server did not stop within {timeout:.0f}s")
        if self._sock is not None:
            self._sock.close()
        self._server = self._thread = self._sock = None

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            await self._app(scope, receive, send)
            return

        async def send_lifespan(message: Message) -> None:
            if message["type"] == "lifespan.startup.failed":
                self._failed = str(message.get("message") or "its lifespan startup failed")
            await send(message)
            if message["type"] in ("lifespan.startup.complete", "lifespan.startup.failed"):
                self._ready.set()

        await self._app(scope, receive, send_lifespan)


class ServedApp:
    """A fake whose Starlette app is served for the span of a `with` block: `url` while it
    runs. Subclasses build their app and pass it here."""

    def __init__(self, app: ASGIApp, tls: tuple[Path, Path] | None = None) -> None:
        self._server = ThreadedServer(app, tls=tls)
        self.url = ""

    def __enter__(self) -> Self:
        self.url = self._server.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.stop()
