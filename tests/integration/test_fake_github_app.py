"""The fake GitHub's GitHub App authentication and rate limits, as the real PyGithub and the
real git meet them."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from github import (
    Auth,
    BadCredentialsException,
    GithubException,
    GithubIntegration,
    RateLimitExceededException,
    UnknownObjectException,
)

from tests.fakes.github import FakeGitHub, FakeRepo
from tests.fakes.github_app import make_app_key, shared_app_key
from tests.support import http
from tests.support.github_client import git_env, pygithub, run_git

APP_ID = 4242


@pytest.fixture(scope="module")
def app_key() -> str:
    return shared_app_key()[0]


@pytest.fixture
def repo(github: FakeGitHub, app_key: str) -> FakeRepo:
    github.register_app(APP_ID, app_key, slug="s2i-bot")
    repo = github.create_repo("octo/app")
    repo.commit({"README": "hi\n"}, "Initial commit")
    return repo


def integration(github: FakeGitHub, app_key: str) -> GithubIntegration:
    return GithubIntegration(
        auth=Auth.AppAuth(APP_ID, app_key),
        base_url=github.api_url,
        retry=None,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


def signed(app_key: str, **claims: Any) -> dict[str, str]:
    """Headers with a JWT of ``claims``; signed by JWS since PyJWT refuses to encode a
    numeric ``iss``, which GitHub (and Octokit) use."""
    now = int(time.time())
    payload = {"iat": now - 60, "exp": now + 540, "iss": str(APP_ID)} | claims
    token = jwt.PyJWS().encode(json.dumps(payload).encode(), app_key, algorithm="RS256")
    return {"Authorization": f"Bearer {token}"}


def test_installation_auth_posts_a_status_as_the_apps_bot(
    github: FakeGitHub, repo: FakeRepo, app_key: str
) -> None:
    installation = github.install_app(APP_ID, "octo")
    auth = Auth.AppAuth(APP_ID, app_key).get_installation_auth(installation)
    commit = pygithub(github, auth=auth).get_repo(repo.full_name).get_commit(repo.head())
    commit.create_status("pending", context="s2i-bot")
    [status] = github.statuses(repo.full_name, repo.head())
    assert status["creator"]["login"] == "s2i-bot[bot]"
    assert status["creator"]["type"] == "Bot"
    assert github.tokens_issued == 1


def test_access_token_answer(github: FakeGitHub, repo: FakeRepo, app_key: str) -> None:
    installation = github.install_app(APP_ID, "octo/app", permissions={"contents": "read"})
    response = http.post(
        f"{github.api_url}/app/installations/{installation}/access_tokens",
        headers=signed(app_key, iss=APP_ID),  # GitHub takes the id as a number or a string
    )
    assert response.status_code == 201
    body = response.json()
    assert body["token"].startswith("ghs_") and len(body["token"]) == 40
    assert body["permissions"] == {"contents": "read"}
    assert body["repository_selection"] == "selected"
    assert body["expires_at"].endswith("Z")


def test_repo_installation_is_found_by_the_app(
    github: FakeGitHub, repo: FakeRepo, app_key: str
) -> None:
    installation = github.install_app(APP_ID, "octo")
    found = integration(github, app_key).get_repo_installation("octo", "app")
    assert (found.id, found.app_id) == (installation, APP_ID)
    assert integration(github, app_key).get_app_installation(installation).id == installation
    github.create_repo("elsewhere/lib")
    with pytest.raises(UnknownObjectException):
        integration(github, app_key).get_repo_installation("elsewhere", "lib")


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        # Times are offsets from the moment the test runs (not from collection: a long suite
        # would otherwise make "the future" the past).
        ({"exp": 3600}, "'Expiration time' claim ('exp') is too far"),
        ({"exp": -10}, "'Expiration time' claim ('exp') must be a numeric"),
        ({"iat": 120}, "'Issued at' claim ('iat') must be an Integer"),
        ({"iss": "999"}, "A JSON web token could not be decoded"),
    ],
)
def test_a_bad_jwt_is_refused(
    github: FakeGitHub, repo: FakeRepo, app_key: str, claims: dict[str, Any], message: str
) -> None:
    installation = github.install_app(APP_ID, "octo")
    url = f"{github.api_url}/app/installations/{installation}/access_tokens"
    now = int(time.time())
    claims = {k: now + v if k in ("exp", "iat") else v for k, v in claims.items()}
    response = http.post(url, headers=signed(app_key, **claims))
    assert response.status_code == 401
    assert response.json()["message"].startswith(message)


def test_a_jwt_signed_by_another_key_is_refused(github: FakeGitHub, repo: FakeRepo) -> None:
    installation = github.install_app(APP_ID, "octo")
    url = f"{github.api_url}/app/installations/{installation}/access_tokens"
    response = http.post(url, headers=signed(make_app_key()[0]))
    assert response.status_code == 401
    assert github.tokens_issued == 0


def test_tokens_and_jwts_do_not_mix(github: FakeGitHub, repo: FakeRepo, app_key: str) -> None:
    installation = github.install_app(APP_ID, "octo")
    url = f"{github.api_url}/app/installations/{installation}/access_tokens"
    as_token = http.post(url, headers={"Authorization": f"token {github.token}"})
    assert as_token.status_code == 401
    as_app = http.get(f"{repo.url}", headers=signed(app_key))
    assert as_app.status_code == 401


def test_more_permissions_than_installed_are_refused(
    github: FakeGitHub, repo: FakeRepo, app_key: str
) -> None:
    installation = github.install_app(APP_ID, "octo")
    with pytest.raises(GithubException) as raised:
        integration(github, app_key).get_access_token(
            installation, permissions={"contents": "write"}
        )
    assert raised.value.status == 422
    assert github.tokens_issued == 0


def test_expired_installation_token_is_refused_by_rest_and_git(
    github: FakeGitHub, repo: FakeRepo, app_key: str, tmp_path: Path
) -> None:
    installation = github.install_app(APP_ID, "octo")
    token = integration(github, app_key).get_access_token(installation).token
    assert pygithub(github, token, lazy=False).get_repo(repo.full_name).name == "app"
    clone = run_git(git_env(tmp_path, token), "clone", repo.clone_url, str(tmp_path / "a"))
    assert clone.returncode == 0, clone.stderr
    github.expire_tokens()
    with pytest.raises(BadCredentialsException):
        pygithub(github, token, lazy=False).get_repo(repo.full_name)
    clone = run_git(git_env(tmp_path, token), "clone", repo.clone_url, str(tmp_path / "b"))
    assert clone.returncode != 0 and "Authentication failed" in clone.stderr


def test_short_lived_tokens_are_renewed_by_pygithub(
    github: FakeGitHub, repo: FakeRepo, app_key: str
) -> None:
    # PyGithub renews a token that expires within 20 s, so 10 s tokens last one request.
    github.installation_token_ttl = timedelta(seconds=10)
    installation = github.install_app(APP_ID, "octo")
    auth = Auth.AppAuth(APP_ID, app_key).get_installation_auth(installation)
    gh = pygithub(github, auth=auth, lazy=False)
    gh.get_repo(repo.full_name)
    gh.get_repo(repo.full_name)
    assert github.tokens_issued == 2


def test_installation_token_writes_only_to_its_repositories(
    github: FakeGitHub, repo: FakeRepo, app_key: str, tmp_path: Path
) -> None:
    other = github.create_repo("octo/other")
    sha = other.commit({"a": "1"}, "One")
    installation = github.install_app(APP_ID, "octo/app")
    token = integration(github, app_key).get_access_token(installation).token
    gh_other = pygithub(github, token).get_repo(other.full_name)
    assert gh_other.get_commit(sha).sha == sha  # public: anyone may read
    with pytest.raises(GithubException) as raised:
        gh_other.get_commit(sha).create_status("pending")
    assert raised.value.status == 403
    env = git_env(tmp_path, token)
    work = tmp_path / "work"
    assert run_git(env, "clone", "-q", other.clone_url, str(work)).returncode == 0
    run_git(env, "commit", "-q", "--allow-empty", "-m", "Sneaky", cwd=work)
    pushed = run_git(env, "push", "origin", "main", cwd=work)
    assert pushed.returncode != 0 and "denied" in pushed.stderr
    assert other.head() == sha


def test_secondary_rate_limit(github: FakeGitHub, repo: FakeRepo) -> None:
    github.rate_limit_next("POST", "/statuses/", retry_after=30)
    commit = pygithub(github).get_repo(repo.full_name).get_commit(repo.head())
    with pytest.raises(RateLimitExceededException) as raised:
        commit.create_status("pending")
    assert raised.value.status == 403
    assert raised.value.headers is not None
    assert raised.value.headers["retry-after"] == "30"
    assert raised.value.headers["x-ratelimit-remaining"] != "0"
    assert "secondary rate limit" in raised.value.data["message"]
    commit.create_status("pending")  # once only


def test_primary_rate_limit(github: FakeGitHub, repo: FakeRepo) -> None:
    github.rate_limit_next("GET", "/repos/octo/app$", secondary=False, reset_in=90)
    with pytest.raises(RateLimitExceededException) as raised:
        pygithub(github, lazy=False).get_repo(repo.full_name)
    assert raised.value.headers is not None
    headers = raised.value.headers
    assert headers["x-ratelimit-remaining"] == "0"
    assert abs(int(headers["x-ratelimit-reset"]) - (time.time() + 90)) < 5
    assert "retry-after" not in headers


def test_primary_rate_limit_as_429(github: FakeGitHub, repo: FakeRepo) -> None:
    github.rate_limit_next("GET", "/repos/octo/app$", secondary=False, status=429)
    response = http.get(repo.url, headers={"Authorization": f"token {github.token}"})
    assert response.status_code == 429
    assert response.json()["message"].startswith("API rate limit exceeded")


def test_a_token_can_be_narrowed_to_some_repositories(
    github: FakeGitHub, repo: FakeRepo, app_key: str
) -> None:
    github.create_repo("octo/other")
    installation = github.install_app(APP_ID, "octo")
    url = f"{github.api_url}/app/installations/{installation}/access_tokens"
    narrowed = http.post(url, json={"repositories": ["app"]}, headers=signed(app_key))
    assert narrowed.status_code == 201
    body = narrowed.json()
    assert body["repository_selection"] == "selected"
    assert [r["full_name"] for r in body["repositories"]] == ["octo/app"]
    token = {"Authorization": f"token {body['token']}"}
    status = {"state": "pending"}
    other = github.repo("octo/other")
    sha = other.commit({"a": "1"}, "One")
    assert http.post(f"{other.url}/statuses/{sha}", json=status, headers=token).status_code == 403
    missing = http.post(url, json={"repositories": ["nope"]}, headers=signed(app_key))
    assert missing.status_code == 422
