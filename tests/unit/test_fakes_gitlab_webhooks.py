"""tests/fakes/gitlab_webhooks.py: GitLab's documented payloads, adapted to fake projects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.events import Event, PullAction
from bot.forges.gitlab_webhooks import parse
from tests.fakes import gitlab_webhooks as hooks
from tests.fakes.git import ZERO_SHA, BareRepo
from tests.fakes.gitlab_objects import FakeProject, Instance

# The top-level keys of each documented example (webhook_events.md).
DOCUMENTED_KEYS = {
    "push": {
        "object_kind", "event_name", "before", "after", "ref", "ref_protected", "checkout_sha",
        "user_id", "user_name", "user_username", "user_email", "user_avatar", "project_id",
        "project", "repository", "commits", "total_commits_count",
    },
    "tag_push": {
        "object_kind", "event_name", "before", "after", "ref", "ref_protected", "checkout_sha",
        "user_id", "user_name", "user_avatar", "project_id", "project", "repository", "commits",
        "total_commits_count",
    },
    "merge_request": {
        "object_kind", "event_type", "user", "project", "repository", "object_attributes",
        "labels", "changes", "assignees", "reviewers",
    },
    "note": {
        "object_kind", "event_type", "user", "project_id", "project", "repository",
        "object_attributes", "merge_request",
    },
}  # fmt: skip


@pytest.fixture
def instance() -> Instance:
    return Instance("http://127.0.0.1:1")


def make_project(instance: Instance, tmp_path: Path, path: str, pid: int) -> FakeProject:
    group, _, name = path.rpartition("/")
    project = FakeProject(group, name, pid, BareRepo(tmp_path / group / f"{name}.git"), instance)
    instance.projects[path] = project
    return project


@pytest.fixture
def project(instance: Instance, tmp_path: Path) -> FakeProject:
    return make_project(instance, tmp_path, "group/app", 7)


@pytest.mark.parametrize("kind", sorted(DOCUMENTED_KEYS))
def test_stored_examples_are_json_with_the_documented_keys(kind: str) -> None:
    stored = hooks.DATA / hooks._EXAMPLES[kind][0]
    payload = json.loads(stored.read_text())
    assert set(payload) == DOCUMENTED_KEYS[kind]
    assert payload["object_kind"] == kind
    assert hooks.load_example(kind) == payload


def test_load_example_is_a_copy() -> None:
    first = hooks.load_example("merge_request")
    first["object_attributes"]["action"] = "close"
    assert hooks.load_example("merge_request")["object_attributes"]["action"] == "open"
    with pytest.raises(KeyError, match="known"):
        hooks.load_example("pipeline")


def test_push_payload_lists_the_pushed_commits(project: FakeProject) -> None:
    first = project.commit({"README": "hi\n"}, "Initial commit")
    second = project.commit({"README": "hello\n", "app.py": "x\n"}, "Second\n\nBody")
    payload = hooks.push_payload(project, "refs/heads/main", ZERO_SHA, second)
    assert set(payload) == DOCUMENTED_KEYS["push"]
    assert [c["id"] for c in payload["commits"]] == [first, second]
    assert payload["commits"][1]["title"] == "Second"
    assert payload["commits"][1]["added"] == ["app.py"]
    assert payload["commits"][1]["modified"] == ["README"]
    assert payload["project"]["git_http_url"] == "http://127.0.0.1:1/group/app.git"
    assert payload["project"]["path_with_namespace"] == "group/app"
    assert payload["project_id"] == 7 and payload["checkout_sha"] == second
    update = hooks.push_payload(project, "refs/heads/main", first, second)
    assert [c["id"] for c in update["commits"]] == [second] and update["total_commits_count"] == 1
    deleted = hooks.push_payload(project, "refs/heads/main", second, ZERO_SHA)
    assert deleted["commits"] == [] and deleted["checkout_sha"] is None
    assert "example.com" not in json.dumps(payload)


def test_push_of_a_new_branch_lists_only_its_own_commits(project: FakeProject) -> None:
    project.commit({"README": "hi\n"}, "Initial commit")
    feature = project.commit({"a": "1"}, "Feature", branch="feature")
    payload = hooks.push_payload(project, "refs/heads/feature", ZERO_SHA, feature)
    assert [c["id"] for c in payload["commits"]] == [feature]
    assert payload["ref_protected"] is False


def test_tag_push_payload(project: FakeProject) -> None:
    sha = project.commit({"README": "hi\n"}, "Initial commit")
    payload = hooks.tag_push_payload(project, "v1.0.0", sha)
    assert set(payload) == DOCUMENTED_KEYS["tag_push"]
    assert (payload["ref"], payload["before"], payload["after"]) == (
        "refs/tags/v1.0.0",
        ZERO_SHA,
        sha,
    )
    assert payload["checkout_sha"] == sha


def test_merge_request_payload_from_a_fork(
    instance: Instance, project: FakeProject, tmp_path: Path
) -> None:
    project.commit({"README": "hi\n"}, "Initial commit")
    fork = make_project(instance, tmp_path, "alice/app", 8)
    fork.bare.commit({"README": "hi\n"}, "Fork root", "main")
    head = fork.commit({"a": "1"}, "Feature", branch="feature")
    iid = project.create_merge_request("feature", author="alice", source_project=fork, draft=True)
    payload = hooks.merge_request_payload(project, iid, "open")
    assert set(payload) == DOCUMENTED_KEYS["merge_request"]
    attributes = payload["object_attributes"]
    assert (attributes["action"], attributes["state"], attributes["draft"]) == (
        "open",
        "opened",
        True,
    )
    assert attributes["last_commit"]["id"] == head
    assert attributes["source"]["path_with_namespace"] == "alice/app"
    assert attributes["target"]["path_with_namespace"] == "group/app"
    assert attributes["source_project_id"] == 8 and attributes["target_project_id"] == 7
    assert payload["user"]["username"] == "alice"
    assert "oldrev" not in attributes
    newer = fork.commit({"a": "2"}, "More", branch="feature")
    update = hooks.merge_request_payload(project, iid, "update", oldrev=head)
    assert update["object_attributes"]["oldrev"] == head
    assert update["object_attributes"]["last_commit"]["id"] == newer
    merged = hooks.merge_request_payload(project, iid, "merge", user="maria")
    assert merged["object_attributes"]["state"] == "merged"
    assert merged["user"]["username"] == "maria"
    with pytest.raises(ValueError, match="oldrev"):
        hooks.merge_request_payload(project, iid, "open", oldrev=head)


def test_a_draft_marked_ready_sends_an_update_saying_draft_went_false(
    project: FakeProject,
) -> None:
    project.commit({"README": "hi\n"}, "Initial commit")
    head = project.commit({"a": "1"}, "Feature", branch="feature")
    iid = project.create_merge_request("feature", author="alice", draft=True)
    payload = hooks.merge_request_payload(project, iid, "update", changes=project.mark_ready(iid))
    assert set(payload) == DOCUMENTED_KEYS["merge_request"]
    attributes = payload["object_attributes"]
    assert (attributes["action"], attributes["draft"], attributes["title"]) == (
        "update", False, "feature",
    )  # fmt: skip
    assert "oldrev" not in attributes and attributes["last_commit"]["id"] == head
    assert payload["changes"]["draft"] == {"previous": True, "current": False}
    assert payload["changes"]["title"] == {"previous": "Draft: feature", "current": "feature"}
    # The bot's parser reads it as GitLab's "marked as ready".
    webhook = parse(hooks.gitlab_headers("merge_request", None), json.dumps(payload).encode(), None)
    assert isinstance(webhook, Event) and webhook.pull_action is PullAction.READY
    with pytest.raises(ValueError, match="changes"):
        hooks.merge_request_payload(project, iid, "open", changes={"title": {}})


def test_note_payload_on_a_merge_request(project: FakeProject) -> None:
    project.commit({"README": "hi\n"}, "Initial commit")
    head = project.commit({"a": "1"}, "Feature", branch="feature")
    iid = project.create_merge_request("feature", author="alice")
    note = project.add_note(iid, "/s2i build", author="bob")
    payload = hooks.note_payload(project, iid, note)
    assert set(payload) == DOCUMENTED_KEYS["note"]
    attributes = payload["object_attributes"]
    assert attributes["note"] == "/s2i build" and attributes["noteable_type"] == "MergeRequest"
    assert attributes["id"] == note["id"] and attributes["action"] == "create"
    assert payload["user"]["username"] == "bob"
    assert payload["merge_request"]["iid"] == iid
    assert payload["merge_request"]["last_commit"]["id"] == head
    assert payload["merge_request"]["source_branch"] == "feature"


def test_headers() -> None:
    headers = hooks.gitlab_headers("push", "s3cret", uuid="u-1")
    assert headers["X-Gitlab-Event"] == "Push Hook"
    assert headers["X-Gitlab-Token"] == "s3cret"
    assert headers["X-Gitlab-Event-UUID"] == "u-1"
    assert headers["User-Agent"].startswith("GitLab/")
    assert headers["X-Gitlab-Instance"]
    assert hooks.gitlab_headers("Note Hook", None)["X-Gitlab-Event"] == "Note Hook"
    assert "X-Gitlab-Token" not in hooks.gitlab_headers("Note Hook", None)
