"""One test vocabulary over the fake GitHub and the fake GitLab, so end-to-end scenarios run
on both forges: make repositories, push, tag, open pull requests, comment, and read back what
the bot reported, each delivered as the forge's real webhook. The `forge` fixture runs a test
once per forge, against that forge's fake."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple, Protocol

import pytest

from tests.fakes import gitlab_webhooks as glw
from tests.fakes import webhooks as ghw
from tests.fakes.github import FakeGitHub
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.gitlab_objects import DEVELOPER
from tests.support import http
from tests.support.bot_process import RunningBot

GITHUB_TOKEN = "ghs_" + "t0k3n" * 6  # the fake GitHub's token in tests/conftest.py's `github`
WEBHOOK_SECRET = "It's a Secret to Everybody"
ZERO_SHA = "0" * 40
FORGE_TOKEN = "forge-token-" + "f" * 20  # the token both fakes of `forge` give the bot


class Status(NamedTuple):
    """A commit status as the forge shows it, in the forge's own words."""

    context: str  # GitHub's context, GitLab's name
    state: str
    description: str
    target_url: str  # the bot's link: the build page (its raw log at target_url + "/log")


class Harness(Protocol):
    forge: str
    delivered: list[str | None]  # each webhook's delivery id, in order (None: ignored)

    def bot_settings(self) -> dict[str, Any]: ...
    def create_repo(self, name: str) -> str: ...
    def commit(
        self, repo: str, files: Mapping[str, str | bytes | None], branch: str = "main"
    ) -> str: ...
    def push(
        self, bot: RunningBot, repo: str, branch: str, sha: str, *, clone_url: str | None = None
    ) -> None: ...  # clone_url: what the payload claims to clone from (the bot must ignore it)
    def tag(self, bot: RunningBot, repo: str, tag: str, sha: str) -> None: ...
    def create_tag(self, repo: str, tag: str, sha: str) -> None: ...  # no webhook sent
    def open_pull(
        self,
        bot: RunningBot,
        repo: str,
        files: Mapping[str, str | bytes | None],
        *,
        author: str,
        fork: bool,
        draft: bool = False,
    ) -> tuple[int, str]: ...
    def mark_ready(self, bot: RunningBot, repo: str, number: int) -> None: ...
    def comment(self, bot: RunningBot, repo: str, number: int, body: str, author: str) -> None: ...
    def grant_write(self, repo: str, user: str) -> None: ...
    def statuses(self, repo: str, sha: str) -> list[Status]: ...
    def pull_statuses(self, repo: str, number: int) -> list[Status]: ...
    def comments(self, repo: str, number: int) -> list[str]: ...
    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> None: ...
    def rate_limit_next_status(self, retry_after: int) -> None: ...
    def final_state(self, state: str) -> str: ...
    def status_answers(self) -> list[int]: ...


def _deliver(bot: RunningBot, forge: str, body: bytes, headers: dict[str, str]) -> str | None:
    """POST one webhook; the delivery id the bot stored (None when it ignored the event)."""
    response = http.post(f"{bot.url}/webhooks/{forge}", content=body, headers=headers, timeout=10)
    assert response.status_code in (200, 202), response.text
    answer: dict[str, str] = response.json()
    return answer.get("accepted") or answer.get("duplicate")


class GitHubHarness:
    forge = "github"

    def __init__(self, fake: FakeGitHub, token: str) -> None:
        self.fake, self.token = fake, token
        self.delivered: list[str | None] = []

    def bot_settings(self) -> dict[str, Any]:
        return {"github": {"api_url": self.fake.api_url, "token": self.token,
                           "webhook_secret": WEBHOOK_SECRET}}  # fmt: skip

    def _send(self, bot: RunningBot, event: str, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        headers = ghw.github_headers(event, body, WEBHOOK_SECRET)
        self.delivered.append(_deliver(bot, "github", body, headers))

    def create_repo(self, name: str) -> str:
        return self.fake.create_repo(name).full_name

    def commit(
        self, repo: str, files: Mapping[str, str | bytes | None], branch: str = "main"
    ) -> str:
        return self.fake.repo(repo).commit(files, "a change", branch=branch)

    def push(
        self, bot: RunningBot, repo: str, branch: str, sha: str, *, clone_url: str | None = None
    ) -> None:
        payload = ghw.push_payload(
            self.fake.repo(repo), ref=f"refs/heads/{branch}", before=ZERO_SHA, after=sha
        )
        if clone_url is not None:
            payload["repository"].update(clone_url=clone_url, git_url=clone_url)
        self._send(bot, "push", payload)

    def tag(self, bot: RunningBot, repo: str, tag: str, sha: str) -> None:
        fake_repo = self.fake.repo(repo)
        fake_repo.create_tag(tag, sha)
        self._send(bot, "push", ghw.tag_push_payload(fake_repo, tag, sha))

    def create_tag(self, repo: str, tag: str, sha: str) -> None:
        self.fake.repo(repo).create_tag(tag, sha)

    def open_pull(
        self,
        bot: RunningBot,
        repo: str,
        files: Mapping[str, str | bytes | None],
        *,
        author: str,
        fork: bool,
        draft: bool = False,
    ) -> tuple[int, str]:
        base = self.fake.repo(repo)
        head_repo = self.fake.fork_repo(base, author) if fork else base
        sha = head_repo.commit(files, "a pull request", branch="feature")
        number = base.create_pull(
            "feature", author=author, fork=head_repo if fork else None, draft=draft
        )
        self._send(bot, "pull_request", ghw.pull_request_payload(base, number, "opened"))
        return number, sha

    def mark_ready(self, bot: RunningBot, repo: str, number: int) -> None:
        base = self.fake.repo(repo)
        base.mark_ready(number)
        self._send(bot, "pull_request", ghw.pull_request_payload(base, number, "ready_for_review"))

    def comment(self, bot: RunningBot, repo: str, number: int, body: str, author: str) -> None:
        fake_repo = self.fake.repo(repo)
        comment = fake_repo.add_comment(number, body, author)
        self._send(bot, "issue_comment", ghw.issue_comment_payload(fake_repo, number, comment))

    def grant_write(self, repo: str, user: str) -> None:
        self.fake.repo(repo).set_permission(user, "write")

    def statuses(self, repo: str, sha: str) -> list[Status]:
        return [Status(str(s["context"]), str(s["state"]), str(s["description"]),
                       str(s["target_url"])) for s in self.fake.statuses(repo, sha)]  # fmt: skip

    def pull_statuses(self, repo: str, number: int) -> list[Status]:
        """What the pull request shows: the latest status per context of its head commit."""
        head = self.fake.repo(repo).pull(number).head_sha
        return list({s.context: s for s in self.statuses(repo, head)}.values())

    def comments(self, repo: str, number: int) -> list[str]:
        return [str(c["body"]) for c in self.fake.comments(repo, number)]

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> None:
        self.fake.wait_for(predicate, timeout=timeout)

    def rate_limit_next_status(self, retry_after: int) -> None:
        self.fake.rate_limit_next("POST", r"/statuses/", retry_after=retry_after)

    def status_answers(self) -> list[int]:
        """The HTTP status of every status POST, in order."""
        return [
            r.status for r in self.fake.requests if r.method == "POST" and "/statuses/" in r.path
        ]

    def final_state(self, state: str) -> str:
        # GitHub's statuses: success, failure, error (a cancelled build is an error)
        return {"cancelled": "error", "failed": "failure"}.get(state, state)


class GitLabHarness:
    forge = "gitlab"

    def __init__(self, fake: FakeGitLab, token: str) -> None:
        self.fake, self.token = fake, token
        self.delivered: list[str | None] = []

    def bot_settings(self) -> dict[str, Any]:
        return {"gitlab": {"url": self.fake.url, "token": self.token,
                           "webhook_secret": WEBHOOK_SECRET}}  # fmt: skip

    def _send(self, bot: RunningBot, event: str, payload: dict[str, Any]) -> None:
        headers = glw.gitlab_headers(event, WEBHOOK_SECRET)
        self.delivered.append(_deliver(bot, "gitlab", json.dumps(payload).encode(), headers))

    def create_repo(self, name: str) -> str:
        return self.fake.create_project(name).path_with_namespace

    def commit(
        self, repo: str, files: Mapping[str, str | bytes | None], branch: str = "main"
    ) -> str:
        return self.fake.project(repo).commit(files, "a change", branch=branch)

    def push(
        self, bot: RunningBot, repo: str, branch: str, sha: str, *, clone_url: str | None = None
    ) -> None:
        payload = glw.push_payload(self.fake.project(repo), f"refs/heads/{branch}", ZERO_SHA, sha)
        if clone_url is not None:
            for key in ("project", "repository"):
                payload[key].update(git_http_url=clone_url, http_url=clone_url)
        self._send(bot, "Push Hook", payload)

    def tag(self, bot: RunningBot, repo: str, tag: str, sha: str) -> None:
        self._send(bot, "Tag Push Hook", glw.tag_push_payload(self.fake.project(repo), tag, sha))

    def create_tag(self, repo: str, tag: str, sha: str) -> None:
        self.fake.project(repo).bare.tag(tag, sha)

    def open_pull(
        self,
        bot: RunningBot,
        repo: str,
        files: Mapping[str, str | bytes | None],
        *,
        author: str,
        fork: bool,
        draft: bool = False,
    ) -> tuple[int, str]:
        target = self.fake.project(repo)
        source = (
            self.fake.create_project(f"{author}/{repo.split('/')[-1]}", forked_from=target)
            if fork
            else target
        )
        sha = source.commit(files, "a merge request", branch="feature")
        iid = target.create_merge_request(
            "feature", author=author, source_project=source if fork else None, draft=draft
        )
        self._send(bot, "Merge Request Hook", glw.merge_request_payload(target, iid, "open"))
        return iid, sha

    def mark_ready(self, bot: RunningBot, repo: str, number: int) -> None:
        project = self.fake.project(repo)
        changes = project.mark_ready(number)
        payload = glw.merge_request_payload(project, number, "update", changes=changes)
        self._send(bot, "Merge Request Hook", payload)

    def comment(self, bot: RunningBot, repo: str, number: int, body: str, author: str) -> None:
        project = self.fake.project(repo)
        note = project.add_note(number, body, author)
        self._send(bot, "Note Hook", glw.note_payload(project, number, note))

    def grant_write(self, repo: str, user: str) -> None:
        self.fake.project(repo).set_access(user, DEVELOPER)

    def statuses(self, repo: str, sha: str) -> list[Status]:
        return [_gitlab_status(s) for s in self.fake.statuses(repo, sha)]

    def pull_statuses(self, repo: str, number: int) -> list[Status]:
        """What the merge request shows: its head pipeline's jobs, so only statuses posted
        with the MR's source branch as ref."""
        return [_gitlab_status(s) for s in self.fake.merge_request_statuses(repo, number)]

    def comments(self, repo: str, number: int) -> list[str]:
        return [str(n["body"]) for n in self.fake.notes(repo, number)]

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> None:
        self.fake.wait_for(predicate, timeout=timeout)

    def rate_limit_next_status(self, retry_after: int) -> None:
        self.fake.rate_limit("POST", r"/statuses/", retry_after=retry_after)

    def status_answers(self) -> list[int]:
        return [
            r.status for r in self.fake.requests if r.method == "POST" and "/statuses/" in r.path
        ]

    def final_state(self, state: str) -> str:
        return {"cancelled": "canceled"}.get(state, state)


def _gitlab_status(status: dict[str, Any]) -> Status:
    return Status(
        str(status["name"]),
        str(status["status"]),
        str(status.get("description") or ""),
        str(status.get("target_url") or ""),
    )


@pytest.fixture(params=["github", "gitlab"])
def forge(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """Each test once per forge, against that forge's fake (its own server, its FORGE_TOKEN);
    afterwards no request broke the forge's API as the fake knows it. A module takes it by
    importing it (`from tests.support.forges import forge`)."""
    if request.param == "github":
        with FakeGitHub(FORGE_TOKEN) as github:
            yield GitHubHarness(github, FORGE_TOKEN)
            assert github.errors == [], "the fake GitHub saw requests it does not know"
    else:
        with FakeGitLab(FORGE_TOKEN) as gitlab:
            yield GitLabHarness(gitlab, FORGE_TOKEN)
            assert gitlab.errors == [], "the fake GitLab saw requests it does not know"
