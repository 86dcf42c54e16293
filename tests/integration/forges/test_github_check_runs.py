"""The GitHub driver's check runs (PyGithub underneath) against the fake GitHub, through the
reporter that sends them: a check run a send cut short had created is found again and updated,
not made twice, and GitHub's own refusals (a token, a missing conclusion, too many annotations
in one request) are what the fake answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from github import Auth, GithubException

from bot.build_record import Build
from bot.build_spec import BuildSpec, SourceSpec
from bot.check_run import check_run_for
from bot.forges.github_api import GitHubApi
from bot.reporter import Reporter
from bot.store import Delivery, Store
from tests.fakes.github import FakeGitHub, FakeRepo
from tests.fakes.github_app import shared_app_key
from tests.support.github_client import pygithub

APP_ID = 778


@pytest.fixture
def app(github: FakeGitHub) -> tuple[str, int]:
    """The App's private key and its installation on the account octo."""
    key, _ = shared_app_key()
    github.register_app(APP_ID, key)
    return key, github.install_app(APP_ID, "octo")


@pytest.fixture
def repo(github: FakeGitHub, app: tuple[str, int]) -> FakeRepo:
    repo = github.create_repo("octo/app")
    repo.commit({"main.go": "package main\n"}, "app")
    return repo


def running_build(store: Store, repo: FakeRepo) -> Build:
    sha = repo.head()
    source = SourceSpec(git_url=repo.clone_url, sha=sha, ref="refs/heads/main")
    spec = BuildSpec(
        name="web", repo=repo.full_name, forge="github", source=source, template="go",
        builder_image="s2i-bot/go", image="registry/octo/app", tags=("main",),
    )  # fmt: skip
    store.add_delivery(Delivery("d1", "github", "push", {}, b"{}"))
    build = store.add_build(
        delivery_id="d1", name="web", forge="github", repo=repo.full_name, sha=sha, spec=spec
    )
    running = store.mark_running(build.id)
    assert running is not None
    return running


def test_a_check_run_created_by_a_send_cut_short_is_found_and_updated_not_made_again(
    github: FakeGitHub, repo: FakeRepo, app: tuple[str, int], tmp_path: Path
) -> None:
    app_key, _ = app
    store = Store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    build = running_build(store, repo)
    api = GitHubApi(github.api_url, None, app_id=APP_ID, private_key=app_key)
    # What a replica killed between GitHub's answer and the store's write left: the check
    # run on GitHub, no id in the store.
    run = check_run_for(build, "http://bot")
    created_id = api.create_check_run(repo.full_name, run, ())
    assert store.check_run(build.id) is None

    Reporter(store, {"github": api}, "http://bot").send("check_run", {"build_id": build.id})
    (check,) = github.check_runs(repo.full_name)
    assert check.id == created_id and check.statuses == ["in_progress", "in_progress"]
    record = store.check_run(build.id)
    assert record is not None and record.check_run_id == created_id
    posts = [r for r in github.requests if r.method == "POST" and r.path.endswith("/check-runs")]
    assert len(posts) == 1
    store.close()


def test_github_refuses_check_runs_from_a_token_and_completed_ones_without_a_conclusion(
    github: FakeGitHub, repo: FakeRepo, app: tuple[str, int]
) -> None:
    app_key, installation = app
    with pytest.raises(GithubException) as refused:
        pygithub(github).get_repo(repo.full_name).create_check_run("s2i/web", repo.head())
    assert refused.value.status == 403
    assert refused.value.data["message"] == "You must authenticate via a GitHub App."

    auth = Auth.AppAuth(APP_ID, app_key).get_installation_auth(installation)
    as_app = pygithub(github, auth=auth).get_repo(repo.full_name)
    with pytest.raises(GithubException) as incomplete:
        as_app.create_check_run("s2i/web", repo.head(), status="completed")
    assert incomplete.value.status == 422
    created = as_app.create_check_run("s2i/web", repo.head(), external_id="k")
    annotation = {"path": "main.go", "start_line": 1, "end_line": 1,
                  "annotation_level": "failure", "message": "no"}  # fmt: skip
    output = {"title": "t", "summary": "s", "annotations": [annotation] * 51}
    with pytest.raises(GithubException) as too_many:
        created.edit(conclusion="failure", output=output)
    assert too_many.value.status == 422  # "maxItems": 50 in GitHub's description
    assert github.errors and "annotations" in github.errors[-1]
    github.errors.clear()  # the fake recorded the request it refused, as it should

    created.edit(conclusion="failure", output={**output, "annotations": [annotation] * 2})
    fetched = as_app.get_check_run(created.id)
    assert (fetched.status, fetched.conclusion, fetched.external_id) == (
        "completed", "failure", "k",
    )  # fmt: skip
    assert [a.path for a in fetched.get_annotations()] == ["main.go", "main.go"]
    listed = as_app.get_commit(repo.head()).get_check_runs(check_name="s2i/web")
    assert [r.id for r in listed] == [created.id]
