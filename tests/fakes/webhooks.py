"""Webhook deliveries as GitHub sends them, from the real payloads in
``@octokit/webhooks-examples`` (``api.github.com/index.json``: a list of
``{"name": event, "actions": [...], "examples": [payload, ...]}``), stored in
``tests/fakes/data/github/`` (see the README there).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import json
import lzma
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

from tests.fakes import github_objects as objects
from tests.fakes.git import ZERO_SHA
from tests.fakes.github_checks import CheckRunRecord
from tests.fakes.github_repo import FakeRepo

__all__ = [
    "ZERO_SHA",
    "check_run_rerequested_payload",
    "check_suite_rerequested_payload",
    "github_headers",
    "issue_comment_payload",
    "load_example",
    "load_examples",
    "pull_request_payload",
    "push_payload",
    "release_payload",
    "sign",
    "tag_push_payload",
]

JSON = Any
EXAMPLES = Path(__file__).parent / "data" / "github" / "webhooks-examples.json.xz"
# GitHub's hookshot agent; the suffix is a build id that changes from delivery to delivery.
USER_AGENT = "GitHub-Hookshot/044aadd"


@functools.cache
def _examples() -> dict[str, list[dict[str, JSON]]]:
    with lzma.open(EXAMPLES) as f:
        return {event["name"]: event["examples"] for event in json.load(f)}


def load_examples(event: str) -> list[dict[str, JSON]]:
    """Deep copies of all GitHub's example payloads for ``event``, every action."""
    examples = _examples().get(event)
    if examples is None:
        raise KeyError(f"no webhook examples for event {event!r}; known: {sorted(_examples())}")
    return copy.deepcopy(examples)


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


def _adapt_repository(payload: dict[str, JSON], repo: FakeRepo) -> dict[str, JSON]:
    """``payload`` with the example's repository (URLs, owner, identity) replaced by ``repo``."""
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
    payload["repository"].update(
        id=repo.id,
        name=repo.name,
        full_name=repo.full_name,
        html_url=repo.html_url,
        clone_url=repo.clone_url,
        default_branch=repo.default_branch,
        fork=repo.parent is not None,
    )
    # Some examples predate fields GitHub's webhook schema now requires.
    for key, value in (("has_discussions", False), ("topics", []), ("visibility", "public")):
        payload["repository"].setdefault(key, value)
    owner = payload["repository"]["owner"]
    owner.update(objects.user(repo.owner, repo.web_url, repo.api_url))
    if "name" in owner:  # push payloads' owners carry a name
        owner["name"] = repo.owner
    return payload


def _finish(
    payload: dict[str, JSON], repo: FakeRepo, sender: str, installation: int | None
) -> dict[str, JSON]:
    payload["sender"] = objects.user(sender, repo.web_url, repo.api_url)
    payload.pop("organization", None)  # the fake's owners are users
    payload.pop("installation", None)
    if installation is not None:
        # Deliveries to a GitHub App name the installation ("Using webhooks with GitHub Apps").
        payload["installation"] = {
            "id": installation,
            "node_id": f"MDIzOkludGVncmF0aW9u{installation}",
        }
    return dict(payload)


def _push(
    example: dict[str, JSON], repo: FakeRepo, ref: str, before: str, after: str, pusher: str
) -> dict[str, JSON]:
    payload = _adapt_repository(example, repo)
    # Push payloads' quirk: repository.url is the HTML URL (and times are Unix times).
    payload["repository"].update(url=repo.html_url, master_branch=repo.default_branch)
    payload["pusher"] = {"name": pusher, "email": f"{pusher}@users.noreply.github.com"}
    payload.update(
        ref=ref,
        before=before,
        after=after,
        created=before == ZERO_SHA,
        deleted=after == ZERO_SHA,
        compare=f"{repo.html_url}/compare/{before[:12]}...{after[:12]}",
    )
    return payload


def push_payload(
    repo: FakeRepo, *, ref: str, before: str, after: str, pusher: str = "octocat"
) -> dict[str, JSON]:
    """GitHub's ``push`` example (a branch push) adapted to ``repo`` and the given shas.

    Keeps GitHub's quirks of push payloads: ``repository.url`` is the HTML URL and
    ``created_at``/``pushed_at`` are Unix times. ``head_commit`` is None for a deletion
    (``after`` all zeros), as GitHub sends it.
    """
    example = next(
        e for e in load_examples("push") if e["ref"].startswith("refs/heads/") and e["head_commit"]
    )
    payload = _push(example, repo, ref, before, after, pusher)
    payload["sender"]["login"] = pusher
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


def tag_push_payload(
    repo: FakeRepo,
    tag: str,
    sha: str | None = None,
    *,
    pusher: str = "octocat",
    installation: int | None = None,
) -> dict[str, JSON]:
    """GitHub's ``push`` example for a new tag (``refs/tags/<tag>``), adapted to ``repo``.

    ``after`` is what the tag ref holds (for an annotated tag, the tag object); ``sha`` is
    the tagged commit (default: what ``repo``'s tag points at). As GitHub sends a tag
    creation: ``created`` true, ``commits`` empty, ``head_commit`` the tagged commit.
    """
    example = next(
        e for e in load_examples("push") if e["ref"].startswith("refs/tags/") and e["head_commit"]
    )
    ref = f"refs/tags/{tag}"
    commit = sha or repo.bare.resolve(ref)
    if commit is None:
        raise KeyError(f"{repo.full_name} has no tag {tag!r}: repo.create_tag() it first")
    after = repo.bare.ref_value(ref) or commit
    payload = _push(example, repo, ref, ZERO_SHA, after, pusher)
    payload.update(commits=[], base_ref=None, compare=f"{repo.html_url}/compare/{tag}")
    head = payload["head_commit"]
    head.update(id=commit, url=f"{repo.html_url}/commit/{commit}")
    if repo.bare.resolve(commit) == commit:
        info = repo.bare.commit_info(commit)
        head.update(tree_id=info.tree, message=info.message.rstrip("\n"))
    return _finish(payload, repo, pusher, installation)


PULL_REQUEST_ACTIONS = ("opened", "synchronize", "reopened", "closed", "ready_for_review")


def pull_request_payload(
    repo: FakeRepo,
    number: int,
    action: str,
    *,
    sender: str | None = None,
    installation: int | None = None,
) -> dict[str, JSON]:
    """GitHub's ``pull_request`` example for ``action``, adapted to pull request ``number``
    of ``repo`` as it is now (so close it before building a ``closed`` delivery).

    ``pull_request`` carries what the REST API shows: head and base (``head.repo.fork`` for a
    fork), ``head.sha``, ``user``, ``author_association``, ``draft``, ``merged``. A
    ``synchronize`` delivery also has ``before``/``after``, the head before and after the push.
    """
    if action not in PULL_REQUEST_ACTIONS:
        raise ValueError(f"action {action!r}: one of {', '.join(PULL_REQUEST_ACTIONS)}")
    pull = repo.pull(number)
    payload = _adapt_repository(load_example("pull_request", action), repo)
    with repo.lock:
        payload["pull_request"].update(objects.pull_request(repo, pull))
    payload["number"] = number
    if action == "synchronize":
        payload.update(before=pull.previous_head_sha or pull.head_sha, after=pull.head_sha)
    return _finish(payload, repo, sender or pull.author, installation)


def issue_comment_payload(
    repo: FakeRepo,
    number: int,
    comment: dict[str, JSON],
    action: str = "created",
    *,
    previous_body: str | None = None,
    installation: int | None = None,
) -> dict[str, JSON]:
    """GitHub's ``issue_comment`` example for ``action`` (created, edited, deleted), with
    ``comment`` (as ``repo.add_comment`` returns it) on issue or pull request ``number``.

    For a pull request ``issue.pull_request`` is set, as GitHub sends it; that is how a
    receiver tells comments on pull requests from comments on issues. ``edited`` carries
    ``changes.body.from`` = ``previous_body``.
    """
    if action not in ("created", "edited", "deleted"):
        raise ValueError(f"action {action!r}: one of created, edited, deleted")
    payload = _adapt_repository(load_example("issue_comment", action), repo)
    with repo.lock:
        payload["issue"] = objects.issue(repo, repo.issues[number])
    payload["comment"] = copy.deepcopy(comment)
    if action == "edited":
        payload["changes"] = {"body": {"from": previous_body or ""}}
    else:
        payload.pop("changes", None)
    return _finish(payload, repo, comment["user"]["login"], installation)


RELEASE_ACTIONS = ("published", "created", "edited", "deleted", "prereleased", "released")


def release_payload(
    repo: FakeRepo,
    release_id: int,
    action: str = "published",
    *,
    sender: str | None = None,
    installation: int | None = None,
) -> dict[str, JSON]:
    """GitHub's ``release`` example for ``action``, adapted to release ``release_id`` of
    ``repo`` as it is now: ``release`` is what ``GET .../releases/{id}`` shows (``id``,
    ``tag_name``, ``target_commitish``, ``assets`` with ids, names, ``url`` and
    ``browser_download_url``). The sender defaults to the release's author.
    """
    if action not in RELEASE_ACTIONS:
        raise ValueError(f"action {action!r}: one of {', '.join(RELEASE_ACTIONS)}")
    release = repo.release(release_id)
    if action == "prereleased" and not release.prerelease:
        raise ValueError(
            "a prereleased delivery is for a prerelease: create_release(prerelease=True)"
        )
    if action in ("published", "released", "prereleased") and release.draft:
        raise ValueError(f"GitHub sends no {action!r} delivery for a draft release")
    payload = _adapt_repository(load_example("release", action), repo)
    with repo.lock:
        payload["release"] = objects.release(repo, release)
    payload.pop("changes", None)  # "edited" carries what changed; nothing did here
    if action == "edited":
        payload["changes"] = {}
    return _finish(payload, repo, sender or release.author, installation)


def check_run_rerequested_payload(
    repo: FakeRepo, run: CheckRunRecord, *, sender: str, installation: int | None = None
) -> dict[str, JSON]:
    """GitHub's ``check_run`` ``rerequested`` example (someone chose "Re-run"), for check run
    ``run`` of ``repo`` as the fake keeps it (:mod:`tests.fakes.github_checks`): its id, name,
    head sha, external_id, state, suite and app."""
    payload = _adapt_repository(load_example("check_run", "rerequested"), repo)
    check_run = payload["check_run"]
    url = f"{repo.url}/check-runs/{run.id}"
    check_run.update(
        id=run.id, name=run.name, head_sha=run.head_sha, external_id=run.external_id or "",
        status=run.status, conclusion=run.conclusion, details_url=run.details_url,
        url=url, html_url=f"{repo.html_url}/runs/{run.id}",
        started_at=run.started_at, completed_at=run.completed_at,
    )  # fmt: skip
    check_run["check_suite"].update(id=run.suite_id, head_sha=run.head_sha, after=run.head_sha)
    for app in (check_run["app"], check_run["check_suite"]["app"]):
        app["id"] = run.app_id
    return _finish(payload, repo, sender, installation)


def check_suite_rerequested_payload(
    repo: FakeRepo, run: CheckRunRecord, *, sender: str, installation: int | None = None
) -> dict[str, JSON]:
    """GitHub's ``check_suite`` ``rerequested`` example (someone chose "Re-run all checks"),
    for the suite of check run ``run``: its id, head sha and app."""
    payload = _adapt_repository(load_example("check_suite", "rerequested"), repo)
    suite = payload["check_suite"]
    suite.update(id=run.suite_id, head_sha=run.head_sha, after=run.head_sha, pull_requests=[])
    suite["app"]["id"] = run.app_id
    return _finish(payload, repo, sender, installation)


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
