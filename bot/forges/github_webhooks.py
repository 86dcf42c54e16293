"""GitHub webhooks, sans I/O: verify the signature and turn a payload into an Event.

Facts follow GitHub's docs, "Webhook events and payloads" and "Validating webhook
deliveries". Nothing here talks to the network (gidgethub's sansio.py is the model).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from typing import Any

from bot.events import Comment, Event, EventKind, PullAction, PullRequest, Repo
from bot.forges.base import (
    ZERO_SHA,
    Ignored,
    PayloadError,
    Ping,
    SignatureError,
    Webhook,
    Webhooks,
    header,
    json_object,
    paths_of,
)

NAME = "github"
_PULL_ACTIONS = {
    "opened": PullAction.OPENED,
    "synchronize": PullAction.CHANGED,
    "reopened": PullAction.REOPENED,
    "ready_for_review": PullAction.READY,
    "closed": PullAction.CLOSED,
}


def verify_signature(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """X-Hub-Signature-256 is `sha256=` + the hex HMAC-SHA256 of the raw body, keyed with the
    webhook secret; compare in constant time (GitHub docs: "Validating webhook deliveries")."""
    signature = header(headers, "X-Hub-Signature-256")
    if not signature:
        raise SignatureError("missing X-Hub-Signature-256 header")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise SignatureError("X-Hub-Signature-256 does not match the payload")


def _repo(payload: Mapping[str, Any]) -> Repo:
    repository = payload["repository"]
    return Repo(
        forge=NAME,
        full_name=repository["full_name"],
        clone_url=repository["clone_url"],
        html_url=repository.get("html_url", ""),
    )


def _changed_paths(payload: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The files a push changed, when the payload lists them all: GitHub lists at most 20
    commits in a push payload, and none for a new branch, so then we do not know."""
    commits = payload.get("commits") or []
    if not commits or len(commits) >= 20:
        return None
    return paths_of(commits)


def _push(payload: Mapping[str, Any], delivery_id: str) -> Webhook:
    ref, after = payload["ref"], payload["after"]
    if payload.get("deleted") or after == ZERO_SHA:
        return Ignored(f"{ref} was deleted")
    if ref.startswith("refs/tags/"):
        kind = EventKind.TAG
    elif ref.startswith("refs/heads/"):
        kind = EventKind.PUSH
    else:
        return Ignored(f"push to {ref} is neither a branch nor a tag")
    actor = (payload.get("sender") or {}).get("login") or payload["pusher"]["name"]
    changed = _changed_paths(payload) if kind is EventKind.PUSH else None
    return Event(kind, _repo(payload), ref, after, actor, delivery_id, changed_paths=changed)


def pull_from_json(payload: Mapping[str, Any]) -> PullRequest:
    pull = payload.get("pull_request", payload)  # a webhook payload, or the API's PR object
    head_repo = pull["head"].get("repo")  # null when the fork was deleted
    base_repo = pull["base"]["repo"]
    number = int(pull["number"])
    return PullRequest(
        number=number,
        head_sha=pull["head"]["sha"],
        head_branch=pull["head"]["ref"],
        base_branch=pull["base"]["ref"],
        author=pull["user"]["login"],
        from_fork=head_repo is None or head_repo["full_name"] != base_repo["full_name"],
        draft=bool(pull.get("draft")),
        base_sha=pull["base"]["sha"],
        fetch_ref=f"refs/pull/{number}/head",  # GitHub keeps every PR's head here
    )


def _pull_request(payload: Mapping[str, Any], delivery_id: str) -> Webhook:
    action = _PULL_ACTIONS.get(payload["action"])
    if action is None:
        return Ignored(f"pull_request action '{payload['action']}' is not handled")
    pull = pull_from_json(payload)
    return Event(
        EventKind.PULL_REQUEST, _repo(payload), pull.fetch_ref, pull.head_sha,
        payload["sender"]["login"], delivery_id, pull=pull, pull_action=action,
    )  # fmt: skip


def _issue_comment(payload: Mapping[str, Any], delivery_id: str) -> Webhook:
    # Commands in edited or deleted comments do nothing: only a new comment is a request.
    if payload["action"] != "created":
        return Ignored(f"issue_comment action '{payload['action']}' is not handled")
    issue = payload["issue"]
    if not issue.get("pull_request"):
        return Ignored("a comment on an issue, not a pull request")
    comment = payload["comment"]
    author = comment["user"]["login"]
    return Event(
        EventKind.COMMENT, _repo(payload), "", "", author, delivery_id,
        comment=Comment(int(comment["id"]), comment["body"] or "", author),
        pr_number=int(issue["number"]),
    )  # fmt: skip


def _release(payload: Mapping[str, Any], delivery_id: str) -> Webhook:
    # "published" is the moment a release is public (drafts are not); B2I builds then.
    if payload["action"] != "published":
        return Ignored(f"release action '{payload['action']}' is not handled")
    release = payload["release"]
    return Event(
        EventKind.RELEASE, _repo(payload), f"refs/tags/{release['tag_name']}", "",
        payload["sender"]["login"], delivery_id, release_id=int(release["id"]),
    )  # fmt: skip


_PARSERS: dict[str, Callable[[Mapping[str, Any], str], Webhook]] = {
    "push": _push,
    "pull_request": _pull_request,
    "issue_comment": _issue_comment,
    "release": _release,
}


def parse(headers: Mapping[str, str], body: bytes, secret: str | None) -> Webhook:
    """Verify the signature (when a secret is configured) and normalise the payload."""
    if secret is not None:
        verify_signature(headers, body, secret)
    event = header(headers, "X-GitHub-Event") or ""
    delivery_id = header(headers, "X-GitHub-Delivery") or ""
    payload = json_object(body)
    if event == "ping":
        return Ping(str(payload.get("zen", "")))
    parser = _PARSERS.get(event)
    if parser is None:
        return Ignored(f"event '{event}' is not handled")
    try:
        return parser(payload, delivery_id)
    except (KeyError, TypeError, ValueError) as exc:
        raise PayloadError(f"{event} payload lacks {exc}") from exc


def github_webhooks(secret: str | None) -> Webhooks:
    """The GitHub webhook endpoint: `parse` bound to the configured secret."""
    return Webhooks(
        NAME, secret, parse, delivery_header="X-GitHub-Delivery", event_header="X-GitHub-Event"
    )
