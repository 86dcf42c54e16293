"""Manual triggers: an operator asks for a branch or tag head to be built (`POST /api/builds`,
`s2i-bot trigger`), after an outage or on a schedule (manifests/cronjob-rebuild.yaml).

The build goes exactly where a push's goes: the trigger stores the forge's own push webhook
for the head (each forge's `push_delivery`, as the catch-up does, bot/catch_up.py), sealed
with the webhook secret, and the workers process it as any push: the `.s2i.yaml` at that
commit, the builds it triggers, their statuses on the commit and their links. What differs is
asked for in the payload's `s2i_bot` member (bot/forges/fields.py), which no forge sends:
only the named build, and a note ("manual trigger") the pending statuses show. Path filters
do not apply (no changed paths: the head is built whatever it changed).

The trust rules are the repository's: a trigger is an operator's action, but what gets built
and pushed where is still what `.s2i.yaml` says for that ref. A branch builds the builds whose
`branches` match it, a tag those whose `tags` match it; a `name` must be one of them. So a
trigger cannot push a feature branch to a tag the repository reserves for `main`. Everything
is checked before anything is stored, and each refusal says what was wrong (TriggerError:
400 a malformed request, 404 an unknown forge, repository, branch or tag, 422 nothing to
build). Every trigger is a new delivery (a random id): a scheduled rebuild of an unchanged
head builds again, which is the point of it.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from bot.catch_up import push_webhook
from bot.events import BranchPush, Event, EventKind, Repo
from bot.forges.base import FileTooLarge, ForgeApi, UnknownRepository, WebhookParser
from bot.forges.fields import PayloadError, git_ref, repo_path
from bot.planner import triggered
from bot.repo_config import FILE_NAME, RepoConfigError, parse_repo_config
from bot.store import Delivery, Store

log = logging.getLogger(__name__)

ACTOR = "s2i-bot-trigger"  # who pushed, as a trigger's deliveries say
NOTE = "manual trigger"  # shown with its builds' pending statuses
MAX_BODY = 64 * 1024  # a trigger's JSON is a few names


class TriggerError(Exception):
    """A trigger refused, with the HTTP status that says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class TriggerRequest:
    repo: str  # owner/name (GitLab: the project's full path)
    ref: str | None = None  # a branch or tag name, or a full refs/heads/, refs/tags/ ref
    name: str | None = None  # one build of .s2i.yaml
    forge: str | None = None  # needed only when both forges are configured


@dataclass(frozen=True, slots=True)
class Triggered:
    delivery: Delivery
    forge: str
    repo: str
    ref: str  # the full ref built
    sha: str
    builds: tuple[str, ...]  # the builds of .s2i.yaml it starts (empty: detected ones)


def parse_request(body: bytes) -> TriggerRequest:
    """`{"repo": "owner/name", "ref": "main", "name": "web", "forge": "github"}` (only repo
    required); TriggerError 400 naming the field that is wrong. Pure."""
    try:
        payload: Any = json.loads(body)
    except ValueError:
        raise TriggerError(400, 'the body is not JSON: send {"repo": "owner/name"}') from None
    if not isinstance(payload, dict):
        raise TriggerError(400, 'the body is not a JSON object: send {"repo": "owner/name"}')
    unknown = sorted(set(payload) - {"repo", "ref", "name", "forge"})
    if unknown:
        raise TriggerError(400, f"unknown field(s) {', '.join(unknown)}: "
                                "only repo, ref, name and forge are read")  # fmt: skip
    values: dict[str, str | None] = {}
    for key in ("repo", "ref", "name", "forge"):
        value = payload.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise TriggerError(400, f"'{key}' must be a non-empty string")
        values[key] = value.strip() if isinstance(value, str) else None
    repo = values["repo"]
    if repo is None:
        raise TriggerError(400, "'repo' is missing: name the repository as owner/name")
    try:
        repo_path(repo, "repo")
    except PayloadError:
        raise TriggerError(400, f"'repo' {repo!r} is not a repository's owner/name") from None
    return TriggerRequest(repo, values["ref"], values["name"], values["forge"])


def _ref_label(kind: EventKind, name: str) -> str:
    return f"{'tag' if kind is EventKind.TAG else 'branch'} {name}"


@dataclass(frozen=True)
class ManualTrigger:
    """`trigger` (in a forge thread): check the request against the forge and `.s2i.yaml`,
    store the push delivery; the caller hands it to the workers (Bot.accept)."""

    _store: Store
    _forges: Mapping[str, ForgeApi]
    _webhooks: Mapping[str, WebhookParser]
    _templates: Collection[str]
    _autodetect: bool  # without .s2i.yaml, the pipeline may detect a template

    def trigger(self, request: TriggerRequest) -> Triggered:
        forge = self._forge(request.forge)
        api = self._forges[forge]
        try:
            repo = api.repository(request.repo, None)
        except UnknownRepository as exc:
            raise TriggerError(404, str(exc)) from None
        kind, name, sha = self._head(api, repo.full_name, request.ref)
        builds = self._builds(api, repo, kind, name, sha, request.name)
        delivery = self._store_push(forge, repo, kind, name, sha, request.name)
        ref = f"refs/{'tags' if kind is EventKind.TAG else 'heads'}/{name}"
        log.info(
            "manual trigger of %s %s %s at %s: delivery %s", forge, repo.full_name, ref,
            sha[:12], delivery.id,
        )  # fmt: skip
        return Triggered(delivery, forge, repo.full_name, ref, sha, builds)

    def _forge(self, asked: str | None) -> str:
        if asked is not None:
            if asked not in self._forges:
                configured = ", ".join(sorted(self._forges)) or "none"
                raise TriggerError(404, f"no forge '{asked}' is configured ({configured})")
            return asked
        if not self._forges:
            raise TriggerError(404, "no forge is configured")
        if len(self._forges) > 1:
            configured = " and ".join(sorted(self._forges))
            raise TriggerError(400, f"{configured} are configured: name one in 'forge'")
        return next(iter(self._forges))

    def _head(self, api: ForgeApi, repo: str, ref: str | None) -> tuple[EventKind, str, str]:
        """The branch or tag asked for (the default branch when none), and its head."""
        if ref is None:
            ref = f"refs/heads/{api.default_branch(repo)}"
        kinds: tuple[EventKind, ...] = (EventKind.PUSH, EventKind.TAG)
        name = ref
        for prefix, kind in (("refs/heads/", EventKind.PUSH), ("refs/tags/", EventKind.TAG)):
            if ref.startswith(prefix):
                kinds, name = (kind,), ref.removeprefix(prefix)
        try:
            git_ref(f"refs/heads/{name}", "ref")
        except PayloadError:
            raise TriggerError(400, f"'ref' {ref!r} is not a branch or tag name") from None
        found = {
            kind: head
            for kind in kinds
            if (head := api.branch_head(repo, name) if kind is EventKind.PUSH
                else api.tag_head(repo, name)) is not None
        }  # fmt: skip
        if not found:
            what = " or ".join("tag" if k is EventKind.TAG else "branch" for k in kinds)
            raise TriggerError(404, f"{repo} has no {what} '{name}'")
        if len(found) > 1:
            raise TriggerError(400, f"{repo} has a branch and a tag named '{name}': say "
                                    f"refs/heads/{name} or refs/tags/{name}")  # fmt: skip
        ((kind, sha),) = found.items()
        return kind, name, sha

    def _builds(
        self, api: ForgeApi, repo: Repo, kind: EventKind, name: str, sha: str, only: str | None
    ) -> tuple[str, ...]:
        """The builds of `.s2i.yaml` at sha that this ref triggers (only `only`, when
        given); TriggerError when there are none."""
        at = f"{FILE_NAME} at {sha[:12]}"
        try:
            text = api.read_file(repo.full_name, FILE_NAME, sha)
        except FileTooLarge as exc:
            raise TriggerError(422, f"{at}: {exc}") from None
        if text is None:
            if self._autodetect and only is None:
                return ()  # the pipeline detects the template, as for a push
            raise TriggerError(422, f"{repo.full_name} has no {at}: nothing to build")
        try:
            config = parse_repo_config(text, templates=self._templates)
        except RepoConfigError as exc:
            raise TriggerError(422, f"{at} is not valid: {exc.errors[0]}") from None
        event = Event(kind, repo, f"refs/{'tags' if kind is EventKind.TAG else 'heads'}/{name}",
                      sha, ACTOR, "")  # fmt: skip
        label = _ref_label(kind, name)
        if only is not None:
            entry = next((b for b in config.builds if b.name == only), None)
            if entry is None:
                names = ", ".join(b.name for b in config.builds)
                raise TriggerError(422, f"{at} has no build named '{only}' (its builds: {names})")
            if not triggered(entry, event):
                globs = entry.triggers.tags if kind is EventKind.TAG else entry.triggers.branches
                said = ", ".join(globs) or "none"
                raise TriggerError(422, f"build '{only}' does not build {label}: its "
                                        f"{'tags' if kind is EventKind.TAG else 'branches'} "
                                        f"in {at} are {said}")  # fmt: skip
            return (only,)
        builds = tuple(b.name for b in config.builds if triggered(b, event))
        if not builds:
            raise TriggerError(422, f"no build in {at} builds {label}")
        return builds

    def _store_push(
        self, forge: str, repo: Repo, kind: EventKind, name: str, sha: str, only: str | None
    ) -> Delivery:
        delivery_id = f"trigger-{uuid.uuid4()}"
        push = BranchPush(
            repo, name, sha, sha, delivery_id, ACTOR, None, tag=kind is EventKind.TAG,
            only_builds=(only,) if only is not None else None, note=NOTE,
        )  # fmt: skip
        headers, body = push_webhook(forge, push)
        webhooks = self._webhooks[forge]
        headers = webhooks.vouch(headers, body)
        delivery = Delivery(delivery_id, forge, webhooks.event_name(headers), headers, body)
        self._store.add_delivery(delivery)
        return delivery
