"""A builder image resolved once per build (issue 13): the digest its tag names now, and what
the unprivileged pod needs of its config (s2i's labels). The pod runs the digest, so the
kubelet's image cache serves every build of it (imagePullPolicy IfNotPresent) and a build is
reproducible whatever the tag says later.

`resolve_builder` asks the registry with crane; `ResolvedBuilder.from_config` is pure.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.runner import s2i
from bot.runner.app_layer import APP_DIRS_LABEL, DEFAULT_APP_DIRS
from bot.runner.crane import Crane, repository_of

DEFAULT_ASSEMBLE_USER = "1001"  # s2i's own default (--assemble-user)
DEFAULT_DESTINATION = "/tmp"  # s2i's default io.openshift.s2i.destination
_NUMERIC_USER = re.compile(r"(?P<uid>[0-9]+)(?::(?P<gid>[0-9]+))?")
_ABSOLUTE_PATH = re.compile(r"/[A-Za-z0-9._/-]*")


class UnusableBuilder(ValueError):
    """The builder image breaks the unprivileged layout's contract (builders/README.md)."""


@dataclass(frozen=True)
class ResolvedBuilder:
    image: str  # as the template names it (a tag)
    ref: str  # repository@sha256:...
    uid: int
    gid: int
    destination: str
    app_dirs: tuple[str, ...]
    labels: Mapping[str, str]

    @classmethod
    def from_config(cls, image: str, digest: str, config: Mapping[str, Any]) -> ResolvedBuilder:
        """From the image config crane printed (`{"config": {"Labels": ...}}`)."""
        labels = dict((config.get("config") or {}).get("Labels") or {})
        user = labels.get(s2i.ASSEMBLE_USER, DEFAULT_ASSEMBLE_USER).strip()
        match = _NUMERIC_USER.fullmatch(user)
        if match is None or int(match["uid"]) == 0:
            raise UnusableBuilder(
                f"builder image {image}: its {s2i.ASSEMBLE_USER} label is '{user}'; the "
                "unprivileged Job layout runs assemble as a numeric non-root uid: set the "
                "label to one (e.g. 1001) or use kubernetes.layout: buildah"
            )
        destination = labels.get(s2i.DESTINATION, DEFAULT_DESTINATION).rstrip("/") or "/"
        app_dirs = tuple(labels.get(APP_DIRS_LABEL, " ".join(DEFAULT_APP_DIRS)).split())
        for path in (destination, *app_dirs):
            if not _ABSOLUTE_PATH.fullmatch(path) or path == "/" or ".." in path.split("/"):
                raise UnusableBuilder(
                    f"builder image {image}: '{path}' (from its labels) is not an absolute "
                    "directory below / the unprivileged Job layout can mount or export"
                )
        return cls(
            image=image,
            ref=f"{repository_of(image)}@{digest}",
            uid=int(match["uid"]),
            gid=int(match["gid"] or 0),
            destination=destination,
            app_dirs=app_dirs,
            labels=labels,
        )


def resolve_builder(
    image: str, authfile: Path | None, insecure_registries: Collection[str] = ()
) -> ResolvedBuilder:
    """The builder's digest and config, from its registry (two small requests)."""
    crane = Crane(authfile, insecure_registries)
    digest = crane.digest(image)
    config = crane.config(f"{repository_of(image)}@{digest}")
    return ResolvedBuilder.from_config(image, digest, config)
