"""bot/manual_trigger.py: the request read (pure), the push each forge's parser reads back with
what the trigger asked for (a tag, one build, a note), and the checks against the forge and
`.s2i.yaml` before anything is stored (a RecordingForge and a real SQLite store)."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import pytest

from bot.events import BranchPush, Event, EventKind, Repo
from bot.forges import github_webhooks, gitlab_webhooks
from bot.forges.base import WebhookParser
from bot.manual_trigger import (
    ACTOR,
    NOTE,
    ManualTrigger,
    TriggerError,
    TriggerRequest,
    parse_request,
)
from bot.store import Store
from tests.fakes.forge import RecordingForge

SECRET = "a webhook secret"
HEAD = "4" * 40
CONFIG = """\
builds:
  - {name: web, template: go, image: r.example/acme/app, triggers: {branches: [main]}}
  - {name: release, template: go, image: r.example/acme/rel, triggers: {tags: ["v*"]}}
"""


@pytest.mark.parametrize(
    ("forge", "module", "event_name"),
    [("github", github_webhooks, "push"), ("gitlab", gitlab_webhooks, "Tag Push Hook")],
)
def test_a_triggers_tag_push_is_read_back_with_the_build_and_note_it_asked_for(
    forge: str, module: ModuleType, event_name: str
) -> None:
    repo = Repo(forge, "group/app", html_url="https://forge/group/app", id=42)
    webhooks: WebhookParser = getattr(module, f"{forge}_webhooks")(SECRET)
    push = BranchPush(repo, "v1.0", HEAD, HEAD, "trigger-x", ACTOR, None, tag=True,
                      only_builds=("release",), note=NOTE)  # fmt: skip
    headers, body = module.push_delivery(push)
    headers = webhooks.vouch(headers, body)
    event = webhooks.parse(headers, body)
    assert webhooks.event_name(headers) == event_name
    assert isinstance(event, Event)
    assert (event.kind, event.ref, event.sha, event.changed_paths) == (
        EventKind.TAG, "refs/tags/v1.0", HEAD, None,
    )  # fmt: skip
    assert (event.only_builds, event.note) == (("release",), NOTE)


def test_a_push_without_the_bots_member_asks_for_nothing_more() -> None:
    repo = Repo("github", "group/app", id=42)
    headers, body = github_webhooks.push_delivery(
        BranchPush(repo, "main", HEAD, HEAD, "catch-up-x", "s2i-bot", None)
    )
    assert b"s2i_bot" not in body
    event = github_webhooks.github_webhooks(SECRET).parse(
        github_webhooks.sealed(headers, body, SECRET), body
    )
    assert isinstance(event, Event) and (event.only_builds, event.note) == (None, "")


def test_a_request_is_read_with_only_repo_required_and_each_wrong_field_named() -> None:
    assert parse_request(b'{"repo": "acme/app"}') == TriggerRequest("acme/app")
    assert parse_request(
        b'{"repo": "acme/app", "ref": "v1", "name": "web", "forge": "gitlab"}'
    ) == TriggerRequest("acme/app", "v1", "web", "gitlab")
    wrong = {
        b"[]": "not a JSON object",
        b"{": "not JSON",
        b"{}": "'repo' is missing",
        b'{"repo": "acme/app", "branch": "x"}': "unknown field(s) branch",
        b'{"repo": "acme/app", "name": ""}': "'name' must be a non-empty string",
        b'{"repo": "../etc"}': "is not a repository's owner/name",
    }
    for body, message in wrong.items():
        with pytest.raises(TriggerError, match=re.escape(message)):
            parse_request(body)


def trigger_on(tmp_path: Path, forge: RecordingForge) -> tuple[ManualTrigger, Store]:
    forge.ids["acme/app"] = 42
    store = Store(f"sqlite:///{tmp_path}/db.sqlite")
    webhooks = {"github": github_webhooks.github_webhooks(SECRET)}
    return ManualTrigger(store, {"github": forge}, webhooks, ["go"], False), store


def test_a_trigger_stores_one_sealed_push_per_request_and_refuses_what_would_build_nothing(
    tmp_path: Path,
) -> None:
    forge = RecordingForge()
    forge.heads[("acme/app", "main")] = HEAD
    forge.heads[("acme/app", "v1")] = HEAD  # a branch and a tag of the same name
    forge.tags[("acme/app", "v1")] = HEAD
    forge.tags[("acme/app", "v2")] = HEAD
    forge.files[("acme/app", ".s2i.yaml", HEAD)] = CONFIG
    manual, store = trigger_on(tmp_path, forge)

    first = manual.trigger(TriggerRequest("acme/app"))
    second = manual.trigger(TriggerRequest("acme/app", "refs/heads/main", "web"))
    assert (first.ref, first.sha, first.builds) == ("refs/heads/main", HEAD, ("web",))
    assert first.delivery.id != second.delivery.id  # every trigger builds
    assert [d.id for d in store.unprocessed_deliveries()] == [first.delivery.id,
                                                              second.delivery.id]  # fmt: skip
    event = github_webhooks.github_webhooks(SECRET).parse(
        second.delivery.headers, second.delivery.body
    )
    assert isinstance(event, Event) and event.only_builds == ("web",)

    tag = manual.trigger(TriggerRequest("acme/app", "v2"))
    assert (tag.ref, tag.builds) == ("refs/tags/v2", ("release",))
    refused = {
        TriggerRequest("acme/app", "v1"): (400, "a branch and a tag named 'v1'"),
        TriggerRequest("acme/app", "gone"): (404, "no branch or tag 'gone'"),
        TriggerRequest("acme/app", "v2", "web"): (422, "build 'web' does not build tag v2"),
        TriggerRequest("acme/app", "main", "api"): (422, "no build named 'api'"),
        TriggerRequest("acme/app", forge="gitlab"): (404, "no forge 'gitlab' is configured"),
    }
    for request, (status, message) in refused.items():
        with pytest.raises(TriggerError, match=message) as caught:
            manual.trigger(request)
        assert caught.value.status == status
    assert len(store.unprocessed_deliveries()) == 3


def test_without_s2i_yaml_a_trigger_is_refused_unless_the_template_may_be_detected(
    tmp_path: Path,
) -> None:
    forge = RecordingForge()
    forge.heads[("acme/app", "main")] = HEAD
    manual, store = trigger_on(tmp_path, forge)
    with pytest.raises(TriggerError, match=r"has no \.s2i\.yaml at 444444444444: nothing"):
        manual.trigger(TriggerRequest("acme/app"))
    webhooks = {"github": github_webhooks.github_webhooks(SECRET)}
    detecting = ManualTrigger(store, {"github": forge}, webhooks, ["go"], True)
    assert detecting.trigger(TriggerRequest("acme/app")).builds == ()
    forge.files[("acme/app", ".s2i.yaml", HEAD)] = "builds: [\n"
    with pytest.raises(TriggerError, match="is not valid: line") as caught:
        manual.trigger(TriggerRequest("acme/app"))
    assert caught.value.status == 422


def test_with_both_forges_configured_a_trigger_names_its_forge(tmp_path: Path) -> None:
    github, gitlab = RecordingForge(), RecordingForge(name="gitlab")
    for forge in (github, gitlab):
        forge.ids["acme/app"] = 42
        forge.heads[("acme/app", "main")] = HEAD
        forge.files[("acme/app", ".s2i.yaml", HEAD)] = CONFIG
    webhooks = {
        "github": github_webhooks.github_webhooks(SECRET),
        "gitlab": gitlab_webhooks.gitlab_webhooks(SECRET),
    }
    store = Store(f"sqlite:///{tmp_path}/db.sqlite")
    manual = ManualTrigger(store, {"github": github, "gitlab": gitlab}, webhooks, ["go"], False)
    with pytest.raises(TriggerError, match="github and gitlab are configured: name one") as caught:
        manual.trigger(TriggerRequest("acme/app"))
    assert caught.value.status == 400
    done = manual.trigger(TriggerRequest("acme/app", forge="gitlab"))
    assert (done.forge, done.delivery.forge, done.delivery.event) == (
        "gitlab",
        "gitlab",
        "Push Hook",
    )
