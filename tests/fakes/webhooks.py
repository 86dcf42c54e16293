"""Webhook deliveries as GitHub sends them, from the real payloads in
``@octokit/webhooks-examples`` (``api.github.com/index.json``: a list of
``{"name": event, "actions": [...], "examples": [payload, ...]}``).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import json
import urllib.parse
import uuid
from typing import Any

from tests.fakes import openapi
from tests.fakes.git import ZERO_SHA
from tests.fakes.github_objects import FakeRepo

__all__ = ["ZERO_SHA", "github_headers", "load_example", "push_payload", "sign"]

JSON = Any
# GitHub's hookshot agent; the suffix is a build id that changes from delivery to delivery.
USER_AGENT = "GitHub-Hookshot/044aadd"


@functools.cache
def _examples() -> dict[str, list[dict[str, JSON]]]:
    path = openapi.octokit_dir() / "webhooks-examples" / "api.github.com" / "index.json"
    with path.open("rb") as f:
        return {event["name"]: event["examples"] for event in json.load(f)}


def load_example(event: str, action: str | None = None) -> dict[str, JSON]:
    """A deep copy of GitHub's first example payload for ``event`` (and ``action``)."""
    examples = _examples().get(event)
    if examples is None:
        raise KeyError(f"no webhook examples for event {event!r}; known: {sorted(_examples())}")
    for example in examples:
        if action is None or example.get("action") == action:
            return copy.deepcopy(example)
    actions = sorted({str(e.get("action")) for e in examples})
    raise KeyError(f"no {event!r} example with action {action!r}; known: {actions}")


def _retarget(value: JSON, old: str, new: str) -> JSON:
    if isinstance(value, dict):
        return {k: _retarget(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_retarget(v, old, new) for v in value]
    if isinstance(value, str):
        return value.replace(old, new)
    return value


def push_payload(
    repo: FakeRepo, *, ref: str, before: str, after: str, pusher: str = "octocat"
) -> dict[str, JSON]:
    """GitHub's ``push`` example (a branch push) adapted to ``repo`` and the given shas.

    Keeps GitHub's quirks of push payloads: ``repository.url`` is the HTML URL and
    ``created_at``/``pushed_at`` are Unix times. ``head_commit`` is None for a deletion
    (``after`` all zeros), as GitHub sends it.
    """
    payload = next(
        copy.deepcopy(e)
        for e in _examples()["push"]
        if e["ref"].startswith("refs/heads/") and e["head_commit"]
    )
    old = payload["repository"]
    old_full, old_owner = old["full_name"], old["owner"]["login"]
    host = urllib.parse.urlsplit(repo.web_url).netloc
    for prefix, new in (
        (f"https://api.github.com/repos/{old_full}", repo.url),
        (f"https://github.com/{old_full}", repo.html_url),
        (f"git://github.com/{old_full}", f"git://{host}/{repo.full_name}"),
        (f"git@github.com:{old_full}", f"git@{host}:{repo.full_name}"),
        (f"https://api.github.com/users/{old_owner}", f"{repo.api_url}/users/{repo.owner}"),
        (f"https://github.com/{old_owner}", f"{repo.web_url}/{repo.owner}"),
        ("https://api.github.com", repo.api_url),
        ("https://github.com", repo.web_url),
    ):
        payload = _retarget(payload, prefix, new)
    repository = payload["repository"]
    repository.update(
        id=repo.id,
        name=repo.name,
        full_name=repo.full_name,
        url=repo.html_url,  # sic: push payloads carry the HTML URL here
        html_url=repo.html_url,
        clone_url=repo.clone_url,
        default_branch=repo.default_branch,
        master_branch=repo.default_branch,
    )
    repository["owner"].update(login=repo.owner, name=repo.owner)
    payload["pusher"] = {"name": pusher, "email": f"{pusher}@users.noreply.github.com"}
    payload["sender"]["login"] = pusher
    payload.update(
        ref=ref,
        before=before,
        after=after,
        created=before == ZERO_SHA,
        deleted=after == ZERO_SHA,
        compare=f"{repo.html_url}/compare/{before[:12]}...{after[:12]}",
    )
    if after == ZERO_SHA:
        payload.update(head_commit=None, commits=[])
        return dict(payload)
    head = payload["head_commit"]
    if repo.bare.resolve(after) == after:
        info = repo.bare.commit_info(after)
        head.update(tree_id=info.tree, message=info.message.rstrip("\n"))
    head.update(id=after, url=f"{repo.html_url}/commit/{after}")
    payload["commits"] = [copy.deepcopy(head)]
    return dict(payload)


def sign(body: bytes, secret: str) -> str:
    """``X-Hub-Signature-256``: ``sha256=`` + hex HMAC-SHA256 of the raw body, keyed by the
    webhook secret (GitHub docs, "Validating webhook deliveries")."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_headers(
    event: str, body: bytes, secret: str | None, delivery: str | None = None
) -> dict[str, str]:
    """The headers of a GitHub delivery ("Webhook events and payloads", "Delivery headers").

    Without a secret GitHub sends no signature header at all.
    """
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "1",
        "X-GitHub-Hook-Installation-Target-Type": "repository",
        "X-GitHub-Hook-Installation-Target-ID": "1",
    }
    if secret is not None:
        headers["X-Hub-Signature-256"] = sign(body, secret)
    return headers
