"""Reading a webhook's body, pure: the JSON object both forges send (its depth bounded), its
members by dotted path and JSON type, and the values the bot puts in URLs and git commands
checked first (commit shas, branch and tag refs, repository paths, changed paths), and a
comment or pull request event from where a forge puts its parts. Every
problem is a PayloadError that names the member. github_webhooks and gitlab_webhooks read
their payloads through these; bot.forges.base checks the API's repository names with them."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, NamedTuple, TypeVar

from bot.events import Comment, Event, EventKind, PullAction, PullRequest, Repo

T = TypeVar("T")


class PayloadError(Exception):
    """The webhook body is not what the forge documents (e.g. not JSON): answer 400."""


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, in any case (HTTP header names are case-insensitive)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    return lowered.get(name.lower())


# The deepest nesting a webhook body may have. Both forges' payloads stay under 10 levels;
# Python's json module recurses once per level and raises RecursionError near 1000.
MAX_JSON_DEPTH = 32


def json_object(body: bytes) -> dict[str, Any]:
    """A webhook body as the JSON object both forges send; PayloadError otherwise."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"the body is not JSON: {exc}") from exc
    except RecursionError:
        raise PayloadError(f"the body nests deeper than {MAX_JSON_DEPTH} levels") from None
    if not isinstance(payload, dict):
        raise PayloadError(f"the body is a JSON {_json_type(payload)}, not a JSON object")
    if _deeper_than(payload, MAX_JSON_DEPTH):
        raise PayloadError(f"the body nests deeper than {MAX_JSON_DEPTH} levels")
    return payload


def _deeper_than(value: Any, limit: int) -> bool:
    # Iterative, so a deep document cannot exhaust the stack here either.
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    names = {dict: "object", list: "array", str: "string", type(None): "null"}
    return names.get(type(value), type(value).__name__)


# -- reading a payload: each value where and as the forge documents it ----------------------
_KIND_NAMES = {dict: "object", list: "array", str: "string", int: "integer", bool: "boolean"}


def member(payload: Mapping[str, Any], path: str, kind: type[T]) -> T:
    """payload["a"]["b"] for path "a.b", which must be a `kind` (int excludes booleans);
    PayloadError ("lacks a.b", "has a.b as a string, not an integer") otherwise."""
    value = optional_member(payload, path, kind)
    if value is None:
        raise PayloadError(f"lacks {path}")
    return value


def optional_member(payload: Mapping[str, Any], path: str, kind: type[T]) -> T | None:
    """Like `member`, but None when the value or an object on its path is missing or null."""
    value: Any = payload
    for key in path.split("."):
        if value is None:
            return None
        if not isinstance(value, dict):
            raise PayloadError(f"has {path} inside a JSON {_json_type(value)}, not an object")
        value = value.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        expected = _KIND_NAMES.get(kind, kind.__name__)
        raise PayloadError(f"has {path} as a JSON {_json_type(value)}, not a JSON {expected}")
    return value


# A commit id: SHA-1, or SHA-256 in repositories that use it (git's hash-function transition).
_SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
# A branch or tag ref as git check-ref-format allows one (no control characters, space,
# ~ ^ : ? * [ \, "..", "@{", "//", or a component or end that git refuses).
_REF = re.compile(r"refs/(heads|tags)/[^\x00-\x20\x7f~^:?*\[\\]+")
_BAD_REF = re.compile(r"\.\.|@\{|//|/\.|\.lock(/|$)|[/.]$")
# A repository's path on the forge: owner/name (GitHub) or group/subgroup/name (GitLab).
_REPO_PATH = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+")


def commit_sha(value: str, path: str) -> str:
    if not _SHA.fullmatch(value):
        raise PayloadError(f"has {path} that is not a commit sha")
    return value


def git_ref(value: str, path: str) -> str:
    """A full branch or tag ref (refs/heads/..., refs/tags/...) that git would accept."""
    if not _REF.fullmatch(value) or _BAD_REF.search(value):
        raise PayloadError(f"has {path} that is not a branch or tag ref")
    return value


def repo_path(value: str, path: str) -> str:
    """A repository's full name, safe to put in an API or git URL."""
    parts = value.split("/")
    if not _REPO_PATH.fullmatch(value) or any(p in (".", "..") for p in parts):
        raise PayloadError(f"has {path} that is not a repository's full name")
    return value


# Both forges name a deleted branch or tag by the all-zero sha in `after`.
ZERO_SHA = "0" * 40


def paths_of(commits: list[Any]) -> tuple[str, ...]:
    """Every path the listed commits added, modified or removed (both forges list them so)."""
    paths: set[str] = set()
    for index, commit in enumerate(commits):
        if not isinstance(commit, dict):
            raise PayloadError(f"has commits[{index}] that is not a JSON object")
        for key in ("added", "modified", "removed"):
            listed = optional_member(commit, key, list) or []
            if not all(isinstance(p, str) for p in listed):
                raise PayloadError(f"has commits[{index}].{key} that is not a list of paths")
            paths.update(listed)
    return tuple(sorted(paths))


# The member of a push payload the bot writes into the pushes it stores itself (a manual
# trigger's, bot/manual_trigger.py), and neither forge sends: which builds, and why. A body
# that has it is one the bot vouched for (sealed with the webhook secret, as a forge's is).
BOT_MEMBER = "s2i_bot"


class Requested(NamedTuple):
    """What the bot's own push asks for beyond a push: only some builds, a note, and (a
    rebuild on a new base image) the `image@digest` it is rebuilt on."""

    only_builds: tuple[str, ...] | None
    note: str
    rebuilt_on: str


def requested(payload: Mapping[str, Any]) -> Requested:
    """The bot's member of a push payload (BOT_MEMBER), or nothing asked."""
    names = optional_member(payload, f"{BOT_MEMBER}.builds", list)
    if names is not None and not all(isinstance(n, str) for n in names):
        raise PayloadError(f"has {BOT_MEMBER}.builds that is not a list of names")
    note = optional_member(payload, f"{BOT_MEMBER}.note", str) or ""
    rebuilt_on = optional_member(payload, f"{BOT_MEMBER}.rebuilt_on", str) or ""
    return Requested(tuple(names) if names is not None else None, note, rebuilt_on)


def bot_member(
    only_builds: tuple[str, ...] | None, note: str, rebuilt_on: str = ""
) -> dict[str, Any]:
    """The payload's BOT_MEMBER for what `requested` reads back (empty: nothing asked)."""
    if only_builds is None and not note and not rebuilt_on:
        return {}
    names = list(only_builds) if only_builds is not None else None
    return {BOT_MEMBER: {"builds": names, "note": note, "rebuilt_on": rebuilt_on}}


class CommentPaths(NamedTuple):
    """Where a forge's comment payload has each part of the comment (member paths)."""

    id: str
    body: str
    author: str  # the login
    author_id: str  # the forge's user id: it decides who the author is
    pr_number: str  # the pull or merge request commented on


def comment_event(
    payload: Mapping[str, Any], repo: Repo, delivery_id: str, paths: CommentPaths
) -> Event:
    """A new comment on a pull (merge) request, read from `paths`; no ref or sha (the
    payload's are not the request's head when the bot acts on the comment)."""
    author = member(payload, paths.author, str)
    comment = Comment(
        member(payload, paths.id, int),
        optional_member(payload, paths.body, str) or "",
        author,
        author_id=member(payload, paths.author_id, int),
    )
    return Event(
        EventKind.COMMENT, repo, "", "", author, delivery_id,
        comment=comment, pr_number=member(payload, paths.pr_number, int),
    )  # fmt: skip


def pull_event(
    payload: Mapping[str, Any],
    repo: Repo,
    delivery_id: str,
    pull: PullRequest,
    action: PullAction,
    sender: str,
) -> Event:
    """A pull (merge) request opened, changed, ready, closed...: its head is what builds;
    `sender` is the member path of who did it."""
    return Event(
        EventKind.PULL_REQUEST, repo, pull.fetch_ref, pull.head_sha,
        member(payload, sender, str), delivery_id, pull=pull, pull_action=action,
    )  # fmt: skip


def json_delivery(
    payload: Mapping[str, Any], headers: Mapping[str, str]
) -> tuple[dict[str, str], bytes]:
    """A JSON webhook's headers (names lowercased, as the web route stores them) and body."""
    return {"content-type": "application/json", **headers}, json.dumps(payload).encode()
