"""GitHub webhooks, sans I/O: verify the signature and turn a payload into an Event.

Facts follow GitHub's docs, "Webhook events and payloads" and "Validating webhook
deliveries". Nothing here talks to the network (gidgethub's sansio.py is the model).
"""

from __future__ import annotations

import hmac
import re
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from bot.events import BranchPush, Event, EventKind, PullAction, PullRequest, Repo, Rerun
from bot.forges import fields
from bot.forges.base import Ignored, Ping, SignatureError, Webhook, Webhooks
from bot.forges.fields import PayloadError

NAME = "github"
_PULL_ACTIONS = {
    "opened": PullAction.OPENED,
    "synchronize": PullAction.CHANGED,
    "reopened": PullAction.REOPENED,
    "ready_for_review": PullAction.READY,
    "closed": PullAction.CLOSED,
}

# Where an issue_comment payload has the comment (GitHub docs, "issue_comment").
_COMMENT = fields.CommentPaths(
    id="comment.id", body="comment.body", author="comment.user.login",
    author_id="comment.user.id", pr_number="issue.number",
)  # fmt: skip


def verify_signature(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """X-Hub-Signature-256 is `sha256=` + the hex HMAC-SHA256 of the raw body, keyed with the
    webhook secret; compare in constant time (GitHub docs: "Validating webhook deliveries")."""
    signature = fields.header(headers, "X-Hub-Signature-256")
    if not signature:
        raise SignatureError("missing X-Hub-Signature-256 header")
    expected = signature_of(body, secret)
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        raise SignatureError("X-Hub-Signature-256 does not match the payload")


def signature_of(body: bytes, secret: str) -> str:
    """The X-Hub-Signature-256 value GitHub sends for `body`."""
    return "sha256=" + hmac.digest(secret.encode(), body, "sha256").hex()


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


def push_delivery(push: BranchPush) -> tuple[dict[str, str], bytes]:
    """A `push` webhook for `branch` moving to `sha`, as `parse` reads one (unsigned: see
    `sealed`): what the catch-up stores for a branch head no delivery told the bot about, and
    a manual trigger for a branch or a tag (GitHub sends a tag's push as a `push` to
    refs/tags/<tag>). The changed `paths` (None: unknown, and path filters build) are listed
    as one commit's, the head's, which `parse` reads them from."""
    ref = f"refs/tags/{push.branch}" if push.tag else f"refs/heads/{push.branch}"
    fields.git_ref(ref, "branch")
    commits = [] if push.paths is None else [{"id": push.sha, "modified": list(push.paths)}]
    repo = push.repo
    payload = {
        "ref": ref, "before": push.before, "after": fields.commit_sha(push.sha, "after"),
        "created": push.tag, "deleted": False, "forced": False, "commits": commits,
        "head_commit": None, "pusher": {"name": push.actor}, "sender": {"login": push.actor},
        "repository": {"id": repo.id, "full_name": repo.full_name, "html_url": repo.html_url},
    } | fields.bot_member(push.only_builds, push.note, push.rebuilt_on)  # fmt: skip
    return fields.json_delivery(
        payload, {"x-github-event": "push", "x-github-delivery": push.delivery_id}
    )


def _repo(payload: Mapping[str, Any]) -> Repo:
    # Only the name and id: where to clone from comes from the configuration, once the API
    # confirmed the repository (ForgeApi.repository), never from the payload's clone_url.
    return Repo(
        forge=NAME,
        full_name=fields.repo_path(
            fields.member(payload, "repository.full_name", str), "repository.full_name"
        ),
        html_url=fields.optional_member(payload, "repository.html_url", str) or "",
        id=fields.member(payload, "repository.id", int),
    )


def _changed_paths(payload: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The files a push changed, when the payload lists them all: GitHub lists at most 20
    commits in a push payload, and none for a new branch, so then we do not know."""
    commits = fields.optional_member(payload, "commits", list) or []
    if not commits or len(commits) >= 20:
        return None
    return fields.paths_of(commits)


def _push(payload: Mapping[str, Any], delivery_id: str) -> Webhook:
    ref, after = fields.member(payload, "ref", str), fields.member(payload, "after", str)
    if fields.optional_member(payload, "deleted", bool) or after == fields.ZERO_SHA:
        return Ignored(f"{ref} was deleted")
    if ref.startswith("refs/tags/"):
        kind = EventKind.TAG
    elif ref.startswith("refs/heads/"):
        kind = EventKind.PUSH
    else:
        return Ignored(f"push to {ref} is neither a branch nor a tag")
    fields.git_ref(ref, "ref")
    actor = fields.optional_member(payload, "sender.login", str) or fields.member(
        payload, "pusher.name", str
    )
    changed = _changed_paths(payload) if kind is EventKind.PUSH else None
    only_builds, note, rebuilt_on = fields.requested(payload)
    return Event(
        kind, _repo(payload), ref, fields.commit_sha(after, "after"), actor, delivery_id,
        changed_paths=changed, only_builds=only_builds, note=note, rebuilt_on=rebuilt_on,
    )  # fmt: skip


def pull_from_json(payload: Mapping[str, Any]) -> PullRequest:
    """A pull request from a webhook payload or from the API's PR object; PayloadError when
    a field is missing or not what GitHub documents."""
    pull = fields.optional_member(payload, "pull_request", dict) or payload
    head_repo = fields.optional_member(pull, "head.repo.full_name", str)  # null: the fork is gone
    number = fields.member(pull, "number", int)
    head_branch = fields.member(pull, "head.ref", str)
    base_branch = fields.member(pull, "base.ref", str)
    fields.git_ref(f"refs/heads/{head_branch}", "head.ref")
    fields.git_ref(f"refs/heads/{base_branch}", "base.ref")
    return PullRequest(
        number=number,
        head_sha=fields.commit_sha(fields.member(pull, "head.sha", str), "head.sha"),
        head_branch=head_branch,
        base_branch=base_branch,
        author=fields.member(pull, "user.login", str),
        from_fork=head_repo is None or head_repo != fields.member(pull, "base.repo.full_name", str),
        draft=bool(fields.optional_member(pull, "draft", bool)),
        base_sha=fields.commit_sha(fields.member(pull, "base.sha", str), "base.sha"),
        author_id=fields.member(pull, "user.id", int),
        fetch_ref=f"refs/pull/{number}/head",  # GitHub keeps every PR's head here
    )


def _pull_request(payload: Mapping[str, Any], delivery_id: str) -> Webhook:
    name = fields.member(payload, "action", str)
    action = _PULL_ACTIONS.get(name)
    if action is None:
        return Ignored(f"pull_request action '{name}' is not handled")
    pull = pull_from_json(payload)
    return fields.pull_event(payload, _repo(payload), delivery_id, pull, action, "sender.login")


def _issue_comment(payload: Mapping[str, Any], delivery_id: str) -> Webhook:
    # Commands in edited or deleted comments do nothing: only a new comment is a request.
    action = fields.member(payload, "action", str)
    if action != "created":
        return Ignored(f"issue_comment action '{action}' is not handled")
    if not fields.optional_member(payload, "issue.pull_request", dict):
        return Ignored("a comment on an issue, not a pull request")
    return fields.comment_event(payload, _repo(payload), delivery_id, _COMMENT)


def _release(payload: Mapping[str, Any], delivery_id: str) -> Webhook:
    # "published" is the moment a release is public (drafts are not); B2I builds then.
    action = fields.member(payload, "action", str)
    if action != "published":
        return Ignored(f"release action '{action}' is not handled")
    ref = fields.git_ref(
        f"refs/tags/{fields.member(payload, 'release.tag_name', str)}", "release.tag_name"
    )
    return Event(
        EventKind.RELEASE, _repo(payload), ref, "", fields.member(payload, "sender.login", str),
        delivery_id, release_id=fields.member(payload, "release.id", int),
    )  # fmt: skip


# A build's key (bot/store.py: secrets.token_urlsafe), which the bot gives its check runs as
# their external_id: a check run without one that looks like it is not the bot's.
_BUILD_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


def _rerun(payload: Mapping[str, Any], delivery_id: str, kind: str) -> Webhook:
    """`check_run` / `check_suite` `rerequested` (GitHub docs, "Webhook events and payloads":
    someone chose "Re-run" on a check run, or "Re-run all checks" on its suite)."""
    action = fields.member(payload, "action", str)
    if action != "rerequested":
        return Ignored(f"{kind} action '{action}' is not handled")
    key = None
    if kind == "check_run":
        key = fields.optional_member(payload, "check_run.external_id", str) or ""
        if not _BUILD_KEY.fullmatch(key):
            return Ignored("a check run the bot did not make (its external_id is no build key)")
    sha = fields.commit_sha(fields.member(payload, f"{kind}.head_sha", str), f"{kind}.head_sha")
    requester = fields.member(payload, "sender.login", str)
    return Event(
        EventKind.RERUN, _repo(payload), "", sha, requester, delivery_id,
        rerun=Rerun(key, requester, fields.optional_member(payload, "sender.id", int)),
    )  # fmt: skip


_PARSERS: dict[str, Callable[[Mapping[str, Any], str], Webhook]] = {
    "push": _push,
    "pull_request": _pull_request,
    "issue_comment": _issue_comment,
    "release": _release,
    "check_run": lambda payload, delivery_id: _rerun(payload, delivery_id, "check_run"),
    "check_suite": lambda payload, delivery_id: _rerun(payload, delivery_id, "check_suite"),
}
_FORM = "application/x-www-form-urlencoded"


def payload_of(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """The JSON object a delivery carries: the body itself (content type application/json),
    or its `payload` form field (application/x-www-form-urlencoded; GitHub docs, "Creating
    webhooks": the JSON "as a form parameter called `payload`")."""
    content_type = (fields.header(headers, "Content-Type") or "").split(";")[0].strip().lower()
    if content_type != _FORM:
        return fields.json_object(body)
    try:
        # Strict: a field without "=" or with a bad escape is an error, not skipped.
        form = urllib.parse.parse_qs(
            body.decode("ascii"), keep_blank_values=True, strict_parsing=True,
            errors="strict", max_num_fields=16,
        )  # fmt: skip
    except (UnicodeDecodeError, ValueError) as exc:
        raise PayloadError(f"the form-encoded body is not valid: {exc}") from None
    values = form.get("payload")
    if values is None:
        raise PayloadError("the form-encoded body has no `payload` field")
    if len(values) != 1:
        raise PayloadError("the form-encoded body has more than one `payload` field")
    return fields.json_object(values[0].encode())


def parse(headers: Mapping[str, str], body: bytes, secret: str | None) -> Webhook:
    """Verify the signature over the raw body (when a secret is configured), then normalise
    the payload; SignatureError or PayloadError otherwise."""
    if secret is not None:
        verify_signature(headers, body, secret)
    event = fields.header(headers, "X-GitHub-Event") or ""
    delivery_id = fields.header(headers, "X-GitHub-Delivery") or ""
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
