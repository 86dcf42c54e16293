"""An in-memory ForgeApi for unit tests of what sits behind the forge boundary (outbox, reporter,
intake, pulls). Anything that talks HTTP to a forge is tested against tests/fakes/github.py
and tests/fakes/gitlab.py."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from bot.events import PullRequest, Repo
from bot.forges.base import CommitStatus, HookDeliveryItem, LoggedDelivery, ReleaseAsset


@dataclass
class RecordingForge:
    name: str = "github"
    files: dict[tuple[str, str, str], str] = field(default_factory=dict)  # repo, path, sha
    writers: set[str] = field(default_factory=set)
    pulls: dict[tuple[str, int], PullRequest] = field(default_factory=dict)
    statuses: list[tuple[float, str, str, CommitStatus]] = field(default_factory=list)
    comments: dict[int, tuple[str, int, str]] = field(default_factory=dict)  # id -> repo, pr, body
    failures: list[Exception] = field(default_factory=list)  # raised by the next writes
    tags: dict[tuple[str, str], str] = field(default_factory=dict)  # repo, tag -> sha
    releases: dict[tuple[str, int], list[ReleaseAsset]] = field(default_factory=dict)
    login: str = "s2i-bot"  # the account the bot acts as
    heads: dict[tuple[str, str], str] = field(default_factory=dict)  # repo, branch -> sha
    ids: dict[str, int] = field(default_factory=dict)  # repo -> the forge's id, when asked
    changes: dict[tuple[str, str, str], tuple[str, ...]] = field(default_factory=dict)
    # A hook's delivery log (newest first) and the requests it keeps, by (hook, entry id);
    # `fetched` lists the entries asked for, in order.
    hook_logs: dict[str, list[HookDeliveryItem]] = field(default_factory=dict)
    logged: dict[tuple[str, int], LoggedDelivery] = field(default_factory=dict)
    fetched: list[tuple[str, int]] = field(default_factory=list)
    listed_since: list[datetime] = field(default_factory=list)  # each listing's newer_than

    def read_file(self, repo: str, path: str, sha: str) -> str | None:
        return self.files.get((repo, path, sha))

    def _write(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    def set_status(self, repo: str, sha: str, status: CommitStatus) -> None:
        self._write()
        self.statuses.append((time.monotonic(), repo, sha, status))

    def pull_request(self, repo: str, number: int) -> PullRequest:
        return self.pulls[(repo, number)]

    def repository(self, full_name: str, repo_id: int | None) -> Repo:
        clone_url = f"https://{self.name}.example/{full_name}.git"
        return Repo(self.name, full_name, clone_url, id=self.ids.get(full_name, repo_id))

    def can_write(self, repo: str, user: str, user_id: int | None) -> bool:
        return user in self.writers

    def upsert_comment(self, repo: str, number: int, comment_id: int | None, body: str) -> int:
        self._write()
        if comment_id is None:
            comment_id = len(self.comments) + 1
        self.comments[comment_id] = (repo, number, body)
        return comment_id

    def comment(self, repo: str, number: int, body: str) -> None:
        self._write()
        self.comments[len(self.comments) + 1] = (repo, number, body)

    def tag_sha(self, repo: str, tag: str) -> str:
        return self.tags[(repo, tag)]

    def release_assets(self, repo: str, release_id: int) -> list[ReleaseAsset]:
        return self.releases[(repo, release_id)]

    def clone_token(self, repo: str) -> str | None:
        return None

    def bot_login(self) -> str:
        return self.login

    def branch_head(self, repo: str, branch: str) -> str | None:
        return self.heads.get((repo, branch))

    def tag_head(self, repo: str, tag: str) -> str | None:
        return self.tags.get((repo, tag))

    def default_branch(self, repo: str) -> str:
        return "main"

    def changed_paths(self, repo: str, base: str, head: str) -> tuple[str, ...] | None:
        return self.changes.get((repo, base, head))  # repo, base, head -> paths

    def hook_deliveries(
        self, hook: str, newer_than: datetime, limit: int
    ) -> list[HookDeliveryItem]:
        self.listed_since.append(newer_than)
        entries = [i for i in self.hook_logs.get(hook, []) if i.delivered_at >= newer_than]
        return entries[:limit]

    def hook_delivery(self, hook: str, delivery_id: int) -> LoggedDelivery | None:
        self.fetched.append((hook, delivery_id))
        return self.logged.get((hook, delivery_id))
