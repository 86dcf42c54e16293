"""Webhook deliveries as GitLab sends them, from the documented example payloads.

The examples are the JSON blocks of GitLab's ``doc/user/project/integrations/webhook_events.md``,
stored in ``tests/fakes/data/gitlab/`` (no package ships them; see the README there). Builders
deep-copy an example, keep its documented shape, and fill in what a fake project knows.
Hook payloads use their own timestamp spellings: ISO 8601 in merge request attributes,
``2015-05-17 18:21:36 UTC`` in notes, an offset time in commits, as the examples do.
"""

from __future__ import annotations

import copy
import functools
import json
import time
import uuid as uuids
from pathlib import Path
from typing import Any

from tests.fakes.git import ZERO_SHA, git
from tests.fakes.gitlab_objects import FakeMergeRequest, FakeProject, FakeUser, Instance, user_basic

__all__ = [
    "EVENT_HEADERS",
    "ZERO_SHA",
    "gitlab_headers",
    "load_example",
    "merge_request_payload",
    "note_payload",
    "push_payload",
    "tag_push_payload",
]

JSON = Any
DATA = Path(__file__).parent / "data" / "gitlab"
# kind (object_kind of the payload) -> (stored example, X-Gitlab-Event)
_EXAMPLES = {
    "push": ("push_hook.json", "Push Hook"),
    "tag_push": ("tag_push_hook.json", "Tag Push Hook"),
    "merge_request": ("merge_request_hook.json", "Merge Request Hook"),
    "note": ("note_hook_merge_request.json", "Note Hook"),
}
EVENT_HEADERS = {kind: event for kind, (_, event) in _EXAMPLES.items()}
# webhooks.md, "Delivery headers": User-Agent is "GitLab/<version>".
USER_AGENT = "GitLab/18.1.0"
# webhook_events.md, "Merge request events": the actions and the state each leaves.
MR_ACTIONS = {
    "open": "opened",
    "update": "opened",
    "reopen": "opened",
    "close": "closed",
    "merge": "merged",
}
# Push events list at most the newest 20 commits (webhook_events.md, "Push events").
MAX_PUSH_COMMITS = 20


@functools.cache
def _example(kind: str) -> dict[str, JSON]:
    if kind not in _EXAMPLES:
        raise KeyError(f"no GitLab webhook example {kind!r}; known: {sorted(_EXAMPLES)}")
    with (DATA / _EXAMPLES[kind][0]).open("rb") as f:
        loaded: dict[str, JSON] = json.load(f)
    return loaded


def load_example(kind: str) -> dict[str, JSON]:
    """A deep copy of GitLab's documented payload for ``kind``: push, tag_push,
    merge_request or note (a comment on a merge request)."""
    return copy.deepcopy(_example(kind))


def _hook_time(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


def _note_time(stamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(stamp))


def hook_project(project: FakeProject) -> dict[str, JSON]:
    """The ``project`` object of hook payloads (also a merge request's ``source``/``target``)."""
    return {
        "id": project.id,
        "name": project.name,
        "description": "",
        "web_url": project.web_url,
        "avatar_url": None,
        "git_ssh_url": project.ssh_url_to_repo,
        "git_http_url": project.http_url_to_repo,
        "namespace": project.namespace.rsplit("/", 1)[-1],
        "visibility_level": 20,  # public
        "path_with_namespace": project.path_with_namespace,
        "default_branch": project.default_branch,
        "ci_config_path": "",
        "homepage": project.web_url,
        "url": project.ssh_url_to_repo,
        "ssh_url": project.ssh_url_to_repo,
        "http_url": project.http_url_to_repo,
    }


def _repository(project: FakeProject) -> dict[str, JSON]:
    return {
        "name": project.name,
        "url": project.ssh_url_to_repo,
        "description": "",
        "homepage": project.web_url,
        "git_http_url": project.http_url_to_repo,
        "git_ssh_url": project.ssh_url_to_repo,
        "visibility_level": 20,
    }


def _hook_user(user: FakeUser, instance: Instance) -> dict[str, JSON]:
    basic = user_basic(user, instance)
    return {
        "id": user.id,
        "name": user.name,
        "username": user.username,
        "avatar_url": basic["avatar_url"],
        "email": "[REDACTED]",  # users without a public email (webhook_events.md)
    }


def _commit(project: FakeProject, sha: str, *, files: bool = True) -> dict[str, JSON]:
    info = project.bare.commit_info(sha)
    name, email, stamp = info.author
    message = info.message.rstrip("\n")
    entry: dict[str, JSON] = {
        "id": sha,
        "message": message,
        "title": message.split("\n", 1)[0],
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(stamp)),
        "url": f"{project.web_url}/-/commit/{sha}",
        "author": {"name": name, "email": email},
    }
    if files:
        changes = project.bare.changes(sha)
        for key, status in (("added", "added"), ("modified", "modified"), ("removed", "removed")):
            entry[key] = [c.path for c in changes if c.status == status]
    return entry


def _pusher(payload: dict[str, JSON], project: FakeProject, username: str) -> None:
    user = project.instance.user(username)
    payload.update(
        user_id=user.id,
        user_name=user.name,
        user_username=user.username,
        user_email="[REDACTED]",
        user_avatar=user_basic(user, project.instance)["avatar_url"],
        project_id=project.id,
        project=hook_project(project),
        repository=_repository(project),
    )


def push_payload(
    project: FakeProject, ref: str, before: str, after: str, *, user: str = "root"
) -> dict[str, JSON]:
    """GitLab's Push Hook example adapted to a push of ``ref`` from ``before`` to ``after``.

    ``commits`` lists the pushed commits oldest first (at most 20; ``total_commits_count``
    counts all): ``before..after``, or for a new branch the commits no other branch has.
    A deletion (``after`` all zeros) has no commits and ``checkout_sha`` null.
    """
    payload = load_example("push")
    _pusher(payload, project, user)
    shas: list[str] = []
    if after != ZERO_SHA:
        if before != ZERO_SHA:
            spec = [after, f"^{before}"]
        else:
            # --exclude takes the name --branches lists, without refs/heads/ (git-rev-list(1)).
            branch = ref.removeprefix("refs/heads/")
            spec = [after, "--not", f"--exclude={branch}", "--branches"]
        shas = git(project.bare.path, "rev-list", "--reverse", *spec).decode().split()
    payload.update(
        ref=ref,
        before=before,
        after=after,
        checkout_sha=None if after == ZERO_SHA else after,
        ref_protected=ref == f"refs/heads/{project.default_branch}",
        commits=[_commit(project, sha) for sha in shas[-MAX_PUSH_COMMITS:]],
        total_commits_count=len(shas),
    )
    return payload


def tag_push_payload(
    project: FakeProject, tag: str, sha: str, *, user: str = "root"
) -> dict[str, JSON]:
    """GitLab's Tag Push Hook example for creating ``tag`` at ``sha`` (all zeros: deleting)."""
    payload = load_example("tag_push")
    _pusher(payload, project, user)
    payload.pop("user_username", None)  # sic: the documented tag push example has no such keys
    payload.pop("user_email", None)
    payload.update(
        ref=f"refs/tags/{tag}",
        before=ZERO_SHA,
        after=sha,
        checkout_sha=None if sha == ZERO_SHA else sha,
        ref_protected=False,
        commits=[],
        total_commits_count=0,
    )
    return payload


def _mr_attributes(project: FakeProject, mr: FakeMergeRequest, state: str) -> dict[str, JSON]:
    head = project.merge_request_head(mr)
    return {
        "id": mr.id,
        "iid": mr.iid,
        "target_branch": mr.target_branch,
        "source_branch": mr.source_branch,
        "source_project_id": mr.source_project.id,
        "target_project_id": project.id,
        "author_id": mr.author.id,
        "title": mr.title,
        "description": mr.description,
        "created_at": _hook_time(mr.created_at),
        "updated_at": _hook_time(time.time()),
        "state": state,
        "draft": mr.draft,
        "work_in_progress": mr.draft,
        "merge_status": "can_be_merged",
        "detailed_merge_status": "draft_status" if mr.draft else "mergeable",
        "url": f"{project.web_url}/-/merge_requests/{mr.iid}",
        "source": hook_project(mr.source_project),
        "target": hook_project(project),
        "last_commit": _commit(project, head, files=False) if head else None,
        "labels": [],
    }


def merge_request_payload(
    project: FakeProject,
    iid: int,
    action: str,
    *,
    oldrev: str | None = None,
    changes: dict[str, JSON] | None = None,
    user: str | None = None,
) -> dict[str, JSON]:
    """GitLab's Merge Request Hook example for ``action`` on merge request ``iid``.

    ``action`` is open, update, reopen, close or merge; ``state`` follows it. ``oldrev`` (the
    previous head) is only sent with an update that pushed new commits, as GitLab documents.
    ``changes`` is what an update changed, {key: {"previous", "current"}}: e.g. what
    :meth:`FakeProject.mark_ready` returns, for the update GitLab sends when a draft is marked
    ready. ``user`` (who acted) defaults to the merge request's author.
    """
    if action not in MR_ACTIONS:
        raise ValueError(f"merge request action {action!r} is not one of {sorted(MR_ACTIONS)}")
    if (oldrev is not None or changes) and action != "update":
        raise ValueError("oldrev and changes come only with action 'update'")
    mr = project.merge_request(iid)
    payload = load_example("merge_request")
    example = payload["object_attributes"]
    attributes = {key: example.get(key) for key in example}  # keep the documented key order
    attributes.update(
        _mr_attributes(project, mr, MR_ACTIONS[action]),
        assignee_ids=[],
        assignee_id=None,
        reviewer_ids=[],
        last_edited_at=None,
        last_edited_by_id=None,
        milestone_id=None,
        state_id={"opened": 1, "closed": 2, "merged": 3}[MR_ACTIONS[action]],
        blocking_discussions_resolved=True,
        first_contribution=False,
        prepared_at=_hook_time(mr.created_at),
        total_time_spent=0,
        time_change=0,
        human_total_time_spent=None,
        human_time_change=None,
        human_time_estimate=None,
        action=action,
    )
    if oldrev is not None:
        attributes["oldrev"] = oldrev
    actor = project.instance.user(user) if user else mr.author
    payload.update(
        user=_hook_user(actor, project.instance),
        project=hook_project(project),
        repository={
            "name": project.name,
            "url": project.http_url_to_repo,
            "description": "",
            "homepage": project.web_url,
        },
        object_attributes=attributes,
        labels=[],
        changes=copy.deepcopy(changes or {}),
        assignees=[],
        reviewers=[],
    )
    return payload


def note_payload(project: FakeProject, iid: int, note: dict[str, JSON]) -> dict[str, JSON]:
    """GitLab's Note Hook example (a comment on a merge request) for ``note``, a note as
    :meth:`FakeProject.add_note` or the notes API returns it."""
    mr = project.merge_request(iid)
    payload = load_example("note")
    author = project.instance.user(note["author"]["username"])
    now = time.time()
    example_mr = payload["merge_request"]
    merge_request = {key: example_mr.get(key) for key in example_mr}
    merge_request.update(
        _mr_attributes(project, mr, mr.state),
        created_at=_note_time(mr.created_at),
        updated_at=_note_time(now),
        assignee_id=None,
        assignee=None,
        milestone_id=None,
        position=0,
    )
    payload.update(
        user=_hook_user(author, project.instance),
        project_id=project.id,
        project=hook_project(project),
        repository={
            "name": project.name,
            "url": project.http_url_to_repo,
            "description": "",
            "homepage": project.web_url,
        },
        object_attributes={
            "id": note["id"],
            "note": note["body"],
            "noteable_type": "MergeRequest",
            "author_id": author.id,
            "created_at": _note_time(now),
            "updated_at": _note_time(now),
            "project_id": project.id,
            "attachment": None,
            "line_code": None,
            "commit_id": "",
            "noteable_id": mr.id,
            "system": False,
            "st_diff": None,
            "action": "update" if note["updated_at"] != note["created_at"] else "create",
            "url": f"{project.web_url}/-/merge_requests/{mr.iid}#note_{note['id']}",
        },
        merge_request=merge_request,
    )
    return payload


def gitlab_headers(
    event: str,
    token: str | None,
    uuid: str | None = None,
    *,
    instance: str = "https://gitlab.example.com",
) -> dict[str, str]:
    """The headers of a GitLab delivery (webhooks.md, "Delivery headers").

    ``event`` is the ``X-Gitlab-Event`` value ("Push Hook") or a payload kind ("push").
    GitLab sends the secret token verbatim in ``X-Gitlab-Token`` (no signature), and no
    such header when the webhook has none.
    """
    event = EVENT_HEADERS.get(event, event)
    event_uuid = uuid or str(uuids.uuid4())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Gitlab-Event": event,
        "X-Gitlab-Event-UUID": event_uuid,
        "X-Gitlab-Webhook-UUID": "4d6e6f2a-6b1c-4a55-9d6f-2c7e0d5d9b10",
        "X-Gitlab-Instance": instance,
        "Idempotency-Key": event_uuid,
    }
    if token is not None:
        headers["X-Gitlab-Token"] = token
    return headers
