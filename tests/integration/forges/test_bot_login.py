"""Who the bot is on each forge (ForgeApi.bot_login), asked of the fakes through the real
clients; the oversized files both drivers refuse to read whole; and the bot's one comment is
found again only among its own comments."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.forges.base import READ_LIMIT, FileTooLarge
from bot.forges.github_api import GitHubApi
from bot.forges.gitlab_api import GitLabApi
from bot.pull_comment import MARKER
from bot.retry import RetryPolicy
from tests.fakes.github import FakeGitHub
from tests.fakes.github_app import shared_app_key
from tests.fakes.gitlab import FakeGitLab
from tests.support.forges import GITHUB_TOKEN

GITLAB_TOKEN = "glpat-bot-login-test"
NO_SLEEP = RetryPolicy(sleep=lambda _: None)


@pytest.fixture
def gitlab() -> Iterator[FakeGitLab]:
    with FakeGitLab(GITLAB_TOKEN, username="project_7_bot_x") as fake:
        yield fake
        assert fake.errors == []


def test_a_github_token_is_its_users_login_asked_once(github: FakeGitHub) -> None:
    forge = GitHubApi(github.api_url, GITHUB_TOKEN, retry=NO_SLEEP)
    assert forge.bot_login() == github.login == forge.bot_login()
    assert [r.path for r in github.requests] == ["/api/v3/user"]


def test_a_github_app_comments_as_its_slug_bot_account(github: FakeGitHub) -> None:
    key = shared_app_key()[0]
    github.register_app(4242, key, slug="acme-builds")
    forge = GitHubApi(github.api_url, None, app_id=4242, private_key=key, retry=NO_SLEEP)
    assert forge.bot_login() == "acme-builds[bot]"
    assert [r.path for r in github.requests] == ["/api/v3/app"]


def test_a_gitlab_token_is_its_users_username(gitlab: FakeGitLab) -> None:
    forge = GitLabApi(gitlab.url, GITLAB_TOKEN, retry=NO_SLEEP)
    assert forge.bot_login() == "project_7_bot_x"


def test_files_over_the_read_limit_are_not_read_whole(
    github: FakeGitHub, gitlab: FakeGitLab
) -> None:
    huge = "#" * (READ_LIMIT + 1)
    repo = github.create_repo("octo/huge")
    sha = repo.commit({".s2i.yaml": huge}, "huge")
    with pytest.raises(FileTooLarge) as raised:
        GitHubApi(github.api_url, GITHUB_TOKEN, retry=NO_SLEEP).read_file(
            repo.full_name, ".s2i.yaml", sha
        )
    assert raised.value.size == READ_LIMIT + 1
    project = gitlab.create_project("group/huge")
    sha = project.commit({".s2i.yaml": huge}, "huge")
    with pytest.raises(FileTooLarge):
        GitLabApi(gitlab.url, GITLAB_TOKEN, retry=NO_SLEEP).read_file(
            project.path_with_namespace, ".s2i.yaml", sha
        )


def test_a_users_comment_carrying_the_marker_is_never_taken_for_the_bots(
    github: FakeGitHub, gitlab: FakeGitLab
) -> None:
    body = f"{MARKER}\nlooks like the bot's"
    repo = github.create_repo("octo/app")
    repo.commit({"a": "1"}, "start")
    repo.commit({"a": "2"}, "change", branch="fix")
    number = repo.create_pull("fix", author="mallory")
    repo.add_comment(number, body, "mallory")
    forge = GitHubApi(github.api_url, GITHUB_TOKEN, retry=NO_SLEEP)
    forge.upsert_comment(repo.full_name, number, None, f"{MARKER}\nthe table")
    assert [(c["user"]["login"], c["body"]) for c in github.comments(repo.full_name, number)] == [
        ("mallory", body),
        (github.login, f"{MARKER}\nthe table"),
    ]
    project = gitlab.create_project("group/app")
    project.commit({"a": "1"}, "start")
    project.commit({"a": "2"}, "change", branch="fix")
    iid = project.create_merge_request("fix", author="mallory")
    project.add_note(iid, body, "mallory")
    GitLabApi(gitlab.url, GITLAB_TOKEN, retry=NO_SLEEP).upsert_comment(
        "group/app", iid, None, f"{MARKER}\nthe table"
    )
    notes = {(n["author"]["username"], n["body"]) for n in gitlab.notes("group/app", iid)}
    assert notes == {("mallory", body), ("project_7_bot_x", f"{MARKER}\nthe table")}
