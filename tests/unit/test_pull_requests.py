"""Pull request handling and commands, against the store and an in-memory forge."""

from dataclasses import replace
from pathlib import Path

import pytest

from bot.build_logs import LogStore
from bot.build_record import BuildState
from bot.build_secrets import SecretGrant, SecretPolicy
from bot.commands import HELP
from bot.events import Comment, Event, EventKind, PullAction, PullRequest, Repo
from bot.intake import Intake
from bot.pull_requests import PullRequests
from bot.reporter import Reporter
from bot.store import Delivery, Store
from bot.templates import Template
from tests.fakes.forge import RecordingForge

REPO = Repo("github", "acme/app", "http://forge/acme/app.git")
BASE, HEAD, HEAD2 = "b" * 40, "1" * 40, "2" * 40
CONFIG = """\
builds:
  - name: web
    template: go
    image: reg/acme/{image}
    triggers: {{branches: [main], pull_requests: true}}
"""


class World:
    def __init__(self, tmp_path: Path) -> None:
        self.store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
        self.forge = RecordingForge(writers={"maintainer"})
        templates = {"go": Template(name="go", builder="s2i-bot/go")}
        logs = LogStore(self.store, tmp_path)
        secrets = SecretPolicy([SecretGrant("npmrc", ("acme/*",), "NPM_CONFIG_USERCONFIG")])
        intake = Intake(self.store, {"github": self.forge}, templates, logs, None, secrets=secrets)
        self.pulls = PullRequests(self.store, {"github": self.forge}, intake, build_drafts=False)
        self.reporter = Reporter(self.store, {"github": self.forge}, "http://bot")
        self.deliveries = 0
        for sha, image in ((BASE, "base"), (HEAD, "head"), (HEAD2, "head")):
            self.forge.files[("acme/app", ".s2i.yaml", sha)] = CONFIG.format(image=image)

    def delivery(self) -> Delivery:
        self.deliveries += 1
        delivery = Delivery(f"d{self.deliveries}", "github", "x", {}, b"{}")
        self.store.add_delivery(delivery)
        return delivery

    def pull(self, author: str, *, fork: bool, head: str = HEAD) -> PullRequest:
        pull = PullRequest(7, head, "fix", "main", author, fork, base_sha=BASE,
                           fetch_ref="refs/pull/7/head")  # fmt: skip
        self.forge.pulls[("acme/app", 7)] = pull
        return pull

    def publish(self) -> str:
        """Send the PR comment as the outbox would; the body the forge now shows."""
        self.reporter.send("pull_comment", {"forge": "github", "repo": "acme/app", "pr": 7})
        comment_id = self.store.pull_comment("github", "acme/app", 7).comment_id
        assert comment_id is not None
        return self.forge.comments[comment_id][2]

    def pull_event(self, pull: PullRequest, action: PullAction = PullAction.OPENED) -> Event:
        return Event(EventKind.PULL_REQUEST, REPO, pull.fetch_ref, pull.head_sha, pull.author,
                     "x", pull=pull, pull_action=action)  # fmt: skip

    def comment(self, body: str, author: str) -> Event:
        return Event(EventKind.COMMENT, REPO, "", "", author, "x",
                     comment=Comment(1, body, author), pr_number=7)  # fmt: skip


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


def test_a_trusted_pull_request_builds_its_head_into_the_pr_tag(world: World) -> None:
    pull = world.pull("maintainer", fork=False)
    actions = world.pulls.handle(world.delivery(), world.pull_event(pull))
    (build,) = actions.dispatch
    assert build.spec is not None and build.spec.outputs == ["reg/acme/head:pr-7"]
    assert (build.sha, build.pr, build.ref_key) == (HEAD, 7, "pr/7")


def test_a_fork_waits_for_ok_to_test_from_a_writer_bound_to_the_head(world: World) -> None:
    pull = world.pull("mallory", fork=True)
    actions = world.pulls.handle(world.delivery(), world.pull_event(pull))
    assert actions.dispatch == [] and actions.outcome == "waiting for /s2i ok-to-test"
    assert "comes from a fork" in world.store.pull_comment("github", "acme/app", 7).notice
    assert "(for commit 1111111)" in world.publish()

    refused = world.pulls.handle(world.delivery(), world.comment("/s2i ok-to-test", "mallory"))
    assert refused.dispatch == []
    ((_, _, _, reply),) = refused.replies
    assert reply.startswith("@mallory: only users with write access")

    approved = world.pulls.handle(world.delivery(), world.comment("/s2i ok-to-test", "maintainer"))
    (build,) = approved.dispatch
    # The fork's own .s2i.yaml could aim anywhere: the base's is used.
    assert build.spec is not None and build.spec.outputs == ["reg/acme/base:pr-7"]
    assert world.store.pull_comment("github", "acme/app", 7).notice == ""

    pushed = world.pull("mallory", fork=True, head=HEAD2)
    again = world.pulls.handle(world.delivery(), world.pull_event(pushed, PullAction.CHANGED))
    assert again.dispatch == [] and again.outcome == "waiting for /s2i ok-to-test"


def test_a_new_push_to_the_pull_request_supersedes_its_running_build(world: World) -> None:
    first = world.pulls.handle(
        world.delivery(), world.pull_event(world.pull("maintainer", fork=False))
    )
    pushed = world.pull("maintainer", fork=False, head=HEAD2)
    second = world.pulls.handle(world.delivery(), world.pull_event(pushed, PullAction.CHANGED))
    assert second.cancel == [(first.dispatch[0], "superseded by 2222222")]


def test_closing_cancels_and_commands_cancel_by_name(world: World) -> None:
    pull = world.pull("maintainer", fork=False)
    (build,) = world.pulls.handle(world.delivery(), world.pull_event(pull)).dispatch
    cancel = world.pulls.handle(world.delivery(), world.comment("/s2i cancel web", "maintainer"))
    assert cancel.cancel == [(build, "cancelled by @maintainer")]
    closed = world.pulls.handle(world.delivery(), world.pull_event(pull, PullAction.CLOSED))
    assert closed.cancel == [(build, "pull request closed")]


def test_help_unknown_commands_and_unknown_build_names_get_replies(world: World) -> None:
    world.pull("maintainer", fork=False)
    actions = world.pulls.handle(
        world.delivery(), world.comment("/s2i help\n/s2i deploy\n/s2i rebuild nope", "maintainer")
    )
    replies = [reply for *_, reply in actions.replies]
    assert replies[0] == HELP
    assert replies[1].startswith("@maintainer: unknown command `/s2i deploy`.")
    assert replies[2] == "@maintainer: no build named `nope` runs for pull requests."
    assert actions.dispatch == []


def test_drafts_are_skipped_unless_configured(world: World) -> None:
    event = world.pull_event(replace(world.pull("maintainer", fork=False), draft=True))
    assert world.pulls.handle(world.delivery(), event).outcome == "draft pull request: not built"


def test_ok_to_test_after_a_push_builds_nothing_and_says_the_head_moved(world: World) -> None:
    world.pulls.handle(world.delivery(), world.pull_event(world.pull("mallory", fork=True)))
    world.publish()  # the notice names 1111111
    world.pull("mallory", fork=True, head=HEAD2)  # pushed; its webhook not handled yet

    moved = world.pulls.handle(world.delivery(), world.comment("/s2i ok-to-test", "maintainer"))
    assert moved.dispatch == [] and moved.report == []
    ((_, _, _, reply),) = moved.replies
    assert reply == (
        "@maintainer: the head moved from 1111111 to 2222222 since the notice; nothing was "
        "built; comment `/s2i ok-to-test` again to build 2222222."
    )
    assert world.store.approved_by("github", "acme/app", 7, HEAD2) is None
    assert world.store.approved_by("github", "acme/app", 7, HEAD) is None
    assert "(for commit 2222222)" in world.publish()

    again = world.pulls.handle(world.delivery(), world.comment("/s2i ok-to-test", "maintainer"))
    (build,) = again.dispatch
    assert build.sha == HEAD2
    assert world.store.approved_by("github", "acme/app", 7, HEAD2) == "maintainer"


def test_a_notice_published_after_the_comment_came_in_approves_nothing(world: World) -> None:
    world.pulls.handle(world.delivery(), world.pull_event(world.pull("mallory", fork=True)))
    comment = world.delivery()  # received before the forge showed any notice
    world.publish()
    actions = world.pulls.handle(comment, world.comment("/s2i rebuild", "maintainer"))
    assert actions.dispatch == []
    ((_, _, _, reply),) = actions.replies
    assert reply.startswith("@maintainer: no notice named a commit to approve when you commented")
    assert world.store.approved_by("github", "acme/app", 7, HEAD) is None


def test_a_comment_by_the_bots_own_account_does_nothing(world: World) -> None:
    world.pull("maintainer", fork=False)
    world.forge.writers.add("s2i-bot")
    for login in ("s2i-bot", "S2I-Bot"):  # GitHub logins are case-insensitive
        actions = world.pulls.handle(world.delivery(), world.comment("/s2i rebuild", login))
        assert actions.outcome == "a comment by the bot itself: ignored"
        assert (actions.dispatch, actions.replies, actions.report) == ([], [], [])


def test_what_a_comment_gave_is_quoted_back_in_a_code_span(world: World) -> None:
    world.pull("maintainer", fork=False)
    body = "/s2i rebuild @everyone`[x](http://evil)`\n/s2i <img@src=x>"
    actions = world.pulls.handle(world.delivery(), world.comment(body, "maintainer"))
    replies = [reply for *_, reply in actions.replies]
    assert replies[0] == (
        "@maintainer: no build named `` @everyone`[x](http://evil)` `` runs for pull requests."
    )
    assert replies[1].startswith("@maintainer: unknown command `/s2i <img@src=x>`.")


SECRET_CONFIG = CONFIG.format(image="app") + "    secrets: [npmrc]\n"


@pytest.mark.parametrize(
    ("author", "fork", "origin"),
    [("mallory", True, "forks"), ("mallory", False, "authors without write access"),
     ("maintainer", True, "forks")],
)  # fmt: skip
def test_an_approved_untrusted_pull_request_never_gets_build_secrets(
    world: World, author: str, fork: bool, origin: str
) -> None:
    for sha in (BASE, HEAD):
        world.forge.files[("acme/app", ".s2i.yaml", sha)] = SECRET_CONFIG
    pull = world.pull(author, fork=fork)
    world.pulls.handle(world.delivery(), world.pull_event(pull))  # the waiting notice
    world.publish()
    approved = world.pulls.handle(world.delivery(), world.comment("/s2i ok-to-test", "maintainer"))
    assert approved.dispatch == []
    (build,) = approved.report
    assert build.name == "web" and build.state is BuildState.FAILED
    assert build.reason.startswith(
        f"build 'web' needs build secret 'npmrc', and builds of pull requests from {origin} "
        "never get build secrets, even after /s2i ok-to-test"
    )


def test_a_trusted_pull_request_builds_with_its_build_secrets(world: World) -> None:
    world.forge.files[("acme/app", ".s2i.yaml", HEAD)] = SECRET_CONFIG
    pull = world.pull("maintainer", fork=False)
    (build,) = world.pulls.handle(world.delivery(), world.pull_event(pull)).dispatch
    assert build.spec is not None and [s.name for s in build.spec.secrets] == ["npmrc"]
