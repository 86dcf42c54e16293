import json

import pytest

from bot.events import Event, EventKind, PullAction
from bot.forges.base import Ignored, PayloadError, SignatureError
from bot.forges.gitlab_webhooks import parse
from tests.fakes.gitlab_webhooks import gitlab_headers, load_example

SECRET = "gitlab-secret"


def deliver(event: str, payload: object, token: str | None = SECRET) -> Event | Ignored:
    webhook = parse(gitlab_headers(event, token), json.dumps(payload).encode(), SECRET)
    assert isinstance(webhook, Event | Ignored)
    return webhook


def test_the_token_is_compared_and_required() -> None:
    body = json.dumps(load_example("push")).encode()
    with pytest.raises(SignatureError, match="does not match"):
        parse(gitlab_headers("Push Hook", "wrong"), body, SECRET)
    with pytest.raises(SignatureError, match="missing"):
        parse(gitlab_headers("Push Hook", None), body, SECRET)


def test_the_documented_push_example() -> None:
    payload = load_example("push")
    event = deliver("Push Hook", payload)
    assert isinstance(event, Event) and event.kind is EventKind.PUSH
    assert event.sha == payload["checkout_sha"]
    assert event.repo.full_name == payload["project"]["path_with_namespace"]
    assert event.repo.clone_url == payload["project"]["git_http_url"]
    assert event.branch == payload["ref"].removeprefix("refs/heads/")
    assert event.actor == payload["user_username"]


def test_the_documented_tag_push_example() -> None:
    payload = load_example("tag_push")
    event = deliver("Tag Push Hook", payload)
    assert isinstance(event, Event) and event.kind is EventKind.TAG
    assert event.tag == payload["ref"].removeprefix("refs/tags/")


def test_the_documented_merge_request_example() -> None:
    payload = load_example("merge_request")
    event = deliver("Merge Request Hook", payload)
    attrs = payload["object_attributes"]
    if attrs["action"] == "update" and not attrs.get("oldrev"):
        assert isinstance(event, Ignored)
        return
    assert isinstance(event, Event) and event.pull is not None
    assert event.pull.number == attrs["iid"]
    assert event.pull.head_sha == attrs["last_commit"]["id"] == event.sha
    assert event.ref == f"refs/merge-requests/{attrs['iid']}/head"


def test_merge_request_actions_map_to_one_vocabulary() -> None:
    payload = load_example("merge_request")
    attrs = payload["object_attributes"]
    actions = [
        ("open", PullAction.OPENED),
        ("close", PullAction.CLOSED),
        ("merge", PullAction.CLOSED),
        ("reopen", PullAction.REOPENED),
    ]
    for action, expected in actions:
        attrs["action"] = action
        event = deliver("Merge Request Hook", payload)
        assert isinstance(event, Event) and event.pull_action is expected
    attrs.update(action="update", oldrev="a" * 40)
    event = deliver("Merge Request Hook", payload)
    assert isinstance(event, Event) and event.pull_action is PullAction.CHANGED
    attrs.pop("oldrev")
    assert isinstance(deliver("Merge Request Hook", payload), Ignored)  # a title edit


def test_the_documented_note_example() -> None:
    payload = load_example("note")
    event = deliver("Note Hook", payload)
    assert isinstance(event, Event) and event.kind is EventKind.COMMENT
    assert event.comment is not None and event.comment.body == payload["object_attributes"]["note"]
    assert event.pr_number == payload["merge_request"]["iid"]
    payload["object_attributes"]["action"] = "update"
    assert isinstance(deliver("Note Hook", payload), Ignored)


def test_unknown_events_and_broken_bodies() -> None:
    assert deliver("Pipeline Hook", {}) == Ignored("event 'Pipeline Hook' is not handled")
    with pytest.raises(PayloadError):
        parse(gitlab_headers("Push Hook", SECRET), b"{", SECRET)
