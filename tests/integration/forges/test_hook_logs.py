"""What missed-delivery recovery and the catch-up ask the forges, through the real drivers
against the fakes: a GitHub hook's delivery log (a repository hook with a token, the app's
hook with its JWT), paged by GitHub's cursor and cut at an age; one delivery with the request
GitHub sent; a branch's head, and what changed since a commit, on both forges."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.events import EventKind
from bot.forges.github_api import APP_HOOK, GitHubApi
from bot.forges.github_webhooks import parse as parse_github
from bot.forges.github_webhooks import sealed
from bot.forges.gitlab_api import GitLabApi
from bot.retry import RetryPolicy
from tests.fakes.github import FakeGitHub
from tests.fakes.github_app import shared_app_key
from tests.fakes.gitlab import FakeGitLab
from tests.fakes.webhooks import ZERO_SHA, push_payload
from tests.support.forges import GITHUB_TOKEN, WEBHOOK_SECRET

APP_ID = 4242
BOT_URL = "http://127.0.0.1:9/webhooks/github"
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


def no_retry() -> RetryPolicy:
    sleeps: list[float] = []
    return RetryPolicy(sleep=sleeps.append)


def test_a_repository_hooks_log_is_read_newest_first_across_cursor_pages(
    github: FakeGitHub,
) -> None:
    repo = github.create_repo("octo/hooked")
    repo.set_permission("s2i-bot", "admin")  # a repository's hooks are its admins'
    hook = github.create_hook(repo.full_name, BOT_URL)
    # 31 entries: PyGithub asks for 30 a page, so the second page is reached by the cursor.
    shas = [repo.commit({"f": str(i)}, f"c{i}") for i in range(31)]
    logged = [
        github.record_delivery(
            hook,
            "push",
            push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=sha),
            secret=WEBHOOK_SECRET,
        )
        for sha in shas
    ]
    api = GitHubApi(github.api_url, GITHUB_TOKEN, retry=no_retry())
    name = f"{repo.full_name}:{hook}"
    items = api.hook_deliveries(name, LONG_AGO, 100)
    assert [i.guid for i in items] == [d.guid for d in reversed(logged)]
    assert {(i.hook, i.event, i.status_code) for i in items} == {(name, "push", 502)}
    pages = [r for r in github.requests if r.path.endswith(f"/hooks/{hook}/deliveries")]
    assert len(pages) == 2 and "cursor=" in pages[1].query

    # Bounded: by a count, and by age (older entries end the listing).
    assert len(api.hook_deliveries(name, LONG_AGO, 1)) == 1
    assert api.hook_deliveries(name, datetime.now(UTC) + timedelta(minutes=1), 100) == []

    one = api.hook_delivery(name, items[0].id)
    assert one is not None and one.guid == logged[-1].guid and one.event == "push"
    body = json.dumps(one.payload).encode()
    event = parse_github(sealed(one.headers, body, WEBHOOK_SECRET), body, WEBHOOK_SECRET)
    assert getattr(event, "kind", None) is EventKind.PUSH and getattr(event, "sha", "") == shas[-1]
    assert api.hook_delivery(name, 1) is None  # not in the log


def test_a_token_without_admin_on_the_repository_cannot_read_its_hook_log(
    github: FakeGitHub,
) -> None:
    repo = github.create_repo("octo/other")
    hook = github.create_hook(repo.full_name, BOT_URL)
    api = GitHubApi(github.api_url, GITHUB_TOKEN, retry=no_retry())
    with pytest.raises(Exception, match="404"):
        api.hook_deliveries(f"{repo.full_name}:{hook}", LONG_AGO, 10)


def test_the_apps_hook_log_is_read_with_its_jwt(github: FakeGitHub) -> None:
    key, _ = shared_app_key()
    github.register_app(APP_ID, key)
    repo = github.create_repo("octo/app")
    installation = github.install_app(APP_ID, "octo")
    sha = repo.commit({"f": "x"}, "c")
    payload = push_payload(repo, ref="refs/heads/main", before=ZERO_SHA, after=sha)
    payload["installation"] = {"id": installation, "node_id": "x"}
    hook = github.app_hook(APP_ID, BOT_URL)
    missed = github.record_delivery(hook, "push", payload, secret=WEBHOOK_SECRET)
    api = GitHubApi(github.api_url, None, app_id=APP_ID, private_key=key, retry=no_retry())
    (item,) = api.hook_deliveries(APP_HOOK, LONG_AGO, 10)
    assert (item.guid, item.hook, item.status_code) == (missed.guid, APP_HOOK, 502)
    found = api.hook_delivery(APP_HOOK, item.id)
    assert found is not None and found.payload["after"] == sha
    assert found.headers["X-GitHub-Delivery"] == missed.guid


def test_branch_heads_and_changed_paths_on_github(github: FakeGitHub) -> None:
    repo = github.create_repo("octo/heads")
    base = repo.commit({"f": "1", "docs/a.md": "a"}, "c", branch="release/1.x")
    repo.commit({"src/x.go": "x"}, "c2", branch="release/1.x")
    sha = repo.commit({"docs/a.md": "b", "f": "2"}, "c3", branch="release/1.x")
    api = GitHubApi(github.api_url, GITHUB_TOKEN, retry=no_retry())
    assert api.branch_head(repo.full_name, "release/1.x") == sha
    assert api.branch_head(repo.full_name, "release") is None
    assert api.branch_head(repo.full_name, "nope") is None
    assert api.changed_paths(repo.full_name, base, sha) == ("docs/a.md", "f", "src/x.go")
    assert api.changed_paths(repo.full_name, "0" * 40, sha) is None  # a commit GitHub lacks


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    with FakeGitLab(GITHUB_TOKEN) as fake:
        yield fake
        assert fake.errors == []


def test_branch_heads_and_changed_paths_on_gitlab(gitlab: FakeGitLab) -> None:
    project = gitlab.create_project("group/sub/heads")
    base = project.commit({"f": "1", "docs/a.md": "a"}, "c", branch="release/1.x")
    project.commit({"src/x.go": "x"}, "c2", branch="release/1.x")
    sha = project.commit({"docs/a.md": "b", "f": "2"}, "c3", branch="release/1.x")
    api = GitLabApi(gitlab.url, GITHUB_TOKEN, retry=no_retry())
    name = project.path_with_namespace
    assert api.branch_head(name, "release/1.x") == sha
    assert api.branch_head(name, "nope") is None
    assert api.changed_paths(name, base, sha) == ("docs/a.md", "f", "src/x.go")
