"""bot/catch_up.py: which branch heads the bot missed (pure), the push deliveries made for
them (each forge's parser takes them), and passes against a real store (SQLite, and
PostgreSQL with the e2e half of `database_url`)."""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import pytest

from bot.build_record import BuildState
from bot.catch_up import BranchBuilt, CatchUp, branches_built, catch_up_id, missed_head
from bot.events import BranchPush, Event, EventKind, Repo
from bot.forges import github_webhooks, gitlab_webhooks
from bot.forges.base import WebhookParser
from bot.store import Delivery, Store
from tests.fakes.forge import RecordingForge
from tests.support.databases import database_url

__all__ = ["database_url"]  # the fixture

SECRET = "a webhook secret"
OLD, NEW, NEWER = "1" * 40, "2" * 40, "3" * 40


def test_a_head_is_missed_when_the_branch_points_elsewhere_than_the_last_build() -> None:
    built = BranchBuilt("github", "acme/app", "main", OLD)
    assert missed_head(built, OLD) is None  # built already
    assert missed_head(built, None) is None  # the branch is gone
    missed = missed_head(built, NEW)
    assert missed is not None and missed.head == NEW
    assert missed.delivery_id == catch_up_id("github", "acme/app", "main", NEW)
    assert catch_up_id("github", "acme/app", "main", NEW) != catch_up_id(
        "gitlab", "acme/app", "main", NEW
    )


@pytest.mark.parametrize(
    ("forge", "module"), [("github", github_webhooks), ("gitlab", gitlab_webhooks)]
)
def test_each_forges_push_delivery_is_read_by_its_parser_with_its_changed_paths(
    forge: str, module: ModuleType
) -> None:
    repo = Repo(forge, "group/app", html_url="https://forge/group/app", id=42)
    push = module.push_delivery
    webhooks: WebhookParser = getattr(module, f"{forge}_webhooks")(SECRET)
    for paths in (None, ("docs/a.md", "src/b.go"), ()):
        headers, body = push(
            BranchPush(repo, "release/1.x", OLD, NEW, "catch-up-x", "s2i-bot", paths)
        )
        event = webhooks.parse(webhooks.vouch(headers, body), body)
        assert isinstance(event, Event)
        assert (event.kind, event.ref, event.sha, event.delivery_id) == (
            EventKind.PUSH, "refs/heads/release/1.x", NEW, "catch-up-x",
        )  # fmt: skip
        assert (event.repo.full_name, event.repo.id) == ("group/app", 42)
        assert event.changed_paths == paths  # None: unknown, so path filters build


def built_on(
    store: Store, forge: str, repo: str, ref_key: str, sha: str, pr: int | None = None
) -> None:
    delivery = f"{forge}-{repo}-{ref_key}-{sha}"
    store.add_delivery(Delivery(delivery, forge, "push", {}, b"{}"))
    store.finish_delivery(delivery, "done")
    store.add_build(
        delivery_id=delivery, name="web", forge=forge, repo=repo, sha=sha, spec=None,
        ref_key=ref_key, pr=pr, state=BuildState.FAILED,
    )  # fmt: skip


def test_only_branches_of_configured_forges_are_checked(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/db.sqlite")
    built_on(store, "github", "acme/app", "refs/heads/main", OLD)
    built_on(store, "github", "acme/app", "refs/heads/main", NEW)  # the newest counts
    built_on(store, "github", "acme/app", "refs/tags/v1", OLD)
    built_on(store, "github", "acme/app", "pr/3", OLD, pr=3)
    built_on(store, "gitlab", "group/app", "refs/heads/dev", OLD)
    branches = branches_built(store.last_branch_builds(10), {"github": object()})
    assert branches == [BranchBuilt("github", "acme/app", "main", NEW)]


def passes(store: Store, forge: RecordingForge, per_pass: int) -> CatchUp:
    return CatchUp(
        store, {"github": forge}, {"github": github_webhooks.github_webhooks(SECRET)}, per_pass
    )


def finish_all(store: Store) -> None:
    for delivery in store.unprocessed_deliveries():
        store.finish_delivery(delivery.id, "done")


def test_a_missed_head_becomes_one_push_delivery_whatever_passes_run(database_url: str) -> None:
    store = Store(database_url)
    github = RecordingForge(ids={"acme/app": 42})
    built_on(store, "github", "acme/app", "refs/heads/main", OLD)
    github.heads[("acme/app", "main")] = OLD
    catch_up = passes(store, github, per_pass=5)
    assert catch_up.catch_up() == []  # nothing missed

    github.heads[("acme/app", "main")] = NEW
    github.changes[("acme/app", OLD, NEW)] = ("docs/readme.md",)  # the forge's compare
    (delivery,) = catch_up.catch_up()
    assert delivery.id == catch_up_id("github", "acme/app", "main", NEW)
    event = github_webhooks.github_webhooks(SECRET).parse(delivery.headers, delivery.body)
    assert isinstance(event, Event) and (event.sha, event.repo.id) == (NEW, 42)
    assert event.changed_paths == ("docs/readme.md",)  # path filters decide as for a push
    assert catch_up.catch_up() == []  # waits: the push is not processed yet
    finish_all(store)
    assert catch_up.catch_up() == []  # its delivery is stored: never made twice
    store.close()


def test_a_pass_catches_up_at_most_per_pass_heads_and_the_next_the_rest(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path}/db.sqlite")
    github = RecordingForge(ids={"acme/app": 42})
    for branch in ("a", "b", "c"):
        built_on(store, "github", "acme/app", f"refs/heads/{branch}", OLD)
        github.heads[("acme/app", branch)] = NEWER
    catch_up = passes(store, github, per_pass=2)
    first = catch_up.catch_up()
    finish_all(store)
    second = catch_up.catch_up()
    finish_all(store)
    assert (len(first), len(second), catch_up.catch_up()) == (2, 1, [])
    assert passes(store, github, per_pass=0).catch_up() == []  # 0: no catch-up
