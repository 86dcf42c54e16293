"""The runner's environment: an explicit allow-list, nothing else of whoever started it.

The bot's own environment may hold its secrets (S2I_BOT_GITHUB__WEBHOOK_SECRET, tokens); the
runner and every tool it starts (git, s2i, docker, buildah, skopeo) see only what is listed
here, so no /proc/<pid>/environ of a build step holds them. The local executor starts the
runner with this environment and the runner narrows its own to it again (a Job pod's
environment, or the shell of `s2i-bot build`), so both ends hold the rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

ALLOWED = (
    "PATH",  # where git, s2i, docker, buildah and skopeo are
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    # docker's client: which daemon and how to reach it
    "DOCKER_HOST",
    "DOCKER_TLS_VERIFY",
    "DOCKER_CERT_PATH",
    # buildah and skopeo (containers/storage, containers/image)
    "STORAGE_DRIVER",
    "BUILDAH_ISOLATION",
    "CONTAINERS_CONF",
    "CONTAINERS_STORAGE_CONF",
    "XDG_RUNTIME_DIR",
    # TLS trust for hosts behind a private certificate authority
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def minimal_env(environ: Mapping[str, str], *, home: Path) -> dict[str, str]:
    """The allowed variables of environ, HOME set to `home` (a directory of the build's own,
    so no tool reads a user's stored credentials) and a C.UTF-8 locale by default."""
    env = {name: environ[name] for name in ALLOWED if name in environ}
    env.setdefault("PATH", DEFAULT_PATH)
    env.setdefault("LANG", "C.UTF-8")
    env["HOME"] = str(home)
    return env
