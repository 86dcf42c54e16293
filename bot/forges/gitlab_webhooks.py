"""GitLab webhooks, sans I/O: check the secret token and turn a payload into an Event.

Facts follow GitLab's docs, "Webhook events" (doc/user/project/integrations/
webhook_events.md) and "Webhooks" (the X-Gitlab-Token secret). Nothing here talks to the
network.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Mapping
from typing import Any

from bot.events import BranchPush, Event, EventKind, PullAction, PullRequest, Repo
from bot.forges import fields
from bot.forges.base import Ignored, SignatureError, Webhook, Webhooks
from bot.forges.fields import PayloadError

NAME = "gitlab"
_MR_ACTIONS = {
    "open": PullAction.OPENED,
    "reopen": PullAction.REOPENED,
    "update": PullAction.CHANGED,
    "close": PullAction.CLOSED,
    "merge": PullAction.CLOSED,
}
# A draft's title prefix: GitLab keeps the draft state in the title (MergeRequest.draft?, with
# Gitlab::Regex.merge_request_draft); older GitLabs also took "WIP:", "[WIP]", "Draft - ".
_DRAFT_TITLE = re.compile(
    r"\A(\[(draft|wip)\]|\(draft\)|(draft|wip):|draft\s-\s|(draft|wip)\Z)", re.I
)

# Where a Note Hook payload has the comment (GitLab docs, "Webhook events": comment events).
_NOTE = fields.CommentPaths(
    id="object_attributes.id", body="object_attributes.note", author="user.username",
    author_id="user.id", pr_number="merge_request.iid",
)  # fmt: skip


# GitLab proves a delivery by sending the webhook's secret itself (X-Gitlab-Token), so a
# stored copy of that header would be the secret in the database. What the bot stores
# instead is its own seal: an HMAC of the body keyed with the secret, which proves the same
# thing to `parse` and tells nobody the secret (docs/security.md, "What the database holds").
SEAL_HEADER = "x-s2i-bot-seal"


def seal_of(body: bytes, secret: str) -> str:
    """The seal the bot stores in place of the token: sha256 HMAC of the body."""
    return "sha256=" + hmac.digest(secret.encode(), body, "sha256").hex()


def verify_token(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """GitLab sends the webhook's secret token as is in X-Gitlab-Token; a stored delivery
    carries the bot's seal of its body instead (`sealed`). Compare in constant time."""
    seal = fields.header(headers, SEAL_HEADER)
    if seal is not None:
        if not hmac.compare_digest(seal.encode(), seal_of(body, secret).encode()):
            raise SignatureError(f"{SEAL_HEADER} does not match the payload")
        return
    token = fields.header(headers, "X-Gitlab-Token")
    if not token:
        raise SignatureError("missing X-Gitlab-Token header")
    if not hmac.compare_digest(token.encode(), secret.encode()):
        raise SignatureError("X-Gitlab-Token does not match the webhook secret")


def sealed(headers: Mapping[str, str], body: bytes, secret: str | None) -> dict[str, str]:
    """`headers` (names lowercased, as the web route stores them) with the bot's seal of
    `body` in place of the secret token: what is stored for a verified delivery, and for a
    body the bot vouches for (made by the catch-up from GitLab's API)."""
    kept = {k.lower(): v for k, v in headers.items()}
    kept.pop("x-gitlab-token", None)
    kept.pop(SEAL_HEADER, None)
    if secret is not None:
        kept[SEAL_HEADER] = seal_of(body, secret)
    return kept


def push_delivery(push: BranchPush) -> tuple[dict[str, str], bytes]:
    """A `Push Hook` for `branch` moving to `sha`, as `parse` reads one (without the token:
    see `sealed`): what the catch-up stores for a branch head no delivery told the bot
    about, and a manual trigger for a branch or (a `Tag Push Hook`) a tag. The changed
    `paths` (None: unknown, and path filters build) are listed as one commit's, the head's,
    which `parse` reads them from."""
    ref = f"refs/tags/{push.branch}" if push.tag else f"refs/heads/{push.branch}"
    fields.git_ref(ref, "branch")
    commits = [] if push.paths is None else [{"id": push.sha, "modified": list(push.paths)}]
    kind, event = ("tag_push", "Tag Push Hook") if push.tag else ("push", "Push Hook")
    payload = {
        "object_kind": kind, "event_name": kind, "ref": ref,
        "before": push.before, "after": fields.commit_sha(push.sha, "after"),
        "checkout_sha": push.sha,
        "user_username": push.actor, "commits": commits, "total_commits_count": len(commits),
        "project": {"id": push.repo.id, "path_with_namespace": push.repo.full_name,
                    "web_url": push.repo.html_url},
    } | fields.bot_member(push.only_builds, push.note, push.rebuilt_on)  # fmt: skip
    return fields.json_delivery(
        payload, {"x-gitlab-event": event, "x-gitlab-event-uuid": push.delivery_id}
    )


def _repo(payload: Mapping[str, Any]) -> Repo:
    # Only the path and id: where to clone from comes from the configuration, once the API
    # confirmed the project (ForgeApi.repository), never from the payload's git_http_url.
    path = fields.member(payload, "project.path_with_namespace", str)
    return Repo(
        NAME,
        fields.repo_path(path, "project.path_with_namespace"),
        html_url=fields.optional_member(payload, "project.web_url", str) or "",
        id=fields.member(payload, "project.id", int),
    )


def _changed_paths(payload: Mapping[str, Any]) -> tuple[str, ...] | None:
    """GitLab lists at most 20 commits (total_commits_count says how many there were)."""
    commits = fields.optional_member(payload, "commits", list) or []
    total = fields.optional_member(payload, "total_commits_count", int)
    if not commits or (total if total is not None else len(commits)) > len(commits):
        return None
    return fields.paths_of(commits)


def _push(payload: Mapping[str, Any], delivery_id: str, kind: EventKind) -> Webhook:
    ref, after = fields.member(payload, "ref", str), fields.member(payload, "after", str)
    if after == fields.ZERO_SHA:
        return Ignored(f"{ref} was deleted")
    prefix = "refs/tags/" if kind is EventKind.TAG else "refs/heads/"
    if not ref.startswith(prefix):
        raise PayloadError(f"has ref {ref!r}, which is not under {prefix}")
    fields.git_ref(ref, "ref")
    sha = fields.commit_sha(
        fields.optional_member(payload, "checkout_sha", str) or after, "checkout_sha"
    )
    changed = _changed_paths(payload) if kind is EventKind.PUSH else None
    actor = fields.optional_member(payload, "user_username", str) or (
        fields.optional_member(payload, "user_name", str) or ""
    )
    only_builds, note, rebuilt_on = fields.requested(payload)
    return Event(
        kind, _repo(payload), ref, sha, actor, delivery_id, changed_paths=changed,
        only_builds=only_builds, note=note, rebuilt_on=rebuilt_on,
    )  # fmt: skip


def _is_draft(attrs: Mapping[str, Any]) -> bool:
    # `draft` since GitLab 13.2; older GitLabs send only `work_in_progress` (draft: null).
    return bool(attrs.get("draft") or attrs.get("work_in_progress"))


def _marked_ready(payload: Mapping[str, Any]) -> bool:
    """Whether an `update` without new commits took the MR out of draft. GitLab lists what the
    update changed in `changes` as {"previous", "current"} (webhook_events.md, "Merge request
    events"): newer GitLabs list `draft` itself (gitlab-org/gitlab!126899, in the documented
    example); older ones only the title that lost its "Draft:" prefix."""
    if _is_draft(payload["object_attributes"]):
        return False
    changes = fields.optional_member(payload, "changes", dict) or {}
    for key in ("draft", "work_in_progress"):
        change = changes.get(key)
        if isinstance(change, Mapping):
            return bool(change.get("previous")) and not change.get("current")
    title = changes.get("title")
    if isinstance(title, Mapping):
        before, after = str(title.get("previous") or ""), str(title.get("current") or "")
        return bool(_DRAFT_TITLE.match(before)) and not _DRAFT_TITLE.match(after)
    return False


def _merge_request(payload: Mapping[str, Any], delivery_id: str) -> Webhook:
    attrs = fields.member(payload, "object_attributes", dict)
    name = fields.optional_member(attrs, "action", str) or ""
    action = _MR_ACTIONS.get(name)
    # "update" fires for title and label edits too: only new commits (oldrev, "only available
    # when there are actual code changes") or leaving draft call for a build.
    if action is PullAction.CHANGED and not attrs.get("oldrev"):
        action = PullAction.READY if _marked_ready(payload) else None
    if action is None:
        return Ignored(f"merge request action '{name}' changes no code")
    iid = fields.member(attrs, "iid", int)
    head_branch = fields.member(attrs, "source_branch", str)
    base_branch = fields.member(attrs, "target_branch", str)
    fields.git_ref(f"refs/heads/{head_branch}", "object_attributes.source_branch")
    fields.git_ref(f"refs/heads/{base_branch}", "object_attributes.target_branch")
    source_project = fields.member(attrs, "source_project_id", int)
    pull = PullRequest(
        number=iid,
        head_sha=fields.commit_sha(fields.member(attrs, "last_commit.id", str), "last_commit.id"),
        head_branch=head_branch,
        base_branch=base_branch,
        author="",  # the hook names only author_id: the driver looks the author up
        from_fork=source_project != fields.member(attrs, "target_project_id", int),
        draft=_is_draft(attrs),
        base_sha=base_branch,  # the hook has no target sha; a branch works as ref
        author_id=fields.member(attrs, "author_id", int),
        fetch_ref=f"refs/merge-requests/{iid}/head",  # GitLab keeps every MR's head here
    )
    return fields.pull_event(payload, _repo(payload), delivery_id, pull, action, "user.username")


def _note(payload: Mapping[str, Any], delivery_id: str) -> Webhook:
    attrs = fields.member(payload, "object_attributes", dict)
    noteable = fields.optional_member(attrs, "noteable_type", str)
    if noteable != "MergeRequest":
        return Ignored(f"a comment on a {noteable}, not a merge request")
    # Commands in edited comments do nothing (newer GitLabs send action "update" for edits).
    if (fields.optional_member(attrs, "action", str) or "create") != "create" or attrs.get(
        "system"
    ):
        return Ignored("an edited or system note")
    return fields.comment_event(payload, _repo(payload), delivery_id, _NOTE)


def parse(headers: Mapping[str, str], body: bytes, secret: str | None) -> Webhook:
    """Verify the token (when a secret is configured) and normalise the payload."""
    if secret is not None:
        verify_token(headers, body, secret)
    event = fields.header(headers, "X-Gitlab-Event") or ""
    delivery_id = fields.header(headers, "X-Gitlab-Event-UUID") or ""
    payload = fields.json_object(body)
    try:
        match event:
            case "Push Hook":
                return _push(payload, delivery_id, EventKind.PUSH)
            case "Tag Push Hook":
                return _push(payload, delivery_id, EventKind.TAG)
            case "Merge Request Hook":
                return _merge_request(payload, delivery_id)
            case "Note Hook":
                return _note(payload, delivery_id)
    except PayloadError as exc:
        raise PayloadError(f"{event} payload {exc}") from None
    return Ignored(f"event '{event}' is not handled")


def gitlab_webhooks(secret: str | None) -> Webhooks:
    """The GitLab webhook endpoint: `parse` bound to the configured secret token."""
    return Webhooks(
        NAME, secret, parse, delivery_header="X-Gitlab-Event-UUID",
        event_header="X-Gitlab-Event", sealer=sealed,
    )  # fmt: skip
