"""How a build can end badly. The reporter maps these to commit-status states:
a BuildFailure (the user's code or config did not build) is `failure`; a BuildError (the
infrastructure: git, registry, engine) is `error`, as GitHub's status API distinguishes them."""

from __future__ import annotations


class BuildError(Exception):
    """Something outside the user's code went wrong; retrying may help."""


class BuildFailure(Exception):
    """The build itself failed (assemble exited non-zero, e.g. a compile error)."""


class RegistryAuthError(BuildError):
    def __init__(self, registry: str, detail: str = "") -> None:
        self.registry = registry
        message = f"registry {registry} refused the credentials"
        super().__init__(f"{message}: {detail}" if detail else message)


# What registries and the tools in front of them say when credentials are wrong or missing
# (distribution: "unauthorized: authentication required"; containers/image: "authentication
# required", "invalid username/password"; docker: "no basic auth credentials").
_AUTH_MARKERS = (
    "unauthorized",
    "authentication required",
    "invalid username/password",
    "no basic auth credentials",
    "denied",
)


def looks_like_auth_failure(output: str) -> bool:
    text = output.lower()
    return any(marker in text for marker in _AUTH_MARKERS)
