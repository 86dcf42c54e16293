"""GitHub: webhook parsing (pure) and the API calls s2i-bot makes, through PyGithub.

Only this module imports `github`. Webhook facts follow GitHub's docs, "Webhook events and
payloads" and "Validating webhook deliveries".
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from github import Auth, Github, GithubException, UnknownObjectException

from bot.events import Event, EventKind, Repo
from bot.forges.base import (
    CommitStatus,
    Ignored,
    PayloadError,
    Ping,
    SignatureError,
    Webhook,
)
from bot.retry import RetryPolicy, call_with_retry

NAME = "github"
_ZERO_SHA = "0" * 40
# GitHub truncates nothing for us: a status description longer than 140 characters is a 422.
_DESCRIPTION_MAX = 140


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = {k.lower(): v for k, v in headers.items()}
    return lowered.get(name.lower())


def verify_signature(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """X-Hub-Signature-256 is `sha256=` + the hex HMAC-SHA256 of the raw body, keyed with the
    webhook secret; compare in constant time (GitHub docs: "Validating webhook deliveries")."""
    signature = _header(headers, "X-Hub-Signature-256")
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


def _push(payload: Mapping[str, Any], delivery_id: str) -> Webhook:
    ref, after = payload["ref"], payload["after"]
    if payload.get("deleted") or after == _ZERO_SHA:
        return Ignored(f"{ref} was deleted")
    if ref.startswith("refs/tags/"):
        kind = EventKind.TAG
    elif ref.startswith("refs/heads/"):
        kind = EventKind.PUSH
    else:
        return Ignored(f"push to {ref} is neither a branch nor a tag")
    actor = (payload.get("sender") or {}).get("login") or payload["pusher"]["name"]
    return Event(kind, _repo(payload), ref, after, actor, delivery_id)


def parse(headers: Mapping[str, str], body: bytes, secret: str | None) -> Webhook:
    """Verify the signature (when a secret is configured) and normalise the payload."""
    if secret is not None:
        verify_signature(headers, body, secret)
    event = _header(headers, "X-GitHub-Event") or ""
    delivery_id = _header(headers, "X-GitHub-Delivery") or ""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"the body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise PayloadError("the body is not a JSON object")
    try:
        if event == "ping":
            return Ping(str(payload.get("zen", "")))
        if event == "push":
            return _push(payload, delivery_id)
    except (KeyError, TypeError) as exc:
        raise PayloadError(f"{event} payload lacks {exc}") from exc
    return Ignored(f"event '{event}' is not handled")


class GitHubForge:
    name = NAME

    def __init__(
        self,
        api_url: str,
        token: str | None,
        webhook_secret: str | None,
        *,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._secret = webhook_secret
        self._token = token
        self._retry = retry or RetryPolicy()
        # PyGithub's own retry and throttle are off: retries live in bot.retry, and the status
        # outbox spaces writes (bot/outbox.py), where it can also drop superseded ones.
        self._gh = Github(
            base_url=api_url.rstrip("/"),
            auth=Auth.Token(token) if token else None,
            retry=None,
            lazy=True,  # no GET before each call: we only ever act on one repo and sha
            seconds_between_requests=None,
            seconds_between_writes=None,
        )

    def parse(self, headers: Mapping[str, str], body: bytes) -> Webhook:
        return parse(headers, body, self._secret)

    def delivery_id(self, headers: Mapping[str, str]) -> str | None:
        return _header(headers, "X-GitHub-Delivery")

    def event_name(self, headers: Mapping[str, str]) -> str:
        return _header(headers, "X-GitHub-Event") or ""

    def clone_token(self) -> str | None:
        return self._token

    def read_file(self, repo: str, path: str, sha: str) -> str | None:
        def read() -> str | None:
            try:
                content = self._gh.get_repo(repo).get_contents(path, ref=sha)
            except UnknownObjectException:
                return None
            if isinstance(content, list):
                raise PayloadError(f"{path} is a directory in {repo}")
            return content.decoded_content.decode()

        return call_with_retry(read, self._retry, retryable=_retryable)

    def set_status(self, repo: str, sha: str, status: CommitStatus) -> None:
        def post() -> None:
            commit = self._gh.get_repo(repo).get_commit(sha)
            commit.create_status(
                state=status.state.value,
                target_url=status.target_url,
                description=status.description[:_DESCRIPTION_MAX],
                context=status.context,
            )

        call_with_retry(post, self._retry, retryable=_retryable)


def _retryable(exc: BaseException) -> bool:
    """Server errors and rate limits are worth another try; a 4xx answer is not."""
    if isinstance(exc, GithubException):
        return (
            exc.status >= 500
            or exc.status == 429
            or (exc.status == 403 and "rate limit" in str(exc.data).lower())
        )
    return isinstance(exc, ConnectionError | OSError)
