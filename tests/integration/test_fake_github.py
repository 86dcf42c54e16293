"""The fake GitHub answers the real PyGithub client and the real git as GitHub would."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from github import BadCredentialsException, GithubException, UnknownObjectException

from tests.fakes.git import GIT_ENV
from tests.fakes.github import FakeGitHub, FakeRepo
from tests.support import http
from tests.support.github_client import git_env, pygithub, run_git

TOKEN = "ghs_fake_installation_token"
S2I_YAML = "builder: registry.example/python:3.12\n"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with FakeGitHub(TOKEN) as fake:
        yield fake
        assert fake.errors == []


@pytest.fixture
def repo(fake: FakeGitHub) -> FakeRepo:
    return fake.create_repo("octo/app")


def test_pygithub_reads_file_at_sha(fake: FakeGitHub, repo: FakeRepo) -> None:
    sha = repo.commit({".s2i.yaml": S2I_YAML, "app.py": "print('hi')\n"}, "Add app")
    repo.commit({".s2i.yaml": "builder: other\n"}, "Change builder")
    content = pygithub(fake).get_repo(repo.full_name).get_contents(".s2i.yaml", ref=sha)
    assert not isinstance(content, list)
    assert content.decoded_content.decode() == S2I_YAML
    assert content.sha == repo.bare.read_file(sha, ".s2i.yaml").sha  # type: ignore[union-attr]


def test_missing_file_is_unknown_object(fake: FakeGitHub, repo: FakeRepo) -> None:
    sha = repo.commit({"app.py": "print('hi')\n"}, "No config")
    with pytest.raises(UnknownObjectException):
        pygithub(fake).get_repo(repo.full_name).get_contents(".s2i.yaml", ref=sha)


def test_full_repository_points_at_the_fake(fake: FakeGitHub, repo: FakeRepo) -> None:
    gh_repo = pygithub(fake, lazy=False).get_repo(repo.full_name)
    assert gh_repo.clone_url == repo.clone_url
    assert gh_repo.default_branch == "main"


def test_status_is_recorded_and_listed(fake: FakeGitHub, repo: FakeRepo) -> None:
    sha = repo.commit({".s2i.yaml": S2I_YAML}, "Add config")
    commit = pygithub(fake).get_repo(repo.full_name).get_commit(sha)
    commit.create_status("pending", "http://ci.example/1", "Building", "s2i-bot")
    commit.create_status("success", "http://ci.example/1", "Built", "s2i-bot")
    fake.wait_for(lambda: len(fake.statuses(repo.full_name, sha)) == 2)
    posted = fake.statuses(repo.full_name, sha)
    assert [(s["state"], s["context"]) for s in posted] == [
        ("pending", "s2i-bot"),
        ("success", "s2i-bot"),
    ]
    # Commit.get_statuses() uses the legacy GET /repos/{o}/{r}/statuses/{ref}: newest first.
    assert [s.state for s in commit.get_statuses()] == ["success", "pending"]


def test_bogus_state_is_refused_and_recorded(fake: FakeGitHub, repo: FakeRepo) -> None:
    sha = repo.commit({"a": "1"}, "One")
    commit = pygithub(fake).get_repo(repo.full_name).get_commit(sha)
    with pytest.raises(GithubException) as raised:
        commit.create_status("bogus")
    assert raised.value.status == 422
    assert fake.statuses(repo.full_name, sha) == []
    assert len(fake.errors) == 1 and "'bogus' is not one of" in fake.errors[0]
    fake.errors.clear()


def test_status_for_unknown_sha_is_422(fake: FakeGitHub, repo: FakeRepo) -> None:
    repo.commit({"a": "1"}, "One")
    response = http.post(
        f"{repo.url}/statuses/{'f' * 40}",
        json={"state": "success"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 422
    assert response.json()["message"] == f"No commit found for SHA: {'f' * 40}"


def test_wrong_token_is_bad_credentials(fake: FakeGitHub, repo: FakeRepo) -> None:
    with pytest.raises(BadCredentialsException):
        pygithub(fake, "wrong", lazy=False).get_repo(repo.full_name)


def test_unknown_routes_answer_500_and_are_recorded(fake: FakeGitHub, repo: FakeRepo) -> None:
    auth = {"Authorization": f"token {TOKEN}"}
    assert http.get(f"{repo.url}/pulls", headers=auth).status_code == 500
    assert http.get(f"{fake.url}/repos/{repo.full_name}", headers=auth).status_code == 500
    assert "does not implement GET /repos/{owner}/{repo}/pulls" in fake.errors[0]
    assert "no route for GET /repos/octo/app" in fake.errors[1]
    fake.errors.clear()


def test_fail_next_answers_once(fake: FakeGitHub, repo: FakeRepo) -> None:
    sha = repo.commit({"a": "1"}, "One")
    fake.fail_next("POST", r"/statuses/", 500)
    commit = pygithub(fake).get_repo(repo.full_name).get_commit(sha)
    with pytest.raises(GithubException) as raised:
        commit.create_status("pending")
    assert raised.value.status == 500
    commit.create_status("pending")
    assert [r.status for r in fake.requests if r.method == "POST"] == [500, 201]


def test_git_clone_needs_the_token(fake: FakeGitHub, repo: FakeRepo, tmp_path: Path) -> None:
    sha = repo.commit({".s2i.yaml": S2I_YAML}, "Add config")
    denied = run_git(git_env(tmp_path, "wrong"), "clone", repo.clone_url, str(tmp_path / "no"))
    assert denied.returncode != 0 and "Authentication failed" in denied.stderr
    cloned = run_git(git_env(tmp_path, TOKEN), "clone", repo.clone_url, str(tmp_path / "yes"))
    assert cloned.returncode == 0, cloned.stderr
    assert (tmp_path / "yes" / ".s2i.yaml").read_text() == S2I_YAML
    assert run_git(GIT_ENV, "rev-parse", "HEAD", cwd=tmp_path / "yes").stdout.strip() == sha


def test_git_push_over_http_is_visible_to_the_api(
    fake: FakeGitHub, repo: FakeRepo, tmp_path: Path
) -> None:
    repo.commit({"a": "1"}, "One")
    env = git_env(tmp_path, TOKEN)
    work = tmp_path / "work"
    assert run_git(env, "clone", repo.clone_url, str(work)).returncode == 0
    # Over http.postBuffer (1 MiB), git streams the pack chunked.
    (work / "big.bin").write_bytes(os.urandom(2 * 1024 * 1024))
    run_git(env, "add", "big.bin", cwd=work)
    run_git(env, "commit", "-m", "Big", cwd=work)
    pushed = run_git(env, "push", "origin", "main", cwd=work)
    assert pushed.returncode == 0, pushed.stderr
    sha = run_git(env, "rev-parse", "HEAD", cwd=work).stdout.strip()
    assert repo.head("main") == sha
    big = pygithub(fake).get_repo(repo.full_name).get_contents("big.bin", ref=sha)
    assert not isinstance(big, list)
    # GitHub inlines content only up to 1 MiB.
    assert (big.size, big.encoding, big.content) == (2 * 1024 * 1024, "none", "")


def test_git_fetch_with_gzip_request_body(fake: FakeGitHub, repo: FakeRepo, tmp_path: Path) -> None:
    # git gzips an upload-pack request over 1 KiB (remote-curl.c): 25 wants are enough.
    for i in range(25):
        repo.commit({"n": str(i)}, f"c{i}", branch=f"b{i}")
    env = {**git_env(tmp_path, TOKEN), "GIT_TRACE_CURL": "1", "GIT_TRACE_CURL_NO_DATA": "1"}
    mirrored = run_git(env, "clone", "--mirror", repo.clone_url, str(tmp_path / "m"))
    assert mirrored.returncode == 0, mirrored.stderr
    assert "Content-Encoding: gzip" in mirrored.stderr
