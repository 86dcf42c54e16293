"""tests/fakes/webhooks.py: deliveries shaped and signed as GitHub's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import openapi, webhooks
from tests.fakes.git import ZERO_SHA, BareRepo
from tests.fakes.github_repo import FakeRepo

WEB = "http://127.0.0.1:1"


def test_sign_matches_githubs_documented_example() -> None:
    # From GitHub's "Validating webhook deliveries" docs.
    signature = webhooks.sign(b"Hello, World!", "It's a Secret to Everybody")
    assert signature == "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"


def test_headers_carry_event_delivery_and_signature() -> None:
    body = b'{"zen": "Keep it logically awesome."}'
    headers = webhooks.github_headers("ping", body, "s3cret", delivery="d-1")
    assert headers["X-GitHub-Event"] == "ping"
    assert headers["X-GitHub-Delivery"] == "d-1"
    assert headers["X-Hub-Signature-256"] == webhooks.sign(body, "s3cret")
    assert headers["User-Agent"].startswith("GitHub-Hookshot/")
    assert "X-Hub-Signature-256" not in webhooks.github_headers("ping", body, None)


def test_load_example_by_action_is_a_copy() -> None:
    first = webhooks.load_example("pull_request", "synchronize")
    assert first["action"] == "synchronize"
    first["action"] = "changed"
    assert webhooks.load_example("pull_request", "synchronize")["action"] == "synchronize"


def test_push_payload_points_at_the_fake_repo(tmp_path: Path) -> None:
    bare = BareRepo(tmp_path / "octo" / "app.git")
    repo = FakeRepo("octo", "app", 7, bare, "http://127.0.0.1:1", "http://127.0.0.1:1/api/v3")
    sha = repo.commit({"README": "hi\n"}, "Initial commit")
    payload = webhooks.push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=sha)
    assert payload["repository"]["full_name"] == "octo/app"
    assert payload["repository"]["clone_url"] == "http://127.0.0.1:1/octo/app.git"
    assert payload["repository"]["owner"]["login"] == "octo"
    assert payload["head_commit"]["id"] == sha
    assert payload["head_commit"]["message"] == "Initial commit"
    assert payload["created"] is True
    assert "github.com" not in json.dumps(payload["repository"]).replace("noreply.github.com", "")


@pytest.fixture
def repo(tmp_path: Path) -> FakeRepo:
    repo = FakeRepo("octo", "app", 7, BareRepo(tmp_path / "octo" / "app.git"), WEB, f"{WEB}/api/v3")
    repo.commit({"README": "hi\n"}, "Initial commit")
    return repo


@pytest.fixture
def fork(repo: FakeRepo, tmp_path: Path) -> FakeRepo:
    fork = FakeRepo(
        "mallory", "app", 8, BareRepo(tmp_path / "mallory" / "app.git"), WEB, f"{WEB}/api/v3"
    )
    fork.bare.fetch(repo.path, "refs/heads/*", "refs/heads/*")
    return fork


def valid(event: str, payload: dict[str, Any]) -> dict[str, Any]:
    """``payload`` after checking it against GitHub's schema of the event (``x-webhooks``)."""
    assert openapi.load().validate_webhook(event, payload) == []
    assert "github.com" not in json.dumps(payload).replace("noreply.github.com", "")
    return payload


def test_load_examples_has_every_action() -> None:
    actions = {e["action"] for e in webhooks.load_examples("pull_request")}
    assert {"opened", "synchronize", "reopened", "closed", "ready_for_review"} <= actions
    with pytest.raises(KeyError, match="no webhook examples"):
        webhooks.load_examples("no_such_event")


def test_tag_push_payload(repo: FakeRepo) -> None:
    sha = repo.head()
    repo.create_tag("v1.0.0")
    payload = valid("push", webhooks.tag_push_payload(repo, "v1.0.0", installation=5))
    assert (payload["ref"], payload["before"], payload["after"]) == (
        "refs/tags/v1.0.0",
        ZERO_SHA,
        sha,
    )
    assert (payload["created"], payload["deleted"], payload["commits"]) == (True, False, [])
    assert payload["head_commit"]["id"] == sha
    assert payload["repository"]["full_name"] == "octo/app"
    assert payload["installation"]["id"] == 5


def test_annotated_tag_push_names_the_tag_object(repo: FakeRepo) -> None:
    tag_object = repo.create_tag("v2", message="Release 2")
    payload = valid("push", webhooks.tag_push_payload(repo, "v2"))
    assert payload["after"] == tag_object != repo.head()
    assert payload["head_commit"]["id"] == repo.head()


def test_pull_request_payload_from_a_fork(repo: FakeRepo, fork: FakeRepo) -> None:
    head = fork.commit({"a": "1"}, "Change", branch="patch")
    number = repo.create_pull("patch", author="mallory", fork=fork)
    payload = valid("pull_request", webhooks.pull_request_payload(repo, number, "opened"))
    pull = payload["pull_request"]
    assert (payload["action"], payload["number"], pull["number"]) == ("opened", number, number)
    assert (pull["head"]["sha"], pull["head"]["ref"]) == (head, "patch")
    assert pull["head"]["repo"]["full_name"] == "mallory/app" and pull["head"]["repo"]["fork"]
    assert pull["base"]["repo"]["full_name"] == "octo/app" and not pull["base"]["repo"]["fork"]
    assert (pull["user"]["login"], pull["author_association"]) == ("mallory", "NONE")
    assert (pull["draft"], pull["merged"], pull["state"]) == (False, False, "open")
    assert payload["sender"]["login"] == "mallory"
    assert payload["repository"]["full_name"] == "octo/app"


def test_synchronize_payload_has_before_and_after(repo: FakeRepo) -> None:
    first = repo.commit({"a": "1"}, "One", branch="feature")
    number = repo.create_pull("feature", author="octo")
    second = repo.commit({"a": "2"}, "Two", branch="feature")
    payload = valid("pull_request", webhooks.pull_request_payload(repo, number, "synchronize"))
    assert (payload["before"], payload["after"]) == (first, second)
    assert payload["pull_request"]["head"]["sha"] == second
    assert payload["pull_request"]["author_association"] == "OWNER"


def test_closed_ready_and_reopened_payloads(repo: FakeRepo) -> None:
    repo.commit({"a": "1"}, "One", branch="feature")
    number = repo.create_pull("feature", draft=True)
    repo.mark_ready(number)
    ready = valid("pull_request", webhooks.pull_request_payload(repo, number, "ready_for_review"))
    assert ready["pull_request"]["draft"] is False
    repo.close_pull(number)
    closed = valid("pull_request", webhooks.pull_request_payload(repo, number, "closed"))
    assert (closed["pull_request"]["state"], closed["pull_request"]["merged"]) == ("closed", False)
    repo.reopen_pull(number)
    reopened = valid("pull_request", webhooks.pull_request_payload(repo, number, "reopened"))
    assert reopened["pull_request"]["state"] == "open"
    repo.close_pull(number, merged=True)
    merged = valid("pull_request", webhooks.pull_request_payload(repo, number, "closed"))
    assert merged["pull_request"]["merged"] is True


def test_issue_comment_payload_on_a_pull_request(repo: FakeRepo) -> None:
    repo.commit({"a": "1"}, "One", branch="feature")
    number = repo.create_pull("feature")
    repo.set_permission("alice", "write")
    comment = repo.add_comment(number, "/s2i build", "alice")
    payload = valid("issue_comment", webhooks.issue_comment_payload(repo, number, comment))
    assert payload["issue"]["number"] == number
    assert payload["issue"]["pull_request"]["url"].endswith(f"/repos/octo/app/pulls/{number}")
    assert (payload["comment"]["body"], payload["comment"]["id"]) == ("/s2i build", comment["id"])
    assert payload["comment"]["author_association"] == "COLLABORATOR"
    assert payload["sender"]["login"] == "alice"


def test_issue_comment_payload_on_an_issue_and_edited(repo: FakeRepo) -> None:
    number = repo.create_issue("Bug")
    comment = repo.add_comment(number, "first", "bob")
    edited = repo.edit_comment(comment["id"], "second")
    payload = valid(
        "issue_comment",
        webhooks.issue_comment_payload(repo, number, edited, "edited", previous_body="first"),
    )
    assert "pull_request" not in payload["issue"]
    assert payload["changes"] == {"body": {"from": "first"}}
    assert payload["comment"]["body"] == "second"
    deleted = webhooks.issue_comment_payload(repo, number, edited, "deleted")
    assert "changes" not in valid("issue_comment", deleted)
