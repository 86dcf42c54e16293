"""Rebuilds on a new base image: when the tag of a build's builder or runtime image points at a
new digest (a patched base: CVE fixes), the latest successful build of each branch built on
it is built again from the same commit, its tags moved to the new image.

Every build records the digests of the builder and runtime images it read (bot/runner,
BuildResult.builder_digest / runtime_digest). Two ways tell the bot that a tag moved:
- the registry's notification (`POST /webhooks/registry`, bot/registry_notifications.py):
  the tag and its new digest, at once;
- a periodic check (the `base-images` duty, every `base_image_check_interval` seconds): each
  base image of those builds asked from its registry (skopeo or crane, with
  `registry_auth_file`), for registries that send no notifications.

What: the newest successful build of each name on each branch (Store.
last_successful_branch_builds: none while a newer one of that name and branch is queued or
running; none made before digests were recorded), whose recorded digest differs from the
tag's. It is rebuilt as a push of that branch at the build's commit would build it, only that
build (each forge's push webhook, as the catch-up and manual triggers store it: the
`.s2i.yaml` at the commit, its rules and tags), with `rebuilt on <image>@<digest>` in its
statuses; a repository whose `.s2i.yaml` says `rebuild_on_base_change: false` builds nothing
(bot/intake.py). The delivery's id is derived from the build's branch, name and commit and
the base's new digest, so a new digest rebuilds a build once, whichever way (or replica)
tells first. A build whose own image is the base that changed is not rebuilt by it (it would
never end).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.build_record import Build
from bot.catch_up import BRANCH_PREFIX, push_webhook
from bot.events import BranchPush
from bot.forges.base import ForgeApi, ForgeError, WebhookParser
from bot.registry_notifications import TagPushed
from bot.runner.crane import Crane
from bot.runner.errors import BuildError
from bot.runner.registry import RegistryClient
from bot.store import Delivery, Store

log = logging.getLogger(__name__)

ACTOR = "s2i-bot-rebuild"  # who pushed, as a rebuild's deliveries say
_IDS = uuid.UUID("0c6b1f4e-5d2a-4b8e-9f3c-7e1a2d4b6c80")  # the namespace of rebuild ids
# What a base image's tag points at now (a registry asked); None: unknown.
DigestLookup = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class BaseImage:
    """A builder or runtime image a build was built on, by tag, and its digest then."""

    image: str
    digest: str


def bases_of(build: Build) -> list[BaseImage]:
    """The base images a build recorded digests of (none before they were recorded)."""
    spec = build.spec
    if spec is None:
        return []
    found = []
    if build.builder_digest:
        found.append(BaseImage(spec.builder_image, build.builder_digest))
    if spec.runtime is not None and build.runtime_digest:
        found.append(BaseImage(spec.runtime.image, build.runtime_digest))
    # Its own image as its base: rebuilding it would move the base again, without end.
    return [b for b in found if b.image not in spec.outputs and b.image != spec.cache_image]


def rebuild_id(build: Build, image: str, digest: str) -> str:
    """The id of the rebuild of `build` on `image@digest`: the same in every pass, replica
    and notification."""
    key = f"{build.forge}:{build.repo}:{build.ref_key}:{build.name}:{build.sha}:{image}@{digest}"
    return f"rebuild-{uuid.uuid5(_IDS, key)}"


@dataclass(frozen=True, slots=True)
class Rebuild:
    build: Build
    image: str  # the base image (by tag) that moved
    digest: str  # where it points now

    @property
    def delivery_id(self) -> str:
        return rebuild_id(self.build, self.image, self.digest)

    @property
    def rebuilt_on(self) -> str:
        return f"{self.image}@{self.digest}"


def stale(builds: Iterable[Build], now: DigestLookup) -> list[Rebuild]:
    """The builds whose builder or runtime image's tag points elsewhere now (one rebuild each,
    on the first base that moved). Pure, given `now`."""
    found = []
    for build in builds:
        for base in bases_of(build):
            digest = now(base.image)
            if digest is not None and digest != base.digest:
                found.append(Rebuild(build, base.image, digest))
                break
    return found


def notified(pushed: Iterable[TagPushed]) -> DigestLookup:
    """What a notification says the tags point at now; nothing about other images."""
    tags = list(pushed)

    def now(image: str) -> str | None:
        # The last push of a tag in the envelope is where it points.
        return next((t.digest for t in reversed(tags) if t.names(image)), None)

    return now


def registry_digests(
    authfile: Path | None, insecure_registries: Collection[str], tool: str | None = None
) -> DigestLookup:
    """The periodic check's question: where a tag points now, with `registry_auth_file`.
    Asked with skopeo where the bot's host has it (the runner's RegistryClient, so the digest
    is the kind the local runner recorded), else with crane (the bot's container image has
    crane, which the Kubernetes executor resolves builders with, and no skopeo); both answer
    the digest of the manifest the tag names. `tool`: "skopeo" or "crane", None: as found on
    PATH. None, and a warning, when the registry cannot say."""
    chosen = tool or ("skopeo" if shutil.which("skopeo") else "crane")

    def now(image: str) -> str | None:
        with tempfile.TemporaryDirectory(prefix="s2i-bot-base-") as scratch:
            path = authfile
            if path is None:
                path = Path(scratch) / "auth.json"
                path.write_text('{"auths": {}}')
            try:
                if chosen == "crane":
                    return Crane(path, insecure_registries).digest(image)
                return RegistryClient(path, insecure_registries).digest(image)
            except (BuildError, OSError) as exc:
                log.warning("base image check: cannot ask where %s points: %s", image, exc)
                return None

    return now


@dataclass(frozen=True)
class BaseImageWatch:
    """Finds the builds a moved base image makes stale and stores a rebuild delivery for each
    (in a forge thread); the orchestrator hands what was stored to its workers."""

    _store: Store
    _forges: Mapping[str, ForgeApi]
    _webhooks: Mapping[str, WebhookParser]
    _registry: DigestLookup  # the periodic check's question to a registry

    def check(self) -> list[Delivery]:
        """The periodic check: every base image of the latest builds asked once."""
        asked: dict[str, str | None] = {}

        def now(image: str) -> str | None:
            if image not in asked:
                asked[image] = self._registry(image)
            return asked[image]

        return self._rebuild(stale(self._store.last_successful_branch_builds(), now))

    def pushed(self, tags: list[TagPushed]) -> list[Delivery]:
        """A registry's notification: the builds on the tags it names that moved."""
        if not tags:
            return []
        return self._rebuild(stale(self._store.last_successful_branch_builds(), notified(tags)))

    def _rebuild(self, rebuilds: list[Rebuild]) -> list[Delivery]:
        stored = []
        for rebuild in rebuilds:
            if rebuild.build.forge not in self._forges or self._store.has_delivery(
                rebuild.delivery_id
            ):
                continue
            delivery = self._delivery(rebuild)
            if delivery is not None and self._store.add_delivery(delivery):
                build = rebuild.build
                log.info(
                    "%s %s %s: %s was built on %s, which is now at %s: rebuilding it "
                    "(delivery %s)", build.forge, build.repo, build.ref_key, build.name,
                    rebuild.image, rebuild.digest, delivery.id,
                )  # fmt: skip
                stored.append(delivery)
        return stored

    def _delivery(self, rebuild: Rebuild) -> Delivery | None:
        build = rebuild.build
        try:
            repo = self._forges[build.forge].repository(build.repo, None)
        except ForgeError as exc:  # UnknownRepository too: gone, or the bot lost access
            log.warning("no rebuild of %s %s %s: %s", build.forge, build.repo, build.name, exc)
            return None
        push = BranchPush(
            repo, build.ref_key.removeprefix(BRANCH_PREFIX), build.sha, build.sha,
            rebuild.delivery_id, ACTOR, None, only_builds=(build.name,),
            note=f"rebuilt on {rebuild.image}", rebuilt_on=rebuild.rebuilt_on,
        )  # fmt: skip
        headers, body = push_webhook(build.forge, push)
        webhooks = self._webhooks[build.forge]
        headers = webhooks.vouch(headers, body)
        return Delivery(
            rebuild.delivery_id, build.forge, webhooks.event_name(headers), headers, body
        )
