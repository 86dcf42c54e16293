"""The reporter delivers what the outbox holds: commit statuses, the pull request comment and
replies to commands. It reads the store at send time, so what it sends is the latest state."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bot.commit_status import status_for
from bot.forges.base import ForgeApi
from bot.pull_comment import render
from bot.store import Store


class Reporter:
    def __init__(self, store: Store, forges: Mapping[str, ForgeApi], public_url: str) -> None:
        self._store, self._forges, self._public_url = store, forges, public_url

    def send(self, kind: str, payload: Mapping[str, Any], last: object = None) -> object:
        """Send the item as the store has it now; returns what was sent, and sends nothing
        when that is `last` (what this key sent before) again."""
        match kind:
            case "status":
                build = self._store.get_build(int(payload["build_id"]))
                status = status_for(build, self._public_url)
                if status != last:
                    self._forges[build.forge].set_status(build.repo, build.sha, status)
                return status
            case "pull_comment":
                forge, repo, pr = payload["forge"], payload["repo"], int(payload["pr"])
                current = self._store.pull_comment(forge, repo, pr)
                builds = self._store.latest_builds_of_pull(forge, repo, pr)
                body = render(builds, self._public_url, current.notice)
                if body == last and current.comment_id is not None:
                    return body
                comment_id = self._forges[forge].upsert_comment(repo, pr, current.comment_id, body)
                if comment_id != current.comment_id:
                    self._store.set_pull_comment(forge, repo, pr, comment_id=comment_id)
                if current.notice_sha:  # what an `/s2i ok-to-test` from now on approves
                    self._store.notice_published(forge, repo, pr, current.notice_sha)
                return body
            case "reply":
                forge = self._forges[payload["forge"]]
                forge.comment(payload["repo"], int(payload["pr"]), payload["body"])
                return None
            case _:
                raise ValueError(f"unknown outbox item kind '{kind}'")
