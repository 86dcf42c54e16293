"""Questions for a registry, asked with skopeo (no daemon needed, same in a Job pod)."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.image_ref import registry_of
from bot.runner.errors import BuildError, RegistryAuthError, looks_like_auth_failure
from bot.runner.process import capture

_LOOPBACK = ("localhost", "127.")


def is_insecure(registry: str, insecure_registries: Collection[str]) -> bool:
    """Plain HTTP for listed registries and, as Docker does by default, for loopback ones."""
    host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry
    return registry in insecure_registries or host.startswith(_LOOPBACK)


@dataclass(frozen=True)
class RegistryClient:
    authfile: Path
    insecure_registries: Collection[str] = ()
    skopeo: str = "skopeo"

    def tls_flag(self, image: str) -> str:
        registry = registry_of(image) or "docker.io"
        return (
            f"--tls-verify={'false' if is_insecure(registry, self.insecure_registries) else 'true'}"
        )

    def _inspect(self, image: str, *extra: str) -> Any:
        argv = [self.skopeo, "inspect", *extra, self.tls_flag(image)]
        result = capture([*argv, "--authfile", str(self.authfile), f"docker://{image}"])
        registry = registry_of(image) or "docker.io"
        if result.returncode != 0:
            detail = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else ""
            if looks_like_auth_failure(result.stderr):
                raise RegistryAuthError(registry, detail)
            raise BuildError(f"cannot inspect {image} on registry {registry}: {detail}")
        return json.loads(result.stdout)

    def exists(self, image: str) -> bool:
        try:
            self._inspect(image, "--raw")
        except RegistryAuthError:
            raise
        except BuildError:
            return False
        return True

    def labels(self, image: str) -> dict[str, str]:
        return dict(self._inspect(image).get("Labels") or {})

    def labels_and_digest(self, image: str) -> tuple[dict[str, str], str | None]:
        """The image's labels, and the digest of the manifest its tag points at now."""
        found = self._inspect(image)
        digest = found.get("Digest")
        return dict(found.get("Labels") or {}), digest if isinstance(digest, str) else None

    def digest(self, image: str) -> str | None:
        """The digest of the manifest the tag points at now (skopeo's `Digest`, the one
        labels_and_digest reads: one kind of digest to compare)."""
        return self.labels_and_digest(image)[1]

    def compressed_size(self, image: str) -> int:
        """Bytes a pull transfers: the config blob plus every (compressed) layer."""
        manifest = self._inspect(image, "--raw")
        blobs = [manifest.get("config", {}), *manifest.get("layers", [])]
        return sum(int(blob.get("size", 0)) for blob in blobs)
