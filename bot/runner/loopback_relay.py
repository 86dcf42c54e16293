"""Loopback relays: `127.0.0.1:5000=10.244.0.1:40123` makes a service the build names by a
loopback address (a registry, a forge on the node's 127.0.0.1) reachable from a pod that has
a network namespace of its own, as the `restricted` Pod Security Standard requires (it
refuses hostNetwork). The runner listens on the pod's own loopback address and copies each
connection to the target, an address of the node that forwards to the service
(kubernetes.loopback_relays; the test cluster's setup in tests/support/kube_cluster.py).
Names and TLS are untouched: image references and clone URLs stay as the bot wrote them.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import threading
import time
from collections.abc import Iterator, Sequence


def parse(text: str) -> tuple[tuple[str, int], tuple[str, int]]:
    """`127.0.0.1:5000=10.244.0.1:40123` -> ((listen host, port), (target host, port))."""
    listen, sep, target = text.partition("=")
    if not sep:
        raise ValueError(f"relay '{text}' is not LISTEN_HOST:PORT=TARGET_HOST:PORT")
    return _address(listen), _address(target)


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"'{text}' is not HOST:PORT")
    return host, int(port)


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def _connect(client: socket.socket, target: tuple[str, int]) -> None:
    """One connection both ways until both ends have finished; then both sockets closed."""
    with client:
        try:
            upstream = socket.create_connection(target, timeout=10)
        except OSError:
            return
        with upstream:
            upstream.settimeout(None)
            back = threading.Thread(target=_pipe, args=(upstream, client), daemon=True)
            back.start()
            _pipe(client, upstream)
            back.join()


def _serve(server: socket.socket, target: tuple[str, int], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            client, _ = server.accept()
        except OSError:
            return
        threading.Thread(target=_connect, args=(client, target), daemon=True).start()


def _listening(listen: tuple[str, int]) -> list[socket.socket]:
    """Sockets on every address the name resolves to (`localhost`: 127.0.0.1 and ::1, which
    a client may try first); an address this host lacks (no IPv6) is skipped."""
    found: list[socket.socket] = []
    infos = socket.getaddrinfo(*listen, type=socket.SOCK_STREAM)
    for family, kind, proto, _, address in dict.fromkeys(infos):
        server = socket.socket(family, kind, proto)
        try:
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                server.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            server.bind(address)
            server.listen(64)
        except OSError:
            server.close()
            if len(infos) == 1:
                raise
            continue
        found.append(server)
    if not found:
        raise OSError(f"cannot listen on {listen[0]}:{listen[1]}")
    return found


def _listening_when_free(listen: tuple[str, int], wait_seconds: float) -> list[socket.socket]:
    """_listening, trying again while the address is in use, for up to wait_seconds."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return _listening(listen)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or time.monotonic() > deadline:
                raise
        time.sleep(0.02)


@contextlib.contextmanager
def relays(specs: Sequence[str], *, wait_seconds: float = 0) -> Iterator[None]:
    """Serve every relay for as long as the block runs. `wait_seconds`: how long an address
    in use may take to be free (another container of the pod closing the same relays)."""
    stop = threading.Event()
    servers = []
    try:
        for spec in specs:
            listen, target = parse(spec)
            for server in _listening_when_free(listen, wait_seconds):
                servers.append(server)
                threading.Thread(target=_serve, args=(server, target, stop), daemon=True).start()
        yield
    finally:
        stop.set()
        for server in servers:
            # shutdown first: a thread blocked in accept() would keep the address bound
            # until this process ends (another container of the pod binds it next).
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)
            server.close()
