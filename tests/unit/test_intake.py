"""Intake of pushes, tags and releases, against the store and an in-memory forge."""

from dataclasses import replace
from pathlib import Path

import pytest

from bot.build_logs import LogStore
from bot.build_record import BuildState
from bot.build_result import BuildResult
from bot.build_secrets import SecretGrant, SecretPolicy
from bot.events import Event, EventKind, Repo
from bot.forges.base import ReleaseAsset
from bot.intake import Intake
from bot.store import Delivery, Store
from bot.templates import Template
from tests.fakes.forge import RecordingForge

REPO = Repo("github", "acme/app", "http://forge/acme/app.git")
SHA, SHA2 = "1" * 40, "2" * 40
CONFIG = """\
builds:
  - name: web
    template: go
    image: reg/acme/web
    triggers: {branches: [main]}
  - name: cli
    template: binary
    image: reg/acme/cli
    binary: {release_asset: "cli-*-linux.tar.gz"}
    triggers: {releases: true}
  - name: tool
    template: binary
    image: reg/acme/tool
    binary: {url: "https://downloads.example.com/tool/v2/tool?x=1"}
    triggers: {branches: [main]}
"""


@pytest.fixture
def world(tmp_path: Path) -> tuple[Store, RecordingForge, Intake]:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    forge = RecordingForge()
    for sha in (SHA, SHA2):
        forge.files[("acme/app", ".s2i.yaml", sha)] = CONFIG
    templates = {n: Template(name=n, builder=f"s2i-bot/{n}") for n in ("go", "binary")}
    logs = LogStore(store, tmp_path)
    return store, forge, Intake(store, {"github": forge}, templates, logs, None)


def delivery(store: Store, name: str) -> Delivery:
    d = Delivery(name, "github", "x", {}, b"{}")
    store.add_delivery(d)
    return d


def test_a_newer_push_supersedes_the_unfinished_build_of_the_same_branch(
    world: tuple[Store, RecordingForge, Intake],
) -> None:
    store, _, intake = world
    first = intake.builds_for(
        delivery(store, "d1"), Event(EventKind.PUSH, REPO, "refs/heads/main", SHA, "a", "d1")
    )
    second = intake.builds_for(
        delivery(store, "d2"), Event(EventKind.PUSH, REPO, "refs/heads/main", SHA2, "a", "d2")
    )
    by_name = {b.name: b for b in first.dispatch}
    assert sorted(by_name) == ["tool", "web"]
    assert sorted((b.name, r) for b, r in second.cancel) == [
        ("tool", "superseded by 2222222"),
        ("web", "superseded by 2222222"),
    ]
    tool = by_name["tool"].spec
    assert tool is not None and tool.source.binary_url.startswith("https://downloads.example.com")
    assert tool.source.binary_name == "tool" and not tool.source.binary_auth


def test_a_second_delivery_of_the_same_head_neither_builds_again_nor_cancels_the_first(
    world: tuple[Store, RecordingForge, Intake],
) -> None:
    # The push and the catch-up's delivery of the same head (bot/catch_up.py), two ids.
    store, _, intake = world
    first = intake.builds_for(
        delivery(store, "d1"), Event(EventKind.PUSH, REPO, "refs/heads/main", SHA, "a", "d1")
    )
    again = intake.builds_for(
        delivery(store, "d2"), Event(EventKind.PUSH, REPO, "refs/heads/main", SHA, "a", "d2")
    )
    assert sorted(b.name for b in first.dispatch) == ["tool", "web"]
    assert again.dispatch == [] and again.cancel == []
    assert again.outcome == "0 build(s) planned; already building 1111111: web, tool"
    # Once that build has ended, the same head builds again (a re-delivery after a failure).
    for build in first.dispatch:
        store.finish(build.id, BuildResult(state="failed", reason="x"))
    third = intake.builds_for(
        delivery(store, "d3"), Event(EventKind.PUSH, REPO, "refs/heads/main", SHA, "a", "d3")
    )
    assert sorted(b.name for b in third.dispatch) == ["tool", "web"]


def test_a_release_builds_from_the_asset_matching_the_glob(
    world: tuple[Store, RecordingForge, Intake],
) -> None:
    store, forge, intake = world
    forge.tags[("acme/app", "v1.2.0")] = SHA
    forge.releases[("acme/app", 9)] = [
        ReleaseAsset("checksums.txt", "http://api/assets/1"),
        ReleaseAsset("cli-1.2.0-linux.tar.gz", "http://api/assets/2"),
    ]
    event = Event(EventKind.RELEASE, REPO, "refs/tags/v1.2.0", "", "a", "d3", release_id=9)
    (build,) = intake.builds_for(delivery(store, "d3"), event).dispatch
    assert build.sha == SHA and build.spec is not None
    assert build.spec.outputs == ["reg/acme/cli:1.2.0"]
    assert build.spec.source.binary_url == "http://api/assets/2"
    assert build.spec.source.binary_name == "cli-1.2.0-linux.tar.gz"
    assert build.spec.source.binary_auth


def test_a_release_without_a_matching_asset_fails_naming_what_it_has(
    world: tuple[Store, RecordingForge, Intake],
) -> None:
    store, forge, intake = world
    forge.tags[("acme/app", "v1.3.0")] = SHA
    forge.releases[("acme/app", 10)] = [ReleaseAsset("cli-1.3.0-darwin.zip", "http://api/assets/3")]
    event = Event(EventKind.RELEASE, REPO, "refs/tags/v1.3.0", "", "a", "d4", release_id=10)
    actions = intake.builds_for(delivery(store, "d4"), event)
    assert actions.dispatch == []
    (failed,) = actions.report
    assert failed.state is BuildState.FAILED
    assert failed.reason == (
        "no asset of release v1.3.0 matches 'cli-*-linux.tar.gz' (assets: cli-1.3.0-darwin.zip)"
    )


def test_without_a_config_an_opt_in_detects_the_template_and_says_so(tmp_path: Path) -> None:
    from bot.settings import AutodetectSettings

    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    forge = RecordingForge(
        files={("acme/app", "package.json", SHA): "{}", ("acme/app", "index.html", SHA): ""}
    )
    templates = {n: Template(name=n, builder=f"s2i-bot/{n}") for n in ("nodejs", "static")}
    detect = AutodetectSettings(enabled=True, image_prefix="reg/auto")
    intake = Intake(store, {"github": forge}, templates, LogStore(store, tmp_path), None, detect)
    event = Event(EventKind.PUSH, REPO, "refs/heads/main", SHA, "a", "d5")
    actions = intake.builds_for(delivery(store, "d5"), event)
    (build,) = actions.dispatch
    assert build.name == "nodejs" and build.spec is not None
    assert build.spec.outputs == ["reg/auto/acme/app:main"]
    assert build.spec.note == "template nodejs, detected from package.json"
    assert actions.outcome == "template nodejs, detected from package.json: 1 build(s) planned"
    off = Intake(store, {"github": forge}, templates, LogStore(store, tmp_path), None)
    assert off.builds_for(delivery(store, "d6"), replace(event, delivery_id="d6")).dispatch == []


def test_a_rebuild_on_a_new_base_builds_only_while_its_commit_is_the_refs_newest(
    world: tuple[Store, RecordingForge, Intake],
) -> None:
    """Found stale, then a push came: its build runs (or succeeded) on the new base already,
    and the rebuild would move the branch's tags back to the older commit."""
    store, _, intake = world
    on = "reg/s2i-bot/go:latest@sha256:" + "2" * 64

    def rebuild(delivery_id: str) -> list[str]:
        event = Event(EventKind.PUSH, REPO, "refs/heads/main", SHA, "r", delivery_id,
                      only_builds=("web",), rebuilt_on=on)  # fmt: skip
        actions = intake.builds_for(delivery(store, delivery_id), event, names=("web",))
        return [b.name for b in actions.dispatch]

    def push(delivery_id: str, sha: str) -> int:
        event = Event(EventKind.PUSH, REPO, "refs/heads/main", sha, "a", delivery_id)
        (web,) = [b for b in intake.builds_for(delivery(store, delivery_id), event).dispatch
                  if b.name == "web"]  # fmt: skip
        return web.id

    ok = BuildResult(state="succeeded", digest="sha256:" + "9" * 64)
    store.finish(push("d1", SHA), ok)
    first = rebuild("r1")
    assert first == ["web"]
    (rebuilt,) = store.builds_of_delivery("r1")
    assert rebuilt.spec is not None and rebuilt.spec.rebuilt_on == on
    store.finish(rebuilt.id, ok)
    newer = push("d2", SHA2)
    assert rebuild("r2") == []  # a build of SHA2 runs
    store.finish(newer, ok)
    assert rebuild("r3") == []  # SHA2 is what main's tags show now


def test_a_build_secret_the_repository_may_not_use_fails_the_config_naming_it(
    tmp_path: Path,
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    forge = RecordingForge()
    forge.files[("acme/app", ".s2i.yaml", SHA)] = CONFIG.split("  - name: cli")[0] + (
        "    secrets: [npmrc]\n"
    )
    templates = {"go": Template(name="go", builder="s2i-bot/go")}
    secrets = SecretPolicy([SecretGrant("npmrc", ("platform/*",))])
    intake = Intake(store, {"github": forge}, templates, LogStore(store, tmp_path), None,
                    secrets=secrets)  # fmt: skip
    actions = intake.builds_for(
        delivery(store, "d1"), Event(EventKind.PUSH, REPO, "refs/heads/main", SHA, "a", "d1")
    )
    (build,) = actions.report
    assert actions.dispatch == [] and build.state is BuildState.FAILED
    assert build.reason == (
        ".s2i.yaml line 6, column 15: repository acme/app may not use build secret 'npmrc' "
        "(the operator lets platform/* use it: build_secrets.npmrc.repositories)"
    )
