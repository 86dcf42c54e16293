"""B2I: fetch the one binary artifact a build is made from, within the operator's policy.

Two kinds of URL reach here:
- a release asset's URL, which the bot took from the forge API (GitHub: "Download a release
  asset" answers 302 to a signed storage URL). It carries the forge token, in an unredirected
  header, so the storage host (chosen by whoever answered) never sees it;
- a `binary.url` from `.s2i.yaml`, which whoever can push wrote: never with a token.
The storage host a release asset redirects to is as unknown as a repository's URL, so every
hop of both is held to the same ArtifactPolicy: http or https only; every address the host
resolves to must be a public one (no loopback, link-local, private, shared or reserved range,
IPv4-mapped forms included), unless the host is in `artifact_allowed_hosts` or
`allow_private_artifact_hosts` is set; the connection goes to the address that was checked
(a second DNS answer cannot swap it); at most MAX_REDIRECTS redirects, each checked the same
way; at most `max_artifact_bytes`, refused from Content-Length or while streaming, before
more than that is written. No proxy is used.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from bot.runner.errors import BuildFailure
from bot.runner.process import BuildLog
from bot.safe_values import file_name_problem

TIMEOUT = 300
MAX_REDIRECTS = 5
CHUNK = 1 << 20
DEFAULT_MAX_BYTES = 1 << 30  # 1 GiB
_REDIRECTS = {301, 302, 303, 307, 308}

Resolver = Callable[[str, int], Sequence[str]]


@dataclass(frozen=True)
class ArtifactPolicy:
    """Where B2I downloads may go (the settings artifact_allowed_hosts,
    allow_private_artifact_hosts, max_artifact_bytes)."""

    allowed_hosts: tuple[str, ...] = ()  # reachable even at a non-public address
    allow_private: bool = False
    max_bytes: int = DEFAULT_MAX_BYTES

    def argv(self) -> list[str]:
        """The runner's flags for this policy (python -m bot.runner)."""
        args = [f"--artifact-allowed-host={host}" for host in self.allowed_hosts]
        args += ["--allow-private-artifact-hosts"] if self.allow_private else []
        return [*args, f"--max-artifact-bytes={self.max_bytes}"]


def resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class Target:
    """One checked hop: where to connect, and what to ask for."""

    scheme: str
    host: str
    port: int
    address: str
    path: str


def check_url(url: str, policy: ArtifactPolicy, resolver: Resolver = resolve) -> Target:
    """The hop url may lead to under policy; BuildFailure saying why not."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BuildFailure(f"'{url}' is not a URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BuildFailure(f"'{url}' is not an http:// or https:// URL with a host")
    host = parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    try:
        addresses = resolver(host, port)
    except OSError as exc:
        raise BuildFailure(f"the host {host} of {url} cannot be resolved: {exc}") from exc
    if not addresses:
        raise BuildFailure(f"the host {host} of {url} has no address")
    exempt = policy.allow_private or host.lower() in {h.lower() for h in policy.allowed_hosts}
    if not exempt:
        private = [a for a in addresses if not _public(a)]
        if private:
            raise BuildFailure(
                f"{url} leads to {host} at {private[0]}, a loopback, link-local or private "
                "address; artifacts come only from public hosts unless the operator allows "
                "this one (settings: artifact_allowed_hosts, allow_private_artifact_hosts)"
            )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, addresses[0], path)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address; Host still names the host."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """The same over TLS: the certificate must still be the host's (SNI and verification)."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address
        self._tls = ssl.create_default_context()

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def _connection(target: Target, timeout: float) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _PinnedHTTPSConnection(target, timeout)
    return _PinnedHTTPConnection(target, timeout)


def open_artifact(
    url: str,
    policy: ArtifactPolicy,
    *,
    token: str | None = None,
    resolver: Resolver = resolve,
    timeout: float = TIMEOUT,
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    """Follow url (and its redirects, each checked) to a 2xx answer; the caller reads it."""
    current = url
    for hop in range(MAX_REDIRECTS + 1):
        target = check_url(current, policy, resolver)
        connection = _connection(target, timeout)
        headers = {"Accept": "application/octet-stream", "User-Agent": "s2i-bot"}
        if token and hop == 0:
            headers["Authorization"] = f"token {token}"  # the first hop only: the forge API
        try:
            connection.request("GET", target.path, headers=headers)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise BuildFailure(f"{current}: {exc}") from exc
        location = response.getheader("Location")
        if response.status in _REDIRECTS and location:
            connection.close()
            current = urljoin(current, location)
            continue
        if response.status >= 300:
            connection.close()
            raise BuildFailure(f"HTTP {response.status} {response.reason}")
        return connection, response
    raise BuildFailure(f"more than {MAX_REDIRECTS} redirects")


def fetch_artifact(
    url: str,
    name: str,
    dest: Path,
    log: BuildLog,
    *,
    token: str | None,
    policy: ArtifactPolicy,
    resolver: Resolver = resolve,
) -> Path:
    """Download url into dest/name; a missing, unreadable, refused or oversized artifact
    fails the build, naming it."""
    if problem := file_name_problem(name):
        raise BuildFailure(f"the artifact's name: {problem}")
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / name
    log.line(f"downloading the artifact {name} from {url}")
    failed = f"the artifact {name} could not be downloaded from {url}"
    try:
        connection, response = open_artifact(url, policy, token=token, resolver=resolver)
    except BuildFailure as exc:
        raise BuildFailure(f"{failed}: {exc}") from exc
    too_big = (
        f"the artifact {name} from {url} is larger than max_artifact_bytes "
        f"({policy.max_bytes} bytes); the operator sets that limit"
    )
    size = 0
    try:
        length = response.getheader("Content-Length")
        if length and length.isdigit() and int(length) > policy.max_bytes:
            raise BuildFailure(f"{too_big} (it announces {int(length)} bytes)")
        with target.open("wb") as out:
            while chunk := response.read(CHUNK):
                size += len(chunk)
                if size > policy.max_bytes:
                    raise BuildFailure(too_big)
                out.write(chunk)
    except BuildFailure:
        target.unlink(missing_ok=True)
        raise
    except (OSError, http.client.HTTPException) as exc:
        target.unlink(missing_ok=True)
        raise BuildFailure(f"{failed}: {exc}") from exc
    finally:
        connection.close()
    if size == 0:
        raise BuildFailure(f"the artifact {name} downloaded from {url} is empty")
    target.chmod(0o755)
    log.line(f"downloaded {name} ({size} bytes)")
    return target
