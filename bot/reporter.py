"""The reporter delivers what the outbox holds: commit statuses, check runs, the pull request
comment and replies to commands. It reads the store at send time, so what it sends is the
latest state.

A check run is created by its build's first item and updated by the next ones (its id is in
the store). Before creating one the reporter asks GitHub for a check run of the build's name
and key on its commit: a replica killed between GitHub's answer to the create and the store's
write of the id would otherwise leave that check run in progress forever beside a second one.
A failed build's annotations go ANNOTATIONS_PER_REQUEST a request, and the store counts how
many GitHub has after each, so an item sent again (a replica died mid-send) adds only the
rest: at most one request's worth can reach GitHub twice, when the kill falls between
GitHub's answer and the count's write."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from bot.build_record import Build
from bot.check_run import check_run_for, chunks
from bot.commit_status import status_for
from bot.forges.base import Annotation, CheckRun, CheckRunApi, ForgeApi, PermanentForgeError
from bot.pull_comment import render
from bot.store import CheckRunRecord, Store


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
            case "check_run":
                build = self._store.get_build(int(payload["build_id"]))
                # A finished build's log gives its timings, a failure's tail and annotations.
                log = self._store.log_text(build.id) if build.state.finished else None
                run = check_run_for(build, self._public_url, log)
                sent = digest(run)
                if sent != last:
                    self._send_check_run(build, run)
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

    def _send_check_run(self, build: Build, run: CheckRun) -> None:
        api = self._forges[build.forge]
        if not isinstance(api, CheckRunApi):
            raise PermanentForgeError(f"{build.forge} shows no check runs")
        record = self._store.check_run(build.id)
        if record is None and (found := api.find_check_run(build.repo, run)) is not None:
            record = CheckRunRecord(*found)  # created by a send cut short
        annotated = record.annotations_sent if record is not None else 0
        parts: list[Sequence[Annotation]] = list(chunks(run.annotations[annotated:])) or [()]
        if record is None:
            check_run_id = api.create_check_run(build.repo, run, parts[0])
        else:
            check_run_id = record.check_run_id
            api.update_check_run(build.repo, check_run_id, run, parts[0])
        annotated += len(parts[0])
        self._store.set_check_run(build.id, check_run_id, annotated)
        for part in parts[1:]:  # GitHub appends each request's annotations
            api.update_check_run(build.repo, check_run_id, run, part)
            annotated += len(part)
            self._store.set_check_run(build.id, check_run_id, annotated)
