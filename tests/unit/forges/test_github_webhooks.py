import json
from typing import Any

import pytest

from bot.events import Event, EventKind, PullAction, Rerun
from bot.forges.base import Ignored, Ping, SignatureError
from bot.forges.fields import PayloadError
from bot.forges.github_webhooks import parse
from tests.fakes.webhooks import github_headers, load_example, load_examples

SECRET = "It's a Secret to Everybody"


def signed(event: str, payload: object) -> tuple[dict[str, str], bytes]:
    body = json.dumps(payload).encode()
    return github_headers(event, body, SECRET), body


def test_the_signature_matches_githubs_documented_example() -> None:
    # GitHub docs, "Validating webhook deliveries": secret "It's a Secret to Everybody",
    # payload "Hello, World!" -> this exact signature.
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    headers = {"X-Hub-Signature-256": expected, "X-GitHub-Event": "ping"}
    with pytest.raises(PayloadError):  # the signature passes; the body is not JSON
        parse(headers, b"Hello, World!", SECRET)


def test_a_wrong_or_missing_signature_is_refused() -> None:
    headers, body = signed("push", load_example("push"))
    with pytest.raises(SignatureError):
        parse(headers, body + b" ", SECRET)
    del headers["X-Hub-Signature-256"]
    with pytest.raises(SignatureError, match="missing"):
        parse(headers, body, SECRET)


@pytest.mark.parametrize(
    "event",
    ["push", "create", "pull_request", "issue_comment", "ping", "release", "check_run",
     "check_suite"],
)  # fmt: skip
def test_every_real_example_becomes_an_event_or_is_ignored(event: str) -> None:
    payloads = load_examples(event)
    assert payloads, f"no @octokit/webhooks-examples for {event}"
    for payload in payloads:
        headers, body = signed(event, payload)
        webhook = parse(headers, body, SECRET)
        assert isinstance(webhook, Event | Ignored | Ping)
        if isinstance(webhook, Event):
            check_event(event, payload, webhook)


def check_event(name: str, payload: dict[str, Any], event: Event) -> None:
    assert event.repo.full_name == payload["repository"]["full_name"]
    assert event.repo.id == payload["repository"]["id"]
    # Where to clone from is the configuration's to say (ForgeApi.repository), not the payload's.
    assert event.repo.clone_url == ""
    if name == "push":
        kind = EventKind.TAG if payload["ref"].startswith("refs/tags/") else EventKind.PUSH
        assert (event.kind, event.sha) == (kind, payload["after"])
    elif name == "pull_request":
        pull = payload["pull_request"]
        assert event.kind is EventKind.PULL_REQUEST and event.pull is not None
        assert event.sha == event.pull.head_sha == pull["head"]["sha"]
        assert event.pull.number == payload["number"]
        assert event.ref == f"refs/pull/{payload['number']}/head"
        assert event.pull.author == pull["user"]["login"]
        assert event.pull.author_id == pull["user"]["id"]
    elif name == "release":
        assert payload["action"] == "published" and event.kind is EventKind.RELEASE
        assert event.tag == payload["release"]["tag_name"]
        assert event.release_id == payload["release"]["id"]
    elif name == "issue_comment":
        assert event.kind is EventKind.COMMENT and event.comment is not None
        assert payload["action"] == "created" and payload["issue"]["pull_request"]
        assert event.comment.body == payload["comment"]["body"]
        assert event.comment.author_id == payload["comment"]["user"]["id"]
        assert event.pr_number == payload["issue"]["number"]
    elif name == "check_suite":
        assert payload["action"] == "rerequested" and event.kind is EventKind.RERUN
        assert event.rerun is not None and event.rerun.build_key is None
        assert event.sha == payload["check_suite"]["head_sha"]
    else:
        raise AssertionError(f"{name} should have been ignored")


def test_pull_request_actions_map_to_one_vocabulary() -> None:
    seen = {}
    for payload in load_examples("pull_request"):
        webhook = parse(*signed("pull_request", payload), SECRET)
        if isinstance(webhook, Event):
            seen[payload["action"]] = webhook.pull_action
    assert seen["opened"] is PullAction.OPENED
    assert seen["synchronize"] is PullAction.CHANGED
    assert seen["closed"] is PullAction.CLOSED
    assert "labeled" not in seen and "edited" not in seen


def test_a_comment_edited_or_on_an_issue_does_nothing() -> None:
    edited = load_example("issue_comment", "edited")
    assert isinstance(parse(*signed("issue_comment", edited), SECRET), Ignored)
    on_issue = load_example("issue_comment", "created")
    on_issue["issue"].pop("pull_request", None)
    assert parse(*signed("issue_comment", on_issue), SECRET) == Ignored(
        "a comment on an issue, not a pull request"
    )


def test_a_push_lists_its_changed_paths() -> None:
    payload = next(
        p for p in load_examples("push") if p["ref"].startswith("refs/heads/") and p["head_commit"]
    )
    payload["commits"] = [
        {**payload["head_commit"], "added": ["a.go"], "modified": ["b/c.go"], "removed": []}
    ]
    webhook = parse(*signed("push", payload), SECRET)
    assert isinstance(webhook, Event) and webhook.changed_paths == ("a.go", "b/c.go")


def test_ping_and_unhandled_events() -> None:
    assert isinstance(parse(*signed("ping", load_example("ping")), SECRET), Ping)
    ignored = parse(*signed("star", load_example("star", "created")), SECRET)
    assert ignored == Ignored("event 'star' is not handled")


def test_a_push_payload_without_its_fields_is_a_payload_error() -> None:
    with pytest.raises(PayloadError, match="push payload lacks"):
        parse(*signed("push", {"ref": "refs/heads/main"}), SECRET)


KEY = "zSL716AZyjogTSygRgC1rJgpdaB-kGfa"  # a build's key, as bot/store.py makes them


def test_a_re_run_of_the_bots_check_run_names_its_build_and_who_asked() -> None:
    payload = load_example("check_run", "rerequested")
    payload["check_run"]["external_id"] = KEY
    event = parse(*signed("check_run", payload), SECRET)
    assert isinstance(event, Event) and event.kind is EventKind.RERUN
    assert event.rerun == Rerun(KEY, payload["sender"]["login"], payload["sender"]["id"])
    assert event.sha == payload["check_run"]["head_sha"]
    assert event.repo.full_name == payload["repository"]["full_name"]


def test_other_check_run_actions_and_other_apps_check_runs_are_ignored() -> None:
    created = load_example("check_run", "created")
    created["check_run"]["external_id"] = KEY
    assert parse(*signed("check_run", created), SECRET) == Ignored(
        "check_run action 'created' is not handled"
    )
    theirs = load_example("check_run", "rerequested")  # GitHub's example has external_id ""
    ignored = parse(*signed("check_run", theirs), SECRET)
    assert isinstance(ignored, Ignored) and "did not make" in ignored.reason
