import json
from typing import Any

import pytest

from bot.events import Event, EventKind, PullAction
from bot.forges.base import Ignored, SignatureError
from bot.forges.fields import PayloadError
from bot.forges.gitlab_webhooks import SEAL_HEADER, parse, sealed
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


def test_a_sealed_delivery_holds_no_token_and_passes_only_with_its_own_body() -> None:
    body = json.dumps(load_example("push")).encode()
    stored = sealed(
        {k.lower(): v for k, v in gitlab_headers("Push Hook", SECRET).items()}, body, SECRET
    )
    assert SECRET not in json.dumps(stored)
    assert "x-gitlab-token" not in stored
    assert isinstance(parse(stored, body, SECRET), Event)
    with pytest.raises(SignatureError, match=f"{SEAL_HEADER} does not match"):
        parse(stored, body.replace(b"master", b"evil00"), SECRET)
    with pytest.raises(SignatureError, match="does not match"):
        parse(stored, body, "another-secret")


def test_a_request_that_brings_a_seal_needs_the_secret_to_make_it() -> None:
    body = json.dumps(load_example("push")).encode()
    forged = {k.lower(): v for k, v in gitlab_headers("Push Hook", None).items()}
    forged[SEAL_HEADER] = "sha256=" + "0" * 64
    with pytest.raises(SignatureError, match="does not match"):
        parse(forged, body, SECRET)


def test_the_documented_push_example() -> None:
    payload = load_example("push")
    event = deliver("Push Hook", payload)
    assert isinstance(event, Event) and event.kind is EventKind.PUSH
    assert event.sha == payload["checkout_sha"]
    assert event.repo.full_name == payload["project"]["path_with_namespace"]
    assert event.repo.id == payload["project"]["id"]
    # Where to clone from is the configuration's to say (ForgeApi.repository), not the payload's.
    assert event.repo.clone_url == ""
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
    assert isinstance(event, Event) and event.pull is not None
    assert event.pull_action is PullAction.OPENED and attrs["action"] == "open"
    assert event.pull.number == attrs["iid"]
    assert event.pull.head_sha == attrs["last_commit"]["id"] == event.sha
    assert event.ref == f"refs/merge-requests/{attrs['iid']}/head"
    assert event.pull.author_id == attrs["author_id"]


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
    payload["changes"] = {"title": {"previous": "MS-Viewport", "current": "MS viewport"}}
    assert isinstance(deliver("Merge Request Hook", payload), Ignored)  # a title edit


def test_the_documented_note_example() -> None:
    payload = load_example("note")
    event = deliver("Note Hook", payload)
    assert isinstance(event, Event) and event.kind is EventKind.COMMENT
    assert event.comment is not None and event.comment.body == payload["object_attributes"]["note"]
    assert event.pr_number == payload["merge_request"]["iid"]
    assert event.comment.author_id == payload["user"]["id"]
    payload["object_attributes"]["action"] = "update"
    assert isinstance(deliver("Note Hook", payload), Ignored)


def test_unknown_events_and_broken_bodies() -> None:
    assert deliver("Pipeline Hook", {}) == Ignored("event 'Pipeline Hook' is not handled")
    with pytest.raises(PayloadError):
        parse(gitlab_headers("Push Hook", SECRET), b"{", SECRET)


def ready_update() -> dict[str, Any]:
    """The documented example as the update GitLab sends for "Mark as ready": no oldrev, and
    `changes` saying draft went from true to false (as the example's `changes` does)."""
    payload = load_example("merge_request")
    payload["object_attributes"].update(action="update", draft=False, work_in_progress=False)
    assert payload["changes"]["draft"] == {"previous": True, "current": False}
    return payload


def test_a_draft_marked_ready_is_a_ready_event_that_builds_the_head() -> None:
    payload = ready_update()
    event = deliver("Merge Request Hook", payload)
    assert isinstance(event, Event) and event.pull is not None
    assert event.pull_action is PullAction.READY and not event.pull.draft
    assert event.sha == event.pull.head_sha == payload["object_attributes"]["last_commit"]["id"]


def test_older_gitlabs_say_ready_only_by_the_title_losing_its_draft_prefix() -> None:
    payload = ready_update()
    del payload["changes"]["draft"]
    for before in ("Draft: MS-Viewport", "[Draft] MS-Viewport", "(draft) x", "WIP: x", "[WIP] x"):
        payload["changes"]["title"] = {"previous": before, "current": "MS-Viewport"}
        event = deliver("Merge Request Hook", payload)
        assert isinstance(event, Event) and event.pull_action is PullAction.READY, before
    # GitLab 13.x: `draft` is null and `work_in_progress` carries the state.
    payload["object_attributes"].update(draft=None, work_in_progress=True)
    payload["changes"]["title"] = {"previous": "Draft: x", "current": "WIP: x"}
    assert isinstance(deliver("Merge Request Hook", payload), Ignored)


def test_updates_that_leave_or_enter_no_ready_state_build_nothing() -> None:
    payload = ready_update()
    payload["changes"]["draft"] = {"previous": False, "current": True}  # marked as draft
    payload["object_attributes"].update(draft=True)
    assert isinstance(deliver("Merge Request Hook", payload), Ignored)
    payload = ready_update()
    del payload["changes"]["draft"]  # labels, timestamps and a title edit only
    payload["changes"]["title"] = {"previous": "Fix the viewport", "current": "Fix viewports"}
    assert isinstance(deliver("Merge Request Hook", payload), Ignored)
    payload["changes"] = {}  # "can be triggered even if the changes field is empty"
    assert isinstance(deliver("Merge Request Hook", payload), Ignored)


def test_new_commits_on_a_draft_that_is_marked_ready_at_once_are_changed() -> None:
    payload = ready_update()
    payload["object_attributes"]["oldrev"] = "a" * 40
    event = deliver("Merge Request Hook", payload)
    assert isinstance(event, Event) and event.pull_action is PullAction.CHANGED
