"""The GitHub driver (PyGithub underneath) against the fake GitHub: as a token user and as a
GitHub App, with permissions, pull requests, the one comment, and rate limits."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.forges.base import CommitStatus, RateLimited, StatusState, UnknownRepository
from bot.forges.github_api import GitHubApi, web_url
from bot.metrics import Metrics
from bot.pull_comment import MARKER
from bot.retry import RetryPolicy
from bot.runner.process import BuildLog
from bot.runner.source import fetch_source
from tests.fakes.github import FakeGitHub, FakeRepo
from tests.fakes.github_app import shared_app_key
from tests.fakes.github_objects import user_id
from tests.support.forges import GITHUB_TOKEN

APP_ID = 777


def driver(github: FakeGitHub, sleeps: list[float] | None = None) -> GitHubApi:
    policy = RetryPolicy(sleep=(sleeps if sleeps is not None else []).append)
    return GitHubApi(github.api_url, GITHUB_TOKEN, retry=policy)


def status(state: StatusState) -> CommitStatus:
    return CommitStatus(state, "s2i/web", "why", "http://bot/builds/1/log", "main")


@pytest.fixture
def repo(github: FakeGitHub) -> FakeRepo:
    repo = github.create_repo("octo/app")
    repo.commit({".s2i.yaml": "builds: []\n"}, "config")
    return repo


def test_statuses_map_running_and_cancelled_to_what_github_knows(
    github: FakeGitHub, repo: FakeRepo
) -> None:
    forge, sha = driver(github), repo.head()
    forge.set_status(repo.full_name, sha, status(StatusState.RUNNING))
    forge.set_status(repo.full_name, sha, status(StatusState.CANCELLED))
    assert [(s["state"], s["description"]) for s in github.statuses(repo.full_name, sha)] == [
        ("pending", "why"),
        ("error", "cancelled: why"),
    ]


def test_write_permission_pull_requests_and_the_one_comment(
    github: FakeGitHub, repo: FakeRepo
) -> None:
    repo.set_permission("writer", "write")
    repo.set_permission("triager", "triage")
    forge = driver(github)
    assert forge.can_write(repo.full_name, "writer", user_id("writer"))
    assert not forge.can_write(repo.full_name, "triager", user_id("triager"))
    assert not forge.can_write(repo.full_name, "stranger", user_id("stranger"))
    assert forge.can_write(repo.full_name, "writer", None)  # no id: the login decides
    fork = github.fork_repo(repo, "mallory")
    head = fork.commit({"a": "1"}, "change", branch="fix")
    number = repo.create_pull("fix", author="mallory", fork=fork)
    pull = forge.pull_request(repo.full_name, number)
    assert (pull.head_sha, pull.from_fork, pull.author) == (head, True, "mallory")
    assert pull.fetch_ref == f"refs/pull/{number}/head" and pull.base_sha == repo.head()
    first = forge.upsert_comment(repo.full_name, number, None, f"{MARKER}\none")
    assert forge.upsert_comment(repo.full_name, number, first, f"{MARKER}\ntwo") == first
    assert forge.upsert_comment(repo.full_name, number, None, f"{MARKER}\nthree") == first
    forge.comment(repo.full_name, number, "a reply")
    assert [c["body"] for c in github.comments(repo.full_name, number)] == [
        f"{MARKER}\nthree",
        "a reply",
    ]


def test_a_secondary_rate_limit_is_waited_out_as_github_asks(
    github: FakeGitHub, repo: FakeRepo
) -> None:
    sleeps: list[float] = []
    github.rate_limit_next("POST", r"/statuses/", retry_after=3)
    driver(github, sleeps).set_status(repo.full_name, repo.head(), status(StatusState.SUCCESS))
    assert sleeps == [3.0]
    assert [s["state"] for s in github.statuses(repo.full_name, repo.head())] == ["success"]


def test_a_primary_rate_limit_until_a_reset_far_away_goes_back_to_the_outbox(
    github: FakeGitHub, repo: FakeRepo
) -> None:
    github.rate_limit_next("POST", r"/statuses/", reset_in=3600, secondary=False)
    with pytest.raises(RateLimited) as raised:
        driver(github).set_status(repo.full_name, repo.head(), status(StatusState.SUCCESS))
    assert 3500 < raised.value.retry_after <= 3600


def test_as_a_github_app_installation_tokens_are_fetched_cached_and_renewed(
    github: FakeGitHub, repo: FakeRepo, tmp_path: Path
) -> None:
    key = shared_app_key()[0]
    github.register_app(APP_ID, key, slug="s2i-bot")
    github.install_app(APP_ID, "octo")
    forge = GitHubApi(github.api_url, None, app_id=APP_ID, private_key=key,
                        retry=RetryPolicy(sleep=lambda _: None))  # fmt: skip
    assert forge.read_file(repo.full_name, ".s2i.yaml", repo.head()) == "builds: []\n"
    forge.set_status(repo.full_name, repo.head(), status(StatusState.SUCCESS))
    token = forge.clone_token(repo.full_name)
    assert token and github.tokens_issued == 1  # one token served all three
    # The runner clones with it over git's smart HTTP.
    token_file = tmp_path / "token"
    token_file.write_text(token)
    with open(tmp_path / "log", "w") as log:
        fetch_source(repo.clone_url, repo.head(), "refs/heads/main", tmp_path / "src",
                     BuildLog(log), token_file=token_file)  # fmt: skip
    assert (tmp_path / "src" / ".s2i.yaml").exists()
    # A token revoked early (here: the fake expires it) is replaced and the call goes on.
    github.expire_tokens()
    forge.set_status(repo.full_name, repo.head(), status(StatusState.FAILURE))
    assert github.tokens_issued == 2
    assert forge.clone_token(repo.full_name) != token
    # Tokens about to expire are renewed before they are used (PyGithub renews a token in
    # its last 20 seconds): with 10-second tokens, every use gets a fresh one.
    github.installation_token_ttl = timedelta(seconds=10)
    github.expire_tokens()
    forge.set_status(repo.full_name, repo.head(), status(StatusState.SUCCESS))
    issued = github.tokens_issued
    forge.set_status(repo.full_name, repo.head(), status(StatusState.SUCCESS))
    assert github.tokens_issued == issued + 1


def test_a_repository_is_confirmed_by_the_api_and_cloned_from_the_configured_url(
    github: FakeGitHub, repo: FakeRepo
) -> None:
    forge = driver(github)
    confirmed = forge.repository("OCTO/App", repo.id)  # GitHub matches names in any case
    assert confirmed.full_name == "octo/app" and confirmed.id == repo.id
    # api_url http://HOST/api/v3 (as GHES): git lives at http://HOST/<owner>/<name>.git.
    assert confirmed.clone_url == f"{github.url}/octo/app.git" == repo.clone_url
    with pytest.raises(UnknownRepository, match="has id"):
        forge.repository("octo/app", repo.id + 1)
    with pytest.raises(UnknownRepository, match="no repository octo/ghost"):
        forge.repository("octo/ghost", 1)
    elsewhere = GitHubApi(github.api_url, GITHUB_TOKEN, git_url="https://git.example/")
    assert elsewhere.repository("octo/app", None).clone_url == "https://git.example/octo/app.git"


def test_the_web_url_goes_with_the_api_url() -> None:
    assert web_url("https://api.github.com") == "https://github.com"
    assert web_url("https://ghe.example.com/api/v3/") == "https://ghe.example.com"
    assert web_url("https://api.acme.ghe.com") == "https://acme.ghe.com"
    with pytest.raises(ValueError, match="cannot tell"):
        web_url("https://github.example.com/rest")


def test_the_commenters_id_decides_whose_permission_counts(
    github: FakeGitHub, repo: FakeRepo
) -> None:
    # A login names whoever holds it now; the id in the webhook names who acted.
    repo.set_permission("writer", "write")
    forge = driver(github)
    assert not forge.can_write(repo.full_name, "writer", user_id("stranger"))
    assert forge.can_write(repo.full_name, "stranger", user_id("writer"))
    assert not forge.can_write(repo.full_name, "writer", 987_654_321)  # no such account
    by_id = [r for r in github.requests if r.path.startswith("/api/v3/user/")]
    assert len(by_id) == 3


def test_calls_are_counted_by_outcome_and_the_rate_limit_left_is_what_github_said(
    github: FakeGitHub, repo: FakeRepo
) -> None:
    metrics = Metrics()
    forge = GitHubApi(github.api_url, GITHUB_TOKEN, retry=RetryPolicy(sleep=lambda _: None),
                      metrics=metrics)  # fmt: skip
    sample = metrics.registry.get_sample_value
    github.rate_limit_next("POST", r"/statuses/", reset_in=3600, secondary=False)
    with pytest.raises(RateLimited):
        forge.set_status(repo.full_name, repo.head(), status(StatusState.SUCCESS))
    calls = "s2i_bot_forge_api_calls_total"
    assert sample(calls, {"forge": "github", "outcome": "rate_limited"}) == 1
    assert sample("s2i_bot_forge_rate_limit_remaining", {"forge": "github"}) == 0
    forge.set_status(repo.full_name, repo.head(), status(StatusState.SUCCESS))
    assert sample(calls, {"forge": "github", "outcome": "ok"}) == 1
    left = github.rate_limit_remaining(github.login)
    assert left < 5000
    assert sample("s2i_bot_forge_rate_limit_remaining", {"forge": "github"}) == left
