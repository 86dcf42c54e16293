"""The reporter delivers what the outbox holds: commit statuses, the pull request comment and
replies to commands. It reads the store at send time, so what it sends is the latest state."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from bot.commit_status import status_for
from bot.forges.base import ForgeApi
from bot.pull_comment import render
from bot.store import Store


def digest(sent: object) -> str:
    """What identifies a status or a comment body sent (kept in the outbox row, so any
    replica knows what the forge shows already): a frozen dataclass's repr or the text."""
    return hashlib.sha256(repr(sent).encode()).hexdigest()


class Reporter:
    def __init__(self, store: Store, forges: Mapping[str, ForgeApi], public_url: str) -> None:
        self._store, self._forges, self._public_url = store, forges, public_url

    def send(self, kind: str, payload: Mapping[str, Any], last: str | None = None) -> str | None:
        """Send the item as the store has it now; returns a digest of what was sent, and
        sends nothing when that is `last` (the digest of what this key sent before) again."""
        match kind:
            case "status":
                build = self._store.get_build(int(payload["build_id"]))
                status = status_for(build, self._public_url)
                sent = digest(status)
                if sent != last:
                    self._forges[build.forge].set_status(build.repo, build.sha, status)
                return sent
            case "pull_comment":
                forge, repo, pr = payload["forge"], payload["repo"], int(payload["pr"])
                current = self._store.pull_comment(forge, repo, pr)
                builds = self._store.latest_builds_of_pull(forge, repo, pr)
                body = render(builds, self._public_url, current.notice)
                sent = digest(body)
                if sent == last and current.comment_id is not None:
                    return sent
                comment_id = self._forges[forge].upsert_comment(repo, pr, current.comment_id, body)
                if comment_id != current.comment_id:
                    self._store.set_pull_comment(forge, repo, pr, comment_id=comment_id)
                if current.notice_sha:  # what an `/s2i ok-to-test` from now on approves
                    self._store.notice_published(forge, repo, pr, current.notice_sha)
                return sent
            case "reply":
                forge = self._forges[payload["forge"]]
                forge.comment(payload["repo"], int(payload["pr"]), payload["body"])
                return None
            case _:
                raise ValueError(f"unknown outbox item kind '{kind}'")
