"""GitHub webhooks, sans I/O: verify the signature and turn a payload into an Event.

Facts follow GitHub's docs, "Webhook events and payloads" and "Validating webhook
deliveries". Nothing here talks to the network (gidgethub's sansio.py is the model).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.parse
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
    commit_sha,
    git_ref,
    header,
    json_object,
    member,
    optional_member,
    paths_of,
    repo_path,
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
    expected = signature_of(body, secret)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise SignatureError("X-Hub-Signature-256 does not match the payload")


def signature_of(body: bytes, secret: str) -> str:
    """The X-Hub-Signature-256 value GitHub sends for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def sealed(headers: Mapping[str, str], body: bytes, secret: str | None) -> dict[str, str]:
    """`headers` (names lowercased, as the web route stores them) with the signature of
    `body` in place of any the forge sent: for a body the bot vouches for (read from GitHub's
    API, or made by the catch-up), so it passes `parse` as a delivery GitHub signed does."""
    kept = {k.lower(): v for k, v in headers.items()}
    kept.pop("x-hub-signature", None)
    kept.pop("x-hub-signature-256", None)
    if secret is not None:
        kept["x-hub-signature-256"] = signature_of(body, secret)
    return kept


def push_delivery(
    repo: Repo,
    branch: str,
    before: str,
    sha: str,
    delivery_id: str,
    actor: str,
    paths: tuple[str, ...] | None,
) -> tuple[dict[str, str], bytes]:
    """A `push` webhook for `branch` moving to `sha`, as `parse` reads one (unsigned: see
    `sealed`): what the catch-up stores for a branch head no delivery told the bot about.
    The changed `paths` (None: unknown, and path filters build) are listed as one commit's,
    the head's, which `parse` reads them from."""
    git_ref(f"refs/heads/{branch}", "branch")
    commits = [] if paths is None else [{"id": sha, "modified": list(paths)}]
    payload = {
        "ref": f"refs/heads/{branch}", "before": before, "after": commit_sha(sha, "after"),
        "created": False, "deleted": False, "forced": False, "commits": commits,
        "head_commit": None, "pusher": {"name": actor}, "sender": {"login": actor},
        "repository": {"id": repo.id, "full_name": repo.full_name, "html_url": repo.html_url},
    }  # fmt: skip
    headers = {
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": delivery_id,
    }
    return headers, json.dumps(payload).encode()


def _repo(payload: Mapping[str, Any]) -> Repo:
    # Only the name and id: where to clone from comes from the configuration, once the API
    # confirmed the repository (ForgeApi.repository), never from the payload's clone_url.
    return Repo(
        forge=NAME,
        full_name=repo_path(member(payload, "repository.full_name", str), "repository.full_name"),
        html_url=optional_member(payload, "repository.html_url", str) or "",
        id=member(payload, "repository.id", int),
    )


def _changed_paths(payload: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The files a push changed, when the payload lists them all: GitHub lists at most 20
    commits in a push payload, and none for a new branch, so then we do not know."""
    commits = optional_member(payload, "commits", list) or []
    if not commits or len(commits) >= 20:
        return None
    return paths_of(commits)


def _push(payload: Mapping[str, Any], delivery_id: str) -> Webhook:
    ref, after = member(payload, "ref", str), member(payload, "after", str)
    if optional_member(payload, "deleted", bool) or after == ZERO_SHA:
        return Ignored(f"{ref} was deleted")
    if ref.startswith("refs/tags/"):
        kind = EventKind.TAG
    elif ref.startswith("refs/heads/"):
        kind = EventKind.PUSH
    else:
        return Ignored(f"push to {ref} is neither a branch nor a tag")
    git_ref(ref, "ref")
    actor = optional_member(payload, "sender.login", str) or member(payload, "pusher.name", str)
    changed = _changed_paths(payload) if kind is EventKind.PUSH else None
    return Event(
        kind, _repo(payload), ref, commit_sha(after, "after"), actor, delivery_id,
        changed_paths=changed,
    )  # fmt: skip


def pull_from_json(payload: Mapping[str, Any]) -> PullRequest:
    """A pull request from a webhook payload or from the API's PR object; PayloadError when
    a field is missing or not what GitHub documents."""
    pull = optional_member(payload, "pull_request", dict) or payload
    head_repo = optional_member(pull, "head.repo.full_name", str)  # null: the fork is gone
    number = member(pull, "number", int)
    head_branch = member(pull, "head.ref", str)
    base_branch = member(pull, "base.ref", str)
    git_ref(f"refs/heads/{head_branch}", "head.ref")
    git_ref(f"refs/heads/{base_branch}", "base.ref")
    return PullRequest(
        number=number,
        head_sha=commit_sha(member(pull, "head.sha", str), "head.sha"),
        head_branch=head_branch,
        base_branch=base_branch,
        author=member(pull, "user.login", str),
        from_fork=head_repo is None or head_repo != member(pull, "base.repo.full_name", str),
        draft=bool(optional_member(pull, "draft", bool)),
        base_sha=commit_sha(member(pull, "base.sha", str), "base.sha"),
        author_id=member(pull, "user.id", int),
        fetch_ref=f"refs/pull/{number}/head",  # GitHub keeps every PR's head here
    )


def _pull_request(payload: Mapping[str, Any], delivery_id: str) -> Webhook:
    name = member(payload, "action", str)
    action = _PULL_ACTIONS.get(name)
    if action is None:
        return Ignored(f"pull_request action '{name}' is not handled")
    pull = pull_from_json(payload)
    return Event(
        EventKind.PULL_REQUEST, _repo(payload), pull.fetch_ref, pull.head_sha,
        member(payload, "sender.login", str), delivery_id, pull=pull, pull_action=action,
    )  # fmt: skip


def _issue_comment(payload: Mapping[str, Any], delivery_id: str) -> Webhook:
    # Commands in edited or deleted comments do nothing: only a new comment is a request.
    action = member(payload, "action", str)
    if action != "created":
        return Ignored(f"issue_comment action '{action}' is not handled")
    if not optional_member(payload, "issue.pull_request", dict):
        return Ignored("a comment on an issue, not a pull request")
    author = member(payload, "comment.user.login", str)
    comment = Comment(
        member(payload, "comment.id", int),
        optional_member(payload, "comment.body", str) or "",
        author,
        author_id=member(payload, "comment.user.id", int),
    )
    return Event(
        EventKind.COMMENT, _repo(payload), "", "", author, delivery_id,
        comment=comment, pr_number=member(payload, "issue.number", int),
    )  # fmt: skip


def _release(payload: Mapping[str, Any], delivery_id: str) -> Webhook:
    # "published" is the moment a release is public (drafts are not); B2I builds then.
    action = member(payload, "action", str)
    if action != "published":
        return Ignored(f"release action '{action}' is not handled")
    ref = git_ref(f"refs/tags/{member(payload, 'release.tag_name', str)}", "release.tag_name")
    return Event(
        EventKind.RELEASE, _repo(payload), ref, "", member(payload, "sender.login", str),
        delivery_id, release_id=member(payload, "release.id", int),
    )  # fmt: skip


_PARSERS: dict[str, Callable[[Mapping[str, Any], str], Webhook]] = {
    "push": _push,
    "pull_request": _pull_request,
    "issue_comment": _issue_comment,
    "release": _release,
}
_FORM = "application/x-www-form-urlencoded"


def payload_of(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """The JSON object a delivery carries: the body itself (content type application/json),
    or its `payload` form field (application/x-www-form-urlencoded; GitHub docs, "Creating
    webhooks": the JSON "as a form parameter called `payload`")."""
    content_type = (header(headers, "Content-Type") or "").split(";")[0].strip().lower()
    if content_type != _FORM:
        return json_object(body)
    try:
        # Strict: a field without "=" or with a bad escape is an error, not skipped.
        fields = urllib.parse.parse_qs(
            body.decode("ascii"), keep_blank_values=True, strict_parsing=True,
            errors="strict", max_num_fields=16,
        )  # fmt: skip
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError(f"the form-encoded body is not valid: {exc}") from None
    values = fields.get("payload")
    if values is None:
        raise PayloadError("the form-encoded body has no `payload` field")
    if len(values) != 1:
        raise PayloadError("the form-encoded body has more than one `payload` field")
    return json_object(values[0].encode())


def parse(headers: Mapping[str, str], body: bytes, secret: str | None) -> Webhook:
    """Verify the signature over the raw body (when a secret is configured), then normalise
    the payload; SignatureError or PayloadError otherwise."""
    if secret is not None:
        verify_signature(headers, body, secret)
    event = header(headers, "X-GitHub-Event") or ""
    delivery_id = header(headers, "X-GitHub-Delivery") or ""
    payload = payload_of(headers, body)
    if event == "ping":
        return Ping(str(payload.get("zen", "")))
    parser = _PARSERS.get(event)
    if parser is None:
        return Ignored(f"event '{event}' is not handled")
    try:
        return parser(payload, delivery_id)
    except PayloadError as exc:
        raise PayloadError(f"{event} payload {exc}") from None


def github_webhooks(secret: str | None) -> Webhooks:
    """The GitHub webhook endpoint: `parse` bound to the configured secret."""
    return Webhooks(
        NAME, secret, parse, delivery_header="X-GitHub-Delivery", event_header="X-GitHub-Event",
        sealer=sealed,
    )  # fmt: skip
