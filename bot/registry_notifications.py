"""A registry's notifications, pure: the tags a push pointed at a new manifest.

Docker Distribution (the Debian `docker-registry`, the CNCF `distribution`, and registries
built on it) POSTs an envelope of events to each endpoint of its `notifications` config
("Notifications", distribution docs: `{"events": [...]}`, media type
`application/vnd.docker.distribution.events.v1+json`). A push event whose target is a
manifest and names a `tag` says that tag now points at `target.digest`; layer pushes, pulls,
mounts and deletes say nothing about tags. The registry's host is the one the pusher named
(`request.host`) and the one in `target.url` (the registry's own `http.host` when set): a
build names its base image by either.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from bot.image_ref import registry_of

MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_MANIFEST = ("manifest", "index")  # Docker v2 manifests and lists, OCI manifests and indexes


class NotificationError(ValueError):
    """The body is not a registry's notification envelope: answer 400."""


@dataclass(frozen=True, slots=True)
class TagPushed:
    hosts: frozenset[str]  # the registry, as the pusher and the registry name it
    repository: str  # e.g. s2i-bot/go
    tag: str
    digest: str  # sha256:... the tag points at now

    def names(self, image: str) -> bool:
        """Whether `image` (a build's builder or runtime image, by tag) is this tag."""
        return image_tag(image) in {(h, self.repository, self.tag) for h in self.hosts}

    def __str__(self) -> str:
        return f"{min(self.hosts)}/{self.repository}:{self.tag}@{self.digest}"


def image_tag(image: str) -> tuple[str, str, str] | None:
    """(registry host, repository, tag) of an image named by tag (`latest` when none); None
    for an image pinned by digest (it never changes) or on Docker Hub (whose notifications
    never come here)."""
    if "@" in image:
        return None
    host = registry_of(image)
    if host is None:
        return None
    path = image[len(host) + 1 :]
    name, colon, tag = path.rpartition(":")
    if not colon or "/" in tag:
        name, tag = path, "latest"
    return host, name, tag


def pushed_tags(body: bytes) -> list[TagPushed]:
    """Every tag the envelope says a push pointed at a manifest, in order."""
    try:
        envelope: Any = json.loads(body)
    except ValueError:
        raise NotificationError("the body is not JSON") from None
    events = envelope.get("events") if isinstance(envelope, dict) else None
    if not isinstance(events, list):
        raise NotificationError('the body is not a notification envelope: {"events": [...]}')
    found: list[TagPushed] = []
    for event in events:
        if not isinstance(event, dict) or event.get("action") != "push":
            continue
        target = event.get("target")
        if not isinstance(target, dict):
            continue
        tag, digest, repository = target.get("tag"), target.get("digest"), target.get("repository")
        media_type = str(target.get("mediaType") or "")
        if not (isinstance(tag, str) and tag and isinstance(repository, str) and repository):
            continue
        if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
            continue
        if not any(word in media_type for word in _MANIFEST):
            continue
        hosts = {urllib.parse.urlsplit(str(target.get("url") or "")).netloc}
        request = event.get("request")
        if isinstance(request, dict):
            hosts.add(str(request.get("host") or ""))
        hosts.discard("")
        if hosts:
            found.append(TagPushed(frozenset(hosts), repository, tag, digest))
    return found
