"""Catch-up: a branch head no delivery told the bot about is built as a push would be.

Webhooks get lost (the bot was down, a proxy dropped one, GitLab gave up on the hook), and
only GitHub keeps a log to recover them from (bot/missed_deliveries.py). So, on start and
every `missed_delivery_interval` seconds, for both forges, the bot compares the head of each
branch it builds with the commit it last built for that branch, and builds what it missed.

Which branches: the ones the bot has built, as the store knows them (the newest build of each
branch, any state, a failed `.s2i.yaml` included), the most recently built first, at most
BRANCHES_PER_PASS: that is, the repositories the bot builds and the branches their
`.s2i.yaml` watch, as far as the bot has seen them. A branch it never built (created while
the bot was down) is not known to it: on GitHub the recovered push delivery builds it. Each
branch checked is one API call.

What: when the head is not the commit last built, a push delivery for the head is stored
(GitHub's `push` or GitLab's `Push Hook`, made from the API's answers and sealed with the
webhook secret like a recovered delivery) and the workers process it as any push: the
`.s2i.yaml` at that commit, its triggers, its path filters (the files changed since the commit
last built, from the forge's compare API: so a push the bot did see, which built nothing
because only filtered-out files changed, builds nothing here either), the builds and their
statuses. Its id is derived
from the forge, repository, branch and head, so a head is caught up once, whichever pass or
replica sees it first; at most `catch_up_per_pass` per pass, the rest wait for the next one.

A pass waits while stored deliveries wait to be processed: they may be the very pushes of
these heads (recovered, or stored just before a restart), and building a head twice is what
the store's order of events prevents.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bot.build_record import Build
from bot.events import BranchPush
from bot.forges import github_webhooks, gitlab_webhooks
from bot.forges.base import ForgeApi, ForgeError, WebhookParser
from bot.store import Delivery, Store

log = logging.getLogger(__name__)

BRANCHES_PER_PASS = 100  # branch heads asked for per pass at most (one API call each)
BRANCH_PREFIX = "refs/heads/"
ACTOR = "s2i-bot-catch-up"  # who pushed, as the catch-up's deliveries say (nobody it knows)
# Each forge's push webhook (headers, body) as its parser reads one.
PushDelivery = Callable[[BranchPush], tuple[dict[str, str], bytes]]
_PUSHES: dict[str, tuple[str, PushDelivery]] = {
    "github": ("push", github_webhooks.push_delivery),
    "gitlab": ("Push Hook", gitlab_webhooks.push_delivery),
}
_IDS = uuid.UUID("6f1d2c1e-3b8a-4f5e-9c57-2a7d1e0b5c43")  # the namespace of catch-up ids


@dataclass(frozen=True, slots=True)
class BranchBuilt:
    """A branch the bot built, and the commit it built last."""

    forge: str
    repo: str
    branch: str
    sha: str


@dataclass(frozen=True, slots=True)
class MissedHead:
    built: BranchBuilt
    head: str  # what the branch points at now

    @property
    def delivery_id(self) -> str:
        return catch_up_id(self.built.forge, self.built.repo, self.built.branch, self.head)


def push_webhook(forge: str, push: BranchPush) -> tuple[dict[str, str], bytes]:
    """The forge's push webhook (headers, body; not sealed yet) for a push no webhook told:
    the catch-up's, and a manual trigger's (bot/manual_trigger.py)."""
    return _PUSHES[forge][1](push)


def catch_up_id(forge: str, repo: str, branch: str, head: str) -> str:
    """The id of the catch-up delivery for a head: the same in every pass and replica."""
    return f"catch-up-{uuid.uuid5(_IDS, f'{forge}:{repo}:{branch}:{head}')}"


def branches_built(builds: list[Build], forges: Mapping[str, object]) -> list[BranchBuilt]:
    """The branches to check, from the newest build of each (Store.last_branch_builds), on
    the forges that are configured."""
    return [
        BranchBuilt(b.forge, b.repo, b.ref_key.removeprefix(BRANCH_PREFIX), b.sha)
        for b in builds
        if b.forge in forges and b.forge in _PUSHES and b.ref_key.startswith(BRANCH_PREFIX)
    ]


def missed_head(built: BranchBuilt, head: str | None) -> MissedHead | None:
    """A head the bot has not built: the branch exists and points elsewhere than the commit
    last built (moved on, or reset: either way a push the bot did not see)."""
    if head is None or head == built.sha:
        return None
    return MissedHead(built, head)


@dataclass(frozen=True)
class CatchUp:
    """One pass at a time (`catch_up`, in a forge thread): find missed heads, store a push
    delivery for each; the orchestrator hands what was stored to its workers."""

    _store: Store
    _forges: Mapping[str, ForgeApi]
    _webhooks: Mapping[str, WebhookParser]
    _per_pass: int

    def catch_up(self) -> list[Delivery]:
        """One pass; the push deliveries it stored that the workers must process."""
        if self._per_pass <= 0:
            return []
        waiting = self._store.backlog()["unprocessed_deliveries"]
        if waiting:
            log.info("catch-up waits for the %d stored deliveries not processed yet", waiting)
            return []
        branches = branches_built(self._store.last_branch_builds(BRANCHES_PER_PASS), self._forges)
        found: list[Delivery] = []
        for built in branches:
            if len(found) >= self._per_pass:
                log.info("catch-up: %d branch heads built this pass; more wait", len(found))
                break
            delivery = self._check(built)
            if delivery is not None:
                found.append(delivery)
        return found

    def _check(self, built: BranchBuilt) -> Delivery | None:
        api = self._forges[built.forge]
        where = f"{built.forge} {built.repo} {built.branch}"
        try:
            missed = missed_head(built, api.branch_head(built.repo, built.branch))
            if missed is None or self._store.has_delivery(missed.delivery_id):
                return None
            repo = api.repository(built.repo, None)  # its id and web page, for the payload
            # What changed since the commit built, so path filters decide as for a push.
            paths = api.changed_paths(built.repo, built.sha, missed.head)
        except ForgeError as exc:  # UnknownRepository too: it is gone, or the bot lost access
            log.warning("catch-up of %s: %s", where, exc)
            return None
        event, push = _PUSHES[built.forge]
        headers, body = push(
            BranchPush(repo, built.branch, built.sha, missed.head, missed.delivery_id, ACTOR, paths)
        )
        headers = self._webhooks[built.forge].vouch(headers, body)
        delivery = Delivery(missed.delivery_id, built.forge, event, headers, body)
        if not self._store.add_delivery(delivery):
            return None  # another replica stored it meanwhile
        log.info(
            "catch-up of %s: built %s last, the branch is at %s: building it as a push "
            "(delivery %s)", where, built.sha[:12], missed.head[:12], delivery.id,
        )  # fmt: skip
        return delivery
